// The FUSE adapter of the union engine: turns FuseHandlers calls into engine calls and
// engine nodes into kernel entries with long cache timeouts (every change goes through
// the mount, and lowers never change). The only union code that knows FUSE.
import type { Union, Node, Listing } from '../union/engine.js';
import * as sys from '../sys/index.js';
import { andThen } from '../union/lock.js';
import { BackingTable, type OpenIo } from './backing.js';
import type { FuseHandlers, LowerFiles, OpenReply } from './handlers.js';
import { DirReply, direntPlusSize, EncodedListing, utf8Length } from './dirent.js';
import type { EntryParam, RequestContext, SessionStats } from './native.js';
import { XattrScout } from './xattr-scout.js';

/** getxattr of this name on any path answers the session's counters as JSON (never listed):
 * how tests and `explain`-like tools see whether reads reach the daemon. */
export const SESSION_XATTR = 'strata.session';

/** With the kernel's writeback cache the kernel reads pages of write-only files and does
 * O_APPEND itself: the backing fd must be readable and must not append on its own. */
function writebackFlags(flags: number): number {
  const acc = flags & 0o3;
  const f = flags & ~sys.O.O_APPEND;
  return acc === sys.O.O_WRONLY ? (f & ~0o3) | sys.O.O_RDWR : f;
}

interface OpenFile {
  fd: number;
  /** with passthrough agreed: the file's io mode, released with it */
  io: OpenIo | undefined;
}

export interface UnionHandlerOptions {
  writeback?: boolean;
  /** the union has no upper: no file is ever copied up */
  readOnly?: boolean;
  /** the session's counters, for SESSION_XATTR */
  stats?: () => SessionStats;
  /** hands the session an fd whose fstat answers GETATTR of ino (FuseSession.keepAttrFd) */
  keepAttrFd?: (ino: number, fd: number, timeout: number) => void;
  log?: (line: string) => void;
}

const DT_DIR = sys.S_IFDIR >> 12;
/** A directory this big (st_size: ~2,000 entries on ext4), seen in a listing with
 * attributes, gets its own listing read ahead: a tree being looked at (ls, find, a file
 * manager) lists such a dir next, and on a fresh mount its lower getdents walk is most of
 * that listing's time (~3 ms for 10,000 entries). Smaller ones cost less than the thread
 * hop; fuse-overlayfs reads every subdirectory it stats, synchronously. */
const READ_AHEAD_DIR_BYTES = 64 << 10;
const DOTS = Buffer.from('.\0..');
/** a name a real file may carry (the kernel's xattr namespaces); others are virtual */
const REAL_XATTR = /^(user|trusted|security|system)\./;
const NUL = Buffer.alloc(1);

/** A listing's plain readdir entries, '.' and '..' first, as the engine numbers them: the
 * listing's columns handed to the addon as they are (the names as bytes), the inode
 * numbers that are not the listed d_ino looked up first. */
function encodeListing(u: Union, l: { node: Node; entries: Listing }): EncodedListing {
  const e = l.entries;
  const n = e.count;
  const inos = new Float64Array(n + 2);
  const dtypes = new Uint8Array(n + 2);
  inos.set(e.inos, 2);
  dtypes.set(e.dtypes, 2);
  dtypes[0] = dtypes[1] = DT_DIR;
  inos[1] = 1;
  let big = typeof l.node.stIno === 'bigint';
  if (!big) inos[0] = l.node.stIno as number;
  // the d_ino not listed (-1: upper entries, stacked layers), looked up; a plain lower dir has none
  for (let i = e.inos.indexOf(-1); i >= 0 && i < n && !big; i++) {
    if (inos[i + 2]! >= 0) continue;
    const ino = u.direntIno(e, i);
    if (typeof ino === 'bigint') big = true;
    else inos[i + 2] = ino;
  }
  if (!big) return EncodedListing.encode(Buffer.concat(n === 0 ? [DOTS] : [DOTS, NUL, e.nameBytes]), inos, dtypes);
  // an inode number past 2^53: encoded entry by entry
  const all: (number | bigint)[] = [l.node.stIno, 1];
  for (let i = 0; i < n; i++) all.push(u.direntIno(e, i));
  return EncodedListing.encodeEach(['.', '..', ...e.names], all, dtypes);
}

