// The differential harness against itself: two kernel overlay mounts over copies of the
// same lowers must agree on every op and every tree, or the harness reports false alarms.
import test from 'ava';
import { runDifferential } from './differential.js';

test('the harness finds no divergence between the kernel and itself (seed 7, 150 ops)', async (t) => {
  await runDifferential(t, { subject: 'kernel', seed: 7, ops: 150 });
  t.pass();
});
