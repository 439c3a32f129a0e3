// A mounted FUSE session: turns native requests into calls on FuseHandlers and their
// results (or errors) into replies. The daemon never dies from a request: a handler that
// throws something without an errno answers EIO and is logged; the mount stays up.
import { errnoFrom, E, SysError } from '../sys/errors.js';
import type { StatVfs } from '../sys/native.js';
import { fuse, type DirEntry, type EntryParam, type Req, type RequestContext, type SessionHandle, type SessionLoop, type SessionSettings, type SessionStats } from './native.js';
import { Op } from './ops.js';
import { DirReply } from './dirent.js';
import { openBits, packAttr, packed, packEntry } from './packed.js';
import type { AttrReply, CreateReply, FuseHandlers, InitInfo, OpenReply, SetAttr } from './handlers.js';
import { unmount } from './unmount.js';

export interface MountOptions {
  fsname?: string;
  subtype?: string;
  allowOther?: boolean;
  defaultPermissions?: boolean;
  readOnly?: boolean;
  /** further -o options for the kernel mount, as strings */
  extra?: string[];
  settings?: SessionSettings;
  /** one line per request and its answer */
  debug?: (line: string) => void;
  /** where unexpected handler failures are reported (default: stderr) */
  log?: (line: string) => void;
}

/** serves one kind of request (or event: req undefined), called by the native side with
 * the request's arguments (native/src/session.c call_js) */
type Serve = (req: Req | undefined, ...a: unknown[]) => void;
/** a handler's call for one kind of request */
type Call<T> = (a: unknown[], req: Req) => T | Promise<T>;
/** sends a handler's value as the reply to req (a: the request's arguments) */
type Send<T> = (req: Req, v: T, a: unknown[]) => void;

/** an error a handler may throw to answer its errno (anything else is a bug: EIO, logged) */
const isExpected = (e: unknown): boolean => e instanceof SysError || (typeof (e as { code?: unknown })?.code === 'string' && errnoFrom(e) !== E.EIO);

const ctxBuf = new Float64Array(4);
/** the caller of a request: an object made here costs a fraction of one made in C */
function contextOf(req: Req): RequestContext {
  fuse.reqContextInto(req, ctxBuf);
  return { uid: ctxBuf[0]!, gid: ctxBuf[1]!, pid: ctxBuf[2]!, umask: ctxBuf[3]! };
}

const replyOpen = (req: Req, r: OpenReply): boolean => fuse.replyOpenPacked(req, r.fh, openBits(r), r.backingFd ?? -1, r.backingId ?? 0);

function replyCreate(req: Req, r: CreateReply): boolean {
  if (!packEntry(packed, r.entry)) return fuse.replyCreate(req, r.entry, r.fh, r);
  return fuse.replyCreatePacked(req, packed, r.fh, openBits(r), r.backingFd ?? -1, r.backingId ?? 0);
}

const sendOk: Send<void> = (req) => void fuse.replyErr(req, 0);
const sendEntry: Send<EntryParam> = (req, e) => void (packEntry(packed, e) ? fuse.replyEntryPacked(req, packed) : fuse.replyEntry(req, e));
const sendAttr: Send<AttrReply> = (req, r) => void (packAttr(packed, r.attr, r.timeout) ? fuse.replyAttrPacked(req, packed) : fuse.replyAttr(req, r.attr, r.timeout));
const sendCount: Send<number> = (req, n) => void fuse.replyWrite(req, n);

/** The loop a session uses: STRATA_FUSE_LOOP (for A/B runs, and a way back should the js
 * loop misbehave somewhere), else the setting, else 'js'. */
export function sessionLoop(setting: SessionLoop | undefined, env = process.env.STRATA_FUSE_LOOP): SessionLoop {
  if (env === 'js' || env === 'threads') return env;
  if (env) throw new Error(`STRATA_FUSE_LOOP=${env}: expected js or threads`);
  return setting ?? 'js';
}

/** Whether READ replies go by splice: STRATA_SPLICE_READ (0 or 1, for A/B runs), else the
 * setting, else SPLICE_READ_DEFAULT. */
export const SPLICE_READ_DEFAULT = true;
export function sessionSpliceRead(setting: boolean | undefined, env = process.env.STRATA_SPLICE_READ): boolean {
  if (env === '0' || env === '1') return env === '1';
  if (env) throw new Error(`STRATA_SPLICE_READ=${env}: expected 0 or 1`);
  return setting ?? SPLICE_READ_DEFAULT;
}

