// Content addresses: 'sha256:<64 hex>' digests, hashing while streaming, chain ids.
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/** Throws a plain Error naming the bad value: a digest comes from a manifest, an index or a
 * caller, never from the user directly, so a bad one is corrupt input. */
export function checkDigest(s: string, what = 'digest'): Digest {
  if (!isDigest(s)) throw new Error(`invalid ${what} '${s}' (only sha256 digests are supported)`);
  return s;
}

export function hexOf(d: Digest): string {
  return d.slice('sha256:'.length);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + ' ' + diffID(Ln)), as the
 * OCI image spec defines it: the identity of a layer together with everything beneath it. */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash = crypto.createHash('sha256');
  private count = 0;
  private result: Digest | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = `sha256:${this.hash.digest('hex')}`;
    cb();
  }

  get size(): number {
    return this.count;
  }

  /** Valid once the stream has ended. */
  get digest(): Digest {
    if (!this.result) throw new Error('digest read before the stream ended');
    return this.result;
  }
}
