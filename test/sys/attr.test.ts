// sys.lstat/fstat/lstatIfExists: the attr built from the addon's stat buffer keeps every
// field exact, small ones (kept as small integers for V8) and big ones (past 2^31: sizes
// of big files, times past 2038, negative times) alike.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';

function dir(t: import('ava').ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-attr-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('fields past 2^31 and below 0 are exact: a 5 GiB sparse size, times in 2100 and 1902', (t) => {
  const f = path.join(dir(t), 'big');
  fs.writeFileSync(f, '');
  fs.truncateSync(f, 5 * 2 ** 30 + 7);
  const y2100 = 4102444800; // 2100-01-01, past 2^31 s
  const y1902 = -2145916800; // 1902-01-01: negative, near -2^31
  sys.lutimens(f, y1902, 999_999_999, y2100, 123_456_789);
  const fd = fs.openSync(f, 'r');
  t.teardown(() => fs.closeSync(fd));
  for (const a of [sys.lstat(f), sys.lstatIfExists(f)!, sys.fstat(fd)]) {
    t.is(a.size, 5 * 2 ** 30 + 7);
    t.is(a.mtime, y2100);
    t.is(a.mtimeNsec, 123_456_789);
    t.is(a.atime, y1902);
    t.is(a.atimeNsec, 999_999_999);
    t.is(a.mode, fs.statSync(f).mode);
  }
});

test('small fields are exact and equal to node:fs', (t) => {
  const f = path.join(dir(t), 'small');
  fs.writeFileSync(f, 'x'.repeat(1234));
  fs.chmodSync(f, 0o640);
  const a = sys.lstat(f);
  const b = fs.lstatSync(f, { bigint: true });
  t.is(a.size, 1234);
  t.is(a.mode, Number(b.mode));
  t.is(a.nlink, Number(b.nlink));
  t.is(a.uid, Number(b.uid));
  t.is(a.gid, Number(b.gid));
  t.is(BigInt(a.ino), b.ino);
  t.is(BigInt(a.dev ?? -1), b.dev);
  t.is(a.blocks, Number(b.blocks));
  t.is(a.mtime, Number(b.mtimeNs / 1_000_000_000n));
  t.is(a.mtimeNsec, Number(b.mtimeNs % 1_000_000_000n));
  // the same values, however many stats V8 has seen (a shape whose fields are small integers)
  let wrong = 0;
  for (let i = 0; i < 2000; i++) if (sys.lstat(f).size !== 1234 || sys.lstat(f).mode !== a.mode) wrong++;
  t.is(wrong, 0);
});

test('fileKey: one key per (dev, ino), a number when it fits one exactly, else a string', (t) => {
  t.is(sys.fileKey({ dev: 64768, ino: 12 }), 64768 * 2 ** 32 + 12);
  t.is(sys.fileKey({ dev: 2 ** 21 - 1, ino: 2 ** 32 - 1 }), (2 ** 21 - 1) * 2 ** 32 + 2 ** 32 - 1);
  t.true(Number.isSafeInteger(sys.fileKey({ dev: 2 ** 21 - 1, ino: 2 ** 32 - 1 }) as number));
  // past what a double holds exactly: strings, never two files on one key
  t.is(sys.fileKey({ dev: 2 ** 21, ino: 5 }), `${2 ** 21}:5`);
  t.is(sys.fileKey({ dev: 1, ino: 2 ** 32 }), `1:${2 ** 32}`);
  t.is(sys.fileKey({ dev: 1, ino: 2n ** 60n }), `1:${2n ** 60n}`);
  t.is(sys.fileKey({ ino: 5 }), 'undefined:5');
  t.not(sys.fileKey({ dev: 1, ino: 0 }), sys.fileKey({ dev: 0, ino: 2 ** 32 }));
  const keys = new Set<unknown>();
  for (const dev of [0, 1, 2 ** 20, 2 ** 21 - 1, 2 ** 21]) for (const ino of [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32]) keys.add(sys.fileKey({ dev, ino }));
  t.is(keys.size, 25);
  const f = path.join(dir(t), 'f');
  fs.writeFileSync(f, '');
  fs.linkSync(f, f + '.link');
  t.is(sys.fileKey(sys.lstat(f)), sys.fileKey(sys.lstat(f + '.link')), 'hard links: one key');
});
