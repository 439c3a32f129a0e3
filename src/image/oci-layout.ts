// An OCI image layout on disk (oci-layout, index.json, blobs/sha256/<hex>): blobs that are
// verified on every read and appear only complete (temp -> fsync -> rename). Knows nothing
// of tags, layers or images, so the registry client can use it as its blob cache as is.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as sys from '../sys/index.js';
import { checkDigest, hexOf, sha256, HashingStream, type Digest } from './digest.js';
import { fsyncDir, tempName, writeFileAtomic } from './atomic.js';
import { MediaType, type Descriptor, type ImageIndex } from './media.js';

/** What the registry client needs from a blob store. */
export interface BlobStore {
  has(digest: Digest): boolean;
  /** A stream of the blob that fails at its end if the bytes do not match the digest. */
  openRead(digest: Digest): Readable;
  /** Stores a stream; rejects (storing nothing) when it does not match what is expected. */
  ingest(src: Readable, expected?: { digest?: Digest; size?: number }): Promise<{ digest: Digest; size: number }>;
}

/** The entries of dir named by a sha256 hex, as digests (blobs/sha256/, layers/). */
export function digestsNamedIn(dir: string): Digest[] {
  return sys
    .readdirNames(dir)
    .filter((n) => /^[0-9a-f]{64}$/.test(n))
    .map((n) => `sha256:${n}` as Digest);
}

export class DigestMismatchError extends Error {
  readonly code = 'EDIGEST';
  constructor(what: string, expected: string, actual: string) {
    super(`${what}: content does not match its digest (expected ${expected}, got ${actual})`);
    this.name = 'DigestMismatchError';
  }
}

/** Passes bytes through and fails at the end if they do not hash to `expected`. */
class VerifyingStream extends Transform {
  private readonly hash = crypto.createHash('sha256');
  private count = 0;
  constructor(private readonly expected: Digest, private readonly expectedSize?: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const got: Digest = `sha256:${this.hash.digest('hex')}`;
    if (got !== this.expected) cb(new DigestMismatchError(`blob ${this.expected}`, this.expected, got));
    else if (this.expectedSize !== undefined && this.count !== this.expectedSize)
      cb(new DigestMismatchError(`blob ${this.expected}`, `${this.expectedSize} bytes`, `${this.count} bytes`));
    else cb();
  }
}

export class OciLayout implements BlobStore {
  readonly blobDir: string;
  readonly tmpDir: string;

  constructor(readonly dir: string, tmpDir?: string) {
    this.blobDir = path.join(dir, 'blobs', 'sha256');
    this.tmpDir = tmpDir ?? path.join(dir, 'blobs');
  }

  /** Creates the layout's skeleton where it is missing (idempotent). */
  static init(dir: string, tmpDir?: string): OciLayout {
    const layout = new OciLayout(dir, tmpDir);
    sys.mkdirp(layout.blobDir);
    sys.mkdirp(layout.tmpDir);
    if (!fs.existsSync(path.join(dir, 'oci-layout')))
      writeFileAtomic(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (!fs.existsSync(path.join(dir, 'index.json'))) layout.writeIndex({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
    return layout;
  }

  /** True if dir looks like an OCI layout. */
  static isLayout(dir: string): boolean {
    return fs.existsSync(path.join(dir, 'oci-layout')) && fs.existsSync(path.join(dir, 'index.json'));
  }

  pathOf(digest: Digest): string {
    return path.join(this.blobDir, hexOf(checkDigest(digest)));
  }

  has(digest: Digest): boolean {
    return fs.existsSync(this.pathOf(digest));
  }

  sizeOf(digest: Digest): number | undefined {
    return sys.lstatIfExists(this.pathOf(digest))?.size;
  }

  openRead(digest: Digest, expectedSize?: number): Readable {
    const file = this.pathOf(digest);
    if (!fs.existsSync(file)) throw Object.assign(new Error(`blob ${digest} not in ${this.dir}`), { code: 'ENOENT' });
    const verify = new VerifyingStream(digest, expectedSize);
    const src = fs.createReadStream(file);
    src.on('error', (e) => verify.destroy(e));
    return src.pipe(verify);
  }

  /** A small blob (JSON) read whole and verified. */
  readBytes(digest: Digest): Buffer {
    const buf = fs.readFileSync(this.pathOf(digest));
    const got = sha256(buf);
    if (got !== digest) throw new DigestMismatchError(`blob ${digest}`, digest, got);
    return buf;
  }

  readJson<T>(digest: Digest): T {
    return JSON.parse(this.readBytes(digest).toString('utf8')) as T;
  }

  /** Stores bytes already in memory; answers their descriptor. */
  writeBytes(data: Uint8Array, mediaType: string): Descriptor {
    const digest = sha256(data);
    if (!this.has(digest)) writeFileAtomic(this.pathOf(digest), data);
    return { mediaType, digest, size: data.length };
  }

  writeJson(value: unknown, mediaType: string): Descriptor {
    return this.writeBytes(Buffer.from(JSON.stringify(value)), mediaType);
  }

  async ingest(src: Readable, expected: { digest?: Digest; size?: number } = {}): Promise<{ digest: Digest; size: number }> {
    const tmp = tempName(this.tmpDir, 'ingest');
    const hash = new HashingStream();
    try {
      const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
      await pipeline(src, hash, out);
      const { digest, size } = { digest: hash.digest, size: hash.size };
      if (expected.digest !== undefined && digest !== expected.digest) throw new DigestMismatchError('ingested blob', expected.digest, digest);
      if (expected.size !== undefined && size !== expected.size)
        throw new DigestMismatchError(`ingested blob ${digest}`, `${expected.size} bytes`, `${size} bytes`);
      this.commitTemp(tmp, digest);
      return { digest, size };
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** Moves a finished, fsync-able temp file in tmpDir into place as blob `digest`. */
  commitTemp(tmp: string, digest: Digest): void {
    const fd = sys.open(tmp, sys.O.O_RDONLY);
    try {
      sys.fsync(fd);
    } finally {
      sys.close(fd);
    }
    sys.rename(tmp, this.pathOf(digest));
    fsyncDir(this.blobDir);
  }

  list(): Digest[] {
    return digestsNamedIn(this.blobDir);
  }

  delete(digest: Digest): void {
    fs.rmSync(this.pathOf(digest), { force: true });
  }

  readIndex(): ImageIndex {
    const index = JSON.parse(fs.readFileSync(path.join(this.dir, 'index.json'), 'utf8')) as ImageIndex;
    if (index.schemaVersion !== 2 || !Array.isArray(index.manifests)) throw new Error(`${this.dir}/index.json: not an OCI image index`);
    for (const m of index.manifests) checkDigest(m.digest, `digest in ${this.dir}/index.json`);
    return index;
  }

  writeIndex(index: ImageIndex): void {
    writeFileAtomic(path.join(this.dir, 'index.json'), JSON.stringify(index, null, 2) + '\n');
  }
}
