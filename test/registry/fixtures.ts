// Small images written straight into a store for protocol tests: each layer a gzipped tar
// of one file of random bytes (random, so layers never repeat across tests), extractable
// like any pulled layer.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { ExecutionContext } from 'ava';
import { checkDigest, sha256, type Digest } from '../../src/image/digest.js';
import { OciLayout } from '../../src/image/oci-layout.js';
import type { ImageStore } from '../../src/image/store.js';
import { MediaType, type Descriptor, type Platform } from '../../src/registry/manifest.js';
import type { PushSource } from '../../src/registry/push.js';
import { makeTar } from '../helpers/images.js';
import { tempDir } from '../helpers/tmp.js';

export interface Synthetic {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  /** the layer blobs as stored (gzip) */
  layerBytes: Buffer[];
  /** path -> content of the file each layer adds */
  files: Map<string, Buffer>;
}

/** A blob of store, verified (tests compare bytes). */
export function readBlob(store: ImageStore, digest: string): Buffer {
  return store.blobs.readBytes(checkDigest(digest));
}

/** The manifest digest a store name points at, if any. */
export function lookup(store: ImageStore, name: string): string | undefined {
  return store.tryResolveImage(name)?.manifestDigest;
}

function putJson(blobs: OciLayout, doc: unknown, mediaType: string): Descriptor {
  return blobs.writeJson(doc, mediaType);
}

/** Writes an image's blobs (not its name) into blobs. */
export async function writeImage(blobs: OciLayout, opts: { layerSizes: number[]; docker?: boolean; platform?: Platform }): Promise<Synthetic> {
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const layerType = opts.docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
  const files = new Map<string, Buffer>();
  const diffIds: Digest[] = [];
  const layerBytes: Buffer[] = [];
  for (const n of opts.layerSizes) {
    const name = `data/${crypto.randomBytes(6).toString('hex')}`;
    const content = crypto.randomBytes(n);
    files.set(name, content);
    const tar = await makeTar([{ name: 'data/', type: 'directory' }, { name, content }]);
    diffIds.push(sha256(tar));
    layerBytes.push(zlib.gzipSync(tar, { level: 1 }));
  }
  const layers = layerBytes.map((b) => blobs.writeBytes(b, layerType));
  const configType = opts.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json';
  const config = putJson(blobs, { ...platform, rootfs: { type: 'layers', diff_ids: diffIds }, config: { Cmd: ['sh'] } }, configType);
  const mediaType = opts.docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const manifest = putJson(blobs, { schemaVersion: 2, mediaType, config, layers }, mediaType);
  return { manifest, config, layers, layerBytes, files };
}

/** An image in store, tagged name. */
export async function syntheticImage(store: ImageStore, name: string, opts: { layerSizes: number[]; docker?: boolean; platform?: Platform }): Promise<Synthetic> {
  const img = await writeImage(store.blobs, opts);
  await store.addManifest(img.manifest.digest as Digest, [name]);
  return img;
}

/** A multi-platform image in a plain OCI layout (the store keeps no indexes), ready for
 * pushManifest. */
export async function syntheticIndex(t: ExecutionContext, platforms: Platform[], docker = false): Promise<{ index: Descriptor; images: Synthetic[]; source: PushSource }> {
  const dir = tempDir(t);
  const layout = OciLayout.init(dir);
  const images = await Promise.all(platforms.map((platform) => writeImage(layout, { layerSizes: [1000], docker, platform })));
  const mediaType = docker ? MediaType.dockerList : MediaType.ociIndex;
  const index = putJson(layout, { schemaVersion: 2, mediaType, manifests: images.map((im, i) => ({ ...im.manifest, platform: platforms[i] })) }, mediaType);
  return { index, images, source: { root: dir, blobs: layout, withLock: async (fn) => fn() } };
}
