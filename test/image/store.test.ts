// The image store on a real directory: resolving, commit on a parent, tags, rmi, prune,
// holds, digests verified on read, and the lock between processes.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { tempDir } from '../helpers/tmp.js';
import { busyboxImage, busyboxRootfs, tempStore, treeListing } from '../helpers/images.js';
import { importImage } from '../../src/image/image-import.js';
import { distDir } from '../helpers/daemon.js';
import { ImageStore, openStore } from '../../src/image/store.js';
import { UserError } from '../../src/cli/errors.js';
import { chainIds, hexOf, sha256 } from '../../src/image/digest.js';
import { DigestMismatchError } from '../../src/image/oci-layout.js';
import { makeWhiteout } from '../../src/image/overlay-format.js';
import { storeRoot } from '../../src/image/root.js';
import * as sys from '../../src/sys/index.js';

test('an imported image resolves by name, tag, id, id prefix and digest', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  t.deepEqual(img.names, ['busybox:latest']);
  t.is(img.layerDirs.length, 1);
  t.true(fs.existsSync(path.join(img.layerDirs[0]!, 'bin/busybox')));
  for (const ref of ['busybox', 'busybox:latest', img.id, hexOf(img.id), hexOf(img.id).slice(0, 12), img.manifestDigest, `busybox@${img.manifestDigest}`])
    t.is(store.resolveImage(ref).id, img.id, ref);
  const e = t.throws(() => store.resolveImage('nosuch:tag'), { instanceOf: UserError });
  t.regex(e!.message, /'nosuch:tag' not found/);
  t.is(store.tryResolveImage('busybox:other'), undefined);
  t.is(img.config.rootfs.diff_ids[0], img.diffIds[0]);
  t.is(img.chainIds[0], img.diffIds[0]);
});

test('NAME@DIGEST resolves an untagged image (a pull by digest), not one tagged under another name', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  t.is(store.tryResolveImage(`other@${img.manifestDigest}`), undefined, 'tagged busybox only');
  await store.removeImage('busybox', { force: true });
  await store.addManifest(img.manifestDigest, []);
  t.deepEqual(store.resolveImage(img.manifestDigest).names, []);
  t.is(store.resolveImage(`registry.example:5000/team/app@${img.manifestDigest}`).id, img.id);
});

test('commit puts a layer on top of its parent: layerDirs top first, history, chain ids', async (t) => {
  const store = tempStore(t);
  const base = await busyboxImage(t, store);
  const upper = path.join(tempDir(t), 'upper');
  fs.mkdirSync(path.join(upper, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'etc/motd'), 'hi\n');
  makeWhiteout(path.join(upper, 'etc/hostname'));
  const img = await store.commit({
    parent: base,
    layerDir: upper,
    config: { ...base.config, config: { ...base.config.config, Cmd: ['/bin/sh'] } },
    history: { created_by: 'RUN echo hi > /etc/motd' },
    tag: 'mine:1',
    timestamp: new Date('2021-02-03T04:05:06Z'),
  });
  t.deepEqual(img.names, ['mine:1']);
  t.is(img.diffIds.length, 2);
  t.is(img.layerDirs[1], base.layerDirs[0]);
  t.is(fs.readFileSync(path.join(img.layerDirs[0]!, 'etc/motd'), 'utf8'), 'hi\n');
  t.true(sys.isChr(sys.lstat(path.join(img.layerDirs[0]!, 'etc/hostname')).mode));
  t.deepEqual(img.chainIds, chainIds(img.diffIds));
  t.is(img.chainIds[1], sha256(`${img.diffIds[0]} ${img.diffIds[1]}`));
  t.deepEqual(img.config.config?.Cmd, ['/bin/sh']);
  t.deepEqual(img.config.config?.Env, base.config.config?.Env);
  t.is(img.config.created, '2021-02-03T04:05:06.000Z');
  const hist = store.history(img);
  t.is(hist.length, 2);
  t.is(hist[0]!.createdBy, 'RUN echo hi > /etc/motd');
  t.is(hist[0]!.size, 3);
  // an empty layer adds history only
  const meta = await store.commit({ parent: img, layerDir: upper, emptyLayer: true, config: { ...img.config, config: { ...img.config.config, WorkingDir: '/etc' } }, history: { created_by: 'WORKDIR /etc' } });
  t.is(meta.diffIds.length, 2);
  t.deepEqual(meta.names, []);
  t.true(store.history(meta)[0]!.emptyLayer);
  t.is(meta.config.config?.WorkingDir, '/etc');
  // the same layer committed twice is stored once
  t.is(fs.readdirSync(store.layers.dir).filter((n) => /^[0-9a-f]{64}$/.test(n)).length, 2);
});

