// The image store: an OCI image layout at the root (skopeo reads it as oci:ROOT:name:tag)
// plus layers/ (each layer extracted once, overlay format) and holds/ (images in use).
//
// API (used by run, build and registry; the contract in /work/team/contracts.md, final form):
//   openStore(root?) -> ImageStore            root: --root, $STRATA_ROOT, /var/lib/strata, XDG
//   store.resolveImage(ref) -> ResolvedImage  name[:tag] | id | id prefix | manifest digest | name@digest
//   store.tryResolveImage(ref)                the same, undefined when unknown
//   store.commit({ parent, layerDir, exclude?, config, history, tag?, emptyLayer?, timestamp? })
//        layerDir is an overlay upper (whiteouts char 0/0, opaque xattr, `.wh.` files read too);
//        config is the new image's config (rootfs, created and history are filled in here)
//   store.tag(image, ref)                     ref NAME[:TAG]; moves the tag if it exists
//   store.addManifest(manifestDigest, refs)   blobs already in store.blobs: verifies, extracts
//        the layers, records the image (what load and a registry pull end with)
//   store.blobs: OciLayout                    has(digest), openRead(digest), ingest(stream, {digest, size})
//   store.withLock(fn)                        run a multi-step change (e.g. a pull) under the lock
//   store.partials: PartialIngests            resumable verified downloads into blobs (ingest/)
//   store.hold(holder, image, durable?) / release(holder)  keeps an image's layers from rmi and prune
//        while a container uses them (the run module: holder = container id)
// Changes from the contract: ResolvedImage has also manifest, diffIds, chainIds, size;
// commit's config may omit rootfs/history (filled in); commit takes onBytes (progress).
//
// Decisions (details in the module named):
// - Tags are index.json entries with ref.name 'name:tag' (full, so `skopeo inspect
//   oci:ROOT:busybox:latest` works); an image whose last tag moved stays as an entry without
//   ref.name (Docker's <none>) until rmi; prune removes blobs and layer dirs nothing reaches.
// - Layer dirs (layers/<diff_id hex>/diff) are extracted from the stored blob, never copied
//   from the upper, so a mount sees exactly what the blob holds (layer-store.ts).
// - Rootless ownership: the tar's uid/gid are applied with lchown when the process may
//   (root, or root of a user namespace mapping them); else the file keeps the caller's ids
//   and "uid:gid:0mode" is recorded in user.containers.override_stat (containers/storage's
//   convention, which fuse-overlayfs honours), read back when a layer is generated.
//   Device nodes are skipped with a warning; whiteouts (0/0) are made either way.
// - Hardening policy (layer-extract.ts): '..' refused; a leading '/' stripped; no write
//   through a symlink; hard links only to files earlier in the same layer; duplicates: the
//   later entry replaces the earlier; overlay.* xattrs from a tar dropped; size and entry
//   limits against tar bombs.
// - Registry pulls: download blobs through store.partials (not under the store lock, which
//   would stall every other command for the length of a download), then under withLock check
//   they are all still there (a prune in between removes unreferenced ones), fetch any that
//   went, and addManifest.
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../sys/index.js';
import { UserError } from '../errors.js';
import { chainIds, checkDigest, hexOf, isDigest, type Digest } from './digest.js';
import { tempName, writeFileAtomic } from './atomic.js';
import { StoreLock, pidAlive } from './lock.js';
import { OciLayout } from './oci-layout.js';
import { LayerStore, type LayerRecord } from './layer-store.js';
import { PartialIngests } from './partial-ingest.js';
import { familiarName, normalizeTagged, parseReference } from './reference.js';
import {
  MANIFEST_TYPES,
  MediaType,
  REF_NAME,
  hostPlatform,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type ImageIndex,
  type Manifest,
} from './media.js';
import { storeRoot } from './root.js';

export type { ImageConfig, HistoryEntry, Manifest, Descriptor } from './media.js';
export type { Digest } from './digest.js';

