// The loops that serve /dev/fuse (native/src/session.c): the js loop, where the JS thread
// reads requests itself and a pool does the data plane's blocking work, and the threaded
// loop kept beside it.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sessionLoop, sessionSpinUs, SPIN_US_DEFAULT } from '../../src/fuse/session.js';
import type { SessionStats } from '../../src/fuse/native.js';
import { distDir, isMounted, sh, startDaemon, type Daemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const passthroughJs = path.join(distDir, 'test/fixtures/passthrough.js');
const mounted: string[] = [];

async function mount(t: ExecutionContext, src: string, mnt: string, args: string[] = []): Promise<Daemon> {
  fs.mkdirSync(src, { recursive: true });
  fs.mkdirSync(mnt, { recursive: true });
  const d = await startDaemon(t, passthroughJs, [src, mnt, ...args], mnt);
  mounted.push(mnt);
  return d;
}

/** the daemon's session counters, asked for now (SIGUSR2) */
async function statsOf(d: Daemon): Promise<SessionStats> {
  const before = d.stdout().split('\n').filter((l) => l.startsWith('{"writes"')).length;
  d.child.kill('SIGUSR2');
  for (let i = 0; i < 250; i++) {
    const lines = d.stdout().split('\n').filter((l) => l.startsWith('{"writes"'));
    if (lines.length > before) return JSON.parse(lines[lines.length - 1]!) as SessionStats;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no stats from the daemon');
}

/** waits until a request sits in the daemon's pool (the reader has to start and open
 * first, which takes a while on a loaded machine) */
async function inPool(d: Daemon, ms = 10_000): Promise<SessionStats> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await statsOf(d);
    if (s.poolPending > 0 || Date.now() > end) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `cat FILE` in the background: resolves with its exit code and output */
function catLater(file: string): Promise<{ code: number | null; out: string }> {
  const child = spawn('cat', [file], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}

/** A mount whose reads go to the pool and stay there for SLOW ms: its backing files live
 * on a second mount whose daemon answers every READ late. RWF_NOWAIT is refused on a FUSE
 * file (EOPNOTSUPP), so the js loop cannot answer these reads on the JS thread. */
async function slowBacked(t: ExecutionContext, slowMs: number): Promise<{ mnt: string; d: Daemon; data: string }> {
  const dir = tempDir(t);
  const data = 'slow bytes\n'.repeat(100);
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src/f'), data);
  fs.writeFileSync(path.join(dir, 'src/other'), 'x');
  await mount(t, path.join(dir, 'src'), path.join(dir, 'slow'), ['--no-backing', '--slow-read', String(slowMs)]);
  const mnt = path.join(dir, 'mnt');
  const d = await mount(t, path.join(dir, 'slow'), mnt);
  return { mnt, d, data };
}

test('STRATA_FUSE_LOOP picks the loop over the setting; js is the default', (t) => {
  t.is(sessionLoop(undefined, undefined), 'js');
  t.is(sessionLoop('threads', undefined), 'threads');
  t.is(sessionLoop('js', 'threads'), 'threads');
  t.is(sessionLoop('threads', 'js'), 'js');
  t.throws(() => sessionLoop(undefined, 'fast'), { message: /STRATA_FUSE_LOOP=fast/ });
});

test('STRATA_SPIN_US picks the busy-poll window over the setting, else the default', (t) => {
  t.is(sessionSpinUs(undefined, undefined), SPIN_US_DEFAULT);
  t.is(sessionSpinUs(0, undefined), 0);
  t.is(sessionSpinUs(0, '80'), 80);
  t.is(sessionSpinUs(80, '0'), 0);
  t.throws(() => sessionSpinUs(undefined, 'lots'), { message: /STRATA_SPIN_US=lots/ });
});

test('the js loop serves by default: the JS thread reads the requests, page-cache reads are answered there', async (t) => {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  const d = await mount(t, src, mnt);
  fs.writeFileSync(path.join(src, 'f'), 'hello\n'.repeat(1000));
  t.is(sh(`cat ${mnt}/f`).out, 'hello\n'.repeat(1000));
  const s = await statsOf(d);
  t.is(s.loop, 'js');
  t.true(s.received > 0 && s.wakeups > 0, `received ${s.received} in ${s.wakeups} wake-ups`);
  t.true(s.inlineOps > 0, 'the freshly written file was read from the page cache on the JS thread');
  t.is(s.poolPending, 0);
});

test('the threaded loop is still there and serves the data plane in its workers', async (t) => {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  const d = await mount(t, src, mnt, ['--loop', 'threads']);
  fs.writeFileSync(path.join(src, 'f'), 'threads\n');
  t.is(sh(`cat ${mnt}/f; stat -c %s ${mnt}/f`).out, 'threads\n8\n');
  const s = await statsOf(d);
  t.is(s.loop, 'threads');
  t.true(s.reads > 0);
  t.is(s.wakeups + s.inlineOps + s.poolOps, 0);
});

test('a read that must wait for its disk goes to the pool: the mount keeps answering meanwhile', async (t) => {
  const slowMs = 3000;
  const { mnt, d, data } = await slowBacked(t, slowMs);
  const started = Date.now();
  const reading = catLater(`${mnt}/f`);
  const mid = await inPool(d);
  const t0 = Date.now();
  t.is(sh(`stat -c %s ${mnt}/other; ls ${mnt}`).out, '1\nf\nother\n');
  const tookMs = Date.now() - t0;
  const r = await reading;
  t.true(tookMs < slowMs / 2, `stat and ls took ${tookMs} ms while a read was pending`);
  t.is(r.code, 0);
  t.is(r.out, data);
  t.true(Date.now() - started >= slowMs, 'the read did wait for its backing file');
  t.true(mid.poolOps > 0 && mid.poolPending > 0, `the read was in the pool: ${JSON.stringify(mid)}`);
  t.is((await statsOf(d)).poolPending, 0);
});

test('a connection aborted with pool work outstanding: the daemon waits for it, then exits cleanly', async (t) => {
  const slowMs = 4000;
  const { mnt, d } = await slowBacked(t, slowMs);
  const started = Date.now();
  const reading = catLater(`${mnt}/f`);
  t.true((await inPool(d)).poolPending > 0, 'a read is in the pool');
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((r) =>
    d.child.once('exit', (code, signal) => r({ code, signal, at: Date.now() })),
  );
  const aborted = Date.now();
  sh(`umount -f ${mnt} 2>/dev/null; umount -l ${mnt}`, { allowFail: true }); // MNT_FORCE aborts a FUSE connection
  const r = await reading;
  t.not(r.code, 0, 'the reader saw the connection go');
  const e = await exited;
  t.is(e.signal, null, `the daemon died: ${d.stderr()}`);
  t.is(e.code, 0, d.stderr());
  // the backing file answers slowMs after the read reached it, which was after `started`:
  // a daemon that did not wait for its pool would be gone right after the abort. (Timed
  // from the abort, a loaded machine that took long to see the read in the pool failed it.)
  const timing = `the abort came ${aborted - started} ms after the read began, the exit ${e.at - aborted} ms after the abort`;
  t.true(aborted - started < slowMs - 1000, `too slow to tell: ${timing}`);
  t.true(e.at - started >= slowMs, `the session outlived the read in the pool: ${timing}`);
  t.false(isMounted(mnt));
});

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

/** bytes no two offsets (nor files, by seed) are likely to share by chance */
function pattern(size: number, seed = 0): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >>> 11) + seed * 7) & 0xff;
  return b;
}

