// ADD https://...: the one place a build touches the network. Without one it fails
// clearly, naming the URL, instead of hanging.
import { createHash } from 'node:crypto';
import { BuildError } from './errors.js';

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

export interface Download {
  content: Buffer;
  /** from Last-Modified, seconds; undefined when the server gave none */
  mtime?: number;
  /** the file name ADD uses when the destination is a directory */
  name: string;
}

/** ADD --checksum=sha256:<hex> */
export function verifyChecksum(url: string, content: Buffer, checksum: string): void {
  const m = /^sha256:([0-9a-f]{64})$/.exec(checksum);
  if (!m) throw new BuildError(`--checksum=${checksum}: sha256:<64 hex digits> is needed`);
  const got = createHash('sha256').update(content).digest('hex');
  if (got !== m[1]) throw new BuildError(`ADD ${url}: checksum mismatch: expected ${checksum}, got sha256:${got}`);
}

export async function download(url: string, timeoutMs = 15_000): Promise<Download> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new BuildError(`ADD ${url}: cannot download (${why}): no network, or the host cannot be reached`);
  }
  if (!res.ok) throw new BuildError(`ADD ${url}: the server answered ${res.status} ${res.statusText}`);
  const content = Buffer.from(await res.arrayBuffer());
  const lm = res.headers.get('last-modified');
  const mtime = lm ? Math.floor(Date.parse(lm) / 1000) : undefined;
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || 'index.html';
  return { content, mtime: Number.isFinite(mtime) ? mtime : undefined, name };
}
