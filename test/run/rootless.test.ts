// The same runtime for an unprivileged user (uid 65534 through setpriv): a user namespace
// maps it to root, the FUSE mount is made inside that namespace, and nothing outlives the
// container.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { containerDirs, eventually, inPty, makeCtx, makeImage, mountsUnder, NOBODY, processesUsing, run, runArgv, spawnRun, strata, type Ctx, type Image } from '../helpers/containers.js';
import { distDir } from '../helpers/daemon.js';
import type { ContainerState } from '../../src/run/state.js';

let image: Image;
test.before(() => {
  // a rootless user's layers are its own files, as its image store extracts them
  image = makeImage(NOBODY);
});
test.after.always(() => fs.rmSync(image.dir, { recursive: true, force: true }));

test('rootless run: root in the container, the layer written as the caller, nothing left', async (t) => {
  const ctx = makeCtx(t, image, true);
  const r = await run(ctx, {
    command: ['sh', '-c', 'id -u; echo $$; cat /etc/app; test -e /bin/vi || echo no-vi; echo new > /made; rm /etc/app; cut -d" " -f5 /proc/self/mountinfo | grep -cx /; ls /dev/null /dev/pts/ptmx >/dev/null && echo dev-ok'],
    name: 'rl',
  });
  t.is(r.code, 0, r.err);
  t.is(r.out, '0\n1\napp layer\nno-vi\n1\ndev-ok\n');
  const [id] = containerDirs(ctx);
  const upper = path.join(ctx.root, 'containers', id!, 'upper');
  t.is(fs.statSync(path.join(upper, 'made')).uid, NOBODY);
  t.is(fs.readFileSync(path.join(upper, 'made'), 'utf8'), 'new\n');
  t.is(strata(ctx, ['diff', 'rl']).out, 'C /etc\nD /etc/app\nA /made\n');
  t.deepEqual(processesUsing(ctx.root), []);
  t.deepEqual(mountsUnder(ctx.root), [], 'the FUSE mount never was on the host');
  t.is(strata(ctx, ['rm', 'rl']).code, 0);
  t.deepEqual(containerDirs(ctx), []);
});

test('rootless: /sys, hostname, volumes, exit codes, and bad input', async (t) => {
  const ctx = makeCtx(t, image, true);
  const host = path.join(ctx.home, 'vol');
  fs.mkdirSync(host);
  fs.chownSync(host, NOBODY, NOBODY);
  const r = await run(ctx, { command: ['sh', '-c', 'ls /sys/class/net; hostname; echo v > /v/f; touch /sys/x 2>/dev/null || echo sys-ro; exit 5'], hostname: 'rless', volumes: [`${host}:/v`], rm: true });
  t.is(r.code, 5, r.err);
  t.is(r.out, 'lo\nrless\nsys-ro\n');
  t.is(fs.readFileSync(path.join(host, 'f'), 'utf8'), 'v\n');
  const nf = await run(ctx, { command: ['nope'] });
  t.is(nf.code, 127);
  t.is(nf.err, 'strata: nope: executable file not found in $PATH\n');
  const user = await run(ctx, { command: ['true'], user: 'ghost' });
  t.is(user.code, 125);
  t.is(user.err, 'strata: unable to find user ghost: no matching entries in passwd file\n');
  // only the caller is mapped without /etc/subuid ranges: say so, do not run as root instead
  const unmapped = await run(ctx, { command: ['id'], user: 'nobody' });
  t.is(unmapped.code, 125);
  t.regex(unmapped.err, /is not mapped in the user namespace/);
  t.deepEqual(containerDirs(ctx), []);
  t.deepEqual(processesUsing(ctx.root), []);
});

test('rootless -d, exec (nsenter into the user namespace), stop, and a killed strata (with and without --rm)', async (t) => {
  const ctx = makeCtx(t, image, true);
  const d = await run(ctx, { command: ['sh', '-c', 'echo up; trap "exit 3" TERM; while true; do sleep 0.05; done'], detach: true, name: 'svc' });
  t.is(d.code, 0, d.err);
  const ex = strata(ctx, ['exec', 'svc', 'sh', '-c', 'id -u; echo hi > /from-exec; cat /proc/1/cmdline | head -c 2']);
  t.is(ex.code, 0, ex.err);
  t.is(ex.out, '0\nsh');
  t.is(strata(ctx, ['exec', 'svc', 'cat', '/from-exec']).out, 'hi\n');
  t.is(strata(ctx, ['stop', 'svc']).code, 0);
  t.regex(strata(ctx, ['ps', '-a']).out, /Exited \(3\).*svc/);
  t.is(strata(ctx, ['logs', 'svc']).out, 'up\n');
  t.deepEqual(processesUsing(ctx.root), []);

  const k = spawnRun(ctx, { command: ['sh', '-c', 'echo ready; sleep 1000'], name: 'orphan' });
  t.true(await eventually(() => k.output().includes('ready'), 10_000), k.output());
  // the node process itself (setpriv execs it): as a terminal's close or an OOM kill would
  k.child.kill('SIGKILL');
  await k.closed;
  t.true(await eventually(() => processesUsing(ctx.root).length === 0), processesUsing(ctx.root).join('\n'));
  t.regex(strata(ctx, ['ps', '-a']).out, /Exited \(137\).*orphan/);
  const g = spawnRun(ctx, { command: ['sh', '-c', 'echo ready; sleep 1000'], name: 'orphan-rm', rm: true });
  t.true(await eventually(() => g.output().includes('ready'), 10_000), g.output());
  g.child.kill('SIGKILL');
  await g.closed;
  t.true(await eventually(() => !strata(ctx, ['ps', '-a']).out.includes('orphan-rm'), 10_000), strata(ctx, ['ps', '-a']).out);
  t.true(await eventually(() => processesUsing(ctx.root).length === 0), processesUsing(ctx.root).join('\n'));
});

