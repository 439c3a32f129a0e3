// A full disk during copy-up, through a real mount: the upper is a 2 MiB tmpfs and the lower
// file is 4 MiB. The writer gets ENOSPC (the kernel's overlayfs answers the same, checked by
// hand: nothing left in its upper or work dir either), the file still
// reads as the lower's, nothing partial is left in the upper or the workdir, and the mount
// goes on working for writes that fit.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { mountStrata } from './mount-helper.js';

const root = process.geteuid?.() === 0;

(root ? test : test.skip)('a copy-up that fills the upper: ENOSPC, the lower file intact, nothing partial left', (t) => {
  const dir = tempDir(t, 'strata-enospc-');
  const lower = path.join(dir, 'lower');
  const fsDir = path.join(dir, 'fs');
  const mnt = path.join(dir, 'mnt');
  for (const d of [lower, fsDir, mnt]) fs.mkdirSync(d);
  const big = crypto.randomBytes(4 << 20);
  fs.writeFileSync(path.join(lower, 'big'), big);
  fs.writeFileSync(path.join(lower, 'small'), 'small\n');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', fsDir], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`mount tmpfs: ${m.stderr}`);
  // registered first, so it runs after the union's own unmount (teardowns run in reverse)
  t.teardown(() => void spawnSync('umount', ['-l', fsDir]));
  const upper = path.join(fsDir, 'upper');
  const work = path.join(fsDir, 'work');
  fs.mkdirSync(upper);
  fs.mkdirSync(work);
  mountStrata(t, { dir, lowers: [lower], upper, work, mnt });

  const e = t.throws(() => fs.appendFileSync(path.join(mnt, 'big'), 'x'));
  t.is((e as NodeJS.ErrnoException).code, 'ENOSPC');
  t.true(fs.readFileSync(path.join(mnt, 'big')).equals(big), 'the merged file is still the lower file, whole');
  t.false(fs.existsSync(path.join(upper, 'big')), 'no partial copy in the upper');
  t.deepEqual(fs.readdirSync(path.join(work, 'work')), [], 'the copy-up temp is gone from the workdir');
  t.true(fs.readFileSync(path.join(lower, 'big')).equals(big), 'the lower is untouched');

  fs.appendFileSync(path.join(mnt, 'small'), 'more\n');
  t.is(fs.readFileSync(path.join(mnt, 'small'), 'utf8'), 'small\nmore\n', 'a copy-up that fits still works');
  t.is(fs.readFileSync(path.join(upper, 'small'), 'utf8'), 'small\nmore\n');
});
