// Containers on images from the store, end to end through the CLI, as root and as an
// unprivileged user (uid 65534 through setpriv), each with a fresh --root: import, run,
// commit (layers with whiteouts and opaque dirs, -m, -c), history, diff, rmi holds; and
// what `strata run` loads.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { containerDirs, makeCtx, mountsUnder, NOBODY, processesUsing, strata, type Ctx } from '../helpers/containers.js';
import { busyboxRootfs } from '../helpers/images.js';
import { distDir } from '../helpers/daemon.js';

let rootfs: string;
let ownRootfs: string;
test.before(() => {
  rootfs = busyboxRootfs();
  // the unprivileged user imports a copy of its own, as it would have made it
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-run-rootfs-'));
  fs.chmodSync(dir, 0o755);
  ownRootfs = path.join(dir, 'rootfs');
  spawnSync('cp', ['-a', rootfs, ownRootfs]);
  spawnSync('chown', ['-R', '-h', `${NOBODY}:${NOBODY}`, ownRootfs]);
});
test.after.always(() => fs.rmSync(path.dirname(ownRootfs), { recursive: true, force: true }));

const USERS = [
  { title: 'as root', asNobody: false },
  { title: 'rootless', asNobody: true },
];

/** A store with the busybox image imported through the CLI. */
function storeWithBusybox(t: ExecutionContext, asNobody: boolean): Ctx {
  const ctx = makeCtx(t, { dir: '', lowers: [] }, asNobody);
  const r = strata(ctx, ['import', asNobody ? ownRootfs : rootfs, 'busybox']);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /^sha256:[0-9a-f]{64}\n$/);
  return ctx;
}

function ok(t: ExecutionContext, ctx: Ctx, args: string[]): string {
  const r = strata(ctx, args);
  t.is(r.code, 0, `strata ${args.join(' ')}: ${r.err}`);
  return r.out;
}

interface ImageInspect {
  LayerDirs: string[];
  Config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string; Labels?: Record<string, string> };
  History: { created_by?: string; comment?: string }[];
}

const inspectImage = (t: ExecutionContext, ctx: Ctx, ref: string): ImageInspect => (JSON.parse(ok(t, ctx, ['inspect', ref])) as ImageInspect[])[0]!;

function nothingLeft(t: ExecutionContext, ctx: Ctx): void {
  t.deepEqual(containerDirs(ctx), [], 'no container record');
  t.deepEqual(processesUsing(ctx.root), [], 'no process');
  t.deepEqual(mountsUnder(ctx.root), [], 'no mount');
  // a --rm record goes with its name and its (unsynced) image hold
  const names = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d) : []);
  t.deepEqual(names(path.join(ctx.root, 'containers', '.names')), [], 'no container name');
  t.deepEqual(names(path.join(ctx.root, 'holds')), [], 'no image hold');
}

function xattrs(p: string): string {
  return spawnSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', p], { encoding: 'utf8' }).stdout;
}

