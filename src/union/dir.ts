// Directory operations (the kernel's dir.c): create, mkdir, mknod, symlink and link over
// whiteouts; unlink and rmdir leaving a whiteout only where a lower entry shows through;
// rename with its flags, answering EXDEV for directories with lower content.
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../sys/index.js';
import type { UnionCore } from './core.js';
import { keyOf, type Node } from './inode.js';
import { isMarkerName, isWhiteoutAttr, makeWhiteoutTmp, setOpaque } from './markers.js';
import { lookupName, lowerPositive } from './namei.js';
import { listMerged } from './readdir.js';
import type { Caller, Resolution } from './types.js';

const join = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

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

/** Builds a new entry with build(dest); over a whiteout it is built in the work dir and
 * swapped in, a directory then becoming opaque (the lower one it replaces stays hidden).
 * Synchronous when the parent is in the upper already (no copy-up to wait for). */
export function createEntry(
  core: UnionCore,
  parent: Node,
  name: string,
  caller: Caller,
  kind: EntryKind,
  build: (dest: string) => void,
): Created | Promise<Created> {
  const p = join(parent.path, name);
  core.checkWritable(p);
  checkName(name);
  if (lookupName(core.stack, core.dirOf(parent), name).found) throw new sys.SysError(sys.E.EEXIST, 'create', p);
  const made = (): Created => buildEntry(core, parent, name, caller, kind, build);
  return parent.inUpper ? made() : core.ensureUp(parent).then(made);
}

function buildEntry(
  core: UnionCore,
  parent: Node,
  name: string,
  caller: Caller,
  kind: EntryKind,
  build: (dest: string) => void,
): Created {
  const p = join(parent.path, name);
  const target = core.stack.upperPath(p);
  const existing = sys.lstatIfExists(target);
  const overWhiteout = existing !== undefined && isWhiteoutAttr(existing);
  if (existing && !overWhiteout) throw new sys.SysError(sys.E.EEXIST, 'create', p);
  const parentAttr = sys.lstat(core.stack.upperPath(parent.path));
  const uid = core.ids.uid.toHost(caller.uid);
  let gid = core.ids.gid.toHost(caller.gid);
  let mode = kind.mode & 0o7777;
  if (parentAttr.mode & 0o2000) {
    gid = parentAttr.gid;
    if (kind.isDir) mode |= 0o2000;
  }
  const finish = (dest: string): void => {
    sys.lchown(dest, uid, gid);
    if (!kind.symlink) sys.chmod(dest, mode);
  };
  if (!overWhiteout) {
    build(target);
    try {
      finish(target);
    } catch (e) {
      fs.rmSync(target, { recursive: true, force: true });
      throw e;
    }
  } else {
    const tmp = core.stack.tmpPath();
    build(tmp);
    try {
      finish(tmp);
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
  }
  if (kind.isDir) {
    // a directory may merge with lower ones (a .wh.NAME marker hid them, not a whiteout):
    // the full lookup says
    const node = obtainCounted(core, parent, name);
    return { node, attr: sys.lstat(target) };
  }
  // a new non-directory in the upper hides whatever is below it: what a lookup would find
  // is the file itself, and a file just made carries no recorded st_ino
  const attr = sys.lstat(target);
  const node = core.nodes.obtain(core.stack, p, { isDir: false, inUpper: true, attr, lowerDirs: [], opaque: false, hidden: [] }, { fresh: true });
  node.nlookup++;
  return { node, attr };
}

/** Looks name up again after a change and counts the kernel's new reference. */
export function obtainCounted(core: UnionCore, parent: Node, name: string): Node {
  const r = lookupName(core.stack, core.dirOf(parent), name).found;
  if (!r) throw new sys.SysError(sys.E.ENOENT, 'lookup', join(parent.path, name));
  const n = core.nodes.obtain(core.stack, join(parent.path, name), r);
  n.nlookup++;
  return n;
}

export async function linkEntry(core: UnionCore, n: Node, parent: Node, name: string): Promise<Node> {
  const p = join(parent.path, name);
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
  if (!r) throw new sys.SysError(sys.E.ENOENT, 'lookup', join(parent.path, name));
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
  const p = join(parent.path, name);
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
  const p = join(parent.path, name);
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
  const from = join(parent.path, name);
  const to = join(newParent.path, newName);
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
