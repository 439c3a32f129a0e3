// Writes COPY/ADD entries into an upper dir (overlay format) as one new layer. A parent
// directory the entries need is created with the metadata the image already gives it, so
// the layer does not change a directory it merely passes through.
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../sys/index.js';
import type { CopyEntry } from './sources.js';
import { mergeInto } from './archive.js';

export interface WriteOptions {
  /** the image's own entry at an absolute path, if any (parents keep its metadata) */
  lowerAttr: (abs: string) => sys.Attr | undefined;
  /** SOURCE_DATE_EPOCH / --timestamp: no time in the layer is later than this (seconds) */
  clamp?: number;
  /** the time a created parent gets (seconds) */
  now: number;
  /** ADD: each archive entry's contents, unpacked beforehand (archive.ts), moved in here */
  unpacked?: ReadonlyMap<CopyEntry, string>;
}

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  mtimeNsec: number;
}

function clampTime(m: Meta, clamp: number | undefined): Meta {
  if (clamp === undefined || m.mtime < clamp) return m;
  return { ...m, mtime: clamp, mtimeNsec: 0 };
}

/** xattrs a file carries into the image (security.capability, user.*), never the
 * overlay's own, which would change what the union shows */
export function copiedXattrs(p: string): [string, Buffer][] {
  let names: string[];
  try {
    names = sys.llistxattr(p);
  } catch {
    return [];
  }
  return names
    .filter((x) => !/^(trusted|user)\.overlay\.|^user\.fuseoverlayfs\./.test(x))
    .sort()
    .map((x) => [x, sys.lgetxattr(p, x)]);
}

function setMeta(p: string, m: Meta, isLink: boolean): void {
  sys.lchown(p, m.uid, m.gid);
  if (!isLink) sys.chmod(p, m.mode); // after chown, which clears setuid bits
  sys.lutimens(p, m.mtime, m.mtimeNsec, m.mtime, m.mtimeNsec);
}

export function writeEntries(upper: string, entries: CopyEntry[], o: WriteOptions): void {
  // directory times are set last: writing into a directory changes its mtime
  const dirMeta = new Map<string, Meta>();
  const hostOf = (abs: string): string => path.join(upper, abs);
  const linked = new Map<string, string>();

  const ensureDir = (abs: string, fallback: Meta | undefined): void => {
    const p = hostOf(abs);
    const a = sys.lstatIfExists(p);
    if (a && sys.isDir(a.mode)) return;
    if (a) fs.rmSync(p, { force: true, recursive: true });
    if (abs !== '/') ensureDir(path.posix.dirname(abs), undefined);
    if (abs === '/') return;
    sys.mkdir(p, 0o755);
    const lower = o.lowerAttr(abs);
    const meta: Meta =
      lower && sys.isDir(lower.mode)
        ? { mode: lower.mode & 0o7777, uid: lower.uid, gid: lower.gid, mtime: lower.mtime, mtimeNsec: lower.mtimeNsec }
        : (fallback ?? { mode: 0o755, uid: 0, gid: 0, mtime: o.now, mtimeNsec: 0 });
    dirMeta.set(p, clampTime(meta, o.clamp));
  };

  for (const e of entries) {
    const p = hostOf(e.dest);
    const meta = clampTime(e, o.clamp);
    if (e.dest !== '/') ensureDir(path.posix.dirname(e.dest), undefined);
    switch (e.kind) {
      case 'dir':
        if (e.implicit) ensureDir(e.dest, meta);
        else {
          ensureDir(e.dest, meta);
          dirMeta.set(p, meta);
        }
        break;
      case 'archive': {
        ensureDir(e.dest, undefined);
        const from = o.unpacked?.get(e);
        if (!from) throw new Error(`${e.dest}: archive not unpacked beforehand (archive.ts unpackArchive)`);
        mergeInto(from, p);
        break;
      }
      case 'file': {
        fs.rmSync(p, { force: true, recursive: true });
        // files hard-linked in the source stay linked in the layer, as BuildKit keeps them
        const src = e.hostPath ? sys.lstat(e.hostPath) : undefined;
        const inode = src && src.nlink > 1 ? `${src.dev}:${src.ino}` : undefined;
        const first = inode && linked.get(inode);
        if (first) {
          sys.link(first, p);
          break;
        }
        if (inode) linked.set(inode, p);
        if (e.content) fs.writeFileSync(p, e.content, { mode: 0o600 });
        else fs.copyFileSync(e.hostPath!, p, fs.constants.COPYFILE_FICLONE);
        setMeta(p, meta, false);
        // after chown, which drops security.capability
        if (e.hostPath) for (const [x, v] of copiedXattrs(e.hostPath)) sys.lsetxattr(p, x, v);
        break;
      }
      case 'symlink':
        fs.rmSync(p, { force: true, recursive: true });
        sys.symlink(e.target!, p);
        setMeta(p, meta, true);
        break;
    }
  }
  for (const [p, m] of [...dirMeta].reverse()) setMeta(p, m, false);
}

/** Every time in a layer dir brought down to at most `clamp` (a RUN step's upper dir,
 * before it becomes a layer), so the same inputs give the same layer. */
export function clampTree(dir: string, clamp: number): void {
  const visit = (p: string): void => {
    const a = sys.lstat(p);
    if (sys.isDir(a.mode)) for (const n of sys.readdirNames(p)) visit(path.join(p, n));
    if (a.mtime >= clamp || a.atime >= clamp) {
      const mt = Math.min(a.mtime, clamp);
      sys.lutimens(p, clamp, 0, mt, a.mtime >= clamp ? 0 : a.mtimeNsec);
    }
  };
  visit(dir);
}
