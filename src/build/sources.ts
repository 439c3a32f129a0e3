// COPY and ADD: from source names to the list of entries to write. Sources come from the
// build context (a host dir seen through .dockerignore, where no path or symlink may lead
// out) or from an image or earlier stage (a LayerView, where symlinks resolve as in a
// chroot). Docker's rules: globs, `dir` copies the dir's contents, a dest ending in `/`
// (or more than one source) is a directory, a relative dest is under WORKDIR.
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../sys/index.js';
import { BuildError } from './errors.js';
import { globMatch, hasGlob } from './glob.js';
import type { IgnoreMatcher } from './dockerignore.js';
import type { FileNode } from './layerview.js';
import { LayerView } from './layerview.js';

export interface SourceTree {
  /** for errors: "build context", "stage build", "image alpine" */
  readonly label: string;
  /** a chroot (image files): absolute symlinks and `..` stay inside; else they are refused */
  readonly rooted: boolean;
  lstat(rel: string): FileNode | undefined;
  readdir(rel: string): string[];
  ignores(rel: string): boolean;
  /** an ignored directory may hold re-included (`!`) paths */
  readonly descendIgnored: boolean;
}

export class ContextTree implements SourceTree {
  readonly label = 'build context';
  readonly rooted = false;
  readonly descendIgnored: boolean;
  constructor(
    readonly dir: string,
    private readonly ignore: IgnoreMatcher,
  ) {
    this.descendIgnored = ignore.hasExceptions;
  }
  lstat(rel: string): FileNode | undefined {
    const hostPath = path.join(this.dir, rel);
    const attr = sys.lstatIfExists(hostPath);
    return attr && { hostPath, attr };
  }
  readdir(rel: string): string[] {
    return sys.readdirNames(path.join(this.dir, rel)).sort();
  }
  ignores(rel: string): boolean {
    return rel !== '' && this.ignore.ignores(rel);
  }
}

/** An image's or stage's files as a source (COPY --from). */
export class ImageTree implements SourceTree {
  readonly rooted = true;
  readonly descendIgnored = false;
  private readonly view: LayerView;
  constructor(
    readonly label: string,
    layers: readonly string[],
  ) {
    this.view = new LayerView(layers);
  }
  lstat(rel: string): FileNode | undefined {
    return this.view.lstat(rel);
  }
  readdir(rel: string): string[] {
    return this.view.readdir(rel);
  }
  ignores(): boolean {
    return false;
  }
}

export type EntryKind = 'file' | 'dir' | 'symlink' | 'archive';

export interface CopyEntry {
  kind: EntryKind;
  /** absolute, normalized path in the image; for an archive the dir it unpacks into */
  dest: string;
  /** permission bits (with setuid/setgid/sticky) */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  mtimeNsec: number;
  hostPath?: string;
  /** a heredoc's or a URL's bytes */
  content?: Buffer;
  target?: string;
  /** the directory a dir source's contents go into: created if missing, never changed
   * when the image already has it */
  implicit?: boolean;
  /** what a source named (not something inside a named dir): history says file:, dir: or multi: */
  source?: boolean;
}

const MAX_SYMLINKS = 40;

/** Resolves rel in tree (symlinks followed, the last one too when follow), refusing to
 * leave a non-rooted tree. `shown` is the source as the user wrote it. */
export function resolveInTree(tree: SourceTree, rel: string, shown: string, follow = true): string {
  const parts = rel.split('/').filter((p) => p && p !== '.');
  const out: string[] = [];
  let hops = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '..') {
      if (out.length === 0) {
        if (tree.rooted) continue;
        throw new BuildError(`${shown}: a symlink leads outside the ${tree.label}`);
      }
      out.pop();
      continue;
    }
    const cand = [...out, p].join('/');
    const node = tree.lstat(cand);
    if (node && sys.isLnk(node.attr.mode) && (parts.length > 0 || follow)) {
      if (++hops > MAX_SYMLINKS) throw new BuildError(`${shown}: too many levels of symbolic links`);
      const target = sys.readlink(node.hostPath);
      if (target.startsWith('/')) {
        if (!tree.rooted) throw new BuildError(`${shown}: a symlink leads outside the ${tree.label} (to ${target})`);
        out.length = 0;
      }
      parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    out.push(p);
  }
  return out.join('/');
}

