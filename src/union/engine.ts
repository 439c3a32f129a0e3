// The union engine's API: what a FUSE adapter (or a test) calls, by node id. Pure
// semantics over real layer directories; knows nothing of FUSE.
import { LRUCache } from 'lru-cache';
import * as sys from '../sys/index.js';
import type { Attr, StatVfs } from '../sys/index.js';
import { childPath, parentOf, UnionCore } from './core.js';
import { createEntry, linkEntry, renameEntry, rmdirEntry, unlinkEntry, type Build, type Created, type EntryKind } from './dir.js';
import { explainPath, EXPLAIN_XATTR, type ExplainStep } from './explain.js';
import { keyOf, presentAttr, realPathOf, ROOT_ID, type Node } from './inode.js';
import { andThen } from './lock.js';
import { detectUserxattr, joinReal, prepareWorkdir } from './layers.js';
import { isWhiteoutAttr } from './markers.js';
import { listedFile, lookupName } from './namei.js';
import { entryIno, listMerged, listMergedAsync, type Listing } from './readdir.js';
import type { AttrChange, Caller, Resolution, UnionConfig } from './types.js';
import { getXattr, listXattrs, removeXattr, setXattr } from './xattr.js';

export { ROOT_ID } from './inode.js';
export type { Node } from './inode.js';
export type { Listing } from './readdir.js';

export interface DirEntryOut {
  name: string;
  off: number;
  ino: number | bigint;
  type: number;
}

/** What create() made: the node, the open fd, its attr as the mount shows it, and the
 * real file's dev:ino. */
export interface CreatedFile {
  node: Node;
  fd: number;
  attr: Attr;
  key: sys.FileKey;
}

interface DirHandle {
  node: Node;
  entries: Listing | undefined;
}

export class Union {
  readonly core: UnionCore;
  private readonly dirs = new Map<number, DirHandle>();
  private nextDirHandle = 1;
  /** listings of lower-only dirs: immutable until copied up (which changes their key) */
  private readonly listings = new LRUCache<sys.FileKey, Listing>({ max: 1024, maxSize: 200_000, sizeCalculation: (l) => l.count + 1 });
  /** lower-only dirs whose listing is being read ahead (prefetchListing), by key */
  private readonly readingAhead = new Map<sys.FileKey, Promise<void>>();
  /** listings read ahead so far (for tests and the session counters) */
  listingsReadAhead = 0;

  /** Prepares workdir/work (crash leftovers removed) and detects the xattr namespace.
   * The config must have passed validateConfig. */
  static open(config: UnionConfig): Union {
    const c = { ...config };
    if (c.work !== undefined && !c.readOnly) {
      prepareWorkdir(c.work);
      if (c.userxattr === undefined) c.userxattr = detectUserxattr(c.work);
    }
    return new Union(c);
  }

  private constructor(config: UnionConfig) {
    this.core = new UnionCore(config);
  }

  get config(): UnionConfig {
    return this.core.config;
  }

  get timeout(): number {
    return this.core.config.timeout;
  }

  node(id: number): Node {
    return this.core.nodes.get(id);
  }

  lookup(parentId: number, name: string): Node {
    return this.lookupEntry(parentId, name).node;
  }

  /** lookup with the attr the lookup saw (no second stat for the kernel's entry) */
  lookupEntry(parentId: number, name: string): { node: Node; attr: Attr } {
    const e = this.lookupEntryIfExists(parentId, name);
    if (!e) throw new sys.SysError(sys.E.ENOENT, 'lookup', name);
    return e;
  }

  /** lookupEntry that answers undefined for a name the merged view lacks: a negative
   * lookup is the common case (every create starts with one) and costs no exception. */
  lookupEntryIfExists(parentId: number, name: string): { node: Node; attr: Attr } | undefined {
    const parent = this.node(parentId);
    // the node itself as the directory looked in (dirOf's snapshot is for callers that
    // wait on something before they use it): no object per lookup
    if (!parent.isDir) throw new sys.SysError(sys.E.ENOTDIR, 'lookup', parent.path);
    const r = lookupName(this.core.stack, parent, name).found;
    return r && this.entryOf(parent, name, r);
  }

