// Overlay-format directory -> layer tar (the reverse of layer-extract.ts): whiteouts (char
// 0/0, or `.wh.` files) and opaque dirs (the xattr, or a `.wh..wh..opq` file) become OCI
// `.wh.` entries; hard links become tar links; xattrs and ns times go in PAX records;
// owners as they are (or as override_stat records them). Entries sorted: same tree, same tar.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import tar from 'tar-stream';
import * as sys from '../sys/index.js';
import { LayerTarError } from './layer-errors.js';
import { encodePaxRecords, paxHeaderBlocks } from './pax-raw.js';
import {
  OVERRIDE_STAT_XATTR,
  WH_OPAQUE,
  WH_PREFIX,
  devMajor,
  devMinor,
  isOpaqueDir,
  isPrivateXattr,
  isWhiteoutAttr,
} from './overlay-format.js';

export interface GenerateOptions {
  /** paths (relative to the dir, a leading '/' allowed) left out with all beneath them */
  exclude?: string[];
}

const SMALL_FILE = 2 ** 20;

type HeaderArg = Parameters<tar.Pack['entry']>[0] & {
  pax?: Record<string, string>;
  /** xattr values that are not UTF-8: written by us in a raw PAX header (pax-raw.ts) */
  rawXattrs?: Map<string, Buffer>;
};

const encodable = (s: string): boolean => /^[\x20-\x7e]{0,100}$/.test(s);

