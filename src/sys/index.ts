// Every raw syscall Strata makes goes through this module: node:fs where it is exact,
// the native addon where Node lacks the call or rounds its result. Every failure is a
// SysError carrying a positive errno.
import fs from 'node:fs';
import { native, type Attr, type StatVfs } from './native.js';
import { E, SysError, toSysError } from './errors.js';

export type { Attr, StatVfs } from './native.js';
export { SysError, E, errnoFrom, errnoOf, hasErrno, toSysError } from './errors.js';

export const C = native.constants;

/** The fields a setattr changes (undefined: unchanged); an nsec may be UTIME_NOW. */
export interface AttrChange {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: number;
  atimeNsec?: number;
  mtime?: number;
  mtimeNsec?: number;
}
export const O = fs.constants;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

export const isDir = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isReg = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isLnk = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;
export const isChr = (mode: number): boolean => (mode & S_IFMT) === S_IFCHR;

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toSysError(e);
  }
}

// Stats go through one buffer the addon fills: an object built here costs a fraction of
// one built field by field in C.
const statBuf = new Float64Array(16);
/** A field as a small integer when it is one. A double read from the Float64Array made V8
 * keep every field of the attr boxed: 16 heap numbers per stat, 476 bytes per attr against
 * ~150 (a third of what a lookup allocated). A value past 2^31 stays a double. */
const int = (x: number): number => (x === (x | 0) ? x | 0 : x);
function attrOf(b: Float64Array, at = 0): Attr {
  const o = at * 16;
  return {
    ino: int(b[o]!), dev: int(b[o + 1]!), mode: int(b[o + 2]!), nlink: int(b[o + 3]!), uid: int(b[o + 4]!), gid: int(b[o + 5]!),
    rdev: int(b[o + 6]!), size: int(b[o + 7]!), blocks: int(b[o + 8]!), blksize: int(b[o + 9]!), atime: int(b[o + 10]!),
    atimeNsec: int(b[o + 11]!), mtime: int(b[o + 12]!), mtimeNsec: int(b[o + 13]!), ctime: int(b[o + 14]!), ctimeNsec: int(b[o + 15]!),
  };
}

/** A file's identity (dev and ino) as a Map key: a number when it fits one exactly (dev
 * below 2^21 and ino below 2^32: nearly always), else a string. A "dev:ino" string per
 * lookup cost ~1 µs of building and hashing (a fresh string's hash is computed anew). */
export type FileKey = number | string;
export function fileKey(a: { dev?: number | bigint; ino: number | bigint }): FileKey {
  const { dev, ino } = a;
  if (typeof dev === 'number' && typeof ino === 'number' && dev >= 0 && dev < 2 ** 21 && ino >= 0 && ino < 2 ** 32) return dev * 2 ** 32 + ino;
  return `${dev}:${ino}`;
}

export function lstat(p: string): Attr {
  const r = native.lstatInto(p, statBuf);
  if (r === 0) return attrOf(statBuf);
  if (r < 0) return call(() => native.lstat(p));
  throw new SysError(r, 'lstat', p);
}

export function fstat(fd: number): Attr {
  const r = native.fstatInto(fd, statBuf);
  if (r === 0) return attrOf(statBuf);
  if (r < 0) return call(() => native.fstat(fd));
  throw new SysError(r, 'fstat');
}

/** lstat that answers undefined for a missing path instead of throwing (and costs no
 * exception then: most of a union's lookups miss in some layer). */
export function lstatIfExists(p: string): Attr | undefined {
  const r = native.lstatInto(p, statBuf);
  if (r === 0) return attrOf(statBuf);
  if (r < 0) return call(() => native.lstat(p));
  if (r === E.ENOENT || r === E.ENOTDIR) return undefined;
  throw new SysError(r, 'lstat', p);
}

/** open(2), close-on-exec (as node:fs's), straight to the addon: no node:fs argument checks */
export function open(p: string, flags: number, mode = 0o666): number {
  const fd = native.open(p, flags, mode);
  if (fd < 0) throw new SysError(-fd, 'open', p);
  return fd;
}
export const close = (fd: number): void => call(() => fs.closeSync(fd));
export const pread = (fd: number, buf: Uint8Array, pos: number): number =>
  call(() => fs.readSync(fd, buf, 0, buf.length, pos));
export const pwrite = (fd: number, buf: Uint8Array, pos: number): number =>
  call(() => fs.writeSync(fd, buf, 0, buf.length, pos));
