// Interop with the peers that run here: what strata pushes, skopeo pulls and umoci unpacks
// to the same tree; what umoci builds and skopeo pushes, strata pulls intact, runs, builds
// upon (run + commit) and pushes back for skopeo to pull.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { sh } from '../helpers/daemon.js';
import { busyboxImage, busyboxRootfs, tempStore } from '../helpers/images.js';
import { layoutBlobs, sha256Hex, startRegistry, strata, treeOf, umociImage, writeTree } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';

// containers mount with Strata's own strata-overlay (or $STRATA_MOUNT_PROGRAM when set)
const env: Record<string, string> = {};

/** busybox, then a layer over it, then a whiteout (three umoci layers). */
function layeredImage(dir: string): string {
  const layout = path.join(dir, 'layout');
  writeTree(path.join(dir, 'l1'), { 'etc/os-release': 'NAME=test\n', 'bin/tool': Buffer.alloc(70_000, 7), 'usr/share/doc/a': 'a\n', 'etc/gone': 'x' });
  writeTree(path.join(dir, 'l2'), { 'etc/os-release': 'NAME=test2\n', 'bin/link': '->tool', 'var/empty/.keep': '' });
  fs.chmodSync(path.join(dir, 'l1/bin/tool'), 0o755);
  umociImage(layout, 'v1', [busyboxRootfs(), path.join(dir, 'l1'), path.join(dir, 'l2')]);
  sh(`umoci insert --image ${layout}:v1 --whiteout /etc/gone`);
  return layout;
}

test('an image strata imported and pushed is pulled by skopeo and unpacked by umoci to the same tree', async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir(t);
  const store = tempStore(t);
  const img = await busyboxImage(t, store);
  const pushed = await strata(['--root', store.root, 'push', 'busybox', `${reg.host}/interop/busybox:1.0`]);
  t.is(pushed.code, 0, pushed.err);
  t.regex(pushed.err, /Pushed 127\.0\.0\.1:\d+\/interop\/busybox:1\.0 \(2 uploaded, 0 mounted, 0 already there\)/);
  t.is(pushed.out.trim(), img.manifestDigest);
  sh(`skopeo copy --quiet --src-tls-verify=false docker://${reg.host}/interop/busybox:1.0 oci:${dir}/copy:1.0`);
  sh(`umoci unpack --image ${dir}/copy:1.0 ${dir}/got`);
  const got = treeOf(path.join(dir, 'got/rootfs'));
  t.deepEqual(got, treeOf(busyboxRootfs()));
  t.deepEqual(got, treeOf(img.layerDirs[0]!), 'the same tree as the store extracted');
  t.true(got.includes('bin/sh l busybox'));
  const digest = sh(`skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://${reg.host}/interop/busybox:1.0`).out.trim();
  t.is(digest, img.manifestDigest, 'the registry holds exactly the manifest strata had');
});

test('an image built with umoci and pushed by skopeo is pulled intact, run, committed upon, pushed back and pulled by skopeo', async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir(t);
  const layout = layeredImage(dir);
  const ref = `${reg.host}/made/by-umoci:v1`;
  sh(`skopeo copy --quiet --dest-tls-verify=false oci:${layout}:v1 docker://${ref}`);
  const info = JSON.parse(sh(`skopeo inspect --tls-verify=false docker://${ref}`).out) as { Digest: string; Layers: string[] };
  const root = path.join(dir, 'store');
  const pulled = await strata(['--root', root, 'pull', ref]);
  t.is(pulled.code, 0, pulled.err);
  t.is(pulled.out.trim(), info.Digest);
  const index = JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  t.deepEqual(index.manifests.map((m) => [m.digest, m.annotations['org.opencontainers.image.ref.name']]), [[info.Digest, ref]]);
  const blobs = layoutBlobs(root);
  for (const l of info.Layers) t.true(blobs.get(l), `layer ${l} present and matching its digest`);
  t.true([...blobs.values()].every(Boolean));
  // the layers as pulled, applied in order, give the image's tree (umoci reads the store)
  sh(`umoci unpack --image ${root}:${ref} ${dir}/got`);
  sh(`umoci unpack --image ${layout}:v1 ${dir}/want`);
  const want = treeOf(path.join(dir, 'want/rootfs'));
  t.deepEqual(treeOf(path.join(dir, 'got/rootfs')), want);
  t.is(sha256Hex(fs.readFileSync(path.join(root, 'blobs/sha256', info.Digest.slice(7)))), info.Digest.slice(7));

  // run it: the union of the pulled layers, whiteout included
  const cat = await strata(['--root', root, 'run', '--rm', ref, 'sh', '-c', 'cat /etc/os-release; ls /etc/gone 2>&1 || true'], { env });
  t.is(cat.code, 0, cat.err);
  t.regex(cat.out, /^NAME=test2\n.*No such file or directory\n$/s);

  // build upon it: a container's changes committed as a new layer, tagged for the registry
  const name = `c-${path.basename(dir)}`;
  t.teardown(() => void strata(['--root', root, 'rm', '-f', name]));
  const work = await strata(['--root', root, 'run', '--name', name, ref, 'sh', '-c', 'echo built > /etc/built && rm /bin/tool'], { env });
  t.is(work.code, 0, work.err);
  const next = `${reg.host}/made/by-strata:v2`;
  const committed = await strata(['--root', root, 'commit', name, next]);
  t.is(committed.code, 0, committed.err);
  const pushed = await strata(['--root', root, 'push', next]);
  t.is(pushed.code, 0, pushed.err);
  t.regex(pushed.err, /\(2 uploaded, 4 mounted, 0 already there\)/, 'the base layers are mounted from the repository they were pulled from');

  sh(`skopeo copy --quiet --src-tls-verify=false docker://${next} oci:${dir}/back:v2`);
  sh(`umoci unpack --image ${dir}/back:v2 ${dir}/back-tree`);
  const back = treeOf(path.join(dir, 'back-tree/rootfs'));
  t.true(back.some((l) => l.startsWith('etc/built f 644 6 ')));
  t.false(back.some((l) => l.startsWith('bin/tool ')), 'the deletion went up as a whiteout');
  t.deepEqual(back.filter((l) => !l.startsWith('etc/built ') && !l.startsWith('etc ')), want.filter((l) => !l.startsWith('bin/tool ') && !l.startsWith('etc ')));
});
