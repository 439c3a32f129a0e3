// Directory operations (the kernel's dir.c): create, mkdir, mknod, symlink and link over
// whiteouts; unlink and rmdir leaving a whiteout only where a lower entry shows through;
// rename with its flags, answering EXDEV for directories with lower content.
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../sys/index.js';
import { childPath, type UnionCore } from './core.js';
import { keyOf, type Node } from './inode.js';
import { isMarkerName, isWhiteoutAttr, makeWhiteoutTmp, setOpaque } from './markers.js';
import { lookupName, lowerPositive } from './namei.js';
import { listMerged } from './readdir.js';
import type { Caller, Resolution } from './types.js';


function checkName(name: string): void {
  if (isMarkerName(name)) throw new sys.SysError(sys.E.EINVAL, 'create', name, `EINVAL: ${name}: names starting with .wh. are whiteout markers`);
}

/** A new entry: its node (counted for the kernel) and the real attr it has now. */
export interface Created {
  node: Node;
  attr: sys.Attr;
}

/** What createEntry makes: a directory, a file or node of mode, or a symlink. */
export type EntryKind = { isDir: boolean; mode: number; symlink?: boolean };

/** Makes the entry at dest with the permission bits perm (a symlink has none); a file's
 * build answers its open fd, which then gives the new entry's attr without a path walk. */
export type Build = (dest: string, perm: number) => number | void;

/** the ids a process that makes a file gives it (they never change in the daemon) */
const fsUid = process.geteuid?.() ?? -1;
const fsGid = process.getegid?.() ?? -1;

/** Builds a new entry with build(dest); over a whiteout it is built in the work dir and
 * swapped in, a directory then becoming opaque (the lower one it replaces stays hidden).
 * Synchronous when the parent is in the upper already (no copy-up to wait for). */
export function createEntry(core: UnionCore, parent: Node, name: string, caller: Caller, kind: EntryKind, build: Build): Created | Promise<Created> {
  const p = childPath(parent.path, name);
  core.checkWritable(p);
  checkName(name);
  // A parent in the upper with no lower dirs (made by the union, or opaque): only the
  // upper can hold the name, and the build's own EEXIST (O_EXCL, mkdir, mknod, symlink)
  // says whether it does, without a lookup first. An untar makes every entry so.
  if (parent.inUpper && parent.lowerDirs.length === 0) return buildEntry(core, parent, name, caller, kind, build, true);
  if (lookupName(core.stack, core.dirOf(parent), name).found) throw new sys.SysError(sys.E.EEXIST, 'create', p);
  const made = (): Created => buildEntry(core, parent, name, caller, kind, build, false);
  return parent.inUpper ? made() : core.ensureUp(parent).then(made);
}

/** The owner and mode a new entry must have: the caller's ids (a set-gid parent's group
 * instead, and its set-gid bit for a directory, as the kernel does) and the mode asked. */
interface Wanted {
  uid: number;
  gid: number;
  mode: number;
  /** the permission bits to build with: the wanted ones when the entry gets its owner
   * from the daemon already (no chown to come), else none for others until the chown */
  perm: number;
}

function wantedOf(core: UnionCore, parent: Node, caller: Caller, kind: EntryKind): Wanted {
  const parentAttr = sys.lstat(core.stack.upperPath(parent.path));
  const setgid = (parentAttr.mode & 0o2000) !== 0;
  const uid = core.ids.uid.toHost(caller.uid);
  const gid = setgid ? parentAttr.gid : core.ids.gid.toHost(caller.gid);
  const mode = (kind.mode & 0o7777) | (setgid && kind.isDir ? 0o2000 : 0);
  // the kernel gives a set-gid parent's group itself
  const ownAlready = uid === fsUid && (setgid || gid === fsGid);
  return { uid, gid, mode, perm: ownAlready ? mode & 0o777 : kind.isDir ? 0o700 : 0o600 };
}

/** Gives a just-built entry its owner and mode where the build did not (a chown first: it
 * clears set-id bits), and answers its attr; one stat when nothing was left to do. */
function finishEntry(dest: string, fd: number | void, w: Wanted, kind: EntryKind): sys.Attr {
  const statNow = (): sys.Attr => (typeof fd === 'number' ? sys.fstat(fd) : sys.lstat(dest));
  let a = statNow();
  let changed = false;
  if (a.uid !== w.uid || a.gid !== w.gid) {
    sys.lchown(dest, w.uid, w.gid);
    changed = true;
  }
  if (!kind.symlink && (changed || (a.mode & 0o7777) !== w.mode)) {
    sys.chmod(dest, w.mode);
    changed = true;
  }
  if (changed) a = statNow();
  return a;
}

