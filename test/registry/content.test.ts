// The OCI layout content store: verified, atomic, resumable writes.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openLayout, sha256, REF_NAME } from '../../src/registry/content.js';
import { RegistryError } from '../../src/registry/errors.js';
import { MediaType } from '../../src/registry/manifest.js';
import { tempDir } from '../helpers/tmp.js';
import { distDir } from '../helpers/daemon.js';
import { layoutBlobs } from '../helpers/registry.js';

const blob = crypto.randomBytes(300_000);
const digest = sha256(blob);

async function* pieces(b: Buffer, size = 64 * 1024, failAfter?: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += size) {
    if (failAfter !== undefined && off >= failAfter) throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    yield b.subarray(off, off + size);
  }
}

test('a new layout is valid: oci-layout, an empty index, blobs/sha256', (t) => {
  const root = tempDir(t);
  openLayout(root);
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')).manifests, []);
  t.true(fs.statSync(path.join(root, 'blobs/sha256')).isDirectory());
});

test('ingest stores a blob whose digest and size match', async (t) => {
  const c = openLayout(tempDir(t));
  await c.ingest(pieces(blob), { digest, size: blob.length });
  t.true(c.has(digest));
  t.is(c.size(digest), blob.length);
  t.deepEqual(c.read(digest), blob);
  t.is(c.partialSize(digest), 0);
});

test('a flipped byte is refused and nothing is left, neither blob nor partial', async (t) => {
  const root = tempDir(t);
  const c = openLayout(root);
  const bad = Buffer.from(blob);
  bad[1000] ^= 1;
  const e = await t.throwsAsync(c.ingest(pieces(bad), { digest, size: blob.length }), { instanceOf: RegistryError });
  t.is(e!.code, 'EDIGEST');
  t.false(c.has(digest));
  t.is(c.partialSize(digest), 0);
  t.deepEqual(fs.readdirSync(path.join(root, 'blobs/sha256')), []);
});

test('more bytes than the descriptor says are refused as soon as they arrive', async (t) => {
  const c = openLayout(tempDir(t));
  const e = await t.throwsAsync(c.ingest(pieces(Buffer.concat([blob, Buffer.from('x')])), { digest, size: blob.length }), { instanceOf: RegistryError });
  t.regex(e!.message, /300001 bytes, expected 300000/);
  t.is(c.partialSize(digest), 0);
});

test('an interrupted ingest keeps its bytes and a resumed one completes the blob', async (t) => {
  const c = openLayout(tempDir(t));
  const cut = 128 * 1024;
  await t.throwsAsync(c.ingest(pieces(blob, 64 * 1024, cut), { digest, size: blob.length }), { message: 'aborted' });
  t.false(c.has(digest));
  t.is(c.partialSize(digest), cut);
  let askedFrom = -1;
  const r = await c.ingest(async (kept) => ((askedFrom = kept), { stream: pieces(blob.subarray(kept)), start: kept }), { digest, size: blob.length });
  t.is(r, 'stored');
  t.is(askedFrom, cut);
  t.deepEqual(c.read(digest), blob);
  t.is(c.partialSize(digest), 0);
});

test('a resumed ingest over a wrong prefix fails the digest and starts clean next time', async (t) => {
  const c = openLayout(tempDir(t));
  const wrong = crypto.randomBytes(100);
  await t.throwsAsync(c.ingest(pieces(wrong, 50, 50), { digest, size: blob.length }), { message: 'aborted' });
  t.is(c.partialSize(digest), 50);
  const e = await t.throwsAsync(c.ingest(async (kept) => ({ stream: pieces(blob.subarray(kept)), start: kept }), { digest, size: blob.length }), { instanceOf: RegistryError });
  t.is(e!.code, 'EDIGEST');
  t.is(c.partialSize(digest), 0);
  await c.ingest(pieces(blob), { digest, size: blob.length });
  t.true(c.has(digest));
});

test('a source that starts over replaces the kept bytes', async (t) => {
  const c = openLayout(tempDir(t));
  await t.throwsAsync(c.ingest(pieces(crypto.randomBytes(1000), 500, 500), { digest, size: blob.length }), { message: 'aborted' });
  t.is(c.partialSize(digest), 500);
  t.is(await c.ingest(async () => ({ stream: pieces(blob), start: 0 }), { digest, size: blob.length }), 'stored');
  t.true(c.read(digest).equals(blob), 'same bytes');
});

