// Push and pull against a real docker-registry, the protocol observed through a proxy.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { MediaType } from '../../src/registry/manifest.js';
import { pull } from '../../src/registry/pull.js';
import { push, pushManifest } from '../../src/registry/push.js';
import { ImageStore } from '../../src/image/store.js';
import { RegistryError } from '../../src/registry/errors.js';
import { startProxy } from '../helpers/proxy.js';
import { layoutBlobs, startRegistry, strata } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { tempStore } from '../helpers/images.js';
import { syntheticImage, syntheticIndex } from './fixtures.js';
import { lookup, readBlob } from './fixtures.js';

const fast = { retryBaseMs: 10 };

test('push HEADs each blob, uploads it with POST then PUT, and PUTs the manifest by tag last', async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startProxy(t, reg.host);
  const c = tempStore(t);
  const img = await syntheticImage(c, 'local/app:1', { layerSizes: [5000, 7000] });
  const r = await push('local/app:1', `${proxy.host}/team/app:v1`, c, fast);
  t.like(r, { destination: `${proxy.host}/team/app:v1`, digest: img.manifest.digest, uploaded: 3, mounted: 0, skipped: 0 });
  const api = proxy.seen.filter((s) => s.url !== '/v2/');
  for (const d of [img.config, ...img.layers]) {
    const mine = api.filter((s) => s.url.includes(d.digest.slice(7)));
    t.deepEqual(mine.map((s) => `${s.method} ${s.status}`), ['HEAD 404', 'PUT 201'], d.digest);
    const put = mine[1]!;
    const head = api.indexOf(mine[0]!);
    t.true(api.slice(head, api.indexOf(put)).some((s) => s.method === 'POST' && s.url === '/v2/team/app/blobs/uploads/' && s.status === 202));
    t.regex(put.url, new RegExp(`[?&]digest=sha256%3A${d.digest.slice(7)}`));
  }
  t.is(api.filter((s) => s.method === 'PATCH').length, 0, 'small blobs go up in one PUT');
  t.deepEqual(api.at(-1), { method: 'PUT', url: '/v2/team/app/manifests/v1', headers: api.at(-1)!.headers, status: 201 });
  t.is(api.at(-1)!.headers['content-type'], MediaType.ociManifest);

  proxy.seen.length = 0;
  const again = await push('local/app:1', `${proxy.host}/team/app:v1`, c, fast);
  t.like(again, { uploaded: 0, skipped: 3 });
  t.deepEqual(proxy.seen.filter((s) => s.url !== '/v2/').map((s) => s.method).sort(), ['HEAD', 'HEAD', 'HEAD', 'PUT']);
});

test('a blob larger than the chunk size goes up in PATCH chunks with Content-Range, then an empty PUT', async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startProxy(t, reg.host);
  const c = tempStore(t);
  const size = 2.5 * 1024 * 1024;
  const img = await syntheticImage(c, 'big', { layerSizes: [size] });
  await push('big', `${proxy.host}/big:1`, c, { ...fast, chunkSize: 1024 * 1024 });
  const patches = proxy.seen.filter((s) => s.method === 'PATCH');
  const blobSize = img.layers[0]!.size;
  t.true(blobSize > 2 * 1024 * 1024 && blobSize < 3 * 1024 * 1024);
  // the whole exchange in the message: a failure under load then says what happened
  const log = proxy.seen.map((s) => `${s.method} ${s.url} ${s.headers['content-range'] ?? ''} -> ${s.status ?? 'no answer'}`).join('\n');
  t.deepEqual(patches.map((p) => p.headers['content-range']), ['0-1048575', '1048576-2097151', `2097152-${blobSize - 1}`], log);
  t.true(patches.every((p) => p.status === 202));
  const put = proxy.seen.find((s) => s.method === 'PUT' && s.url.includes(img.layers[0]!.digest.slice(7)))!;
  t.is(put.headers['content-length'], '0');
  t.is(put.status, 201);
  const back = tempStore(t);
  await pull(`${reg.host}/big:1`, back, fast);
  t.deepEqual(readBlob(back, img.layers[0]!.digest), img.layerBytes[0]);
});

