// The bench must not rot: its --quick binding suite runs, prints a table with a ratio per
// contender, and leaves no mount and no temp dir behind. No timing is asserted.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { listMounts } from '../../src/fuse/mounts.js';
import { distDir } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

test('npm run bench -- binding --quick prints ratios to both peers and cleans up', (t) => {
  t.timeout(180_000);
  // the bench makes its workspace under $TMPDIR: an empty one shows whatever it leaves
  const tmp = tempDir(t, 'strata-bench-test-');
  const r = spawnSync(process.execPath, [path.join(distDir, 'bench/run.js'), 'binding', '--quick', '--runs', '1'], {
    encoding: 'utf8',
    env: { ...process.env, TMPDIR: tmp },
    timeout: 170_000,
  });
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0]!.split('|').map((c) => c.trim());
  t.true(header.includes('strata ÷ fuse-native 2.2.6'), lines[0]);
  t.true(header.includes('strata ÷ fuse-overlayfs'), lines[0]);
  const rows = lines.slice(2).map((l) => l.split('|').map((c) => c.trim()).filter(Boolean));
  t.deepEqual(rows.map((row) => row[0]), ['creates/s', 'stats/s', 'seq read MB/s', 'seq write MB/s']);
  for (const row of rows) {
    t.is(row.length, 6, row.join(' | '));
    for (const figure of row.slice(1, 4)) t.regex(figure, /^[\d,.]+$/, `${row[0]}: ${figure}`);
    for (const ratio of row.slice(4)) t.regex(ratio, /^\d+(\.\d+)?×$/, `${row[0]}: ${ratio}`);
  }
  t.deepEqual(fs.readdirSync(tmp), []);
  t.deepEqual(listMounts().filter((m) => m.mountpoint.startsWith(tmp)), []);
});

test('npm run bench -- union --quick: a warm row is the median of its passes, a table with ratios, nothing left', (t) => {
  t.timeout(180_000);
  const tmp = tempDir(t, 'strata-bench-test-');
  const r = spawnSync(
    process.execPath,
    [path.join(distDir, 'bench/run.js'), 'union', '--quick', '--runs', '1', '--only', 'fuse-overlayfs,strata', '--workloads', 'stat-warm,readdir'],
    { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, timeout: 170_000 },
  );
  t.is(r.status, 0, r.stderr);
  const out = r.stdout + r.stderr;
  // the warm walk timed 5 times on each mount, the readdir (cold on a fresh mount) once
  t.regex(out, /stat-warm strata: [\d.]+ m?s \(mounted in [^)]*, median of 5 passes\)/);
  t.regex(out, /readdir strata: [\d.]+ m?s \(mounted in [\d.]+ m?s\)\n/);
  t.regex(out, /Warm rows \(stat-warm\): each run is the median of 5 timed passes/);
  const rows = out.split('\n').filter((l) => l.startsWith('| stat') || l.startsWith('| readdir'));
  t.is(rows.length, 2, out);
  // cells are padded to their column's widest: "5.29 ms (0.41× fo)  |" beside "12.3 ms (1.02× fo) |"
  for (const row of rows) t.regex(row, /\| [\d.]+ m?s \([\d.]+× fo\) +\|/, row);
  t.deepEqual(fs.readdirSync(tmp), []);
  t.deepEqual(listMounts().filter((m) => m.mountpoint.startsWith(tmp)), []);
});
