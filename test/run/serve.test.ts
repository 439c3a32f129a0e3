// A foreground `strata run` as root serves its container's union in its own process
// (src/run/serve.ts): strata-init mounts /dev/fuse in the container's mount namespace and
// sends the fd over; no mount program, no daemon. The same container works as with the
// daemon, and a killed strata leaves no mount, process or namespace.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { distDir } from '../helpers/daemon.js';
import { containerDirs, eventually, makeCtx, makeImage, mountsUnder, processesUsing, run, spawnRun, strata, type Image } from '../helpers/containers.js';

let image: Image;
test.before(() => {
  image = makeImage();
});
test.after.always(() => fs.rmSync(image.dir, { recursive: true, force: true }));

const sh = (script: string) => ({ command: ['sh', '-c', script] });

/** pids with an fd open on /dev/fuse */
function fuseHolders(): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === '/dev/fuse') {
          out.push(Number(pid));
          break;
        }
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/** The container's pid 1 as the host sees it, from the state strata wrote. */
function containerInit(ctx: Parameters<typeof containerDirs>[0], name: string): number | undefined {
  for (const id of containerDirs(ctx)) {
    try {
      const config = JSON.parse(fs.readFileSync(path.join(ctx.root, 'containers', id, 'config.json'), 'utf8')) as { name: string };
      if (config.name !== name) continue;
      return (JSON.parse(fs.readFileSync(path.join(ctx.root, 'containers', id, 'state.json'), 'utf8')) as { init: { pid: number } }).init.pid;
    } catch {
      // not written yet
    }
  }
  return undefined;
}

function nsHolders(ns: string): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readlinkSync(`/proc/${p}/ns/mnt`) === ns;
    } catch {
      return false;
    }
  }).map(Number);
}

test('the union is served by the strata run process itself: no mount program, no daemon', async (t) => {
  const ctx = makeCtx(t, image);
  const r = spawnRun(ctx, { ...sh('grep " / " /proc/self/mountinfo; echo ready; sleep 4'), name: 'inproc' });
  t.teardown(() => void r.child.kill('SIGKILL'));
  t.true(await eventually(() => r.output().includes('ready'), 10_000), r.output());
  // mounted as the daemon mounts it
  t.regex(r.output(), / \/ \/ rw,relatime - fuse\.strata strata rw,user_id=0,group_id=0,default_permissions,allow_other\n/);
  t.true(fuseHolders().includes(r.child.pid!), 'strata run holds the /dev/fuse fd');
  const users = processesUsing(ctx.root).join('\n');
  t.notRegex(users, /daemon\.js|overlay\.js/);
  const [id] = containerDirs(ctx);
  const state = JSON.parse(fs.readFileSync(path.join(ctx.root, 'containers', id!, 'state.json'), 'utf8')) as { daemon?: unknown };
  t.is(state.daemon, undefined);
  t.deepEqual(mountsUnder(ctx.root), [], 'the mount is in the container\'s namespace only');
  t.is(await r.closed, 0);
  t.deepEqual(processesUsing(ctx.root), []);
});

test('in-process: writes land in the upper with the requester\'s ids; set-id bits and devices work as root', async (t) => {
  const ctx = makeCtx(t, image);
  const r = await run(ctx, {
    ...sh('echo x > /root-file; mkdir /d; chown 1000:1001 /d; chmod 4755 /root-file; ls -l /root-file | cut -c1-10; rm /etc/app; cat /dev/null && echo devok'),
    name: 'ids',
  });
  t.is(r.code, 0, r.err);
  t.is(r.out, '-rwsr-xr-x\ndevok\n');
  const [id] = containerDirs(ctx);
  const upper = path.join(ctx.root, 'containers', id!, 'upper');
  const st = fs.statSync(path.join(upper, 'root-file'));
  t.is(st.uid, 0);
  t.is(st.mode & 0o7777, 0o4755);
  t.is(fs.statSync(path.join(upper, 'd')).uid, 1000);
  t.is(fs.statSync(path.join(upper, 'd')).gid, 1001);
  t.is(strata(ctx, ['diff', 'ids']).out, 'A /d\nC /etc\nD /etc/app\nA /root-file\n');
  const u = await run(ctx, { ...sh('id -u; echo hi > /tmp/f; ls -ln /tmp/f | tr -s " " | cut -d" " -f3,4'), user: '1234:1234', rm: true });
  t.is(u.code, 0, u.err);
  t.is(u.out, '1234\n1234 1234\n');
});

