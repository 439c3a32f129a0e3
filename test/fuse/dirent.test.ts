// Readdir replies built in JS (src/fuse/dirent.ts) decoded by the layout of linux/fuse.h,
// and the union's readdir handler over real layers: what each entry tells the kernel
// (names, d_ino, types, lookups), whatever fits, and lookups undone by forget.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import type { Attr } from '../../src/sys/index.js';
import { ROOT_ID, Union } from '../../src/union/engine.js';
import { DirReply, EncodedListing, direntPlusSize, direntSize } from '../../src/fuse/dirent.js';
import { SESSION_XATTR, unionHandlers } from '../../src/fuse/union.js';
import type { SessionStats } from '../../src/fuse/native.js';
import type { InitInfo } from '../../src/fuse/handlers.js';
import { makeLayers, type Spec } from '../union/layers.js';

interface Decoded {
  name: string;
  ino: bigint;
  off: bigint;
  type: number;
  /** readdirplus only */
  nodeid?: bigint;
  entryValid?: bigint;
  entryValidNsec?: number;
  attr?: { ino: bigint; size: bigint; blocks: bigint; atime: bigint; mtime: bigint; ctime: bigint; atimensec: number; mtimensec: number; ctimensec: number; mode: number; nlink: number; uid: number; gid: number; rdev: number; blksize: number; flags: number };
}

/** the kernel's side: fuse_parse_dirfile / parse_dirplusfile */
function decode(buf: Buffer, plus: boolean): Decoded[] {
  const out: Decoded[] = [];
  let p = 0;
  while (p < buf.length) {
    const d: Partial<Decoded> = {};
    if (plus) {
      d.nodeid = buf.readBigUInt64LE(p);
      d.entryValid = buf.readBigUInt64LE(p + 16);
      d.entryValidNsec = buf.readUInt32LE(p + 32);
      const a = p + 40;
      d.attr = {
        ino: buf.readBigUInt64LE(a), size: buf.readBigUInt64LE(a + 8), blocks: buf.readBigUInt64LE(a + 16),
        atime: buf.readBigInt64LE(a + 24), mtime: buf.readBigInt64LE(a + 32), ctime: buf.readBigInt64LE(a + 40),
        atimensec: buf.readUInt32LE(a + 48), mtimensec: buf.readUInt32LE(a + 52), ctimensec: buf.readUInt32LE(a + 56),
        mode: buf.readUInt32LE(a + 60), nlink: buf.readUInt32LE(a + 64), uid: buf.readUInt32LE(a + 68), gid: buf.readUInt32LE(a + 72),
        rdev: buf.readUInt32LE(a + 76), blksize: buf.readUInt32LE(a + 80), flags: buf.readUInt32LE(a + 84),
      };
      p += 128;
    }
    d.ino = buf.readBigUInt64LE(p);
    d.off = buf.readBigUInt64LE(p + 8);
    const len = buf.readUInt32LE(p + 16);
    d.type = buf.readUInt32LE(p + 20);
    d.name = buf.toString('utf8', p + 24, p + 24 + len);
    const end = p + ((24 + len + 7) & ~7);
    for (let i = p + 24 + len; i < end; i++) if (buf[i] !== 0) throw new Error(`padding byte ${i} is ${buf[i]}`);
    out.push(d as Decoded);
    p = end;
  }
  if (p !== buf.length) throw new Error('a torn entry at the end');
  return out;
}

const attr = (over: Partial<Attr> = {}): Attr => ({
  ino: 77, dev: 5, mode: sys.S_IFREG | 0o644, nlink: 2, uid: 1000, gid: 100, rdev: 0, size: 5_000_000_000, blocks: 9,
  blksize: 4096, atime: -5, atimeNsec: 1, mtime: 1_700_000_000, mtimeNsec: 999_999_999, ctime: 2 ** 40, ctimeNsec: 3, ...over,
});