test('a blob the registry has in another repository is mounted from it, not uploaded', async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startProxy(t, reg.host);
  const c = tempStore(t);
  const img = await syntheticImage(c, 'app', { layerSizes: [20_000] });
  await push('app', `${proxy.host}/first/app:1`, c, fast);
  proxy.seen.length = 0;
  const r = await push('app', `${proxy.host}/second/app:1`, c, fast);
  t.like(r, { uploaded: 0, mounted: 2, skipped: 0 });
  const mounts = proxy.seen.filter((s) => s.method === 'POST');
  t.is(mounts.length, 2);
  for (const m of mounts) {
    t.regex(m.url, /^\/v2\/second\/app\/blobs\/uploads\/\?mount=sha256%3A[0-9a-f]{64}&from=first%2Fapp$/);
    t.is(m.status, 201);
  }
  t.false(proxy.seen.some((s) => s.method === 'PUT' && s.url.includes('/blobs/')), 'no blob was uploaded');
  const back = tempStore(t);
  await pull(`${reg.host}/second/app:1`, back, fast);
  t.deepEqual(readBlob(back, img.layers[0]!.digest), img.layerBytes[0]);
});

test('pull stores an OCI image under its full name, every blob verified, with the Accept of all manifest kinds', async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startProxy(t, reg.host);
  const src = tempStore(t);
  const img = await syntheticImage(src, 'x', { layerSizes: [3000, 4000, 5000] });
  await push('x', `${reg.host}/lib/x:2.0`, src, fast);
  const c = tempStore(t);
  const root = c.root;
  const r = await pull(`${proxy.host}/lib/x:2.0`, c, fast);
  const layerBytes = img.layers.reduce((n, l) => n + l.size, 0);
  t.like(r, { name: `${proxy.host}/lib/x:2.0`, layers: 3, bytesFetched: layerBytes + img.config.size, blobsSkipped: 0 });
  const index = JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')) as { manifests: unknown[] };
  t.deepEqual(index.manifests, [{ ...img.manifest, annotations: { 'org.opencontainers.image.ref.name': `${proxy.host}/lib/x:2.0` } }]);
  const blobs = layoutBlobs(root);
  t.deepEqual([...blobs.keys()].sort(), [img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)].sort());
  t.true([...blobs.values()].every(Boolean));
  const accept = String(proxy.seen.find((s) => s.url.includes('/manifests/'))!.headers.accept);
  for (const mt of [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerList]) t.true(accept.includes(mt), mt);
});

test('pull of a Docker schema 2 image keeps its media types and bytes', async (t) => {
  const reg = await startRegistry(t);
  const src = tempStore(t);
  const img = await syntheticImage(src, 'd', { layerSizes: [3000], docker: true });
  await push('d', `${reg.host}/docker/d:1`, src, fast);
  const c = tempStore(t);
  const r = await pull(`${reg.host}/docker/d:1`, c, fast);
  t.is(r.manifest.mediaType, MediaType.dockerManifest);
  t.is(r.manifest.digest, img.manifest.digest);
  t.deepEqual(readBlob(c, img.layers[0]!.digest), img.layerBytes[0]);
});

