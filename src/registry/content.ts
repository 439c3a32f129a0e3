// The content the registry client reads and writes, as one small interface, and its
// implementation on a plain OCI image layout directory. The image store (src/image) will
// implement the same interface through a small adapter; nothing else here knows the layout.
//
// Writes are verified and atomic (umoci's rule): bytes go to ingest/<algo>-<hex> while
// being hashed, and only a blob whose size and digest match is fsynced and renamed into
// blobs/. A mismatch removes the partial file; an interrupted stream keeps it, so a later
// pull resumes from where it stopped. index.json is replaced by temp + fsync + rename.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as sys from '../sys/index.js';
import { RegistryError } from './errors.js';
import { MediaType, type Descriptor } from './manifest.js';
import { isSha256Digest } from './reference.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Expected {
  digest: string;
  size?: number;
}

export type Bytes = AsyncIterable<Buffer | Uint8Array>;

/** Opens the bytes of a blob given how many an interrupted ingest kept: a stream starting
 * at `start`, which is `kept` (resumed, e.g. with Range) or 0 (from the beginning). */
export type Source = (kept: number) => Promise<{ stream: Bytes; start: number }>;

export interface IngestOptions {
  /** called with each chunk's length as it is written */
  onBytes?: (n: number) => void;
}

export interface Content {
  readonly root: string;
  has(digest: string): boolean;
  size(digest: string): number | undefined;
  open(digest: string): Readable;
  /** a small blob (manifest, config), verified against its digest */
  read(digest: string): Buffer;
  /** bytes kept from an interrupted ingest of digest (0 if none) */
  partialSize(digest: string): number;
  /** Writes a blob, verified. 'present' when it was already there (or another process
   * stored it while this one waited for it); nothing is stored on a mismatch. */
  ingest(src: Source | Bytes, expect: Expected, opts?: IngestOptions): Promise<'stored' | 'present'>;
  /** stores bytes whose digest is computed (and checked against expect when given) */
  put(bytes: Buffer, expect?: Expected): string;
  /** the manifest (or index) descriptor stored under a name, e.g. 'host/repo:tag' */
  lookup(name: string): Descriptor | undefined;
  /** points name at desc, replacing what it named before */
  setName(name: string, desc: Descriptor): Promise<void>;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
}

function hexOf(digest: string): string {
  if (!isSha256Digest(digest)) throw new RegistryError('EUNSUPPORTED', `unsupported digest ${digest}`);
  return digest.slice('sha256:'.length);
}

function mismatch(expect: Expected, got: { digest: string; size: number }): RegistryError {
  const what = expect.size !== undefined && got.size !== expect.size ? `${got.size} bytes, expected ${expect.size}` : `got ${got.digest}`;
  return new RegistryError('EDIGEST', `content for ${expect.digest} does not match its digest (${what}); refused`);
}

interface OciIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

function fsyncPath(p: string, flags: number): void {
  const fd = sys.open(p, flags);
  try {
    sys.fsync(fd);
  } finally {
    sys.close(fd);
  }
}

/** Writes a file atomically: temp in the same dir, fsync, rename, fsync the dir. */
export function writeFileAtomic(file: string, data: Buffer | string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const fd = sys.open(tmp, sys.O.O_WRONLY | sys.O.O_CREAT | sys.O.O_EXCL, mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += sys.pwrite(fd, buf.subarray(off), off);
    sys.fsync(fd);
  } catch (e) {
    sys.close(fd);
    sys.unlink(tmp);
    throw e;
  }
  sys.close(fd);
  sys.rename(tmp, file);
  fsyncPath(path.dirname(file), sys.O.O_RDONLY | sys.O.O_DIRECTORY);
}

class LayoutContent implements Content {
  constructor(readonly root: string) {}