  /** lookupEntryIfExists of a listing's entry i (readdirplus) by what the listing knows: a
   * non-directory of a lower-only directory is the file it was listed from, as lstat'ed
   * with its chunk of the listing (Listing.attrAt) under a second ago. Lower layers do not
   * change, so that is what lookupName would find, with no syscall of its own (the layers
   * above it were listed too). undefined: look the entry up as usual. */
  lookupListed(l: { node: Node; entries: Listing }, i: number): { node: Node; attr: Attr } | undefined {
    const parent = l.node;
    if (parent.inUpper || this.listedAttrMs <= 0) return undefined;
    const a = l.entries.attrAt(i, this.listedAttrMs);
    if (!a || sys.isDir(a.mode) || isWhiteoutAttr(a)) return undefined;
    const name = l.entries.names[i]!;
    const d = l.entries.dirOf(i);
    return this.entryOf(parent, name, listedFile(d.layer, joinReal(d.path, name), a));
  }

  /** how old a listing's stats may be for lookupListed: the kernel's attribute timeout, at
   * most a second */
  private get listedAttrMs(): number {
    return Math.min(this.core.config.timeout, 1) * 1000;
  }

  /** the kernel's entry for name in parent, resolved as r: its node, one lookup counted */
  private entryOf(parent: Node, name: string, r: Resolution): { node: Node; attr: Attr } {
    const n = this.core.nodes.obtain(this.core.stack, childPath(parent.path, name), r);
    n.nlookup++;
    return { node: n, attr: this.withKernelNlink(n, presentAttr(n, r.attr, this.core.ids)) };
  }

  /** Looks a merged path up from the root, counting one lookup per component (tests, explain). */
  lookupPath(p: string): Node {
    let n = this.node(ROOT_ID);
    for (const part of p.split('/').filter((x) => x !== '')) n = this.lookup(n.id, part);
    return n;
  }

  forget(id: number, count: number): void {
    this.core.nodes.forget(id, count);
  }

  /** whether the kernel still holds node id */
  has(id: number): boolean {
    return this.core.nodes.has(id);
  }

  /** the node of the directory holding id's (first) name, if the kernel holds one */
  parentOf(id: number): Node | undefined {
    const n = this.core.nodes.has(id) ? this.node(id) : undefined;
    const p = n?.aliases[0];
    if (p === undefined || p === '') return undefined;
    return this.core.nodes.at(parentOf(p));
  }

  /** Calls fn with a node's id whenever the node comes to stand for another real file (a
   * copy-up): what was known of the old file's xattrs no longer holds. One listener. */
  onRealFileChange(fn: (id: number) => void): void {
    this.core.nodes.onRealFileChange = fn;
  }

  /** Calls fn with a file node's id and its upper copy's path at each copy-up of one: for
   * whoever opens lower files without the engine (see lowerFileOf). One listener. */
  onCopyUp(fn: (id: number, upper: string) => void): void {
    this.core.onCopyUp = fn;
  }

  /** The real path a read-only open of node id opens, when that is a lower regular file.
   * It stays so until the node's copy-up (onCopyUp): a lower file never changes, nor does
   * a node's file but by a copy-up (a directory with lower content never moves: EXDEV),
   * and node ids are never reused. */
  lowerFileOf(id: number): string | undefined {
    const n = this.core.nodes.has(id) ? this.node(id) : undefined;
    return n && !n.inUpper && n.fmt === sys.S_IFREG ? n.lower?.path : undefined;
  }

  getattr(id: number, fd?: number): Attr {
    const n = this.node(id);
    const f = fd !== undefined && fd >= 0 ? fd : this.unlinkedFd(n);
    const real = f !== undefined ? sys.fstat(f) : sys.lstat(realPathOf(this.core.stack, n));
    return this.withKernelNlink(n, presentAttr(n, real, this.core.ids));
  }