/** A source as written -> its path relative to the tree root; `../x` is refused. */
export function cleanSource(src: string, tree: SourceTree): string {
  const norm = path.posix.normalize(src.startsWith('/') ? src.slice(1) || '.' : src);
  if (!tree.rooted && (norm === '..' || norm.startsWith('../'))) {
    throw new BuildError(`${src}: forbidden path outside the ${tree.label}`);
  }
  return path.posix.normalize('/' + norm).slice(1);
}

/** The paths a source names: itself, or what its glob matches (sorted). */
function matchSource(tree: SourceTree, rel: string, shown: string): string[] {
  if (!hasGlob(rel)) return [rel];
  let cur = [''];
  for (const part of rel.split('/')) {
    const next: string[] = [];
    for (const dir of cur) {
      if (!hasGlob(part)) {
        next.push(dir ? `${dir}/${part}` : part);
        continue;
      }
      const real = resolveInTree(tree, dir, shown);
      const node = tree.lstat(real);
      if (!node || !sys.isDir(node.attr.mode)) continue;
      for (const name of tree.readdir(real)) {
        if (globMatch(part, name)) next.push(dir ? `${dir}/${name}` : name);
      }
    }
    cur = next;
  }
  return cur.filter((p) => !tree.ignores(p)).sort();
}

export interface Owner {
  uid: number;
  gid: number;
}

export interface ResolveOptions {
  keyword: 'COPY' | 'ADD';
  tree: SourceTree;
  /** sources after expansion; `<<NAME` is the heredoc NAME */
  sources: string[];
  heredocs: Map<string, Buffer>;
  /** after expansion, before WORKDIR is applied */
  dest: string;
  workdir: string;
  /** --chown, resolved; else context files are root's and image files keep theirs */
  chown?: Owner;
  /** --chmod */
  chmod?: number;
  /** is this path a directory in the image being built (a dest without `/` may be one) */
  isDirInImage: (abs: string) => boolean;
  /** the image's symlinks on the way to dest, resolved (a layer must not put a directory
   * where the image has a symlink, e.g. /bin -> usr/bin); identity when absent */
  resolveDest?: (abs: string) => string;
  /** --exclude: matched against paths relative to each source (a file source: its name) */
  exclude?: IgnoreMatcher;
  /** ADD: local archives are unpacked */
  unpackArchives: boolean;
  /** for heredoc files */
  now: number;
}

