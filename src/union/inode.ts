// Nodes and their numbers (the kernel's inode.c): one node per underlying file identity,
// so hard links are one kernel inode; st_ino stays the origin's across copy-up.
import path from 'node:path';
import * as sys from '../sys/index.js';
import type { Attr } from '../sys/index.js';
import type { Stack } from './layers.js';
import type { IdMap } from './idmap.js';
import type { Layer, LowerDir, Resolution } from './types.js';

export const ROOT_ID = 1;

/** the lowerDirs of every node that has none (every file): one array, not one per node */
const NO_LOWER_DIRS: readonly LowerDir[] = Object.freeze([]);
/** A resolution's lowerDirs as a node keeps them: shared, not copied (namei builds a fresh
 * array per lookup and nothing changes one afterwards), a node record less per lookup. */
const keptLowerDirs = (r: Resolution): readonly LowerDir[] => (r.lowerDirs.length === 0 ? NO_LOWER_DIRS : r.lowerDirs);

/** The private xattr (in the mount's overlay namespace) holding the st_ino a copy-up keeps. */
export const INO_XATTR = 'strata.ino';

export class Node {
  nlookup = 0;
  /** merged paths naming this node ('' is the root); more than one for hard links */
  aliases: string[];
  isDir: boolean;
  inUpper: boolean;
  lower: { layer: Layer; path: string; attr: Attr } | undefined;
  lowerDirs: readonly LowerDir[];
  opaque: boolean;
  stIno: number | bigint;
  key: sys.FileKey;
  /** S_IFMT bits: a new file that reuses a dead one's inode number must not be taken for it */
  readonly fmt: number;

  constructor(readonly id: number, p: string, r: Resolution, key: sys.FileKey, stIno: number | bigint) {
    this.aliases = [p];
    this.isDir = r.isDir;
    this.inUpper = r.inUpper;
    this.lower = r.lower;
    this.lowerDirs = keptLowerDirs(r);
    this.opaque = r.opaque;
    this.stIno = stIno;
    this.key = key;
    this.fmt = r.attr.mode & sys.S_IFMT;
  }

  get path(): string {
    const p = this.aliases[0];
    if (p === undefined) throw new sys.SysError(sys.E.ENOENT, 'node', String(this.id));
    return p;
  }

  update(r: Resolution): void {
    this.isDir = r.isDir;
    this.inUpper = r.inUpper;
    this.lower = r.lower ?? this.lower;
    this.lowerDirs = keptLowerDirs(r);
    this.opaque = r.opaque;
  }

  /** A merged directory: the kernel shows nlink 1 (counting subdirs across layers is not worth it). */
  get isMerged(): boolean {
    return this.isDir && ((this.inUpper && this.lowerDirs.length > 0) || (!this.inUpper && this.lowerDirs.length > 1));
  }
}

export const keyOf = (a: Attr): sys.FileKey => sys.fileKey(a);

/** The st_ino a resolution shows: a copy-up's recorded origin, else a lower dir merged
 * under an upper one, else the real file's own. */
export function stInoOf(stack: Stack, p: string, r: Resolution, fresh = false): number | bigint {
  if (r.inUpper && stack.upper && !fresh && (sys.isReg(r.attr.mode) || sys.isDir(r.attr.mode))) {
    const v = sys.lgetxattrIfExists(stack.real(stack.upper, p), stack.prefix + INO_XATTR);
    if (v) {
      const s = v.toString();
      return /^\d+$/.test(s) ? (Number(s) <= Number.MAX_SAFE_INTEGER ? Number(s) : BigInt(s)) : r.attr.ino;
    }
    if (r.isDir && r.lower && !r.opaque) return r.lower.attr.ino;
  }
  return r.attr.ino;
}

export class NodeTable {
  private readonly byId = new Map<number, Node>();
  private readonly byKey = new Map<sys.FileKey, Node>();
  /** merged path -> node: renames and unlinks find their node without a scan */
  private readonly byPath = new Map<string, Node>();
  private nextId = ROOT_ID + 1;
  /** told when a node comes to stand for another real file (a copy-up): what someone
   * knew of the old one (its xattrs, say) no longer holds */
  onRealFileChange: ((id: number) => void) | undefined;

