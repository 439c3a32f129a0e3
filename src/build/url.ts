// ADD https://...: the one place a build touches the network. Without one it fails
// clearly, naming the URL, instead of hanging.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { verifyingTrust } from '../registry/http.js';
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

/** GET url, following up to 10 redirects, the whole exchange within timeoutMs. Over node's
 * http/https rather than fetch: fetch cannot be given the certificates of a
 * NODE_EXTRA_CA_CERTS the strata bin started node without (registry/extra-ca.ts). */
function get(url: URL, deadline: AbortSignal, redirects = 10): Promise<{ res: http.IncomingMessage; url: URL }> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const req = (isHttps ? https : http).get(url, { signal: deadline, ...(isHttps ? verifyingTrust() : {}) }, (res) => {
      const to = res.headers.location;
      if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && to !== undefined) {
        res.resume();
        const next = new URL(to, url);
        if (redirects === 0 || !isUrl(next.href)) reject(Object.assign(new Error(`too many redirects or a redirect to ${next.protocol}`), { code: 'EREDIRECT' }));
        else get(next, deadline, redirects - 1).then(resolve, reject);
      } else resolve({ res, url });
    });
    req.on('error', reject);
  });
}

async function readBody(res: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function download(url: string, timeoutMs = 15_000): Promise<Download> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let res: http.IncomingMessage;
  let content: Buffer;
  try {
    ({ res } = await get(new URL(url), deadline));
    if (res.statusCode !== undefined && (res.statusCode < 200 || res.statusCode > 299)) {
      res.resume();
      throw new BuildError(`ADD ${url}: the server answered ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd());
    }
    content = await readBody(res);
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
