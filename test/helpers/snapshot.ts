// A directory tree as plain data, so two unions (or a union and an upper read back through
// the kernel) can be compared field by field. Plain JSON on purpose: the op runner takes
// snapshots inside user namespaces and sends them back over a pipe.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';

// 'vanished': readdir listed the name but lstat answered ENOENT; 'duplicate': readdir
// listed a name twice (both union bugs worth showing; the real entry is recorded too)
export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chr' | 'blk' | 'sock' | 'vanished' | 'duplicate';

export interface Entry {
  type: EntryType;
  /** permission bits only (07777); the type is in `type` */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  /** sha256 of the content, regular files only */
  hash?: string;
  target?: string;
  rdev?: string;
  /** name -> value in base64, names sorted */
  xattrs: Record<string, string>;
  mtimeNs: string;
  /** kept to build link groups; never compared across mounts */
  ino: string;
}

export interface Snapshot {
  entries: Record<string, Entry>;
  /** paths that share one inode (non-directories), each group and the list sorted */
  links: string[][];
}

export interface SnapshotOptions {
  /** drop trusted.overlay.* and user.overlay.* (an upper dir's private metadata) */
  dropOverlayXattrs?: boolean;
  /** names not to descend into or record at the root (e.g. stress-ng's scratch dir) */
  skipRoot?: string[];
}

const typeOf = (mode: number): EntryType => {
  switch (mode & sys.S_IFMT) {
    case sys.S_IFDIR: return 'dir';
    case sys.S_IFREG: return 'file';
    case sys.S_IFLNK: return 'symlink';
    case sys.S_IFIFO: return 'fifo';
    case sys.S_IFCHR: return 'chr';
    case sys.S_IFBLK: return 'blk';
    default: return 'sock';
  }
};

export const isOverlayXattr = (name: string): boolean => /^(trusted|user)\.(overlay|fuseoverlayfs)\./.test(name);

function hashFile(p: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function xattrsOf(p: string, drop: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  let names: string[];
  try {
    names = sys.llistxattr(p);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    if (drop && isOverlayXattr(name)) continue;
    const v = sys.lgetxattrIfExists(p, name);
    if (v) out[name] = v.toString('base64');
  }
  return out;
}

export function entryOf(p: string, opts: SnapshotOptions = {}): Entry {
  const st = sys.lstat(p);
  const type = typeOf(st.mode);
  const e: Entry = {
    type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    nlink: st.nlink,
    xattrs: xattrsOf(p, opts.dropOverlayXattrs ?? false),
    mtimeNs: (BigInt(st.mtime) * 1_000_000_000n + BigInt(st.mtimeNsec)).toString(),
    ino: `${String(st.dev ?? 0)}:${String(st.ino)}`,
  };
  if (type === 'file') e.hash = hashFile(p);
  if (type === 'symlink') e.target = fs.readlinkSync(p);
  if (type === 'chr' || type === 'blk') e.rdev = String(st.rdev);
  return e;
}

/** Every entry below ROOT (ROOT itself as '.'), keyed by relative path. */
export function snapshot(root: string, opts: SnapshotOptions = {}): Snapshot {
  const entries: Record<string, Entry> = {};
  const walk = (rel: string): void => {
    const abs = rel === '.' ? root : path.join(root, rel);
    let e: Entry;
    try {
      e = entryOf(abs, opts);
    } catch (err) {
      if (sys.errnoFrom(err) !== sys.E.ENOENT || rel === '.') throw err;
      e = { type: 'vanished', mode: 0, uid: 0, gid: 0, size: 0, nlink: 0, xattrs: {}, mtimeNs: '0', ino: `vanished:${rel}` };
    }
    entries[rel] = e;
    if (e.type !== 'dir') return;
    const names = fs.readdirSync(abs).sort();
    names.forEach((name, i) => {
      if (i > 0 && names[i - 1] === name) {
        const p = rel === '.' ? name : `${rel}/${name}`;
        entries[`${p} (listed again)`] = { type: 'duplicate', mode: 0, uid: 0, gid: 0, size: 0, nlink: 0, xattrs: {}, mtimeNs: '0', ino: `duplicate:${p}` };
      }
    });
    for (const name of new Set(names)) {
      if (rel === '.' && opts.skipRoot?.includes(name)) continue;
      walk(rel === '.' ? name : `${rel}/${name}`);
    }
  };
  walk('.');
  const byIno = new Map<string, string[]>();
  for (const [p, e] of Object.entries(entries)) {
    if (e.type === 'dir') continue;
    const g = byIno.get(e.ino) ?? [];
    g.push(p);
    byIno.set(e.ino, g);
  }
  const links = [...byIno.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return { entries, links };
}

export interface CompareOptions {
  /** mtimes at or after this instant (ns since the epoch) were set by "now" during the run:
   * two such times are not compared, since the two mounts ran the op at different moments */
  recentNs?: bigint;
  /** field names to leave out for a path (for a known, commented divergence) */
  ignore?: (p: string, field: keyof Entry | 'links', a?: Entry, b?: Entry) => boolean;
}

const fieldsFor = (type: EntryType): (keyof Entry)[] => {
  // A directory's size and nlink are filesystem-specific (overlayfs reports the upper's or 1);
  // a symlink's mode is always 0777 on Linux and some filesystems report otherwise.
  const base: (keyof Entry)[] = ['type', 'uid', 'gid', 'xattrs', 'mtimeNs'];
  if (type === 'dir') return [...base, 'mode'];
  if (type === 'symlink') return [...base, 'target', 'size'];
  return [...base, 'mode', 'size', 'nlink', 'hash', 'rdev'];
};

const show = (v: unknown): string => (typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Differences between A and B as readable lines (empty when the trees agree). */
export function diffSnapshots(a: Snapshot, b: Snapshot, opts: CompareOptions = {}, names: [string, string] = ['A', 'B']): string[] {
  const out: string[] = [];
  const ignore = opts.ignore ?? (() => false);
  const paths = [...new Set([...Object.keys(a.entries), ...Object.keys(b.entries)])].sort();
  for (const p of paths) {
    const x = a.entries[p];
    const y = b.entries[p];
    if (!x || !y) {
      if (ignore(p, 'type', x, y)) continue;
      out.push(`${p}: only in ${x ? names[0] : names[1]} (${(x ?? y)!.type})`);
      continue;
    }
    for (const f of fieldsFor(x.type)) {
      if (ignore(p, f, x, y)) continue;
      if (f === 'mtimeNs' && opts.recentNs !== undefined) {
        const ra = BigInt(x.mtimeNs) >= opts.recentNs;
        const rb = BigInt(y.mtimeNs) >= opts.recentNs;
        if (ra && rb) continue;
      }
      if (f === 'xattrs' ? show(x.xattrs) !== show(y.xattrs) : x[f] !== y[f]) {
        out.push(`${p}: ${f} ${names[0]}=${show(x[f])} ${names[1]}=${show(y[f])}`);
      }
    }
  }
  const la = JSON.stringify(a.links);
  const lb = JSON.stringify(b.links);
  if (la !== lb && !ignore('.', 'links')) out.push(`hard links: ${names[0]}=${la} ${names[1]}=${lb}`);
  return out;
}
