// The loops that serve /dev/fuse (native/src/session.c): the js loop, where the JS thread
// reads requests itself and a pool does the data plane's blocking work, and the threaded
// loop kept beside it.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sessionLoop } from '../../src/fuse/session.js';
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
  const slowMs = 3000;
  const { mnt, d } = await slowBacked(t, slowMs);
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
  t.true(e.at - aborted >= slowMs / 2, 'the session outlived the read in the pool');
  t.false(isMounted(mnt));
});

test.after.always('nothing this file mounted stays mounted', (t) => {
  t.deepEqual(mounted.filter(isMounted), []);
});
