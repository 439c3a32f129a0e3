// Rootless with /etc/subuid and /etc/subgid ranges, for real: uid 65534 with a range of
// 65536 ids from 200000, installed by Debian's newuidmap/newgidmap (setuid root) in the
// container's user namespace. The machine's /etc/subuid is left alone: the files are bound
// over it in a mount namespace strata runs in (helpers/containers.ts).
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { containerDirs, makeCtx, makeImage, NOBODY, processesUsing, run, strata, type Ctx, type Image } from '../helpers/containers.js';

const START = 200000;
const COUNT = 65536;
/** host id of container id n (n >= 1): the range follows the caller's 0 */
const host = (n: number): number => START + n - 1;

let image: Image;
let ranges: string;
test.before(() => {
  image = makeImage(NOBODY);
  // a lower file owned by a subordinate id: container uid/gid 42
  fs.chownSync(path.join(image.lowers[0]!, 'etc/app'), host(42), host(42));
  ranges = fs.mkdtempSync(path.join(image.dir, 'subid-'));
  fs.writeFileSync(path.join(ranges, 'subuid'), `nobody:${START}:${COUNT}\n`);
  fs.writeFileSync(path.join(ranges, 'subgid'), `${NOBODY}:${START}:${COUNT}\n`);
});
test.after.always(() => fs.rmSync(image.dir, { recursive: true, force: true }));

function ctxWithRanges(t: Parameters<typeof makeCtx>[0]): Ctx {
  const ctx = makeCtx(t, image, true);
  ctx.subids = { subuid: path.join(ranges, 'subuid'), subgid: path.join(ranges, 'subgid') };
  return ctx;
}

const hasNewuidmap = ['/usr/bin/newuidmap', '/usr/bin/newgidmap'].every((p) => fs.existsSync(p));

(hasNewuidmap ? test : test.skip)('rootless with subuid ranges: the whole map, chown to mapped ids, -u of a mapped user, lower owners shown', async (t) => {
  const ctx = ctxWithRanges(t);
  const r = await run(ctx, {
    command: ['sh', '-c', [
      'cat /proc/self/uid_map | tr -s " " | sed "s/^ //"',
      'cat /proc/self/gid_map | tr -s " " | sed "s/^ //"',
      'stat -c %u:%g /bin/busybox /etc/app',
      'echo x > /owned; chown 1000:1001 /owned',
      'echo more >> /etc/app',
      'stat -c %u:%g /owned /etc/app',
    ].join('; ')],
    name: 'ranges',
  });
  t.is(r.code, 0, r.err);
  t.is(r.out, [
    `0 ${NOBODY} 1`, `1 ${START} ${COUNT}`,
    `0 ${NOBODY} 1`, `1 ${START} ${COUNT}`,
    '0:0', '42:42',
    '1000:1001', '42:42', '',
  ].join('\n'));
  const [id] = containerDirs(ctx);
  const upper = path.join(ctx.root, 'containers', id!, 'upper');
  const owned = fs.statSync(path.join(upper, 'owned'));
  t.deepEqual([owned.uid, owned.gid], [host(1000), host(1001)], 'chown in the container lands on the subordinate ids');
  const app = fs.statSync(path.join(upper, 'etc/app'));
  t.deepEqual([app.uid, app.gid], [host(42), host(42)], 'copy-up keeps a subordinate owner');
  t.is(fs.readFileSync(path.join(upper, 'etc/app'), 'utf8'), 'app layer\nmore\n');

  const u = await run(ctx, { command: ['sh', '-c', 'id -u; id -g; echo hi > /tmp/mine; stat -c %u:%g /tmp/mine'], user: '1000:1000', rm: true });
  t.is(u.code, 0, u.err);
  t.is(u.out, '1000\n1000\n1000:1000\n');
  // the image's nobody (65534) is mapped too: ids up to 65536 are
  const nobody = await run(ctx, { command: ['id', '-u'], user: 'nobody', rm: true });
  t.is(nobody.code, 0, nobody.err);
  t.is(nobody.out, '65534\n');
  t.is(strata(ctx, ['rm', 'ranges']).code, 0);
  t.deepEqual(containerDirs(ctx), []);
  t.deepEqual(processesUsing(ctx.root), []);
});

(hasNewuidmap ? test : test.skip)('rootless with subuid ranges: ids past the range are refused, not run as someone else', async (t) => {
  const ctx = ctxWithRanges(t);
  const r = await run(ctx, { command: ['id'], user: `${COUNT + 1}:${COUNT + 1}`, rm: true });
  t.is(r.code, 125);
  t.regex(r.err, /is not mapped in the user namespace/);
  t.deepEqual(containerDirs(ctx), []);
});