/** How long the js loop polls for the next request after a burst (SessionSettings.spinUs):
 * STRATA_SPIN_US (for A/B runs), else the setting, else SPIN_US_DEFAULT. 50 us covers the
 * few us a program takes between one syscall's answer and its next, with room for a
 * scheduler tick on a loaded machine. */
export const SPIN_US_DEFAULT = 50;
export function sessionSpinUs(setting: number | undefined, env = process.env.STRATA_SPIN_US): number {
  if (env !== undefined && env !== '') {
    if (!/^\d+$/.test(env)) throw new Error(`STRATA_SPIN_US=${env}: expected microseconds`);
    return Number(env);
  }
  return setting ?? SPIN_US_DEFAULT;
}

/** The caller of a request, taken from the native request (contextOf) when a handler
 * first reads it: a setattr handler seldom does. */
class LazyContext implements RequestContext {
  private c: RequestContext | undefined;
  constructor(private readonly req: Req) {}
  private get ctx(): RequestContext {
    return (this.c ??= contextOf(this.req));
  }
  get uid(): number {
    return this.ctx.uid;
  }
  get gid(): number {
    return this.ctx.gid;
  }
  get pid(): number {
    return this.ctx.pid;
  }
  get umask(): number {
    return this.ctx.umask;
  }
}

export class FuseSession {
  readonly mountpoint: string;
  /** Resolves once the kernel's INIT is answered: the mount is usable. */
  readonly ready: Promise<InitInfo>;
  /** Resolves when the session loop ended (unmounted by anyone, or failed). */
  readonly closed: Promise<number>;
  private readonly handle: SessionHandle;
  private readonly handlers: FuseHandlers;
  private readonly debug: ((line: string) => void) | undefined;
  private readonly log: (line: string) => void;
  private isClosed = false;
  /** served on an fd someone else mounted, maybe in another mount namespace */
  private readonly external: boolean;
  /** settings.xattrCache: the handlers get InitInfo.xattrs */
  private readonly xattrCache: boolean;

  private constructor(mountpoint: string, handlers: FuseHandlers, opts: MountOptions, external = false) {
    this.external = external;
    this.mountpoint = mountpoint;
    this.handlers = handlers;
    this.debug = opts.debug;
    this.log = opts.log ?? ((line) => process.stderr.write(`strata: ${line}\n`));
    let onReady!: (i: InitInfo) => void;
    let onClosed!: (c: number) => void;
    this.ready = new Promise((resolve) => (onReady = resolve));
    this.closed = new Promise((resolve) => (onClosed = resolve));
    const o: string[] = [];
    o.push(`fsname=${(opts.fsname ?? 'strata').replace(/,/g, '_')}`);
    if (opts.subtype) o.push(`subtype=${opts.subtype}`);
    if (opts.allowOther) o.push('allow_other');
    if (opts.defaultPermissions) o.push('default_permissions');
    if (opts.readOnly) o.push('ro');
    o.push(...(opts.extra ?? []));
    const settings = { ...opts.settings, loop: sessionLoop(opts.settings?.loop), spliceRead: sessionSpliceRead(opts.settings?.spliceRead), spinUs: sessionSpinUs(opts.settings?.spinUs) };
    this.xattrCache = settings.xattrCache === true;
    this.handle = fuse.mount(mountpoint, ['-o', o.join(',')], settings, this.serveTable(onReady, onClosed));
  }

  static mount(mountpoint: string, handlers: FuseHandlers, opts: MountOptions = {}): FuseSession {
    return new FuseSession(mountpoint, handlers, opts);
  }

  /** Serves an open /dev/fuse fd that another process mounted (libfuse >= 3.3 takes
   * "/dev/fd/N" as that). The session owns the fd; the mount's owner unmounts it, and the
   * session ends when the kernel's connection does. */
  static serveFd(fd: number, handlers: FuseHandlers, opts: MountOptions = {}): FuseSession {
    return new FuseSession(`/dev/fd/${fd}`, handlers, opts, true);
  }

  stats(): SessionStats {
    return fuse.sessionStats(this.handle);
  }

