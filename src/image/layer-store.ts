// layers/<diff_id hex>/: each layer extracted once, as an overlay-format dir (diff/) with
// its record (layer.json). Keyed by diff_id, since the extracted tree depends only on the
// uncompressed tar. Built in a temp dir and renamed into place: present means complete.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import * as sys from '../sys/index.js';
import { hexOf, type Digest } from './digest.js';
import { writeFileAtomic } from './atomic.js';
import type { ExtractOptions } from './layer-extract.js';
import type { GenerateOptions } from './layer-generate.js';
import { DigestMismatchError, digestsNamedIn, type OciLayout } from './oci-layout.js';
import { MediaType, type Descriptor } from './media.js';

export interface LayerRecord {
  diffId: Digest;
  /** bytes of the uncompressed tar */
  tarSize: number;
  /** bytes of file content in it (what `images` and `history` show) */
  contentBytes: number;
  entries: number;
  warnings: string[];
}

// The tar code (tar-stream, zlib) loads on first use: `strata run` opens the store only to
// resolve an image and hold it, and would otherwise load it on every start (~20 ms here).
const compression = (): Promise<typeof import('./compression.js')> => import('./compression.js');
const extractor = (): Promise<typeof import('./layer-extract.js')> => import('./layer-extract.js');
const generator = (): Promise<typeof import('./layer-generate.js')> => import('./layer-generate.js');

export class LayerStore {
  readonly dir: string;

  constructor(root: string, private readonly blobs: OciLayout, private readonly tmpDir: string) {
    this.dir = path.join(root, 'layers');
    sys.mkdirp(this.dir);
  }

  diffDir(diffId: Digest): string {
    return path.join(this.dir, hexOf(diffId), 'diff');
  }

  record(diffId: Digest): LayerRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, hexOf(diffId), 'layer.json'), 'utf8')) as LayerRecord;
    } catch {
      return undefined;
    }
  }

  has(diffId: Digest): boolean {
    return this.record(diffId) !== undefined;
  }

  list(): Digest[] {
    return digestsNamedIn(this.dir);
  }

  remove(diffId: Digest): void {
    // renamed aside first so a half-deleted dir never looks like a layer
    const aside = path.join(this.tmpDir, `rm-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    sys.rename(path.join(this.dir, hexOf(diffId)), aside);
    fs.rmSync(aside, { recursive: true, force: true });
  }

  /** Extracts the layer blob `blob` (verified on read, diff_id checked) unless present. */
  async ensure(diffId: Digest, blob: Descriptor, opts: ExtractOptions = {}): Promise<LayerRecord> {
    const have = this.record(diffId);
    if (have) return have;
    const [{ decompressed, sniffCompression }] = await Promise.all([compression(), extractor()]);
    const file = this.blobs.pathOf(blob.digest);
    const tar = decompressed(this.blobs.openRead(blob.digest, blob.size), sniffCompression(file));
    return this.extractFrom(tar, diffId, opts);
  }

  /** Extracts an uncompressed tar stream as layer `expected` (or whatever its diff_id is). */
  async extractFrom(tar: Readable, expected: Digest | undefined, opts: ExtractOptions = {}): Promise<LayerRecord> {
    const { extractLayer } = await extractor();
    const work = fs.mkdtempSync(path.join(this.tmpDir, `layer-${process.pid}-`));
    try {
      sys.mkdir(path.join(work, 'diff'), 0o755);
      const r = await extractLayer(tar, path.join(work, 'diff'), opts);
      if (expected !== undefined && r.diffId !== expected) throw new DigestMismatchError('layer', expected, r.diffId);
      const rec: LayerRecord = { diffId: r.diffId, tarSize: r.tarSize, contentBytes: r.contentBytes, entries: r.entries, warnings: r.warnings };
      if (this.has(r.diffId)) return this.record(r.diffId)!;
      writeFileAtomic(path.join(work, 'layer.json'), JSON.stringify(rec, null, 2));
      sys.rename(work, path.join(this.dir, hexOf(r.diffId)));
      return rec;
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }

  /** An overlay-format dir becomes a gzip layer blob and, from the same tar bytes in the
   * same pass, its extracted dir: what mounts see is exactly what the blob holds. */
  async fromDir(dir: string, opts: GenerateOptions = {}, onBytes?: (n: number) => void): Promise<{ desc: Descriptor; record: LayerRecord }> {
    const [{ generateLayer }, { gzipped }] = await Promise.all([generator(), compression(), extractor()]);
    const tar = generateLayer(dir, opts);
    const forBlob = new PassThrough();
    const forDir = new PassThrough();
    const fail = (e: Error): void => {
      forBlob.destroy(e);
      forDir.destroy(e);
    };
    tar.on('error', fail);
    if (onBytes) tar.on('data', (c: Buffer) => onBytes(c.length));
    // pipe() to two destinations waits for the slower one
    tar.pipe(forBlob);
    tar.pipe(forDir);
    const ingesting = this.blobs.ingest(gzipped(forBlob));
    const extracting = this.extractFrom(forDir, undefined);
    const stop = (e: unknown): never => {
      tar.destroy();
      fail(e instanceof Error ? e : new Error(String(e)));
      throw e;
    };
    const [{ digest, size }, record] = await Promise.all([ingesting.catch(stop), extracting.catch(stop)]);
    return { desc: { mediaType: MediaType.ociLayerGzip, digest, size }, record };
  }
}
