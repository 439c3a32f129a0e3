// Copy-up (the kernel's copy_up.c): before any change to a lower file or directory, its
// parents first, then the entry itself is built in workdir/work (data, xattrs, owner, mode,
// ns times) and renamed into place, so a crash leaves the old file or the new, never half.
// Hard links stay linked: the other lower names of a copied-up inode are linked up too.
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../sys/index.js';
import type { Attr } from '../sys/index.js';
import { isPrivateXattr } from './markers.js';
import { INO_XATTR } from './inode.js';
import type { Stack } from './layers.js';
import type { Trace } from './trace.js';
import type { Layer } from './types.js';

export interface CopyUpContext {
  readonly stack: Stack;
  readonly trace: Trace;
  readonly volatile: boolean;
}

/** Every xattr of src but the overlay-private ones (security.capability included). */
export function copyXattrs(src: string, dest: string, isSymlink: boolean): void {
  let names: string[];
  try {
    names = sys.llistxattr(src);
  } catch {
    return;
  }
  for (const name of names) {
    if (isPrivateXattr(name)) continue;
    const v = sys.lgetxattrIfExists(src, name);
    if (!v) continue;
    try {
      sys.lsetxattr(dest, name, v);
    } catch (e) {
      // symlinks cannot carry user.* xattrs, and a rootless mount cannot write trusted.*
      if (isSymlink || sys.hasErrno(e, sys.E.EPERM) || sys.hasErrno(e, sys.E.ENOTSUP)) continue;
      throw e;
    }
  }
}

/** Owner then mode: chown clears set-id bits and file capabilities, so it goes first and
 * the xattrs (security.capability) after it. */
export function copyOwnerMode(dest: string, a: Attr): void {
  sys.lchown(dest, a.uid, a.gid);
  if (!sys.isLnk(a.mode)) sys.chmod(dest, a.mode);
}

/** ns times last: nothing after this may touch the copy's data or metadata. */
export function copyTimes(dest: string, a: Attr): void {
  sys.lutimens(dest, a.atime, a.atimeNsec, a.mtime, a.mtimeNsec);
}

/** A copy-up is no change to its parent: the parent's times stay as they were (as the kernel). */
export function keepingParentTimes(dest: string, fn: () => void): void {
  const parent = path.dirname(dest);
  const before = sys.lstat(parent);
  fn();
  sys.lutimens(parent, before.atime, before.atimeNsec, before.mtime, before.mtimeNsec);
}

/** Records the st_ino a copy keeps (symlinks in the user namespace cannot hold it). */
function recordIno(ctx: CopyUpContext, dest: string, a: Attr): void {
  if (sys.isLnk(a.mode)) return;
  try {
    sys.lsetxattr(dest, ctx.stack.prefix + INO_XATTR, Buffer.from(String(a.ino)));
  } catch {
    // without the record the copy shows its own inode number: cosmetic, not fatal
  }
}

/** Copies up the lower directory src to the upper at merged path p (parent already up). */
export function copyUpDir(ctx: CopyUpContext, p: string, src: { layer: Layer; path: string; attr: Attr } | undefined): void {
  const { stack } = ctx;
  const tmp = stack.tmpPath();
  const a = src?.attr;
  sys.mkdir(tmp, 0o700);
  try {
    if (src && a) {
      copyOwnerMode(tmp, a);
      copyXattrs(src.path, tmp, false);
      recordIno(ctx, tmp, a);
      copyTimes(tmp, a);
    }
    keepingParentTimes(stack.upperPath(p), () => sys.rename(tmp, stack.upperPath(p)));
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  ctx.trace.event('copy-up', p, `dir from ${src?.layer.name ?? '?'} to upper`);
}

/** Copies up a lower non-directory to the upper at merged path p (parent already up). */
export async function copyUpFile(ctx: CopyUpContext, p: string, src: { layer: Layer; path: string }, opts: { noData?: boolean } = {}): Promise<Attr> {
  const { stack } = ctx;
  const a = sys.lstat(src.path);
  const tmp = stack.tmpPath();
  try {
    if (sys.isReg(a.mode) && opts.noData) {
      // about to be truncated to nothing (O_TRUNC): the data would be thrown away
      sys.close(sys.open(tmp, sys.O.O_WRONLY | sys.O.O_CREAT | sys.O.O_EXCL, 0o600));
    } else if (sys.isReg(a.mode)) {
      // data and its fsync in a worker thread: other requests go on meanwhile
      await sys.copyFileAsync(src.path, tmp, { fsync: !ctx.volatile });
    } else if (sys.isLnk(a.mode)) {
      sys.symlink(sys.readlink(src.path), tmp);
    } else {
      sys.mknod(tmp, a.mode, Number(a.rdev));
    }
    copyOwnerMode(tmp, a);
    copyXattrs(src.path, tmp, sys.isLnk(a.mode));
    recordIno(ctx, tmp, a);
    copyTimes(tmp, a);
    // a plain rename: nothing is at p in the upper, or the entry would not be lower-only
    keepingParentTimes(stack.upperPath(p), () => sys.renameat2(tmp, stack.upperPath(p), sys.C.RENAME_NOREPLACE));
  } catch (e) {
    try {
      sys.unlink(tmp);
    } catch {
      // nothing was built
    }
    throw e;
  }
  ctx.trace.event('copy-up', p, `from ${src.layer.name} (${src.path}) to upper${opts.noData ? ', metadata only (truncated)' : ''}`);
  return sys.lstat(stack.upperPath(p));
}

/** Per lower layer, its hard-linked files by inode: built once, when first needed. */
export class HardlinkIndex {
  private readonly byLayer = new Map<Layer, Map<string, string[]>>();

  /** merged paths (relative) of every name of the lower inode a in layer */
  namesOf(layer: Layer, a: Attr): string[] {
    let m = this.byLayer.get(layer);
    if (!m) {
      m = new Map();
      this.walk(layer.root, '', m);
      this.byLayer.set(layer, m);
    }
    return m.get(`${a.dev}:${a.ino}`) ?? [];
  }

  private walk(root: string, rel: string, m: Map<string, string[]>): void {
    let entries: fs.Dirent[];
    try {
      entries = sys.readdir(path.join(root, rel));
    } catch {
      return;
    }
    for (const d of entries) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) this.walk(root, r, m);
      else if (d.isFile()) {
        const a = sys.lstatIfExists(path.join(root, r));
        if (a && a.nlink > 1) {
          const k = `${a.dev}:${a.ino}`;
          const list = m.get(k);
          if (list) list.push(r);
          else m.set(k, [r]);
        }
      }
    }
  }
}
