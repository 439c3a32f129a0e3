// Interop with Debian's skopeo and umoci, for real: our archives and our store read by them,
// theirs read by us, the same files either way.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { sh } from '../helpers/daemon.js';
import { busyboxImage, tempStore, treeListing } from '../helpers/images.js';
import { saveImages } from '../../src/image/archive-save.js';
import { loadArchive } from '../../src/image/archive-load.js';
import { makeWhiteout } from '../../src/image/overlay-format.js';

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

test('skopeo reads the store itself as an OCI layout', async (t) => {
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  const info = JSON.parse(sh(`skopeo inspect oci:${q(store.root)}:busybox:latest`).out) as { Layers: string[]; Digest: string };
  t.is(info.Digest, img.manifestDigest);
  t.deepEqual(info.Layers, img.manifest.layers.map((l) => l.digest));
  const cfg = JSON.parse(sh(`skopeo inspect --config oci:${q(store.root)}:busybox:latest`).out) as { rootfs: { diff_ids: string[] } };
  t.deepEqual(cfg.rootfs.diff_ids, img.diffIds);
});

for (const format of ['oci', 'docker'] as const) {
  test(`skopeo copies our ${format} archive to a layout and back, and it loads with the same files`, async (t) => {
    const store = tempStore(t);
    const img = await busyboxImage(t, store);
    const dir = tempDir(t);
    const ours = path.join(dir, 'ours.tar');
    await saveImages(store, ['busybox'], ours, { format });
    const transport = format === 'oci' ? 'oci-archive' : 'docker-archive';
    sh(`skopeo copy ${transport}:${q(ours)} oci:${q(path.join(dir, 'layout'))}:copied`);
    const theirs = path.join(dir, 'theirs.tar');
    sh(`skopeo copy oci:${q(path.join(dir, 'layout'))}:copied ${transport}:${q(theirs)}:back/${format}:1`);
    const other = tempStore(t);
    const r = await loadArchive(other, theirs);
    const name = `back/${format}:1`; // docker.io/back/docker:1 in the docker-archive, shown short
    t.deepEqual(r.names, [name]);
    const got = other.resolveImage(name);
    t.deepEqual(got.diffIds, img.diffIds);
    t.deepEqual(treeListing(got.layerDirs[0]!, { xattrs: true }), treeListing(img.layerDirs[0]!, { xattrs: true }));
  });
}

test('umoci unpacks our image to the same tree as our own extraction', async (t) => {
  const store = tempStore(t);
  const base = await busyboxImage(t, store);
  const upper = path.join(tempDir(t), 'upper');
  fs.mkdirSync(path.join(upper, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'etc/motd'), 'hello\n');
  makeWhiteout(path.join(upper, 'etc/hostname'));
  fs.mkdirSync(path.join(upper, 'home'));
  fs.writeFileSync(path.join(upper, 'home/.wh..wh..opq'), '');
  fs.writeFileSync(path.join(upper, 'home/new'), 'n');
  const img = await store.commit({ parent: base, layerDir: upper, config: base.config, history: { created_by: 'x' }, tag: 'two:layers' });
  const bundle = path.join(tempDir(t), 'bundle');
  // umoci reads the store's layout directly
  sh(`umoci unpack ${process.geteuid?.() === 0 ? '' : '--rootless '}--image ${q(store.root)}:two:layers ${q(bundle)}`);
  // our flattening of the two layer dirs: the base, then the top applied over it
  const flat = path.join(tempDir(t), 'flat');
  sh(`cp -a ${q(img.layerDirs[1]!)} ${q(flat)}`);
  sh(`rm -f ${q(path.join(flat, 'etc/hostname'))} && cp -a ${q(img.layerDirs[0]!)}/etc/motd ${q(flat)}/etc/ && cp -a ${q(img.layerDirs[0]!)}/home/new ${q(flat)}/home/`);
  fs.utimesSync(path.join(flat, 'etc'), fs.statSync(path.join(img.layerDirs[0]!, 'etc')).atime, fs.statSync(path.join(img.layerDirs[0]!, 'etc')).mtime);
  const strip = (l: string[]): string[] => l.filter((x) => !x.startsWith('etc ') && !x.startsWith('home '));
  t.deepEqual(strip(treeListing(path.join(bundle, 'rootfs'))), strip(treeListing(flat)));
  t.is(fs.readFileSync(path.join(bundle, 'rootfs/etc/motd'), 'utf8'), 'hello\n');
  t.false(fs.existsSync(path.join(bundle, 'rootfs/etc/hostname')));
  // a single layer: byte-for-byte the same tree, metadata included
  const b2 = path.join(tempDir(t), 'bundle2');
  sh(`umoci unpack ${process.geteuid?.() === 0 ? '' : '--rootless '}--image ${q(store.root)}:busybox:latest ${q(b2)}`);
  t.deepEqual(treeListing(path.join(b2, 'rootfs'), { xattrs: true }), treeListing(base.layerDirs[0]!, { xattrs: true }));
});

