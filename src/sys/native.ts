// The addon's syscall half, typed. Only src/sys and src/fuse import this file.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** A stat with ns times, as the kernel gives it. */
export interface Attr {
  ino: number | bigint;
  dev?: number | bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number | bigint;
  size: number;
  blocks: number;
  blksize: number;
  atime: number;
  atimeNsec: number;
  mtime: number;
  mtimeNsec: number;
  ctime: number;
  ctimeNsec: number;
}

export interface StatVfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

export interface NativeConstants {
  UTIME_NOW: number;
  UTIME_OMIT: number;
  RENAME_NOREPLACE: number;
  RENAME_EXCHANGE: number;
  RENAME_WHITEOUT: number;
  XATTR_CREATE: number;
  XATTR_REPLACE: number;
  MNT_DETACH: number;
  MNT_FORCE: number;
  O_PATH: number;
}

export interface Native {
  lstat(path: string): Attr;
  /** stat fields into buf (Float64Array(16), lstat's order): 0, a positive errno (no
   * exception), or -1 when a field is past 2^53 (ask lstat) */
  lstatInto(path: string, buf: Float64Array): number;
  fstatInto(fd: number, buf: Float64Array): number;
  /** a directory's entries but . and ..: names joined by NULs, d_type, d_ino (-1 past
   * 2^53); the count is types.length */
  readdirInos(path: string): [string, Uint8Array, Float64Array];
  /** the merged listing of a union directory's layers (top first): names joined by NULs
   * (bytes), DT_* types, d_ino (-1 where exact[i] is 0 or past 2^53), each entry's layer */
  readdirMerged(paths: readonly string[], exact: Uint8Array): [Buffer, Uint8Array, Float64Array, Uint16Array];
  /** the same, merged in a worker thread */
  readdirMergedAsync(paths: readonly string[], exact: Uint8Array): Promise<[Buffer, Uint8Array, Float64Array, Uint16Array]>;
  /** entries [from, to) of a merged listing lstat'ed in their layers' directories (paths)
   * into out, entry `from` first, 16 doubles an entry (lstatInto's layout), a mode of 0 for
   * a directory or a failure */
  lstatEntries(paths: readonly string[], names: Buffer, layers: Uint16Array, types: Uint8Array, from: number, to: number, out: Float64Array): void;
  /** the same in a worker thread; out is not to be read before it resolves */
  lstatEntriesAsync(paths: readonly string[], names: Buffer, layers: Uint16Array, types: Uint8Array, from: number, to: number, out: Float64Array): Promise<void>;
  fstat(fd: number): Attr;
  mknod(path: string, mode: number, rdev: number): void;
  makedev(major: number, minor: number): number;
  lgetxattr(path: string, name: string): Buffer;
  /** the value (up to 4 KiB), or the positive errno (ERANGE: larger, ask lgetxattr) */
  lgetxattrOrErrno(path: string, name: string): Buffer | number;
  lsetxattr(path: string, name: string, value: Uint8Array, flags: number): void;
  llistxattr(path: string): string[];
  lremovexattr(path: string, name: string): void;
  renameat2(from: string, to: string, flags: number): void;
  utimensat(path: string, atime: number, atimeNsec: number, mtime: number, mtimeNsec: number, nofollow: boolean): void;
  futimens(fd: number, atime: number, atimeNsec: number, mtime: number, mtimeNsec: number): void;
  fchownat(path: string, uid: number, gid: number, nofollow: boolean): void;
  /** set: uid, gid, mode, size (-1 unchanged), atime, atimeNsec, mtime, mtimeNsec; then
   * the lstat into buf: 0, a positive errno, or -1 (a field past 2^53) */
  setattrInto(path: string, set: Float64Array, buf: Float64Array): number;
  /** the fd (close-on-exec), or the negative errno */
  open(path: string, flags: number, mode: number): number;
  ficlone(destFd: number, srcFd: number): void;
  copyFileRange(fdIn: number, fdOut: number, length: number): number;
  /** a file's data into a new file, in a libuv worker: FICLONE, else copy_file_range
   * (holes kept), else read/write; fsync of the copy when asked */
  copyFile(src: string, dest: string, fsync: boolean): Promise<void>;
  dup3(oldfd: number, newfd: number): void;
  umount2(path: string, flags: number): void;
  statvfs(path: string): StatVfs;
  socketpair(): [number, number];
  recvFd(sock: number): number;
  constants: NativeConstants;
}

/** The addon itself, loaded once; src/fuse/native.ts types its FUSE half. */
const here = path.dirname(fileURLToPath(import.meta.url));
// dist/src/sys -> repository root
const addonPath = path.resolve(here, '../../../native/build/Release/strata.node');

export const addon: unknown = createRequire(import.meta.url)(addonPath);
export const native = addon as Native;
