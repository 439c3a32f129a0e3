// strata run as root: the container's view (namespaces, mounts, layers, user, env), exit
// statuses, signals, terminals, and bad input that must leave nothing behind.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { distDir } from '../helpers/daemon.js';
import { baseConfig, containerDirs, eventually, inPty, mainArgv, makeCtx, makeImage, mountsUnder, processesUsing, run, runArgv, spawnRun, strata, type Image } from '../helpers/containers.js';

let image: Image;
test.before(() => {
  image = makeImage();
});
test.after.always(() => fs.rmSync(image.dir, { recursive: true, force: true }));

const sh = (script: string) => ({ command: ['sh', '-c', script] });

test('the exit status is run\'s, the command is pid 1, and --rm leaves nothing', async (t) => {
  const ctx = makeCtx(t, image);
  const r = await run(ctx, { ...sh('echo pid=$$; exit 42'), rm: true });
  t.is(r.code, 42, r.err);
  t.is(r.out, 'pid=1\n');
  t.deepEqual(containerDirs(ctx), []);
  t.deepEqual(processesUsing(ctx.root), []);
  t.deepEqual(mountsUnder(ctx.root), []);
});

test('the layers: upper wins, whiteouts hide, opaque dirs hide what is below', async (t) => {
  const ctx = makeCtx(t, image);
  const r = await run(ctx, { ...sh('cat /etc/app; ls /opt; test -e /bin/vi || echo no-vi; test -e /opt/old || echo no-old'), rm: true });
  t.is(r.code, 0, r.err);
  t.is(r.out, 'app layer\nnew\nno-vi\nno-old\n');
});

test('namespaces: own pids, hostname, loopback only, ipc; --network host sees the host', async (t) => {
  const ctx = makeCtx(t, image);
  const r = await run(ctx, { ...sh('ps -o pid | wc -l; hostname; cat /etc/hostname; ls /sys/class/net; ipcs -q | wc -l'), hostname: 'box1', rm: true });
  t.is(r.code, 0, r.err);
  const [procs, host, etcHost, net] = r.out.split('\n');
  t.is(procs, '4', 'header, sh, ps, wc: nothing of the host');
  t.is(host, 'box1');
  t.is(etcHost, 'box1');
  t.is(net, 'lo');
  const h = await run(ctx, { ...sh('ls /sys/class/net | wc -l; hostname'), network: 'host', rm: true });
  t.is(h.code, 0, h.err);
  t.is(Number(h.out.split('\n')[0]), fs.readdirSync('/sys/class/net').length);
  t.is(h.out.split('\n')[1], os.hostname());
});

test('mounts: fresh /proc, minimal /dev, /sys read-only, /etc files bound from the state dir', async (t) => {
  const ctx = makeCtx(t, image);
  const script = [
    'ls /dev | tr "\\n" " "; echo',
    'test -c /dev/null && echo x > /dev/null && head -c 4 /dev/zero | wc -c',
    'head -c 8 /dev/urandom | wc -c',
    'grep -E " /(proc|dev|dev/pts|dev/shm|sys) " /proc/self/mountinfo | cut -d" " -f5,6 | sort',
    'touch /sys/x 2>/dev/null || echo sys-ro',
    'echo 10.0.0.1 other >> /etc/hosts; grep -c other /etc/hosts',
  ].join('\n');
  const r = await run(ctx, { ...sh(script), hostname: 'm1', name: 'mounts' });
  t.is(r.code, 0, r.err);
  const lines = r.out.split('\n');
  for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'ptmx', 'fd', 'stdin', 'stdout', 'stderr'])
    t.true(lines[0]!.split(' ').includes(d), `/dev/${d} in ${lines[0]}`);
  t.is(lines[1], '4');
  t.is(lines[2], '8');
  t.true(lines.some((l) => /^\/sys ro,/.test(l)), r.out);
  t.true(lines.some((l) => /^\/proc rw,nosuid,nodev,noexec/.test(l)), r.out);
  t.true(lines.includes('sys-ro'));
  t.is(lines.at(-2), '1');
  // the write to /etc/hosts went to the state dir, not into the container layer
  const [id] = containerDirs(ctx);
  const dir = path.join(ctx.root, 'containers', id!);
  t.regex(fs.readFileSync(path.join(dir, 'hosts'), 'utf8'), /10\.0\.0\.1 other/);
  t.is(fs.statSync(path.join(dir, 'upper/etc/hosts'), { throwIfNoEntry: false })?.size ?? 0, 0);
  t.is(strata(ctx, ['diff', 'mounts']).out, '', 'the runtime\'s own files are no change');
});