function listXattrs(p: string): string[] {
  try {
    return sys.llistxattr(p);
  } catch (e) {
    if (sys.hasErrno(e, sys.E.ENOTSUP) || sys.hasErrno(e, sys.E.EOPNOTSUPP)) return [];
    throw e;
  }
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

/** A kernel overlay upper may point into its lowers (redirect_dir=on renames, metacopy=on
 * chowns): the data is then not in the upper, and a layer made from it would silently lack
 * it. Refused, naming the path; mount with redirect_dir=off,metacopy=off to commit. */
function refuseOverlayIndirection(rel: string, st: sys.Attr, xattrs: string[]): void {
  for (const ns of ['trusted', 'user']) {
    if (xattrs.includes(`${ns}.overlay.redirect`))
      throw new LayerTarError(rel, `has ${ns}.overlay.redirect (a directory renamed by overlayfs redirect_dir): its contents are in a lower layer`);
    if (sys.isReg(st.mode) && xattrs.includes(`${ns}.overlay.metacopy`))
      throw new LayerTarError(rel, `has ${ns}.overlay.metacopy (overlayfs metacopy): its data is in a lower layer`);
  }
}

class Generation {
  private readonly links = new Map<string, string>();
  private readonly exclude: Set<string>;

  constructor(private readonly pack: tar.Pack, opts: GenerateOptions) {
    this.exclude = new Set((opts.exclude ?? []).map((e) => e.split('/').filter((c) => c && c !== '.').join('/')));
  }

  /** tar-stream cannot write binary PAX values: the PAX header is ours, and the entry's own
   * header gets names it can encode without one (the PAX path overrides them anyway). */
  private putRawPax(h: HeaderArg): HeaderArg {
    const { rawXattrs, pax, ...plain } = h;
    const records: [string, Buffer | string][] = [['path', h.name]];
    if (h.linkname) records.push(['linkpath', h.linkname]);
    for (const [k, v] of Object.entries(pax ?? {})) records.push([k, v]);
    for (const [k, v] of rawXattrs ?? []) records.push([`SCHILY.xattr.${k}`, v]);
    // pushed between entries, where tar-stream pushes its own headers: it has no API for a
    // PAX body of raw bytes
    this.pack.push(paxHeaderBlocks(encodePaxRecords(records), h.mtime ?? new Date(0)));
    return {
      ...plain,
      name: encodable(h.name) ? h.name : 'strata-pax-path',
      ...(h.linkname ? { linkname: encodable(h.linkname) ? h.linkname : 'strata-pax-linkpath' } : {}),
    };
  }

  private async put(header: HeaderArg, file?: string): Promise<void> {
    const h = header.rawXattrs ? this.putRawPax(header) : header;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      // small files read at once: an async open/read/close per file is most of the time
      if (file !== undefined && (h.size ?? 0) <= SMALL_FILE) {
        const buf = fs.readFileSync(file);
        if (buf.length !== h.size) return reject(new Error(`${file} changed size while being read`));
        this.pack.entry(h, buf, done);
        return;
      }
      const sink = this.pack.entry(h, done);
      if (file === undefined) {
        sink.end(undefined);
        return;
      }
      const rs = fs.createReadStream(file);
      rs.on('error', (e) => {
        sink.destroy(e);
        reject(e);
      });
      rs.on('data', (c) => {
        if (!sink.write(c as Buffer)) {
          rs.pause();
          sink.once('drain', () => rs.resume());
        }
      });
      rs.on('end', () => sink.end(undefined));
    });
  }

  private header(p: string, rel: string, st: sys.Attr, type: NonNullable<HeaderArg['type']>, xattrs: string[]): HeaderArg {
    let { uid, gid } = st;
    let mode = st.mode & 0o7777;
    const pax: Record<string, string> = {};
    let raw: Map<string, Buffer> | undefined;
    for (const name of xattrs) {
      if (name === OVERRIDE_STAT_XATTR) {
        const m = /^(\d+):(\d+):0?([0-7]+)/.exec(sys.lgetxattr(p, name).toString());
        if (m) [uid, gid, mode] = [Number(m[1]), Number(m[2]), Number.parseInt(m[3]!, 8) & 0o7777];
        continue;
      }
      if (isPrivateXattr(name)) continue;
      const v = sys.lgetxattr(p, name);
      if (isUtf8(v)) pax[`SCHILY.xattr.${name}`] = v.toString('utf8');
      else (raw ??= new Map()).set(name, v);
    }
    if (st.mtimeNsec !== 0) pax.mtime = `${st.mtime}.${String(st.mtimeNsec).padStart(9, '0')}`;
    const h: HeaderArg = { name: rel, type, mode, uid, gid, mtime: new Date(st.mtime * 1000), uname: '', gname: '' };
    if (Object.keys(pax).length > 0) h.pax = pax;
    if (raw) h.rawXattrs = raw;
    return h;
  }

  private whiteoutHeader(rel: string, st: sys.Attr): HeaderArg {
    return { name: rel, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: new Date(st.mtime * 1000), uname: '', gname: '' };
  }

  async dir(dirPath: string, dirRel: string): Promise<void> {
    const names = sys.readdirNames(dirPath).sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1));
    for (const name of names) {
      const p = path.join(dirPath, name);
      const rel = dirRel ? `${dirRel}/${name}` : name;
      if (this.exclude.has(rel)) continue;
      const st = sys.lstat(p);
      if (name.startsWith(WH_PREFIX)) {
        await this.whiteoutFile(p, rel, name, st);
        continue;
      }
      if (isWhiteoutAttr(st)) {
        await this.put(this.whiteoutHeader(`${dirRel ? dirRel + '/' : ''}${WH_PREFIX}${name}`, st));
        continue;
      }
      const xattrs = sys.isLnk(st.mode) ? [] : listXattrs(p);
      refuseOverlayIndirection(rel, st, xattrs);
      if (sys.isDir(st.mode)) {
        await this.put(this.header(p, `${rel}/`, st, 'directory', xattrs));
        if (isOpaqueDir(p, xattrs) && !fs.existsSync(path.join(p, WH_OPAQUE))) await this.put(this.whiteoutHeader(`${rel}/${WH_OPAQUE}`, st));
        await this.dir(p, rel);
      } else if (sys.isReg(st.mode)) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? this.links.get(key) : undefined;
        if (first !== undefined) {
          await this.put({ ...this.header(p, rel, st, 'link', xattrs), linkname: first, size: 0 });
        } else {
          if (st.nlink > 1) this.links.set(key, rel);
          await this.put({ ...this.header(p, rel, st, 'file', xattrs), size: st.size }, p);
        }
      } else if (sys.isLnk(st.mode)) {
        await this.put({ ...this.header(p, rel, st, 'symlink', xattrs), linkname: sys.readlink(p) });
      } else if ((st.mode & sys.S_IFMT) === sys.S_IFIFO) {
        await this.put(this.header(p, rel, st, 'fifo', xattrs));
      } else if (sys.isChr(st.mode) || (st.mode & sys.S_IFMT) === sys.S_IFBLK) {
        const type = sys.isChr(st.mode) ? 'character-device' : 'block-device';
        await this.put({ ...this.header(p, rel, st, type, xattrs), devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) });
      }
      // sockets have no tar form: left out, as tar itself does
    }
  }

  /** `.wh.NAME` files are fuse-overlayfs's fallback whiteouts and are empty; a `.wh.` file
   * with data is a user's file that a tar cannot hold without it turning into a deletion. */
  private async whiteoutFile(p: string, rel: string, name: string, st: sys.Attr): Promise<void> {
    if (!sys.isReg(st.mode) || st.size !== 0)
      throw new LayerTarError(rel, `a ${sys.isReg(st.mode) ? 'non-empty file' : 'non-file'} named like a whiteout ('${name}') cannot be stored in a layer: rename it`);
    await this.put(this.whiteoutHeader(rel, st));
  }
}

/** A layer tar (uncompressed) of an overlay-format directory, as a stream. */
export function generateLayer(dir: string, opts: GenerateOptions = {}): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  const g = new Generation(pack, opts);
  pack.on('data', (c: unknown) => {
    if (!out.write(c as Buffer)) {
      pack.pause();
      out.once('drain', () => pack.resume());
    }
  });
  pack.on('end', () => out.end());
  pack.on('error', (e: Error) => out.destroy(e));
  g.dir(dir, '').then(
    () => pack.finalize(),
    (e: unknown) => {
      out.destroy(e instanceof Error ? e : new Error(String(e)));
      pack.destroy();
    },
  );
  return out;
}
