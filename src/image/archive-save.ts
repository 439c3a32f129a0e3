// `strata save`: images as an OCI archive (a tarred OCI layout) or a docker-archive
// (manifest.json + repositories, uncompressed layers named by diff_id). Written to a temp
// file beside the target and renamed, so a failed save leaves no half archive.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { HashingStream, hexOf, type Digest } from './digest.js';
import { fsyncDir, tempName } from './atomic.js';
import { decompressed, sniffCompression } from './compression.js';
import { DigestMismatchError } from './oci-layout.js';
import { MediaType, REF_NAME, type Descriptor } from './media.js';
import { normalizeTagged, splitTagged } from './reference.js';
import type { ImageStore, ResolvedImage } from './store.js';

export type ArchiveFormat = 'oci' | 'docker';

export interface SaveOptions {
  format?: ArchiveFormat;
  onBytes?: (n: number, total: number) => void;
}

interface Selected {
  image: ResolvedImage;
  names: string[];
}

/** A ref that is a tag saves that tag only; an id saves every tag of the image. */
function select(store: ImageStore, refs: string[]): Selected[] {
  const out: Selected[] = [];
  for (const ref of refs) {
    const image = store.resolveImage(ref);
    let asTag: string | undefined;
    try {
      asTag = normalizeTagged(ref);
    } catch {
      asTag = undefined;
    }
    const tagged = image.names.find((n) => n === asTag);
    const names = tagged ? [tagged] : image.names;
    const prev = out.find((s) => s.image.manifestDigest === image.manifestDigest);
    if (prev) prev.names.push(...names.filter((n) => !prev.names.includes(n)));
    else out.push({ image, names: [...names] });
  }
  return out;
}

class ArchiveWriter {
  readonly pack = tar.pack();
  private written = 0;
  private readonly done: Promise<void>;

  constructor(file: string, private readonly total: number, private readonly onBytes?: (n: number, total: number) => void) {
    const out = fs.createWriteStream(file, { flags: 'wx', mode: 0o644 });
    this.done = new Promise((resolve, reject) => {
      out.on('finish', () => resolve());
      out.on('error', reject);
      this.pack.on('error', reject);
    });
    this.pack.on('data', (c: unknown) => {
      const buf = c as Buffer;
      this.written += buf.length;
      this.onBytes?.(this.written, this.total);
      if (!out.write(buf)) {
        this.pack.pause();
        out.once('drain', () => this.pack.resume());
      }
    });
    this.pack.on('end', () => out.end());
  }

  bytes(name: string, data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.pack.entry({ name, mode: 0o644, mtime: new Date(0) }, typeof data === 'string' ? Buffer.from(data) : data, (e) => (e ? reject(e) : resolve())),
    );
  }

  dir(name: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve())),
    );
  }

  stream(name: string, size: number, src: Readable): Promise<void> {
    return new Promise((resolve, reject) => {
      const sink = this.pack.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve()));
      src.on('error', (e) => {
        sink.destroy(e);
        reject(e);
      });
      src.on('data', (c: Buffer) => {
        if (!sink.write(c)) {
          src.pause();
          sink.once('drain', () => src.resume());
        }
      });
      src.on('end', () => sink.end(undefined));
    });
  }

  async finish(): Promise<void> {
    this.pack.finalize();
    await this.done;
  }
}

async function writeOci(store: ImageStore, sel: Selected[], w: ArchiveWriter): Promise<void> {
  const manifests: Descriptor[] = [];
  const blobs = new Map<Digest, number>();
  for (const { image, names } of sel) {
    const desc: Descriptor = { mediaType: image.manifest.mediaType ?? MediaType.ociManifest, digest: image.manifestDigest, size: store.blobs.sizeOf(image.manifestDigest) ?? 0 };
    if (names.length === 0) manifests.push(desc);
    for (const n of names) manifests.push({ ...desc, annotations: { [REF_NAME]: n } });
    blobs.set(image.manifestDigest, desc.size);
    blobs.set(image.manifest.config.digest, image.manifest.config.size);
    for (const l of image.manifest.layers) blobs.set(l.digest, l.size);
  }
  await w.bytes('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await w.bytes('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  await w.dir('blobs/');
  await w.dir('blobs/sha256/');
  for (const [digest, size] of blobs) await w.stream(`blobs/sha256/${hexOf(digest)}`, size, store.blobs.openRead(digest, size));
}

async function writeDocker(store: ImageStore, sel: Selected[], w: ArchiveWriter): Promise<void> {
  const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Set<string>();
  for (const { image, names } of sel) {
    const configName = `${hexOf(image.id)}.json`;
    if (!written.has(configName)) {
      await w.bytes(configName, store.blobs.readBytes(image.id));
      written.add(configName);
    }
    const layers: string[] = [];
    for (let i = 0; i < image.diffIds.length; i++) {
      const diffId = image.diffIds[i]!;
      const name = `${hexOf(diffId)}.tar`;
      layers.push(name);
      if (written.has(name)) continue;
      written.add(name);
      const blob = image.manifest.layers[i]!;
      const rec = store.layerRecord(diffId);
      if (!rec) throw new Error(`layer ${diffId} of ${image.id} is not in the store`);
      // docker-archive layers are the uncompressed tars: their sha256 is the diff_id
      const hash = new HashingStream();
      const tarStream = decompressed(store.blobs.openRead(blob.digest, blob.size), sniffCompression(store.blobs.pathOf(blob.digest)));
      tarStream.on('error', (e) => hash.destroy(e));
      await w.stream(name, rec.tarSize, tarStream.pipe(hash));
      if (hash.digest !== diffId) throw new DigestMismatchError(`layer ${blob.digest}`, diffId, hash.digest);
    }
    manifest.push({ Config: configName, RepoTags: names, Layers: layers });
    const top = image.chainIds[image.chainIds.length - 1];
    for (const n of names) {
      const { name, tag } = splitTagged(n);
      (repositories[name] ??= {})[tag] = top ? hexOf(top) : hexOf(image.id);
    }
  }
  await w.bytes('manifest.json', JSON.stringify(manifest));
  await w.bytes('repositories', JSON.stringify(repositories));
}

export async function saveImages(store: ImageStore, refs: string[], file: string, opts: SaveOptions = {}): Promise<{ images: number }> {
  const sel = select(store, refs);
  const format = opts.format ?? 'oci';
  const total = sel.reduce(
    (n, s) => n + s.image.manifest.layers.reduce((m, l, i) => m + (format === 'docker' ? (store.layerRecord(s.image.diffIds[i]!)?.tarSize ?? l.size) : l.size), 0),
    0,
  );
  const tmp = tempName(path.dirname(path.resolve(file)), path.basename(file));
  const w = new ArchiveWriter(tmp, total, opts.onBytes);
  try {
    await (format === 'docker' ? writeDocker(store, sel, w) : writeOci(store, sel, w));
    await w.finish();
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    fsyncDir(path.dirname(path.resolve(file)));
  } catch (e) {
    w.pack.destroy();
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return { images: sel.length };
}