test('confinement as Docker\'s defaults: its capability set, /proc knobs read-only, host-facing /proc files masked', async (t) => {
  const ctx = makeCtx(t, image);
  const script = [
    'grep CapBnd /proc/self/status',
    'echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo sys-ro',
    // never written to: on a kernel with sysrq, a mask that failed would act on the host
    'test -c /proc/keys && test ! -s /proc/keys && echo keys-masked',
    '{ test ! -e /proc/sysrq-trigger || test -c /proc/sysrq-trigger; } && echo sysrq-masked-or-absent',
    'mkdir /m; mount -t tmpfs x /m 2>/dev/null || echo no-mount',
    'hostname other 2>/dev/null || echo no-sethostname',
  ].join('; ');
  const r = await run(ctx, { command: ['sh', '-c', script], rm: true });
  t.is(r.code, 0, r.err);
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
  // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
  t.is(r.out, 'CapBnd:\t00000000a80425fb\nsys-ro\nkeys-masked\nsysrq-masked-or-absent\nno-mount\nno-sethostname\n');
});

test('Env, WorkingDir, Entrypoint and Cmd as Docker: -e overrides, CMD replaces Cmd, -w is made', async (t) => {
  const ctx = makeCtx(t, image);
  const config = { ...baseConfig, config: { ...baseConfig.config, Entrypoint: ['/bin/echo', 'ep'], Cmd: ['default'], WorkingDir: '/srv/app' } };
  const dflt = await run(ctx, { rm: true }, { config });
  t.is(dflt.out, 'ep default\n', dflt.err);
  const args = await run(ctx, { command: ['given', 'args'], rm: true }, { config });
  t.is(args.out, 'ep given args\n');
  const env = await run(ctx, { ...sh('echo $FROM_IMAGE $MINE $HOME; pwd; env | grep -c ^HOSTNAME='), env: ['FROM_IMAGE=overridden', 'MINE=1'], workdir: '/made/here', rm: true });
  t.is(env.out, 'overridden 1 /root\n/made/here\n1\n', env.err);
  const wd = await run(ctx, { ...sh('pwd'), rm: true }, { config: { ...baseConfig, config: { ...baseConfig.config, WorkingDir: '/srv/app' } } });
  t.is(wd.out, '/srv/app\n');
});

