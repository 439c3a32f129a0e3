// Detached containers and the commands that manage them: ps, logs, exec, stop, kill,
// inspect, rm; stale records (a killed supervisor, a reboot, a reused pid).
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { containerDirs, eventually, makeCtx, makeImage, processesUsing, run, strata, type Ctx, type Image } from '../helpers/containers.js';
import { findContainer, type ContainerState } from '../../src/run/state.js';

let image: Image;
test.before(() => {
  image = makeImage();
});
test.after.always(() => fs.rmSync(image.dir, { recursive: true, force: true }));

const LOOP = 'echo up; trap "echo bye; exit 3" TERM; while true; do sleep 0.05; done';

async function detach(ctx: Ctx, name: string, script = LOOP, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await run(ctx, { command: ['sh', '-c', script], detach: true, name, ...extra });
  if (r.code !== 0) throw new Error(`run -d failed: ${r.err}`);
  return r.out.trim();
}

/** In-process, for polling: the CLI's answer is checked once the wait is over. */
function statusOf(ctx: Ctx, name: string): string | undefined {
  try {
    return findContainer(ctx.root, name).status;
  } catch {
    return undefined;
  }
}

const stateOf = (ctx: Ctx, id: string): ContainerState =>
  JSON.parse(fs.readFileSync(path.join(ctx.root, 'containers', id, 'state.json'), 'utf8')) as ContainerState;

test('run -d, ps, logs, exec, inspect, stop, ps -a, rm', async (t) => {
  const ctx = makeCtx(t, image);
  const id = await detach(ctx, 'web');
  t.regex(id, /^[0-9a-f]{64}$/);
  const ps = strata(ctx, ['ps']);
  t.regex(ps.out, new RegExp(`^${id.slice(0, 12)} .*Up since .* web$`, 'm'));
  t.true(await eventually(() => fs.readFileSync(path.join(ctx.root, 'containers', id, 'container.log'), 'utf8') === 'up\n'));
  t.is(strata(ctx, ['logs', 'web']).out, 'up\n');

  const ex = strata(ctx, ['exec', '-e', 'X=1', 'web', 'sh', '-c', 'echo $X $FROM_IMAGE; tr "\\0" " " < /proc/1/cmdline; echo; pwd; hostname']);
  t.is(ex.code, 0, ex.err);
  t.is(ex.out, `1 yes\nsh -c ${LOOP} \n/\n${id.slice(0, 12)}\n`);
  const nf = strata(ctx, ['exec', 'web', 'no-such']);
  t.is(nf.code, 127);
  const st = strata(ctx, ['exec', 'web', 'sh', '-c', 'exit 9']);
  t.is(st.code, 9);
  const wd = strata(ctx, ['exec', '-w', '/etc', 'web', 'pwd']);
  t.is(wd.out, '/etc\n');
  const stdin = strata(ctx, ['exec', '-i', 'web', 'cat'], 'piped in\n');
  t.is(stdin.out, 'piped in\n');

  const [info] = JSON.parse(strata(ctx, ['inspect', 'web']).out) as { status: string; config: { id: string; name: string }; state: ContainerState }[];
  if (!info) throw new Error('inspect printed nothing');
  t.is(info.status, 'running');
  t.is(info.config.id, id);
  t.true(info.state.init.pid > 1);

  const stop = strata(ctx, ['stop', '-t', '5', 'web']);
  t.is(stop.code, 0, stop.err);
  t.regex(strata(ctx, ['ps', '-a']).out, /Exited \(3\).*web/);
  t.is(strata(ctx, ['ps']).out.split('\n').length, 2, 'only the header');
  t.is(strata(ctx, ['logs', 'web']).out, 'up\nbye\n');
  t.deepEqual(processesUsing(ctx.root), []);
  const exStopped = strata(ctx, ['exec', 'web', 'true']);
  t.is(exStopped.code, 1);
  t.regex(exStopped.err, /not running \(exited\)/);
  t.is(strata(ctx, ['rm', 'web']).code, 0);
  t.deepEqual(containerDirs(ctx), []);
  t.regex(strata(ctx, ['inspect', 'web']).err, /no such container or image: web/);
});

test('stop escalates to SIGKILL after -t; kill -s sends the signal asked for', async (t) => {
  const ctx = makeCtx(t, image);
  // pid 1 without a handler ignores SIGTERM, as in Docker
  await detach(ctx, 'stubborn', 'echo up; while true; do sleep 0.05; done');
  const t0 = Date.now();
  strata(ctx, ['stop', '-t', '1', 'stubborn']);
  t.true(Date.now() - t0 >= 1000);
  t.regex(strata(ctx, ['ps', '-a']).out, /Exited \(137\).*stubborn/);

  await detach(ctx, 'usr1', 'trap "echo usr1; exit 4" USR1; while true; do sleep 0.05; done');
  t.is(strata(ctx, ['kill', '-s', 'USR1', 'usr1']).code, 0);
  t.true(await eventually(() => statusOf(ctx, 'usr1') === 'exited'));
  t.regex(strata(ctx, ['ps', '-a']).out, /Exited \(4\).*usr1/);
  t.regex(strata(ctx, ['kill', '-s', 'NOPE', 'usr1']).err, /cannot kill container usr1: it is exited/);
  t.deepEqual(processesUsing(ctx.root), []);
});