  /** An upper the kernel wrote with index=on holds an index link of a hard-linked file and
   * records the count to show in the overlay nlink xattr ("U-1": upper nlink minus one). */
  private withKernelNlink(n: Node, a: Attr): Attr {
    if (!n.inUpper || !sys.isReg(a.mode) || a.nlink < 2 || n.aliases.length === 0) return a;
    const v = sys.lgetxattrIfExists(this.core.stack.upperPath(n.path), `${this.core.stack.prefix}nlink`)?.toString();
    const m = v?.match(/^([UL])([+-]\d+)$/);
    if (!m) return a;
    const base = m[1] === 'U' ? a.nlink : (n.lower?.attr.nlink ?? a.nlink);
    const nlink = base + Number(m[2]);
    return nlink > 0 ? { ...a, nlink } : a;
  }

  /** An fd of an open file whose every name is gone (it lives on until closed). */
  private unlinkedFd(n: Node): number | undefined {
    if (n.aliases.length > 0 || n.isDir) return undefined;
    const open = this.core.openFds.get(n.id);
    return open?.all.find((fd) => !open.lower.includes(fd));
  }

  /** Records fd as open on n (on its lower file: swapped at copy-up). */
  private track(n: Node, fd: number, lower = false): number {
    const open = this.core.openFds.get(n.id);
    if (!open) {
      // arrays made to size: the first push on [] grows it to 17 slots, garbage at the close
      this.core.openFds.set(n.id, { all: [fd], lower: lower ? [fd] : [] });
      return fd;
    }
    open.all.push(fd);
    if (lower) open.lower.push(fd);
    return fd;
  }

  /** setattr of an open file with no name left: through its fd */
  private setattrFd(n: Node, fd: number, set: AttrChange): Attr {
    if (set.uid !== undefined || set.gid !== undefined) {
      sys.fchown(fd, set.uid !== undefined ? this.core.ids.uid.toHost(set.uid) : -1, set.gid !== undefined ? this.core.ids.gid.toHost(set.gid) : -1);
    }
    if (set.mode !== undefined) sys.fchmod(fd, set.mode);
    if (set.size !== undefined) sys.ftruncate(fd, set.size);
    if (set.atimeNsec !== undefined || set.mtimeNsec !== undefined) {
      const omit = sys.C.UTIME_OMIT;
      sys.futimens(fd, set.atime ?? 0, set.atimeNsec ?? omit, set.mtime ?? 0, set.mtimeNsec ?? omit);
    }
    return presentAttr(n, sys.fstat(fd), this.core.ids);
  }

  /** Synchronous unless a copy-up has to come first (or another change holds the lock). */
  setattr(id: number, set: AttrChange): Attr | Promise<Attr> {
    const n = this.node(id);
    const change = (): Attr => {
      const unlinked = this.unlinkedFd(n);
      return unlinked !== undefined ? this.setattrFd(n, unlinked, set) : this.setattrUpper(n, set);
    };
    if (n.inUpper || this.unlinkedFd(n) !== undefined) {
      return this.core.mutex.runNow(() => {
        if (this.unlinkedFd(n) === undefined) this.core.checkWritable(n.path);
        return change();
      });
    }
    return this.core.mutex.run(async () => {
      if (this.unlinkedFd(n) === undefined) await this.core.ensureUp(n, { noData: set.size === 0 });
      return change();
    });
  }

