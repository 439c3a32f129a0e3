// The differential test: seeded random op sequences on the kernel's overlayfs and on the
// subject (Strata, or fuse-overlayfs with STRATA_COMPAT_SUBJECT=fuse-overlayfs) over
// byte-identical copies of the same lowers, comparing every errno and, every few ops, the
// merged trees; then the subject's upper read back through the kernel, then a remount.
import test from 'ava';
import fs from 'node:fs';
import { subjectFromEnv, subjectUnavailable } from '../helpers/union.js';
import { runDifferential } from './differential.js';
import type { Op } from './ops.js';

const subject = subjectFromEnv();
const unavailable = subjectUnavailable(subject);
const seeds = (process.env.STRATA_COMPAT_SEEDS ?? '1,2,3').split(',').map(Number);
const ops = Number(process.env.STRATA_COMPAT_OPS ?? 200);
// STRATA_COMPAT_REPLAY=FILE replays a repro (one op as JSON a line, as a failure prints it)
// instead, comparing the trees after every op
const replay = process.env.STRATA_COMPAT_REPLAY;

if (replay) {
  const script = fs.readFileSync(replay, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Op);
  test(`${subject} replays ${replay} (${script.length} ops) as the kernel does`, (t) =>
    runDifferential(t, { subject, seed: 0, ops: script.length, script, every: 1, minimiseSeconds: 0 }));
}

for (const seed of replay ? [] : seeds) {
  const title = `${subject} matches the kernel's overlayfs op by op, seed ${seed}, ${ops} ops; its upper reads back the same through the kernel and a remount`;
  if (unavailable) test.skip(`${title} (${unavailable})`, () => {});
  else test(title, async (t) => runDifferential(t, { subject, seed, ops }));
}
