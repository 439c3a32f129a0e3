// The builder end to end on the real image store (a temp root per test, the offline
// busybox image as base) and RUN in src/run's containers: COPY into real layers, the
// cache, multi-stage, failures.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { build, shortId, type BuildOptions, type BuildResult } from '../../src/build/builder.js';
import { LayerView } from '../../src/build/layerview.js';
import { BuildError } from '../../src/build/errors.js';
import { type CountingStore, depsFor, storeWithBusybox } from './fixture.js';
import { distDir, repoRoot } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTar } from '../helpers/images.js';

function context(t: ExecutionContext, files: Record<string, string>): string {
  const dir = tempDir(t, 'strata-build-ctx-');
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

async function run(store: CountingStore, ctx: string, more: Partial<BuildOptions> = {}): Promise<BuildResult & { log: string[]; out: string }> {
  const log: string[] = [];
  let out = '';
  const r = await build({ contextDir: ctx, log: (l) => log.push(l), output: (c) => (out += c.toString()), ...more }, depsFor(store));
  return { ...r, log, out };
}

/** the strata CLI on the store at root (STRATA_MOUNT_PROGRAM as fixture.ts sets it) */
const strata = (root: string, args: string[]) =>
  spawnSync(process.execPath, [path.join(distDir, 'src/cli/main.js'), '--root', root, ...args], { encoding: 'utf8', timeout: 60_000 });

const read = (store: CountingStore, id: string, rel: string): string => {
  const node = new LayerView(store.resolveImage(id).layerDirs).lstat(rel);
  if (!node) throw new Error(`${rel} not in image`);
  return fs.readFileSync(node.hostPath, 'utf8');
};

const APP = {
  Dockerfile: [
    'FROM busybox',
    'ARG GREETING=hello',
    'ENV APP=/app',
    'WORKDIR $APP',
    'COPY src/ ./',
    'RUN echo "$GREETING from $(pwd)" > greeting && cat main.sh',
    'LABEL org.example.v=1',
    'CMD ["sh", "main.sh"]',
  ].join('\n'),
  'src/main.sh': 'echo main\n',
  'src/lib/util.sh': 'echo util\n',
};

test('a build runs each step, prints it like docker build, and makes the files and config', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, APP);
  const r = await run(store, ctx, { tags: ['app'] });
  t.is(r.log[0], 'Step 1/8 : FROM busybox');
  t.true(r.log.includes('Step 6/8 : RUN echo "$GREETING from $(pwd)" > greeting && cat main.sh'));
  t.is(r.log.at(-2), `Successfully built ${shortId(r.image.id)}`);
  t.is(r.log.at(-1), 'Successfully tagged app:latest');
  t.is(r.out, 'echo main\n');
  t.is(store.resolveImage('app').id, r.image.id);
  t.is(read(store, r.image.id, 'app/greeting'), 'hello from /app\n');
  t.is(read(store, r.image.id, 'app/lib/util.sh'), 'echo util\n');
  const c = { ...r.image.config, config: r.image.config.config! };
  t.deepEqual(c.config.Cmd, ['sh', 'main.sh']);
  t.is(c.config.WorkingDir, '/app');
  t.true(c.config.Env!.includes('APP=/app'));
  t.false(c.config.Env!.some((e) => e.startsWith('GREETING=')), 'an ARG is not kept in the image');
  t.deepEqual(c.config.Labels, { 'org.example.v': '1' });
  const h = c.history!.slice(1);
  t.deepEqual(h.map((e) => e.empty_layer ?? false), [true, true, false, false, false, true, true]);
  t.is(h[0]!.created_by, '/bin/sh -c #(nop)  ARG GREETING=hello');
  t.regex(h[3]!.created_by!, /^COPY dir:[0-9a-f]{64} in \/app$/);
  t.is(h[4]!.created_by, 'RUN |1 GREETING=hello /bin/sh -c echo "$GREETING from $(pwd)" > greeting && cat main.sh');
  t.is(c.rootfs.diff_ids.length, 4, 'base + WORKDIR + COPY + RUN');
  t.is(r.cached, 0);
});