export function unionHandlers(u: Union, opts: UnionHandlerOptions = {}): FuseHandlers {
  const t = u.timeout;
  let writeback = opts.writeback ?? false;
  const fixFlags = (flags: number): number => (writeback ? writebackFlags(flags) : flags);
  /** open files by fh: the fd, and with passthrough agreed the io mode (one map: a map per
   * field cost a set and a delete each per open, in V8 tables that rehash as they churn) */
  const files = new Map<number, OpenFile>();
  let backing: BackingTable | undefined;
  /** Passthrough serves a file from the one backing file it was opened on, for as long as
   * it stays open. A lower file of a writable union may be copied up while open, and then
   * overlayfs semantics want its readers to read the copy (the engine repoints their fds),
   * which the kernel cannot do for a passthrough file: so only files that can no longer
   * change identity go through: upper files, and every file of a read-only union. */
  const wantsPassthrough = (ino: number): boolean => opts.readOnly === true || u.node(ino).inUpper;
  /** The session answers read-only OPENs of lower files itself (LowerFiles) where they are
   * served without passthrough: every lower file of a writable union, any file when no
   * passthrough was agreed. A file's path told (~1,800 instructions) saves JS's OPEN and
   * RELEASE (~22,000) at each of its opens. Told at an open JS served, for the file's next
   * opens (make: a header once per compile, of files a listing brought in), and at every
   * LOOKUP once JS has served such an open, for its first (read-all). Until then a walk
   * that only stats pays nothing (telling from the start cost a stat walk of a fresh mount
   * 5%); telling only in directories where JS served one cost read-all 7% in JS opens and
   * compiling them (callgrind: 1,131M -> 1,217M). Listings tell nothing. */
  let lowerFiles: LowerFiles | undefined;
  let lowerFilesRead = false;
  const tellLowerFile = (id: number): void => {
    const lower = lowerFiles && u.lowerFileOf(id);
    if (lower === undefined) return;
    lowerFiles!.known(id, lower);
    lowerFilesRead = true;
  };
  /** inodes copied up while the session held opens of them: those count as cached opens
   * for the kernel's io modes, so no passthrough open of the inode until they are gone */
  const heldInC = new Set<number>();
  const passthroughAllowed = (ino: number): boolean => {
    if (!heldInC.has(ino)) return true;
    if (lowerFiles!.held(ino) > 0) return false;
    heldInC.delete(ino);
    return true;
  };
  let nextFh = 1;
  /** Registers an open of ino on fd with flags (its io mode too) and answers its reply.
   * A read-only open gets no FLUSH at close (FOPEN_NOFLUSH): its flush would close a dup of
   * a read-only fd, which reports nothing, and close(2) would wait a round trip for it. */
  const openFile = (ino: number, fd: number, flags: number, key?: sys.FileKey): OpenReply => {
    const fh = nextFh++;
    const f: OpenFile = { fd, io: undefined };
    files.set(fh, f);
    const noflush = (flags & 0o3) === sys.O.O_RDONLY;
    if (!backing) return { fh, backingFd: fd, keepCache: true, noflush };
    const wanted = wantsPassthrough(ino);
    const io = (f.io = backing.open(ino, fd, wanted && passthroughAllowed(ino), key));
    if (io.backing) return { fh, backingFd: fd, backingId: io.backing.id, noflush };
    // a cached open of a file that was (or may yet be) written through passthrough finds
    // stale pages in the fuse inode's cache: drop them at open
    return { fh, backingFd: fd, keepCache: !wanted, noflush };
  };
  /** The end of an open file (fd: the session's backing fd, should fh be unknown). */
  const closeFile = (ino: number, fh: number, fd = -1): void => {
    const f = files.get(fh);
    files.delete(fh);
    if (f?.io) backing?.release(f.io);
    const real = f?.fd ?? fd;
    if (real >= 0) u.close(ino, real);
  };
  /** a negative entry the kernel may cache: lowers never change, the upper only through us */
  const negative: EntryParam = Object.freeze({ ino: 0, entryTimeout: t });
  /** a listing pass's entries, encoded at its first reply that has no attributes */
  const encoded = new WeakMap<Listing, EncodedListing>();
  const entry = (n: Node, attr = u.getattr(n.id)): EntryParam => ({ ino: n.id, attr, attrTimeout: t, entryTimeout: t });
  const caller = (ctx: RequestContext): { uid: number; gid: number; umask: number } => ({ uid: ctx.uid, gid: ctx.gid, umask: ctx.umask });
  const fdOf = (fh: number | undefined): number | undefined => (fh === undefined ? undefined : files.get(fh)?.fd);
  /** tells the session which inodes have no xattrs, where xattrs are being asked */
  const scout = new XattrScout(u);
  /** A directory or file the union just made: the kernel asks a directory's attr again
   * after every entry made in it (a change invalidates it, and default_permissions wants it
   * fresh for the next lookup), and a file's before each chown of it (to clear set-id
   * bits): two GETATTRs per file of an untar. Its fstat is its attr, so the session
   * answers those in C from an fd of it. */
  const attrInC = (n: Node): Node => {
    if (opts.keepAttrFd) {
      const fd = u.openAttrFd(n.id);
      try {
        if (fd !== undefined) opts.keepAttrFd(n.id, fd, t);
      } catch {
        sys.close(fd!); // the session is gone: JS answers, and the mkdir stands
      }
    }
    return n;
  };

  /** a listing's entries encoded once ('.' and '..' first, as the engine numbers them) */
  const encodedOf = (l: { node: Node; entries: Listing }): EncodedListing => {
    let enc = encoded.get(l.entries);
    if (!enc) {
      enc = encodeListing(u, l);
      encoded.set(l.entries, enc);
    }
    return enc;
  };
  /** a readdirplus reply with every entry's attributes: one lookup each */
  const plusReply = (ino: number, listing: { node: Node; entries: Listing }, offset: number, room: number): DirReply => {
    const reply = new DirReply(room);
    // only what fits in the kernel's buffer: each entry costs a lookup, and one the reply
    // has no room for would be thrown away (the kernel asks again from its offset)
    const budget = { bytes: reply.size, size: (name: string) => direntPlusSize(utf8Length(name)) };
    for (const e of u.entriesOf(listing, offset, 512, false, budget)) {
      const bytes = utf8Length(e.name);
      if (e.name === '.' || e.name === '..') {
        // no inode given (nodeid 0): the kernel takes d_ino and the type alone
        if (!reply.addPlus(e.name, bytes, e.off, 0, e.ino, e.type)) break;
        continue;
      }
      let found: { node: Node; attr: sys.Attr } | undefined;
      try {
        found = u.lookupListed(listing, e.off - 3) ?? u.lookupEntryIfExists(ino, e.name);
      } catch {
        found = undefined;
      }
      if (!found) {
        // gone since the listing was taken: the name alone, with no inode
        if (!reply.addPlus(e.name, bytes, e.off, 0, 0, e.type)) break;
        continue;
      }
      if (!reply.addPlus(e.name, bytes, e.off, found.node.id, found.attr, t)) {
        u.forget(found.node.id, 1);
        break;
      }
      scout.entry(ino, found.node);
      if (sys.isDir(found.attr.mode) && found.attr.size >= READ_AHEAD_DIR_BYTES) u.prefetchListing(found.node.id);
    }
    scout.flush();
    return reply;
  };

  /** A first reply with attributes unless it would be a small part of a big listing */
  const plusFirst = (entries: Listing, room: number): boolean => entries.count * direntPlusSize(8) <= 4 * room;

  /** where what goes wrong outside any request is told */
  const log = opts.log ?? ((line: string) => void process.stderr.write(`strata: ${line}\n`));

  // A tree walk (find, ls -lR, du, tar) lists a directory, then works through its entries
  // (their attributes are in the kernel's cache: the readdirplus gave them) and opens the
  // next one. Once a lower-only directory is listed to its end, the next sibling's first
  // reply is built (its nodes, its encoding: most of a readdirplus's JS work) while the
  // program works through this one's entries on the other CPU; that sibling's readdirplus
  // is then answered with it at once. Its listing and stats were read ahead already
  // (Union.prefetchListing). A reply not asked for within half the listed stats' age is
  // dropped unsent, its lookups undone; one whose directory changed meanwhile is not sent
  // (a change copies the directory up: a new listing). find -ls of 100 lower dirs of 200
  // files on a fresh mount, 7 runs: 194 -> 183 ms (fuse-overlayfs 190 ms), 90-99 of the 99
  // replies built ahead.
  const aheadMs = Math.min(t, 1) * 500;
  let ahead: { entries: Listing; room: number; reply: DirReply; timer: NodeJS.Timeout } | undefined;
  /** the kernel's READDIRPLUS size at offset 0, and the last listing it asked for */
  let plusRoom = 0;
  let lastListed: Listing | undefined;
  let builtAhead = 0;
  let usedAhead = 0;
  const dropAhead = (): void => {
    if (!ahead) return;
    clearTimeout(ahead.timer);
    for (const id of ahead.reply.lookups) u.forget(id, 1);
    ahead = undefined;
  };
  const buildAhead = (dir: Node): void => {
    const next = aheadMs > 0 && plusRoom > 0 ? u.nextSiblingDir(dir) : undefined;
    if (!next) return;
    const build = (): void => {
      const l = u.cachedListing(next.id);
      if (!l || l instanceof Promise || l.entries === lastListed || l.entries === ahead?.entries) return;
      if (l.entries.count === 0 || !plusFirst(l.entries, plusRoom)) return;
      dropAhead();
      let reply: DirReply;
      try {
        reply = plusReply(next.id, l, 0, plusRoom);
      } catch (e) {
        // nobody waits on this reply (the session gone, say): the readdir builds its own
        log(`reply built ahead for ${next.path || '/'} failed: ${(e as Error).message}`);
        return;
      }
      const made = { entries: l.entries, room: plusRoom, reply, timer: setTimeout(() => made === ahead && dropAhead(), aheadMs) };
      made.timer.unref();
      ahead = made;
      builtAhead++;
    };
    const l = u.cachedListing(next.id);
    if (l instanceof Promise) void l.then(build); // as soon as it is read (this reply has gone)
    else setImmediate(build); // after this reply has gone, and the requests queued behind it
  };

  const readdirReply = (ino: number, fh: number, offset: number, plus: boolean, size: number): DirReply => {
    const room = size > 0 ? size : 4096;
    const listing = u.listingOf(fh, offset);
    if (plus && offset === 0) {
      plusRoom = room;
      lastListed = listing.entries;
      if (ahead && ahead.entries === listing.entries && ahead.room <= room) {
        const reply = ahead.reply;
        clearTimeout(ahead.timer);
        ahead = undefined;
        usedAhead++;
        return reply;
      }
    }
    // The kernel's adaptive mode asks READDIRPLUS for a listing's first reply and again
    // only after lookups in the directory. A first reply that is a small part of a big
    // listing goes without attributes: a names-only listing then costs no stat and no
    // kernel inode per entry, and a long listing (ls -l) loses only this reply's share of
    // the LOOKUPs it makes for the rest anyway.
    let reply: DirReply;
    if (plus && (offset > 0 || plusFirst(listing.entries, room))) reply = plusReply(ino, listing, offset, room);
    else {
      const enc = encodedOf(listing);
      reply = DirReply.of(plus ? enc.slicePlus(offset, room) : enc.slice(offset, room));
    }
    if (offset > 0 && reply.length === 0) buildAhead(listing.node); // listed to its end
    return reply;
  };

  return {
    init(info) {
      writeback = writeback && info.writeback;
      scout.init(info.xattrs);
      if (info.passthrough && info.backing) backing = new BackingTable(info.backing, log);
      // a read-only union with passthrough serves every file through it
      if (info.lowerFiles && !(backing && opts.readOnly)) {
        const lf = (lowerFiles = info.lowerFiles);
        u.onCopyUp((id, upper) => {
          if (lf.copiedUp(id, upper) > 0 && backing) heldInC.add(id);
        });
      }
    },
    lookup(parent, name) {
      try {
        const found = u.lookupEntryIfExists(parent, name);
        if (!found) return negative;
        scout.entry(parent, found.node);
        scout.flush();
        if (lowerFilesRead) tellLowerFile(found.node.id);
        return entry(found.node, found.attr);
      } catch (e) {
        if (sys.hasErrno(e, sys.E.ENOENT)) return negative; // e.g. a parent with no name left
        throw e;
      }
    },
    forget(ino, n) {
      u.forget(ino, n);
      scout.forgot(ino);
      if (heldInC.size > 0 && !u.has(ino)) heldInC.delete(ino);
    },
    getattr: (ino, fh) => ({ attr: u.getattr(ino, fdOf(fh)), timeout: t }),
    setattr: (ino, set) => andThen(u.setattr(ino, set), (attr) => ({ attr, timeout: t })),
    readlink: (ino) => u.readlink(ino),
    mknod: (parent, name, mode, rdev, ctx) => andThen(u.mknod(parent, name, mode, rdev, caller(ctx)), (n) => entry(n)),
    mkdir: (parent, name, mode, ctx) => andThen(u.mkdir(parent, name, mode, caller(ctx)), (n) => entry(attrInC(n))),
    symlink: (parent, name, target, ctx) => andThen(u.symlink(parent, name, target, caller(ctx)), (n) => entry(n)),
    link: async (ino, newParent, newName) => entry(await u.link(ino, newParent, newName)),
    unlink: (parent, name) => u.unlink(parent, name),
    rmdir: (parent, name) => u.rmdir(parent, name),
    rename: (parent, name, newParent, newName, flags) => u.rename(parent, name, newParent, newName, flags),
    open(ino, flags) {
      const fd = u.open(ino, fixFlags(flags));
      if (typeof fd !== 'number') return fd.then((f) => openFile(ino, f, flags));
      tellLowerFile(ino); // answered at once: read-only
      return openFile(ino, fd, flags);
    },
    create(parent, name, mode, flags, ctx) {
      return andThen(u.create(parent, name, mode, fixFlags(flags), caller(ctx)), ({ node, fd, attr, key }) => ({
        entry: entry(attrInC(node), attr),
        ...openFile(node.id, fd, flags, key),
      }));
    },
    release: (ino, fh, _flags, backingFd) => closeFile(ino, fh, backingFd),
    // the kernel never saw this open (interrupted): no RELEASE will come for it
    unanswered: (ino, fh) => closeFile(ino, fh),
    opendir: (ino) => ({ fh: u.opendir(ino), keepCache: true, cacheReaddir: true }),
    readdir(ino, fh, offset, plus, size) {
      // a listing being read ahead is waited for
      return andThen(u.listingReady(fh, offset), () => readdirReply(ino, fh, offset, plus, size));
    },
    releasedir: (_ino, fh) => u.releasedir(fh),
    fsyncdir: () => undefined,
    statfs: () => u.statfs(),
    setxattr: (ino, name, value, flags) => u.setxattr(ino, name, value, flags),
    getxattr(ino, name) {
      if (name === SESSION_XATTR && opts.stats) {
        return Buffer.from(
          JSON.stringify({ ...opts.stats(), writeback: writeback ? 1 : 0, backingFailures: backing?.failures ?? 0, listingsReadAhead: u.listingsReadAhead, repliesBuiltAhead: builtAhead, repliesUsedAhead: usedAhead }),
        );
      }
      try {
        return u.getxattr(ino, name);
      } catch (e) {
        if (sys.hasErrno(e, sys.E.ENODATA) && REAL_XATTR.test(name)) scout.askedNothing(ino);
        throw e;
      }
    },
    listxattr(ino) {
      const names = u.listxattr(ino);
      if (names.length === 0) scout.askedNothing(ino);
      return names;
    },
    removexattr: (ino, name) => u.removexattr(ino, name),
  };
}
