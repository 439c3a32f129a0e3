// Push: each blob is HEADed first and skipped when present; a blob seen in another
// repository of the same registry is mounted from it (?mount=&from=); the rest are
// uploaded with POST then PUT (one request when small, PATCH chunks with Content-Range when
// large); the manifest goes last, by tag, so the tag never names missing blobs.
import type { Readable } from 'node:stream';
import { checkDigest, type Digest } from '../image/digest.js';
import { MediaType as ImageMediaType } from '../image/media.js';
import type { ImageStore } from '../image/store.js';
import { RegistryClient, type ClientOptions } from './client.js';
import { RegistryError } from './errors.js';
import { discard, type HttpResponse } from './http.js';
import { blobsOf, parseManifest, type Descriptor } from './manifest.js';
import { silentProgress, shortDigest, type Progress, type ProgressBar } from './progress.js';
import { formatReference, manifestRef, parseReference, type Reference } from './reference.js';
import { BlobSources } from './sources.js';
import { forEachBounded } from './bounded.js';

export const DEFAULT_CHUNK_SIZE = 8 << 20;

export interface PushOptions extends ClientOptions {
  /** blobs larger than this go up in PATCH chunks of this size */
  chunkSize?: number;
  concurrency?: number;
  progress?: Progress;
}

export interface PushResult {
  destination: string;
  digest: string;
  uploaded: number;
  mounted: number;
  skipped: number;
}

type Outcome = 'uploaded' | 'mounted' | 'skipped';

/** What push reads blobs from: the image store, or any OCI layout (tests push indexes,
 * which the store does not keep, from one). */
export interface PushSource {
  /** where the blob-sources hint file lives */
  readonly root: string;
  readonly blobs: {
    has(digest: Digest): boolean;
    /** fails at its end if the bytes do not match the digest */
    openRead(digest: Digest): Readable;
    readBytes(digest: Digest): Buffer;
  };
  withLock<T>(fn: () => Promise<T> | T): Promise<T>;
}

/** The manifest descriptor of a store image (`strata images` names, ids and digests). */
export function localManifest(store: ImageStore, image: string): Descriptor {
  const img = store.resolveImage(image);
  const size = store.blobs.sizeOf(img.manifestDigest) ?? 0;
  return { mediaType: img.manifest.mediaType ?? ImageMediaType.ociManifest, digest: img.manifestDigest, size };
}

const blobDigest = (d: Descriptor): Digest => checkDigest(d.digest);

async function* chunks(src: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let n = 0;
  for await (const c of src as AsyncIterable<Buffer>) {
    pending.push(c);
    n += c.length;
    while (n >= size) {
      const all = Buffer.concat(pending);
      yield all.subarray(0, size);
      pending = [all.subarray(size)];
      n -= size;
    }
  }
  if (n > 0) yield Buffer.concat(pending);
}

class BlobPusher {
  constructor(
    private readonly client: RegistryClient,
    private readonly ref: Reference,
    private readonly source: PushSource,
    private readonly sources: BlobSources,
    private readonly chunkSize: number,
  ) {}

  private get scopes(): string[] {
    return [`repository:${this.ref.repository}:pull,push`];
  }

  private what(d: Descriptor): string {
    return `${this.ref.registry}/${this.ref.repository}@${d.digest}`;
  }

  private async expect(res: HttpResponse, status: number, what: string): Promise<HttpResponse> {
    if (res.status !== status) throw await this.client.failure(res, what);
    return res;
  }

  async push(d: Descriptor, bar: ProgressBar): Promise<Outcome> {
    if (!this.source.blobs.has(blobDigest(d))) throw new RegistryError('ELOCAL', `${this.source.root}: blob ${d.digest} is missing`);
    const head = await this.client.request({ method: 'HEAD', path: `/v2/${this.ref.repository}/blobs/${d.digest}`, scopes: this.scopes });
    discard(head);
    if (head.status === 200) return 'skipped';
    // auth failures are about the repository, not this blob
    if (head.status !== 404) throw await this.client.failure(head, head.status === 401 || head.status === 403 ? `${this.ref.registry}/${this.ref.repository}` : this.what(d));
    let location: URL | undefined;
    for (const from of this.sources.repositories(this.ref.registry, d.digest).filter((r) => r !== this.ref.repository)) {
      const res = await this.client.request({
        method: 'POST',
        path: `/v2/${this.ref.repository}/blobs/uploads/?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from)}`,
        scopes: [...this.scopes, `repository:${from}:pull`],
      });
      discard(res);
      if (res.status === 201) return 'mounted';
      // 202: the registry could not mount and opened an ordinary upload instead
      if (res.status === 202) {
        location = this.client.resolveLocation(res, this.what(d));
        break;
      }
    }
    // a failed upload session is abandoned and the blob sent again once from the start
    for (let attempt = 0; ; attempt++) {
      try {
        await this.upload(d, location, bar);
        return 'uploaded';
      } catch (e) {
        if (!(e instanceof RegistryError) || !['ENETWORK', 'ESERVER'].includes(e.code) || attempt >= 1) throw e;
        location = undefined;
        await this.client.backoff(attempt);
      }
    }
  }

