// A client for one registry (the OCI distribution API): picks https or, when allowed, plain
// http; authenticates with Basic or a Bearer token from the challenge's realm; retries
// 5xx/429 and dropped connections with bounded exponential backoff; follows redirects of
// blob GETs (dropping credentials on another host); turns failures into RegistryErrors.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseChallenges, type Challenge } from './challenge.js';
import { loadCredentials, type Credentials } from './credentials.js';
import { RegistryError } from './errors.js';
import { discard, readAll, send, type Body, type HttpResponse, type Transport } from './http.js';
import { apiHost, isLoopback } from './reference.js';

export interface ClientOptions {
  /** false allows plain http and any certificate (--tls-verify=false) */
  tlsVerify?: boolean;
  /** attempts after the first for 5xx and dropped connections */
  retries?: number;
  /** first backoff; doubles each attempt */
  retryBaseMs?: number;
  idleTimeoutMs?: number;
  /** else read from the auth file */
  credentials?: Credentials;
  authFile?: string;
}

export interface ApiRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** a path under the registry (/v2/...) or an absolute upload URL from a Location header */
  path: string | URL;
  headers?: Record<string, string>;
  body?: Body;
  /** token scopes the request needs, e.g. repository:x:pull */
  scopes: string[];
  /** false for requests whose repetition is not safe (PATCH of a chunk) */
  retry?: boolean;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

export function isRetryableNetworkError(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && RETRY_CODES.has(code);
}

function describeNetworkError(host: string, e: unknown): string {
  const code = codeOf(e);
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset by the registry',
    ETIMEDOUT: 'timed out',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'name resolution failed',
  };
  return `${host}: ${(code && words[code]) ?? (e as Error).message ?? String(e)}`;
}

export class RegistryClient {
  readonly registry: string;
  private readonly host: string;
  private readonly opts: Required<Omit<ClientOptions, 'credentials' | 'authFile'>>;
  private readonly transport: Transport;
  private readonly credentials: Credentials | undefined;
  private base: URL | undefined;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<string>>();
  private pinged: Promise<void> | undefined;

  constructor(registry: string, opts: ClientOptions = {}) {
    this.registry = registry;
    this.host = apiHost(registry);
    this.opts = { tlsVerify: opts.tlsVerify ?? true, retries: opts.retries ?? 4, retryBaseMs: opts.retryBaseMs ?? 500, idleTimeoutMs: opts.idleTimeoutMs ?? 60_000 };
    this.transport = { verifyTls: this.opts.tlsVerify, idleTimeoutMs: this.opts.idleTimeoutMs };
    this.credentials = opts.credentials ?? loadCredentials(registry, opts.authFile);
  }

  get retries(): number {
    return this.opts.retries;
  }

  backoff(attempt: number): Promise<void> {
    const ms = this.opts.retryBaseMs * 2 ** attempt;
    return sleep(ms / 2 + Math.random() * (ms / 2));
  }

  /** GET /v2/: chooses the scheme and learns how the registry wants to be authenticated. */
  ping(): Promise<void> {
    this.pinged ??= this.probe();
    return this.pinged;
  }

  private async probe(): Promise<void> {
    const plainAllowed = !this.opts.tlsVerify || isLoopback(this.registry);
    let lastError: unknown;
    for (const scheme of plainAllowed ? ['https', 'http'] : ['https']) {
      const url = new URL(`${scheme}://${this.host}/v2/`);
      try {
        const res = await this.sendRetrying({ method: 'GET', url }, true);
        discard(res);
        if (res.status === 401) this.challenge = this.pickChallenge(res);
        else if (res.status === 404) throw new RegistryError('EPROTOCOL', `${this.registry}: not an OCI distribution (v2) registry`);
        else if (res.status >= 500) throw await this.failure(res, this.registry);
        this.base = new URL(`${scheme}://${this.host}/`);
        return;
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        lastError = e;
        // an http server answering a TLS hello: EPROTO; retry in plain http when allowed
        if (scheme === 'https' && plainAllowed && !/certificate|self.signed|CERT_/i.test(`${codeOf(e)} ${(e as Error).message}`)) continue;
        break;
      }
    }
    if (!plainAllowed && /EPROTO|wrong version number|ECONNRESET/.test(`${codeOf(lastError)} ${(lastError as Error).message}`)) {
      throw new RegistryError('ENETWORK', `${this.registry} does not answer https (use --tls-verify=false to allow plain http)`);
    }
    const msg = describeNetworkError(this.registry, lastError);
    const hint = /certificate|CERT_|self.signed/i.test(msg) ? ' (use --tls-verify=false to accept it)' : '';
    throw new RegistryError('ENETWORK', `cannot reach ${msg}${hint}`);
  }

  private pickChallenge(res: HttpResponse): Challenge | undefined {
    const all = parseChallenges(res.headers['www-authenticate']);
    return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
  }

