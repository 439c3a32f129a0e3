// Pins what the rootless allowance staleSetidOfAnotherName (known-divergences.ts) rests on:
// nobody in `unshare -Urm`, chmod u+s through one name of a hard link, truncate through the
// other. The kernel's userxattr overlay (index=off: an inode per name) keeps the bit through
// the stale inode and clears it once remounted (a write clears it either way); Strata clears
// it every time, as the kernel does through the same name. If the kernel changes, the
// allowance must go.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { mountArgv, scratchDir, subjectUnavailable, type UnionKind } from '../helpers/union.js';
import { ROOTLESS_PREFIX } from './differential.js';

const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

/** Modes after truncate through the stale name (a), the same after a remount (b), and after
 * a write through the stale name (c: the upper file decides that, with its real mode). */
function truncateThroughOtherName(t: ExecutionContext, kind: UnionKind): string[] {
  const base = scratchDir(t);
  const d = (x: string): string => path.join(base, x);
  for (const x of ['lower/newdir', 'upper', 'work', 'mnt']) fs.mkdirSync(d(x), { recursive: true });
  for (const f of ['a', 'b', 'c']) fs.writeFileSync(d(`lower/${f}`), 'data', { mode: 0o755 });
  spawnSync('chown', ['-R', '65534:65534', base]);
  fs.chmodSync(base, 0o755);
  const mount = mountArgv(kind, { lowers: [d('lower')], upper: d('upper'), work: d('work'), mnt: d('mnt'), userxattr: true }).map(quote).join(' ');
  const m = quote(d('mnt'));
  const script = [
    'set -e',
    `mnt() { ${mount}; }`,
    `mnt; cd ${m}`,
    'ln a newdir/a; chmod 4755 newdir/a; truncate -s 9 a; stat -c %a a',
    `ln b newdir/b; chmod 4755 newdir/b; cd /; umount ${m}; mnt; cd ${m}; truncate -s 9 b; stat -c %a b`,
    'ln c newdir/c; chmod 4755 newdir/c; printf x >> c; stat -c %a c',
    `cd /; umount ${m}`,
  ].join('\n');
  const r = spawnSync(ROOTLESS_PREFIX[0]!, [...ROOTLESS_PREFIX.slice(1), 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
  t.is(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

test('rootless: the kernel keeps suid on truncate through the stale other name of a hard link, and clears it after a remount', (t) => {
  t.deepEqual(truncateThroughOtherName(t, 'kernel'), ['4755', '755', '755']);
});

const unavailable = subjectUnavailable('strata');
if (unavailable) test.skip(`rootless: strata clears suid on truncate through either name of a hard link (${unavailable})`, () => {});
else {
  test('rootless: strata clears suid on truncate through either name of a hard link', (t) => {
    t.deepEqual(truncateThroughOtherName(t, 'strata'), ['755', '755', '755']);
  });
}
