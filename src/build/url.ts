// ADD https://...: the one place a build touches the network. Without one it fails
// clearly, naming the URL, instead of hanging.
import { createHash } from 'node:crypto';
import { discard, readAll, send, type HttpResponse } from '../registry/http.js';
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

/** GET url, following up to 10 redirects, the whole exchange within the deadline. Over
 * registry/http.ts's send rather than fetch: fetch cannot be given the certificates of a
 * NODE_EXTRA_CA_CERTS the strata bin started node without (registry/extra-ca.ts). */
async function get(url: URL, deadline: AbortSignal, idleTimeoutMs: number): Promise<HttpResponse> {
  for (let redirects = 0; ; redirects++) {
    const res = await send({ method: 'GET', url, signal: deadline }, { verifyTls: true, idleTimeoutMs });
    const to = res.headers.location;
    if (res.status < 300 || res.status >= 400 || to === undefined) return res;
    discard(res);
    const next = new URL(to, url);
    if (redirects === 10 || !isUrl(next.href)) throw Object.assign(new Error(`too many redirects or a redirect to ${next.protocol}`), { code: 'EREDIRECT' });
    url = next;
  }
}

export async function download(url: string, timeoutMs = 15_000): Promise<Download> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let res: HttpResponse;
  let content: Buffer;
  try {
    res = await get(new URL(url), deadline, timeoutMs);
    if (res.status < 200 || res.status > 299) {
      discard(res);
      throw new BuildError(`ADD ${url}: the server answered ${res.status} ${res.body.statusMessage ?? ''}`.trimEnd());
    }
    content = await readAll(res, Number.POSITIVE_INFINITY);
  } catch (e) {
    if (e instanceof BuildError) throw e;
    const err = e as { code?: string; message?: string; name?: string };
    const why = err.name === 'AbortError' ? 'timed out' : (err.code ?? err.message);
    throw new BuildError(`ADD ${url}: cannot download (${why}): no network, or the host cannot be reached`);
  }
  const lm = res.headers['last-modified'];
  const mtime = lm ? Math.floor(Date.parse(lm) / 1000) : undefined;
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || 'index.html';
  return { content, mtime: Number.isFinite(mtime) ? mtime : undefined, name };
}
