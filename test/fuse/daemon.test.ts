// The daemon's life through the kernel: a handler may take a minute without timing out,
// and a killed daemon leaves a dead mount that `strata umount` clears.
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { distDir, isMounted, sh, startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const passthroughJs = path.join(distDir, 'test/fixtures/passthrough.js');
const strataJs = path.join(distDir, 'src/cli/main.js');
const mounted: string[] = [];

function dirs(t: Parameters<typeof tempDir>[0]): { src: string; mnt: string } {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(src);
  fs.mkdirSync(mnt);
  mounted.push(mnt);
  return { src, mnt };
}

test('a handler that takes 60 s answers, and other requests are served meanwhile', async (t) => {
  t.timeout(120_000);
  const { src, mnt } = dirs(t);
  fs.writeFileSync(path.join(src, 'slow'), 'late');
  fs.writeFileSync(path.join(src, 'quick'), 'now');
  await startDaemon(t, passthroughJs, [src, mnt, '--slow', 'slow=60000'], mnt);
  const started = Date.now();
  const slow = new Promise<{ code: number | null; out: string; err: string; ms: number }>((resolve) => {
    execFile('cat', [`${mnt}/slow`], { timeout: 100_000 }, (e, out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? -1) : 0, out, err, ms: Date.now() - started }),
    );
  });
  await new Promise((r) => setTimeout(r, 1000));
  t.is(sh(`cat ${mnt}/quick`).out, 'now');
  t.true(Date.now() - started < 30_000, 'the quick read waited for the slow lookup');
  const r = await slow;
  t.is(r.err, '');
  t.is(r.code, 0);
  t.is(r.out, 'late');
  t.true(r.ms >= 59_000, `answered after ${r.ms} ms`);
  t.true(isMounted(mnt));
});

// libfuse 3.14 never tells the kernel FUSE_PARALLEL_DIROPS; without it the kernel holds
// the directory's mutex across each lookup (native/src/session.c's io hooks add it).
test('a slow lookup does not hold up lookups of other names in the same directory', async (t) => {
  const { src, mnt } = dirs(t);
  fs.writeFileSync(path.join(src, 'slow'), 'late');
  fs.writeFileSync(path.join(src, 'quick'), 'now');
  await startDaemon(t, passthroughJs, [src, mnt, '--slow', 'slow=4000'], mnt);
  const started = Date.now();
  const slow = new Promise<number>((resolve) => execFile('stat', [`${mnt}/slow`], () => resolve(Date.now() - started)));
  await new Promise((r) => setTimeout(r, 300));
  t.is(sh(`cat ${mnt}/quick`).out, 'now');
  const quickMs = Date.now() - started;
  t.true(quickMs < 2000, `the lookup of quick waited ${quickMs} ms for the slow one`);
  t.true((await slow) >= 3900);
});

test('a daemon killed with SIGKILL leaves a dead mount that strata umount clears', async (t) => {
  const { src, mnt } = dirs(t);
  fs.writeFileSync(path.join(src, 'f'), 'x');
  const d = await startDaemon(t, passthroughJs, [src, mnt], mnt);
  t.is(sh(`cat ${mnt}/f`).out, 'x');
  const exited = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGKILL');
  await exited;
  t.true(isMounted(mnt));
  const dead = sh(`stat ${mnt}`, { allowFail: true });
  t.not(dead.code, 0);
  t.regex(dead.err, /Transport endpoint is not connected/);
  const r = sh(`${process.execPath} ${strataJs} umount ${mnt}`, { allowFail: true });
  t.is(r.err, '');
  t.is(r.code, 0);
  t.false(isMounted(mnt));
  t.deepEqual(fs.readdirSync(mnt), []);
});

test('strata umount names a path that is not mounted and fails', (t) => {
  const { mnt } = dirs(t);
  const r = sh(`${process.execPath} ${strataJs} umount ${mnt}`, { allowFail: true });
  t.is(r.code, 1);
  t.is(r.err, `strata: ${mnt}: not mounted\n`);
});

test.after.always('nothing this file mounted stays mounted', (t) => {
  t.deepEqual(mounted.filter(isMounted), []);
});
