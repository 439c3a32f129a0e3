// The manifest kinds a registry serves (OCI and Docker schema 2, single and multi-platform)
// and the choice of one platform from an index.
import { RegistryError } from './errors.js';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Sent on every manifest GET, most preferred first. */
export const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[] }
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] };

function isDescriptor(v: unknown): v is Descriptor {
  const d = v as Descriptor;
  return !!d && typeof d === 'object' && typeof d.mediaType === 'string' && typeof d.digest === 'string' && Number.isSafeInteger(d.size) && d.size >= 0;
}

/** Parses manifest bytes; the media type comes from the body, else from Content-Type. */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  let doc: { mediaType?: unknown; schemaVersion?: unknown; config?: unknown; layers?: unknown; manifests?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw new RegistryError('EPROTOCOL', `${what}: manifest is not JSON`);
  }
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : (contentType ?? '').split(';')[0]!.trim();
  if (doc.schemaVersion === 1 || declared === MediaType.dockerSchema1 || declared === MediaType.dockerSchema1Signed) {
    throw new RegistryError('EUNSUPPORTED', `${what}: Docker schema 1 manifests are not supported`);
  }
  if (Array.isArray(doc.manifests)) {
    if (!doc.manifests.every(isDescriptor)) throw new RegistryError('EPROTOCOL', `${what}: malformed index`);
    return { kind: 'index', mediaType: declared || MediaType.ociIndex, manifests: doc.manifests };
  }
  if (isDescriptor(doc.config) && Array.isArray(doc.layers) && doc.layers.every(isDescriptor)) {
    return { kind: 'manifest', mediaType: declared || MediaType.ociManifest, config: doc.config, layers: doc.layers };
  }
  throw new RegistryError('EPROTOCOL', `${what}: neither an image manifest nor an index (${declared || 'no media type'})`);
}

/** The blobs an image manifest names, config first, each once (layers may repeat). */
export function blobsOf(m: { config: Descriptor; layers: Descriptor[] }): Descriptor[] {
  const seen = new Set<string>();
  return [m.config, ...m.layers].filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}

const ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** This machine's platform in OCI terms (linux/amd64 here). */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return { os: process.platform === 'linux' ? 'linux' : process.platform, architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, ...more] = s.split('/');
  if (!os || !architecture || more.length > 0) throw new RegistryError('EREFERENCE', `invalid platform "${s}": expected OS/ARCH[/VARIANT]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** arm64's variant is v8 whether written or not, as containerd's matcher treats it. */
function variantOf(p: Platform): string | undefined {
  return p.variant ?? (p.architecture === 'arm64' ? 'v8' : undefined);
}

export function choosePlatform(manifests: Descriptor[], want: Platform, what: string): Descriptor {
  const candidates = manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture);
  const wantVariant = variantOf(want);
  const exact = candidates.find((m) => variantOf(m.platform!) === wantVariant);
  const chosen = exact ?? (wantVariant === undefined || want.variant === undefined ? candidates[0] : undefined);
  if (!chosen) {
    const have = manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
    throw new RegistryError('EPLATFORM', `${what}: no image for ${formatPlatform(want)} (available: ${have.join(', ') || 'none'})`);
  }
  return chosen;
}