/** pread of len bytes at pos: what came back */
function pread(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  return b.subarray(0, fs.readSync(fd, b, 0, len, pos));
}

/** Reads through a --direct-io mount (each read(2) is a READ at its own offset and size)
 * and checks every byte; returns the daemon's counters before and after the tiny file. */
async function spliceReads(t: ExecutionContext, d: Daemon, src: string, mnt: string): Promise<{ mid: SessionStats; end: SessionStats }> {
  const size = 3 * 1024 * 1024 + 12345;
  const data = pattern(size);
  fs.writeFileSync(path.join(src, 'f'), data);
  fs.writeFileSync(path.join(src, 'short'), pattern(50_000, 1)); // one READ, cut by the end of file
  fs.writeFileSync(path.join(src, 'tiny'), pattern(20_000, 2)); // below SPLICE_MIN_BYTES: copied
  const fd = fs.openSync(path.join(mnt, 'f'), 'r');
  try {
    const whole = Buffer.concat(Array.from({ length: Math.ceil(size / 131072) }, (_, i) => pread(fd, i * 131072, 131072)));
    t.true(whole.equals(data), 'the whole file, in READs of 128 KiB');
    for (const [pos, len] of [
      [1024 * 1024 + 7, 300_000],
      [4095, 40_000],
      [123_457, 65_536],
      [size - 40_000, 65_536], // across the end, long enough to splice
      [size - 100, 4096], // across the end, copied
    ] as const) {
      t.true(pread(fd, pos, len).equals(data.subarray(pos, pos + len)), `${len} bytes at ${pos}`);
    }
    t.is(pread(fd, size + 10, 65_536).length, 0, 'past the end: nothing');
  } finally {
    fs.closeSync(fd);
  }
  t.true(fs.readFileSync(path.join(mnt, 'short')).equals(pattern(50_000, 1)), 'a short file');
  const mid = await statsOf(d);
  const tiny = fs.openSync(path.join(mnt, 'tiny'), 'r');
  try {
    t.true(pread(tiny, 0, 65_536).equals(pattern(20_000, 2)), 'a file too small to splice');
  } finally {
    fs.closeSync(tiny);
  }
  return { mid, end: await statsOf(d) };
}

