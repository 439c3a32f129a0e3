// The differential test, smaller, as an unprivileged user: nobody, inside `unshare -Urm`,
// against the kernel's overlayfs in that user namespace (userxattr: opaque dirs as
// user.overlay.opaque, whiteouts as char 0/0).
import test from 'ava';
import { subjectFromEnv, subjectUnavailable } from '../helpers/union.js';
import { runDifferential } from './differential.js';

const subject = subjectFromEnv();
const unavailable = subjectUnavailable(subject);
const ops = Number(process.env.STRATA_COMPAT_ROOTLESS_OPS ?? 150);

for (const seed of [21, 22]) {
  const title = `rootless: ${subject} as nobody in a user namespace matches the kernel's userxattr overlayfs, seed ${seed}, ${ops} ops`;
  if (unavailable) test.skip(`${title} (${unavailable})`, () => {});
  else test(title, (t) => runDifferential(t, { subject, seed, ops, rootless: true }));
}

test('rootless: the harness finds no divergence between the userxattr kernel overlay and itself (seed 23)', (t) =>
  runDifferential(t, { subject: 'kernel', seed: 23, ops: 120, rootless: true }));