test('a layout written by umoci loads into strata with the same files', async (t) => {
  const dir = tempDir(t);
  const layout = path.join(dir, 'lay');
  const bundle = path.join(dir, 'b');
  sh(`umoci init --layout ${q(layout)} && umoci new --image ${q(layout)}:v1 && umoci unpack --image ${q(layout)}:v1 ${q(bundle)}`);
  const root = path.join(bundle, 'rootfs');
  fs.mkdirSync(path.join(root, 'etc'));
  fs.writeFileSync(path.join(root, 'etc/greeting'), 'hello\n');
  fs.linkSync(path.join(root, 'etc/greeting'), path.join(root, 'etc/hardlink'));
  fs.symlinkSync('greeting', path.join(root, 'etc/sym'));
  sh(`setfattr -n user.note -v umoci ${q(path.join(root, 'etc/greeting'))}`);
  sh(`umoci repack --image ${q(layout)}:v1 ${q(bundle)}`);
  // and a second layer deleting a file, so umoci's whiteouts come through too
  sh(`umoci unpack --image ${q(layout)}:v1 ${q(bundle)}2 && rm ${q(bundle)}2/rootfs/etc/sym && umoci repack --image ${q(layout)}:v2 ${q(bundle)}2`);
  const store = tempStore(t);
  const r = await loadArchive(store, layout, { defaultName: 'umoci' });
  t.deepEqual(r.names.sort(), ['umoci:v1', 'umoci:v2']);
  const v1 = store.resolveImage('umoci:v1');
  const top = v1.layerDirs[0]!;
  t.is(fs.readFileSync(path.join(top, 'etc/greeting'), 'utf8'), 'hello\n');
  t.is(fs.statSync(path.join(top, 'etc/greeting')).ino, fs.statSync(path.join(top, 'etc/hardlink')).ino);
  t.is(fs.readlinkSync(path.join(top, 'etc/sym')), 'greeting');
  t.regex(sh(`getfattr -n user.note --only-values ${q(path.join(top, 'etc/greeting'))}`).out, /umoci/);
  const strip = (l: string[]): string[] => l.filter((x) => !x.startsWith('etc '));
  // umoci's tars round times to seconds: compare everything else
  t.deepEqual(strip(treeListing(top, { mtimes: false })), strip(treeListing(root, { mtimes: false })));
  const v2 = store.resolveImage('umoci:v2');
  t.true(fs.lstatSync(path.join(v2.layerDirs[0]!, 'etc/sym')).isCharacterDevice(), "umoci's .wh.sym became an overlay whiteout");
  // an archive of that layout written by skopeo loads too
  const arch = path.join(dir, 'skopeo.tar');
  sh(`skopeo copy oci:${q(layout)}:v1 oci-archive:${q(arch)}:from/skopeo:v1`);
  const s2 = tempStore(t);
  await loadArchive(s2, arch);
  t.deepEqual(treeListing(s2.resolveImage('from/skopeo:v1').layerDirs[0]!), treeListing(top));
});

(process.geteuid?.() === 0 ? test : test.skip)("layer dirs mount as lowerdirs with the kernel's overlayfs and show the image's tree", async (t) => {
  const store = tempStore(t);
  const base = await busyboxImage(t, store);
  const work = tempDir(t);
  const u1 = path.join(work, 'u1');
  fs.mkdirSync(path.join(u1, 'data'), { recursive: true });
  fs.writeFileSync(path.join(u1, 'data/old'), 'old');
  const mid = await store.commit({ parent: base, layerDir: u1, config: base.config, history: { created_by: 'one' } });
  const u2 = path.join(work, 'u2');
  fs.mkdirSync(path.join(u2, 'data'), { recursive: true });
  fs.mkdirSync(path.join(u2, 'etc'));
  fs.writeFileSync(path.join(u2, 'data/.wh..wh..opq'), '');
  fs.writeFileSync(path.join(u2, 'data/new'), 'new');
  makeWhiteout(path.join(u2, 'etc/hostname'));
  const img = await store.commit({ parent: mid, layerDir: u2, config: base.config, history: { created_by: 'two' }, tag: 'three:layers' });
  t.is(img.layerDirs.length, 3);
  const mnt = path.join(work, 'mnt');
  fs.mkdirSync(mnt);
  sh(`mount -t overlay overlay -o ro,lowerdir=${img.layerDirs.map(q).join(':')} ${q(mnt)}`);
  t.teardown(() => void sh(`umount ${q(mnt)}`, { allowFail: true }));
  t.deepEqual(fs.readdirSync(path.join(mnt, 'data')), ['new']);
  t.false(fs.existsSync(path.join(mnt, 'etc/hostname')));
  t.true(fs.existsSync(path.join(mnt, 'etc/passwd')));
  t.true(fs.statSync(path.join(mnt, 'bin/busybox')).isFile());
  // and umoci's flattening of the same image agrees, file for file
  const bundle = path.join(work, 'bundle');
  sh(`umoci unpack --image ${q(store.root)}:three:layers ${q(bundle)}`);
  const names = (d: string): string[] => treeListing(d, { mtimes: false }).map((l) => l.split(' ').slice(0, 4).join(' '));
  t.deepEqual(names(mnt), names(path.join(bundle, 'rootfs')));
});
