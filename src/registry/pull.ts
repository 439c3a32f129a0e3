// Pull: manifest (choosing the platform from an index), then config and layers in parallel,
// every byte verified against its digest before it enters the image store's blobs. The image
// is recorded (layers extracted, name set) only after all its blobs are in, so an interrupted
// pull leaves the store as it was plus complete blobs and resumable partial files under
// ingest/; the next pull skips or resumes them.
import { sha256, type Digest } from '../image/digest.js';
import { IngestMismatchError, IngestRangeError, type Source } from '../image/partial-ingest.js';
import type { ImageStore, ResolvedImage } from '../image/store.js';
import { RegistryClient, isRetryableNetworkError, type ClientOptions } from './client.js';
import { RegistryError } from './errors.js';
import { readAll, type HttpResponse } from './http.js';
import { MANIFEST_ACCEPT, blobsOf, choosePlatform, hostPlatform, parseManifest, type Descriptor, type Platform } from './manifest.js';
import { silentProgress, shortDigest, type Progress } from './progress.js';
import { formatReference, isSha256Digest, manifestRef, parseReference, type Reference } from './reference.js';
import { BlobSources } from './sources.js';
import { forEachBounded } from './bounded.js';

export interface PullOptions extends ClientOptions {
  platform?: Platform;
  /** layers fetched at once */
  concurrency?: number;
  progress?: Progress;
}

export interface PullResult {
  name: string;
  image: ResolvedImage;
  manifest: Descriptor;
  layers: number;
  /** bytes received for blobs (resumed parts count once) */
  bytesFetched: number;
  blobsSkipped: number;
}

interface Fetched {
  bytes: Buffer;
  descriptor: Descriptor;
}

function pullScope(repository: string): string[] {
  return [`repository:${repository}:pull`];
}

