// The part of fuse-native 2.2.6 (the bench's baseline only) that bench/ uses.
declare module 'fuse-native' {
  type Cb<T = undefined> = (err: number, value?: T) => void;

  export interface FuseStat {
    mode: number;
    uid: number;
    gid: number;
    size: number;
    dev: number;
    nlink: number;
    ino: number;
    rdev: number;
    blksize: number;
    blocks: number;
    atime: Date;
    mtime: Date;
    ctime: Date;
  }

  export interface FuseOps {
    init?(cb: (err: number) => void): void;
    getattr?(path: string, cb: Cb<FuseStat>): void;
    fgetattr?(path: string, fd: number, cb: Cb<FuseStat>): void;
    readdir?(path: string, cb: (err: number, names?: string[]) => void): void;
    open?(path: string, flags: number, cb: Cb<number>): void;
    create?(path: string, mode: number, cb: Cb<number>): void;
    read?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (bytes: number) => void): void;
    write?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (bytes: number) => void): void;
    release?(path: string, fd: number, cb: (err: number) => void): void;
    truncate?(path: string, size: number, cb: (err: number) => void): void;
    ftruncate?(path: string, fd: number, size: number, cb: (err: number) => void): void;
    unlink?(path: string, cb: (err: number) => void): void;
    mkdir?(path: string, mode: number, cb: (err: number) => void): void;
    rmdir?(path: string, cb: (err: number) => void): void;
    rename?(src: string, dest: string, cb: (err: number) => void): void;
    utimens?(path: string, atime: Date, mtime: Date, cb: (err: number) => void): void;
    chmod?(path: string, mode: number, cb: (err: number) => void): void;
  }

  export interface FuseOptions {
    force?: boolean;
    mkdir?: boolean;
    fsname?: string;
    allowOther?: boolean;
  }

  export default class Fuse {
    constructor(mountpoint: string, ops: FuseOps, opts?: FuseOptions);
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
  }
}
