// Layer tar -> overlay-format directory (the reverse of layer-generate.ts). Hardened as
// node-tar and containers/storage are; every refusal is a LayerTarError naming the entry,
// and nothing is ever written outside `dir`.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { TarEnd } from './tar-end.js';
import * as sys from '../sys/index.js';
import { HashingStream, type Digest } from './digest.js';
import { LayerTarError } from './layer-errors.js';
import { entryPath, parentDir } from './tar-paths.js';
import { PaxXattrTap } from './pax-raw.js';
import {
  WH_OPAQUE,
  WH_PREFIX,
  OVERRIDE_STAT_XATTR,
  isPrivateXattr,
  isPrivileged,
  isWhiteoutAttr,
  makeWhiteout,
  setOpaque,
} from './overlay-format.js';

export const DEFAULT_MAX_LAYER_BYTES = 64 * 2 ** 30;
export const DEFAULT_MAX_LAYER_ENTRIES = 2_000_000;

export interface ExtractOptions {
  /** refuse a tar whose entries hold more than this many bytes in all (a tar bomb) */
  maxBytes?: number;
  maxEntries?: number;
  /** may create device nodes and trusted.* xattrs; default: euid is 0 */
  privileged?: boolean;
  onBytes?: (n: number) => void;
}

export interface ExtractResult {
  diffId: Digest;
  tarSize: number;
  contentBytes: number;
  entries: number;
  warnings: string[];
}

type Header = Omit<Partial<tar.Header>, 'pax' | 'type'> & {
  name: string;
  type?: tar.Header['type'] | null;
  pax?: Record<string, string> | null;
};

/** An entry's body as tar-stream hands it over (a streamx Readable). */
interface Body extends AsyncIterable<Buffer> {
  resume(): unknown;
}

interface DirMeta {
  path: string;
  mode: number;
  mtime: [number, number];
  atime: [number, number];
}

/** "123.456" (PAX time) -> [seconds, nanoseconds] */
function paxTime(v: string | undefined): [number, number] | undefined {
  if (v === undefined || !/^-?\d+(\.\d+)?$/.test(v)) return undefined;
  const [s, frac = ''] = v.split('.');
  return [Number(s), Number((frac + '000000000').slice(0, 9))];
}

/** raw: the entry's SCHILY.xattr values as bytes (tar-stream's strings are UTF-8 decoded). */
function xattrsOf(h: Header, raw: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(h.pax ?? {})) {
    if (k.startsWith('SCHILY.xattr.')) {
      const name = k.slice('SCHILY.xattr.'.length);
      out.set(name, raw.get(name) ?? Buffer.from(v, 'utf8'));
    }
    else if (k.startsWith('LIBARCHIVE.xattr.')) out.set(decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(v, 'base64'));
  }
  return out;
}

class Extraction {
  readonly warnings: string[] = [];
  private readonly seen = new Map<string, 'dir' | 'other'>();
  private readonly dirs: DirMeta[] = [];
  private readonly implicitDirs: string[] = [];
  private contentBytes = 0;
  private entries = 0;
  private chownRefused = false;

  constructor(private readonly root: string, private readonly opts: Required<Omit<ExtractOptions, 'onBytes'>>) {}

  private warn(entry: string, msg: string): void {
    if (this.warnings.length < 100) this.warnings.push(`${entry}: ${msg}`);
  }

  private raw = new Map<string, Buffer>();