for (const loop of ['js', 'threads'] as const) {
  test(`${loop} loop: READ replies go by splice, with the exact bytes at odd offsets and sizes, across and past the end`, async (t) => {
    const dir = tempDir(t);
    const src = path.join(dir, 'src');
    const mnt = path.join(dir, 'mnt');
    const d = await mount(t, src, mnt, ['--direct-io', '--splice-read', '1', '--loop', loop]);
    const { mid, end } = await spliceReads(t, d, src, mnt);
    // the whole file's 24 full READs (its 12,345-byte tail is too small) and 3 at odd
    // places; the threaded loop also splices the READ across the end and the short file
    // (the js loop copies a READ the file ends in: its residency check asks for the last byte)
    t.true(mid.splicedReads >= (loop === 'js' ? 27 : 29), `spliced: ${JSON.stringify(mid)}`);
    t.is(end.splicedReads, mid.splicedReads, 'the tiny file was copied');
    t.true(end.reads > mid.reads, 'the tiny file was read by the daemon');
    t.is(end.spliceFallbacks, 0);
    if (loop === 'js') t.true(mid.inlineOps >= mid.splicedReads, 'page-cache reads were spliced on the JS thread');
  });
}

test('spliceRead off: the same reads, every one copied', async (t) => {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  const d = await mount(t, src, mnt, ['--direct-io', '--splice-read', '0']);
  const { end } = await spliceReads(t, d, src, mnt);
  t.is(end.splicedReads + end.spliceFallbacks, 0);
  t.true(end.inlineOps > 30, `copied on the JS thread: ${JSON.stringify(end)}`);
});

test('a backing file not in the page cache is read and spliced in the pool', async (t) => {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  const d = await mount(t, src, mnt, ['--splice-read', '1']);
  const data = pattern(4 * 1024 * 1024 + 333, 3);
  fs.writeFileSync(path.join(src, 'cold'), data);
  // written back, then dropped from the page cache (posix_fadvise DONTNEED), until fincore
  // finds none of it resident (once, under CI's load, the drop left it all cached and every
  // read was answered on the JS thread); the whole page cache dropped if that never comes
  const resident = (): number => Number(sh(`fincore --bytes --noheadings --output RES ${src}/cold`).out.trim());
  for (let i = 0; i < 5 && (i === 0 || resident() > 0); i++) {
    sh(`sync ${src}/cold && dd if=${src}/cold iflag=nocache count=0 status=none`);
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
  }
  if (resident() > 0) sh('sync && echo 1 > /proc/sys/vm/drop_caches');
  t.is(resident(), 0, 'the backing file is out of the page cache');
  const expected = md5(data);
  t.is(sh(`cat ${mnt}/cold | md5sum`).out.split(' ')[0], expected);
  const s = await statsOf(d);
  t.true(s.poolOps > 0, `the reads missed the page cache: ${JSON.stringify(s)}`);
  t.true(s.splicedReads > s.inlineOps, 'the pool spliced its reads too');
  t.is(s.poolPending, 0);
});

test('reads racing a backing file that shrinks and grows get its bytes or a short read, never wrong ones', async (t) => {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  const d = await mount(t, src, mnt, ['--direct-io', '--splice-read', '1']);
  const size = 2 * 1024 * 1024;
  const data = pattern(size, 4);
  fs.writeFileSync(path.join(src, 'f'), data);
  // cut the file at random lengths and write its tail back, for as long as the reader runs
  const churn = spawn('python3', [
    '-c',
    `import os, random, sys
p, size = sys.argv[1], int(sys.argv[2])
data = open(p, 'rb').read()
fd = os.open(p, os.O_WRONLY)
while True:
    n = random.randrange(0, size)
    os.ftruncate(fd, n)
    os.pwrite(fd, data[n:], n)`,
    path.join(src, 'f'),
    String(size),
  ]);
  const fd = fs.openSync(path.join(mnt, 'f'), 'r');
  let reads = 0;
  let wrong = 0;
  let zeroed = 0;
  try {
    for (const end = Date.now() + 1500; Date.now() < end; reads++) {
      const pos = Math.floor(Math.random() * (size - 32_768));
      const len = 32_768 + Math.floor(Math.random() * 100_000);
      const got = pread(fd, pos, len);
      if (got.equals(data.subarray(pos, pos + got.length))) continue;
      // a truncate zeroes the cut folio's tail in place, and a read that took the size
      // before it may copy those zeros (pread as well as splice); nothing else may differ
      for (let i = 0; i < got.length; i++) if (got[i] !== data[pos + i] && got[i] !== 0) wrong++;
      zeroed++;
    }
  } finally {
    fs.closeSync(fd);
    churn.kill();
  }
  const s = await statsOf(d);
  t.log(`${reads} reads (${zeroed} with zeros of a truncate), ${s.splicedReads} spliced, ${s.spliceFallbacks} fell back to a copy`);
  t.is(wrong, 0, 'every byte read is the file\'s');
  t.true(s.splicedReads > 0);
});

test.after.always('nothing this file mounted stays mounted', (t) => {
  t.deepEqual(mounted.filter(isMounted), []);
});
