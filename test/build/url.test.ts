// ADD <url>'s download (src/build/url.ts): redirects followed, errors named, and https
// trusting a NODE_EXTRA_CA_CERTS that the strata bin started node without.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { download } from '../../src/build/url.js';
import { restoreExtraCaVar } from '../../src/registry/extra-ca.js';
import type { ExecutionContext } from 'ava';

// as the strata bin's shebang leaves this process: the CA stashed, not loaded by node (its
// own NODE_EXTRA_CA_CERTS, if any, is not the test server's); before any download, which
// builds the trust once per process
const caDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-url-'));
test.after.always(() => fs.rmSync(caDir, { recursive: true, force: true }));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${caDir}/k.pem`, '-out', `${caDir}/c.pem`, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
restoreExtraCaVar({ STRATA_EXTRA_CA_CERTS: path.join(caDir, 'c.pem') });

const handler: http.RequestListener = (req, res) => {
  if (req.url === '/moved') res.writeHead(302, { location: '/dir/file.txt' }).end();
  else if (req.url === '/dir/file.txt') res.writeHead(200, { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }).end('hello\n');
  else res.writeHead(404).end();
};

async function listen(t: ExecutionContext, server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => void server.close());
  return (server.address() as AddressInfo).port;
}

test('a redirect is followed; Last-Modified is the mtime; 404 is named', async (t) => {
  const port = await listen(t, http.createServer(handler));
  const d = await download(`http://127.0.0.1:${port}/moved`);
  t.is(d.content.toString(), 'hello\n');
  t.is(d.mtime, Date.parse('2015-10-21T07:28:00Z') / 1000);
  t.is(d.name, 'moved');
  await t.throwsAsync(download(`http://127.0.0.1:${port}/nothing`), { message: `ADD http://127.0.0.1:${port}/nothing: the server answered 404 Not Found` });
});

test('https trusts a NODE_EXTRA_CA_CERTS that node was started without', async (t) => {
  const port = await listen(t, https.createServer({ key: fs.readFileSync(path.join(caDir, 'k.pem')), cert: fs.readFileSync(path.join(caDir, 'c.pem')) }, handler));
  const d = await download(`https://127.0.0.1:${port}/moved`);
  t.is(d.content.toString(), 'hello\n');
});