export const fsync = (fd: number): void => call(() => fs.fsyncSync(fd));
export const fdatasync = (fd: number): void => call(() => fs.fdatasyncSync(fd));
export const ftruncate = (fd: number, len: number): void => call(() => fs.ftruncateSync(fd, len));
export const truncate = (p: string, len: number): void => call(() => fs.truncateSync(p, len));

export const readdir = (p: string): fs.Dirent[] => call(() => fs.readdirSync(p, { withFileTypes: true }));
export const readdirNames = (p: string): string[] => call(() => fs.readdirSync(p));
/** A directory's entries but . and ..: names, d_type (DT_*, 0 unknown) and d_ino (-1 when
 * past 2^53), from one getdents walk. */
export function readdirInos(p: string): { names: string[]; types: Uint8Array; inos: Float64Array } {
  const [joined, types, inos] = call(() => native.readdirInos(p));
  // no name is empty: '' is no entries, not one
  return { names: types.length === 0 ? [] : joined.split('\0'), types, inos };
}
export interface MergedListing {
  /** the names as bytes, joined by NULs (empty for none): decoded only when wanted */
  names: Buffer;
  /** DT_* of each entry (S_IF* >> 12), never DT_UNKNOWN */
  types: Uint8Array;
  /** d_ino, or -1 where it is not the st_ino to show (a layer not flagged exact, past 2^53) */
  inos: Float64Array;
  /** the index in paths of the layer each entry was found in */
  layers: Uint16Array;
}
/** A union directory's merged listing from its layers' directories (top first), in one
 * call to the addon: each name once, the topmost; char-0/0 whiteouts and `.wh.` markers
 * left out, a `.wh.NAME` hiding NAME in the layers below; a layer missing the directory
 * (ENOENT, ENOTDIR) adds nothing. exact[i]: whether layer i's d_ino is the st_ino. */
export function readdirMerged(paths: readonly string[], exact: readonly boolean[]): MergedListing {
  const [names, types, inos, layers] = call(() => native.readdirMerged(paths, flags(exact)));
  return { names, types, inos, layers };
}
const flags = (exact: readonly boolean[]): Uint8Array => Uint8Array.from(exact, (x) => (x ? 1 : 0));
/** readdirMerged in a worker thread (libuv's pool), the JS thread free meanwhile. */
export async function readdirMergedAsync(paths: readonly string[], exact: readonly boolean[]): Promise<MergedListing> {
  try {
    const [names, types, inos, layers] = await native.readdirMergedAsync(paths, flags(exact));
    return { names, types, inos, layers };
  } catch (e) {
    throw toSysError(e);
  }
}
/** The lstat of a merged listing's entries [from, to), each in the layer directory it was
 * listed from (paths: readdirMerged's), into out, 16 doubles an entry, entry `from` first;
 * read one with attrAt. Directories and failures get none (a mode of 0). */
export function lstatEntries(paths: readonly string[], l: MergedListing, from: number, to: number, out: Float64Array): void {
  call(() => native.lstatEntries(paths, l.names, l.layers, l.types, from, to, out));
}
/** lstatEntries in a worker thread (libuv's pool); out is not to be read before it ends */
export async function lstatEntriesAsync(paths: readonly string[], l: MergedListing, from: number, to: number, out: Float64Array): Promise<void> {
  try {
    await native.lstatEntriesAsync(paths, l.names, l.layers, l.types, from, to, out);
  } catch (e) {
    throw toSysError(e);
  }
}
/** entry i of a Float64Array lstatEntries filled, as an Attr; undefined where it has none */
export function attrAt(b: Float64Array, i: number): Attr | undefined {
  return b[i * 16 + 2] === 0 ? undefined : attrOf(b, i);
}
export const mkdir = (p: string, mode = 0o777): void => call(() => fs.mkdirSync(p, { mode }));
export const mkdirp = (p: string, mode = 0o755): void => call(() => void fs.mkdirSync(p, { mode, recursive: true }));
export const rmdir = (p: string): void => call(() => fs.rmdirSync(p));
export const unlink = (p: string): void => call(() => fs.unlinkSync(p));
export const rename = (from: string, to: string): void => call(() => fs.renameSync(from, to));
export const renameat2 = (from: string, to: string, flags: number): void => call(() => native.renameat2(from, to, flags));
export const symlink = (target: string, p: string): void => call(() => fs.symlinkSync(target, p));
export const readlink = (p: string): string => call(() => fs.readlinkSync(p));
export const link = (existing: string, p: string): void => call(() => fs.linkSync(existing, p));
export const chmod = (p: string, mode: number): void => call(() => fs.chmodSync(p, mode & 0o7777));
export const fchmod = (fd: number, mode: number): void => call(() => fs.fchmodSync(fd, mode & 0o7777));
/** lchown; -1 leaves an id as it is. */
export const lchown = (p: string, uid: number, gid: number): void => call(() => native.fchownat(p, uid, gid, true));
export const fchown = (fd: number, uid: number, gid: number): void => call(() => fs.fchownSync(fd, uid, gid));
export const mknod = (p: string, mode: number, rdev: number): void => call(() => native.mknod(p, mode, rdev));
export const makedev = (major: number, minor: number): number => native.makedev(major, minor);
export const access = (p: string, mode: number): void => call(() => fs.accessSync(p, mode));

