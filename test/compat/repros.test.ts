// Every divergence the differential test found, shrunk to a few ops and kept: each file in
// test/compat/repros/ (one op as JSON a line, on the fixture layers) replayed against the
// subject with the trees compared after every op. Named for the behaviour they pin.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/daemon.js';
import { subjectFromEnv, subjectUnavailable } from '../helpers/union.js';
import { runDifferential } from './differential.js';
import type { Op } from './ops.js';

const subject = subjectFromEnv();
const unavailable = subjectUnavailable(subject);
const dir = path.join(repoRoot, 'test/compat/repros');

// repros/rootless/ replay as nobody in a user namespace (against the userxattr kernel overlay)
const files = (sub: string): string[] =>
  fs.readdirSync(path.join(dir, sub)).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(sub, f));

for (const file of [...files('.'), ...files('rootless')]) {
  const rootless = file.startsWith('rootless/');
  const title = `repro ${rootless ? 'rootless: ' : ''}${path.basename(file, '.jsonl').replace(/-/g, ' ')}: ${subject} as the kernel`;
  if (unavailable) {
    test.skip(`${title} (${unavailable})`, () => {});
    continue;
  }
  test(title, (t) => {
    const script = fs.readFileSync(path.join(dir, file), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Op);
    return runDifferential(t, { subject, seed: 0, ops: script.length, script, every: 1, minimiseSeconds: 0, rootless });
  });
}
