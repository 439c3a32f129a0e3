// sys.lsetattr (a setattr of a path and its lstat in one call to the addon) and sys.open
// (open(2) straight to the addon): what each changes, in which order, and their failures.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';

function dir(t: import('ava').ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-setattr-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('lsetattr: chown before chmod (set-id bits kept), truncate, times to the ns, and the stat after', (t) => {
  const f = path.join(dir(t), 'f');
  fs.writeFileSync(f, 'hello world');
  const a = sys.lsetattr(f, 1234, 5678, 0o4755, { size: 5, atime: 100, atimeNsec: 7, mtime: 200, mtimeNsec: 123456789 });
  const st = sys.lstat(f);
  t.deepEqual([st.uid, st.gid, st.mode & 0o7777, st.size], [1234, 5678, 0o4755, 5]);
  t.deepEqual([st.atime, st.atimeNsec, st.mtime, st.mtimeNsec], [100, 7, 200, 123456789]);
  t.deepEqual(a, st, 'the answer is the lstat after the change');
});

test('lsetattr: what is not given stays; one time alone; UTIME_NOW', (t) => {
  const f = path.join(dir(t), 'f');
  fs.writeFileSync(f, 'abc');
  sys.lutimens(f, 10, 1, 20, 2);
  fs.chmodSync(f, 0o640);
  const a = sys.lsetattr(f, -1, -1, -1, { mtime: 30, mtimeNsec: 3 });
  t.deepEqual([a.atime, a.atimeNsec, a.mtime, a.mtimeNsec, a.mode & 0o7777, a.size], [10, 1, 30, 3, 0o640, 3]);
  const b = sys.lsetattr(f, -1, 42, -1);
  t.deepEqual([b.uid, b.gid], [a.uid, 42]);
  const now = Math.floor(Date.now() / 1000);
  const c = sys.lsetattr(f, -1, -1, -1, { atime: 0, atimeNsec: sys.C.UTIME_NOW });
  t.true(c.atime >= now - 5, 'atime is now');
  t.deepEqual([c.mtime, c.mtimeNsec], [30, 3]);
});

test('lsetattr never follows a symlink; its failures are SysErrors with the errno', (t) => {
  const d = dir(t);
  const target = path.join(d, 'target');
  fs.writeFileSync(target, '');
  const link = path.join(d, 'link');
  fs.symlinkSync('target', link);
  const a = sys.lsetattr(link, 4321, -1, -1, { mtime: 5, mtimeNsec: 0 });
  t.true(sys.isLnk(a.mode));
  t.is(a.uid, 4321);
  t.is(a.mtime, 5);
  t.not(sys.lstat(target).uid, 4321, 'the target is not changed');
  t.throws(() => sys.lsetattr(path.join(d, 'missing'), -1, -1, 0o600), { code: 'ENOENT' });
  t.throws(() => sys.lsetattr(d, -1, -1, -1, { size: 0 }), { code: 'EISDIR' });
});

test('open: an fd, close-on-exec; EEXIST and ENOENT as SysErrors', (t) => {
  const d = dir(t);
  const f = path.join(d, 'f');
  const fd = sys.open(f, sys.O.O_CREAT | sys.O.O_EXCL | sys.O.O_WRONLY, 0o640);
  t.teardown(() => sys.close(fd));
  t.is(sys.fstat(fd).mode & 0o777, 0o640 & ~process.umask());
  const flags = /^flags:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  t.truthy(flags);
  t.not(parseInt(flags!, 8) & 0o2000000, 0, 'O_CLOEXEC');
  t.throws(() => sys.open(f, sys.O.O_CREAT | sys.O.O_EXCL | sys.O.O_WRONLY), { code: 'EEXIST' });
  t.throws(() => sys.open(path.join(d, 'no/such'), sys.O.O_RDONLY), { code: 'ENOENT' });
});