  /** one exchange, retried on dropped connections and 5xx when the request allows it */
  private async sendRetrying(req: { method: string; url: URL; headers?: Record<string, string>; body?: Body }, retry: boolean): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await send(req, this.transport);
      } catch (e) {
        if (retry && isRetryableNetworkError(e) && attempt < this.opts.retries) {
          await this.backoff(attempt);
          continue;
        }
        throw e;
      }
      if (retry && RETRY_STATUS.has(res.status) && attempt < this.opts.retries) {
        discard(res);
        await this.backoff(attempt);
        continue;
      }
      res.attempts = attempt + 1;
      return res;
    }
  }

  private async token(challenge: Challenge, scopes: string[]): Promise<string> {
    const key = scopes.slice().sort().join(' ');
    let p = this.tokens.get(key);
    if (!p) {
      p = this.fetchToken(challenge, scopes);
      this.tokens.set(key, p);
      p.catch(() => this.tokens.delete(key));
    }
    return p;
  }

  private async fetchToken(challenge: Challenge, scopes: string[]): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError('EPROTOCOL', `${this.registry}: Bearer challenge without a realm`);
    const url = new URL(realm);
    if (url.protocol !== 'https:' && !(this.opts.tlsVerify === false || isLoopback(url.host))) {
      throw new RegistryError('EPROTOCOL', `${this.registry}: token realm ${realm} is plain http (use --tls-verify=false to allow it)`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = basicHeader(this.credentials);
    let res: HttpResponse;
    try {
      res = await this.sendRetrying({ method: 'GET', url, headers }, true);
    } catch (e) {
      throw new RegistryError('ENETWORK', `token server ${describeNetworkError(url.host, e)}`);
    }
    if (res.status === 401 || res.status === 403) {
      discard(res);
      throw new RegistryError('EUNAUTHORIZED', this.credentials ? `${this.registry}: credentials rejected by the token server` : `${this.registry}: authentication required (strata login ${this.registry})`);
    }
    if (res.status !== 200) throw await this.failure(res, `token server ${url.host}`);
    const doc = JSON.parse((await readAll(res, 1 << 20)).toString('utf8')) as { token?: string; access_token?: string };
    const tok = doc.token ?? doc.access_token;
    if (!tok) throw new RegistryError('EPROTOCOL', `token server ${url.host} answered no token`);
    return tok;
  }

  private async authorization(scopes: string[], challenge = this.challenge): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'bearer') {
      const fromChallenge = challenge.params.scope ? challenge.params.scope.split(' ') : [];
      return `Bearer ${await this.token(challenge, [...new Set([...scopes, ...fromChallenge])])}`;
    }
    if (challenge.scheme === 'basic' && this.credentials) return basicHeader(this.credentials);
    return undefined;
  }

  /** Sends an API request; answers whatever status the registry gave after auth and retries. */
  async request(r: ApiRequest): Promise<HttpResponse> {
    await this.ping();
    let url = r.path instanceof URL ? r.path : new URL(r.path, this.base);
    let challenge = this.challenge;
    let authRetried = false;
    for (let redirects = 0; ; ) {
      const headers: Record<string, string> = { ...r.headers };
      const sameHost = url.host === this.base!.host;
      const auth = sameHost ? await this.authorization(r.scopes, challenge) : undefined;
      if (auth) headers.authorization = auth;
      let res: HttpResponse;
      try {
        res = await this.sendRetrying({ method: r.method, url, headers, ...(r.body ? { body: r.body } : {}) }, r.retry !== false);
      } catch (e) {
        throw new RegistryError('ENETWORK', describeNetworkError(this.registry, e));
      }
      if (res.status === 401 && sameHost && !authRetried) {
        // the challenge of this request may ask for a scope (or scheme) the ping did not
        const c = this.pickChallenge(res);
        if (c && (c.scheme === 'bearer' || this.credentials)) {
          discard(res);
          authRetried = true;
          challenge = c;
          // a cached token may have expired or lack a scope: ask anew
          this.tokens.clear();
          if (!this.challenge) this.challenge = c;
          continue;
        }
      }
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.status) && location && (r.method === 'GET' || r.method === 'HEAD')) {
        discard(res);
        if (++redirects > 5) throw new RegistryError('EPROTOCOL', `${this.registry}: too many redirects`);
        url = new URL(location, url);
        continue;
      }
      return res;
    }
  }

  /** An upload URL from a Location header, which may be relative. */
  resolveLocation(res: HttpResponse, what: string): URL {
    const loc = res.headers.location;
    if (!loc) throw new RegistryError('EPROTOCOL', `${what}: registry answered ${res.status} without a Location`);
    return new URL(loc, res.url);
  }

  /** The RegistryError for a response that is not what the caller expected. */
  async failure(res: HttpResponse, what: string): Promise<RegistryError> {
    let detail = '';
    {
      try {
        const doc = JSON.parse((await readAll(res, 64 << 10)).toString('utf8')) as { errors?: { code?: string; message?: string }[] };
        const e = doc.errors?.[0];
        if (e) detail = [e.code, e.message].filter(Boolean).join(': ');
      } catch {
        // not a registry error document: the status says enough
      }
    }
    const tail = detail ? ` (${detail})` : '';
    switch (res.status) {
      case 401:
        return new RegistryError('EUNAUTHORIZED', this.credentials ? `${what}: credentials for ${this.registry} rejected${tail}` : `${what}: authentication required (strata login ${this.registry})${tail}`);
      case 403:
        return new RegistryError('EDENIED', `${what}: access denied${tail}`);
      case 404:
        return new RegistryError('ENOTFOUND', `${what}: not found${tail}`);
      default:
        if (res.status >= 500) {
          const tries = (res.attempts ?? 1) > 1 ? `, after ${res.attempts} attempts` : '';
          return new RegistryError('ESERVER', `${what}: registry error ${res.status}${tail}${tries}`);
        }
        return new RegistryError('EPROTOCOL', `${what}: unexpected HTTP ${res.status}${tail}`);
    }
  }
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