  /** setattr of a node in the upper, by path; the node's type is known (it never changes),
   * so only the answer needs a stat */
  private setattrUpper(n: Node, set: AttrChange): Attr {
    const p = this.core.stack.upperPath(n.path);
    if (set.size !== undefined && n.isDir) throw new sys.SysError(sys.E.EISDIR, 'truncate', n.path);
    const ids = this.core.ids;
    // one call to the addon: the changes in order, then the stat the answer needs
    const uid = set.uid !== undefined ? ids.uid.toHost(set.uid) : -1;
    const gid = set.gid !== undefined ? ids.gid.toHost(set.gid) : -1;
    const real = sys.lsetattr(p, uid, gid, set.mode !== undefined && n.fmt !== sys.S_IFLNK ? set.mode : -1, set);
    return presentAttr(n, real, ids);
  }

  /** An fd of a node's real file whose fstat is exactly the attr getattr shows, if it has
   * one: an upper directory with nothing below it (no merged nlink, no origin st_ino) or an
   * upper regular file of one link and no origin st_ino (no recorded nlink to show), ids
   * shown as they are. It follows the file through renames; the caller owns it. For
   * answering getattr without a lookup of the node's path (e.g. in C). */
  openAttrFd(id: number): number | undefined {
    const n = this.node(id);
    const ids = this.core.ids;
    if (!n.inUpper || !ids.uid.isIdentity || !ids.gid.isIdentity) return undefined;
    if (n.isDir ? n.lowerDirs.length > 0 : n.fmt !== sys.S_IFREG || n.aliases.length !== 1) return undefined;
    let fd: number;
    try {
      fd = sys.open(this.core.stack.upperPath(n.path), sys.C.O_PATH | sys.O.O_NOFOLLOW | (n.isDir ? sys.O.O_DIRECTORY : 0));
    } catch {
      return undefined;
    }
    const a = sys.fstat(fd);
    if (a.ino === n.stIno && (a.mode & sys.S_IFMT) === n.fmt && (n.isDir || a.nlink === 1)) return fd;
    sys.close(fd);
    return undefined;
  }

  readlink(id: number): string {
    return sys.readlink(realPathOf(this.core.stack, this.node(id)));
  }

  // Creations are synchronous when their parent is in the upper already (and nothing
  // holds the lock): no copy-up to wait for.
  mknod(parentId: number, name: string, mode: number, rdev: number, caller: Caller): Node | Promise<Node> {
    return this.makeNode(parentId, name, caller, { isDir: false, mode: mode & ~caller.umask }, (dest, perm) => sys.mknod(dest, (mode & sys.S_IFMT) | perm, rdev));
  }

  mkdir(parentId: number, name: string, mode: number, caller: Caller): Node | Promise<Node> {
    return this.makeNode(parentId, name, caller, { isDir: true, mode: mode & ~caller.umask }, (dest, perm) => sys.mkdir(dest, perm));
  }

  symlink(parentId: number, name: string, target: string, caller: Caller): Node | Promise<Node> {
    return this.makeNode(parentId, name, caller, { isDir: false, mode: 0o777, symlink: true }, (dest) => sys.symlink(target, dest));
  }

  private makeNode(parentId: number, name: string, caller: Caller, kind: EntryKind, build: Build): Node | Promise<Node> {
    return this.core.mutex.runNow(() => andThen(createEntry(this.core, this.node(parentId), name, caller, kind, build), (c) => c.node));
  }

  /** open(2) with O_CREAT|O_EXCL of a new file; the fd is the caller's to close. With the
   * node comes the attr of the new file as the mount shows it (no second stat for the
   * kernel's entry) and its real dev:ino. */
  create(parentId: number, name: string, mode: number, flags: number, caller: Caller): CreatedFile | Promise<CreatedFile> {
    return this.core.mutex.runNow(() => {
      let fd = -1;
      const openFlags = (flags & ~(sys.O.O_TRUNC | sys.O.O_NOFOLLOW)) | sys.O.O_CREAT | sys.O.O_EXCL;
      const fail = (e: unknown): never => {
        if (fd >= 0) sys.close(fd);
        throw e;
      };
      const done = (c: Created): CreatedFile => ({
        node: c.node,
        fd: this.track(c.node, fd),
        attr: this.withKernelNlink(c.node, presentAttr(c.node, c.attr, this.core.ids)),
        key: keyOf(c.attr),
      });
      try {
        const made = createEntry(this.core, this.node(parentId), name, caller, { isDir: false, mode: mode & ~caller.umask }, (dest, perm) => {
          fd = sys.open(dest, openFlags, perm);
          return fd;
        });
        return made instanceof Promise ? made.then(done, fail) : done(made);
      } catch (e) {
        return fail(e);
      }
    });
  }