  async entry(h: Header, body: Body, raw: Map<string, Buffer>): Promise<void> {
    this.raw = raw;
    this.entries++;
    if (this.entries > this.opts.maxEntries) throw new LayerTarError(h.name, `more than ${this.opts.maxEntries} entries: refusing (tar bomb)`);
    const size = h.size ?? 0;
    this.contentBytes += size;
    if (this.contentBytes > this.opts.maxBytes)
      throw new LayerTarError(h.name, `layer holds more than the limit of ${this.opts.maxBytes} bytes: refusing (tar bomb)`);

    const ep = entryPath(h.name);
    if (ep.stripped) this.warn(h.name, "leading '/' stripped");
    if (ep.parts.length === 0) {
      if (h.type === 'directory') this.dirs.push(this.dirMeta(this.root, h));
      body.resume();
      return;
    }
    const base = ep.parts[ep.parts.length - 1]!;
    const parent = parentDir(this.root, ep.parts, h.name, (d, _rel, replacedWhiteout) => {
      this.implicitDirs.push(d);
      if (replacedWhiteout) setOpaque(d, this.opts.privileged);
    });
    const target = path.join(parent, base);

    if (base.startsWith(WH_PREFIX)) return this.whiteout(h, ep.rel, base, parent, body);

    const prev = sys.lstatIfExists(target);
    if (prev) {
      if (h.type === 'directory' && sys.isDir(prev.mode)) {
        // a directory declared twice: the later metadata wins, its contents stay
      } else {
        if (this.seen.has(ep.rel)) this.warn(h.name, 'duplicate entry: the later one replaces the earlier');
        // never open or write through what is there: remove it first
        fs.rmSync(target, { recursive: true, force: true });
      }
    }
    this.seen.set(ep.rel, h.type === 'directory' ? 'dir' : 'other');

    switch (h.type) {
      case 'directory':
        if (!prev || !sys.isDir(prev.mode)) sys.mkdir(target, 0o700);
        // a directory where this layer first put a whiteout: it hides the lower one wholly
        if (prev && isWhiteoutAttr(prev)) setOpaque(target, this.opts.privileged);
        this.applyOwner(target, h, false);
        this.applyXattrs(target, h);
        this.dirs.push(this.dirMeta(target, h));
        return void body.resume();
      case 'file':
      case 'contiguous-file':
      case null:
      case undefined: {
        await writeBody(target, body);
        this.applyMeta(target, h, false);
        return;
      }
      case 'symlink':
        sys.symlink(h.linkname ?? '', target);
        this.applyMeta(target, h, true);
        return void body.resume();
      case 'link':
        this.hardlink(h, target);
        return void body.resume();
      case 'fifo':
        sys.mknod(target, sys.S_IFIFO | ((h.mode ?? 0o644) & 0o7777), 0);
        this.applyMeta(target, h, false);
        return void body.resume();
      case 'character-device':
      case 'block-device':
        this.device(h, target);
        return void body.resume();
      default:
        this.warn(h.name, `entry of type ${String(h.type)} skipped`);
        return void body.resume();
    }
  }

  private whiteout(h: Header, rel: string, base: string, parent: string, body: Body): void {
    body.resume();
    if (h.type !== 'file' && h.type !== undefined && h.type !== null)
      throw new LayerTarError(h.name, `a ${h.type} named like a whiteout: whiteouts are empty regular files`);
    if (base === WH_OPAQUE) {
      setOpaque(parent, this.opts.privileged);
      return;
    }
    const name = base.slice(WH_PREFIX.length);
    if (name === '' || name === '.' || name === '..' || name.startsWith(WH_PREFIX))
      throw new LayerTarError(h.name, `whiteout of an impossible name '${name}'`);
    const hidden = path.join(parent, name);
    const hiddenRel = rel.slice(0, rel.length - base.length) + name;
    const st = sys.lstatIfExists(hidden);
    if (st) {
      // OCI: a whiteout hides only lower layers; what this layer itself holds stays
      if (!isWhiteoutAttr(st)) this.warn(h.name, `whiteout for '${hiddenRel}', which this layer also holds: kept it`);
      return;
    }
    // the name need not exist anywhere: a whiteout of nothing hides nothing, harmlessly
    makeWhiteout(hidden);
    const { atime, mtime } = this.times(h);
    sys.lutimens(hidden, atime[0], atime[1], mtime[0], mtime[1]);
    this.seen.set(hiddenRel, 'other');
  }