test('in-process: SIGKILL of strata run leaves no mount, no process, no namespace (with --rm, no record)', async (t) => {
  const ctx = makeCtx(t, image);
  for (const rm of [false, true]) {
    const r = spawnRun(ctx, { ...sh('echo ready; sleep 1000'), name: `killed-${rm}`, rm });
    t.true(await eventually(() => r.output().includes('ready'), 10_000), r.output());
    t.true(await eventually(() => containerInit(ctx, `killed-${rm}`) !== undefined, 5000));
    const init = containerInit(ctx, `killed-${rm}`);
    const ns = fs.readlinkSync(`/proc/${init}/ns/mnt`);
    t.not(ns, fs.readlinkSync('/proc/self/ns/mnt'));
    r.child.kill('SIGKILL');
    await r.closed;
    t.true(await eventually(() => processesUsing(ctx.root).length === 0, 5000), processesUsing(ctx.root).join('\n'));
    // 10 s: at load 8 on 2 CPUs the pid namespace's teardown has taken more than 5
    const cmdline = (p: number): string => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120);
      } catch {
        return '(gone)';
      }
    };
    const who = (): string => nsHolders(ns).map((p) => `${p}: ${cmdline(p)}`).join('; ');
    t.true(await eventually(() => nsHolders(ns).length === 0, 10_000), `${ns} still held by ${who()}`);
    t.deepEqual(mountsUnder(ctx.root), []);
    if (rm) t.true(await eventually(() => !strata(ctx, ['ps', '-a']).out.includes('killed-true'), 10_000), strata(ctx, ['ps', '-a']).out);
    else t.regex(strata(ctx, ['ps', '-a']).out, /Exited \(137\).*killed-false/);
    if (!rm) t.is(strata(ctx, ['rm', 'killed-false']).code, 0);
  }
});

test('STRATA_RUN_DAEMON=1 keeps the mount daemon: the bundle, started without NODE_EXTRA_CA_CERTS', async (t) => {
  const ctx = makeCtx(t, image);
  const ca = '/etc/ssl/certs/ca-certificates.crt';
  const r = spawnRun(ctx, { ...sh('cat /etc/app; sleep 2'), rm: true }, { STRATA_RUN_DAEMON: '1', NODE_EXTRA_CA_CERTS: ca });
  t.teardown(() => void r.child.kill('SIGKILL'));
  let daemon: { argv: string[]; environ: string[] } | undefined;
  while (r.child.exitCode === null && r.child.signalCode === null) {
    // "PID: ARGV...": the process that runs the daemon's stub (strata-init's line names it too)
    const pid = processesUsing(ctx.root).find((p) => p.split(' ')[2]?.endsWith('/strata-mount-daemon.cjs'))?.split(':')[0];
    try {
      if (pid && !daemon) {
        daemon = {
          argv: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'),
          environ: fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0'),
        };
      }
    } catch {
      // it ended meanwhile
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  t.is(await r.closed, 0, r.output());
  t.is(r.output(), 'app layer\n');
  t.truthy(daemon, 'a daemon served it');
  t.is(daemon!.argv[0], process.execPath);
  t.is(daemon!.argv[1], path.join(distDir, 'src/cli/strata-mount-daemon.cjs'));
  t.false(daemon!.environ.some((v) => v.startsWith('NODE_EXTRA_CA_CERTS=')));
  t.true(daemon!.environ.includes(`STRATA_EXTRA_CA_CERTS=${ca}`), 'stashed, for the daemon to put back');
  t.deepEqual(processesUsing(ctx.root), []);
  t.deepEqual(containerDirs(ctx), []);
});
