// A registry that lies or fails: wrong bytes are refused and nothing enters the store;
// 401/404/500 and dropped connections give clear errors, retried where that makes sense;
// a pull killed half way leaves the store consistent and the next pull completes it.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageStore } from '../../src/image/store.js';
import type { Digest } from '../../src/image/digest.js';
import { RegistryError } from '../../src/registry/errors.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { killPid, layoutBlobs, startRegistry, strata, type Registry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { tempStore } from '../helpers/images.js';
import { syntheticImage, type Synthetic } from './fixtures.js';
import { lookup, readBlob } from './fixtures.js';
import type { ExecutionContext } from 'ava';

const fast = { retryBaseMs: 10, retries: 2 };

async function served(t: ExecutionContext, layerSizes: number[]): Promise<{ reg: Registry; proxy: Proxy; img: Synthetic; ref: string }> {
  const reg = await startRegistry(t);
  const src = tempStore(t);
  const img = await syntheticImage(src, 'app', { layerSizes });
  await push('app', `${reg.host}/app:1`, src, fast);
  const proxy = await startProxy(t, reg.host);
  return { reg, proxy, img, ref: `${proxy.host}/app:1` };
}

/** A store with nothing but its empty layout: no name, no blob, no layer, no partial file. */
function assertUntouched(t: ExecutionContext, root: string): void {
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')).manifests, []);
  for (const dir of ['blobs/sha256', 'layers', 'ingest']) {
    const p = path.join(root, dir);
    t.deepEqual(fs.existsSync(p) ? fs.readdirSync(p) : [], [], dir);
  }
}

const isBlob = (digest: string) => (url: string): boolean => url.includes(`/blobs/${digest}`);

test('a registry that flips a byte of a blob is refused, and nothing enters the store', async (t) => {
  const { proxy, ref } = await served(t, [50_000]);
  proxy.fault = (req) => (req.url.includes('/blobs/') ? { flipByteAt: 1 } : undefined);
  const root = tempDir(t);
  const e = await t.throwsAsync(pull(ref, new ImageStore(root), fast), { instanceOf: RegistryError });
  t.is(e!.code, 'EDIGEST');
  t.regex(e!.message, /^content for sha256:[0-9a-f]{64} does not match its digest \(got sha256:[0-9a-f]{64}\); refused$/);
  assertUntouched(t, root);
});

test('a flipped byte in one layer leaves the image unnamed and that layer absent', async (t) => {
  const { proxy, img, ref } = await served(t, [50_000, 60_000]);
  const victim = img.layers[1]!.digest;
  proxy.fault = (req) => (isBlob(victim)(req.url) ? { flipByteAt: 30_000 } : undefined);
  const c = tempStore(t);
  const root = c.root;
  await t.throwsAsync(pull(ref, c, fast), { instanceOf: RegistryError, message: new RegExp(`content for ${victim} does not match`) });
  t.false(c.blobs.has(victim as Digest));
  t.is(c.partials.size(victim as Digest), 0);
  t.is(lookup(c, `${proxy.host}/app:1`), undefined);
  t.false(c.blobs.has(img.manifest.digest as Digest));
  t.true([...layoutBlobs(root).values()].every(Boolean), 'whatever is in blobs/ matches its digest');
});

test('a manifest that does not match the digest the registry claims is refused', async (t) => {
  const { proxy, ref } = await served(t, [1000]);
  proxy.fault = (req) => (req.url.includes('/manifests/') ? { flipByteAt: 40 } : undefined);
  const root = tempDir(t);
  const e = await t.throwsAsync(pull(ref, new ImageStore(root), fast), { instanceOf: RegistryError });
  t.is(e!.code, 'EDIGEST');
  t.regex(e!.message, /^127\.0\.0\.1:\d+\/app:1: manifest does not match its digest \(expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}\); refused$/);
  assertUntouched(t, root);
});

test('pull by digest refuses a manifest with other bytes even without a digest header', async (t) => {
  const { proxy, img } = await served(t, [1000]);
  proxy.fault = (req) => (req.url.includes('/manifests/') ? { flipByteAt: 40 } : undefined);
  const e = await t.throwsAsync(pull(`${proxy.host}/app@${img.manifest.digest}`, tempStore(t), fast), { instanceOf: RegistryError });
  t.regex(e!.message, new RegExp(`expected ${img.manifest.digest}`));
});

