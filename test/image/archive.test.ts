// save and load between two stores, in both archive formats, and what load refuses.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { busyboxImage, makeTar, tempStore, treeListing } from '../helpers/images.js';
import { saveImages } from '../../src/image/archive-save.js';
import { loadArchive } from '../../src/image/archive-load.js';
import { UserError } from '../../src/cli/errors.js';
import type { ImageStore, ResolvedImage } from '../../src/image/store.js';

async function twoLayers(t: Parameters<typeof tempDir>[0], store: ImageStore): Promise<ResolvedImage> {
  const base = await busyboxImage(t, store);
  const upper = path.join(tempDir(t), 'upper');
  fs.mkdirSync(path.join(upper, 'srv'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'srv/data'), 'data\n');
  fs.linkSync(path.join(upper, 'srv/data'), path.join(upper, 'srv/data2'));
  return store.commit({ parent: base, layerDir: upper, config: base.config, history: { created_by: 'ADD data' }, tag: 'app:2' });
}

for (const format of ['oci', 'docker'] as const) {
  test(`save --format ${format} then load into another store gives the same image`, async (t) => {
    const a = tempStore(t);
    const img = await twoLayers(t, a);
    const file = path.join(tempDir(t), `img-${format}.tar`);
    await saveImages(a, ['app:2', 'busybox'], file, { format });
    const b = tempStore(t);
    const r = await loadArchive(b, file);
    t.deepEqual(r.names.sort(), ['app:2', 'busybox:latest']);
    const got = b.resolveImage('app:2');
    t.is(got.id, img.id, 'the config blob travels byte for byte');
    t.deepEqual(got.diffIds, img.diffIds);
    t.deepEqual(got.chainIds, img.chainIds);
    for (let i = 0; i < img.layerDirs.length; i++) t.deepEqual(treeListing(got.layerDirs[i]!, { xattrs: true }), treeListing(img.layerDirs[i]!, { xattrs: true }));
    if (format === 'oci') t.is(got.manifestDigest, img.manifestDigest);
  });
}

test('save writes nothing when an image is unknown, and load refuses what is not an archive', async (t) => {
  const store = tempStore(t);
  await busyboxImage(t, store);
  const dir = tempDir(t);
  const file = path.join(dir, 'out.tar');
  await t.throwsAsync(saveImages(store, ['busybox', 'nosuch'], file), { instanceOf: UserError, message: /'nosuch' not found/ });
  t.deepEqual(fs.readdirSync(dir), []);
  const junk = path.join(dir, 'junk.tar');
  fs.writeFileSync(junk, await makeTar([{ name: 'hello.txt', content: 'hi' }]));
  await t.throwsAsync(loadArchive(store, junk), { instanceOf: UserError, message: /neither an OCI archive.*nor a docker-archive/ });
});

test('load refuses an archive whose blob does not match its name, and tags nothing', async (t) => {
  const a = tempStore(t);
  await busyboxImage(t, a);
  const file = path.join(tempDir(t), 'img.tar');
  await saveImages(a, ['busybox'], file);
  const buf = fs.readFileSync(file);
  // flip a byte inside the gzip layer blob (the biggest member), past its header
  const at = buf.indexOf(Buffer.from([0x1f, 0x8b, 0x08])) + 1000;
  buf[at] ^= 0xff;
  const bad = path.join(tempDir(t), 'bad.tar');
  fs.writeFileSync(bad, buf);
  const b = tempStore(t);
  await t.throwsAsync(loadArchive(b, bad), { message: /does not match its digest/ });
  t.deepEqual(b.listImages(), []);
});

test('load of an archive written by hand with hostile member names writes only into the store', async (t) => {
  const store = tempStore(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'evil.tar');
  fs.writeFileSync(
    file,
    await makeTar([
      { name: '../../escape.json', content: '{}' },
      { name: '/tmp/abs-escape', content: 'x' },
      { name: 'manifest.json', content: '[]' },
    ]),
  );
  const r = await loadArchive(store, file);
  t.deepEqual(r.names, []);
  t.false(fs.existsSync(path.join(dir, '..', '..', 'escape.json')));
  t.false(fs.existsSync('/tmp/abs-escape'));
});