test('two ingests of one blob at once: one writes it, the other waits and finds it present', async (t) => {
  const c = openLayout(tempDir(t));
  let opened = 0;
  const slow: (kept: number) => Promise<{ stream: AsyncGenerator<Buffer>; start: number }> = async () => {
    opened++;
    return { stream: (async function* () {
      for await (const p of pieces(blob)) {
        await new Promise((r) => setTimeout(r, 5));
        yield p;
      }
    })(), start: 0 };
  };
  const results = await Promise.all([c.ingest(slow, { digest, size: blob.length }), c.ingest(slow, { digest, size: blob.length })]);
  t.deepEqual(results.sort(), ['present', 'stored']);
  t.is(opened, 1, 'the second never fetched');
  t.true(c.read(digest).equals(blob), 'same bytes');
});

test('the lock of a killed ingest is taken over', async (t) => {
  const root = tempDir(t);
  const c = openLayout(root);
  fs.mkdirSync(path.join(root, 'ingest'), { recursive: true });
  const dead = spawnSync('true').pid!;
  fs.writeFileSync(path.join(root, 'ingest', `sha256-${digest.slice(7)}.lock`), String(dead));
  t.is(await c.ingest(pieces(blob), { digest, size: blob.length }), 'stored');
  t.deepEqual(fs.readdirSync(path.join(root, 'ingest')), []);
});

test('names point at one descriptor each and survive reopening; other entries are kept', async (t) => {
  const root = tempDir(t);
  const c = openLayout(root);
  const m1 = Buffer.from('{"a":1}');
  const m2 = Buffer.from('{"a":2}');
  const d1 = { mediaType: MediaType.ociManifest, digest: c.put(m1), size: m1.length };
  const d2 = { mediaType: MediaType.ociManifest, digest: c.put(m2), size: m2.length };
  await c.setName('reg/x:1', d1);
  await c.setName('reg/y:1', d1);
  await c.setName('reg/x:1', d2);
  const again = openLayout(root);
  t.is(again.lookup('reg/x:1')?.digest, d2.digest);
  t.is(again.lookup('reg/y:1')?.digest, d1.digest);
  t.is(again.lookup('reg/z:1'), undefined);
  const idx = JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
  t.deepEqual(idx.manifests.map((m) => m.annotations[REF_NAME]).sort(), ['reg/x:1', 'reg/y:1']);
  t.deepEqual([...layoutBlobs(root).values()], [true, true]);
  t.deepEqual(fs.readdirSync(root).filter((n) => n.includes('.tmp-')), []);
});

test('names set by several processes at once are all kept (index.json is rewritten under a lock)', async (t) => {
  const root = tempDir(t);
  const c = openLayout(root);
  const m = Buffer.from('{"m":1}');
  const d = { mediaType: MediaType.ociManifest, digest: c.put(m), size: m.length };
  const contentJs = path.join(distDir, 'src/registry/content.js');
  const script = `const { openLayout } = await import(${JSON.stringify(contentJs)});
    const c = openLayout(process.argv[1]);
    for (let i = 0; i < 15; i++) await c.setName('reg/p' + process.argv[2] + '-' + i + ':1', ${JSON.stringify(d)});`;
  const runs = [0, 1, 2, 3].map(
    (p) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, root, String(p)], { stdio: 'inherit' });
        child.on('close', resolve);
      }),
  );
  t.deepEqual(await Promise.all(runs), [0, 0, 0, 0]);
  const idx = JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')) as { manifests: unknown[] };
  t.is(idx.manifests.length, 60, 'no name lost to a concurrent rewrite');
  t.deepEqual(fs.readdirSync(path.join(root, 'ingest')), [], 'no lock left behind');
});

test('put refuses bytes that do not match the expected digest', (t) => {
  const c = openLayout(tempDir(t));
  t.is(t.throws(() => c.put(Buffer.from('x'), { digest }), { instanceOf: RegistryError })!.code, 'EDIGEST');
  t.false(c.has(digest));
});