/** gzip, bzip2, xz, zstd, or a tar header: ADD unpacks it (Docker's test). */
export function isArchive(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(512);
    const n = fs.readSync(fd, b, 0, 512, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
    if (n >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return true;
    if (n >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
    if (n >= 4 && b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return true;
    return n >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    fs.closeSync(fd);
  }
}

export function resolveCopy(o: ResolveOptions): CopyEntry[] {
  const { tree } = o;
  let dest = o.dest === '.' || o.dest === './' ? './' : o.dest;
  const destSlash = dest.endsWith('/') || dest.endsWith('/.') || dest === '.';
  if (!dest.startsWith('/')) dest = path.posix.join(o.workdir || '/', dest);
  dest = path.posix.normalize(dest);
  if (dest.length > 1 && dest.endsWith('/')) dest = dest.slice(0, -1);
  if (o.resolveDest) dest = o.resolveDest(dest);

  // each source -> the paths it names (a glob may name many, or none)
  const named: { shown: string; rel?: string; heredoc?: string }[] = [];
  for (const src of o.sources) {
    if (src.startsWith('<<') && o.heredocs.has(src.slice(2))) {
      named.push({ shown: src.slice(2), heredoc: src.slice(2) });
      continue;
    }
    const rel = cleanSource(src, tree);
    const matches = matchSource(tree, rel, src);
    if (matches.length === 0) {
      throw new BuildError(`${o.keyword} failed: no source files were specified: ${src} matches nothing in the ${tree.label}`);
    }
    for (const m of matches) named.push({ shown: src, rel: m });
  }
  const many = named.length > 1;
  if (many && !destSlash && !o.isDirInImage(dest)) {
    throw new BuildError(`When using ${o.keyword} with more than one source file, the destination must be a directory and end with a /: ${o.dest}`);
  }
  const intoDir = many || destSlash || o.isDirInImage(dest);

  const entries: CopyEntry[] = [];
  const owner = (a: sys.Attr): Owner => o.chown ?? (tree.rooted ? { uid: a.uid, gid: a.gid } : { uid: 0, gid: 0 });
  const modeOf = (a: sys.Attr): number => o.chmod ?? a.mode & 0o7777;
  const entryOf = (kind: EntryKind, to: string, node: FileNode): CopyEntry => ({
    kind,
    dest: to,
    mode: kind === 'symlink' ? 0o777 : modeOf(node.attr),
    ...owner(node.attr),
    mtime: node.attr.mtime,
    mtimeNsec: node.attr.mtimeNsec,
    hostPath: node.hostPath,
    target: kind === 'symlink' ? sys.readlink(node.hostPath) : undefined,
  });

  const excluded = (relToSource: string): boolean => o.exclude?.ignores(relToSource) ?? false;
  const walk = (dirRel: string, to: string, fromSource: string): void => {
    for (const name of tree.readdir(dirRel)) {
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const node = tree.lstat(rel)!;
      const inSource = fromSource ? `${fromSource}/${name}` : name;
      const ignored = tree.ignores(rel) || excluded(inSource);
      const t = path.posix.join(to, name);
      const m = node.attr.mode;
      if (sys.isDir(m)) {
        if (!ignored) entries.push(entryOf('dir', t, node));
        if (!ignored || tree.descendIgnored || o.exclude?.hasExceptions) walk(rel, t, inSource);
      } else if (ignored) {
        continue;
      } else if (sys.isReg(m)) {
        entries.push(entryOf('file', t, node));
      } else if (sys.isLnk(m)) {
        entries.push(entryOf('symlink', t, node));
      } // devices, fifos and sockets are not copied, as Docker does not
    }
  };

  for (const n of named) {
    if (n.heredoc !== undefined) {
      const to = intoDir ? path.posix.join(dest, n.heredoc) : dest;
      const owner = o.chown ?? { uid: 0, gid: 0 };
      entries.push({ kind: 'file', dest: to, mode: o.chmod ?? 0o644, ...owner, mtime: o.now, mtimeNsec: 0, content: o.heredocs.get(n.heredoc)!, source: true });
      continue;
    }
    const real = resolveInTree(tree, n.rel!, n.shown);
    const node = tree.lstat(real);
    if (!node || (tree.ignores(n.rel!) && !sys.isDir(node.attr.mode))) {
      throw new BuildError(`${o.keyword} failed: file not found in ${tree.label} or excluded by .dockerignore: ${n.shown}`);
    }
    const m = node.attr.mode;
    if (sys.isDir(m)) {
      entries.push({ ...entryOf('dir', dest, node), implicit: true, source: true });
      walk(real, dest, '');
    } else if (sys.isReg(m)) {
      const base = path.posix.basename(n.rel!);
      if (excluded(base)) continue;
      if (o.unpackArchives && !tree.rooted && isArchive(node.hostPath)) {
        entries.push({ ...entryOf('archive', dest, node), implicit: true, source: true });
      } else {
        entries.push({ ...entryOf('file', intoDir ? path.posix.join(dest, base) : dest, node), source: true });
      }
    } else {
      throw new BuildError(`${o.keyword} failed: ${n.shown} is not a file or directory`);
    }
  }
  return entries;
}

/** An absolute path in an image with the symlinks on its way resolved inside the image;
 * the last component too when it leads to a directory. */
export function resolveImagePath(tree: SourceTree, abs: string): string {
  const rel = abs.slice(1);
  if (!rel) return '/';
  const parent = resolveInTree(tree, path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel), abs);
  const joined = parent ? `${parent}/${path.posix.basename(rel)}` : path.posix.basename(rel);
  const last = tree.lstat(joined);
  if (last && sys.isLnk(last.attr.mode)) {
    const target = resolveInTree(tree, joined, abs, true);
    const t = tree.lstat(target);
    if (t && sys.isDir(t.attr.mode)) return '/' + target;
  }
  return '/' + joined;
}