const setBuf = new Float64Array(8);
/** A setattr of a path (never following a symlink): chown to uid and gid, chmod to mode
 * (-1 for each: unchanged; host ids), then set's size and times (a nsec of UTIME_NOW
 * means now, an undefined one leaves that time), in that order, then its lstat: one call
 * to the addon. */
export function lsetattr(p: string, uid: number, gid: number, mode: number, set: AttrChange = {}): Attr {
  const omit = native.constants.UTIME_OMIT;
  setBuf[0] = uid;
  setBuf[1] = gid;
  setBuf[2] = mode;
  setBuf[3] = set.size ?? -1;
  setBuf[4] = set.atime ?? 0;
  setBuf[5] = set.atimeNsec ?? omit;
  setBuf[6] = set.mtime ?? 0;
  setBuf[7] = set.mtimeNsec ?? omit;
  const r = native.setattrInto(p, setBuf, statBuf);
  if (r === 0) return attrOf(statBuf);
  if (r < 0) return lstat(p);
  throw new SysError(r, 'setattr', p);
}

/** utimensat on the path itself (never following a symlink); UTIME_NOW and UTIME_OMIT
 * in a nsec field mean what they mean to the kernel. */
export const lutimens = (p: string, atime: number, atimeNsec: number, mtime: number, mtimeNsec: number): void =>
  call(() => native.utimensat(p, atime, atimeNsec, mtime, mtimeNsec, true));
export const futimens = (fd: number, atime: number, atimeNsec: number, mtime: number, mtimeNsec: number): void =>
  call(() => native.futimens(fd, atime, atimeNsec, mtime, mtimeNsec));

export const lgetxattr = (p: string, name: string): Buffer => call(() => native.lgetxattr(p, name));
/** lgetxattr that answers undefined when the attribute (or xattr support) is absent,
 * with no exception in that case. */
export function lgetxattrIfExists(p: string, name: string): Buffer | undefined {
  const v = native.lgetxattrOrErrno(p, name);
  if (typeof v !== 'number') return v;
  if (v === E.ENODATA || v === E.ENOTSUP || v === E.EOPNOTSUPP) return undefined;
  if (v === E.ERANGE) return lgetxattr(p, name);
  throw new SysError(v, 'lgetxattr', p);
}
export const lsetxattr = (p: string, name: string, value: Uint8Array, flags = 0): void =>
  call(() => native.lsetxattr(p, name, value, flags));
export const llistxattr = (p: string): string[] => call(() => native.llistxattr(p));
export const lremovexattr = (p: string, name: string): void => call(() => native.lremovexattr(p, name));

export const ficlone = (destFd: number, srcFd: number): void => call(() => native.ficlone(destFd, srcFd));
export const copyFileRange = (fdIn: number, fdOut: number, length: number): number =>
  call(() => native.copyFileRange(fdIn, fdOut, length));
export const statvfs = (p: string): StatVfs => call(() => native.statvfs(p));
export const umount2 = (p: string, flags: number): void => call(() => native.umount2(p, flags));
/** A unix stream socket pair, both ends close-on-exec. */
export const socketpair = (): [number, number] => call(() => native.socketpair());
/** The fd a peer sent on sock with SCM_RIGHTS (close-on-exec here); never blocks. */
export const recvFd = (sock: number): number => call(() => native.recvFd(sock));
/** Makes newfd name oldfd's file (close-on-exec), atomically. */
export const dup3 = (oldfd: number, newfd: number): void => call(() => native.dup3(oldfd, newfd));

/** Copies a file's data off the JS thread (a libuv worker of the addon): FICLONE where the
 * filesystem allows, else copy_file_range over the data segments (holes stay holes), else
 * read/write; then fsync of the copy unless told not to, also off the JS thread. Creates
 * dest exclusively, mode 0600. */
export async function copyFileAsync(src: string, dest: string, opts: { fsync?: boolean } = {}): Promise<void> {
  try {
    await native.copyFile(src, dest, opts.fsync ?? false);
  } catch (e) {
    throw toSysError(e);
  }
}