test('tag moves a name; rmi untags, then removes; prune frees what nothing refers to', async (t) => {
  const store = tempStore(t);
  const base = await busyboxImage(t, store);
  const upper = path.join(tempDir(t), 'upper');
  fs.mkdirSync(upper);
  fs.writeFileSync(path.join(upper, 'f'), 'f');
  const top = await store.commit({ parent: base, layerDir: upper, config: base.config, history: { created_by: 'x' }, tag: 'top' });
  store.tag(base, 'alias:v1');
  t.deepEqual(store.resolveImage('alias:v1').id, base.id);
  store.tag(top, 'alias:v1');
  t.is(store.resolveImage('alias:v1').id, top.id);
  t.deepEqual(store.resolveImage(base.id).names, ['busybox:latest']);
  const blobsBefore = store.blobs.list().length;
  t.deepEqual(await store.prune(), { blobs: 0, layers: 0, bytes: 0 });
  // untag one of two names: the image stays
  t.deepEqual(await store.removeImage('alias:v1'), { untagged: ['alias:v1'] });
  t.is(store.resolveImage('top').id, top.id);
  const r = await store.removeImage('top');
  t.is(r.deleted, top.id);
  t.is(store.tryResolveImage(top.id), undefined);
  const p = await store.prune();
  t.is(p.layers, 1);
  t.is(p.blobs, 3); // manifest, config, layer
  t.is(store.blobs.list().length, blobsBefore - 3);
  t.true(fs.existsSync(base.layerDirs[0]!), 'the base layer is still used');
  t.is(store.resolveImage('busybox').id, base.id);
});

test('a hold written without fsync (run --rm) holds all the same and leaves no temp file', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  store.hold('container2', img, false);
  t.deepEqual(fs.readdirSync(path.join(store.root, 'holds')), ['container2']);
  const e = await t.throwsAsync(store.removeImage('busybox'), { instanceOf: UserError });
  t.regex(e!.message, /in use by container2/);
  store.release('container2');
  await store.removeImage('busybox');
  t.is((await store.prune()).layers, 1);
});

test('a held image is kept from rmi and prune until released', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  store.hold('container1', img);
  const e = await t.throwsAsync(store.removeImage('busybox'), { instanceOf: UserError });
  t.regex(e!.message, /in use by container1/);
  await store.removeImage('busybox', { force: true });
  await store.prune();
  t.true(fs.existsSync(img.layerDirs[0]!));
  t.true(store.blobs.has(img.id));
  store.release('container1');
  const p = await store.prune();
  t.is(p.layers, 1);
  t.false(fs.existsSync(img.layerDirs[0]!));
});

test('reads verify digests: a corrupted blob is refused', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  const layer = img.manifest.layers[0]!;
  const file = store.blobs.pathOf(layer.digest);
  const buf = fs.readFileSync(file);
  buf[buf.length - 30] ^= 0xff;
  fs.writeFileSync(file, buf);
  store.layers.remove(img.diffIds[0]!);
  await t.throwsAsync(store.addManifest(img.manifestDigest, []), { message: /does not match|incorrect|invalid|unexpected/i });
  t.deepEqual(fs.readdirSync(store.layers.dir).filter((n) => /^[0-9a-f]{64}$/.test(n)), [], 'nothing half-extracted left');
  // a corrupted config
  const cfg = store.blobs.pathOf(img.id);
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('amd64', 'arm64').replace('linux', 'Linux'));
  const fresh = new ImageStore(store.root);
  t.throws(() => fresh.resolveImage('busybox'), { instanceOf: DigestMismatchError });
});