test('-u takes names from the image\'s /etc/passwd, numbers, and user:group', async (t) => {
  const ctx = makeCtx(t, image);
  const byName = await run(ctx, { command: ['id'], user: 'nobody', rm: true });
  t.is(byName.out, 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n', byName.err);
  const numeric = await run(ctx, { command: ['id', '-u'], user: '1234:65534', rm: true });
  t.is(numeric.out, '1234\n');
  const home = await run(ctx, { ...sh('echo $HOME'), user: 'nobody', rm: true });
  t.is(home.out, '/nonexistent\n');
});

test('command not found is 127, not executable 126, each with a clear message and nothing left', async (t) => {
  const ctx = makeCtx(t, image);
  const nf = await run(ctx, { command: ['no-such-command'] });
  t.is(nf.code, 127);
  t.is(nf.err, 'strata: no-such-command: executable file not found in $PATH\n');
  const abs = await run(ctx, { command: ['/nowhere/x'] });
  t.is(abs.code, 127);
  t.regex(abs.err, /\/nowhere\/x: no such file or directory/);
  const ne = await run(ctx, { command: ['/bin/not-exec'] });
  t.is(ne.code, 126);
  t.regex(ne.err, /not-exec: Permission denied/i);
  const script = await run(ctx, { command: ['hello.sh'], rm: true });
  t.is(script.out, 'hello from a script\n');
  t.deepEqual(containerDirs(ctx), []);
  t.deepEqual(processesUsing(ctx.root), []);
});

test('bad input: unknown user, bad volume spec, name taken, relative -w, bad network: one line, nothing left', async (t) => {
  const ctx = makeCtx(t, image);
  const user = await run(ctx, { command: ['true'], user: 'ghost' });
  t.is(user.code, 125);
  t.is(user.err, 'strata: unable to find user ghost: no matching entries in passwd file\n');
  const group = await run(ctx, { command: ['true'], user: 'nobody:ghosts' });
  t.is(group.err, 'strata: unable to find group ghosts: no matching entries in group file\n');
  for (const [v, msg] of [
    ['nocolon', /expected HOSTDIR:DIR/],
    ['rel/dir:/x', /HOSTDIR must be an absolute path/],
    ['/tmp:rel', /DIR must be an absolute path/],
    ['/tmp:/x:rx', /mode must be ro or rw/],
    ['/no/such/dir:/x', /does not exist/],
  ] as const) {
    const r = await run(ctx, { command: ['true'], volumes: [v] });
    t.is(r.code, 125, v);
    t.regex(r.err, msg);
    t.is(r.err.split('\n').length, 2, 'one line');
  }
  const mountFails = await run(ctx, { command: ['true'] }, { env: { STRATA_MOUNT_PROGRAM: '/bin/false' } });
  t.is(mountFails.code, 125);
  t.regex(mountFails.err, /^strata: mount program \/bin\/false failed \(status 1\)\n$/);
  const wd = await run(ctx, { command: ['true'], workdir: 'relative' });
  t.regex(wd.err, /working directory "relative" is invalid/);
  const net = await run(ctx, { command: ['true'], network: 'bridge' });
  t.regex(net.err, /unsupported network "bridge"/);
  t.deepEqual(containerDirs(ctx), []);
  const first = await run(ctx, { command: ['true'], name: 'taken' });
  t.is(first.code, 0);
  const second = await run(ctx, { command: ['true'], name: 'taken' });
  t.is(second.code, 125);
  t.regex(second.err, /^strata: the container name "taken" is already in use by container [0-9a-f]{12}\n$/);
  t.is(containerDirs(ctx).length, 1);
  t.deepEqual(processesUsing(ctx.root), []);
});

test('volumes: read-write and read-only binds; symlinks in the image cannot aim them at the host', async (t) => {
  const ctx = makeCtx(t, image);
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-vol-'));
  t.teardown(() => fs.rmSync(host, { recursive: true, force: true }));
  fs.writeFileSync(path.join(host, 'in'), 'from host\n');
  const r = await run(ctx, {
    ...sh('cat /data/in; echo out > /data/out; cat /ro/in; touch /ro/x 2>/dev/null || echo ro-refused'),
    volumes: [`${host}:/data`, `${host}:/ro:ro`],
    rm: true,
  });
  t.is(r.code, 0, r.err);
  t.is(r.out, 'from host\nfrom host\nro-refused\n');
  t.is(fs.readFileSync(path.join(host, 'out'), 'utf8'), 'out\n');
  // the image has /escape -> /: a target through it is resolved in the container's root
  const probe = `strata-probe-${path.basename(host)}`;
  const sneaky = await run(ctx, { ...sh(`cat /${probe}/in`), volumes: [`${host}:/escape/${probe}`], rm: true });
  t.is(sneaky.code, 0, sneaky.err);
  t.is(sneaky.out, 'from host\n');
  t.false(fs.existsSync(`/${probe}`));
});

test('signals are forwarded to the command; a killed strata takes its container down (and its record with --rm)', async (t) => {
  const ctx = makeCtx(t, image);
  const r = spawnRun(ctx, { ...sh('trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.05; done'), rm: true });
  t.true(await eventually(() => r.output().includes('ready'), 10_000), r.output());
  r.child.kill('SIGTERM');
  t.is(await r.closed, 7);
  t.regex(r.output(), /got TERM/);
  t.deepEqual(containerDirs(ctx), []);

  const k = spawnRun(ctx, { ...sh('echo ready; sleep 1000'), name: 'orphan' });
  t.true(await eventually(() => k.output().includes('ready'), 10_000));
  k.child.kill('SIGKILL');
  await k.closed;
  t.true(await eventually(() => processesUsing(ctx.root).length === 0, 5000), processesUsing(ctx.root).join('\n'));
  const ps = strata(ctx, ['ps', '-a']);
  t.regex(ps.out, /Exited \(137\).*orphan/);
  // with --rm, strata-init removes the record strata could not
  const g = spawnRun(ctx, { ...sh('echo ready; sleep 1000'), name: 'orphan-rm', rm: true });
  t.true(await eventually(() => g.output().includes('ready'), 10_000));
  g.child.kill('SIGKILL');
  await g.closed;
  t.true(await eventually(() => !strata(ctx, ['ps', '-a']).out.includes('orphan-rm'), 10_000), strata(ctx, ['ps', '-a']).out);
  t.true(await eventually(() => containerDirs(ctx).length === 1), 'only the first orphan is left');
  t.true(await eventually(() => processesUsing(ctx.root).length === 0, 5000), processesUsing(ctx.root).join('\n'));
});

test('a killed `run --rm`: strata-init\'s fallback is the strata bin (CommonJS, NODE_EXTRA_CA_CERTS stashed), and it removes the record', async (t) => {
  const ctx = makeCtx(t, image);
  const ca = '/etc/ssl/certs/ca-certificates.crt';
  const g = spawnRun(ctx, { ...sh('echo ready; sleep 1000'), name: 'fallback', rm: true }, { NODE_EXTRA_CA_CERTS: ca });
  t.true(await eventually(() => g.output().includes('ready'), 10_000), g.output());
  const init = processesUsing(ctx.root).map((p) => p.split(' ')).find((a) => a[1]!.endsWith('/strata-init'));
  t.truthy(init, processesUsing(ctx.root).join('\n'));
  const onExit = init!.flatMap((a, i) => (i > 0 && init![i - 1] === '--on-exit' ? [a] : []));
  const [id] = containerDirs(ctx);
  t.deepEqual(onExit, ['/usr/bin/env', '-u', 'NODE_EXTRA_CA_CERTS', `STRATA_EXTRA_CA_CERTS=${ca}`, process.execPath, path.join(distDir, 'src/cli/strata.cjs'), '--root', ctx.root, 'rm', '--force', id]);
  g.child.kill('SIGKILL');
  await g.closed;
  t.true(await eventually(() => containerDirs(ctx).length === 0, 10_000), strata(ctx, ['ps', '-a']).out);
  t.true(await eventually(() => processesUsing(ctx.root).length === 0, 5000), processesUsing(ctx.root).join('\n'));
});

test('-it gives the command a real terminal (through a pty); exec -it uses the caller\'s', async (t) => {
  const ctx = makeCtx(t, image);
  const script = 'tty; test -t 0 && test -t 1 && echo both-tty; stty size; read line; echo "got $line"';
  const r = await inPty(ctx, runArgv(ctx, { ...sh(script), tty: true, interactive: true, name: 'term' }), { after: '33 101', text: 'hello\r' });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /\/dev\/pts\/0/);
  t.regex(r.out, /both-tty/);
  t.regex(r.out, /33 101/);
  t.regex(r.out, /got hello/);
  t.is(strata(ctx, ['rm', 'term']).code, 0);

  const d = await run(ctx, { ...sh('while true; do sleep 0.05; done'), detach: true, name: 'bg' });
  t.is(d.code, 0, d.err);
  const e = await inPty(ctx, mainArgv(ctx, ['exec', '-it', 'bg', 'sh', '-c', 'test -t 0 && echo exec-tty; read l; echo "exec got $l"']), { after: 'exec-tty', text: 'typed\r' });
  t.is(e.code, 0, e.out);
  t.regex(e.out, /exec got typed/);
  const notty = strata(ctx, ['exec', '-t', 'bg', 'true']);
  t.is(notty.code, 1);
  t.regex(notty.err, /not a TTY/);
});