async function fetchManifest(client: RegistryClient, ref: Reference, reference: string, expectDigest: string | undefined): Promise<Fetched> {
  const what = `${client.registry}/${ref.repository}:${reference}`.replace(/:sha256:/, '@sha256:');
  const res = await client.request({
    method: 'GET',
    path: `/v2/${ref.repository}/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: pullScope(ref.repository),
  });
  if (res.status !== 200) throw await client.failure(res, what);
  const bytes = await readAll(res, 4 << 20);
  const digest = sha256(bytes);
  const claimed = res.headers['docker-content-digest'];
  const expected = expectDigest ?? (typeof claimed === 'string' && claimed.startsWith('sha256:') ? claimed : undefined);
  if (expected !== undefined && expected !== digest) {
    throw new RegistryError('EDIGEST', `${what}: manifest does not match its digest (expected ${expected}, got ${digest}); refused`);
  }
  const contentType = res.headers['content-type'];
  const parsed = parseManifest(bytes, contentType, what);
  return { bytes, descriptor: { mediaType: parsed.mediaType, digest, size: bytes.length } };
}

function rangeStart(res: HttpResponse): number | undefined {
  const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
  return m ? Number(m[1]) : undefined;
}

function refused(e: IngestMismatchError): RegistryError {
  const { expected, got } = e;
  const what = expected.size !== undefined && got.size !== expected.size ? `${got.size} bytes, expected ${expected.size}` : `got ${got.digest}`;
  return new RegistryError('EDIGEST', `content for ${expected.digest} does not match its digest (${what}); refused`);
}

/** Fetches one blob into the store, resuming a partial download with Range. */
async function fetchBlob(client: RegistryClient, repository: string, desc: Descriptor, store: ImageStore, progress: Progress, stats: { bytes: number; skipped: number }): Promise<void> {
  const label = `Copying blob ${shortDigest(desc.digest)}`;
  const digest = desc.digest as Digest;
  if (store.blobs.has(digest)) {
    stats.skipped++;
    progress.bar(label, desc.size).done('skipped: already exists');
    return;
  }
  const bar = progress.bar(label, desc.size);
  const what = `${client.registry}/${repository}@${desc.digest}`;
  let shown = 0;
  let resumedAt = 0;
  const open: Source = async (kept) => {
    const res = await client.request({
      method: 'GET',
      path: `/v2/${repository}/blobs/${desc.digest}`,
      headers: kept > 0 ? { range: `bytes=${kept}-` } : {},
      scopes: pullScope(repository),
    });
    if (res.status !== 200 && res.status !== 206) throw await client.failure(res, what);
    // 200 to a Range request: the registry sends it all, and the kept bytes are replaced
    const start = res.status === 206 ? rangeStart(res) : 0;
    if (start !== 0 && start !== kept) throw new RegistryError('EPROTOCOL', `${what}: asked for bytes from ${kept}, got a range from ${start}`);
    resumedAt = start ?? 0;
    bar.advance(resumedAt - shown);
    shown = resumedAt;
    return { stream: res.body, start: resumedAt };
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await store.partials.ingest(open, { digest, size: desc.size }, {
        onBytes: (n) => {
          stats.bytes += n;
          shown += n;
          bar.advance(n);
        },
      });
      if (r === 'present') stats.skipped++;
      bar.done(r === 'present' ? 'skipped: already exists' : resumedAt > 0 ? `done (resumed at ${resumedAt})` : 'done');
      return;
    } catch (e) {
      if (e instanceof RegistryError || e instanceof IngestMismatchError || e instanceof IngestRangeError) {
        bar.done('refused');
        if (e instanceof IngestMismatchError) throw refused(e);
        if (e instanceof IngestRangeError) throw new RegistryError('EPROTOCOL', `${what}: ${e.message}`);
        throw e;
      }
      // a dropped connection mid-blob: keep what arrived and ask for the rest
      if (isRetryableNetworkError(e) && attempt < client.retries) {
        await client.backoff(attempt);
        continue;
      }
      bar.done('failed');
      throw new RegistryError('ENETWORK', `${what}: connection lost while downloading (${(e as Error).message})`);
    }
  }
}

/** The name a pull records: by tag (a pull by digest alone leaves the image untagged). */
function tagOf(ref: Reference): string[] {
  return ref.tag !== undefined ? [`${ref.registry}/${ref.repository}:${ref.tag}`] : [];
}

export async function pull(reference: string, store: ImageStore, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(reference);
  const client = new RegistryClient(ref.registry, opts);
  const progress = opts.progress ?? silentProgress;
  const platform = opts.platform ?? hostPlatform();
  const name = formatReference(ref);
  try {
    let top = await fetchManifest(client, ref, manifestRef(ref), ref.digest);
    let parsed = parseManifest(top.bytes, top.descriptor.mediaType, name);
    if (parsed.kind === 'index') {
      const chosen = choosePlatform(parsed.manifests, platform, name);
      top = await fetchManifest(client, ref, chosen.digest, chosen.digest);
      parsed = parseManifest(top.bytes, top.descriptor.mediaType, name);
      if (parsed.kind !== 'manifest') throw new RegistryError('EUNSUPPORTED', `${name}: nested indexes are not supported`);
      top.descriptor = { ...top.descriptor, ...(chosen.platform ? { platform: chosen.platform } : {}) };
    }
    const blobs = blobsOf(parsed);
    const foreign = blobs.find((d) => !isSha256Digest(d.digest));
    if (foreign) throw new RegistryError('EUNSUPPORTED', `${name}: blob ${foreign.digest}: only sha256 digests are supported`);
    const stats = { bytes: 0, skipped: 0 };
    const fetch = (d: Descriptor): Promise<void> => fetchBlob(client, ref.repository, d, store, progress, stats);
    await forEachBounded(blobs, opts.concurrency ?? 3, fetch);
    const manifest = top.descriptor;
    const image = await store.withLock(async () => {
      // a prune since the download removed blobs nothing referred to yet: fetch those again
      for (const d of blobs) if (!store.blobs.has(d.digest as Digest)) await fetch(d);
      store.blobs.writeBytes(top.bytes, manifest.mediaType);
      const img = await store.addManifest(manifest.digest as Digest, tagOf(ref));
      new BlobSources(store.root).record(ref.registry, ref.repository, blobs.map((d) => d.digest));
      return img;
    });
    return { name, image, manifest, layers: parsed.layers.length, bytesFetched: stats.bytes, blobsSkipped: stats.skipped };
  } finally {
    progress.close();
  }
}