test('an unchanged second build comes entirely from the cache; mtime alone changes nothing', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, APP);
  const first = await run(store, ctx);
  fs.utimesSync(path.join(ctx, 'src/main.sh'), 12345, 12345);
  store.commits = 0;
  const started = Date.now();
  const second = await run(store, ctx);
  const ms = Date.now() - started;
  t.is(second.image.id, first.image.id);
  t.is(second.cached, 7);
  t.is(store.commits, 0);
  t.is(second.log.filter((l) => l === ' ---> Using cache').length, 7);
  t.is(second.out, '', 'no RUN ran');
  t.log(`cached rebuild: ${ms} ms`);
});

test('a changed source misses from its COPY on; a changed build arg from the first RUN after it', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, APP);
  await run(store, ctx);
  fs.writeFileSync(path.join(ctx, 'src/main.sh'), 'echo changed\n');
  const changed = await run(store, ctx);
  t.is(changed.cached, 3, 'ARG, ENV, WORKDIR from the cache; COPY and after built');
  t.is(changed.out, 'echo changed\n');
  const arg = await run(store, ctx, { buildArgs: new Map([['GREETING', 'hi']]) });
  t.is(arg.cached, 4, 'ARG line itself, ENV, WORKDIR, COPY cached; RUN misses');
  t.is(read(store, arg.image.id, 'app/greeting'), 'hi from /app\n');
  fs.chmodSync(path.join(ctx, 'src/main.sh'), 0o700);
  const mode = await run(store, ctx, { buildArgs: new Map([['GREETING', 'hi']]) });
  t.is(mode.cached, 3, 'a mode change is a content change for COPY');
});

test('--no-cache builds every step again', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, APP);
  await run(store, ctx);
  const r = await run(store, ctx, { noCache: true });
  t.is(r.cached, 0);
  t.false(r.log.includes(' ---> Using cache'));
});

test('a failing RUN names the step, its exit status and the last good image, which holds the earlier steps', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { Dockerfile: 'FROM busybox\nRUN echo one > /one\nRUN echo "to stderr" >&2; exit 3\nRUN echo never\n' });
  const log: string[] = [];
  let out = '';
  const e = await t.throwsAsync(build({ contextDir: ctx, log: (l) => log.push(l), output: (c) => (out += c) }, depsFor(store)), { instanceOf: BuildError });
  t.regex(e.message, /^step 3\/4 \(RUN echo "to stderr" >&2; exit 3\) failed: the command '\/bin\/sh -c echo "to stderr" >&2; exit 3' returned a non-zero code: 3; the last good image is ([0-9a-f]{12}): strata run -it \1 sh$/);
  t.is(out, 'to stderr\n');
  const good = /last good image is ([0-9a-f]{12})/.exec(e.message)![1]!;
  t.is(read(store, good, 'one'), 'one\n');
  const debug = strata(store.root, ['run', '--rm', good, 'cat', '/one']);
  t.is(debug.stdout, 'one\n', debug.stderr);
  t.is(debug.status, 0);
  t.is(log.at(-1), 'Step 3/4 : RUN echo "to stderr" >&2; exit 3');
});

test('multi-stage: COPY --from a stage by name and by index, FROM an earlier stage, --target', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, {
    Dockerfile: [
      'FROM busybox AS builder',
      'RUN mkdir /out && echo built > /out/artifact && ln -s artifact /out/link',
      'FROM builder AS tester',
      'RUN cat /out/artifact > /tested',
      'FROM busybox',
      'COPY --from=builder /out/ /opt/',
      'COPY --from=0 /out/artifact /copy-by-index',
    ].join('\n'),
  });
  const r = await run(store, ctx);
  t.is(read(store, r.image.id, 'opt/artifact'), 'built\n');
  t.is(read(store, r.image.id, 'copy-by-index'), 'built\n');
  t.is(fs.readlinkSync(new LayerView(r.image.layerDirs).lstat('opt/link')!.hostPath), 'artifact');
  t.is(new LayerView(r.image.layerDirs).lstat('tested'), undefined);
  t.is(r.log[0], 'Step 1/5 : FROM busybox AS builder', 'the unneeded stage "tester" is not built');
  const target = await run(store, ctx, { target: 'tester' });
  t.is(read(store, target.image.id, 'tested'), 'built\n');
});