test('a readdirplus entry carries nodeid, timeouts and every attr field where the kernel reads them', (t) => {
  const r = new DirReply(4096);
  t.true(r.addPlus('héllo', Buffer.byteLength('héllo'), 7, 42, attr({ ino: 2n ** 60n + 3n }), 1.25));
  t.true(r.addPlus('.', 1, 1, 0, 99, sys.S_IFDIR));
  const [a, dot] = decode(r.bytes(), true);
  t.is(a!.name, 'héllo');
  t.is(a!.nodeid, 42n);
  t.is(a!.entryValid, 1n);
  t.is(a!.entryValidNsec, 250_000_000);
  t.is(a!.off, 7n);
  t.is(a!.ino, 2n ** 60n + 3n);
  t.is(a!.type, 8); // DT_REG
  t.deepEqual(a!.attr, {
    ino: 2n ** 60n + 3n, size: 5_000_000_000n, blocks: 9n, atime: -5n, mtime: 1_700_000_000n, ctime: 2n ** 40n,
    atimensec: 1, mtimensec: 999_999_999, ctimensec: 3, mode: sys.S_IFREG | 0o644, nlink: 2, uid: 1000, gid: 100, rdev: 0, blksize: 4096, flags: 0,
  });
  t.is(dot!.nodeid, 0n, 'no inode for the kernel to link');
  t.is(dot!.ino, 99n);
  t.is(dot!.type, 4); // DT_DIR
  t.deepEqual(r.lookups, [42], 'only the entry with a nodeid counts a lookup');
});

test('entries are added while they fit and never past the size asked', (t) => {
  const name = 'x'.repeat(20);
  const r = new DirReply(3 * direntPlusSize(20) + 10);
  let n = 0;
  while (r.addPlus(name, 20, n + 1, n + 2, attr(), 1)) n++;
  t.is(n, 3);
  t.true(r.length <= r.size);
  t.is(decode(r.bytes(), true).length, 3);
  t.deepEqual(r.lookups, [2, 3, 4]);
});

test('an encoded listing answers each offset with whole entries that fit, in order, to the end', (t) => {
  const names = ['.', '..', ...Array.from({ length: 500 }, (_, i) => `entry-${i}${i % 7 === 0 ? '-ünï' : ''}`)];
  const dtypes = Uint8Array.from(names, (_, i) => (i < 2 ? sys.S_IFDIR : i % 3 ? sys.S_IFREG : sys.S_IFLNK) >> 12);
  const enc = EncodedListing.encode(Buffer.from(names.join('\0')), Float64Array.from(names, (_, i) => i + 100), dtypes);
  const seen: string[] = [];
  let off = 0;
  for (;;) {
    const b = enc.slice(off, 1024);
    if (b.length === 0) break;
    const ents = decode(b, false);
    const last = Number(ents.at(-1)!.off) === names.length;
    t.true(b.length <= 1024 && (last || b.length > 1024 - direntSize(255)), 'as many as fit');
    for (const e of ents) {
      t.is(e.ino, BigInt(seen.length + 100));
      t.is(e.off, BigInt(seen.length + 1), 'd_off is the index of the next entry');
      t.is(e.type, dtypes[seen.length]!, 'd_type');
      seen.push(e.name);
    }
    off = Number(ents.at(-1)!.off);
  }
  t.deepEqual(seen, names);
  t.is(decode(enc.slice(3, 1 << 20), false)[0]!.name, names[3]!, 'from any offset');
  // the native encoder and the JS one (taken for inode numbers past 2^53) write the same bytes
  const js = EncodedListing.encodeEach(names, names.map((_, i) => BigInt(i + 100)), dtypes);
  t.true(js.slice(0, 1 << 20).equals(enc.slice(0, 1 << 20)));
  t.is(js.count, enc.count);
  // as readdirplus entries with no inode: the same entries, fewer to a reply
  const plain = decode(enc.slice(5, 4096), false);
  const plus = decode(enc.slicePlus(5, 4096), true);
  t.true(plus.length < plain.length && plus.length > 4096 / direntPlusSize(20));
  t.true(enc.slicePlus(5, 4096).length <= 4096);
  plus.forEach((e, i) => {
    t.is(e.nodeid, 0n);
    t.deepEqual({ name: e.name, ino: e.ino, off: e.off, type: e.type }, { name: plain[i]!.name, ino: plain[i]!.ino, off: plain[i]!.off, type: plain[i]!.type });
  });
});

