// Busy polling in the js loop (native/src/session.c js_receive_polling): a program that
// walks a tree sends its next request while the loop still polls, so most of its
// requests cost no wake-up; a sparse stream stops the polling, one whose polls find nothing
// polls once in 8 bursts; an idle mount burns no CPU; busy_poll=0 turns it off.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { isMounted, sh } from '../helpers/daemon.js';
import { cleanupMount, layerOptions, mainJs, type MountSession, mountStrata, runNode, sessionOf } from './mount-helper.js';
import { makeLayers } from './layers.js';

const files = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, `${i}\n`]));
type Counts = Pick<MountSession, 'received' | 'wakeups' | 'spins' | 'spinHits'>;
const delta = (a: Counts, b: Counts): Counts => ({
  received: b.received - a.received,
  wakeups: b.wakeups - a.wakeups,
  spins: b.spins - a.spins,
  spinHits: b.spinHits - a.spinHits,
});

/** user + system CPU of every thread of pid, in clock ticks */
const cpuTicks = (pid: number): number =>
  fs.readdirSync(`/proc/${pid}/task`).reduce((sum, task) => {
    const f = fs.readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return sum + Number(f[11]) + Number(f[12]);
  }, 0);

/** a stat of each of n files not looked up yet, from one process: one LOOKUP after another,
 * pauseMs asleep or workUs busy between them */
const walk = (dir: string, n: number, pauseMs = 0, workUs = 0): void =>
  void sh(`python3 -c "import os,time
for i in range(${n}):
    os.lstat('${dir}/f%d' % i)
    ${pauseMs ? `time.sleep(${pauseMs / 1000})` : 'pass'}
    ${workUs ? `end = time.perf_counter() + ${workUs / 1e6}\n    while time.perf_counter() < end: pass` : ''}"`);

/** The counts of a walk of 400 files of a0..a3 in mnt, the first that cost at most a
 * wake-up per 4 requests, else the fourth: other tests' load may stall the walker past the
 * window. */
const walkWithFewWakeups = (t: ExecutionContext, mnt: string, workUs = 0): Counts => {
  let d: Counts | undefined;
  for (let w = 0; w < 4 && (!d || d.wakeups > d.received / 4); w++) {
    const before = sessionOf(mnt);
    walk(`${mnt}/a${w}`, 400, 0, workUs);
    d = delta(before, sessionOf(mnt));
    t.log(`walk ${w}: ${d.received} requests, ${d.wakeups} wake-ups, ${d.spinHits} found by polling`);
  }
  return d!;
};

test.serial('a walk costs few wake-ups: its requests are found by polls, or queued already when the daemon is the slower side', (t) => {
  const l = makeLayers(t, [{ a0: files(400), a1: files(400), a2: files(400), a3: files(400), b: files(20) }]);
  // the widest window: under load a wake-up comes later than twice the default window of
  // 50 us, so the loop, rightly, stops polling there for a whole walk (seen with two CPU
  // hogs: 403 wake-ups in 403 requests); what is tested is the mechanism, bench/ has the pace
  const pid = mountStrata(t, l, ['busy_poll=1000']);
  // A request comes without a wake-up when a poll finds it or, on a loaded machine where
  // the daemon is the slower side, when it is already queued as the reply before it goes
  // out (CI saw 12 of 403 found by polls, 16 wake-ups). Without polling an idle machine
  // wakes the loop for nearly every request (busy_poll=0, below).
  const d = walkWithFewWakeups(t, l.mnt);
  t.true(d.received >= 400, `${d.received} requests`);
  // on an idle machine 3 wake-ups or so, and 99% found by polling
  t.true(d.wakeups <= d.received / 4, `${d.wakeups} wake-ups for ${d.received} requests (${d.spinHits} found by polling)`);
  t.true(d.spinHits > 0, 'the loop polled and found requests');

  // requests 20 ms apart (20 times the window): a poll that finds nothing stops the
  // polling until requests come fast again, so the slow walk pays one unfound poll, not one per request
  const slow = sessionOf(l.mnt);
  walk(`${l.mnt}/b`, 20, 20);
  const s = delta(slow, sessionOf(l.mnt));
  t.true(s.received >= 20, `${s.received} requests`);
  t.true(s.spins - s.spinHits <= 3, `${s.spins - s.spinHits} unfound polls for ${s.received} requests 20 ms apart`);

  // idle: the daemon burns no CPU (a loop left polling would take a whole CPU: ~50 ticks)
  const before = cpuTicks(pid);
  sh('sleep 0.5');
  const ticks = cpuTicks(pid) - before;
  t.true(ticks <= 5, `${ticks} ticks of CPU in 0.5 s idle`);
});