  constructor(root: Node) {
    root.nlookup = 1;
    this.byId.set(ROOT_ID, root);
    this.byKey.set(root.key, root);
    this.byPath.set('', root);
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  get(id: number): Node {
    const n = this.byId.get(id);
    if (!n) throw new sys.SysError(sys.E.ESTALE, 'node', String(id));
    return n;
  }

  find(key: sys.FileKey): Node | undefined {
    return this.byKey.get(key);
  }

  /** the node a merged path names, if the kernel holds one */
  at(p: string): Node | undefined {
    return this.byPath.get(p);
  }

  /** The node for a resolved entry: the existing one of the same file, or a new one.
   * fresh: a file the union just made (no st_ino recorded on it to read). */
  obtain(stack: Stack, p: string, r: Resolution, opts: { fresh?: boolean } = {}): Node {
    const key = keyOf(r.attr);
    let n = this.byKey.get(key);
    if (n && n.fmt !== (r.attr.mode & sys.S_IFMT)) {
      this.byKey.delete(key);
      n = undefined;
    }
    if (n) {
      n.update(r);
      this.addAlias(n, p, true);
      return n;
    }
    n = new Node(this.nextId++, p, r, key, stInoOf(stack, p, r, opts.fresh));
    this.byId.set(n.id, n);
    this.byKey.set(key, n);
    this.claimPath(p, n);
    return n;
  }

  /** Another name of n (a hard link); first makes it the name used for n's real path. */
  addAlias(n: Node, p: string, first = false): void {
    const i = n.aliases.indexOf(p);
    if (i < 0) n.aliases[first ? 'unshift' : 'push'](p);
    else if (first && i > 0) n.aliases = [p, ...n.aliases.filter((a) => a !== p)];
    this.claimPath(p, n);
  }

  private claimPath(p: string, n: Node): void {
    const old = this.byPath.get(p);
    if (old && old !== n) old.aliases = old.aliases.filter((a) => a !== p);
    this.byPath.set(p, n);
  }

  rekey(n: Node, attr: Attr): void {
    if (this.byKey.get(n.key) === n) this.byKey.delete(n.key);
    n.key = keyOf(attr);
    this.byKey.set(n.key, n);
    this.onRealFileChange?.(n.id);
  }

  forget(id: number, count: number): void {
    if (id === ROOT_ID) return;
    const n = this.byId.get(id);
    if (!n) return;
    n.nlookup -= count;
    if (n.nlookup <= 0) {
      this.byId.delete(id);
      if (this.byKey.get(n.key) === n) this.byKey.delete(n.key);
      for (const a of n.aliases) if (this.byPath.get(a) === n) this.byPath.delete(a);
    }
  }

  /** A name went away: drop it from the node that had it. When it was the file's last
   * link, the node stops answering for its dev:ino, which the filesystem may reuse at once
   * (the kernel forgets the node later). */
  dropAlias(p: string, lastLink: boolean): void {
    const n = this.byPath.get(p);
    if (!n) return;
    this.byPath.delete(p);
    n.aliases = n.aliases.filter((a) => a !== p);
    if (lastLink && this.byKey.get(n.key) === n) this.byKey.delete(n.key);
  }

  /** An entry moved from one name to another (for a directory, with everything below it);
   * an exchange moves the other entry back. */
  move(from: string, to: string, exchange: boolean, isDir: boolean): void {
    const under = (a: string, root: string): boolean => a === root || (isDir && a.startsWith(root + '/'));
    const moved: [Node, string, string][] = [];
    const scan = isDir ? [...this.byPath.entries()] : ([[from, this.byPath.get(from)], [to, this.byPath.get(to)]] as [string, Node | undefined][]);
    for (const [p, n] of scan) {
      if (!n) continue;
      if (under(p, from)) moved.push([n, p, to + p.slice(from.length)]);
      else if (exchange && under(p, to)) moved.push([n, p, from + p.slice(to.length)]);
    }
    for (const [n, p] of moved) if (this.byPath.get(p) === n) this.byPath.delete(p);
    for (const [n, p, q] of moved) {
      n.aliases = n.aliases.map((a) => (a === p ? q : a));
      this.claimPath(q, n);
    }
  }
}

/** The attr the mount shows for a node: real attr, with st_ino, nlink and ids fixed up.
 * Most often there is nothing to fix (a lower file, no id mapping): then it is real itself,
 * not a copy (an attr is never changed once made, so it may be shared). */
export function presentAttr(n: Node, real: Attr, ids: { uid: IdMap; gid: IdMap }): Attr {
  const nlink = n.isMerged ? 1 : real.nlink;
  const uid = ids.uid.toInside(real.uid);
  const gid = ids.gid.toInside(real.gid);
  if (real.ino === n.stIno && real.nlink === nlink && real.uid === uid && real.gid === gid) return real;
  return { ...real, ino: n.stIno, nlink, uid, gid };
}

/** the real path a node's data and attributes live at now */
export function realPathOf(stack: Stack, n: Node): string {
  if (n.inUpper && stack.upper) return stack.real(stack.upper, n.path);
  if (n.isDir) {
    const top = n.lowerDirs[0];
    if (top) return top.path;
  }
  if (n.lower) return n.lower.path;
  return path.join(stack.lowers[0]!.root, n.path);
}
