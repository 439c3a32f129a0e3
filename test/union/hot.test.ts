// The metadata fast paths (issue 4): stats and xattr reads that miss cost no exception,
// readdir replies hold only what fits, copy-up data moves in a worker thread, and the
// kernel's negative entries never hide a name created through the mount.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { Union } from '../../src/union/engine.js';
import { tempDir } from '../helpers/tmp.js';
import { makeLayers } from './layers.js';
import { mountStrata } from './mount-helper.js';

test('lstatIfExists: undefined for ENOENT and ENOTDIR, a SysError with the errno for anything else', (t) => {
  const dir = tempDir(t, 'strata-hot-');
  fs.writeFileSync(path.join(dir, 'f'), 'x');
  fs.symlinkSync('loop', path.join(dir, 'loop'));
  t.is(sys.lstatIfExists(path.join(dir, 'nope')), undefined);
  t.is(sys.lstatIfExists(path.join(dir, 'f', 'below-a-file')), undefined);
  const e = t.throws(() => sys.lstatIfExists(path.join(dir, 'loop', 'x')));
  t.true(e instanceof sys.SysError);
  t.is((e as sys.SysError).code, 'ELOOP');
  const a = sys.lstatIfExists(path.join(dir, 'f'))!;
  const st = fs.lstatSync(path.join(dir, 'f'), { bigint: true });
  t.is(BigInt(a.ino), st.ino);
  t.is(a.size, 1);
  t.is(a.mtimeNsec, Number(st.mtimeNs % 1_000_000_000n));
  t.deepEqual(sys.lstat(path.join(dir, 'f')), a);
  t.throws(() => sys.lstat(path.join(dir, 'nope')), { code: 'ENOENT' });
  const fd = sys.open(path.join(dir, 'f'), sys.O.O_RDONLY);
  t.teardown(() => sys.close(fd));
  t.deepEqual(sys.fstat(fd), a);
});

test('lgetxattrIfExists: undefined when absent, the whole value when present, also past 4 KiB', (t) => {
  const dir = tempDir(t, 'strata-hot-');
  const f = path.join(dir, 'f');
  fs.writeFileSync(f, 'x');
  t.is(sys.lgetxattrIfExists(f, 'user.none'), undefined);
  sys.lsetxattr(f, 'user.small', Buffer.from('v'));
  t.is(sys.lgetxattrIfExists(f, 'user.small')?.toString(), 'v');
  const big = Buffer.alloc(8000, 7);
  try {
    sys.lsetxattr(f, 'user.big', big);
  } catch {
    t.log('this filesystem takes no 8000-byte xattr value: the ERANGE path is not exercised');
    return;
  }
  t.deepEqual(sys.lgetxattrIfExists(f, 'user.big'), big);
});

test('copyFileAsync: same bytes, holes stay holes, dest made exclusively, and the event loop turns meanwhile', async (t) => {
  const dir = tempDir(t, 'strata-hot-');
  const src = path.join(dir, 'src');
  const fd = fs.openSync(src, 'w');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  fs.writeSync(fd, chunk, 0, chunk.length, 0);
  fs.writeSync(fd, Buffer.from('end'), 0, 3, 64 << 20); // 63 MiB hole in between
  fs.closeSync(fd);
  const dest = path.join(dir, 'dest');
  let turns = 0;
  const tick = setInterval(() => turns++, 0);
  try {
    await sys.copyFileAsync(src, dest, { fsync: true });
  } finally {
    clearInterval(tick);
  }
  const a = fs.statSync(src);
  const b = fs.statSync(dest);
  t.is(b.size, a.size);
  t.true(fs.readFileSync(dest).equals(fs.readFileSync(src)));
  t.true(b.blocks * 512 < 16 << 20, `the 63 MiB hole was not filled in (${b.blocks} blocks)`);
  t.is(b.mode & 0o777, 0o600);
  t.true(turns > 0, 'timers ran while the copy was in flight: it did not block the JS thread');
  await t.throwsAsync(sys.copyFileAsync(src, dest), { code: 'EEXIST' });
  await t.throwsAsync(sys.copyFileAsync(path.join(dir, 'none'), path.join(dir, 'd2')), { code: 'ENOENT' });
  t.false(fs.existsSync(path.join(dir, 'd2')));
  const empty = path.join(dir, 'empty');
  fs.writeFileSync(empty, '');
  await sys.copyFileAsync(empty, path.join(dir, 'empty2'));
  t.is(fs.statSync(path.join(dir, 'empty2')).size, 0);
});

