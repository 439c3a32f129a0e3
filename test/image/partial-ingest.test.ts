// Resumable downloads into the store's blobs: verified, atomic, resumable; prune keeps what
// a live process is writing and removes what a killed one left.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sha256 } from '../../src/image/digest.js';
import { IngestMismatchError, type Bytes } from '../../src/image/partial-ingest.js';
import { distDir } from '../helpers/daemon.js';
import { tempStore } from '../helpers/images.js';
import { layoutBlobs } from '../helpers/registry.js';

const blob = crypto.randomBytes(300_000);
const digest = sha256(blob);

async function* pieces(b: Buffer, size = 64 * 1024, failAfter?: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += size) {
    if (failAfter !== undefined && off >= failAfter) throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    yield b.subarray(off, off + size);
  }
}

/** A source that always starts from the beginning. */
const whole = (s: Bytes) => async () => ({ stream: s, start: 0 });
/** A source that resumes from what was kept. */
const resuming = (b: Buffer) => async (kept: number) => ({ stream: pieces(b.subarray(kept)), start: kept });

test('ingest stores a blob whose digest and size match, in the store blobs', async (t) => {
  const s = tempStore(t);
  t.is(await s.partials.ingest(whole(pieces(blob)), { digest, size: blob.length }), 'stored');
  t.true(s.blobs.has(digest));
  t.deepEqual(s.blobs.readBytes(digest), blob);
  t.is(s.partials.size(digest), 0);
  t.deepEqual(fs.readdirSync(s.partials.dir), [], 'neither partial nor lock left');
});

test('a flipped byte is refused and nothing is left, neither blob nor partial', async (t) => {
  const s = tempStore(t);
  const bad = Buffer.from(blob);
  bad[1000]! ^= 1;
  const e = await t.throwsAsync(s.partials.ingest(whole(pieces(bad)), { digest, size: blob.length }), { instanceOf: IngestMismatchError });
  t.is(e!.got.digest, sha256(bad));
  t.false(s.blobs.has(digest));
  t.is(s.partials.size(digest), 0);
  t.deepEqual(fs.readdirSync(path.join(s.root, 'blobs/sha256')), []);
});

test('more bytes than the descriptor says are refused as soon as they arrive', async (t) => {
  const s = tempStore(t);
  const e = await t.throwsAsync(s.partials.ingest(whole(pieces(Buffer.concat([blob, Buffer.from('x')]))), { digest, size: blob.length }), { instanceOf: IngestMismatchError });
  t.is(e!.got.size, 300_001);
  t.regex(e!.message, /300000 bytes, got 300001 bytes/);
  t.is(s.partials.size(digest), 0);
});

test('an interrupted ingest keeps its bytes and a resumed one completes the blob', async (t) => {
  const s = tempStore(t);
  const cut = 128 * 1024;
  await t.throwsAsync(s.partials.ingest(whole(pieces(blob, 64 * 1024, cut)), { digest, size: blob.length }), { message: 'aborted' });
  t.false(s.blobs.has(digest));
  t.is(s.partials.size(digest), cut);
  let askedFrom = -1;
  const r = await s.partials.ingest(async (kept) => ((askedFrom = kept), resuming(blob)(kept)), { digest, size: blob.length });
  t.is(r, 'stored');
  t.is(askedFrom, cut);
  t.deepEqual(s.blobs.readBytes(digest), blob);
  t.is(s.partials.size(digest), 0);
});

test('a resumed ingest over a wrong prefix fails the digest and starts clean next time', async (t) => {
  const s = tempStore(t);
  await t.throwsAsync(s.partials.ingest(whole(pieces(crypto.randomBytes(100), 50, 50)), { digest, size: blob.length }), { message: 'aborted' });
  t.is(s.partials.size(digest), 50);
  await t.throwsAsync(s.partials.ingest(resuming(blob), { digest, size: blob.length }), { instanceOf: IngestMismatchError });
  t.is(s.partials.size(digest), 0);
  await s.partials.ingest(whole(pieces(blob)), { digest, size: blob.length });
  t.true(s.blobs.has(digest));
});

