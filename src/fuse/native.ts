// The addon's FUSE half, typed: a libfuse3 low-level session served by JS (native/src/session.c).
import { addon, type Attr, type StatVfs } from '../sys/native.js';

/** Request handle: opaque, answered exactly once through a reply function. */
export type Req = { readonly __fuseRequest: unique symbol };
export type SessionHandle = { readonly __fuseSession: unique symbol };

export interface EntryParam {
  ino: number | bigint;
  generation?: number;
  attr?: Attr;
  attrTimeout?: number;
  entryTimeout?: number;
}

export interface OpenReplyFlags {
  backingFd?: number;
  /** a backing id from backingOpen: the kernel reads and writes that file itself
   * (FOPEN_PASSTHROUGH); keepCache and the other cache flags must not be set with it */
  backingId?: number;
  directIo?: boolean;
  keepCache?: boolean;
  nonseekable?: boolean;
  cacheReaddir?: boolean;
  noflush?: boolean;
}

export interface DirEntry {
  name: string;
  off: number;
  ino?: number | bigint;
  mode?: number;
  entry?: EntryParam;
}

export type SessionLoop = 'js' | 'threads';

export interface SessionSettings {
  /** who reads /dev/fuse: the JS thread itself from Node's event loop ('js', the default:
   * one thread wake-up per metadata request), or libfuse worker threads that queue
   * requests to the JS thread ('threads': two). STRATA_FUSE_LOOP overrides it. */
  loop?: SessionLoop;
  maxWrite?: number;
  maxReadahead?: number;
  maxThreads?: number;
  writeback?: boolean;
  readdirplus?: boolean;
  readdirplusAuto?: boolean;
  parallelDirops?: boolean;
  cacheSymlinks?: boolean;
  /** libfuse's splice (FUSE_CAP_SPLICE_*: requests received and replies sent through its
   * pipes), threaded loop only; it turns spliceRead off */
  splice?: boolean;
  /** READ replies of files with a backing fd (not passthrough) sent by splice: the backing
   * file's page-cache pages go to /dev/fuse by reference, without the daemon's copy.
   * STRATA_SPLICE_READ=0|1 overrides it (sessionSpliceRead). */
  spliceRead?: boolean;
  /** offer kernel passthrough in the INIT reply (drops writeback when agreed); only for a
   * daemon that may open backing files: CAP_SYS_ADMIN in the initial user namespace */
  passthrough?: boolean;
  /** fuse_init_out.max_stack_depth with passthrough: 1 lets an overlayfs stack on this
   * mount; 2 lets backing files live on a stacked filesystem (overlayfs) themselves */
  maxStackDepth?: number;
  /** answer GETXATTR of security.capability with ENODATA in C for an inode known to have
   * none: one JS answered ENODATA for, or a file CREATE made, until a SETXATTR,
   * REMOVEXATTR or FORGET of it. The kernel asks before every write(2) and chown(2).
   * Only for a filesystem whose xattrs change through the mount alone. */
  capsCache?: boolean;
  /** answer GETXATTR (of a name in the user, trusted, security or system namespace) with
   * ENODATA and LISTXATTR with an empty list in C for an inode JS told has no xattrs at
   * all (InitInfo.xattrs), until a SETXATTR, REMOVEXATTR or FORGET of it, or JS says it
   * changed. Only for a filesystem whose xattrs change through the mount alone. */
  xattrCache?: boolean;
  /** answer FLUSH with ENOSYS, after which the kernel sends none (dirty pages are still
   * written back at close): only where a close of the backing file can report nothing,
   * i.e. an upper on a filesystem without a flush operation */
  noFlush?: boolean;
  /** js loop: after a burst of requests, keep polling /dev/fuse for the next one for up to
   * this many microseconds, while requests keep coming that fast (session.c says why);
   * 0: back to epoll at once. sessionSpinUs gives the default and STRATA_SPIN_US. */
  spinUs?: number;
}