  private async upload(d: Descriptor, started: URL | undefined, bar: ProgressBar): Promise<void> {
    const what = this.what(d);
    let location = started;
    if (!location) {
      const res = await this.expect(await this.client.request({ method: 'POST', path: `/v2/${this.ref.repository}/blobs/uploads/`, scopes: this.scopes }), 202, what);
      discard(res);
      location = this.client.resolveLocation(res, what);
    }
    const octets = { 'content-type': 'application/octet-stream' };
    if (d.size > this.chunkSize) {
      let offset = 0;
      for await (const chunk of chunks(this.source.blobs.openRead(blobDigest(d)), this.chunkSize)) {
        const res = await this.client.request({
          method: 'PATCH',
          path: location,
          headers: { ...octets, 'content-range': `${offset}-${offset + chunk.length - 1}` },
          body: chunk,
          scopes: this.scopes,
          retry: false,
        });
        await this.expect(res, 202, `${what} (chunk at ${offset})`);
        discard(res);
        location = this.client.resolveLocation(res, what);
        offset += chunk.length;
        bar.advance(chunk.length);
      }
      if (offset !== d.size) throw new RegistryError('ELOCAL', `${this.source.root}: blob ${d.digest} has ${offset} bytes, its descriptor says ${d.size}`);
      location.searchParams.set('digest', d.digest);
      await this.finish(await this.client.request({ method: 'PUT', path: location, scopes: this.scopes, retry: false }), d);
    } else {
      location.searchParams.set('digest', d.digest);
      const body = { length: d.size, open: () => this.source.blobs.openRead(blobDigest(d)) };
      await this.finish(await this.client.request({ method: 'PUT', path: location, headers: octets, body, scopes: this.scopes, retry: false }), d);
      bar.advance(d.size);
    }
  }

  private async finish(res: HttpResponse, d: Descriptor): Promise<void> {
    await this.expect(res, 201, this.what(d));
    discard(res);
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== d.digest) throw new RegistryError('EDIGEST', `${this.what(d)}: registry stored ${got}; refused`);
  }

  async putManifest(bytes: Buffer, desc: Descriptor, reference: string): Promise<void> {
    const what = `${this.ref.registry}/${this.ref.repository}:${reference}`;
    const res = await this.client.request({
      method: 'PUT',
      path: `/v2/${this.ref.repository}/manifests/${reference}`,
      headers: { 'content-type': desc.mediaType },
      body: bytes,
      scopes: this.scopes,
    });
    await this.expect(res, 201, what);
    discard(res);
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== desc.digest) throw new RegistryError('EDIGEST', `${what}: registry computed ${got} for manifest ${desc.digest}`);
  }
}

/** Pushes store image `image` (a name, id or digest) to destination (default: image). */
export async function push(image: string, destination: string | undefined, store: ImageStore, opts: PushOptions = {}): Promise<PushResult> {
  return pushManifest(store, localManifest(store, image), destination ?? image, opts);
}

/** Pushes the manifest or index `local` and every blob it names from source. */
export async function pushManifest(source: PushSource, local: Descriptor, destination: string, opts: PushOptions = {}): Promise<PushResult> {
  const ref = parseReference(destination);
  if (ref.digest && ref.digest !== local.digest) {
    throw new RegistryError('EDIGEST', `${destination}: the image's manifest is ${local.digest}, not ${ref.digest}`);
  }
  const client = new RegistryClient(ref.registry, opts);
  const sources = new BlobSources(source.root);
  const pusher = new BlobPusher(client, ref, source, sources, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const progress = opts.progress ?? silentProgress;
  const counts = { uploaded: 0, mounted: 0, skipped: 0 };
  const pushed: string[] = [];

  const pushOne = async (desc: Descriptor, reference: string): Promise<void> => {
    const bytes = source.blobs.readBytes(blobDigest(desc));
    const parsed = parseManifest(bytes, desc.mediaType, `${destination} (${desc.digest})`);
    if (parsed.kind === 'index') {
      for (const m of parsed.manifests) {
        if (source.blobs.has(blobDigest(m))) await pushOne(m, m.digest);
        else throw new RegistryError('ELOCAL', `${destination}: manifest ${m.digest} of its index is not in ${source.root}`);
      }
    } else {
      const blobs = blobsOf(parsed);
      await forEachBounded(blobs, opts.concurrency ?? 3, async (d) => {
        const bar = progress.bar(`Copying blob ${shortDigest(d.digest)}`, d.size);
        const outcome = await pusher.push(d, bar);
        counts[outcome]++;
        pushed.push(d.digest);
        bar.done(outcome === 'uploaded' ? 'done' : outcome === 'mounted' ? 'mounted' : 'skipped: already exists');
      });
    }
    await pusher.putManifest(bytes, { ...desc, mediaType: parsed.mediaType }, reference);
  };

  try {
    await pushOne(local, manifestRef(ref));
  } finally {
    progress.close();
  }
  await source.withLock(() => sources.record(ref.registry, ref.repository, pushed));
  return { destination: formatReference(ref), digest: local.digest, ...counts };
}