test('404: an unknown tag or repository is a clear error, not retried', async (t) => {
  const { proxy } = await served(t, [1000]);
  const e = await t.throwsAsync(pull(`${proxy.host}/app:nope`, tempStore(t), fast), { instanceOf: RegistryError });
  t.is(e!.code, 'ENOTFOUND');
  t.is(e!.message, `${proxy.host}/app:nope: not found (MANIFEST_UNKNOWN: manifest unknown)`);
  const r = await t.throwsAsync(pull(`${proxy.host}/no/such/repo:1`, tempStore(t), fast), { instanceOf: RegistryError });
  t.regex(r!.message, /no\/such\/repo:1: not found \((NAME|MANIFEST)_UNKNOWN/);
  t.is(proxy.seen.filter((s) => s.url.includes('/manifests/nope')).length, 1);
});

test('401 without a challenge says to log in', async (t) => {
  const { proxy, ref } = await served(t, [1000]);
  proxy.fault = (req) => (req.url.includes('/manifests/') ? { status: 401, body: '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}' } : undefined);
  const e = await t.throwsAsync(pull(ref, tempStore(t), fast), { instanceOf: RegistryError });
  t.is(e!.code, 'EUNAUTHORIZED');
  t.is(e!.message, `${ref}: authentication required (strata login ${proxy.host}) (UNAUTHORIZED: authentication required)`);
});

test('500: retried with backoff, then a clear error naming the attempts', async (t) => {
  const { proxy, ref } = await served(t, [1000]);
  proxy.fault = (req) => (req.url.includes('/manifests/') ? { status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"storage on fire"}]}' } : undefined);
  const root = tempDir(t);
  const e = await t.throwsAsync(pull(ref, new ImageStore(root), fast), { instanceOf: RegistryError });
  t.is(e!.code, 'ESERVER');
  t.is(e!.message, `${ref}: registry error 500 (UNKNOWN: storage on fire), after 3 attempts`);
  t.is(proxy.seen.filter((s) => s.url.includes('/manifests/')).length, 3);
  assertUntouched(t, root);
});

test('a 503 that passes is retried through, for manifests and blobs alike', async (t) => {
  const { proxy, img, ref } = await served(t, [1000]);
  proxy.fault = (req, n) => ((req.url.includes('/manifests/') || req.url.includes('/blobs/')) && n < 2 ? { status: 503 } : undefined);
  const r = await pull(ref, tempStore(t), fast);
  t.is(r.manifest.digest, img.manifest.digest);
  t.is(proxy.seen.filter((s) => s.status === 503).length, 2);
});

test('a connection reset mid-blob is resumed with Range from the bytes already kept', async (t) => {
  const { proxy, img, ref } = await served(t, [400_000]);
  const layer = img.layers[0]!.digest;
  proxy.fault = (req, n) => (isBlob(layer)(req.url) && n === 0 ? { resetAfter: 150_000 } : undefined);
  const c = tempStore(t);
  const r = await pull(ref, c, fast);
  t.is(r.manifest.digest, img.manifest.digest);
  const gets = proxy.seen.filter((s) => isBlob(layer)(s.url));
  t.is(gets.length, 2);
  t.is(gets[0]!.headers.range, undefined);
  t.regex(String(gets[1]!.headers.range), /^bytes=\d+-$/);
  t.true(Number(/=(\d+)-/.exec(String(gets[1]!.headers.range))![1]) > 0);
  t.deepEqual(readBlob(c, layer), img.layerBytes[0]);
});

test('a registry that ignores Range gets the blob from the start, and the partial bytes are replaced', async (t) => {
  const { proxy, img, ref } = await served(t, [400_000]);
  const layer = img.layers[0]!.digest;
  proxy.fault = (req, n) => (isBlob(layer)(req.url) ? (n === 0 ? { resetAfter: 150_000 } : { ignoreRange: true }) : undefined);
  const c = tempStore(t);
  await pull(ref, c, fast);
  const gets = proxy.seen.filter((s) => isBlob(layer)(s.url));
  t.deepEqual(gets.map((g) => g.status), [200, 200]);
  t.truthy(gets[1]!.headers.range, 'a range was asked for');
  t.true(readBlob(c, layer).equals(img.layerBytes[0]!), 'same bytes');
});

