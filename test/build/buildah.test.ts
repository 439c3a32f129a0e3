// The same Dockerfile built by buildah (vfs storage, chroot isolation) and by Strata's
// builder gives the same files and the same config fields. Both start from the same
// busybox-static rootfs, committed as "busybox" in each.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { build } from '../../src/build/builder.js';
import type { ContainerConfig } from '../../src/build/config.js';
import { LayerView } from '../../src/build/layerview.js';
import * as sys from '../../src/sys/index.js';
import { ImageStore } from '../../src/image/store.js';
import { importImage } from '../../src/image/image-import.js';
import { depsFor } from './fixture.js';
import { repoRoot } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const DOCKERFILE = [
  'FROM busybox AS base',
  'RUN mkdir -p /out && echo built > /out/artifact',
  'FROM busybox',
  'ARG GREETING=hello',
  'ENV APP=/app PATH=/app/bin:$PATH',
  'WORKDIR $APP',
  'COPY src/ ./',
  'COPY --chmod=0755 tool.sh bin/tool',
  'COPY --from=base /out/artifact /opt/',
  'ADD payload.tar /opt/payload/',
  'RUN echo "$GREETING" > greeting && ln -s greeting link && rm /bin/vi && chown 65534:65534 greeting',
  'USER nobody',
  'LABEL org.example.name="the app" org.example.v=1',
  'EXPOSE 80 53/udp',
  'VOLUME /data',
  'STOPSIGNAL SIGINT',
  'ENTRYPOINT ["/bin/sh"]',
  'CMD ["main.sh"]',
].join('\n');

function buildah(base: string, args: string[]): string {
  const r = spawnSync('buildah', ['--root', path.join(base, 'root'), '--runroot', path.join(base, 'run'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`buildah ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** path -> type, mode, owner, content: what two builds must agree on (not times) */
function listing(lstat: (rel: string) => { hostPath: string; attr: sys.Attr } | undefined, readdir: (rel: string) => string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const n of readdir(rel)) {
      const r = rel ? `${rel}/${n}` : n;
      const node = lstat(r)!;
      const a = node.attr;
      let what = '';
      if (sys.isReg(a.mode)) what = crypto.createHash('sha256').update(fs.readFileSync(node.hostPath)).digest('hex').slice(0, 16);
      if (sys.isLnk(a.mode)) what = '-> ' + fs.readlinkSync(node.hostPath);
      out.push(`${r} ${a.mode.toString(8)} ${a.uid}:${a.gid} ${what}`);
      if (sys.isDir(a.mode)) walk(r);
    }
  };
  walk('');
  return out;
}

test('buildah and Strata build the same files and config from the same Dockerfile', async (t) => {
  const base = tempDir(t, 'strata-buildah-');
  const rootfs = path.join(base, 'rootfs');
  const mk = spawnSync('bash', [path.join(repoRoot, 'scripts/mkrootfs-busybox.sh'), rootfs], { encoding: 'utf8' });
  t.is(mk.status, 0, mk.stderr);
  const ctx = path.join(base, 'ctx');
  fs.mkdirSync(path.join(ctx, 'src/lib'), { recursive: true });
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  fs.writeFileSync(path.join(ctx, 'src/main.sh'), 'echo main\n');
  fs.writeFileSync(path.join(ctx, 'src/lib/util.sh'), 'echo util\n');
  fs.writeFileSync(path.join(ctx, 'tool.sh'), '#!/bin/sh\necho tool\n');
  fs.mkdirSync(path.join(ctx, 'p/d'), { recursive: true });
  fs.writeFileSync(path.join(ctx, 'p/d/f'), 'in tar\n');
  spawnSync('tar', ['-cf', path.join(ctx, 'payload.tar'), '--owner=0', '--group=0', '-C', path.join(ctx, 'p'), 'd']);
  fs.rmSync(path.join(ctx, 'p'), { recursive: true });

  // buildah
  const ctr = buildah(base, ['from', 'scratch']);
  buildah(base, ['copy', ctr, rootfs, '/']);
  buildah(base, ['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--cmd', 'sh', ctr]);
  buildah(base, ['commit', '-q', ctr, 'busybox']);
  buildah(base, ['rm', ctr]);
  buildah(base, ['bud', '-q', '--isolation', 'chroot', '-t', 'out', ctx]);
  const theirs = (JSON.parse(buildah(base, ['inspect', 'out'])) as { OCIv1: { config: ContainerConfig } }).OCIv1.config;
  const outCtr = buildah(base, ['from', 'out']);
  t.teardown(() => {
    spawnSync('buildah', ['--root', path.join(base, 'root'), '--runroot', path.join(base, 'run'), '--storage-driver', 'vfs', 'umount', '-a']);
  });
  const mnt = buildah(base, ['mount', outCtr]);
  const theirFiles = listing(
    (rel) => {
      const hostPath = path.join(mnt, rel);
      const attr = sys.lstatIfExists(hostPath);
      return attr && { hostPath, attr };
    },
    (rel) => fs.readdirSync(path.join(mnt, rel)).sort(),
  );

  // Strata
  const store = new ImageStore(path.join(base, 'strata'));
  await importImage(store, rootfs, 'busybox');
  const r = await build({ contextDir: ctx }, depsFor(store));
  const ours = r.image.config.config!;
  const view = new LayerView(r.image.layerDirs);
  const ourFiles = listing((rel) => view.lstat(rel), (rel) => view.readdir(rel));

  const { 'io.buildah.version': _, ...theirLabels } = theirs.Labels ?? {};
  // buildah moves a redefined variable to the end; Docker (and Strata) replace it in place
  t.deepEqual([...ours.Env!].sort(), [...theirs.Env!].sort());
  t.is(ours.Env![0]!.split('=')[0], 'PATH');
  t.deepEqual(ours.Cmd, theirs.Cmd);
  t.deepEqual(ours.Entrypoint, theirs.Entrypoint);
  t.is(ours.WorkingDir, theirs.WorkingDir);
  t.is(ours.User, theirs.User);
  t.deepEqual(ours.Labels, theirLabels);
  t.deepEqual(ours.ExposedPorts, theirs.ExposedPorts);
  t.deepEqual(ours.Volumes, theirs.Volumes);
  t.is(ours.StopSignal, theirs.StopSignal);
  // buildah's chroot isolation leaves the empty files it bind-mounted over in the image
  const EMPTY = 'e3b0c44298fc1c14';
  const bindTargets = theirFiles.filter((l) => /^etc\/(hosts|resolv\.conf) /.test(l) && l.endsWith(EMPTY));
  t.deepEqual(ourFiles, theirFiles.filter((l) => !bindTargets.includes(l)));
  t.true(ourFiles.length > 100, `${ourFiles.length} entries`);
});
