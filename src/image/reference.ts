// Image references as the user types them: NAME[:TAG] or NAME@DIGEST, tag 'latest' by default.
import { UserError } from '../errors.js';

export const DEFAULT_TAG = 'latest';

// docker's grammar, loosely: lower-case path components, optional registry host[:port]
const NAME_RE = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface ParsedRef {
  name: string;
  tag?: string;
  digest?: string;
}

export function parseReference(ref: string): ParsedRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (!NAME_RE.test(rest)) throw new UserError(`invalid image name '${ref}'`);
  if (tag !== undefined && !TAG_RE.test(tag)) throw new UserError(`invalid tag in '${ref}'`);
  return { name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Docker Hub's names in their short form, as docker shows them: docker.io/library/x -> x. */
export function familiarName(name: string): string {
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/'])
    if (name.startsWith(prefix)) return name.slice(prefix.length);
  return name;
}

/** NAME[:TAG] with the default tag filled in: the form stored as ref.name. */
export function normalizeTagged(ref: string): string {
  const p = parseReference(ref);
  if (p.digest !== undefined) throw new UserError(`'${ref}': a digest reference cannot be used as a tag`);
  return `${familiarName(p.name)}:${p.tag ?? DEFAULT_TAG}`;
}

/** Splits a stored 'name:tag' into its two halves. */
export function splitTagged(tagged: string): { name: string; tag: string } {
  const colon = tagged.lastIndexOf(':');
  if (colon <= tagged.lastIndexOf('/')) return { name: tagged, tag: DEFAULT_TAG };
  return { name: tagged.slice(0, colon), tag: tagged.slice(colon + 1) };
}
