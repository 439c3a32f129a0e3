// sys.copyFileAsync (the addon's copyFile, in a libuv worker): the data, holes kept, and
// its failures as SysErrors naming the errno, the syscall and the source.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';

function dir(t: import('ava').ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-copy-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('copies the data (a sparse file keeps its size and content), dest mode 0600', async (t) => {
  const d = dir(t);
  const src = path.join(d, 'src');
  const fd = fs.openSync(src, 'w');
  fs.writeSync(fd, 'head');
  fs.writeSync(fd, 'tail', 1 << 20);
  fs.ftruncateSync(fd, 3 << 20);
  fs.closeSync(fd);
  await sys.copyFileAsync(src, path.join(d, 'dst'), { fsync: true });
  t.true(fs.readFileSync(path.join(d, 'dst')).equals(fs.readFileSync(src)));
  t.is(fs.statSync(path.join(d, 'dst')).mode & 0o7777, 0o600);
});

test('failures: ENOENT at open of a missing source, EEXIST for an existing dest', async (t) => {
  const d = dir(t);
  const missing = path.join(d, 'missing');
  const e = await t.throwsAsync<sys.SysError>(sys.copyFileAsync(missing, path.join(d, 'dst')));
  t.true(e instanceof sys.SysError);
  t.is(e?.code, 'ENOENT');
  t.is(e?.errno, sys.E.ENOENT);
  t.is(e?.syscall, 'open');
  t.is(e?.path, missing);
  const src = path.join(d, 'src');
  fs.writeFileSync(src, 'x');
  fs.writeFileSync(path.join(d, 'dst'), 'old');
  const x = await t.throwsAsync<sys.SysError>(sys.copyFileAsync(src, path.join(d, 'dst')));
  t.is(x?.code, 'EEXIST');
  t.is(fs.readFileSync(path.join(d, 'dst'), 'utf8'), 'old');
});
