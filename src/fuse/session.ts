// A mounted FUSE session: turns native requests into calls on FuseHandlers and their
// results (or errors) into replies. The daemon never dies from a request: a handler that
// throws something without an errno answers EIO and is logged; the mount stays up.
import { errnoFrom, E, SysError } from '../sys/errors.js';
import type { Attr } from '../sys/native.js';
import { fuse, type DirEntry, type EntryParam, type Req, type RequestContext, type SessionHandle, type SessionLoop, type SessionSettings, type SessionStats } from './native.js';
import { Op } from './ops.js';
import { DirReply } from './dirent.js';
import { openBits, packAttr, packed, packEntry } from './packed.js';
import type { CreateReply, FuseHandlers, InitInfo, OpenReply, SetAttr } from './handlers.js';
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

type Reply<T> = (value: T) => void;

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
    const settings = { ...opts.settings, loop: sessionLoop(opts.settings?.loop), spliceRead: sessionSpliceRead(opts.settings?.spliceRead) };
    this.xattrCache = settings.xattrCache === true;
    this.handle = fuse.mount(mountpoint, ['-o', o.join(',')], settings, (op, req, ...args) =>
      this.dispatch(op, req, args, onReady, onClosed),
    );
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

  /** Calls the handler, then reply with its value; errors become errno replies. */
  private run<T>(req: Req, op: Op, call: (() => T | Promise<T>) | undefined, reply: Reply<T>): void {
    if (!call) {
      fuse.replyErr(req, E.ENOSYS);
      return;
    }
    const done = (v: T): void => {
      try {
        reply(v);
        this.debug?.(`  ${Op[op]} -> ok`);
      } catch (e) {
        this.fail(req, op, e);
      }
    };
    try {
      const v = call();
      if (v instanceof Promise) v.then(done, (e: unknown) => this.fail(req, op, e));
      else done(v);
    } catch (e) {
      this.fail(req, op, e);
    }
  }

  private dispatch(op: Op, req: Req | undefined, a: unknown[], onReady: (i: InitInfo) => void, onClosed: (c: number) => void): void {
    const h = this.handlers;
    if (op === Op.INIT) {
      const info = a[0] as InitInfo;
      if (info.passthrough) {
        info.backing = {
          open: (fd) => fuse.backingOpen(this.handle, fd),
          close: (id) => fuse.backingClose(this.handle, id),
        };
      }
      if (this.xattrCache) {
        info.xattrs = {
          none: (ids, count) => fuse.xattrsNone(this.handle, ids, count),
          changed: (id) => fuse.xattrsChanged(this.handle, id),
        };
      }
      this.debug?.(`INIT passthrough=${info.passthrough ? 'on' : 'off'} writeback=${info.writeback ? 'on' : 'off'}`);
      h.init?.(info);
      onReady(info);
      return;
    }
    if (op === Op.EXIT) {
      this.isClosed = true;
      h.exit?.(a[0] as number);
      onClosed(a[0] as number);
      return;
    }
    if (op === Op.FORGET) {
      const pairs = a[0] as number[];
      this.debug?.(`FORGET ${pairs.join(' ')}`);
      for (let i = 0; i < pairs.length; i += 2) {
        try {
          h.forget?.(pairs[i]!, pairs[i + 1]!);
        } catch (e) {
          this.log(`FORGET failed unexpectedly: ${String(e)}`);
        }
      }
      return;
    }
    if (op === Op.RELEASE) {
      // answered in C already (native/src/session.c ll_release): only the handler's work is left
      this.debug?.(`RELEASE ${a.join(' ')}`);
      this.released(a[0] as number, a[1] as number, a[2] as number, a[3] as number);
      return;
    }
    if (!req) return;
    this.debug?.(`${Op[op]} ${a.map((x) => (Buffer.isBuffer(x) ? `<${x.length} bytes>` : typeof x === 'object' ? JSON.stringify(x) : String(x))).join(' ')}`);
    const n = (i: number): number => a[i] as number;
    const s = (i: number): string => a[i] as string;
    const ctx = () => contextOf(req);
    const entry: Reply<EntryParam> = (e) => (packEntry(packed, e) ? fuse.replyEntryPacked(req, packed) : fuse.replyEntry(req, e));
    const ok: Reply<void> = () => fuse.replyErr(req, 0);
    const attr: Reply<{ attr: Attr; timeout: number }> = (r) =>
      packAttr(packed, r.attr, r.timeout) ? fuse.replyAttrPacked(req, packed) : fuse.replyAttr(req, r.attr, r.timeout);
    const open: Reply<OpenReply> = (r) => replyOpen(req, r);
    switch (op) {
      case Op.LOOKUP: return this.run(req, op, h.lookup && (() => h.lookup!(n(0), s(1))), entry);
      case Op.GETATTR: return this.run(req, op, h.getattr && (() => h.getattr!(n(0), a[1] as number | undefined)), attr);
      case Op.SETATTR:
        return this.run(req, op, h.setattr && (() => h.setattr!(n(0), a[1] as SetAttr, a[2] as number | undefined, new LazyContext(req))), attr);
      case Op.READLINK: return this.run(req, op, h.readlink && (() => h.readlink!(n(0))), (t) => fuse.replyReadlink(req, t));
      case Op.MKNOD: return this.run(req, op, h.mknod && (() => h.mknod!(n(0), s(1), n(2), n(3), ctx())), entry);
      case Op.MKDIR: return this.run(req, op, h.mkdir && (() => h.mkdir!(n(0), s(1), n(2), ctx())), entry);
      case Op.UNLINK: return this.run(req, op, h.unlink && (() => h.unlink!(n(0), s(1))), ok);
      case Op.RMDIR: return this.run(req, op, h.rmdir && (() => h.rmdir!(n(0), s(1))), ok);
      case Op.SYMLINK: return this.run(req, op, h.symlink && (() => h.symlink!(n(0), s(1), s(2), ctx())), entry);
      case Op.RENAME: return this.run(req, op, h.rename && (() => h.rename!(n(0), s(1), n(2), s(3), n(4))), ok);
      case Op.LINK: return this.run(req, op, h.link && (() => h.link!(n(0), n(1), s(2))), entry);
      case Op.OPEN:
        return this.run(req, op, h.open && (() => h.open!(n(0), n(1), ctx())), (r) => {
          if (!replyOpen(req, r)) h.unanswered?.(n(0), r.fh);
        });
      case Op.READ: return this.run(req, op, h.read && (() => h.read!(n(0), n(1), n(2), n(3))), (b) => fuse.replyBuf(req, b));
      case Op.WRITE:
        return this.run(req, op, h.write && (() => h.write!(n(0), n(1), a[2] as Buffer, n(3))), (c) => fuse.replyWrite(req, c));
      case Op.FLUSH: return this.run(req, op, h.flush ? () => h.flush!(n(0), n(1)) : () => undefined, ok);
      case Op.FSYNC: return this.run(req, op, h.fsync && (() => h.fsync!(n(0), n(1), n(2) !== 0)), ok);
      case Op.OPENDIR: return this.run(req, op, h.opendir ? () => h.opendir!(n(0), n(1)) : () => ({ fh: 0 }), open);
      case Op.READDIR:
      case Op.READDIRPLUS: {
        const plus = op === Op.READDIRPLUS;
        return this.run(req, op, h.readdir && (() => h.readdir!(n(0), n(1), n(3), plus, n(2))), (entries: DirEntry[] | DirReply) => {
          if (entries instanceof DirReply) {
            // built to fit: every lookup in it reaches the kernel, unless the request was interrupted
            if (!fuse.replyBuf(req, entries.bytes())) for (const id of entries.lookups) h.forget?.(id, 1);
            return;
          }
          const sent = fuse.replyReaddir(req, entries);
          if (plus) this.forgetUnsent(entries, sent);
        });
      }
      case Op.RELEASEDIR: return this.run(req, op, () => h.releasedir?.(n(0), n(1)), ok);
      case Op.FSYNCDIR: return this.run(req, op, h.fsyncdir && (() => h.fsyncdir!(n(0), n(1), n(2) !== 0)), ok);
      case Op.STATFS: return this.run(req, op, h.statfs && (() => h.statfs!(n(0))), (st) => fuse.replyStatfs(req, st));
      case Op.SETXATTR: return this.run(req, op, h.setxattr && (() => h.setxattr!(n(0), s(1), a[2] as Buffer, n(3))), ok);
      case Op.GETXATTR: return this.run(req, op, h.getxattr && (() => h.getxattr!(n(0), s(1))), (v) => fuse.replyXattr(req, v));
      case Op.LISTXATTR: return this.run(req, op, h.listxattr && (() => h.listxattr!(n(0))), (l) => fuse.replyXattrList(req, l));
      case Op.REMOVEXATTR: return this.run(req, op, h.removexattr && (() => h.removexattr!(n(0), s(1))), ok);
      case Op.ACCESS: return this.run(req, op, h.access && (() => h.access!(n(0), n(1))), ok);
      case Op.CREATE:
        return this.run(req, op, h.create && (() => h.create!(n(0), s(1), n(2), n(3), ctx())), (r) => {
          if (!replyCreate(req, r)) h.unanswered?.(Number(r.entry.ino), r.fh);
        });
      case Op.FALLOCATE: return this.run(req, op, h.fallocate && (() => h.fallocate!(n(0), n(1), n(2), n(3), n(4))), ok);
      case Op.LSEEK: return this.run(req, op, h.lseek && (() => h.lseek!(n(0), n(1), n(2), n(3))), (o) => fuse.replyLseek(req, o));
      case Op.COPY_FILE_RANGE:
        return this.run(req, op, h.copyFileRange && (() => h.copyFileRange!(n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7))), (c) =>
          fuse.replyWrite(req, c),
        );
      default:
        fuse.replyErr(req, E.ENOSYS);
    }
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