test.serial('a stream whose polls find nothing polls once in 8 bursts', (t) => {
  const l = makeLayers(t, [{ a0: files(400), a1: files(400), a2: files(400), a3: files(400), b: files(120) }]);
  mountStrata(t, l, ['busy_poll=1000']);
  // requests 1.5 ms apart: each comes after the 1 ms window (a poll finds nothing) but
  // within twice the window of the one before, so the gap alone never stops the polling.
  // Without the history every request paid a whole unfound poll (120 of 120: make's kind
  // of stream, where a compiler's requests come tens of us to ms apart)
  const before = sessionOf(l.mnt);
  walk(`${l.mnt}/b`, 120, 1.5);
  const d = delta(before, sessionOf(l.mnt));
  t.log(`${d.received} requests, ${d.spins} polls, ${d.spinHits} found by polling`);
  t.true(d.received >= 120, `${d.received} requests`);
  t.true(d.spins - d.spinHits <= 30, `${d.spins - d.spinHits} unfound polls for ${d.received} requests 1.5 ms apart`);

  // and a walk after it is found by polls again: the history sees hits in the polls it
  // still lets through, and lets all through once half of the last 8 found one. The walker
  // works 30 us between stats, so that without polls each of its requests would cost a
  // wake-up (the best of up to four walks, as in the first test)
  const f = walkWithFewWakeups(t, l.mnt, 30);
  t.true(f.wakeups <= f.received / 4, `${f.wakeups} wake-ups for ${f.received} requests (${f.spinHits} found by polling)`);
});

test.serial('busy_poll=0 turns polling off; a bad busy_poll= is refused', (t) => {
  const l = makeLayers(t, [{ a: files(200) }]);
  mountStrata(t, l, ['busy_poll=0']);
  const before = sessionOf(l.mnt);
  walk(`${l.mnt}/a`, 200);
  const d = delta(before, sessionOf(l.mnt));
  t.true(d.received >= 200);
  t.is(d.spins, 0);
  t.true(d.wakeups > 0);
  const bad = runNode(mainJs, ['mount', '-o', layerOptions(l, ['busy_poll=fast']), `${l.mnt}-other`]);
  t.not(bad.code, 0);
  t.regex(bad.err.trim(), /^strata: .*busy_poll=fast: expected microseconds, 0 to 1000$/);
});

test.serial('a connection aborted while the loop polls: the daemon exits 0 and nothing stays mounted', async (t) => {
  const l = makeLayers(t, [{ a: files(2000) }]);
  cleanupMount(t, l.mnt);
  // the widest window, and a walker that keeps the loop polling until the abort
  const child = spawn(process.execPath, [mainJs, 'mount', '-f', '-o', layerOptions(l, ['busy_poll=1000']), l.mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  for (let i = 0; i < 200 && !isMounted(l.mnt); i++) await new Promise((r) => setTimeout(r, 25));
  t.true(isMounted(l.mnt));
  // opens (the kernel caches no open): a request after each reply, to the end
  const walker = spawn('python3', ['-c', `import os\nwhile True:\n    for i in range(2000):\n        os.close(os.open('${l.mnt}/a/f%d' % i, os.O_RDONLY))`], { stdio: 'ignore' });
  const walked = new Promise<number | null>((r) => walker.once('exit', (code) => r(code)));
  t.teardown(() => void walker.kill('SIGKILL'));
  let s = sessionOf(l.mnt);
  for (let i = 0; i < 100 && s.spinHits < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    s = sessionOf(l.mnt);
  }
  t.true(s.spinHits >= 100, `the loop was polling: ${s.spinHits} requests found by polls`);
  // and still is (a few polls in a row that find nothing, the walker descheduled, pause it
  // for up to 8 bursts)
  let later = sessionOf(l.mnt);
  for (let i = 0; i < 50 && later.spinHits <= s.spinHits; i++) {
    await new Promise((r) => setTimeout(r, 20));
    later = sessionOf(l.mnt);
  }
  t.true(later.spinHits > s.spinHits, 'and still is');
  sh(`umount -f ${l.mnt} 2>/dev/null; umount -l ${l.mnt}`, { allowFail: true }); // MNT_FORCE aborts a FUSE connection
  const e = await exited;
  t.deepEqual(e, { code: 0, signal: null }, stderr);
  t.false(isMounted(l.mnt));
  t.not(await walked, 0, 'the walker saw the connection go');
});
