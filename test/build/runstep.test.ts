// RUN steps in src/run's containers (strata-init, namespaces, the mount program): the
// builder with the real runtime, on the real image store.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { build } from '../../src/build/builder.js';
import { containerRunner } from '../../src/build/runstep.js';
import { LayerView } from '../../src/build/layerview.js';
import { BuildError } from '../../src/build/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { type CountingStore, storeWithBusybox } from './fixture.js';

async function setup(t: ExecutionContext, dockerfile: string): Promise<{ store: CountingStore; ctx: string }> {
  const store = await storeWithBusybox(t);
  const ctx = tempDir(t, 'strata-build-ctx-');
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile);
  return { store, ctx };
}

test('RUN steps run in containers: env, user, workdir, output; the runtime\'s files stay out of the layer', async (t) => {
  const { store, ctx } = await setup(t, 'FROM busybox\nENV X=from-env\nRUN mkdir -m 777 /w && echo "$X $(hostname)" > /w/a\nWORKDIR /w\nUSER nobody\nRUN id -u > uid && pwd > pwd && echo out\n');
  let out = '';
  const r = await build({ contextDir: ctx, output: (c) => (out += c.toString()) }, { store, runInContainer: containerRunner(store.root) });
  const v = new LayerView(r.image.layerDirs);
  const read = (rel: string): string => fs.readFileSync(v.lstat(rel)!.hostPath, 'utf8');
  t.regex(read('w/a'), /^from-env \S+\n$/);
  t.is(read('w/uid'), '65534\n');
  t.is(read('w/pwd'), '/w\n');
  t.is(out, 'out\n');
  t.is(v.lstat('etc/hosts'), undefined, 'the /etc/hosts the runtime bound over is not in the image');
  t.deepEqual(fs.readdirSync(path.join(store.root, 'containers')).filter((n) => !n.startsWith('.')), [], 'no container record is left');
});

test('a failing RUN in a container reports its exit status; a missing working directory is made', async (t) => {
  const { store, ctx } = await setup(t, 'FROM busybox\nRUN echo a > /a\nRUN exit 7\n');
  await t.throwsAsync(build({ contextDir: ctx }, { store, runInContainer: containerRunner(store.root) }), {
    instanceOf: BuildError,
    message: /^step 3\/3 \(RUN exit 7\) failed: the command '\/bin\/sh -c exit 7' returned a non-zero code: 7; the last good image is [0-9a-f]{12}/,
  });
  const base = store.resolveImage('busybox');
  const r = await containerRunner(store.root)({ lowers: base.layerDirs, argv: ['pwd'], env: ['PATH=/bin'], user: '', workdir: '/made/here', network: 'none', onOutput: () => {} });
  t.is(r.exitCode, 0);
  t.true(fs.statSync(path.join(r.upperDir, 'made/here')).isDirectory());
  await r.release();
});
