// What a filesystem served over FUSE implements. Every method may return a value or a
// Promise; throwing a SysError answers its errno, anything else answers EIO. A missing
// method answers ENOSYS.
import type { Attr, StatVfs } from '../sys/native.js';
import type { AttrChange } from '../sys/index.js';
import type { DirEntry, EntryParam, OpenReplyFlags, RequestContext } from './native.js';
import type { DirReply } from './dirent.js';

/** The fields a setattr asks to change; nsec may be UTIME_NOW. */
export interface SetAttr extends AttrChange {
  ctime?: number;
  ctimeNsec?: number;
}

export interface AttrReply {
  attr: Attr;
  timeout: number;
}

export interface OpenReply extends OpenReplyFlags {
  fh: number;
}

export interface CreateReply extends OpenReply {
  entry: EntryParam;
}

export interface InitInfo {
  maxWrite: number;
  maxReadahead: number;
  want: number;
  capable: number;
  writeback: boolean;
  readdirplus: boolean;
  /** kernel passthrough agreed: backing files may be registered through `backing` */
  passthrough: boolean;
  backing?: BackingFiles;
  /** with the session setting xattrCache: what the session knows of inodes' xattrs */
  xattrs?: XattrKnowledge;
  /** the lower files whose read-only OPENs the session answers itself */
  lowerFiles?: LowerFiles;
}

/** Inodes whose content is a lower file: a read-only OPEN of one (O_RDONLY, no O_TRUNC) is
 * opened and answered in C (keepCache, noflush), and its RELEASE too; the handlers never
 * see either. For a file served without passthrough only (the kernel's io modes count
 * such opens: see held). */
export interface LowerFiles {
  /** read-only OPENs of ino open path, until copiedUp(ino) or its FORGET */
  known(ino: number, path: string): void;
  /** ino's content is now the upper file upper: the fds opened on the lower one read the
   * copy from now on (dup3), and OPENs go to the handlers. Returns the opens of ino still
   * held by the session; throws a SysError-like error when upper cannot be opened. */
  copiedUp(ino: number, upper: string): number;
  /** the opens of ino the session made and has not released yet */
  held(ino: number): number;
}

/** Inodes whose xattrs the session answers itself (settings.xattrCache): GETXATTR ENODATA
 * and LISTXATTR empty in C, for an inode told to have none, until a SETXATTR, REMOVEXATTR
 * or FORGET of it, or changed(). */
export interface XattrKnowledge {
  /** ids[0..count) have no xattrs at all: tell it before the reply that hands one to the
   * kernel, so that nothing asked about it can come in between */
  none(ids: Float64Array, count: number): void;
  /** what was told of id no longer holds (its real file changed) */
  changed(id: number): void;
}

/** The connection's backing files (FUSE_DEV_IOC_BACKING_OPEN/CLOSE); failures throw a
 * SysError-like error with an errno. */
export interface BackingFiles {
  open(fd: number): number;
  close(id: number): void;
}

type R<T> = T | Promise<T>;

export interface FuseHandlers {
  init?(info: InitInfo): void;
  /** The session ended (unmounted or failed); code is the loop's result. */
  exit?(code: number): void;
  lookup?(parent: number, name: string): R<EntryParam>;
  forget?(ino: number, nlookup: number): void;
  getattr?(ino: number, fh: number | undefined): R<AttrReply>;
  setattr?(ino: number, set: SetAttr, fh: number | undefined, ctx: RequestContext): R<AttrReply>;
  readlink?(ino: number): R<string>;
  mknod?(parent: number, name: string, mode: number, rdev: number, ctx: RequestContext): R<EntryParam>;
  mkdir?(parent: number, name: string, mode: number, ctx: RequestContext): R<EntryParam>;
  unlink?(parent: number, name: string): R<void>;
  rmdir?(parent: number, name: string): R<void>;
  symlink?(parent: number, name: string, target: string, ctx: RequestContext): R<EntryParam>;
  rename?(parent: number, name: string, newParent: number, newName: string, flags: number): R<void>;
  link?(ino: number, newParent: number, newName: string): R<EntryParam>;
  open?(ino: number, flags: number, ctx: RequestContext): R<OpenReply>;
  /** Only for handles opened without a backingFd. */
  read?(ino: number, fh: number, size: number, offset: number): R<Uint8Array>;
  write?(ino: number, fh: number, data: Buffer, offset: number): R<number>;
  flush?(ino: number, fh: number): R<void>;
  fsync?(ino: number, fh: number, datasync: boolean): R<void>;
  fallocate?(ino: number, fh: number, mode: number, offset: number, length: number): R<void>;
  lseek?(ino: number, fh: number, offset: number, whence: number): R<number>;
  copyFileRange?(inoIn: number, fhIn: number, offIn: number, inoOut: number, fhOut: number, offOut: number,
    length: number, flags: number): R<number>;
  /** An open or create whose reply the kernel no longer waited for (interrupted): no
   * release will come for fh, so its resources are the handler's to free now. */
  unanswered?(ino: number, fh: number): void;
  /** Always called; backingFd is the fd given at open (-1 if none), now the handler's to close. */
  release?(ino: number, fh: number, flags: number, backingFd: number): R<void>;
  opendir?(ino: number, flags: number): R<OpenReply>;
  /** Entries from offset on; as many as fit in size bytes are sent. With plus, each
   * entry's lookup is counted by the handler; the session forgets the ones that did not fit. */
  readdir?(ino: number, fh: number, offset: number, plus: boolean, size: number): R<DirEntry[] | DirReply>;
  releasedir?(ino: number, fh: number): R<void>;
  fsyncdir?(ino: number, fh: number, datasync: boolean): R<void>;
  statfs?(ino: number): R<StatVfs>;
  setxattr?(ino: number, name: string, value: Buffer, flags: number): R<void>;
  getxattr?(ino: number, name: string): R<Uint8Array>;
  listxattr?(ino: number): R<string[]>;
  removexattr?(ino: number, name: string): R<void>;
  access?(ino: number, mask: number): R<void>;
  create?(parent: number, name: string, mode: number, flags: number, ctx: RequestContext): R<CreateReply>;
}