export interface ResolvedImage {
  /** 'sha256:<hex>' of the config blob (Docker's image id) */
  id: Digest;
  manifestDigest: Digest;
  /** 'name:tag' refs pointing at it */
  names: string[];
  /** extracted layer dirs, TOP FIRST (ready for lowerdir=) */
  layerDirs: string[];
  config: ImageConfig;
  manifest: Manifest;
  diffIds: Digest[];
  chainIds: Digest[];
  /** bytes of file content in all layers */
  size: number;
}

export interface CommitOptions {
  parent: ResolvedImage | null;
  layerDir: string;
  exclude?: string[];
  config: Omit<ImageConfig, 'rootfs' | 'architecture' | 'os'> & Partial<Pick<ImageConfig, 'rootfs' | 'architecture' | 'os'>>;
  history: HistoryEntry;
  tag?: string;
  emptyLayer?: boolean;
  timestamp?: Date;
  /** called with the byte count of each piece of the layer tar as it is written */
  onBytes?: (n: number) => void;
}

export interface HistoryRow {
  created?: string;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
}

export interface PruneResult {
  blobs: number;
  layers: number;
  bytes: number;
}

function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
  if (mediaType === MediaType.dockerLayer) return MediaType.ociLayer;
  return mediaType;
}

function duBytes(p: string): number {
  let n = 0;
  const st = sys.lstatIfExists(p);
  if (!st) return 0;
  n += st.size;
  if (sys.isDir(st.mode)) for (const c of sys.readdirNames(p)) n += duBytes(path.join(p, c));
  return n;
}