  private hardlink(h: Header, target: string): void {
    let lp;
    try {
      lp = entryPath(h.linkname ?? '');
    } catch {
      throw new LayerTarError(h.name, `hard link to '${h.linkname}', which would lead outside the layer`);
    }
    if (lp.parts.length === 0) throw new LayerTarError(h.name, 'hard link without a target');
    if (this.seen.get(lp.rel) !== 'other')
      throw new LayerTarError(h.name, `hard link to '${h.linkname}', which is not a file earlier in this layer`);
    const src = path.join(parentDir(this.root, lp.parts, h.name, () => {
      throw new LayerTarError(h.name, `hard link to '${h.linkname}', which is not in this layer`);
    }), lp.parts[lp.parts.length - 1]!);
    const st = sys.lstatIfExists(src);
    if (!st || sys.isDir(st.mode) || isWhiteoutAttr(st)) throw new LayerTarError(h.name, `hard link to '${h.linkname}', which is not a file in this layer`);
    sys.link(src, target);
  }

  private device(h: Header, target: string): void {
    const major = h.devmajor ?? 0;
    const minor = h.devminor ?? 0;
    const isWh = h.type === 'character-device' && major === 0 && minor === 0;
    if (!isWh && !this.opts.privileged) {
      this.warn(h.name, `device node ${major}/${minor} skipped: only root may create device nodes`);
      return;
    }
    const kind = h.type === 'character-device' ? sys.S_IFCHR : sys.S_IFBLK;
    try {
      sys.mknod(target, kind | ((h.mode ?? 0o600) & 0o7777), sys.makedev(major, minor));
    } catch (e) {
      if (!sys.hasErrno(e, sys.E.EPERM)) throw e;
      this.warn(h.name, `device node ${major}/${minor} skipped: mknod not permitted`);
      return;
    }
    this.applyMeta(target, h, false);
  }

  private ids(h: Header): [number, number] {
    const uid = h.pax?.uid !== undefined ? Number(h.pax.uid) : (h.uid ?? 0);
    const gid = h.pax?.gid !== undefined ? Number(h.pax.gid) : (h.gid ?? 0);
    return [uid, gid];
  }

  /** Ownership as the tar says; where this process may not chown (rootless without a user
   * namespace that maps the ids) it is recorded in the override_stat xattr instead. */
  private applyOwner(p: string, h: Header, isLink: boolean): void {
    const [uid, gid] = this.ids(h);
    if (!this.chownRefused) {
      try {
        sys.lchown(p, uid, gid);
        return;
      } catch (e) {
        if (!sys.hasErrno(e, sys.E.EPERM) && !sys.hasErrno(e, sys.E.EINVAL)) throw e;
        this.chownRefused = true;
        this.warn(h.name, 'chown not permitted: owners recorded in user.containers.override_stat');
      }
    }
    if (isLink || (uid === process.geteuid?.() && gid === process.getegid?.())) return;
    const mode = (h.mode ?? 0) & 0o7777;
    sys.lsetxattr(p, OVERRIDE_STAT_XATTR, Buffer.from(`${uid}:${gid}:0${mode.toString(8)}`));
  }

  private applyXattrs(p: string, h: Header): void {
    for (const [name, value] of xattrsOf(h, this.raw)) {
      if (isPrivateXattr(name)) {
        this.warn(h.name, `xattr ${name} dropped: overlay metadata is never taken from a tar`);
        continue;
      }
      try {
        sys.lsetxattr(p, name, value);
      } catch (e) {
        const skip = [sys.E.EPERM, sys.E.ENOTSUP, sys.E.EACCES, sys.E.EINVAL, sys.E.ERANGE];
        if (!skip.some((n) => sys.hasErrno(e, n))) throw e;
        this.warn(h.name, `xattr ${name} not kept: ${sys.toSysError(e).code}`);
      }
    }
  }

  private times(h: Header): { mtime: [number, number]; atime: [number, number] } {
    const hm = h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0;
    const mtime = paxTime(h.pax?.mtime) ?? [hm, 0];
    const atime = paxTime(h.pax?.atime) ?? mtime;
    return { mtime, atime };
  }

  private applyMeta(p: string, h: Header, isLink: boolean): void {
    this.applyOwner(p, h, isLink);
    if (!isLink) sys.chmod(p, h.mode ?? 0o644); // after chown, which clears set-id bits
    this.applyXattrs(p, h);
    const { mtime, atime } = this.times(h);
    sys.lutimens(p, atime[0], atime[1], mtime[0], mtime[1]);
  }

