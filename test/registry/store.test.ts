// A pulled image is an image of the store like any other: listed, history-able, inspectable
// and runnable at once; a Docker schema 2 image (skopeo --format v2s2) extracts and runs too.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { sh } from '../helpers/daemon.js';
import { busyboxImage, busyboxRootfs, tempStore } from '../helpers/images.js';
import { startRegistry, strata } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { push } from '../../src/registry/push.js';
import { MediaType } from '../../src/registry/manifest.js';

// containers mount with Strata's own strata-overlay (or $STRATA_MOUNT_PROGRAM when set)
const env: Record<string, string> = {};
const fast = { retryBaseMs: 10 };

interface Row {
  repository: string;
  tag: string;
  id: string;
  digest: string;
}

test('a pulled image is listed by images, has its history, is inspectable and runs', async (t) => {
  const reg = await startRegistry(t);
  const src = tempStore(t);
  const img = await busyboxImage(t, src);
  const ref = `${reg.host}/base/busybox:1`;
  await push('busybox', ref, src, fast);
  const root = path.join(tempDir(t), 'root');
  const pulled = await strata(['--root', root, 'pull', ref]);
  t.is(pulled.code, 0, pulled.err);
  t.is(pulled.out.trim(), img.manifestDigest);

  const rows = JSON.parse((await strata(['--root', root, 'images', '--json'])).out) as Row[];
  t.deepEqual(rows.map((r) => [r.repository, r.tag, r.id, r.digest]), [[`${reg.host}/base/busybox`, '1', img.id, img.manifestDigest]]);
  const history = await strata(['--root', root, 'history', '--json', ref]);
  t.is(history.code, 0, history.err);
  t.deepEqual(JSON.parse(history.out), JSON.parse((await strata(['--root', src.root, 'history', '--json', 'busybox'])).out), 'the same history as where it came from');
  const inspect = await strata(['--root', root, 'inspect', ref]);
  t.is(inspect.code, 0, inspect.err);
  t.like((JSON.parse(inspect.out) as unknown[])[0], { Id: img.id });

  const run = await strata(['--root', root, 'run', '--rm', ref, 'cat', '/etc/passwd'], { env });
  t.is(run.code, 0, run.err);
  t.is(run.out, fs.readFileSync(path.join(busyboxRootfs(), 'etc/passwd'), 'utf8'));
  t.deepEqual(fs.readdirSync(path.join(root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)), [], '--rm left no container');
});

test('a Docker schema 2 image extracts and runs', async (t) => {
  const reg = await startRegistry(t);
  const src = tempStore(t);
  await busyboxImage(t, src);
  const ref = `${reg.host}/docker/busybox:v2s2`;
  sh(`skopeo copy --quiet --format v2s2 --dest-tls-verify=false oci:${src.root}:busybox:latest docker://${ref}`);
  const root = path.join(tempDir(t), 'root');
  const pulled = await strata(['--root', root, 'pull', ref]);
  t.is(pulled.code, 0, pulled.err);
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'blobs/sha256', pulled.out.trim().slice(7)), 'utf8')) as { mediaType: string; layers: { mediaType: string }[] };
  t.is(manifest.mediaType, MediaType.dockerManifest);
  t.true(manifest.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
  const run = await strata(['--root', root, 'run', '--rm', ref, 'cat', '/etc/group'], { env });
  t.is(run.code, 0, run.err);
  t.is(run.out, fs.readFileSync(path.join(busyboxRootfs(), 'etc/group'), 'utf8'));
});