  /** From now on GETATTR of ino is answered in C by an fstat of fd (the session's now),
   * until the kernel forgets ino: for an inode whose attr is its real file's as it is. */
  keepAttrFd(ino: number, fd: number, timeout: number): void {
    fuse.attrFd(this.handle, ino, fd, timeout);
  }

  get isMounted(): boolean {
    return !this.isClosed;
  }

  /** Unmounts (lazily if asked: busy mounts detach at once) and waits for the loop to end. */
  async unmount(opts: { lazy?: boolean } = {}): Promise<void> {
    if (this.isClosed) return;
    if (this.external) throw new Error(`${this.mountpoint}: served for another process's mount, which unmounts it`);
    unmount(this.mountpoint, opts);
    await this.closed;
  }

  /** Logs a handler's failure if it was unexpected (a bug); whether it was expected. */
  private report(op: Op, e: unknown): boolean {
    const expected = isExpected(e);
    if (!expected) this.log(`${Op[op]} failed unexpectedly: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    this.debug?.(`  ${Op[op]} -> ${(e as { code?: string })?.code ?? 'EIO'}`);
    return expected;
  }

  private fail(req: Req, op: Op, e: unknown): void {
    const expected = this.report(op, e);
    try {
      fuse.replyErr(req, expected ? errnoFrom(e) : E.EIO);
    } catch {
      // already answered: nothing more to say to the kernel
    }
  }

  /** Calls the handler, then sends its value (now, or when its promise settles); errors
   * become errno replies. */
  private run<T>(req: Req, op: Op, a: unknown[], call: Call<T>, send: Send<T>): void {
    let v: T | Promise<T>;
    try {
      v = call(a, req);
    } catch (e) {
      this.fail(req, op, e);
      return;
    }
    if (v instanceof Promise) v.then((x: T) => this.reply(req, op, a, x, send), (e: unknown) => this.fail(req, op, e));
    else this.reply(req, op, a, v, send);
  }

  private reply<T>(req: Req, op: Op, a: unknown[], v: T, send: Send<T>): void {
    try {
      send(req, v, a);
      this.debug?.(`  ${Op[op]} -> ok`);
    } catch (e) {
      this.fail(req, op, e);
    }
  }

  private logRequest(op: Op, a: unknown[]): void {
    this.debug?.(`${Op[op]} ${a.map((x) => (Buffer.isBuffer(x) ? `<${x.length} bytes>` : typeof x === 'object' ? JSON.stringify(x) : String(x))).join(' ')}`);
  }

  /** The events, which come with nothing to answer: INIT (answered by libfuse), EXIT, FORGET. */
  private event(op: Op.INIT | Op.EXIT | Op.FORGET, a: unknown[], onReady: (i: InitInfo) => void, onClosed: (c: number) => void): void {
    const h = this.handlers;
    if (op === Op.INIT) {
      const info = a[0] as InitInfo;
      if (info.passthrough) {
        info.backing = {
          open: (fd) => fuse.backingOpen(this.handle, fd),
          close: (id) => fuse.backingClose(this.handle, id),
        };
      }
      info.lowerFiles = {
        known: (ino, path) => fuse.lowerFile(this.handle, ino, path),
        copiedUp: (ino, upper) => fuse.lowerFileCopiedUp(this.handle, ino, upper),
        held: (ino) => fuse.lowerFileOpens(this.handle, ino),
      };
      if (this.xattrCache) {
        info.xattrs = {
          none: (ids, count) => fuse.xattrsNone(this.handle, ids, count),
          changed: (id) => fuse.xattrsChanged(this.handle, id),
        };
      }
      this.debug?.(`INIT passthrough=${info.passthrough ? 'on' : 'off'} writeback=${info.writeback ? 'on' : 'off'}`);
      h.init?.(info);
      onReady(info);
    } else if (op === Op.EXIT) {
      this.isClosed = true;
      h.exit?.(a[0] as number);
      onClosed(a[0] as number);
    } else if (op === Op.FORGET) {
      const pairs = a[0] as number[];
      this.debug?.(`FORGET ${pairs.join(' ')}`);
      for (let i = 0; i < pairs.length; i += 2) {
        try {
          h.forget?.(pairs[i]!, pairs[i + 1]!);
        } catch (e) {
          this.log(`FORGET failed unexpectedly: ${String(e)}`);
        }
      }
    }
  }

  /** One small function per request kind, by Op, made once from the handlers (which a
   * session never swaps), and called by the native side directly. A single dispatch
   * function with a case per kind was a big unit for V8: 18-54 ms of TurboFan compile (on a
   * worker thread, counted in the daemon's CPU), then deoptimized at the first request of a
   * kind not seen before (--trace-deopt: insufficient type feedback) and compiled again;
   * and it made ~9 closures per request. Even a small shared one in front of these compiled
   * early on little feedback (+8% instructions on a first make of a fresh mount). Here a
   * request answered at once makes none (an OPEN or SETATTR its LazyContext). A kind
   * without its handler answers ENOSYS. */
  private serveTable(onReady: (i: InitInfo) => void, onClosed: (c: number) => void): Serve[] {
    const h = this.handlers;
    const t: Serve[] = [];
    for (let op = Op.LOOKUP; op <= Op.EXIT; op++) {
      t[op] = (req, ...a) => {
        this.logRequest(op, a);
        fuse.replyErr(req!, E.ENOSYS);
      };
    }
    const kind = <T>(op: Op, call: Call<T> | undefined, send: Send<T>): void => {
      if (!call) return;
      t[op] = (req, ...a) => {
        this.logRequest(op, a);
        this.run(req!, op, a, call, send);
      };
    };
    for (const op of [Op.INIT, Op.EXIT, Op.FORGET] as const) t[op] = (_req, ...a) => this.event(op, a, onReady, onClosed);
    // answered in C already (native/src/session.c ll_release): only the handler's work is left
    t[Op.RELEASE] = (_req, ino, fh, flags, backingFd) => {
      this.debug?.(`RELEASE ${ino} ${fh} ${flags} ${backingFd}`);
      this.released(ino as number, fh as number, flags as number, backingFd as number);
    };
    kind(Op.LOOKUP, h.lookup && ((a) => h.lookup!(a[0] as number, a[1] as string)), sendEntry);
    kind(Op.GETATTR, h.getattr && ((a) => h.getattr!(a[0] as number, a[1] as number | undefined)), sendAttr);
    kind(Op.SETATTR, h.setattr && ((a, req) => h.setattr!(a[0] as number, a[1] as SetAttr, a[2] as number | undefined, new LazyContext(req))), sendAttr);
    kind(Op.READLINK, h.readlink && ((a) => h.readlink!(a[0] as number)), (req, target: string) => fuse.replyReadlink(req, target));
    kind(Op.MKNOD, h.mknod && ((a, req) => h.mknod!(a[0] as number, a[1] as string, a[2] as number, a[3] as number, contextOf(req))), sendEntry);
    kind(Op.MKDIR, h.mkdir && ((a, req) => h.mkdir!(a[0] as number, a[1] as string, a[2] as number, contextOf(req))), sendEntry);
    kind(Op.UNLINK, h.unlink && ((a) => h.unlink!(a[0] as number, a[1] as string)), sendOk);
    kind(Op.RMDIR, h.rmdir && ((a) => h.rmdir!(a[0] as number, a[1] as string)), sendOk);
    kind(Op.SYMLINK, h.symlink && ((a, req) => h.symlink!(a[0] as number, a[1] as string, a[2] as string, contextOf(req))), sendEntry);
    kind(Op.RENAME, h.rename && ((a) => h.rename!(a[0] as number, a[1] as string, a[2] as number, a[3] as string, a[4] as number)), sendOk);
    kind(Op.LINK, h.link && ((a) => h.link!(a[0] as number, a[1] as number, a[2] as string)), sendEntry);
    // the caller of an OPEN only when asked (the union's never is): no native call per open
    kind(Op.OPEN, h.open && ((a, req) => h.open!(a[0] as number, a[1] as number, new LazyContext(req))), (req, r: OpenReply, a) => {
      if (!replyOpen(req, r)) h.unanswered?.(a[0] as number, r.fh);
    });
    kind(Op.READ, h.read && ((a) => h.read!(a[0] as number, a[1] as number, a[2] as number, a[3] as number)), (req, b: Uint8Array) => fuse.replyBuf(req, b));
    kind(Op.WRITE, h.write && ((a) => h.write!(a[0] as number, a[1] as number, a[2] as Buffer, a[3] as number)), sendCount);
    kind(Op.FLUSH, h.flush ? (a) => h.flush!(a[0] as number, a[1] as number) : () => undefined, sendOk);
    kind(Op.FSYNC, h.fsync && ((a) => h.fsync!(a[0] as number, a[1] as number, a[2] !== 0)), sendOk);
    kind(Op.OPENDIR, h.opendir ? (a) => h.opendir!(a[0] as number, a[1] as number) : () => ({ fh: 0 }), (req, r: OpenReply) => replyOpen(req, r));
    const readdir = (plus: boolean): Call<DirEntry[] | DirReply> | undefined =>
      h.readdir && ((a) => h.readdir!(a[0] as number, a[1] as number, a[3] as number, plus, a[2] as number));
    const sendListing = (plus: boolean): Send<DirEntry[] | DirReply> => (req, entries) => {
      if (entries instanceof DirReply) {
        // built to fit: every lookup in it reaches the kernel, unless the request was interrupted
        if (!fuse.replyBuf(req, entries.bytes())) for (const id of entries.lookups) h.forget?.(id, 1);
        return;
      }
      const sent = fuse.replyReaddir(req, entries);
      if (plus) this.forgetUnsent(entries, sent);
    };
    kind(Op.READDIR, readdir(false), sendListing(false));
    kind(Op.READDIRPLUS, readdir(true), sendListing(true));
    kind(Op.RELEASEDIR, (a) => h.releasedir?.(a[0] as number, a[1] as number), sendOk);
    kind(Op.FSYNCDIR, h.fsyncdir && ((a) => h.fsyncdir!(a[0] as number, a[1] as number, a[2] !== 0)), sendOk);
    kind(Op.STATFS, h.statfs && ((a) => h.statfs!(a[0] as number)), (req, st: StatVfs) => fuse.replyStatfs(req, st));
    kind(Op.SETXATTR, h.setxattr && ((a) => h.setxattr!(a[0] as number, a[1] as string, a[2] as Buffer, a[3] as number)), sendOk);
    kind(Op.GETXATTR, h.getxattr && ((a) => h.getxattr!(a[0] as number, a[1] as string)), (req, v: Uint8Array) => fuse.replyXattr(req, v));
    kind(Op.LISTXATTR, h.listxattr && ((a) => h.listxattr!(a[0] as number)), (req, names: string[]) => fuse.replyXattrList(req, names));
    kind(Op.REMOVEXATTR, h.removexattr && ((a) => h.removexattr!(a[0] as number, a[1] as string)), sendOk);
    kind(Op.ACCESS, h.access && ((a) => h.access!(a[0] as number, a[1] as number)), sendOk);
    kind(Op.CREATE, h.create && ((a, req) => h.create!(a[0] as number, a[1] as string, a[2] as number, a[3] as number, contextOf(req))), (req, r: CreateReply) => {
      if (!replyCreate(req, r)) h.unanswered?.(Number(r.entry.ino), r.fh);
    });
    kind(Op.FALLOCATE, h.fallocate && ((a) => h.fallocate!(a[0] as number, a[1] as number, a[2] as number, a[3] as number, a[4] as number)), sendOk);
    kind(Op.LSEEK, h.lseek && ((a) => h.lseek!(a[0] as number, a[1] as number, a[2] as number, a[3] as number)), (req, o: number) => fuse.replyLseek(req, o));
    kind(
      Op.COPY_FILE_RANGE,
      h.copyFileRange &&
        ((a) => h.copyFileRange!(a[0] as number, a[1] as number, a[2] as number, a[3] as number, a[4] as number, a[5] as number, a[6] as number, a[7] as number)),
      sendCount,
    );
    return t;
  }

  /** A RELEASE the kernel has its answer to (it ignores the result anyway): a failure is
   * logged as fail() would, and goes nowhere else. */
  private released(ino: number, fh: number, flags: number, backingFd: number): void {
    const fail = (e: unknown): void => void this.report(Op.RELEASE, e);
    try {
      const v = this.handlers.release?.(ino, fh, flags, backingFd);
      if (v instanceof Promise) v.catch(fail);
    } catch (e) {
      fail(e);
    }
  }

  /** readdirplus entries that did not fit were never seen by the kernel: undo their lookup. */
  private forgetUnsent(entries: DirEntry[], sent: number): void {
    for (let i = sent; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.entry && e.entry.ino && e.name !== '.' && e.name !== '..') this.handlers.forget?.(Number(e.entry.ino), 1);
    }
  }
}
