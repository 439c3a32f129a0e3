// Images written straight into a layout for protocol tests: the registry checks that the
// blobs a manifest names exist, not what is in them, so layers here are random bytes.
import crypto from 'node:crypto';
import type { Content } from '../../src/registry/content.js';
import { MediaType, type Descriptor, type Platform } from '../../src/registry/manifest.js';

export interface Synthetic {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  layerBytes: Buffer[];
}

function putJson(c: Content, doc: unknown): { digest: string; size: number; bytes: Buffer } {
  const bytes = Buffer.from(JSON.stringify(doc));
  return { digest: c.put(bytes), size: bytes.length, bytes };
}

export async function syntheticImage(c: Content, name: string | undefined, opts: { layerSizes: number[]; docker?: boolean; platform?: Platform }): Promise<Synthetic> {
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const layerBytes = opts.layerSizes.map((n) => crypto.randomBytes(n));
  const layerType = opts.docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
  const layers = layerBytes.map((b) => ({ mediaType: layerType, digest: c.put(b), size: b.length }));
  const cfg = putJson(c, { ...platform, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {}, nonce: crypto.randomBytes(8).toString('hex') });
  const config = { mediaType: opts.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: cfg.size };
  const mediaType = opts.docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const m = putJson(c, { schemaVersion: 2, mediaType, config, layers });
  const manifest = { mediaType, digest: m.digest, size: m.size };
  if (name) await c.setName(name, manifest);
  return { manifest, config, layers, layerBytes };
}

export async function syntheticIndex(c: Content, name: string, platforms: Platform[], docker = false): Promise<{ index: Descriptor; images: Synthetic[] }> {
  const images = await Promise.all(platforms.map((platform) => syntheticImage(c, undefined, { layerSizes: [1000], docker, platform })));
  const mediaType = docker ? MediaType.dockerList : MediaType.ociIndex;
  const idx = putJson(c, { schemaVersion: 2, mediaType, manifests: images.map((im, i) => ({ ...im.manifest, platform: platforms[i] })) });
  const index = { mediaType, digest: idx.digest, size: idx.size };
  await c.setName(name, index);
  return { index, images };
}