test('readdir with a byte budget: only what fits (the first entry always), and the next offset goes on from there', (t) => {
  const l = makeLayers(t, [{ d: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`entry-${String(i).padStart(3, '0')}`, 'x'])) }]);
  const u = Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false });
  const d = u.lookupPath('d');
  const fh = u.opendir(d.id);
  const seen: string[] = [];
  let calls = 0;
  for (let off = 0; ; calls++) {
    const batch = u.readdir(fh, off, 1024, true, { bytes: 1000, size: (name) => 100 + name.length });
    if (batch.length === 0) break;
    t.true(batch.length <= 10, `${batch.length} entries of 109 bytes in 1000`);
    seen.push(...batch.map((e) => e.name));
    off = batch[batch.length - 1]!.off;
  }
  u.releasedir(fh);
  t.is(seen.length, 302);
  t.is(new Set(seen).size, 302);
  t.true(calls >= 30);
  const fh2 = u.opendir(d.id);
  t.is(u.readdir(fh2, 0, 1024, true, { bytes: 10, size: () => 100 }).length, 1, 'one entry even when it alone is too big');
  u.releasedir(fh2);
});

test('through the mount: a big dir lists every name once, with attributes; a name looked up as missing shows up once created', (t) => {
  const names = Array.from({ length: 1500 }, (_, i) => `a-rather-long-file-name-to-fill-the-buffer-${i}`);
  const l = makeLayers(t, [{ wide: Object.fromEntries(names.map((n) => [n, 'x'])) }, {}]);
  mountStrata(t, l);
  const listed = fs.readdirSync(path.join(l.mnt, 'wide'));
  t.deepEqual([...listed].sort(), [...names].sort());
  for (const n of names.slice(0, 50)) t.is(fs.lstatSync(path.join(l.mnt, 'wide', n)).size, 1);
  // negative entries are cached by the kernel (60 s): creating through the mount clears them
  const fresh = path.join(l.mnt, 'wide', 'fresh');
  t.false(fs.existsSync(fresh));
  t.throws(() => fs.statSync(fresh), { code: 'ENOENT' });
  fs.writeFileSync(fresh, 'new');
  t.is(fs.readFileSync(fresh, 'utf8'), 'new');
  const sub = path.join(l.mnt, 'wide', 'subdir');
  t.false(fs.existsSync(sub));
  fs.mkdirSync(sub);
  t.true(fs.statSync(sub).isDirectory());
  t.true(fs.readdirSync(path.join(l.mnt, 'wide')).includes('fresh'));
  fs.unlinkSync(fresh);
  t.false(fs.existsSync(fresh));
  fs.renameSync(path.join(l.mnt, 'wide', names[0]!), fresh);
  t.is(fs.readFileSync(fresh, 'utf8'), 'x');
  t.false(fs.existsSync(path.join(l.mnt, 'wide', names[0]!)));
});

test('a SysError is an answer: errno, code, call and path kept, no stack captured (and other errors keep theirs)', (t) => {
  const e = new sys.SysError(sys.E.ENODATA, 'getxattr', '/some/path');
  t.is(e.errno, sys.E.ENODATA);
  t.is(e.code, 'ENODATA');
  t.is(e.message, "ENODATA: getxattr '/some/path'");
  t.false(/\n\s+at /.test(e.stack ?? ''), 'no frames in the stack');
  t.true(e instanceof Error);
  t.true(/\n\s+at /.test(new Error('x').stack ?? ''), 'plain errors still capture their stack');
});
