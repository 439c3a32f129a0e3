// Extended attributes through the union (the kernel's xattrs.c): read from the topmost
// real file, written after a copy-up, overlay-private names never shown nor settable.
import * as sys from '../sys/index.js';
import type { UnionCore } from './core.js';
import { realPathOf, type Node } from './inode.js';
import { isPrivateXattr } from './markers.js';

export function getXattr(core: UnionCore, n: Node, name: string): Buffer {
  if (isPrivateXattr(name)) throw new sys.SysError(sys.E.ENODATA, 'getxattr', name);
  const v = sys.lgetxattrIfExists(realPathOf(core.stack, n), name);
  if (!v) throw new sys.SysError(sys.E.ENODATA, 'getxattr', name);
  return v;
}

export function listXattrs(core: UnionCore, n: Node): string[] {
  try {
    return sys.llistxattr(realPathOf(core.stack, n)).filter((x) => !isPrivateXattr(x));
  } catch (e) {
    if (sys.hasErrno(e, sys.E.ENOTSUP)) return [];
    throw e;
  }
}

export async function setXattr(core: UnionCore, n: Node, name: string, value: Buffer, flags: number): Promise<void> {
  if (isPrivateXattr(name)) throw new sys.SysError(sys.E.EPERM, 'setxattr', name);
  core.checkWritable(n.path);
  // XATTR_CREATE / XATTR_REPLACE answer before a needless copy-up
  const exists = sys.lgetxattrIfExists(realPathOf(core.stack, n), name) !== undefined;
  if (flags & sys.C.XATTR_CREATE && exists) throw new sys.SysError(sys.E.EEXIST, 'setxattr', name);
  if (flags & sys.C.XATTR_REPLACE && !exists) throw new sys.SysError(sys.E.ENODATA, 'setxattr', name);
  await core.ensureUp(n);
  sys.lsetxattr(core.stack.upperPath(n.path), name, value, flags);
}

export async function removeXattr(core: UnionCore, n: Node, name: string): Promise<void> {
  if (isPrivateXattr(name)) throw new sys.SysError(sys.E.ENODATA, 'removexattr', name);
  core.checkWritable(n.path);
  if (sys.lgetxattrIfExists(realPathOf(core.stack, n), name) === undefined) throw new sys.SysError(sys.E.ENODATA, 'removexattr', name);
  await core.ensureUp(n);
  sys.lremovexattr(core.stack.upperPath(n.path), name);
}
