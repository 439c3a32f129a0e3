// The packing of replies for the addon (src/fuse/packed.ts); the fields' way through the
// kernel is checked end to end in binding.test.ts.
import test from 'ava';
import { openBits, packAttr, packEntry, PK } from '../../src/fuse/packed.js';
import type { Attr } from '../../src/sys/native.js';

const attr: Attr = {
  ino: 11, dev: 2, mode: 0o100644, nlink: 3, uid: 4, gid: 5, rdev: 6, size: 7, blocks: 8, blksize: 9,
  atime: 10, atimeNsec: 12, mtime: 13, mtimeNsec: 14, ctime: 15, ctimeNsec: 16,
};

test('an entry lands at the offsets the addon reads, timeouts defaulting to 1 s', (t) => {
  const b = new Float64Array(PK.LEN);
  t.true(packEntry(b, { ino: 42, attr, attrTimeout: 86400, entryTimeout: 0.5 }));
  t.deepEqual([...b], [42, 0, 86400, 0.5, 1, 11, 0o100644, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16]);
  t.true(packEntry(b, { ino: 0 }), 'a negative entry');
  t.deepEqual([...b], [0, 0, 1, 1, ...new Array<number>(PK.LEN - 4).fill(0)], 'no attr left from the last one');
});

test('a field a double cannot hold exactly (a bigint) is refused: the object path takes it', (t) => {
  const b = new Float64Array(PK.LEN);
  t.false(packEntry(b, { ino: 2n ** 60n }));
  t.false(packEntry(b, { ino: 3, attr: { ...attr, ino: 2n ** 60n } }));
  t.false(packAttr(b, { ...attr, rdev: 2n ** 60n }, 1));
  t.true(packAttr(b, attr, 2));
  t.is(b[PK.ATTR_TIMEOUT], 2);
});

test('open flags are the bits session.c reads', (t) => {
  t.is(openBits({}), 0);
  t.is(openBits({ directIo: true, keepCache: true, nonseekable: true, cacheReaddir: true, noflush: true }), 31);
  t.is(openBits({ keepCache: true, noflush: true }), 2 | 16);
});