test('rm refuses a running container, rm -f kills it and leaves nothing', async (t) => {
  const ctx = makeCtx(t, image);
  const id = await detach(ctx, 'busy');
  const st = stateOf(ctx, id);
  const refused = strata(ctx, ['rm', 'busy']);
  t.is(refused.code, 1);
  t.regex(refused.err, /is running: stop it first or use --force/);
  t.is(strata(ctx, ['rm', '-f', id.slice(0, 8)]).code, 0);
  t.deepEqual(containerDirs(ctx), []);
  t.false(fs.existsSync(`/proc/${st.init.pid}/stat`) && fs.existsSync(`/proc/${st.supervisor.pid}/stat`));
  t.deepEqual(processesUsing(ctx.root), []);
  // the name is free again
  t.is((await run(ctx, { command: ['true'], name: 'busy', rm: true })).code, 0);
});

test('run -d --rm removes its record when the command ends; logs -f follows to the end', async (t) => {
  const ctx = makeCtx(t, image);
  await detach(ctx, 'brief', 'for i in 1 2 3; do echo line $i; sleep 0.1; done', { rm: false });
  const f = strata(ctx, ['logs', '-f', 'brief']);
  t.is(f.out, 'line 1\nline 2\nline 3\n');
  t.regex(strata(ctx, ['ps', '-a']).out, /Exited \(0\).*brief/);
  await detach(ctx, 'gone', 'sleep 0.2', { rm: true });
  t.true(await eventually(() => statusOf(ctx, 'gone') === undefined, 10_000));
  t.false(strata(ctx, ['ps', '-a']).out.includes('gone'));
  t.true(await eventually(() => processesUsing(ctx.root).length === 0));
});

test('a killed supervisor leaves a stale record and no process: its FUSE daemon ends by itself; rm clears the record', async (t) => {
  const ctx = makeCtx(t, image);
  const id = await detach(ctx, 'victim');
  const st = stateOf(ctx, id);
  t.truthy(st.daemon, 'the mount program left a daemon');
  process.kill(st.supervisor.pid, 'SIGKILL');
  // its pid 1 dies with it (parent-death signal); the reaper unmounts, so the daemon ends
  t.true(await eventually(() => !fs.existsSync(`/proc/${st.init.pid}`)));
  t.true(await eventually(() => !fs.existsSync(`/proc/${st.daemon!.pid}`), 10_000), 'the FUSE daemon outlived its supervisor');
  t.true(await eventually(() => processesUsing(ctx.root).length === 0), processesUsing(ctx.root).join('\n'));
  t.true(await eventually(() => statusOf(ctx, 'victim') === 'stale'));
  t.regex(strata(ctx, ['ps', '-a']).out, /Stale .*victim/);
  t.false(strata(ctx, ['ps']).out.includes('victim'), 'not shown as running');
  t.is(strata(ctx, ['rm', 'victim']).code, 0, 'a stale record is not running: plain rm removes it');
  t.true(await eventually(() => processesUsing(ctx.root).length === 0), processesUsing(ctx.root).join('\n'));
  t.deepEqual(containerDirs(ctx), []);
});

test('records from another boot or naming a reused pid are stale, and rm -f never signals that pid', async (t) => {
  const ctx = makeCtx(t, image);
  const id = await detach(ctx, 'rebooted');
  strata(ctx, ['stop', '-t', '0', 'rebooted']);
  const dir = path.join(ctx.root, 'containers', id);
  fs.rmSync(path.join(dir, 'exit'));
  const st = stateOf(ctx, id);
  // as after a reboot: the pid is now some other live process (this test's own)
  const reused: ContainerState = { ...st, init: { pid: process.pid, start: '1' }, supervisor: { pid: process.pid, start: '1' }, daemon: { pid: process.pid, start: '1' } };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(reused));
  t.regex(strata(ctx, ['ps', '-a']).out, /Stale .*rebooted/);
  const otherBoot: ContainerState = { ...st, bootId: 'another-boot' };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ ...reused, ...otherBoot, init: reused.init }));
  t.regex(strata(ctx, ['ps', '-a']).out, /Stale .*rebooted/);
  t.is(strata(ctx, ['rm', '-f', 'rebooted']).code, 0);
  t.deepEqual(containerDirs(ctx), []);
  t.pass('this process is still alive');
});

// A strata killed mid-removal: the name goes first, then the dir, so what can be left is a
// record with no name link. An older strata removed them the other way round and could
// leave a name link to an id with no record.
test('a cut-short removal leaves nothing that blocks: a record without its name link is found by name and removed; a name link to no record is taken', async (t) => {
  const ctx = makeCtx(t, image);
  const names = path.join(ctx.root, 'containers', '.names');
  const first = await run(ctx, { command: ['true'], name: 'half' });
  t.is(first.code, 0, first.err);
  const [id] = containerDirs(ctx);
  fs.unlinkSync(path.join(names, 'half'));
  t.regex(strata(ctx, ['ps', '-a']).out, /half/, 'the record is still listed');
  t.is(strata(ctx, ['inspect', 'half']).code, 0, 'found by the name in its config');
  const rm = strata(ctx, ['rm', '-f', 'half']);
  t.is(rm.code, 0, rm.err);
  t.deepEqual(containerDirs(ctx), []);
  // a dangling name, as the old order could leave it
  fs.symlinkSync(id!, path.join(names, 'gone'));
  const again = await run(ctx, { command: ['true'], name: 'gone' });
  t.is(again.code, 0, again.err);
  const [newId] = containerDirs(ctx);
  t.is(fs.readlinkSync(path.join(names, 'gone')), newId, 'the name now names the new container');
  t.deepEqual(fs.readdirSync(names), ['gone'], 'nothing left aside');
  // a live holder is not taken
  const taken = await run(ctx, { command: ['true'], name: 'gone' });
  t.is(taken.code, 125);
  t.regex(taken.err, /^strata: the container name "gone" is already in use by container [0-9a-f]{12}\n$/);
  t.deepEqual(containerDirs(ctx), [newId], 'the refused run left no record');
});
