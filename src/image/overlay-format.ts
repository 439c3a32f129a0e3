// The kernel overlayfs format of an extracted layer dir, and the OCI tar names it maps to.
// Translation between the two happens only in layer-extract.ts and layer-generate.ts.
import * as sys from '../sys/index.js';

export const WH_PREFIX = '.wh.';
export const WH_OPAQUE = '.wh..wh..opq';

/** Opaque markers we read, in the order we trust them; we write the first we may. */
export const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'] as const;

/** Where ownership that could not be applied with chown is recorded (rootless, no user
 * namespace): containers/storage's and fuse-overlayfs's convention, "uid:gid:0mode". */
export const OVERRIDE_STAT_XATTR = 'user.containers.override_stat';

/** Xattrs that are the union's own metadata: never copied into a tar, never taken from one
 * (a layer tar that sets trusted.overlay.redirect or .opaque would steer the mount). */
export function isPrivateXattr(name: string): boolean {
  return (
    name.startsWith('trusted.overlay.') ||
    name.startsWith('user.overlay.') ||
    name.startsWith('user.fuseoverlayfs.') ||
    name === OVERRIDE_STAT_XATTR
  );
}

export function isWhiteoutAttr(st: sys.Attr): boolean {
  return sys.isChr(st.mode) && Number(st.rdev) === 0;
}

export function makeWhiteout(p: string): void {
  sys.mknod(p, sys.S_IFCHR | 0o000, sys.makedev(0, 0));
}

/** names: the dir's xattr names when the caller has listed them already (saves probes). */
export function isOpaqueDir(p: string, names?: string[]): boolean {
  return OPAQUE_XATTRS.some((x) => (names === undefined || names.includes(x)) && sys.lgetxattrIfExists(p, x)?.toString() === 'y');
}

/** trusted.* as real root; user.* (the kernel's userxattr form) when trusted.* is refused. */
export function setOpaque(p: string, privileged: boolean): void {
  if (privileged) {
    try {
      sys.lsetxattr(p, OPAQUE_XATTRS[0], Buffer.from('y'));
      return;
    } catch (e) {
      if (!sys.hasErrno(e, sys.E.EPERM) && !sys.hasErrno(e, sys.E.ENOTSUP)) throw e;
    }
  }
  sys.lsetxattr(p, OPAQUE_XATTRS[1], Buffer.from('y'));
}

/** Linux's dev_t split (glibc's gnu_dev_major/minor). */
export function devMajor(rdev: number | bigint): number {
  const d = BigInt(rdev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
}
export function devMinor(rdev: number | bigint): number {
  const d = BigInt(rdev);
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
}

export function isPrivileged(): boolean {
  return process.geteuid?.() === 0;
}