test('a connection that keeps dropping gives a clear error after the retries, and keeps the partial blob', async (t) => {
  const { proxy, img, ref } = await served(t, [400_000]);
  const layer = img.layers[0]!.digest;
  proxy.fault = (req) => (isBlob(layer)(req.url) ? { resetAfter: 100_000 } : undefined);
  const c: ImageStore = tempStore(t);
  const e = await t.throwsAsync(pull(ref, c, fast), { instanceOf: RegistryError });
  t.is(e!.code, 'ENETWORK');
  t.regex(e!.message, new RegExp(`^${proxy.host}/app@${layer}: connection lost while downloading`));
  t.true(c.partials.size(layer as Digest) > 0);
  proxy.fault = undefined;
  await pull(ref, c, fast);
  t.deepEqual(readBlob(c, layer), img.layerBytes[0]);
});

test('a registry that is not listening: connection refused, said plainly', async (t) => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  const e = await t.throwsAsync(pull(`127.0.0.1:${port}/app:1`, tempStore(t), fast), { instanceOf: RegistryError });
  t.is(e!.message, `cannot reach 127.0.0.1:${port}: connection refused`);
});

test('plain http to a registry that is not loopback only with --tls-verify=false', async (t) => {
  const ip = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (!ip) return t.pass('no non-loopback IPv4 address here');
  const { img, reg } = await served(t, [1000]);
  const proxy = await startProxy(t, reg.host, ip);
  const e = await t.throwsAsync(pull(`${proxy.host}/app:1`, tempStore(t), fast), { instanceOf: RegistryError });
  t.is(e!.code, 'ENETWORK');
  t.regex(e!.message, /does not answer https \(use --tls-verify=false to allow plain http\)/);
  t.is(proxy.seen.length, 0, 'not one plain http request was made');
  const r = await pull(`${proxy.host}/app:1`, tempStore(t), { ...fast, tlsVerify: false });
  t.is(r.manifest.digest, img.manifest.digest);
});

test('https with a certificate nobody signed: refused, unless --tls-verify=false', async (t) => {
  const reg = await startRegistry(t, { tls: true });
  const c = tempStore(t);
  const img = await syntheticImage(c, 'app', { layerSizes: [1000] });
  const e = await t.throwsAsync(push('app', `${reg.host}/app:1`, c, fast), { instanceOf: RegistryError });
  t.is(e!.code, 'ENETWORK');
  t.regex(e!.message, /^cannot reach 127\.0\.0\.1:\d+: self[- ]signed certificate \(use --tls-verify=false to accept it\)$/);
  const r = await strata(['--root', c.root, 'push', '--tls-verify=false', 'app', `${reg.host}/app:1`]);
  t.is(r.code, 0, r.err);
  const back = await strata(['--root', tempDir(t), 'pull', '--tls-verify=false', `${reg.host}/app:1`]);
  t.is(back.out.trim(), img.manifest.digest);
});

test('a pull killed half way leaves the store consistent, and the next pull completes it with Range', async (t) => {
  const { proxy, img, ref } = await served(t, [3_000_000, 20_000]);
  const big = img.layers[0]!.digest;
  // slow enough that a prune and a kill under load still land mid-download (about 12 s)
  proxy.fault = (req) => (isBlob(big)(req.url) ? { bytesPerSecond: 250_000 } : undefined);
  const root = tempDir(t);
  const first = strata(['--root', root, 'pull', ref]);
  t.teardown(() => killPid(first.pid));
  const partial = path.join(root, 'ingest', `sha256-${big.slice(7)}`);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && !(fs.existsSync(partial) && fs.statSync(partial).size > 300_000); ) await sleep(20);
  const before = fs.statSync(partial).size;
  const pruned = await strata(['--root', root, 'prune']);
  t.is(pruned.code, 0, pruned.err);
  t.true(fs.existsSync(partial) && fs.statSync(partial).size >= before, 'prune leaves a download in progress alone');
  killPid(first.pid, 'SIGKILL');
  const killed = await first;
  t.is(killed.code, 128, 'killed by the signal');
  const kept = fs.statSync(partial).size;
  t.true(kept > 300_000 && kept < 3_000_000, `${kept} bytes kept`);
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')).manifests, [], 'no name for an incomplete image');
  t.false(layoutBlobs(root).has(big));
  t.true([...layoutBlobs(root).values()].every(Boolean), 'every blob in blobs/ is complete and matches its digest');

  proxy.fault = undefined;
  const second = await strata(['--root', root, 'pull', ref]);
  t.is(second.code, 0, second.err);
  t.is(second.out.trim(), img.manifest.digest);
  const gets = proxy.seen.filter((s) => isBlob(big)(s.url));
  t.is(gets.at(-1)!.headers.range, `bytes=${kept}-`);
  t.regex(second.err, new RegExp(`Copying blob ${big.slice(7, 19)} done \\(resumed at ${kept}\\)`));
  const c = new ImageStore(root);
  t.deepEqual(readBlob(c, big), img.layerBytes[0]);
  t.is(lookup(c, ref), img.manifest.digest);
  t.true([...layoutBlobs(root).values()].every(Boolean));
  t.false(fs.existsSync(partial));
  // the image is whole: prune finds nothing to remove and it is listed with both layers
  const after = await strata(['--root', root, 'prune', '--json']);
  t.is(after.code, 0, after.err);
  t.like(JSON.parse(after.out), { blobs: 0, layers: 0 });
  t.deepEqual(fs.readdirSync(path.join(root, 'ingest')), [], 'no partial or lock file left');
  const listed = await strata(['--root', root, 'images', '--json']);
  t.deepEqual((JSON.parse(listed.out) as { repository: string; tag: string }[]).map((r) => `${r.repository}:${r.tag}`), [ref]);
  t.is(fs.readdirSync(path.join(root, 'layers')).length, 2);
});