  link(id: number, newParentId: number, newName: string): Promise<Node> {
    return this.core.mutex.run(() => linkEntry(this.core, this.node(id), this.node(newParentId), newName));
  }

  unlink(parentId: number, name: string): Promise<void> {
    return this.core.mutex.run(() => unlinkEntry(this.core, this.node(parentId), name));
  }

  rmdir(parentId: number, name: string): Promise<void> {
    return this.core.mutex.run(() => rmdirEntry(this.core, this.node(parentId), name));
  }

  rename(parentId: number, name: string, newParentId: number, newName: string, flags: number): Promise<void> {
    return this.core.mutex.run(() => renameEntry(this.core, this.node(parentId), name, this.node(newParentId), newName, flags));
  }

  /** Opens the node's real file: the lower read-only, the upper (after a copy-up) to write.
   * The fd is the caller's to close. A read-only open answers at once (no copy-up, no
   * lock: a promise and its microtask were a tenth of an OPEN's cost); one that may copy
   * up waits its turn on the mutation lock. */
  open(id: number, flags: number): number | Promise<number> {
    const n = this.node(id);
    const acc = flags & 0o3; // O_ACCMODE
    const clean = flags & ~(sys.O.O_CREAT | sys.O.O_EXCL | sys.O.O_NOFOLLOW | sys.O.O_NOCTTY);
    if (acc === sys.O.O_RDONLY && !(flags & sys.O.O_TRUNC)) {
      const fd = sys.open(realPathOf(this.core.stack, n), clean);
      return this.track(n, fd, !n.inUpper && !n.isDir);
    }
    return this.core.mutex.run(async () => {
      await this.core.ensureUp(n, { noData: (flags & sys.O.O_TRUNC) !== 0 });
      return this.track(n, sys.open(this.core.stack.upperPath(n.path), clean));
    });
  }

  /** The end of an fd open() gave. */
  close(id: number, fd: number): void {
    const open = this.core.openFds.get(id);
    if (open) {
      without(open.all, fd);
      without(open.lower, fd);
      if (open.all.length === 0) this.core.openFds.delete(id);
    }
    sys.close(fd);
  }

  opendir(id: number): number {
    const n = this.node(id);
    if (!n.isDir) throw new sys.SysError(sys.E.ENOTDIR, 'opendir', n.path);
    const fh = this.nextDirHandle++;
    this.dirs.set(fh, { node: n, entries: undefined });
    this.readAheadSibling(n);
    return fh;
  }

  /** A tree walk (find, ls -lR, du, tar, cp -r) opens a directory's subdirectories in the
   * order they are listed: when it opens one, the listing and the first stats of the next
   * one are read in a worker thread meanwhile, for the readdirplus to come (it waits for
   * them, see listingReady). Only where the parent's listing is cached and the next
   * directory is lower-only and known to the kernel; lower layers do not change, so what is
   * read early is what would be read then. find -ls of 100 lower dirs of 200 files on a
   * fresh mount: 638 -> 615 ms (fuse-overlayfs 662 ms), the stats done on the other CPU. */
  private readAheadSibling(n: Node): void {
    const next = this.nextSiblingDir(n);
    if (next) this.prefetchListing(next.id, true);
  }