test('reproducible: with a timestamp, two builds in two stores give the same image id', async (t) => {
  const ctx = context(t, APP);
  const ts = new Date('2024-01-02T03:04:05Z');
  const a = await run(await storeWithBusybox(t), ctx, { timestamp: ts });
  const b = await run(await storeWithBusybox(t), ctx, { timestamp: ts });
  t.is(a.image.id, b.image.id);
  t.is(a.image.config.created, ts.toISOString());
  const c = await run(await storeWithBusybox(t), ctx, { timestamp: new Date('2024-01-02T03:04:06Z') });
  t.not(c.image.id, a.image.id);
});

test('--squash makes the stage one layer on top of its base, with the same files', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { Dockerfile: 'FROM busybox\nRUN echo a > /a && echo b > /b\nRUN rm /b && rm /bin/vi && rm -r /home && mkdir /home && echo n > /home/new\nCOPY f /f\n', f: 'F' });
  const r = await run(store, ctx, { squash: true });
  const base = store.resolveImage('busybox');
  t.is(r.image.layerDirs.length, base.layerDirs.length + 1);
  const v = new LayerView(r.image.layerDirs);
  t.is(read(store, r.image.id, 'a'), 'a\n');
  t.is(read(store, r.image.id, 'f'), 'F');
  t.is(v.lstat('b'), undefined, 'a file made and removed in the stage is simply gone');
  t.is(v.lstat('bin/vi'), undefined, 'a base file removed stays removed (a whiteout in the squashed layer)');
  t.truthy(v.lstat('bin/ls'));
  t.deepEqual(v.readdir('home'), ['new'], 'a dir replaced in the stage stays opaque over the base');
  const again = await run(store, ctx, { squash: true });
  t.is(again.image.id, r.image.id, 'the squash is cached too');
  t.is(again.cached, 3);
});

test('USER, WORKDIR and ENV reach RUN', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { Dockerfile: 'FROM busybox\nENV X=envx\nWORKDIR /tmp/w\nRUN chmod 777 .\nUSER nobody\nRUN id -u > uid && pwd > pwd && echo $X > x\n' });
  const r = await run(store, ctx);
  t.is(read(store, r.image.id, 'tmp/w/uid'), '65534\n');
  t.is(read(store, r.image.id, 'tmp/w/pwd'), '/tmp/w\n');
  t.is(read(store, r.image.id, 'tmp/w/x'), 'envx\n');
});

test('COPY --chown by name and --chmod; heredoc COPY and RUN', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, {
    Dockerfile: 'FROM busybox\nCOPY --chown=nobody:nogroup --chmod=0600 f /f\nCOPY <<EOF /etc/conf\nv=$HOME\nEOF\nRUN <<EOS\nset -e\nstat -c %u:%g:%a /f > /owner\nEOS\nRUN <<EOS\n#!/bin/sh\necho "run as $0" > /script\nEOS\n',
    f: 'F',
  });
  const r = await run(store, ctx);
  t.is(read(store, r.image.id, 'owner'), '65534:65534:600\n');
  t.is(read(store, r.image.id, 'etc/conf'), 'v=\n');
  t.is(read(store, r.image.id, 'script'), 'run as /.strata-heredoc/EOS\n', 'a #! heredoc runs as a file');
  t.is(new LayerView(r.image.layerDirs).lstat('.strata-heredoc'), undefined, 'which is not left in the image');
});

