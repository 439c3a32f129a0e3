// `strata build`: the command line, its Dockerfile errors, its arguments.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { distDir } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { parseBuildArgs, parseTimestamp } from '../../src/build/index.js';

const strata = (args: string[]) => spawnSync(process.execPath, [path.join(distDir, 'src/cli/main.js'), ...args], { encoding: 'utf8' });

test('--help lists the options', (t) => {
  const r = strata(['build', '--help']);
  t.is(r.status, 0);
  for (const o of ['--tag', '--file', '--build-arg', '--target', '--no-cache', '--squash', '--timestamp']) t.true(r.stdout.includes(o), o);
});

test('a Dockerfile error is one line with file:line and the text, exit 1, before any store is opened', (t) => {
  const ctx = tempDir(t);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM x\nRUN ok\nFRUM y\n');
  const r = strata(['build', '--root', path.join(ctx, 'store'), ctx]);
  t.is(r.status, 1);
  t.is(r.stderr, 'strata: Dockerfile:3: unknown instruction: FRUM: FRUM y\n');
  t.false(fs.existsSync(path.join(ctx, 'store')));
  const f = path.join(ctx, 'other.Dockerfile');
  fs.writeFileSync(f, 'FROM x\nENV\n');
  t.is(strata(['build', '-f', f, ctx]).stderr, 'strata: other.Dockerfile:2: ENV requires at least one argument: ENV\n');
  t.regex(strata(['build', path.join(ctx, 'nope')]).stderr, /the build context is not a directory/);
});

test('--build-arg K=V and K alone (from the environment); timestamps', (t) => {
  t.deepEqual([...parseBuildArgs(['A=1', 'B==2', 'C', 'D'], { C: 'c' })], [['A', '1'], ['B', '=2'], ['C', 'c']]);
  t.is(parseTimestamp('86400', 'x')!.toISOString(), '1970-01-02T00:00:00.000Z');
  t.is(parseTimestamp('2024-01-02T03:04:05Z', 'x')!.getTime(), Date.UTC(2024, 0, 2, 3, 4, 5));
  t.is(parseTimestamp(undefined, 'x'), undefined);
  t.throws(() => parseTimestamp('soon', '--timestamp'), { message: '--timestamp: not a time: soon (epoch seconds or an ISO date)' });
});