test('a source that starts over replaces the kept bytes', async (t) => {
  const s = tempStore(t);
  await t.throwsAsync(s.partials.ingest(whole(pieces(crypto.randomBytes(1000), 500, 500)), { digest, size: blob.length }), { message: 'aborted' });
  t.is(s.partials.size(digest), 500);
  t.is(await s.partials.ingest(whole(pieces(blob)), { digest, size: blob.length }), 'stored');
  t.true(s.blobs.readBytes(digest).equals(blob), 'same bytes');
});

test('two ingests of one blob at once: one writes it, the other waits and finds it present', async (t) => {
  const s = tempStore(t);
  let opened = 0;
  const slow = async () => {
    opened++;
    return {
      stream: (async function* () {
        for await (const p of pieces(blob)) {
          await new Promise((r) => setTimeout(r, 5));
          yield p;
        }
      })(),
      start: 0,
    };
  };
  const results = await Promise.all([s.partials.ingest(slow, { digest, size: blob.length }), s.partials.ingest(slow, { digest, size: blob.length })]);
  t.deepEqual(results.sort(), ['present', 'stored']);
  t.is(opened, 1, 'the second never fetched');
  t.true(s.blobs.readBytes(digest).equals(blob), 'same bytes');
});

test('the lock of a killed ingest is taken over', async (t) => {
  const s = tempStore(t);
  const dead = spawnSync('true').pid!;
  fs.writeFileSync(path.join(s.partials.dir, `sha256-${digest.slice(7)}.lock`), String(dead));
  t.is(await s.partials.ingest(whole(pieces(blob)), { digest, size: blob.length }), 'stored');
  t.deepEqual(fs.readdirSync(s.partials.dir), []);
});

test('prune removes what a killed ingest left, keeps what a live process is writing', async (t) => {
  const s = tempStore(t);
  await t.throwsAsync(s.partials.ingest(whole(pieces(blob, 64 * 1024, 64 * 1024)), { digest, size: blob.length }), { message: 'aborted' });
  const dead = spawnSync('true').pid!;
  fs.writeFileSync(path.join(s.partials.dir, `sha256-${digest.slice(7)}.lock`), String(dead));
  // another blob, being written by a live process (a child holding its lock)
  const other = sha256(Buffer.from('other'));
  const otherPartial = path.join(s.partials.dir, `sha256-${other.slice(7)}`);
  fs.writeFileSync(otherPartial, 'oth');
  const holder = spawn('sleep', ['30']);
  t.teardown(() => holder.kill('SIGKILL'));
  fs.writeFileSync(`${otherPartial}.lock`, `${holder.pid} host\n`);
  const r = await s.prune();
  t.is(r.bytes, 64 * 1024, "only the dead ingest's bytes are freed");
  t.deepEqual(fs.readdirSync(s.partials.dir).sort(), [`sha256-${other.slice(7)}`, `sha256-${other.slice(7)}.lock`]);
});

test('ingests of one blob from several processes at once store it once, intact', async (t) => {
  const s = tempStore(t);
  const storeJs = path.join(distDir, 'src/image/store.js');
  const file = path.join(s.root, 'src-blob');
  fs.writeFileSync(file, blob);
  const script = `const { openStore } = await import(${JSON.stringify(storeJs)});
    const fs = await import('node:fs');
    const s = openStore(process.argv[1]);
    const r = await s.partials.ingest(async () => ({ stream: fs.createReadStream(process.argv[2], { highWaterMark: 16384 }), start: 0 }), { digest: '${digest}', size: ${blob.length} });
    process.stdout.write(r);`;
  const runs = [0, 1, 2, 3].map(
    () =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, s.root, file], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('close', (code) => resolve(`${code} ${out}`));
      }),
  );
  const results = (await Promise.all(runs)).sort();
  t.is(results.filter((r) => r === '0 stored').length, 1, results.join(', '));
  t.is(results.filter((r) => r === '0 present').length, 3);
  t.deepEqual([...layoutBlobs(s.root)], [[digest, true]]);
  t.deepEqual(fs.readdirSync(s.partials.dir), [], 'no lock left behind');
});