function buildEntry(core: UnionCore, parent: Node, name: string, caller: Caller, kind: EntryKind, build: Build, direct: boolean): Created {
  const p = childPath(parent.path, name);
  const target = core.stack.upperPath(p);
  const w = wantedOf(core, parent, caller, kind);
  let attr: sys.Attr | undefined;
  let overWhiteout = false;
  const buildAt = (dest: string): sys.Attr => {
    const fd = build(dest, w.perm);
    try {
      return finishEntry(dest, fd, w, kind);
    } catch (e) {
      fs.rmSync(dest, { recursive: true, force: true });
      throw e;
    }
  };
  if (direct) {
    try {
      attr = buildAt(target);
    } catch (e) {
      // the name is taken in the upper: by a whiteout (built over below), or for real
      if (!sys.hasErrno(e, sys.E.EEXIST)) throw e;
      const existing = sys.lstatIfExists(target);
      if (!existing || !isWhiteoutAttr(existing)) throw new sys.SysError(sys.E.EEXIST, 'create', p);
      overWhiteout = true;
    }
  } else {
    const existing = sys.lstatIfExists(target);
    overWhiteout = existing !== undefined && isWhiteoutAttr(existing);
    if (existing && !overWhiteout) throw new sys.SysError(sys.E.EEXIST, 'create', p);
    if (!overWhiteout) attr = buildAt(target);
  }
  if (overWhiteout) {
    const tmp = core.stack.tmpPath();
    buildAt(tmp);
    try {
      if (kind.isDir) {
        setOpaque(core.stack, tmp);
        sys.renameat2(tmp, target, sys.C.RENAME_EXCHANGE);
        sys.unlink(tmp);
        core.trace.event('opaque', p, 'new dir over a whiteout in upper: opaque, lower dirs stay hidden');
      } else {
        sys.rename(tmp, target);
      }
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    attr = sys.lstat(target);
  }
  if (kind.isDir && (overWhiteout || !direct)) {
    // a directory may merge with lower ones (a .wh.NAME marker hid them, not a whiteout):
    // the full lookup says
    return { node: obtainCounted(core, parent, name), attr: attr! };
  }
  // A new entry in the upper with nothing below it to merge with (a non-directory hides
  // whatever is below; a directory in a parent with no lower dirs has none): what a
  // lookup would find is the entry itself, and one just made carries no recorded st_ino.
  const node = core.nodes.obtain(core.stack, p, { isDir: kind.isDir, inUpper: true, attr: attr!, lowerDirs: [], opaque: false, hidden: [] }, { fresh: true });
  node.nlookup++;
  return { node, attr: attr! };
}

/** Looks name up again after a change and counts the kernel's new reference. */
export function obtainCounted(core: UnionCore, parent: Node, name: string): Node {
  const r = lookupName(core.stack, core.dirOf(parent), name).found;
  if (!r) throw new sys.SysError(sys.E.ENOENT, 'lookup', childPath(parent.path, name));
  const n = core.nodes.obtain(core.stack, childPath(parent.path, name), r);
  n.nlookup++;
  return n;
}

export async function linkEntry(core: UnionCore, n: Node, parent: Node, name: string): Promise<Node> {
  const p = childPath(parent.path, name);
  core.checkWritable(p);
  checkName(name);
  if (n.isDir) throw new sys.SysError(sys.E.EPERM, 'link', n.path);
  if (lookupName(core.stack, core.dirOf(parent), name).found) throw new sys.SysError(sys.E.EEXIST, 'link', p);
  await core.ensureUp(n);
  await core.ensureUp(parent);
  const src = core.stack.upperPath(n.path);
  const target = core.stack.upperPath(p);
  const existing = sys.lstatIfExists(target);
  if (existing && isWhiteoutAttr(existing)) {
    const tmp = core.stack.tmpPath();
    sys.link(src, tmp);
    sys.rename(tmp, target);
  } else {
    sys.link(src, target);
  }
  core.nodes.addAlias(n, p);
  n.nlookup++;
  return n;
}

function lookupOrThrow(core: UnionCore, parent: Node, name: string): Resolution {
  const r = lookupName(core.stack, core.dirOf(parent), name).found;
  if (!r) throw new sys.SysError(sys.E.ENOENT, 'lookup', childPath(parent.path, name));
  return r;
}

/** Replaces the upper entry at target (a non-dir) by a whiteout, atomically. */
function whiteoutOver(core: UnionCore, p: string, target: string): void {
  sys.rename(makeWhiteoutTmp(core.stack), target);
  core.trace.event('whiteout', p, 'upper entry replaced by a whiteout: a lower entry exists');
}

function whiteoutAt(core: UnionCore, p: string, target: string, layer: string): void {
  sys.mknod(target, sys.S_IFCHR, sys.makedev(0, 0));
  core.trace.event('whiteout', p, `hides the entry in ${layer}`);
}

/** Empties a real upper directory of the whiteouts and markers a merged-empty dir may hold. */
function clearWhiteouts(dir: string): void {
  for (const name of sys.readdirNames(dir)) {
    const p = path.join(dir, name);
    const a = sys.lstat(p);
    if (isWhiteoutAttr(a) || isMarkerName(name)) sys.unlink(p);
    else throw new sys.SysError(sys.E.ENOTEMPTY, 'rmdir', dir);
  }
}

export async function unlinkEntry(core: UnionCore, parent: Node, name: string): Promise<void> {
  const p = childPath(parent.path, name);
  core.checkWritable(p);
  const r = lookupOrThrow(core, parent, name);
  if (r.isDir) throw new sys.SysError(sys.E.EISDIR, 'unlink', p);
  await core.ensureUp(parent);
  let inUpper = r.inUpper;
  if (!inUpper && sys.isReg(r.attr.mode) && r.attr.nlink > 1) {
    // the other names must show one link less (index=on): bring them all up first
    await core.ensureUp(nodeFor(core, p, r));
    inUpper = true;
  }
  const target = core.stack.upperPath(p);
  const below = lowerPositive(core.stack, core.dirOf(parent), name);
  if (inUpper) {
    if (below) whiteoutOver(core, p, target);
    else sys.unlink(target);
  } else {
    whiteoutAt(core, p, target, r.lower?.layer.name ?? 'a lower layer');
  }
  core.nodes.dropAlias(p, inUpper && r.attr.nlink <= 1);
}

export async function rmdirEntry(core: UnionCore, parent: Node, name: string): Promise<void> {
  const p = childPath(parent.path, name);
  core.checkWritable(p);
  const r = lookupOrThrow(core, parent, name);
  if (!r.isDir) throw new sys.SysError(sys.E.ENOTDIR, 'rmdir', p);
  if (listMerged(core.stack, { path: p, inUpper: r.inUpper, lowerDirs: r.lowerDirs }).count > 0) {
    throw new sys.SysError(sys.E.ENOTEMPTY, 'rmdir', p);
  }
  await core.ensureUp(parent);
  const target = core.stack.upperPath(p);
  const below = lowerPositive(core.stack, core.dirOf(parent), name);
  if (r.inUpper) {
    if (below) {
      // swap a whiteout in, then clear and remove the old dir from the work dir
      const tmp = makeWhiteoutTmp(core.stack);
      sys.renameat2(tmp, target, sys.C.RENAME_EXCHANGE);
      clearWhiteouts(tmp);
      sys.rmdir(tmp);
      core.trace.event('whiteout', p, 'upper dir replaced by a whiteout: a lower dir exists');
    } else {
      clearWhiteouts(target);
      sys.rmdir(target);
    }
  } else {
    whiteoutAt(core, p, target, r.lower?.layer.name ?? 'a lower layer');
  }
  core.nodes.dropAlias(p, r.inUpper);
}

/** A directory with lower content cannot move without redirects (redirect_dir=off). */
function hasLowerContent(r: Resolution): boolean {
  return r.isDir && r.lowerDirs.length > 0;
}

function nodeFor(core: UnionCore, p: string, r: Resolution): Node {
  return core.nodes.find(keyOf(r.attr)) ?? core.nodes.obtain(core.stack, p, r);
}

export async function renameEntry(core: UnionCore, parent: Node, name: string, newParent: Node, newName: string, flags: number): Promise<void> {
  const { RENAME_NOREPLACE, RENAME_EXCHANGE } = sys.C;
  const from = childPath(parent.path, name);
  const to = childPath(newParent.path, newName);
  core.checkWritable(from);
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) || (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE)) {
    throw new sys.SysError(sys.E.EINVAL, 'rename', from);
  }
  checkName(newName);
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  const src = lookupOrThrow(core, parent, name);
  const dst = lookupName(core.stack, core.dirOf(newParent), newName).found;
  if (flags & RENAME_NOREPLACE && dst) throw new sys.SysError(sys.E.EEXIST, 'rename', to);
  if (exchange && !dst) throw new sys.SysError(sys.E.ENOENT, 'rename', to);
  if (from === to) return;
  if (dst && !exchange) {
    if (src.isDir && !dst.isDir) throw new sys.SysError(sys.E.ENOTDIR, 'rename', to);
    if (!src.isDir && dst.isDir) throw new sys.SysError(sys.E.EISDIR, 'rename', to);
    if (keyOf(src.attr) === keyOf(dst.attr)) return; // two names of one file: nothing to do
  }
  // as the kernel: EXDEV before the emptiness of the target is checked
  for (const [r, p] of [[src, from], ...(exchange && dst ? [[dst, to]] : [])] as [Resolution, string][]) {
    if (hasLowerContent(r)) {
      core.trace.event('exdev', p, `dir has lower content in ${r.lowerDirs.map((d) => d.layer.name).join(', ')}: EXDEV (redirect_dir=off)`);
      throw new sys.SysError(sys.E.EXDEV, 'rename', p);
    }
  }
  if (dst && !exchange && dst.isDir && listMerged(core.stack, { path: to, inUpper: dst.inUpper, lowerDirs: dst.lowerDirs }).count > 0) {
    throw new sys.SysError(sys.E.ENOTEMPTY, 'rename', to);
  }
  await core.ensureUp(parent);
  await core.ensureUp(newParent);
  const srcNode = nodeFor(core, from, src);
  await core.ensureUp(srcNode);
  if (exchange && dst) await core.ensureUp(nodeFor(core, to, dst));
  else if (dst && !dst.inUpper && sys.isReg(dst.attr.mode) && dst.attr.nlink > 1) {
    // the target's other names must show one link less (index=on): bring them all up first
    await core.ensureUp(nodeFor(core, to, dst));
  }
  const srcReal = core.stack.upperPath(from);
  const dstReal = core.stack.upperPath(to);
  const srcBelow = lowerPositive(core.stack, core.dirOf(parent), name);
  const dstBelow = lowerPositive(core.stack, core.dirOf(newParent), newName);
  if (exchange) {
    sys.renameat2(srcReal, dstReal, RENAME_EXCHANGE);
    if (src.isDir && dstBelow) markOpaque(core, to, dstReal);
    if (dst?.isDir && srcBelow) markOpaque(core, from, srcReal);
    core.nodes.move(from, to, true, src.isDir || (dst?.isDir ?? false));
    return;
  }
  const real = sys.lstatIfExists(dstReal);
  if (dst?.isDir && dst.inUpper) clearWhiteouts(dstReal);
  if (real && isWhiteoutAttr(real)) {
    if (src.isDir || srcBelow) {
      // the whiteout moves to the old name, where it is wanted (or removed if not)
      sys.renameat2(srcReal, dstReal, RENAME_EXCHANGE);
      if (srcBelow) core.trace.event('whiteout', from, 'left at the old name: a lower entry exists');
      else sys.unlink(srcReal);
    } else {
      sys.rename(srcReal, dstReal);
    }
  } else if (srcBelow) {
    try {
      sys.renameat2(srcReal, dstReal, sys.C.RENAME_WHITEOUT);
    } catch (e) {
      if (!sys.hasErrno(e, sys.E.EINVAL) && !sys.hasErrno(e, sys.E.EPERM)) throw e;
      sys.rename(srcReal, dstReal);
      sys.mknod(srcReal, sys.S_IFCHR, sys.makedev(0, 0));
    }
    core.trace.event('whiteout', from, 'left at the old name: a lower entry exists');
  } else {
    sys.rename(srcReal, dstReal);
  }
  if (src.isDir && dstBelow) markOpaque(core, to, dstReal);
  if (dst) core.nodes.dropAlias(to, dst.inUpper && (dst.isDir || dst.attr.nlink <= 1));
  core.nodes.move(from, to, false, src.isDir);
}

function markOpaque(core: UnionCore, p: string, real: string): void {
  setOpaque(core.stack, real);
  core.trace.event('opaque', p, 'dir moved over a lower entry: opaque');
}
