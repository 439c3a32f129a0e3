// `strata build` as an unprivileged user (nobody), through the CLI: RUN steps that delete a
// base file and replace a base dir, with and without --squash, and the result run back.
// Rootless, trusted.* xattrs are refused, so opaque dirs must be written as user.overlay.opaque.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/daemon.js';
import { makeCtx, NOBODY, strata, type Ctx } from '../helpers/containers.js';
import { tempDir } from '../helpers/tmp.js';

const DOCKERFILE = 'FROM busybox\nRUN rm /bin/vi && rm -r /home && mkdir /home && echo n > /home/new\nRUN echo built > /built\n';

/** a store owned by nobody, holding busybox imported by nobody, and a build context */
function setup(t: ExecutionContext): { ctx: Ctx; context: string } {
  const work = tempDir(t, 'strata-build-rootless-');
  fs.chmodSync(work, 0o755);
  const rootfs = path.join(work, 'rootfs');
  const mk = spawnSync('bash', [path.join(repoRoot, 'scripts/mkrootfs-busybox.sh'), rootfs], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`mkrootfs-busybox: ${mk.stderr}`);
  fs.mkdirSync(path.join(rootfs, 'home/user'), { recursive: true });
  const context = path.join(work, 'ctx');
  fs.mkdirSync(context);
  fs.writeFileSync(path.join(context, 'Dockerfile'), DOCKERFILE);
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, rootfs, context]);
  const ctx = makeCtx(t, { dir: work, lowers: [] }, true);
  const imp = strata(ctx, ['import', rootfs, 'busybox']);
  if (imp.code !== 0) throw new Error(`import as nobody: ${imp.err}`);
  return { ctx, context };
}

for (const squash of [false, true]) {
  test(`rootless build${squash ? ' --squash' : ''}: whiteouts and opaque dirs hide the base`, (t) => {
    const { ctx, context } = setup(t);
    const b = strata(ctx, ['build', '-q', ...(squash ? ['--squash'] : []), '-t', 'app', context]);
    t.is(b.code, 0, b.err);
    const r = strata(ctx, ['run', '--rm', 'app', 'sh', '-c', 'ls /home; cat /built; test -e /bin/vi && echo vi-present; id -u']);
    t.is(r.code, 0, r.err);
    t.deepEqual(r.out.trim().split('\n'), ['new', 'built', '0'], 'home holds only the new file, vi is gone, the command runs as root of its namespace');
  });
}