export interface SessionStats {
  writes: number;
  writeBytes: number;
  maxWriteSeen: number;
  reads: number;
  /** FLUSH requests (one per close(2) of an open without FOPEN_NOFLUSH) */
  flushes: number;
  /** READs answered by splice, and those that tried it and were copied after all (a reply
   * bigger than the pipe may grow: pipe-max-size without CAP_SYS_RESOURCE; a file that
   * shrank under the read; a splice refused) */
  splicedReads: number;
  spliceFallbacks: number;
  jsRequests: number;
  outstanding: number;
  /** 1 when the INIT reply agreed to passthrough */
  passthrough: number;
  /** backing files registered so far, and still registered */
  backingOpens: number;
  backingOpen: number;
  /** the loop serving the session */
  loop: SessionLoop;
  /** capsCache: GETXATTRs of security.capability answered in C */
  capsAnswered: number;
  /** xattrCache: GETXATTRs and LISTXATTRs answered in C, and the inodes known to have none */
  xattrsAnswered: number;
  xattrsKnownNone: number;
  /** GETATTRs answered in C from an fd given by attrFd */
  attrsAnswered: number;
  /** read-only OPENs of lower files answered in C (lowerFile), the fds of them repointed to
   * a copy-up's file, the inodes with a lower path told, and the opens still held */
  opensInC: number;
  lowerFdsSwapped: number;
  lowerFilesKnown: number;
  lowerOpensHeld: number;
  /** js loop: data-plane requests answered on the JS thread without blocking (page-cache
   * reads), and handed to the pool (cold reads, blocking writes, fsync...); pool items
   * not answered yet */
  inlineOps: number;
  poolOps: number;
  poolPending: number;
  /** js loop: poll callbacks, and requests read in them */
  wakeups: number;
  received: number;
  /** js loop, busy polling (spinUs): polls of the empty /dev/fuse after a burst, and those
   * that found the next request (a wake-up saved) */
  spins: number;
  spinHits: number;
}

export interface RequestContext {
  uid: number;
  gid: number;
  pid: number;
  umask: number;
}

/** serves[op]: called for each request of kind op (Op numbers) with its arguments, and
 * with req undefined for the events (INIT, EXIT, FORGET, a RELEASE answered already) */
export type Serves = ((req: Req | undefined, ...args: unknown[]) => void)[];

export interface FuseNative {
  mount(mountpoint: string, args: string[], settings: SessionSettings, serves: Serves): SessionHandle;
  sessionFd(s: SessionHandle): number;
  /** uid, gid, pid, umask into b (no object built in C) */
  reqContextInto(req: Req, b: Float64Array): void;
  /** GETATTR of ino answered in C by an fstat of fd (the session's now) with that attr
   * timeout, until a FORGET of ino; only for an inode shown exactly as its real file */
  attrFd(s: SessionHandle, ino: number, fd: number, timeout: number): void;
  sessionStats(s: SessionHandle): SessionStats;
  /** read-only OPENs of lower files answered in C (handlers.ts LowerFiles) */
  lowerFile(s: SessionHandle, ino: number, path: string): void;
  lowerFileCopiedUp(s: SessionHandle, ino: number, upper: string): number;
  lowerFileOpens(s: SessionHandle, ino: number): number;
  backingOpen(s: SessionHandle, fd: number): number;
  backingClose(s: SessionHandle, id: number): void;
  /** settings.xattrCache: ids[0..count) have no xattrs; id's changed */
  xattrsNone(s: SessionHandle, ids: Float64Array, count: number): void;
  xattrsChanged(s: SessionHandle, id: number): void;
  replyErr(req: Req, errno: number): boolean;
  replyEntry(req: Req, entry: EntryParam): boolean;
  replyCreate(req: Req, entry: EntryParam, fh: number, flags: OpenReplyFlags): boolean;
  replyOpen(req: Req, fh: number, flags: OpenReplyFlags): boolean;
  replyAttr(req: Req, attr: Attr, timeout: number): boolean;
  /** the same replies from a buffer packed.ts filled (no bigint fields) */
  replyEntryPacked(req: Req, packed: Float64Array): boolean;
  replyAttrPacked(req: Req, packed: Float64Array): boolean;
  replyOpenPacked(req: Req, fh: number, openBits: number, backingFd: number, backingId: number): boolean;
  replyCreatePacked(req: Req, packed: Float64Array, fh: number, openBits: number, backingFd: number, backingId: number): boolean;
  replyReadlink(req: Req, target: string): boolean;
  replyWrite(req: Req, count: number): boolean;
  replyBuf(req: Req, data: Uint8Array): boolean;
  replyXattr(req: Req, value: Uint8Array): boolean;
  replyXattrList(req: Req, names: string[]): boolean;
  replyStatfs(req: Req, st: StatVfs): boolean;
  replyLseek(req: Req, off: number): boolean;
  replyReaddir(req: Req, entries: DirEntry[]): number;
  /** a whole listing as struct fuse_dirent (native/src/dirent.c): names joined by NULs,
   * d_ino, DT_* types; entry i gets d_off i + 1. The buffer and each entry's byte offset. */
  direntsEncode(names: Buffer, inos: Float64Array, types: Uint8Array): [Buffer, Uint32Array];
  /** direntsEncode's entries from index offset on that fit in size bytes as readdirplus
   * entries with no inode (nodeid 0) */
  direntsSlicePlus(encoded: Buffer, starts: Uint32Array, offset: number, size: number): Buffer;
}

export const fuse = addon as FuseNative;
