// strata diff on real container layers and on hand-made uppers in each whiteout form;
// what commit would make of a container (its config, the runtime's paths left out).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { changes, runtimePaths } from '../../src/run/diff.js';
import { applyChange, committedConfig, defaultTag } from '../../src/run/commit.js';
import { lowerHas, lowerList, mountProgramMarkers } from '../../src/run/layers.js';
import type { ContainerConfig } from '../../src/run/state.js';
import { makeCtx, makeImage, run, strata, type Image } from '../helpers/containers.js';
import { tempDir } from '../helpers/tmp.js';

let image: Image;
test.before(() => {
  image = makeImage();
});
test.after.always(() => fs.rmSync(image.dir, { recursive: true, force: true }));

test('diff of a container: A, C, D, an opaque dir replacing a lower one, mountpoints left out', async (t) => {
  const ctx = makeCtx(t, image);
  const vol = tempDir(t);
  const script = 'echo x > /added; echo more >> /etc/app; rm /bin/cat; rm -rf /opt; mkdir /opt; touch /opt/z; mkdir -p /srv/deep; touch /srv/deep/f';
  const r = await run(ctx, { command: ['sh', '-c', script], volumes: [`${vol}:/mnt/vol`], name: 'changed' });
  t.is(r.code, 0, r.err);
  const d = strata(ctx, ['diff', 'changed']);
  t.is(d.code, 0, d.err);
  t.is(
    d.out,
    ['A /added', 'C /bin', 'D /bin/cat', 'C /etc', 'C /etc/app', 'A /mnt', 'C /opt', 'D /opt/new', 'A /opt/z', 'A /srv', 'A /srv/deep', 'A /srv/deep/f', ''].join('\n'),
  );
});

test('changes() reads every whiteout form: char 0/0, .wh.NAME, and opaque markers', (t) => {
  const dir = tempDir(t);
  const lower = path.join(dir, 'lower');
  const upper = path.join(dir, 'upper');
  for (const p of ['a', 'b', 'keep/x', 'keep/y', 'gone/old']) {
    fs.mkdirSync(path.dirname(path.join(lower, p)), { recursive: true });
    fs.writeFileSync(path.join(lower, p), p);
  }
  fs.mkdirSync(path.join(upper, 'keep'), { recursive: true });
  fs.mkdirSync(path.join(upper, 'gone'));
  t.is(spawnSync('mknod', [path.join(upper, 'a'), 'c', '0', '0']).status, 0);
  fs.writeFileSync(path.join(upper, '.wh.b'), '');
  fs.writeFileSync(path.join(upper, 'keep/.wh.x'), '');
  // an opaque dir in the OCI marker form
  fs.writeFileSync(path.join(upper, 'gone/.wh..wh..opq'), '');
  fs.writeFileSync(path.join(upper, 'gone/fresh'), '');
  t.deepEqual(
    changes(upper, [lower]).map((c) => `${c.kind} ${c.path}`),
    ['D /a', 'D /b', 'C /gone', 'A /gone/fresh', 'D /gone/old', 'C /keep', 'D /keep/x'],
  );
});

test('lowerHas and lowerList honour whiteouts and opaque dirs through the stack', (t) => {
  const [app, base] = image.lowers as [string, string];
  t.true(lowerHas([app, base], 'bin/sh'));
  t.false(lowerHas([app, base], 'bin/vi'), 'whited out in app');
  t.true(lowerHas([base], 'bin/vi'));
  t.false(lowerHas([app, base], 'opt/old'), 'app/opt is opaque');
  t.true(lowerHas([app, base], 'opt/new'));
  t.false(lowerHas([app, base], 'etc/passwd/x'), 'not a dir');
  t.deepEqual(lowerList([app, base], 'opt'), ['new']);
  t.false(lowerList([app, base], 'bin').includes('vi'));
  t.true(lowerList([app, base], 'bin').includes('hello.sh'));
});

const container = (over: Partial<ContainerConfig> = {}): ContainerConfig => ({
  id: 'a'.repeat(64), name: 'c', created: '', image: { id: 'sha256:1', ref: 'img' }, lowers: [],
  imageConfig: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Labels: { keep: 'yes' } }, history: [{ created_by: 'base' }] },
  argv: ['echo', 'hi'], cmd: ['echo', 'hi'], env: ['HOSTNAME=x', 'PATH=/bin', 'A=2'], workingDir: '/w', user: 'nobody', hostname: 'x',
  network: 'none', volumes: [{ source: '/h', target: '/data', readOnly: false }], tty: false, interactive: false, autoRemove: false,
  detach: false, rootless: false, creator: { pid: 1, start: '1' }, bootId: '', ...over,
});

test('commit config: the container\'s settings as Docker keeps them, then -c changes', (t) => {
  const cfg = committedConfig(container(), ['CMD ["/bin/app", "--serve"]', 'ENV B=3 C="four five"', 'LABEL v=1', 'EXPOSE 80', 'WORKDIR /srv', 'USER root']);
  t.deepEqual(cfg.config?.Cmd, ['/bin/app', '--serve']);
  t.deepEqual(cfg.config?.Env, ['PATH=/bin', 'A=2', 'B=3', 'C=four five'], 'no HOSTNAME');
  t.deepEqual(cfg.config?.Labels, { keep: 'yes', v: '1' });
  t.deepEqual(cfg.config?.ExposedPorts, { '80/tcp': {} });
  t.is(cfg.config?.WorkingDir, '/srv');
  t.is(cfg.config?.User, 'root');
  t.is(cfg.architecture, 'amd64');
  t.deepEqual(cfg.history, [{ created_by: 'base' }], 'the store appends the new entry');
  const shell = committedConfig(container(), ['ENTRYPOINT exec app']);
  t.deepEqual(shell.config?.Entrypoint, ['/bin/sh', '-c', 'exec app']);
  t.deepEqual(shell.config?.Cmd, ['echo', 'hi']);
  t.throws(() => applyChange({}, 'RUN echo'), { message: /unsupported change instruction RUN/ });
  t.throws(() => applyChange({}, 'CMD [1, 2]'), { message: /bad exec form/ });
  t.is(defaultTag('name'), 'name:latest');
  t.is(defaultTag('localhost:5000/name'), 'localhost:5000/name:latest');
  t.is(defaultTag('name:v1'), 'name:v1');
});

test('commit leaves out what the runtime wrote: /etc files, mountpoints, volume targets', (t) => {
  t.deepEqual(runtimePaths(container()), ['dev', 'proc', 'sys', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'data']);
});

test("commit leaves out fuse-overlayfs's .wh..opq whiteouts, at any depth, and nothing else", (t) => {
  const upper = tempDir(t, 'strata-upper-');
  fs.mkdirSync(path.join(upper, 'a/b'), { recursive: true });
  for (const p of ['a/.wh..opq', 'a/b/.wh..opq', 'gone']) t.is(spawnSync('mknod', [path.join(upper, p), 'c', '0', '0']).status, 0);
  // a regular file by that name is not the mount program's marker
  fs.writeFileSync(path.join(upper, '.wh..opq'), '');
  fs.writeFileSync(path.join(upper, 'a/.wh..wh..opq'), '');
  t.deepEqual(mountProgramMarkers(upper).sort(), ['a/.wh..opq', 'a/b/.wh..opq']);
});
