// Whiteouts and opaque directories, read in every form the kernel, fuse-overlayfs and OCI
// tars leave behind, written only in the kernel's form (char 0/0, the opaque xattr).
import * as sys from '../sys/index.js';
import type { Attr } from '../sys/index.js';
import { joinReal, TRUSTED_PREFIX, USER_PREFIX, type Stack } from './layers.js';

export const WH_PREFIX = '.wh.';
export const WH_OPAQUE = '.wh..wh..opq';
const OPAQUE_XATTRS = [`${TRUSTED_PREFIX}opaque`, `${USER_PREFIX}opaque`, 'user.fuseoverlayfs.opaque'];

/** A char device 0/0: the kernel's whiteout. */
export function isWhiteoutAttr(a: Attr): boolean {
  return sys.isChr(a.mode) && Number(a.rdev) === 0;
}

/** Names no merged listing shows: OCI/fuse-overlayfs markers. */
export function isMarkerName(name: string): boolean {
  return name.startsWith(WH_PREFIX);
}

/** Whether dir (a real directory of some layer) is opaque in any of the known forms. */
export function isOpaqueDir(dir: string): boolean {
  // one listxattr instead of a getxattr per form: most directories carry no xattr at all
  let names: string[];
  try {
    names = sys.llistxattr(dir);
  } catch {
    names = OPAQUE_XATTRS; // cannot list (unsupported?): ask for each form
  }
  for (const x of OPAQUE_XATTRS) {
    if (!names.includes(x)) continue;
    const v = sys.lgetxattrIfExists(dir, x);
    if (v && v.toString() === 'y') return true;
  }
  return sys.lstatIfExists(joinReal(dir, WH_OPAQUE)) !== undefined;
}

/** Whether a `.wh.NAME` file marks NAME deleted in dir. */
export function hasWhFile(dir: string, name: string): boolean {
  return sys.lstatIfExists(joinReal(dir, WH_PREFIX + name)) !== undefined;
}

/** Private xattrs: the overlay namespace in both forms and fuse-overlayfs's own. */
export function isPrivateXattr(name: string): boolean {
  return name.startsWith(TRUSTED_PREFIX) || name.startsWith(USER_PREFIX) || name.startsWith('user.fuseoverlayfs.');
}

export function setOpaque(stack: Stack, dir: string): void {
  sys.lsetxattr(dir, `${stack.prefix}opaque`, Buffer.from('y'));
}

/** A whiteout built in workdir/work, ready to be renamed into place. */
export function makeWhiteoutTmp(stack: Stack): string {
  const tmp = stack.tmpPath();
  sys.mknod(tmp, sys.S_IFCHR | 0o000, sys.makedev(0, 0));
  return tmp;
}