function unionOf(t: ExecutionContext, lowers: Spec[], upper: Spec = {}): { u: Union; dir: string } {
  const l = makeLayers(t, lowers, upper);
  return { u: Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false }), dir: l.dir };
}

async function listAll(h: ReturnType<typeof unionHandlers>, ino: number, plus: boolean, size: number): Promise<Decoded[][]> {
  const fh = (await h.opendir!(ino, 0)).fh;
  const replies: Decoded[][] = [];
  let off = 0;
  for (;;) {
    const r = (await h.readdir!(ino, fh, off, plus, size)) as DirReply;
    t_assert(r instanceof DirReply);
    const ents = decode(r.bytes(), plus);
    if (ents.length === 0) break;
    replies.push(ents);
    off = Number(ents.at(-1)!.off);
  }
  await h.releasedir!(ino, fh);
  return replies;
}
function t_assert(ok: boolean): void {
  if (!ok) throw new Error('readdir did not answer a DirReply');
}

const many = (n: number): Spec => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, `${i}`]));

test('plain readdir: merged names once, whiteouts and opaque dirs hiding, d_ino the st_ino a stat shows', async (t) => {
  const { u } = unionOf(
    t,
    [{ d: { a: '1', gone: 'x', sub: { s: '1' } }, o: { mine: 'top' }, f: 'top' }, { d: { a: 'low', b: '2', hidden: 'h' }, o: { theirs: 'low' }, f: 'low' }],
    { d: { gone: { whiteout: true }, up: 'u', '.wh.hidden': '' }, o: { opaque: { new: 'n' } } },
  );
  const h = unionHandlers(u);
  const d = u.lookupPath('d');
  const ents = (await listAll(h, d.id, false, 4096)).flat();
  t.deepEqual(ents.map((e) => e.name).sort(), ['.', '..', 'a', 'b', 'sub', 'up']);
  for (const e of ents.filter((x) => !x.name.startsWith('.'))) {
    const st = u.getattr(u.lookup(d.id, e.name).id);
    t.is(e.ino, BigInt(st.ino), `${e.name}: d_ino is st_ino`);
    t.is(e.type, (st.mode & sys.S_IFMT) >> 12, `${e.name}: type`);
  }
  const o = u.lookupPath('o');
  t.deepEqual((await listAll(h, o.id, false, 4096)).flat().map((e) => e.name).sort(), ['.', '..', 'new']);
});

test('readdirplus: one lookup per entry with a nodeid, the attr a stat shows, in replies that fit; forget undoes them', async (t) => {
  const { u } = unionOf(t, [{ big: many(80) }, { big: { f7: 'low', extra: 'e' } }], { big: { f3: { whiteout: true } } });
  const h = unionHandlers(u);
  const big = u.lookupPath('big');
  const before = u.nodeCount;
  const replies = await listAll(h, big.id, true, 4096);
  t.true(replies.length > 3, 'a 4 KiB reply holds ~25 readdirplus entries');
  const ents = replies.flat();
  const names = ents.map((e) => e.name);
  t.is(new Set(names).size, names.length, 'no entry twice across replies');
  t.deepEqual(names.filter((n) => !n.startsWith('.')).sort(), [...Object.keys(many(80)).filter((n) => n !== 'f3'), 'extra'].sort());
  const ids = new Map<bigint, number>();
  for (const e of ents) {
    if (e.name === '.' || e.name === '..') {
      t.is(e.nodeid, 0n);
      continue;
    }
    t.not(e.nodeid, 0n);
    ids.set(e.nodeid!, (ids.get(e.nodeid!) ?? 0) + 1);
    const n = u.node(Number(e.nodeid));
    const st = u.getattr(n.id);
    t.is(e.attr!.ino, BigInt(st.ino));
    t.is(e.attr!.size, BigInt(st.size));
    t.is(e.ino, BigInt(st.ino));
  }
  for (const [id, c] of ids) t.is(u.node(Number(id)).nlookup, c, 'one lookup counted per entry given');
  t.is(u.nodeCount, before + ids.size);
  for (const [id, c] of ids) h.forget!(Number(id), c);
  t.is(u.nodeCount, before, 'every node the listing made is gone after its forgets');
});

