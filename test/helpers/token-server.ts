// A distribution token server for tests: checks Basic credentials and answers a JWT
// (RS256, the certificate in x5c) granting the scopes asked for, which docker-registry
// verifies against the certificate bundle it was configured with.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { sh } from './daemon.js';
import { tempDir } from './tmp.js';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** each token request: its query and whether it carried valid credentials */
  requests: { service: string | null; scopes: string[]; authorized: boolean }[];
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export async function startTokenServer(t: ExecutionContext, user: { username: string; password: string }): Promise<TokenServer> {
  const dir = tempDir(t, 'strata-token-');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  sh(`openssl req -x509 -newkey rsa:2048 -nodes -keyout ${keyFile} -out ${certFile} -days 2 -subj /CN=strata-test-token 2>/dev/null`);
  const key = crypto.createPrivateKey(fs.readFileSync(keyFile));
  const certDer = new crypto.X509Certificate(fs.readFileSync(certFile)).raw;
  const service = 'strata-test-registry';
  const issuer = 'strata-test-issuer';
  const requests: TokenServer['requests'] = [];
  const expected = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const authorized = req.headers.authorization === expected;
    requests.push({ service: url.searchParams.get('service'), scopes, authorized });
    if (!authorized) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"details":"bad credentials"}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const parts = s.split(':');
      return { type: parts[0], name: parts.slice(1, -1).join(':'), actions: parts.at(-1)!.split(',') };
    });
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: user.username, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${signing}.${b64url(crypto.sign('sha256', Buffer.from(signing), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, service, issuer, certFile, requests };
}
