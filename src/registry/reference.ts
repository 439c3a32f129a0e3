// Image references parsed the way Docker does (distribution/reference): the first path
// component is a registry host only if it holds a '.' or ':' or is 'localhost'; Docker Hub
// is the default and single names there live under library/; tag defaults to latest.
import { RegistryError } from './errors.js';

export interface Reference {
  registry: string; // host[:port] as written, docker.io for the Hub
  repository: string; // path inside the registry, e.g. library/alpine
  tag?: string;
  digest?: string; // 'sha256:<hex>'
}

export const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

function bad(ref: string, why: string): RegistryError {
  return new RegistryError('EREFERENCE', `invalid reference "${ref}": ${why}`);
}

export function isSha256Digest(s: string): boolean {
  return SHA256.test(s);
}

export function parseReference(ref: string): Reference {
  let rest = ref.trim();
  if (rest.startsWith('docker://')) rest = rest.slice('docker://'.length);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(ref, `"${digest}" is not a digest`);
    if (!SHA256.test(digest)) throw new RegistryError('EUNSUPPORTED', `${ref}: only sha256 digests are supported`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(ref, `"${tag}" is not a valid tag`);
  }
  if (rest === '') throw bad(ref, 'no repository name');
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!HOST.test(first)) throw bad(ref, `"${first}" is not a registry host`);
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  for (const c of repository.split('/')) {
    if (!COMPONENT.test(c)) {
      throw bad(ref, c.toLowerCase() !== c ? 'repository names must be lowercase' : `"${c}" is not a valid path component`);
    }
  }
  if (repository.length > 255) throw bad(ref, 'repository name longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The fully qualified name, e.g. docker.io/library/alpine:latest or host:5000/x@sha256:... */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** What a manifest GET/PUT names: the digest when there is one, else the tag. */
export function manifestRef(r: Reference): string {
  return r.digest ?? r.tag ?? 'latest';
}

/** The host the API lives on: Docker Hub's name differs from its API host. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Loopback registries may speak plain http without --tls-verify=false, as Docker allows. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
