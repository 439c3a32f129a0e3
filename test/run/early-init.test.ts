// A rootless foreground `strata run` starts strata-init before it resolves the image
// (src/run/early-init.ts): strata-init's late mode makes the namespaces and starts the
// mount daemon at once, and takes the rest of its command line on a pipe. These tests
// hold it to: the daemon really starts early, gets its log and arguments late, and a
// strata-init that is not needed (a failed run, a strata that died) stops its daemon and
// leaves nothing.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { containerDirs, eventually, makeCtx, makeImage, mountsUnder, NOBODY, processesUsing, spawnStrata, strata, type Ctx, type Image } from '../helpers/containers.js';
import { earlyInitArgs, initPath } from '../../src/run/helper.js';
import type { ContainerState } from '../../src/run/state.js';

let image: Image;
test.before(() => {
  image = makeImage(NOBODY);
});
test.after.always(() => fs.rmSync(image.dir, { recursive: true, force: true }));

const argvOf = (pid: number): string[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
};

const childrenOf = (pid: number): number[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

const isDaemon = (pid: number): boolean => argvOf(pid)[1]?.endsWith('/strata-mount-daemon.cjs') ?? false;

const stateOf = (ctx: Ctx, id: string): ContainerState =>
  JSON.parse(fs.readFileSync(path.join(ctx.root, 'containers', id, 'state.json'), 'utf8')) as ContainerState;

/** a store of the user's own with the test image's busybox layer as `busybox` */
function storeCtx(t: Parameters<typeof makeCtx>[0]): Ctx {
  const ctx = makeCtx(t, image, true);
  const r = strata(ctx, ['import', image.lowers[1]!, 'busybox']);
  if (r.code !== 0) throw new Error(`strata import: ${r.err}`);
  return ctx;
}

/** strata-init and its daemon as late mode starts them (their command lines name the store
 * only after --for / in what they show), the -d containers' processes aside */
const earlyLeft = (ctx: Ctx): string[] => processesUsing(ctx.root).filter((p) => p.includes(' --for ') || p.includes('--overlay-stdin'));

test('late mode: the daemon starts at once, in a user namespace; an empty late-arguments pipe stops it and strata-init, silently', async (t) => {
  const marker = `early-init-test-${process.pid}-${Date.now()}`;
  const child = spawn(initPath(), earlyInitArgs(4, ['test', marker]), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let err = '';
  let status = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  (child.stdio[3] as Readable).on('data', (d: Buffer) => (status += d.toString()));
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  let daemon: number | undefined;
  t.true(await eventually(() => (daemon = childrenOf(child.pid!).find(isDaemon)) !== undefined, 10_000), 'the daemon is started before any late argument');
  t.is(argvOf(daemon!)[2], '--overlay-stdin');
  t.true(argvOf(daemon!).includes(marker), 'what strata shows is in its command line, for ps');
  t.not(fs.readlinkSync(`/proc/${daemon}/ns/user`), fs.readlinkSync('/proc/self/ns/user'));
  (child.stdio[4] as Writable).end();
  t.is(await closed, 0);
  t.is(status, '', 'nothing to report: it was not needed');
  t.is(err, '');
  t.false(fs.existsSync(`/proc/${daemon}`), 'the daemon was killed and reaped');
  t.deepEqual(processesUsing(marker), [], 'nor is its on-exit waiter left');
});

test('late mode: late arguments that make no start (no command) are a usage error; the daemon and the waiter go too, nothing hangs', async (t) => {
  const marker = `early-init-test-${process.pid}-${Date.now()}-bad`;
  const child = spawn(initPath(), earlyInitArgs(4, ['test', marker]), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  let daemon: number | undefined;
  t.true(await eventually(() => (daemon = childrenOf(child.pid!).find(isDaemon)) !== undefined, 10_000));
  (child.stdio[4] as Writable).end('--hostname\0h\0');
  // the waiter used to wait for its command on a pipe strata-init itself held open
  const code = await Promise.race([closed, new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
  if (code === 'hung') process.kill(child.pid!, 'SIGKILL');
  t.is(code, 2);
  t.regex(err, /^usage: strata-init/);
  t.false(fs.existsSync(`/proc/${daemon}`));
  t.true(await eventually(() => processesUsing(marker).length === 0, 2000), processesUsing(marker).join('\n'));
});

test('rootless strata run (the bin): strata-init and its daemon start before the record exists; the daemon gets its log and arguments late', async (t) => {
  const ctx = storeCtx(t);
  const r = spawnStrata(ctx, ['run', '--rm', '--name', 'early', 'busybox', 'sh', '-c', 'trap "exit 3" TERM; echo ready; while true; do sleep 0.05; done']);
  t.true(await eventually(() => r.output().includes('ready'), 10_000), r.output());
  const [id] = containerDirs(ctx);
  const st = stateOf(ctx, id!);
  const pid = st.daemon!.pid;
  const argv = argvOf(pid);
  t.is(argv[2], '--overlay-stdin');
  t.false(argv.some((a) => a.includes(id!)), 'its command line predates the container');
  t.is(fs.readlinkSync(`/proc/${pid}/fd/2`), path.join(ctx.root, 'containers', id!, 'mount.log'), 'it opened the mount log itself');
  t.is(Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]), st.supervisor.pid);
  t.is(fs.readlinkSync(`/proc/${pid}/ns/user`), fs.readlinkSync(`/proc/${st.init.pid}/ns/user`));
  r.child.kill('SIGTERM');
  const res = await r.closed;
  t.is(res.code, 3, res.err);
  t.deepEqual(containerDirs(ctx), []);
  t.deepEqual(processesUsing(ctx.root), []);
  t.deepEqual(mountsUnder(ctx.root), []);
});

test('rootless strata run (the bin): a failure before the start is one line, and the early strata-init is gone with strata', async (t) => {
  const ctx = storeCtx(t);
  const d = strata(ctx, ['run', '-d', '--name', 'taken', 'busybox', 'sleep', '1000']);
  t.is(d.code, 0, d.err);
  const cases: [string[], number, RegExp][] = [
    [['run', '--rm', 'nosuch', 'true'], 125, /^strata: image 'nosuch' not found/],
    [['run', '--rm', '-v', 'bad', 'busybox', 'true'], 125, /^strata: bad volume spec "bad"/],
    [['run', '--rm', '--name', 'taken', 'busybox', 'true'], 125, /^strata: the container name "taken" is already in use/],
    [['run', '--rm', '-w', 'rel', 'busybox', 'true'], 125, /^strata: /],
  ];
  for (const [args, code, msg] of cases) {
    const r = await spawnStrata(ctx, args).closed;
    t.is(r.code, code, r.err);
    t.regex(r.err, msg);
    t.is(r.err.split('\n').length, 2, `one line: ${r.err}`);
    t.deepEqual(earlyLeft(ctx), [], args.join(' '));
  }
  // yargs' own usage error exits at once: strata-init's process group goes with strata
  const usage = await spawnStrata(ctx, ['run', '--network', 'bogus', 'busybox', 'true']).closed;
  t.is(usage.code, 2);
  t.true(await eventually(() => earlyLeft(ctx).length === 0, 2000), earlyLeft(ctx).join('\n'));
  t.deepEqual(containerDirs(ctx).length, 1, 'only the -d container');
  t.is(strata(ctx, ['rm', '-f', 'taken']).code, 0);
  t.deepEqual(processesUsing(ctx.root), []);
  t.deepEqual(mountsUnder(ctx.root), []);
});
