// `strata load`: an OCI archive, a docker-archive (whoever wrote them: us, skopeo, docker)
// or an OCI layout directory (umoci's). Archive member names are never used as paths:
// blobs go straight into the content store (verified against their names' digests), small
// JSON documents are kept in memory, so a hostile archive cannot write anywhere.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import tar from 'tar-stream';
import { UserError } from '../errors.js';
import { checkDigest, sha256, type Digest } from './digest.js';
import { decompressed, sniffCompression } from './compression.js';
import { OciLayout } from './oci-layout.js';
import {
  INDEX_TYPES,
  MANIFEST_TYPES,
  MediaType,
  REF_NAME,
  hostPlatform,
  type Descriptor,
  type ImageIndex,
  type Manifest,
} from './media.js';
import { normalizeTagged } from './reference.js';
import type { ImageStore, ResolvedImage } from './store.js';

const MAX_DOCUMENT = 16 * 2 ** 20;

export interface LoadOptions {
  onBytes?: (n: number, total: number) => void;
  /** the name for images whose archive gives only a bare tag (OCI ref.name 'latest') */
  defaultName?: string;
}

export interface LoadResult {
  images: ResolvedImage[];
  names: string[];
}

/** What an archive held: its small documents by name, its other files as stored blobs. */
interface Members {
  docs: Map<string, Buffer>;
  blobs: Map<string, Digest>;
  links: Map<string, string>;
}

function memberName(name: string): string {
  return path.posix.normalize(name.replace(/^\/+/, '')).replace(/^\.\//, '').replace(/\/$/, '');
}

const isDocument = (name: string, size: number): boolean =>
  size <= MAX_DOCUMENT &&
  // old `docker save` also writes <layer id>/json and /VERSION: documents, not blobs to keep
  (name.endsWith('.json') || name.endsWith('/json') || name === 'oci-layout' || name === 'repositories' || /(^|\/)VERSION$/.test(name));

async function readArchive(store: ImageStore, file: string, onBytes?: (n: number, total: number) => void): Promise<Members> {
  const m: Members = { docs: new Map(), blobs: new Map(), links: new Map() };
  const total = fs.statSync(file).size;
  let read = 0;
  const raw = fs.createReadStream(file);
  raw.on('data', (c) => onBytes?.((read += c.length), total));
  const src = decompressed(raw, sniffCompression(file));
  const extract = tar.extract();
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const h = entry.header;
    const name = memberName(h.name);
    if (h.type === 'symlink' || h.type === 'link') {
      const target = h.type === 'symlink' ? path.posix.join(path.posix.dirname(name), h.linkname) : h.linkname;
      m.links.set(name, memberName(target));
      entry.resume();
      continue;
    }
    if (h.type !== 'file' && h.type !== 'contiguous-file') {
      entry.resume();
      continue;
    }
    const blobName = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    if (!blobName && isDocument(name, h.size)) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      m.docs.set(name, Buffer.concat(chunks));
      continue;
    }
    const body = new PassThrough();
    entry.on('error', (e: Error) => body.destroy(e));
    entry.pipe(body);
    const expected = blobName ? { digest: `sha256:${blobName[1]}` as Digest, size: h.size } : { size: h.size };
    const { digest } = await store.blobs.ingest(body, expected);
    m.blobs.set(name, digest);
  }
  return m;
}

/** A directory holding an OCI layout, read in place (blobs copied in, verified). */
async function readLayoutDir(store: ImageStore, dir: string): Promise<Members> {
  const m: Members = { docs: new Map(), blobs: new Map(), links: new Map() };
  const layout = new OciLayout(dir);
  m.docs.set('oci-layout', fs.readFileSync(path.join(dir, 'oci-layout')));
  m.docs.set('index.json', fs.readFileSync(path.join(dir, 'index.json')));
  for (const d of layout.list()) {
    if (!store.blobs.has(d)) await store.blobs.ingest(fs.createReadStream(layout.pathOf(d)), { digest: d });
    m.blobs.set(`blobs/sha256/${d.slice(7)}`, d);
  }
  return m;
}

function resolveMember(m: Members, name: string): string {
  let n = memberName(name);
  for (let i = 0; i < 16 && m.links.has(n); i++) n = m.links.get(n)!;
  return n;
}

/** A document by member name, or by digest from the blob store. */
function doc(store: ImageStore, m: Members, name: string): Buffer {
  const n = resolveMember(m, name);
  const inline = m.docs.get(n);
  if (inline) {
    const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(n);
    if (blob && sha256(inline) !== `sha256:${blob[1]}`) throw new UserError(`archive member ${n} does not match its digest`);
    return inline;
  }
  const d = m.blobs.get(n);
  if (d) return store.blobs.readBytes(d);
  throw new UserError(`archive has no ${name}`);
}

