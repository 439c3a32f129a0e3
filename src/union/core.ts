// The state one mount shares between the engine's parts (the kernel's ovl_fs): the stack,
// the node table, the id mapping, the trace, the mutation lock; plus the walks every part
// needs: resolving a merged path and bringing a node or directory up to the upper.
import path from 'node:path';
import * as sys from '../sys/index.js';
import { copyUpDir, copyUpFile, HardlinkIndex, keepingParentTimes, type CopyUpContext } from './copyup.js';
import { IdMap } from './idmap.js';
import { keyOf, Node, NodeTable, ROOT_ID } from './inode.js';
import { Stack } from './layers.js';
import { Mutex } from './lock.js';
import { isOpaqueDir } from './markers.js';
import { lookupName, type ParentDir } from './namei.js';
import { Trace } from './trace.js';
import type { LowerDir, Resolution, UnionConfig } from './types.js';

/** The open fds of one node. Arrays, not sets: a node has one or two open at a time, and
 * a Map or Set per open that is emptied at its close made V8 rehash and shrink tables on
 * most opens and closes (perf of 20,000 open-read-close: ~8% of the daemon's JS thread). */
export interface OpenFds {
  /** every fd open() or create() gave: an unlinked open file answers through them */
  all: number[];
  /** the read-only ones on a lower file: swapped to the copy at copy-up */
  lower: number[];
}

export class UnionCore implements CopyUpContext {
  readonly stack: Stack;
  readonly nodes: NodeTable;
  readonly trace: Trace;
  readonly mutex = new Mutex();
  readonly ids: { uid: IdMap; gid: IdMap };
  readonly volatile: boolean;
  readonly readOnly: boolean;
  readonly rootDir: ParentDir;
  private readonly hardlinks = new HardlinkIndex();
  /** the fds open() and create() gave, by node id (see OpenFds) */
  readonly openFds = new Map<number, OpenFds>();
  /** told when a copy-up made upper the content of file node id: whoever opened its lower
   * file without the engine (the FUSE session does, in C) must repoint those fds, as
   * swapLowerFds does the engine's */
  onCopyUp: ((id: number, upper: string) => void) | undefined;

  constructor(readonly config: UnionConfig) {
    this.stack = new Stack(config);
    this.trace = new Trace(config.trace);
    this.ids = { uid: new IdMap(config.uidMap, config.squashToRoot), gid: new IdMap(config.gidMap, config.squashToRoot) };
    this.volatile = config.volatile ?? false;
    this.readOnly = config.readOnly || !this.stack.upper;
    const lowerDirs: LowerDir[] = [];
    const upperOpaque = this.stack.upper ? isOpaqueDir(this.stack.upper.root) : false;
    if (!upperOpaque) {
      for (const l of this.stack.lowers) {
        const opaque = isOpaqueDir(l.root);
        lowerDirs.push({ layer: l, path: l.root, opaque });
        if (opaque) break;
      }
    }
    this.rootDir = { path: '', inUpper: this.stack.upper !== undefined, lowerDirs };
    const top = this.stack.upper?.root ?? this.stack.lowers[0]!.root;
    const attr = sys.lstat(top);
    const first = this.stack.lowers[0]!;
    const lower = { layer: first, path: first.root, attr: sys.lstat(first.root) };
    const r: Resolution = { isDir: true, inUpper: this.rootDir.inUpper, attr, lower, lowerDirs, opaque: upperOpaque, hidden: [] };
    const root = new Node(ROOT_ID, '', r, keyOf(attr), attr.ino);
    this.nodes = new NodeTable(root);
  }

  dirOf(n: Node): ParentDir {
    if (!n.isDir) throw new sys.SysError(sys.E.ENOTDIR, 'lookup', n.path);
    return { path: n.path, inUpper: n.inUpper, lowerDirs: n.lowerDirs };
  }

  checkWritable(p: string): void {
    if (this.readOnly) throw new sys.SysError(sys.E.EROFS, 'write', p);
  }