  /** The lower-only directory listed after n in its parent's cached listing (files
   * skipped), if the kernel knows it: where a tree walk goes after n. */
  nextSiblingDir(n: Node): Node | undefined {
    if (n.inUpper || n.path === '') return undefined;
    const parentPath = parentOf(n.path);
    const parent = this.core.nodes.at(parentPath);
    const listing = parent && !parent.inUpper ? this.listings.get(parent.key) : undefined;
    if (!listing) return undefined;
    const at = listing.indexOf(n.path.slice(parentPath === '' ? 0 : parentPath.length + 1));
    if (at < 0) return undefined;
    for (let i = at + 1; i < listing.count; i++) {
      if (listing.type(i) !== sys.S_IFDIR) continue;
      const next = this.core.nodes.at(childPath(parentPath, listing.names[i]!));
      return next && !next.inUpper ? next : undefined;
    }
    return undefined;
  }

  /** A lower-only directory's cached listing, as listingOf gives it at offset 0, without
   * a handle; a promise while it is being read ahead; undefined when neither. */
  cachedListing(id: number): { node: Node; entries: Listing } | Promise<void> | undefined {
    const n = this.core.nodes.has(id) ? this.core.nodes.get(id) : undefined;
    if (!n || !n.isDir || n.inUpper) return undefined;
    const pending = this.readingAhead.get(n.key);
    if (pending) return pending;
    const entries = this.listings.get(n.key);
    return entries && { node: n, entries };
  }

  private listing(n: Node): Listing {
    if (n.inUpper) return listMerged(this.core.stack, this.core.dirOf(n));
    const cached = this.listings.get(n.key);
    if (cached) return cached;
    const l = listMerged(this.core.stack, this.core.dirOf(n));
    this.listings.set(n.key, l);
    return l;
  }

  /** Reads a lower-only directory's listing ahead, in a worker thread, for a readdir that
   * is likely to come (the FUSE adapter asks when a listing with attributes shows a big
   * directory): the readdir then finds it cached, or waits for it (listingReady). Lower
   * layers never change, so a listing read early is the one a later opendir would read. */
  prefetchListing(id: number, withStats = false): void {
    const n = this.node(id);
    if (!n.isDir || n.inUpper || this.readingAhead.has(n.key)) return;
    const key = n.key;
    const cached = this.listings.get(key);
    if (cached && (!withStats || cached.count === 0 || cached.statsFresh(0, this.listedAttrMs))) return;
    this.listingsReadAhead++;
    const listed = cached ? Promise.resolve(cached) : listMergedAsync(this.core.stack, this.core.dirOf(n));
    const done = listed
      .then((l) => {
        if (!cached) this.listings.set(key, l);
        return withStats && l.count > 0 ? l.statsAhead(0, this.listedAttrMs) : undefined;
      })
      .catch(() => undefined) // read again when listed, and its error answered then
      .finally(() => this.readingAhead.delete(key));
    this.readingAhead.set(key, done);
  }

  /** What to wait for before listingOf(fh, offset): the listing it would take, while that
   * is being read ahead; undefined when there is nothing to wait for. */
  listingReady(fh: number, offset: number): Promise<void> | undefined {
    const h = this.dirs.get(fh);
    if (!h || (offset !== 0 && h.entries) || h.node.inUpper) return undefined;
    return this.readingAhead.get(h.node.key);
  }

  /** The listing a handle reads from offset on (taken anew at offset 0, once per pass; one
   * Listing per pass, so a caller may key what it derives from the listing on it): the
   * directory's node and its merged entries, '.' and '..' not included. */
  listingOf(fh: number, offset: number): { node: Node; entries: Listing } {
    const h = this.dirs.get(fh);
    if (!h) throw new sys.SysError(sys.E.EBADF, 'readdir', String(fh));
    if (offset === 0 || !h.entries) h.entries = this.listing(h.node);
    return { node: h.node, entries: h.entries };
  }

  /** the d_ino of entry i of a listing: the st_ino its lookup shows */
  direntIno(l: Listing, i: number): number | bigint {
    return entryIno(this.core.stack, l, i);
  }