test('rootless -it: a terminal from the container\'s own devpts', async (t) => {
  const ctx = makeCtx(t, image, true);
  const r = await inPty(ctx, runArgv(ctx, { command: ['sh', '-c', 'tty; stty size; read l; echo "got $l"'], tty: true, interactive: true, rm: true }), { after: '33 101', text: 'hi\r' });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /\/dev\/pts\/0/);
  t.regex(r.out, /got hi/);
  t.deepEqual(containerDirs(ctx), []);
});

const stateOf = (ctx: Ctx, id: string): ContainerState =>
  JSON.parse(fs.readFileSync(path.join(ctx.root, 'containers', id, 'state.json'), 'utf8')) as ContainerState;

const argvOf = (pid: number): string[] => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);

test('rootless: strata-init runs the mount daemon itself (no strata-overlay), in the user namespace; it outlives strata with -d', async (t) => {
  const ctx = makeCtx(t, image, true);
  const d = await run(ctx, { command: ['sh', '-c', 'echo up; while true; do sleep 0.05; done'], detach: true, name: 'direct' });
  t.is(d.code, 0, d.err);
  const id = d.out.trim();
  const st = stateOf(ctx, id);
  t.truthy(st.daemon);
  const argv = argvOf(st.daemon!.pid);
  t.is(argv[0], process.execPath);
  t.is(argv[1], path.join(distDir, 'src/cli/strata-mount-daemon.cjs'));
  t.is(argv[2], '--overlay', 'strata-overlay\'s command line, handed to the daemon directly');
  t.true(argv.includes(path.join(ctx.root, 'containers', id, 'rootfs')));
  // strata-init's own child (not an orphan of a mount program), as the unprivileged user,
  // in the container's user namespace
  const status = fs.readFileSync(`/proc/${st.daemon!.pid}/status`, 'utf8');
  t.is(Number(/^PPid:\s+(\d+)/m.exec(status)![1]), st.supervisor.pid);
  t.regex(status, new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
  t.is(fs.readlinkSync(`/proc/${st.daemon!.pid}/ns/user`), fs.readlinkSync(`/proc/${st.init.pid}/ns/user`));
  t.not(fs.readlinkSync(`/proc/${st.daemon!.pid}/ns/user`), fs.readlinkSync('/proc/self/ns/user'));
  t.false(processesUsing(ctx.root).some((p) => p.includes('strata-overlay')), processesUsing(ctx.root).join('\n'));
  t.is(strata(ctx, ['exec', 'direct', 'sh', '-c', 'echo hi > /f; cat /f']).out, 'hi\n');
  t.is(strata(ctx, ['rm', '-f', 'direct']).code, 0);
  t.true(await eventually(() => !fs.existsSync(`/proc/${st.daemon!.pid}`)), 'the daemon ends with its container');
  t.deepEqual(processesUsing(ctx.root), []);
  t.deepEqual(containerDirs(ctx), []);
});

test('rootless: the mount daemon\'s error reaches strata as one line; strata-overlay as STRATA_MOUNT_PROGRAM still mounts', async (t) => {
  const ctx = makeCtx(t, image, true);
  // a lower the namespace's root may not read: the daemon's validation fails
  const hidden = fs.mkdtempSync(path.join(ctx.home, 'lower-'));
  fs.chmodSync(hidden, 0o700);
  const bad = { ...ctx, image: { ...ctx.image, lowers: [hidden, ...ctx.image.lowers] } };
  const r = await run(bad, { command: ['true'] });
  t.is(r.code, 125);
  t.regex(r.err, /^strata: the mount daemon failed \(status 1\): EACCES: .*lower-/);
  t.is(r.err.split('\n').length, 2, 'one line');
  t.deepEqual(containerDirs(ctx), []);
  t.deepEqual(processesUsing(ctx.root), []);
  // the mount program that leaves its daemon and exits, as fuse-overlayfs does
  const overlay = await run(ctx, { command: ['cat', '/etc/app'], rm: true }, { env: { STRATA_MOUNT_PROGRAM: path.join(distDir, 'src/cli/strata-overlay.cjs') } });
  t.is(overlay.code, 0, overlay.err);
  t.is(overlay.out, 'app layer\n');
  t.deepEqual(containerDirs(ctx), []);
  t.deepEqual(processesUsing(ctx.root), []);
});