test('push: an upload the registry fails is started over once, then the error is clear', async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startProxy(t, reg.host);
  const c = tempStore(t);
  const img = await syntheticImage(c, 'app', { layerSizes: [10_000] });
  const layer = img.layers[0]!.digest.slice(7);
  const isUpload = (url: string, method: string): boolean => method === 'PUT' && url.includes('/blobs/uploads/') && url.includes(layer);
  proxy.fault = (req, n) => (isUpload(req.url, req.method) && n === 0 ? { status: 500 } : undefined);
  const r = await push('app', `${proxy.host}/app:1`, c, fast);
  t.is(r.uploaded, 2);
  t.is(proxy.seen.filter((s) => isUpload(s.url, s.method)).length, 2);
  t.is(proxy.seen.filter((s) => s.method === 'POST').length, 3, 'a fresh upload session for the retried blob');

  const other = (await syntheticImage(c, 'other', { layerSizes: [10_000] })).layers[0]!.digest.slice(7);
  proxy.fault = (req) => (req.method === 'PUT' && req.url.includes(other) ? { status: 500, body: '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}' } : undefined);
  const e = await t.throwsAsync(push('other', `${proxy.host}/other:1`, c, fast), { instanceOf: RegistryError });
  t.is(e!.code, 'ESERVER');
  t.is(e!.message, `${proxy.host}/other@sha256:${other}: registry error 500 (BLOB_UPLOAD_UNKNOWN: blob upload unknown)`);
  t.false(proxy.seen.some((s) => s.method === 'PUT' && s.url === '/v2/other/manifests/1'), 'no manifest names a missing blob');
});

test('a prune between the download and the recording of an image: the pull fetches what it removed', async (t) => {
  const { proxy, img, ref } = await served(t, [20_000, 30_000]);
  const root = tempDir(t);
  const store = new ImageStore(root);
  const blobs = [img.config, ...img.layers].map((d) => d.digest);
  let pulling: ReturnType<typeof strata> | undefined;
  // this process holds the store lock, so the pull downloads but cannot record the image
  await store.withLock(async () => {
    const p = strata(['--root', root, 'pull', ref]);
    pulling = p;
    t.teardown(() => killPid(p.pid));
    let exited = false;
    void p.then(() => (exited = true));
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && !exited && !blobs.every((d) => layoutBlobs(root).has(d)); ) await sleep(20);
    t.true(blobs.every((d) => layoutBlobs(root).has(d)), `all blobs downloaded${exited ? ` (pull ended: ${(await p).err})` : ''}`);
    const r = await store.prune();
    t.is(r.blobs, 3, 'nothing referred to them yet');
  });
  const done = await pulling!;
  t.is(done.code, 0, done.err);
  t.is(done.out.trim(), img.manifest.digest);
  for (const d of blobs) t.is(proxy.seen.filter((s) => isBlob(d)(s.url) && s.method === 'GET').length, 2, `${d} fetched again`);
  t.is(lookup(new ImageStore(root), ref), img.manifest.digest);
  t.true([...layoutBlobs(root).values()].every(Boolean));
});