function json<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw new UserError(`${what}: not valid JSON`);
  }
}

/** Puts documents that arrived inline (OCI blobs named blobs/sha256/x) into the store. */
function storeInline(store: ImageStore, m: Members): void {
  for (const [name, data] of m.docs) {
    if (!/^blobs\/sha256\/[0-9a-f]{64}$/.test(name)) continue;
    const d = store.blobs.writeBytes(data, 'application/octet-stream').digest;
    if (`blobs/sha256/${d.slice(7)}` !== name) throw new UserError(`archive member ${name} does not match its digest`);
    m.blobs.set(name, d);
  }
}

/** The names an OCI index entry carries; a bare tag gets the archive's default name. */
function namesOf(desc: Descriptor, defaultName: string): string[] {
  const a = desc.annotations ?? {};
  const ref = a[REF_NAME];
  const full = a['io.containerd.image.name'];
  if (full) return [normalizeTagged(full)];
  if (!ref) return [];
  if (/[:/]/.test(ref)) return [normalizeTagged(ref)];
  return [normalizeTagged(`${defaultName}:${ref}`)];
}

async function loadOci(store: ImageStore, m: Members, defaultName: string): Promise<LoadResult> {
  storeInline(store, m);
  const index = json<ImageIndex>(doc(store, m, 'index.json'), 'index.json');
  const res: LoadResult = { images: [], names: [] };
  const add = async (desc: Descriptor, names: string[]): Promise<void> => {
    const digest = checkDigest(desc.digest);
    if (INDEX_TYPES.includes(desc.mediaType)) {
      // a multi-platform index: the entry for this machine's platform, else the first
      const inner = store.blobs.readJson<ImageIndex>(digest);
      const host = hostPlatform();
      const pick = inner.manifests.find((x) => x.platform?.architecture === host.architecture && x.platform.os === host.os) ?? inner.manifests[0];
      if (!pick) throw new UserError(`image index ${digest} lists no manifests`);
      return add(pick, names);
    }
    if (!MANIFEST_TYPES.includes(desc.mediaType)) return;
    const img = await store.addManifest(digest, names);
    res.images.push(img);
    res.names.push(...names);
  };
  for (const desc of index.manifests) await add(desc, namesOf(desc, defaultName));
  return res;
}

interface DockerManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function loadDocker(store: ImageStore, m: Members): Promise<LoadResult> {
  const items = json<DockerManifestItem[]>(doc(store, m, 'manifest.json'), 'manifest.json');
  const res: LoadResult = { images: [], names: [] };
  for (const item of items) {
    const configBytes = doc(store, m, item.Config);
    const config = store.blobs.writeBytes(configBytes, MediaType.ociConfig);
    const layers: Descriptor[] = item.Layers.map((l) => {
      const n = resolveMember(m, l);
      const d = m.blobs.get(n);
      if (!d) throw new UserError(`archive has no layer ${l}`);
      const gz = sniffCompression(store.blobs.pathOf(d)) === 'gzip';
      return { mediaType: gz ? MediaType.ociLayerGzip : MediaType.ociLayer, digest: d, size: store.blobs.sizeOf(d) ?? 0 };
    });
    const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers };
    const desc = store.blobs.writeJson(manifest, MediaType.ociManifest);
    const names = (item.RepoTags ?? []).map(normalizeTagged);
    res.images.push(await store.addManifest(desc.digest, names));
    res.names.push(...names);
  }
  return res;
}

export async function loadArchive(store: ImageStore, file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new UserError(`${file}: no such file or directory`);
  const defaultName = opts.defaultName ?? (path.basename(file).replace(/\.(tar|tgz|tar\.gz|oci)$/, '').toLowerCase().replace(/[^a-z0-9._-]/g, '') || 'image');
  return store.withLock(async () => {
    let m: Members;
    if (st.isDirectory()) {
      if (!OciLayout.isLayout(file)) throw new UserError(`${file}: a directory but not an OCI layout (no oci-layout, index.json)`);
      m = await readLayoutDir(store, file);
    } else {
      m = await readArchive(store, file, opts.onBytes);
    }
    if (m.docs.has('index.json') && (m.docs.has('oci-layout') || !m.docs.has('manifest.json'))) return loadOci(store, m, defaultName);
    if (m.docs.has('manifest.json')) return loadDocker(store, m);
    throw new UserError(`${file}: neither an OCI archive (index.json) nor a docker-archive (manifest.json)`);
  });
}