for (const u of USERS) {
  test(`${u.title}: import, run --rm busybox echo hi; an unknown image is 125 with one line; rmi waits for rm`, (t) => {
    const ctx = storeWithBusybox(t, u.asNobody);
    const r = strata(ctx, ['run', '--rm', 'busybox', 'echo', 'hi']);
    t.is(r.code, 0, r.err);
    t.is(r.out, 'hi\n');
    nothingLeft(t, ctx);
    const bad = strata(ctx, ['run', '--rm', 'no-such-image:v1', 'true']);
    t.is(bad.code, 125);
    t.regex(bad.err, /^strata: .*no-such-image:v1.*\n$/);
    t.is(bad.out, '');
    nothingLeft(t, ctx);

    // an exited container keeps its image: rmi refused until it is removed
    ok(t, ctx, ['run', '--name', 'holder', 'busybox', 'true']);
    const refused = strata(ctx, ['rmi', 'busybox']);
    t.is(refused.code, 1);
    t.regex(refused.err, /^strata: image 'busybox' is in use by [0-9a-f]{64}.*\n$/);
    t.regex(ok(t, ctx, ['images', '-q']), /^[0-9a-f]{12}\n$/);
    ok(t, ctx, ['rm', 'holder']);
    t.regex(ok(t, ctx, ['rmi', 'busybox']), /Untagged: busybox:latest\nDeleted: sha256:/);
    t.is(ok(t, ctx, ['images', '-q']), '');
  });

  test(`${u.title}: two committed layers (a whiteout, an opaque dir) run as the merged tree; diff, history, runtime files left out`, (t) => {
    const ctx = storeWithBusybox(t, u.asNobody);
    ok(t, ctx, ['run', '--name', 'one', 'busybox', 'sh', '-c', 'echo app > /etc/app && rm /bin/vi && mkdir /opt && echo old > /opt/old && echo keep > /opt/keep']);
    const d1 = ok(t, ctx, ['diff', 'one']).split('\n');
    for (const l of ['A /etc/app', 'D /bin/vi', 'A /opt', 'A /opt/old']) t.true(d1.includes(l), `${l} in\n${d1.join('\n')}`);
    t.false(d1.some((l) => /hostname|hosts|resolv\.conf|^. \/(proc|dev|sys)\b/.test(l)), d1.join('\n'));
    t.regex(ok(t, ctx, ['commit', '-m', 'the app layer', 'one', 'layered:1']), /^sha256:[0-9a-f]{64}\n$/);

    ok(t, ctx, ['run', '--name', 'two', 'layered:1', 'sh', '-c', 'rm -rf /opt && mkdir /opt && echo new > /opt/new']);
    const d2 = ok(t, ctx, ['diff', 'two']).split('\n');
    for (const l of ['C /opt', 'D /opt/keep', 'D /opt/old', 'A /opt/new']) t.true(d2.includes(l), `${l} in\n${d2.join('\n')}`);
    ok(t, ctx, ['commit', 'two', 'layered:2']);

    const img = inspectImage(t, ctx, 'layered:2');
    t.is(img.LayerDirs.length, 3);
    const [top, mid] = img.LayerDirs as [string, string];
    // the store's layers are in overlay format: a char 0/0 whiteout, an opaque dir
    const vi = fs.lstatSync(path.join(mid, 'bin/vi'));
    t.true(vi.isCharacterDevice() && vi.rdev === 0);
    t.regex(xattrs(path.join(top, 'opt')), /overlay\.opaque="y"/);
    t.deepEqual(fs.readdirSync(path.join(top, 'opt')), ['new']);
    for (const layer of [top, mid]) {
      for (const p of ['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'proc', 'dev', 'sys']) t.false(fs.existsSync(path.join(layer, p)), `${p} in a committed layer`);
    }

    const r = strata(ctx, ['run', '--rm', 'layered:2', 'sh', '-c', 'cat /etc/app; ls /opt; test -e /bin/vi || echo no-vi; cat /etc/hostname | wc -l']);
    t.is(r.code, 0, r.err);
    t.is(r.out, 'app\nnew\nno-vi\n1\n');

    const hist = ok(t, ctx, ['history', 'layered:2']).trim().split('\n');
    t.is(hist.length, 4, hist.join('\n'));
    t.regex(hist[2]!, /strata commit .*the app layer/);
    t.regex(hist[1]!, /strata commit /);
    t.deepEqual(img.History.map((h) => h.comment ?? ''), ['imported', 'the app layer', '']);
  });

  test(`${u.title}: commit -c sets Entrypoint, Cmd, Env, WorkingDir, User and labels; run honours them and its own options win`, (t) => {
    const ctx = storeWithBusybox(t, u.asNobody);
    // rootless, only uid 0 is mapped unless /etc/subuid gives the caller a range
    const user = u.asNobody ? '0:0' : 'nobody';
    const uid = u.asNobody ? '0' : '65534';
    ok(t, ctx, ['run', '--name', 'base', 'busybox', 'sh', '-c', 'mkdir -p /work && chmod 777 /work && echo greeting > /work/file']);
    ok(t, ctx, [
      'commit', 'base', 'configured',
      '-c', 'ENTRYPOINT ["/bin/sh", "-c"]',
      '-c', 'CMD ["echo \\"$GREETING|$PWD|$(id -u)|$(cat file)\\""]',
      '-c', 'ENV GREETING="hello there" OTHER=1',
      '-c', 'WORKDIR /work',
      '-c', `USER ${user}`,
      '-c', 'LABEL purpose=test',
    ]);
    const img = inspectImage(t, ctx, 'configured');
    t.deepEqual(img.Config.Entrypoint, ['/bin/sh', '-c']);
    t.is(img.Config.WorkingDir, '/work');
    t.is(img.Config.User, user);
    t.true(img.Config.Env?.includes('GREETING=hello there'), JSON.stringify(img.Config.Env));
    t.deepEqual(img.Config.Labels, { purpose: 'test' });

    const r = strata(ctx, ['run', '--rm', 'configured']);
    t.is(r.code, 0, r.err);
    t.is(r.out, `hello there|/work|${uid}|greeting\n`);
    // CMD replaced (the Entrypoint stays), -e, -w and -u override the image
    const o = strata(ctx, ['run', '--rm', '-e', 'GREETING=bye', '-w', '/', '-u', '0', 'configured', 'echo "$GREETING $PWD $(id -u) $OTHER"']);
    t.is(o.code, 0, o.err);
    t.is(o.out, 'bye / 0 1\n');
    ok(t, ctx, ['rm', 'base']);
    nothingLeft(t, ctx);
  });
}

test('strata run loads none of the registry, archive or import code', (t) => {
  const ctx = storeWithBusybox(t, false);
  const hook = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'strata-hook-')), 'hook.mjs');
  t.teardown(() => fs.rmSync(path.dirname(hook), { recursive: true, force: true }));
  fs.writeFileSync(hook, "export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('/dist/src/')) process.stderr.write(`loaded ${r.url.replace(/.*\\/dist\\//, '')}\\n`); return r; }\n");
  // tsc's main.js, kept beside the bundle (scripts/bundle.mjs): the bundle evaluates what it loads
  const main = path.join(distDir, 'src/cli/main.unbundled.js');
  const r = spawnSync(process.execPath, ['--no-warnings', '--experimental-loader', hook, main, '--root', ctx.root, 'run', '--rm', 'busybox', 'true'], {
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('loaded ')).map((l) => l.slice(7));
  t.true(loaded.includes('src/run/start.js'), 'the hook sees our modules');
  // registry/extra-ca.js: main.ts's first step, the NODE_EXTRA_CA_CERTS stash (node built-ins only)
  t.deepEqual(loaded.filter((m) => m !== 'src/registry/extra-ca.js' && /^src\/(registry|build)\/|image\/(archive-|image-import|listing)/.test(m)), []);
});