test('readdirplus: an entry gone since the listing was taken goes without a nodeid; a later lookup of it misses', async (t) => {
  const { u, dir } = unionOf(t, [{}], { d: { keep: 'k', doomed: 'd' } });
  const h = unionHandlers(u);
  const d = u.lookupPath('d');
  const fh = (await h.opendir!(d.id, 0)).fh;
  const first = decode(((await h.readdir!(d.id, fh, 0, true, direntPlusSize(1) * 2 + direntPlusSize(6))) as DirReply).bytes(), true);
  const rest = first.at(-1)!.off;
  fs.rmSync(path.join(dir, 'upper/d', ['keep', 'doomed'].find((n) => !first.some((e) => e.name === n))!));
  const second = decode(((await h.readdir!(d.id, fh, Number(rest), true, 4096)) as DirReply).bytes(), true);
  const all = [...first, ...second];
  t.deepEqual(all.map((e) => e.name).sort(), ['.', '..', 'doomed', 'keep'].sort(), 'the listing of this pass stays as taken');
  const gone = all.find((e) => e.name !== '.' && e.name !== '..' && e.nodeid === 0n);
  t.truthy(gone, 'the removed entry has no nodeid');
  t.is(u.lookupEntryIfExists(d.id, gone!.name), undefined);
  await h.releasedir!(d.id, fh);
});

test('readdirplus: the first reply of a listing much bigger than a reply gives names alone; a later plus request (the kernel saw lookups) gives attrs', async (t) => {
  const { u } = unionOf(t, [{ big: many(2000) }]);
  const h = unionHandlers(u);
  const big = u.lookupPath('big');
  const before = u.nodeCount;
  const fh = (await h.opendir!(big.id, 0)).fh;
  const r0 = (await h.readdir!(big.id, fh, 0, true, 32768)) as DirReply;
  const first = decode(r0.bytes(), true);
  t.true(first.length > 150);
  t.deepEqual(r0.lookups, []);
  t.is(u.nodeCount, before, 'nothing looked up');
  for (const e of first.filter((x) => x.name !== '.' && x.name !== '..')) {
    t.is(e.nodeid, 0n);
    const st = fs.lstatSync(path.join(u.core.stack.lowers[0]!.root, 'big', e.name));
    t.is(e.ino, BigInt(st.ino), `${e.name}: d_ino`);
    t.is(e.type, 8);
  }
  const r1 = (await h.readdir!(big.id, fh, Number(first.at(-1)!.off), true, 32768)) as DirReply;
  const second = decode(r1.bytes(), true);
  t.true(second.length > 150 && second.every((e) => e.nodeid !== 0n), 'every entry with its inode');
  t.is(r1.lookups.length, second.length);
  for (const id of r1.lookups) h.forget!(id, 1);
  t.is(u.nodeCount, before);
  await h.releasedir!(big.id, fh);
});