  /** Resolves a merged path from the root; undefined if some component is missing. */
  resolve(p: string): Resolution | undefined {
    if (p === '') return { isDir: true, inUpper: this.rootDir.inUpper, attr: sys.lstat(this.stack.upper?.root ?? this.stack.lowers[0]!.root), lowerDirs: this.rootDir.lowerDirs, opaque: false, hidden: [] };
    let dir: ParentDir = this.rootDir;
    let r: Resolution | undefined;
    const parts = p.split('/');
    for (const [i, name] of parts.entries()) {
      r = lookupName(this.stack, dir, name).found;
      if (!r) return undefined;
      if (i < parts.length - 1) {
        if (!r.isDir) return undefined;
        dir = { path: parts.slice(0, i + 1).join('/'), inUpper: r.inUpper, lowerDirs: r.lowerDirs };
      }
    }
    return r;
  }

  /** Makes the directory at merged path p exist in the upper, parents first. */
  ensureUpperDir(p: string): void {
    if (p === '' || p === '.') return;
    const a = sys.lstatIfExists(this.stack.upperPath(p));
    if (a && sys.isDir(a.mode)) return;
    this.ensureUpperDir(path.dirname(p) === '.' ? '' : path.dirname(p));
    const r = this.resolve(p);
    if (!r || !r.isDir) throw new sys.SysError(sys.E.ENOENT, 'copy-up', p);
    const node = this.nodes.find(keyOf(r.attr));
    copyUpDir(this, p, r.lower);
    const up = sys.lstat(this.stack.upperPath(p));
    if (node) {
      node.inUpper = true;
      this.nodes.rekey(node, up);
    }
  }

  /** Brings a node up to the upper: a directory with its metadata, a file with its data
   * and every hard link of it in the same lower. */
  async ensureUp(n: Node, opts: { noData?: boolean } = {}): Promise<void> {
    this.checkWritable(n.path);
    if (n.inUpper) return;
    if (n.isDir) {
      this.ensureUpperDir(n.path);
      return;
    }
    const lower = n.lower;
    if (!lower) throw new sys.SysError(sys.E.EIO, 'copy-up', n.path);
    const p = n.path;
    this.ensureUpperDir(parentOf(p));
    const attr = await copyUpFile(this, p, lower, opts);
    n.inUpper = true;
    this.nodes.rekey(n, attr);
    this.swapLowerFds(n, this.stack.upperPath(p));
    if (sys.isReg(lower.attr.mode) && lower.attr.nlink > 1) this.linkUp(n, p, lower);
  }

  /** Handles opened read-only before the copy-up read the copy from now on (the data plane
   * reads through the same fd number, which now names the upper file). */
  private swapLowerFds(n: Node, upper: string): void {
    try {
      const open = this.openFds.get(n.id);
      if (!open) return;
      for (const fd of open.lower) {
        const fresh = sys.open(upper, sys.O.O_RDONLY);
        try {
          sys.dup3(fresh, fd);
        } finally {
          sys.close(fresh);
        }
      }
      open.lower = [];
    } finally {
      // whoever else opens the lower file hears of the copy even when a swap here failed:
      // it must not go on opening the lower file of a node that is upper now
      this.onCopyUp?.(n.id, upper);
    }
  }

  /** The other names of a hard-linked lower inode become links of its upper copy (index=on). */
  private linkUp(n: Node, p: string, lower: NonNullable<Node['lower']>): void {
    const src = this.stack.upperPath(p);
    const key = keyOf(lower.attr);
    for (const other of this.hardlinks.namesOf(lower.layer, lower.attr)) {
      if (other === p) continue;
      const r = this.resolve(other);
      if (!r || r.inUpper || !r.lower || r.lower.layer !== lower.layer || keyOf(r.lower.attr) !== key) continue;
      this.ensureUpperDir(parentOf(other));
      const dest = this.stack.upperPath(other);
      keepingParentTimes(dest, () => sys.link(src, dest));
      this.trace.event('link-up', other, `hard link of /${p}, from ${lower.layer.name} to upper`);
      this.nodes.addAlias(n, other);
    }
  }
}

/** the merged path of name in the directory at merged path dir ('' the root) */
export const childPath = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

export const parentOf = (p: string): string => {
  const d = path.dirname(p);
  return d === '.' ? '' : d;
};
