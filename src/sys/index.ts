// Every raw syscall Strata makes goes through this module: node:fs where it is exact,
// the native addon where Node lacks the call or rounds its result. Every failure is a
// SysError carrying a positive errno.
import fs from 'node:fs';
import { native, type Attr, type StatVfs } from './native.js';
import { toSysError } from './errors.js';

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

export const lstat = (p: string): Attr => call(() => native.lstat(p));
export const fstat = (fd: number): Attr => call(() => native.fstat(fd));
/** lstat that answers undefined for a missing path instead of throwing. */
export function lstatIfExists(p: string): Attr | undefined {
  try {
    return native.lstat(p);
  } catch (e) {
    const err = toSysError(e);
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export const open = (p: string, flags: number, mode = 0o666): number => call(() => fs.openSync(p, flags, mode));
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

/** utimensat on the path itself (never following a symlink); UTIME_NOW and UTIME_OMIT
 * in a nsec field mean what they mean to the kernel. */
export const lutimens = (p: string, atime: number, atimeNsec: number, mtime: number, mtimeNsec: number): void =>
  call(() => native.utimensat(p, atime, atimeNsec, mtime, mtimeNsec, true));
export const futimens = (fd: number, atime: number, atimeNsec: number, mtime: number, mtimeNsec: number): void =>
  call(() => native.futimens(fd, atime, atimeNsec, mtime, mtimeNsec));

export const lgetxattr = (p: string, name: string): Buffer => call(() => native.lgetxattr(p, name));
/** lgetxattr that answers undefined when the attribute (or xattr support) is absent. */
export function lgetxattrIfExists(p: string, name: string): Buffer | undefined {
  try {
    return native.lgetxattr(p, name);
  } catch (e) {
    const err = toSysError(e);
    if (err.code === 'ENODATA' || err.code === 'ENOTSUP' || err.code === 'EOPNOTSUPP') return undefined;
    throw err;
  }
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

/** Copies a file's data off the JS thread (libuv's threadpool): FICLONE where the
 * filesystem allows, then copy_file_range/sendfile. Creates dest exclusively. */
export async function copyFileAsync(src: string, dest: string): Promise<void> {
  try {
    await fs.promises.copyFile(src, dest, fs.constants.COPYFILE_FICLONE | fs.constants.COPYFILE_EXCL);
  } catch (e) {
    throw toSysError(e);
  }
}