test('ADD unpacks a local tar; ADD of a URL fails clearly without a network', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { 'p/inner.txt': 'inner', Dockerfile: 'FROM busybox\nADD p.tar /x/\n' });
  spawnSync('tar', ['-cf', path.join(ctx, 'p.tar'), '-C', path.join(ctx, 'p'), 'inner.txt']);
  const r = await run(store, ctx);
  t.is(read(store, r.image.id, 'x/inner.txt'), 'inner');
  // a port nobody listens on: what a build without a network meets
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const url = `http://127.0.0.1:${port}/file.txt`;
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM busybox\nADD ${url} /x/\n`);
  const e = await t.throwsAsync(run(store, ctx), { instanceOf: BuildError });
  t.is(e.message, `Dockerfile:2: ADD ${url} /x/: ADD ${url}: cannot download (ECONNREFUSED): no network, or the host cannot be reached`);
});

test('bad input: a missing base image, a source outside the context; nothing is committed', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { Dockerfile: 'FROM nosuchimage\nRUN true\n' });
  await t.throwsAsync(run(store, ctx), { instanceOf: BuildError, message: `Dockerfile:1: FROM nosuchimage: image 'nosuchimage' not found in ${store.root}` });
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY ../etc/passwd /x\n');
  await t.throwsAsync(run(store, ctx), { instanceOf: BuildError, message: 'Dockerfile:2: COPY ../etc/passwd /x: ../etc/passwd: forbidden path outside the build context' });
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nFROBNICATE\n');
  await t.throwsAsync(run(store, ctx), { message: 'Dockerfile:2: unknown instruction: FROBNICATE: FROBNICATE' });
  t.is(store.commits, 0);
});

test('ONBUILD triggers run in the child build, right after its FROM', async (t) => {
  const store = await storeWithBusybox(t);
  const parent = context(t, { Dockerfile: 'FROM busybox\nONBUILD COPY marker /marker\nONBUILD RUN cat /marker > /seen\n' });
  await run(store, parent, { tags: ['parent'] });
  const child = context(t, { Dockerfile: 'FROM parent\nRUN cat /seen\n', marker: 'from child context\n' });
  const r = await run(store, child);
  t.is(r.out, 'from child context\n');
  t.true(r.log.includes('# Executing 2 build triggers'));
  t.deepEqual(r.image.config.config!.OnBuild, null);
});

test('unused build args are warned about', async (t) => {
  const store = await storeWithBusybox(t);
  const r = await run(store, context(t, { Dockerfile: 'FROM busybox\nARG USED\n' }), { buildArgs: new Map([['USED', '1'], ['UNUSED', '2']]) });
  t.deepEqual(r.warnings, ['[Warning] One or more build-args [UNUSED] were not consumed']);
});

test('ADD of a URL downloads it (mode 0600, named after the URL); --checksum is verified', async (t) => {
  const server = http.createServer((_req, res) => {
    res.setHeader('Last-Modified', new Date(86400_000).toUTCString());
    res.end('downloaded\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/dir/file.txt`;
  const store = await storeWithBusybox(t);
  const sum = crypto.createHash('sha256').update('downloaded\n').digest('hex');
  const ctx = context(t, { Dockerfile: `FROM busybox\nADD --checksum=sha256:${sum} ${url} /x/\n` });
  const r = await run(store, ctx);
  const node = new LayerView(r.image.layerDirs).lstat('x/file.txt')!;
  t.is(fs.readFileSync(node.hostPath, 'utf8'), 'downloaded\n');
  t.is(node.attr.mode & 0o777, 0o600);
  t.is(node.attr.mtime, 86400);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} ${url} /x/\n`);
  await t.throwsAsync(run(store, ctx), { message: new RegExp(`checksum mismatch: expected sha256:0{64}, got sha256:${sum}$`) });
});

test('the example in examples/hello builds, runs with strata run --rm, and a second build is all from the cache', async (t) => {
  const store = await storeWithBusybox(t);
  const example = path.join(repoRoot, 'examples/hello');
  const r = await run(store, example, { tags: ['hello'] });
  t.deepEqual(r.image.config.config!.Cmd, ['/app/hello.sh']);
  t.is(new LayerView(r.image.layerDirs).lstat('app/Dockerfile'), undefined, '.dockerignore kept the rest out');
  const ran = strata(store.root, ['run', '--rm', 'hello']);
  t.is(ran.stderr, '');
  t.is(ran.stdout, 'Hello from an image Strata built\nbuilt by root in /app\none layer per step that changes files\n');
  t.is(ran.status, 0);

  store.commits = 0;
  const again = await run(store, example, { tags: ['hello'] });
  t.is(again.image.id, r.image.id);
  const steps = again.log.filter((l) => l.startsWith('Step '));
  t.is(steps.length, again.steps);
  // every step after FROM is followed by "Using cache" and its id
  for (const [n, line] of again.log.entries()) {
    if (!line.startsWith('Step ') || line.includes(': FROM ')) continue;
    t.is(again.log[n + 1], ' ---> Using cache', line);
  }
  t.is(again.cached, again.steps - 1);
  t.is(store.commits, 0);
  t.is(again.out, '', 'no RUN ran');
});

test('a metadata step whose effect changes misses the cache (HEALTHCHECK options)', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { Dockerfile: 'FROM busybox\nHEALTHCHECK --retries=1 CMD true\n' });
  const a = await run(store, ctx);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nHEALTHCHECK --retries=2 CMD true\n');
  const b = await run(store, ctx);
  t.is(b.cached, 0);
  t.not(a.image.id, b.image.id);
  t.is(b.image.config.config!.Healthcheck!.Retries, 2);
});

test('COPY --from an image; COPY and WORKDIR through an image symlink keep the symlink', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, {
    Dockerfile: 'FROM busybox\nRUN mkdir -p /usr/lib/real && ln -s usr/lib/real /lnk\nCOPY f /lnk/\nWORKDIR /lnk/w\nCOPY --from=busybox /etc/passwd /p\n',
    f: 'F',
  });
  const r = await run(store, ctx);
  const v = new LayerView(r.image.layerDirs);
  t.true(fs.lstatSync(v.lstat('lnk')!.hostPath).isSymbolicLink());
  t.is(read(store, r.image.id, 'usr/lib/real/f'), 'F');
  t.true(v.isDir('usr/lib/real/w'));
  t.is(read(store, r.image.id, 'p'), read(store, 'busybox', 'etc/passwd'));
});

test('FROM scratch: a config-only image (no layer), then a COPY layer on it; both resolve in the store', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { Dockerfile: 'FROM scratch\nLABEL only=config\n', f: 'F' });
  const meta = await run(store, ctx, { tags: ['meta'] });
  t.deepEqual(meta.image.manifest.layers, []);
  t.deepEqual(meta.image.config.rootfs.diff_ids, []);
  t.deepEqual(meta.image.config.history!.map((h) => [h.created_by, h.empty_layer]), [['/bin/sh -c #(nop)  LABEL only=config', true]]);
  t.is(store.resolveImage('meta').id, meta.image.id);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM meta\nCOPY f /f\n');
  const files = await run(store, ctx);
  t.is(files.image.layerDirs.length, 1);
  t.is(read(store, files.image.id, 'f'), 'F');
  t.deepEqual(files.image.config.config!.Labels, { only: 'config' });
});

test('ADD unpacks with the image module\'s hardened extraction: xz and gzip tars; .. and writes through a symlink refused', async (t) => {
  const store = await storeWithBusybox(t);
  const ctx = context(t, { Dockerfile: 'FROM busybox\nRUN mkdir /x && echo kept > /x/old\nADD good.tar.xz good.tar.gz /x/\n' });
  const good = await makeTar([{ name: 'd/', type: 'directory' }, { name: 'd/f', content: 'from xz\n', uid: 7, gid: 8, mode: 0o640 }]);
  fs.writeFileSync(path.join(ctx, 'good.tar.xz'), spawnSync('xz', ['-c'], { input: good }).stdout);
  fs.writeFileSync(path.join(ctx, 'good.tar.gz'), zlib.gzipSync(await makeTar([{ name: 'd/g', content: 'from gzip\n' }])));
  const r = await run(store, ctx);
  t.is(read(store, r.image.id, 'x/d/f'), 'from xz\n');
  t.is(read(store, r.image.id, 'x/d/g'), 'from gzip\n', 'two archives merge into one dir');
  t.is(read(store, r.image.id, 'x/old'), 'kept\n');
  const f = new LayerView(r.image.layerDirs).lstat('x/d/f')!.attr;
  t.deepEqual([f.uid, f.gid, f.mode & 0o7777], [7, 8, 0o640]);

  fs.writeFileSync(path.join(ctx, 'evil.tar'), await makeTar([{ name: '../../escape', content: 'x' }]));
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nADD evil.tar /x/\n');
  await t.throwsAsync(run(store, ctx), { instanceOf: BuildError, message: /^ADD evil\.tar: cannot unpack: .*\.\./ });
  fs.writeFileSync(path.join(ctx, 'evil.tar'), await makeTar([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', content: 'owned\n' }]));
  await t.throwsAsync(run(store, ctx), { instanceOf: BuildError, message: /^ADD evil\.tar: cannot unpack: .*symlink/ });
  t.is(read(store, 'busybox', 'etc/passwd').includes('owned'), false);
});