  /** Entries from offset on (at most max, and while their sizes fit in budget.bytes, the
   * first one always; inode numbers unless the caller looks each entry up anyway, as
   * readdirplus does); the listing is taken at offset 0, once per pass, so offsets stay
   * valid while entries come and go. */
  readdir(fh: number, offset: number, max = 1024, withIno = true, budget?: { bytes: number; size: (name: string) => number }): DirEntryOut[] {
    return this.entriesOf(this.listingOf(fh, offset), offset, max, withIno, budget);
  }

  /** readdir's entries of a listing listingOf gave (which takes it anew at offset 0) */
  entriesOf(
    l: { node: Node; entries: Listing },
    offset: number,
    max = 1024,
    withIno = true,
    budget?: { bytes: number; size: (name: string) => number },
  ): DirEntryOut[] {
    const out: DirEntryOut[] = [];
    const all = l.entries;
    const names = all.names;
    let left = budget?.bytes ?? Infinity;
    for (let i = offset; i < all.count + 2 && out.length < max; i++) {
      const name = i === 0 ? '.' : i === 1 ? '..' : names[i - 2]!;
      if (budget) {
        left -= budget.size(name);
        if (left < 0 && out.length > 0) break;
      }
      if (i === 0) out.push({ name, off: 1, ino: l.node.stIno, type: sys.S_IFDIR });
      else if (i === 1) out.push({ name, off: 2, ino: 1, type: sys.S_IFDIR });
      else out.push({ name, off: i + 1, ino: withIno ? entryIno(this.core.stack, all, i - 2) : 0, type: all.type(i - 2) });
    }
    return out;
  }

  releasedir(fh: number): void {
    this.dirs.delete(fh);
  }

  statfs(): StatVfs {
    return sys.statvfs(this.core.stack.upper?.root ?? this.core.stack.lowers[0]!.root);
  }

  getxattr(id: number, name: string): Buffer {
    const n = this.node(id);
    if (this.unlinkedFd(n) !== undefined) throw new sys.SysError(sys.E.ENODATA, 'getxattr', name);
    if (name === EXPLAIN_XATTR || name.startsWith(EXPLAIN_XATTR + ':')) {
      // "strata.explain:a/b" asks about a/b below this node (names that do not exist)
      const rest = name.slice(EXPLAIN_XATTR.length + 1).split('/').filter((x) => x !== '' && x !== '.' && x !== '..');
      return Buffer.from(JSON.stringify(this.explain([n.path, ...rest].filter((x) => x !== '').join('/'))));
    }
    return getXattr(this.core, n, name);
  }

  listxattr(id: number): string[] {
    return listXattrs(this.core, this.node(id));
  }

  /** Whether the node shows no xattr at all (the private ones are never shown): one
   * llistxattr. False when that cannot be told (an open file with no name left). Lower
   * files never change; an upper one changes only through setxattr/removexattr and
   * copy-up (onRealFileChange), which is when an answer stops holding. */
  hasNoXattrs(id: number): boolean {
    const n = this.node(id);
    if (n.aliases.length === 0) return false;
    try {
      return listXattrs(this.core, n).length === 0;
    } catch {
      return false;
    }
  }

  setxattr(id: number, name: string, value: Buffer, flags: number): Promise<void> {
    return this.core.mutex.run(() => setXattr(this.core, this.node(id), name, value, flags));
  }

  removexattr(id: number, name: string): Promise<void> {
    return this.core.mutex.run(() => removeXattr(this.core, this.node(id), name));
  }

  explain(p: string): ExplainStep[] {
    return explainPath(this.core, p);
  }

  /** nodes held for the kernel (for tests of forget) */
  get nodeCount(): number {
    return this.core.nodes.size;
  }
}

/** drops one occurrence of x from a (a node's few open fds) */
/** Removes x from a, whose order does not matter (splice would make an array of what it
 * removed, at every close). */
function without(a: number[], x: number): void {
  const i = a.indexOf(x);
  if (i < 0) return;
  const last = a.pop()!;
  if (i < a.length) a[i] = last;
}