test('the lock: processes tagging at once lose no tag; a stale lock is broken', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  const script = path.join(tempDir(t), 'tagger.mjs');
  const storeJs = path.join(distDir, 'src/image/store.js');
  fs.writeFileSync(
    script,
    `import { openStore } from ${JSON.stringify(storeJs)};
     const s = openStore(process.argv[2]);
     const img = s.resolveImage('busybox');
     for (let i = 0; i < 25; i++) s.tag(img, 'p' + process.argv[3] + ':t' + i);`,
  );
  // a lock left by a process that is gone
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(store.root, 'lock'), `${dead.stdout.trim()} host\n`);
  const runs = [0, 1, 2].map(
    (n) =>
      new Promise<number>((resolve) => {
        const c = spawn(process.execPath, [script, store.root, String(n)], { stdio: 'inherit' });
        c.on('exit', (code) => resolve(code ?? -1));
      }),
  );
  t.deepEqual(await Promise.all(runs), [0, 0, 0]);
  const names = new ImageStore(store.root).resolveImage(img.id).names;
  t.is(names.length, 1 + 75);
  t.false(fs.existsSync(path.join(store.root, 'lock')));
});

test('store root: --root, then STRATA_ROOT, then the default for root or the XDG dir', (t) => {
  const saved = { ...process.env };
  t.teardown(() => {
    process.env = saved;
  });
  t.is(storeRoot('/x/y'), '/x/y');
  process.env.STRATA_ROOT = '/from/env';
  t.is(storeRoot(), '/from/env');
  delete process.env.STRATA_ROOT;
  process.env.XDG_DATA_HOME = '/xdg';
  t.is(storeRoot(), process.geteuid?.() === 0 ? '/var/lib/strata' : '/xdg/strata');
  const dir = tempDir(t);
  t.is(openStore(dir).root, dir);
  t.is(openStore(dir), openStore(dir), 'one store per root per process');
  t.true(fs.existsSync(path.join(dir, 'oci-layout')));
});

test('commit of an upper with an excluded path leaves it out of the layer', async (t) => {
  const store = tempStore(t);
  const base = await busyboxImage(t, store);
  const upper = path.join(tempDir(t), 'upper');
  fs.mkdirSync(path.join(upper, 'run/secrets'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'run/secrets/token'), 's');
  fs.writeFileSync(path.join(upper, 'keep'), 'k');
  const img = await store.commit({ parent: base, layerDir: upper, exclude: ['/run/secrets'], config: base.config, history: { created_by: 'x' } });
  t.deepEqual(treeListing(img.layerDirs[0]!).map((l) => l.split(' ')[0]), ['keep', 'run']);
});

test('the lock: a live owner makes a change wait; when the owner dies, the change goes through', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => owner.kill('SIGKILL'));
  fs.writeFileSync(path.join(store.root, 'lock'), `${owner.pid} host\n`);
  // a second object on the same root shares this process's lock state
  const other = new ImageStore(store.root);
  let done = false;
  const removing = other.removeImage('busybox').then(() => (done = true));
  await new Promise((r) => setTimeout(r, 400));
  t.false(done, 'waits while the owner lives');
  t.is(store.resolveImage('busybox').id, img.id);
  const exited = new Promise((r) => owner.once('exit', r));
  owner.kill('SIGKILL');
  await exited;
  await removing;
  t.is(store.tryResolveImage('busybox'), undefined);
  t.false(fs.existsSync(path.join(store.root, 'lock')));
});

test('import of a tarball, gzip or not, gives the same layer as import of the directory', async (t) => {
  const store = tempStore(t);
  const fromDir = await busyboxImage(t, store);
  const dir = tempDir(t);
  const rootfs = busyboxRootfs();
  spawnSync('tar', ['-C', rootfs, '-czf', path.join(dir, 'rootfs.tgz'), '.']);
  spawnSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  for (const f of ['rootfs.tgz', 'rootfs.tar']) {
    const img = await importImage(store, path.join(dir, f), `from-${f.replace('.', '-')}`);
    t.deepEqual(img.diffIds, fromDir.diffIds, f);
  }
  t.deepEqual(fs.readdirSync(store.tmpDir), [], 'temp trees removed');
});