for (const docker of [false, true]) {
  test(`pull of ${docker ? 'a Docker manifest list' : 'an OCI index'} chooses linux/amd64 by default, or the platform asked for`, async (t) => {
    const reg = await startRegistry(t);
    const platforms = [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm', variant: 'v7' }];
    const { images, index, source } = await syntheticIndex(t, platforms, docker);
    await pushManifest(source, index, `${reg.host}/multi:1`, fast);
    const c = tempStore(t);
    const amd = await pull(`${reg.host}/multi:1`, c, { ...fast, platform: { os: 'linux', architecture: 'amd64' } });
    t.is(amd.manifest.digest, images[1]!.manifest.digest);
    t.deepEqual(amd.manifest.platform, { os: 'linux', architecture: 'amd64' });
    const arm = await pull(`${reg.host}/multi:1`, c, { ...fast, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
    t.is(arm.manifest.digest, images[2]!.manifest.digest);
    t.is(lookup(c, `${reg.host}/multi:1`), images[2]!.manifest.digest, 'the name follows the last pull');
    const e = await t.throwsAsync(pull(`${reg.host}/multi:1`, c, { ...fast, platform: { os: 'linux', architecture: 's390x' } }), { instanceOf: RegistryError });
    t.is(e!.code, 'EPLATFORM');
    const cli = await strata(['--root', c.root, 'pull', '--platform', 'linux/arm64', '-q', `${reg.host}/multi:1`]);
    t.is(cli.code, 0, cli.err);
    t.is(cli.out, `${images[0]!.manifest.digest}\n`);
    t.is(cli.err, '', '--quiet prints nothing but the digest');
  });
}

test('layers are fetched in parallel, at most three at once, and a second pull skips complete blobs', async (t) => {
  const reg = await startRegistry(t);
  const src = tempStore(t);
  await syntheticImage(src, 'p', { layerSizes: [200_000, 200_000, 200_000, 200_000, 200_000, 200_000] });
  await push('p', `${reg.host}/p:1`, src, fast);
  const proxy = await startProxy(t, reg.host);
  proxy.fault = (req) => (req.method === 'GET' && req.url.includes('/blobs/') ? { bytesPerSecond: 1_000_000 } : undefined);
  const c = tempStore(t);
  await pull(`${proxy.host}/p:1`, c, fast);
  t.is(proxy.maxInFlight, 3);
  proxy.seen.length = 0;
  const again = await pull(`${proxy.host}/p:1`, c, fast);
  t.is(again.blobsSkipped, 7);
  t.is(again.bytesFetched, 0);
  t.false(proxy.seen.some((s) => s.url.includes('/blobs/')));
});

test('strata pull shows a progress bar per blob on a terminal and plain lines otherwise', async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir(t);
  const src = new ImageStore(path.join(dir, 'src'));
  await syntheticImage(src, 'p', { layerSizes: [300_000, 300_000] });
  await push('p', `${reg.host}/p:1`, src, fast);
  const plain = await strata(['--root', path.join(dir, 'a'), 'pull', `${reg.host}/p:1`]);
  t.is(plain.code, 0, plain.err);
  t.regex(plain.out, /^sha256:[0-9a-f]{64}\n$/);
  t.false(plain.err.includes('\x1b['), 'no control sequences off a terminal');
  t.is(plain.err.match(/^Copying blob [0-9a-f]{12} done$/gm)?.length, 3);
  const cmd = `${process.execPath} ${path.resolve('dist/src/cli/main.js')} --root ${path.join(dir, 'b')} pull ${reg.host}/p:1`;
  const tty = await promisify(execFile)('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  t.true(tty.stdout.includes('\x1b['), 'bars are redrawn in place');
  t.regex(tty.stdout, /Copying blob [0-9a-f]{12} \[[= ]{30}\] /);
  t.true(fs.existsSync(path.join(dir, 'b', 'index.json')));
});

test('blob GETs follow redirects (as to a storage backend), without sending credentials to the other host', async (t) => {
  const creds = { username: 'bob', password: 'pw-of-bob' };
  const secured = await startRegistry(t, { htpasswd: creds });
  const plain = await startRegistry(t);
  const src = tempStore(t);
  const img = await syntheticImage(src, 'r', { layerSizes: [30_000] });
  await push('r', `${secured.host}/r:1`, src, { ...fast, credentials: creds });
  await push('r', `${plain.host}/r:1`, src, fast);
  const proxy = await startProxy(t, secured.host);
  const storage = await startProxy(t, plain.host);
  proxy.fault = (req) => (req.method === 'GET' && req.url.includes('/blobs/') && req.headers.authorization ? { status: 307, headers: { location: `http://${storage.host}${req.url}` } } : undefined);
  const c = tempStore(t);
  const r = await pull(`${proxy.host}/r:1`, c, { ...fast, credentials: creds });
  t.is(r.manifest.digest, img.manifest.digest);
  t.is(proxy.seen.filter((s) => s.status === 307).length, 2, 'config and layer were redirected');
  t.is(storage.seen.length, 2, 'and fetched from the redirect target');
  t.true(storage.seen.every((s) => s.headers.authorization === undefined), 'no credentials sent to the other host');
  t.true(readBlob(c, img.layers[0]!.digest).equals(img.layerBytes[0]!), 'same bytes');
});
