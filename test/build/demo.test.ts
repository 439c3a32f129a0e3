// scripts/demo.sh, the README's first command: with no network it imports busybox, builds
// examples/hello, runs it, shows its history, rebuilds from the cache, and leaves nothing.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/daemon.js';

test('demo.sh builds and runs examples/hello, all cached the second time, and cleans up', (t) => {
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/demo.sh')], { encoding: 'utf8', timeout: 150_000 });
  t.is(r.status, 0, r.stderr);
  const out = r.stdout;
  t.true(out.includes('== strata run --rm hello\nHello from an image Strata built\nbuilt by root in /app\none layer per step that changes files\n'), out);
  t.regex(out, /== strata history hello\nCREATED +CREATED BY +SIZE +COMMENT\n.*CMD \["\/app\/hello.sh"\]/);
  const cached = out.slice(out.indexOf('every step from the cache'));
  t.is(cached.match(/Using cache/g)?.length, 7, cached);
  const work = /into (\/tmp\/strata-demo\.[^/]+)\/root/.exec(out)?.[1];
  t.truthy(work);
  t.false(fs.existsSync(work!), 'its temp dir is gone');
  t.false(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(work!), 'no mount is left');
});