  private dirMeta(p: string, h: Header): DirMeta {
    return { path: p, mode: h.mode ?? 0o755, ...this.times(h) };
  }

  /** Directory modes and times last, deepest first: creating children changes a dir's mtime,
   * and a read-only mode would stop a rootless extraction writing into it. */
  finish(): { contentBytes: number; entries: number } {
    // a later entry may have replaced a directory by something else
    const stillDir = (p: string): boolean => {
      const st = sys.lstatIfExists(p);
      return st !== undefined && sys.isDir(st.mode);
    };
    for (const d of this.implicitDirs) if (stillDir(d)) sys.chmod(d, 0o755);
    const byPath = new Map(this.dirs.map((d) => [d.path, d]));
    const ordered = [...byPath.values()].filter((d) => stillDir(d.path)).sort((a, b) => b.path.split('/').length - a.path.split('/').length);
    for (const d of ordered) {
      sys.chmod(d.path, d.mode);
      sys.lutimens(d.path, d.atime[0], d.atime[1], d.mtime[0], d.mtime[1]);
    }
    return { contentBytes: this.contentBytes, entries: this.entries };
  }
}

/** O_EXCL|O_NOFOLLOW: the file is new, never something planted under its name. */
async function writeBody(target: string, body: Body): Promise<void> {
  const fd = sys.open(target, sys.O.O_WRONLY | sys.O.O_CREAT | sys.O.O_EXCL | sys.O.O_NOFOLLOW, 0o600);
  try {
    let pos = 0;
    for await (const chunk of body) {
      for (let off = 0; off < chunk.length; ) off += sys.pwrite(fd, chunk.subarray(off), pos + off);
      pos += chunk.length;
    }
  } finally {
    sys.close(fd);
  }
}

/** Feeds a tar-stream parser (a streamx Writable) with backpressure; rejects if it fails. */
async function feed(src: AsyncIterable<Buffer>, sink: tar.Extract): Promise<void> {
  const end = new TarEnd();
  for await (const chunk of src) {
    end.see(chunk);
    if (!sink.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          sink.off('drain', done);
          sink.off('close', closed);
          resolve();
        };
        const closed = (): void => reject(new Error('tar parser closed'));
        sink.on('drain', done);
        sink.on('close', closed);
      });
    }
  }
  // a tar that stops right after its last entry's data (no padding, no end blocks): the
  // padding is not part of any file, so it is supplied here rather than refused
  const padding = end.missingPadding();
  if (padding) sink.write(padding);
  sink.end(undefined);
}

/** Extracts an uncompressed layer tar into `dir` (an existing, empty directory). */
export async function extractLayer(src: Readable, dir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const x = new Extraction(dir, {
    maxBytes: opts.maxBytes ?? DEFAULT_MAX_LAYER_BYTES,
    maxEntries: opts.maxEntries ?? DEFAULT_MAX_LAYER_ENTRIES,
    privileged: opts.privileged ?? isPrivileged(),
  });
  const hash = new HashingStream();
  if (opts.onBytes) {
    const cb = opts.onBytes;
    hash.on('data', (c: Buffer) => cb(c.length));
  }
  src.on('error', (e) => hash.destroy(e));
  const extract = tar.extract();
  const tap = new PaxXattrTap();
  hash.on('error', (e) => tap.destroy(e));
  const entries = (async () => {
    for await (const e of extract) await x.entry(e.header as Header, e as unknown as Body, tap.next());
  })();
  // the hash sees every byte, also the zero blocks after the last entry (the parser reads them too)
  const fed = feed(src.pipe(hash).pipe(tap), extract);
  try {
    await Promise.all([entries, fed]);
  } catch (e) {
    extract.destroy();
    src.destroy();
    hash.destroy();
    tap.destroy();
    await Promise.allSettled([entries, fed]);
    throw e;
  }
  const counts = x.finish();
  return { diffId: hash.digest, tarSize: hash.size, ...counts, warnings: x.warnings };
}
