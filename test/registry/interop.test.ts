// Interop with the peers that run here: what strata pushes, skopeo pulls and umoci
// unpacks to the same tree; what umoci builds and skopeo pushes, strata pulls intact.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { sh } from '../helpers/daemon.js';
import { layoutBlobs, sha256Hex, startRegistry, strata, treeOf, umociImage, writeTree } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';

function layeredImage(dir: string): string {
  const layout = path.join(dir, 'layout');
  writeTree(path.join(dir, 'l1'), { 'etc/os-release': 'NAME=test\n', 'bin/tool': Buffer.alloc(70_000, 7), 'usr/share/doc/a': 'a\n', 'etc/gone': 'x' });
  writeTree(path.join(dir, 'l2'), { 'etc/os-release': 'NAME=test2\n', 'bin/link': '->tool', 'var/empty/.keep': '' });
  fs.chmodSync(path.join(dir, 'l1/bin/tool'), 0o755);
  umociImage(layout, 'v1', [path.join(dir, 'l1'), path.join(dir, 'l2')]);
  sh(`umoci insert --image ${layout}:v1 --whiteout /etc/gone`);
  return layout;
}

test('an image strata pushed is pulled by skopeo and unpacked by umoci to the same tree', async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir(t);
  const layout = layeredImage(dir);
  const pushed = await strata(['--root', layout, 'push', 'v1', `${reg.host}/interop/app:1.0`]);
  t.is(pushed.code, 0, pushed.err);
  t.regex(pushed.err, /Pushed 127\.0\.0\.1:\d+\/interop\/app:1\.0 \(4 uploaded, 0 mounted, 0 already there\)/);
  sh(`skopeo copy --quiet --src-tls-verify=false docker://${reg.host}/interop/app:1.0 oci:${dir}/copy:1.0`);
  sh(`umoci unpack --image ${layout}:v1 ${dir}/want && umoci unpack --image ${dir}/copy:1.0 ${dir}/got`);
  const got = treeOf(path.join(dir, 'got/rootfs'));
  t.deepEqual(got, treeOf(path.join(dir, 'want/rootfs')));
  t.true(got.includes('bin/link l tool'));
  t.true(got.some((l) => l.startsWith('bin/tool f 755 70000 ')));
  t.false(got.some((l) => l.startsWith('etc/gone')));
  t.is(fs.readFileSync(path.join(dir, 'got/rootfs/etc/os-release'), 'utf8'), 'NAME=test2\n');
  const digest = sh(`skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://${reg.host}/interop/app:1.0`).out.trim();
  t.is(digest, pushed.out.trim(), 'the registry holds exactly the manifest strata had');
});

test('an image built with umoci and pushed by skopeo is pulled by strata with every layer intact', async (t) => {
  const reg = await startRegistry(t);
  const dir = tempDir(t);
  const layout = layeredImage(dir);
  sh(`skopeo copy --quiet --dest-tls-verify=false oci:${layout}:v1 docker://${reg.host}/made/by-umoci:v1`);
  const info = JSON.parse(sh(`skopeo inspect --tls-verify=false docker://${reg.host}/made/by-umoci:v1`).out) as { Digest: string; Layers: string[] };
  const root = path.join(dir, 'store');
  const pulled = await strata(['--root', root, 'pull', `${reg.host}/made/by-umoci:v1`]);
  t.is(pulled.code, 0, pulled.err);
  t.is(pulled.out.trim(), info.Digest);
  const index = JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  t.deepEqual(index.manifests.map((m) => [m.digest, m.annotations['org.opencontainers.image.ref.name']]), [[info.Digest, `${reg.host}/made/by-umoci:v1`]]);
  const blobs = layoutBlobs(root);
  for (const l of info.Layers) t.true(blobs.get(l), `layer ${l} present and matching its digest`);
  t.true([...blobs.values()].every(Boolean));
  // the layers as pulled, applied in order, give the image's tree (umoci reads our layout)
  sh(`umoci unpack --image ${root}:${reg.host}/made/by-umoci:v1 ${dir}/got`, {});
  sh(`umoci unpack --image ${layout}:v1 ${dir}/want`);
  t.deepEqual(treeOf(path.join(dir, 'got/rootfs')), treeOf(path.join(dir, 'want/rootfs')));
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'blobs/sha256', info.Digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  t.deepEqual(manifest.layers.map((l) => l.digest), info.Layers);
  t.is(sha256Hex(fs.readFileSync(path.join(root, 'blobs/sha256', info.Digest.slice(7)))), info.Digest.slice(7));
});