  private blobPath(digest: string): string {
    return path.join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  private partialPath(digest: string): string {
    return path.join(this.root, 'ingest', `sha256-${hexOf(digest)}`);
  }

  has(digest: string): boolean {
    return sys.lstatIfExists(this.blobPath(digest)) !== undefined;
  }

  size(digest: string): number | undefined {
    return sys.lstatIfExists(this.blobPath(digest))?.size;
  }

  open(digest: string): Readable {
    return fs.createReadStream(this.blobPath(digest));
  }

  read(digest: string): Buffer {
    const p = this.blobPath(digest);
    if (!this.has(digest)) throw new RegistryError('ELOCAL', `${this.root}: blob ${digest} is missing`);
    const bytes = fs.readFileSync(p);
    if (sha256(bytes) !== digest) throw new RegistryError('ELOCAL', `${this.root}: blob ${digest} is corrupt`);
    return bytes;
  }

  partialSize(digest: string): number {
    return sys.lstatIfExists(this.partialPath(digest))?.size ?? 0;
  }

  /** One writer at a time across processes (per blob, and for index.json): a lock file holding the owner's pid,
   * created whole with link(2) so it is never seen empty; a dead owner's lock (a killed
   * pull) is taken over. */
  private async lock(lock: string): Promise<() => void> {
    sys.mkdirp(path.dirname(lock));
    const mine = `${lock}.${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(mine, String(process.pid));
    try {
      for (;;) {
        try {
          sys.link(mine, lock);
          return () => sys.unlink(lock);
        } catch (e) {
          if (!sys.hasErrno(e, sys.E.EEXIST)) throw e;
        }
        let holder = 0;
        try {
          holder = Number(fs.readFileSync(lock, 'utf8'));
        } catch {
          continue; // released between link and read
        }
        if (!isAlive(holder)) {
          try {
            sys.unlink(lock);
          } catch {
            // someone else took it over first
          }
          continue;
        }
        await sleep(50);
      }
    } finally {
      sys.unlink(mine);
    }
  }

  async ingest(src: Source | Bytes, expect: Expected, opts: IngestOptions = {}): Promise<'stored' | 'present'> {
    const unlock = await this.lock(`${this.partialPath(expect.digest)}.lock`);
    try {
      if (this.has(expect.digest)) return 'present';
      let kept = this.partialSize(expect.digest);
      if (expect.size !== undefined && kept > expect.size) kept = 0;
      const { stream, start } = typeof src === 'function' ? await src(kept) : { stream: src, start: 0 };
      if (start !== 0 && start !== kept) throw new RegistryError('EPROTOCOL', `ingest of ${expect.digest}: a stream from ${start} cannot follow ${kept} kept bytes`);
      await this.write(stream, start, expect, opts);
      return 'stored';
    } finally {
      unlock();
    }
  }

  private async write(src: Bytes, start: number, expect: Expected, opts: IngestOptions): Promise<void> {
    const partial = this.partialPath(expect.digest);
    const hash = crypto.createHash('sha256');
    let offset = 0;
    const fd = sys.open(partial, sys.O.O_RDWR | sys.O.O_CREAT | (start === 0 ? sys.O.O_TRUNC : 0), 0o644);
    if (start > 0) {
      const buf = Buffer.alloc(1 << 20);
      for (let n; offset < start && (n = sys.pread(fd, buf.subarray(0, Math.min(buf.length, start - offset)), offset)) > 0; offset += n) hash.update(buf.subarray(0, n));
      sys.ftruncate(fd, start);
    }
    let closed = false;
    const discard = (): void => {
      closed = true;
      sys.close(fd);
      sys.unlink(partial);
    };
    try {
      for await (const chunk of src) {
        if (expect.size !== undefined && offset + chunk.length > expect.size) {
          discard();
          throw mismatch(expect, { digest: '?', size: offset + chunk.length });
        }
        let done = 0;
        while (done < chunk.length) done += sys.pwrite(fd, chunk.subarray(done), offset + done);
        hash.update(chunk);
        offset += chunk.length;
        opts.onBytes?.(chunk.length);
      }
    } catch (e) {
      // an interrupted stream keeps its bytes for a resumed pull; ours (mismatch) does not
      if (!closed) sys.close(fd);
      throw e;
    }
    const got = { digest: `sha256:${hash.digest('hex')}`, size: offset };
    if (got.digest !== expect.digest || (expect.size !== undefined && got.size !== expect.size)) {
      discard();
      throw mismatch(expect, got);
    }
    sys.fsync(fd);
    sys.close(fd);
    const dest = this.blobPath(expect.digest);
    sys.rename(partial, dest);
    fsyncPath(path.dirname(dest), sys.O.O_RDONLY | sys.O.O_DIRECTORY);
  }

  put(bytes: Buffer, expect?: Expected): string {
    const digest = sha256(bytes);
    if (expect && (digest !== expect.digest || (expect.size !== undefined && expect.size !== bytes.length))) {
      throw mismatch(expect, { digest, size: bytes.length });
    }
    if (!this.has(digest)) writeFileAtomic(this.blobPath(digest), bytes);
    return digest;
  }

  private readIndex(): OciIndex {
    const p = path.join(this.root, 'index.json');
    let idx: OciIndex;
    try {
      idx = JSON.parse(fs.readFileSync(p, 'utf8')) as OciIndex;
    } catch (e) {
      throw new RegistryError('ELOCAL', `${p}: not a readable OCI index (${(e as Error).message})`);
    }
    if (!Array.isArray(idx.manifests)) throw new RegistryError('ELOCAL', `${p}: no manifests array`);
    return idx;
  }

  lookup(name: string): Descriptor | undefined {
    return this.readIndex().manifests.find((m) => m.annotations?.[REF_NAME] === name);
  }

  async setName(name: string, desc: Descriptor): Promise<void> {
    // read-modify-write under the lock: two pulls naming different images both keep theirs
    const unlock = await this.lock(path.join(this.root, 'ingest', 'index.json.lock'));
    try {
      const idx = this.readIndex();
      idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== name);
      idx.manifests.push({ ...desc, annotations: { ...desc.annotations, [REF_NAME]: name } });
      writeFileAtomic(path.join(this.root, 'index.json'), JSON.stringify(idx));
    } finally {
      unlock();
    }
  }
}

/** Opens an OCI image layout at root, creating it unless create is false. */
export function openLayout(root: string, opts: { create?: boolean } = {}): Content {
  if (opts.create === false) {
    if (!sys.lstatIfExists(path.join(root, 'oci-layout'))) throw new RegistryError('ELOCAL', `${root}: not an OCI image layout`);
    return new LayoutContent(root);
  }
  sys.mkdirp(path.join(root, 'blobs', 'sha256'));
  const layoutFile = path.join(root, 'oci-layout');
  if (!sys.lstatIfExists(layoutFile)) writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexFile = path.join(root, 'index.json');
  if (!sys.lstatIfExists(indexFile)) {
    writeFileAtomic(indexFile, JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }));
  }
  return new LayoutContent(root);
}
