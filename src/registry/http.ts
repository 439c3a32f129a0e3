// One HTTP exchange over node's http/https, nothing more: retries, auth and redirects are
// the client's. Bodies are Buffers or factories of streams so a request can be sent again.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import tls from 'node:tls';
import { deferredExtraCaFile } from './extra-ca.js';

export type Body = Buffer | { length: number; open: () => Readable };

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Body;
  /** aborts the exchange, the body's reading included */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  url: URL;
  /** how many times the request was sent to get this answer */
  attempts?: number;
}

export interface Transport {
  /** false: accept any certificate (--tls-verify=false) */
  verifyTls: boolean;
  /** a socket silent this long is abandoned */
  idleTimeoutMs: number;
}

let trust: { secureContext?: tls.SecureContext } | undefined;

/** The TLS options that verify certificates against what node's default store would hold:
 * none, unless node was started without NODE_EXTRA_CA_CERTS (extra-ca.ts); then one
 * context with node's own roots and the file's (an explicit ca list replaces the roots).
 * A file that cannot be read or parsed is ignored with node's own warning. Built once:
 * ~100 ms for ~300 certificates, what node would have spent at start-up. */
function verifyingTrust(): { secureContext?: tls.SecureContext } {
  if (trust) return trust;
  trust = {};
  const file = deferredExtraCaFile();
  if (file === undefined) return trust;
  try {
    trust = { secureContext: tls.createSecureContext({ ca: [...tls.rootCertificates, fs.readFileSync(file, 'utf8')] }) };
  } catch (e) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
  }
  return trust;
}

let pool: { http: http.Agent; https: https.Agent; httpsNoVerify: https.Agent } | undefined;

// made on first use: verifyingTrust() reads the CA file
const agents = (): NonNullable<typeof pool> =>
  (pool ??= {
    http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 8, ...verifyingTrust() }),
    httpsNoVerify: new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false }),
  });

/** One exchange. A kept-alive socket the server closed just as we reused it fails with
 * ECONNRESET before any answer: that request is sent once more on a fresh connection (the
 * case Node documents with request.reusedSocket), also when it is an upload the caller
 * does not retry: otherwise a loaded machine or an idle timeout restarts whole uploads. */
export async function send(req: HttpRequest, t: Transport): Promise<HttpResponse> {
  try {
    return await sendOn(req, t, false);
  } catch (e) {
    if ((e as { reusedSocket?: boolean }).reusedSocket && (e as { code?: string }).code === 'ECONNRESET') return sendOn(req, t, true);
    throw e;
  }
}

function sendOn(req: HttpRequest, t: Transport, fresh: boolean): Promise<HttpResponse> {
  const isHttps = req.url.protocol === 'https:';
  const headers: Record<string, string> = { 'user-agent': 'strata', ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(req.body.length);
  else if (req.method !== 'GET' && req.method !== 'HEAD') headers['content-length'] = '0';
  const options: https.RequestOptions = {
    method: req.method,
    headers,
    agent: fresh ? false : isHttps ? (t.verifyTls ? agents().https : agents().httpsNoVerify) : agents().http,
    ...(req.signal ? { signal: req.signal } : {}),
    ...(fresh && isHttps ? (t.verifyTls ? verifyingTrust() : { rejectUnauthorized: false }) : {}),
  };
  return new Promise((resolve, reject) => {
    const r = (isHttps ? https : http).request(req.url, options, (res) => {
      res.setTimeout(t.idleTimeoutMs, () => res.destroy(Object.assign(new Error('read timed out'), { code: 'ETIMEDOUT' })));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: req.url });
    });
    r.setTimeout(t.idleTimeoutMs, () => r.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    r.on('error', (e) => reject(Object.assign(e, { reusedSocket: r.reusedSocket })));
    if (req.body === undefined) r.end();
    else if (Buffer.isBuffer(req.body)) r.end(req.body);
    // pipeline destroys the file stream too when the request fails; the error reaches us via r
    else pipeline(req.body.open(), r, () => undefined);
  });
}

/** The whole body, refusing more than limit bytes (manifests, errors, tokens). */
export async function readAll(res: HttpResponse, limit = 8 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.body.destroy();
      throw Object.assign(new Error(`response from ${res.url.host} larger than ${limit} bytes`), { code: 'ETOOBIG' });
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Drains a body we do not need so the connection can be reused. */
export function discard(res: HttpResponse): void {
  res.body.resume();
}