test("readdirplus of a tree walk: once a lower directory is listed to its end, the next sibling's first reply is built ahead and answers its readdirplus; one not asked for is dropped, its lookups undone; a sibling changed meanwhile is listed anew", async (t) => {
  const sizes: Record<string, number> = { a: 30, b: 40, c: 20, d: 3 };
  const { u } = unionOf(t, [{ tree: Object.fromEntries(Object.entries(sizes).map(([n, k]) => [n, many(k)])) }]);
  const h = unionHandlers(u, { stats: () => ({}) as SessionStats });
  const counters = (): { built: number; used: number } => {
    const s = JSON.parse((h.getxattr!(ROOT_ID, SESSION_XATTR) as Buffer).toString()) as { repliesBuiltAhead: number; repliesUsedAhead: number };
    return { built: s.repliesBuiltAhead, used: s.repliesUsedAhead };
  };
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    if (!ok()) t.fail(`timed out waiting for ${what}`);
  };
  const room = 16384; // every entry in one reply
  const list = async (name: string): Promise<Decoded[]> => (await listAll(h, idOf(name), true, room)).flat();
  const tree = u.lookupPath('tree');
  // the parent's listing: the kernel then knows a..d, and a walk takes them in its order
  const kids = (await listAll(h, tree.id, true, room)).flat().filter((e) => e.nodeid !== 0n);
  const idOf = (name: string): number => Number(kids.find((e) => e.name === name)!.nodeid);
  const [first, second, third, fourth] = kids.map((e) => e.name) as [string, string, string, string];

  const before = u.nodeCount;
  t.is((await list(first)).filter((e) => e.nodeid !== 0n).length, sizes[first]);
  await until(`${second} built ahead`, () => counters().built === 1);
  const withFirst = before + sizes[first]!;
  t.is(u.nodeCount, withFirst + sizes[second]!, `${second}'s entries looked up ahead`);
  const b = await list(second);
  t.is(counters().used, 1, `${second}'s readdirplus answered with the reply built ahead`);
  t.deepEqual(b.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort(), Object.keys(many(sizes[second]!)).sort());
  for (const e of b.filter((x) => x.nodeid !== 0n)) {
    const st = fs.lstatSync(path.join(u.core.stack.lowers[0]!.root, 'tree', second, e.name));
    t.is(u.node(Number(e.nodeid)).path, `tree/${second}/${e.name}`);
    t.deepEqual([e.attr!.ino, e.attr!.size, e.attr!.mode], [BigInt(st.ino), BigInt(st.size), st.mode], e.name);
  }
  const withSecond = withFirst + sizes[second]!;
  t.is(u.nodeCount, withSecond, 'each entry looked up once: by the reply built ahead');

  // the third's reply is built ahead and never asked for: dropped after half a second, its lookups undone
  await until(`${third} built ahead`, () => counters().built === 2);
  t.is(u.nodeCount, withSecond + sizes[third]!);
  await until(`${third}'s reply dropped`, () => u.nodeCount === withSecond);

  // the third listed now (its reply built afresh) and the fourth's built ahead; then the
  // fourth changes (a file made in it copies it up): listed anew
  t.is((await list(third)).filter((e) => e.nodeid !== 0n).length, sizes[third]);
  t.is(counters().used, 1);
  await until(`${fourth} built ahead`, () => counters().built === 3);
  const made = await u.create(idOf(fourth), 'new', 0o644, fs.constants.O_WRONLY, { uid: 0, gid: 0, umask: 0o022 });
  sys.close(made.fd);
  const d = await list(fourth);
  t.deepEqual(d.map((e) => e.name).sort(), ['.', '..', 'new', ...Object.keys(many(sizes[fourth]!))].sort());
  t.is(counters().used, 1, 'the stale reply is not sent');
});

test('a reply built ahead that fails (the session refuses what it is told) is logged and not kept; the sibling is then listed as usual', async (t) => {
  const { u } = unionOf(t, [{ tree: { a: many(4), b: many(4) } }]);
  const logged: string[] = [];
  const h = unionHandlers(u, { stats: () => ({}) as SessionStats, log: (l) => logged.push(l) });
  let refuse = false;
  h.init!({ xattrs: { none: () => { if (refuse) throw new Error('session gone'); }, changed: () => undefined } } as unknown as InitInfo);
  const tree = u.lookupPath('tree');
  const kids = (await listAll(h, tree.id, true, 16384)).flat().filter((e) => e.nodeid !== 0n);
  const [first, second] = kids.map((e) => Number(e.nodeid)) as [number, number];
  // xattrs asked in the second directory: the scout tells the session of its entries as they are handed out
  const inSecond = h.lookup!(second, 'f0') as { ino: number };
  t.throws(() => h.getxattr!(inSecond.ino, 'user.x'), { message: /ENODATA|no data/i });
  refuse = true;
  await listAll(h, first, true, 16384);
  for (let i = 0; i < 100 && logged.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.regex(logged.join('\n'), /reply built ahead for tree\/.* failed: session gone/);
  refuse = false;
  const s = JSON.parse((h.getxattr!(ROOT_ID, SESSION_XATTR) as Buffer).toString()) as { repliesBuiltAhead: number };
  t.is(s.repliesBuiltAhead, 0);
  const listed = (await listAll(h, second, true, 16384)).flat();
  t.deepEqual(listed.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort(), Object.keys(many(4)).sort());
});