export class ImageStore {
  readonly blobs: OciLayout;
  readonly layers: LayerStore;
  /** resumable downloads into blobs (a registry pull), under ingest/ */
  readonly partials: PartialIngests;
  readonly tmpDir: string;
  private readonly lock: StoreLock;
  private readonly holdsDir: string;
  private readonly json = new Map<Digest, unknown>();

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    this.holdsDir = path.join(root, 'holds');
    sys.mkdirp(this.tmpDir, 0o700);
    sys.mkdirp(this.holdsDir);
    this.blobs = OciLayout.init(root, this.tmpDir);
    this.layers = new LayerStore(root, this.blobs, this.tmpDir);
    this.partials = new PartialIngests(root, this.blobs);
    this.lock = StoreLock.for(path.join(root, 'lock'));
  }

  withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.lock.with(fn);
  }

  /** Blobs are immutable, so a parsed one is cached by digest (after verification). */
  readJson<T>(digest: Digest): T {
    let v = this.json.get(digest);
    if (v === undefined) {
      v = this.blobs.readJson<T>(digest);
      this.json.set(digest, v);
    }
    return v as T;
  }

  // ---- resolving ----------------------------------------------------------------------

  private entries(): Descriptor[] {
    return this.blobs.readIndex().manifests.filter((m) => MANIFEST_TYPES.includes(m.mediaType));
  }

  private build(manifestDigest: Digest, index: Descriptor[]): ResolvedImage {
    const manifest = this.readJson<Manifest>(manifestDigest);
    const config = this.readJson<ImageConfig>(checkDigest(manifest.config.digest));
    const diffIds = config.rootfs.diff_ids.map((d) => checkDigest(d, 'diff_id'));
    const names = index.filter((m) => m.digest === manifestDigest && m.annotations?.[REF_NAME]).map((m) => m.annotations![REF_NAME]!);
    const size = diffIds.reduce((n, d) => n + (this.layers.record(d)?.contentBytes ?? 0), 0);
    return {
      id: manifest.config.digest,
      manifestDigest,
      names: [...new Set(names)],
      layerDirs: diffIds.map((d) => this.layers.diffDir(d)).reverse(),
      config,
      manifest,
      diffIds,
      chainIds: chainIds(diffIds),
      size,
    };
  }

  /** Every image in the index, once each. */
  listImages(): ResolvedImage[] {
    const index = this.entries();
    return [...new Set(index.map((m) => m.digest))].map((d) => this.build(d, index));
  }

  tryResolveImage(ref: string): ResolvedImage | undefined {
    const index = this.entries();
    const byManifest = (d: string): ResolvedImage | undefined =>
      index.some((m) => m.digest === d) ? this.build(d as Digest, index) : undefined;
    if (isDigest(ref)) {
      const m = byManifest(ref);
      if (m) return m;
    }
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch {
      parsed = undefined;
    }
    if (parsed?.digest !== undefined) {
      const name = parsed.name;
      const img = byManifest(parsed.digest);
      // NAME@DIGEST: an image tagged NAME:*, or one kept untagged (as a pull by digest
      // leaves it); an image known only under other names is not NAME's
      return img && (img.names.length === 0 || img.names.some((n) => n.startsWith(`${familiarName(name)}:`))) ? img : undefined;
    }
    // a name wins over an id prefix that happens to be spelled the same
    if (parsed) {
      const tagged = normalizeTagged(ref);
      const hit = index.find((m) => m.annotations?.[REF_NAME] === tagged);
      if (hit) return this.build(hit.digest, index);
    }
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[0-9a-f]{4,64}$/.test(hex)) {
      const hits = this.listImages().filter((i) => hexOf(i.id).startsWith(hex) || (hex.length >= 12 && hexOf(i.manifestDigest).startsWith(hex)));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw new UserError(`'${ref}' is ambiguous: ${hits.length} images match`);
    }
    return undefined;
  }

  resolveImage(ref: string): ResolvedImage {
    const img = this.tryResolveImage(ref);
    if (!img) throw new UserError(`image '${ref}' not found in ${this.root}`);
    return img;
  }

  // ---- index changes (synchronous read-modify-write, under the lock) -------------------

  private updateIndex(fn: (manifests: Descriptor[]) => Descriptor[]): void {
    const index: ImageIndex = this.blobs.readIndex();
    index.manifests = fn(index.manifests);
    this.blobs.writeIndex(index);
  }

  /** Records an image, tagged `refs` (none: kept untagged, as Docker's <none>). */
  private record(desc: Descriptor, refs: string[]): void {
    const tagged = refs.map(normalizeTagged);
    this.updateIndex((ms) => {
      const plain: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      let out = ms.filter((m) => !tagged.includes(m.annotations?.[REF_NAME] ?? ''));
      // an image whose last tag moved away stays, untagged
      for (const m of ms) {
        if (tagged.includes(m.annotations?.[REF_NAME] ?? '') && m.digest !== desc.digest && !out.some((o) => o.digest === m.digest))
          out.push({ mediaType: m.mediaType, digest: m.digest, size: m.size });
      }
      if (tagged.length > 0) {
        out = out.filter((m) => !(m.digest === desc.digest && !m.annotations?.[REF_NAME]));
        for (const t of tagged) out.push({ ...plain, annotations: { [REF_NAME]: t } });
      } else if (!out.some((m) => m.digest === desc.digest)) {
        out.push(plain);
      }
      return out;
    });
  }

  tag(image: ResolvedImage, ref: string): void {
    const desc: Descriptor = { mediaType: image.manifest.mediaType ?? MediaType.ociManifest, digest: image.manifestDigest, size: this.blobs.sizeOf(image.manifestDigest) ?? 0 };
    this.lock.withSync(() => this.record(desc, [ref]));
  }

  /** Untags `ref` if it is a tag; removes the image itself when no tag is left or ref names
   * it by id. Held images (containers use them) are refused unless force. */
  async removeImage(ref: string, opts: { force?: boolean } = {}): Promise<{ untagged: string[]; deleted?: Digest }> {
    return this.withLock(() => {
      const img = this.resolveImage(ref);
      let tagged: string | undefined;
      try {
        tagged = normalizeTagged(ref);
      } catch {
        tagged = undefined;
      }
      const byName = tagged !== undefined && img.names.includes(tagged);
      const untagged = byName ? [tagged!] : img.names;
      const gone = !byName || img.names.length <= 1;
      if (gone && !opts.force) {
        const holders = this.holders(img.manifestDigest);
        if (holders.length > 0) throw new UserError(`image '${ref}' is in use by ${holders.join(', ')} (remove those first, or force)`);
      }
      this.updateIndex((ms) =>
        gone ? ms.filter((m) => m.digest !== img.manifestDigest) : ms.filter((m) => m.annotations?.[REF_NAME] !== tagged),
      );
      return gone ? { untagged, deleted: img.id } : { untagged };
    });
  }

  // ---- holds ----------------------------------------------------------------------------

  /** durable: false skips the fsyncs, for a holder that is gone after a crash anyway (a
   * `run --rm` container, whose record is garbage then); a lost hold only lets prune take
   * layers that nothing alive uses. */
  hold(holder: string, image: ResolvedImage, durable = true): void {
    if (!/^[A-Za-z0-9_.-]+$/.test(holder)) throw new Error(`invalid holder name '${holder}'`);
    const file = path.join(this.holdsDir, holder);
    if (durable) return writeFileAtomic(file, image.manifestDigest + '\n');
    const tmp = tempName(this.holdsDir, holder);
    fs.writeFileSync(tmp, image.manifestDigest + '\n');
    fs.renameSync(tmp, file);
  }

  release(holder: string): void {
    fs.rmSync(path.join(this.holdsDir, holder), { force: true });
  }

  private holds(): Map<string, Digest> {
    const out = new Map<string, Digest>();
    for (const h of sys.readdirNames(this.holdsDir)) {
      const d = fs.readFileSync(path.join(this.holdsDir, h), 'utf8').trim();
      if (isDigest(d)) out.set(h, d);
    }
    return out;
  }

  private holders(manifest: Digest): string[] {
    return [...this.holds()].filter(([, d]) => d === manifest).map(([h]) => h);
  }

  // ---- making images --------------------------------------------------------------------

  async commit(opts: CommitOptions): Promise<ResolvedImage> {
    return this.withLock(async () => {
      const ts = (opts.timestamp ?? new Date()).toISOString();
      const parent = opts.parent;
      const diffIds = [...(parent?.diffIds ?? [])];
      // an OCI manifest lists OCI media types, also for layers that came from a Docker registry
      const layers = (parent?.manifest.layers ?? []).map((l) => ({ ...l, mediaType: ociLayerType(l.mediaType) }));
      if (!opts.emptyLayer) {
        const { desc, record } = await this.layers.fromDir(opts.layerDir, { exclude: opts.exclude ?? [] }, opts.onBytes);
        diffIds.push(record.diffId);
        layers.push(desc);
      }
      const platform = hostPlatform();
      const { rootfs: _r, history: ownHistory, ...rest } = opts.config;
      void _r;
      const history = [...(ownHistory ?? parent?.config.history ?? [])];
      history.push({ created: ts, ...opts.history, ...(opts.emptyLayer ? { empty_layer: true } : {}) });
      const config: ImageConfig = {
        ...rest,
        architecture: opts.config.architecture ?? parent?.config.architecture ?? platform.architecture,
        os: opts.config.os ?? parent?.config.os ?? platform.os,
        created: ts,
        rootfs: { type: 'layers', diff_ids: diffIds },
        history,
      };
      const configDesc = this.blobs.writeJson(config, MediaType.ociConfig);
      const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers };
      const manifestDesc = this.blobs.writeJson(manifest, MediaType.ociManifest);
      this.record(manifestDesc, opts.tag ? [opts.tag] : []);
      return this.resolveImage(manifestDesc.digest);
    });
  }

  /** Blobs of manifestDigest (and its config and layers) must be in store.blobs already. */
  async addManifest(manifestDigest: Digest, refs: string[]): Promise<ResolvedImage> {
    return this.withLock(async () => {
      const manifest = this.readJson<Manifest>(manifestDigest);
      if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers))
        throw new UserError(`${manifestDigest}: not an image manifest`);
      const config = this.readJson<ImageConfig>(checkDigest(manifest.config.digest));
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length !== manifest.layers.length)
        throw new UserError(`${manifestDigest}: ${manifest.layers.length} layers but ${diffIds.length} diff_ids in its config`);
      for (let i = 0; i < diffIds.length; i++) {
        const blob = manifest.layers[i]!;
        if (!this.blobs.has(checkDigest(blob.digest))) throw new UserError(`${manifestDigest}: layer blob ${blob.digest} missing`);
        await this.layers.ensure(checkDigest(diffIds[i]!, 'diff_id'), blob);
      }
      const size = this.blobs.sizeOf(manifestDigest) ?? 0;
      this.record({ mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: manifestDigest, size }, refs);
      return this.resolveImage(manifestDigest);
    });
  }

  layerRecord(diffId: Digest): LayerRecord | undefined {
    return this.layers.record(diffId);
  }

  // ---- reading --------------------------------------------------------------------------

  /** Newest first, as `docker history` prints it. */
  history(image: ResolvedImage): HistoryRow[] {
    const rows: HistoryRow[] = [];
    let layer = 0;
    const hist = image.config.history ?? [];
    for (const h of hist) {
      const empty = h.empty_layer === true;
      const diff = empty ? undefined : image.diffIds[layer++];
      rows.push({
        ...(h.created !== undefined ? { created: h.created } : {}),
        createdBy: h.created_by ?? '',
        size: diff ? (this.layers.record(diff)?.contentBytes ?? 0) : 0,
        comment: h.comment ?? '',
        emptyLayer: empty,
      });
    }
    for (; layer < image.diffIds.length; layer++)
      rows.push({ createdBy: '', size: this.layers.record(image.diffIds[layer]!)?.contentBytes ?? 0, comment: '', emptyLayer: false });
    return rows.reverse();
  }

  // ---- garbage --------------------------------------------------------------------------

  /** Removes blobs and layer dirs that no image in the index (or held) refers to, and
   * temp files of processes that are gone. */
  async prune(): Promise<PruneResult> {
    return this.withLock(() => {
      const keepBlobs = new Set<Digest>();
      const keepLayers = new Set<Digest>();
      const manifests = new Set<Digest>([...this.blobs.readIndex().manifests.map((m) => m.digest), ...this.holds().values()]);
      for (const d of manifests) {
        keepBlobs.add(d);
        if (!this.blobs.has(d)) continue;
        const m = this.readJson<Manifest>(d);
        if (!m.config) continue;
        keepBlobs.add(m.config.digest);
        for (const l of m.layers) keepBlobs.add(l.digest);
        for (const diff of this.readJson<ImageConfig>(m.config.digest).rootfs.diff_ids) keepLayers.add(diff);
      }
      const res: PruneResult = { blobs: 0, layers: 0, bytes: 0 };
      for (const b of this.blobs.list()) {
        if (keepBlobs.has(b)) continue;
        res.bytes += this.blobs.sizeOf(b) ?? 0;
        this.blobs.delete(b);
        this.json.delete(b);
        res.blobs++;
      }
      for (const l of this.layers.list()) {
        if (keepLayers.has(l)) continue;
        res.bytes += duBytes(path.join(this.layers.dir, hexOf(l)));
        this.layers.remove(l);
        res.layers++;
      }
      for (const t of sys.readdirNames(this.tmpDir)) {
        const pid = Number(/^(?:\.[^.]+\.|[a-z]+-)(\d+)[.-]/.exec(t)?.[1]);
        if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) fs.rmSync(path.join(this.tmpDir, t), { recursive: true, force: true });
      }
      // downloads in progress hold their lock and are kept; a killed pull's leftovers go
      res.bytes += this.partials.prune();
      return res;
    });
  }
}

const stores = new Map<string, ImageStore>();

/** One ImageStore per root per process, so its lock is re-entrant across callers. */
export function openStore(root?: string): ImageStore {
  const r = storeRoot(root);
  let s = stores.get(r);
  if (!s) {
    sys.mkdirp(r, 0o700);
    s = new ImageStore(r);
    stores.set(r, s);
  }
  return s;
}
