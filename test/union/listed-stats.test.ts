// A listing's entries stat'ed together (Listing.attrAt, the addon's lstatEntries) and the
// lookups readdirplus answers from them (Union.lookupListed), and the next sibling's
// listing read ahead when a directory is opened (a tree walk).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { ROOT_ID, Union } from '../../src/union/engine.js';
import { listMerged, STAT_CHUNK } from '../../src/union/readdir.js';
import { Stack } from '../../src/union/layers.js';
import { makeLayers, type Spec } from './layers.js';
import { mountStrata, sessionOf } from './mount-helper.js';

const range = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** a dir of the top layer over one of the base: files in either or both, a dir, a symlink,
 * a whiteout and a .wh. marker */
const twoLayers = (): Spec[] => [
  { d: { top: 'top\n', both: 'top wins\n', gone: { whiteout: true }, '.wh.marked': '', sub: { x: '' }, link: { symlink: 'top' } } },
  { d: { base: 'base\n', both: 'hidden\n', gone: 'whited out\n', marked: 'marked out\n', sub: { y: '' } } },
];

test('lstatEntries: each entry in the layer it was listed from, across chunks; directories, vanished entries and a vanished layer dir get none', async (t) => {
  const names = range(2 * STAT_CHUNK + 7, (i) => `f${i}`);
  const l = makeLayers(t, [{ big: { ...Object.fromEntries(names.map((n) => [n, n])), dir: {} } }]);
  const u = Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false });
  const stack = new Stack({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false });
  const big = u.lookupPath('big');
  const listing = listMerged(stack, { path: 'big', inUpper: false, lowerDirs: big.lowerDirs });
  fs.unlinkSync(path.join(l.lowers[0]!, 'big', 'f3')); // gone after it was listed
  let compared = 0;
  for (let i = 0; i < listing.count; i++) {
    const name = listing.names[i]!;
    const a = listing.attrAt(i, 60_000);
    if (name === 'dir' || name === 'f3') {
      t.is(a, undefined, `${name}: no stat`);
      continue;
    }
    const real = sys.lstat(path.join(l.lowers[0]!, 'big', name));
    t.deepEqual(a, real, name);
    compared++;
  }
  t.is(compared, names.length - 1);
  t.throws(() => sys.lstatEntries(['/x'], { names: Buffer.from('a'), types: new Uint8Array(1), inos: new Float64Array(1), layers: new Uint16Array(1) }, 0, 1, new Float64Array(4)), {
    message: /Float64Array/,
  });
  // the layer's directory gone (moved away) after the listing: no stats, nothing thrown;
  // a lookup then asks the layers as before
  const dir = { path: 'big', inUpper: false, lowerDirs: big.lowerDirs };
  const [now, ahead] = [listMerged(stack, dir), listMerged(stack, dir)];
  fs.renameSync(path.join(l.lowers[0]!, 'big'), path.join(l.lowers[0]!, 'moved'));
  t.is(now.attrAt(now.indexOf('f0'), 60_000), undefined, 'a layer directory that cannot be opened gives no stats');
  await ahead.statsAhead(ahead.indexOf('f0'), 60_000);
  t.true(ahead.statsFresh(ahead.indexOf('f0'), 60_000), 'the read ahead ended');
  t.is(ahead.attrAt(ahead.indexOf('f0'), 60_000), undefined, 'nor read ahead');
});

test('a listing stat is used while it is young, then taken again; one read ahead is what attrAt then gives', async (t) => {
  const l = makeLayers(t, [{ d: { a: 'a', b: 'b' } }]);
  // young: under AGE ms old; wide enough that a loaded machine's stall between taking a
  // stat and asking for it again does not age it
  const AGE = 500;
  const stack = new Stack({ lowers: l.lowers, timeout: 1, readOnly: true });
  const u = Union.open({ lowers: l.lowers, timeout: 1, readOnly: true });
  const d = u.lookupPath('d');
  const listing = listMerged(stack, { path: 'd', inUpper: false, lowerDirs: d.lowerDirs });
  const ia = listing.indexOf('a');
  const ib = listing.indexOf('b');
  t.is(listing.names[ia], 'a');
  t.is(listing.indexOf('nothing'), -1);
  const file = path.join(l.lowers[0]!, 'd', 'a');
  t.is(listing.attrAt(ia, AGE)!.mode & 0o777, 0o644);
  fs.chmodSync(file, 0o600); // a lower layer changed under the mount: only to see which stat is used
  t.is(listing.attrAt(ia, AGE)!.mode & 0o777, 0o644, 'young: the stat taken with the chunk');
  await sleep(AGE + 30);
  t.is(listing.attrAt(ia, AGE)!.mode & 0o777, 0o600, 'old: taken again');
  await sleep(AGE + 30);
  const ahead = listing.statsAhead(ib, AGE);
  t.is(listing.attrAt(ib, AGE), undefined, 'while read ahead: none (the caller looks up)');
  await ahead;
  fs.chmodSync(file, 0o640);
  t.is(listing.attrAt(ia, AGE)!.mode & 0o777, 0o600, 'the stat read ahead');
  t.is(await Promise.race([listing.statsAhead(ia, AGE).then(() => 'at once'), sleep(0).then(() => 'later')]), 'at once', 'young stats are not read again');
});

test('lookupListed finds what lookupEntryIfExists finds: the same node and attr for every non-directory; never for dirs, an upper dir, or timeout=0', async (t) => {
  const l = makeLayers(t, twoLayers());
  for (const timeout of [1, 0]) {
    const u = Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout, readOnly: false });
    const d = u.lookupPath('d');
    const fh = u.opendir(d.id);
    const listing = u.listingOf(fh, 0);
    t.deepEqual([...listing.entries.names].sort(), ['base', 'both', 'link', 'marked', 'sub', 'top'].sort().filter((n) => n !== 'marked'));
    for (let i = 0; i < listing.entries.count; i++) {
      const name = listing.entries.names[i]!;
      const fast = u.lookupListed(listing, i);
      if (name === 'sub' || timeout === 0) {
        t.is(fast, undefined, `${name} (timeout ${timeout}): looked up as usual`);
        continue;
      }
      t.is(fast!.node.lower?.path, path.join(name === 'base' ? l.lowers[1]! : l.lowers[0]!, 'd', name), `${name}: the file it was listed from`);
      const slow = u.lookupEntryIfExists(d.id, name)!;
      t.is(fast!.node, slow.node, name);
      t.deepEqual(fast!.attr, slow.attr, name);
      t.is(fast!.node.nlookup, 2, `${name}: a lookup counted by each`);
    }
    t.is(u.lookupEntryIfExists(d.id, 'both')!.attr.size, 'top wins\n'.length);
    u.releasedir(fh);
  }
  // the dir copied up (a file made in it): its listing's stats are not used
  const u = Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false });
  const d = u.lookupPath('d');
  const c = await u.create(d.id, 'new', 0o644, sys.O.O_WRONLY, { uid: 0, gid: 0, umask: 0o022 });
  sys.close(c.fd);
  t.true(u.node(d.id).inUpper);
  const fh = u.opendir(d.id);
  const listing = u.listingOf(fh, 0);
  t.is(u.lookupListed(listing, listing.entries.indexOf('base')), undefined, 'a merged upper dir: looked up as usual');
});

test('opening a directory reads its next sibling directory ahead (listing and stats), not a file, an upper dir, or past the last', async (t) => {
  const files = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, String(i)]));
  const l = makeLayers(t, [{ p: { a: files, b: files, c: 'a file', d: files } }]);
  const u = Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false });
  const p = u.lookupPath('p');
  const pfh = u.opendir(p.id);
  const plist = u.listingOf(pfh, 0);
  const order = plist.entries.names.filter((n) => n !== 'c');
  for (let i = 0; i < plist.entries.count; i++) u.lookupListed(plist, i) ?? u.lookupEntryIfExists(p.id, plist.entries.names[i]!);
  const before = u.listingsReadAhead;
  const first = u.lookupPath(`p/${order[0]}`);
  u.opendir(first.id);
  t.is(u.listingsReadAhead, before + 1, `opening ${order[0]} read ${order[1]} ahead`);
  const second = u.lookupPath(`p/${order[1]}`);
  const fh2 = u.opendir(second.id);
  const ready = u.listingReady(fh2, 0);
  if (ready) await ready;
  const l2 = u.listingOf(fh2, 0);
  t.is(l2.entries.count, 50);
  // the stats read ahead are the ones used: a lower file changed since keeps its old mode
  fs.chmodSync(path.join(l.lowers[0]!, 'p', order[1]!, 'f7'), 0o600);
  t.is(u.lookupListed(l2, l2.entries.indexOf('f7'))!.attr.mode & 0o777, 0o644);
  fs.chmodSync(path.join(l.lowers[0]!, 'p', order[1]!, 'f7'), 0o644);
  t.is(u.listingsReadAhead, before + 2, `opening ${order[1]} read ${order[2]} ahead (c, a file, skipped)`);
  const last = u.lookupPath(`p/${order[2]}`);
  u.opendir(last.id);
  t.is(u.listingsReadAhead, before + 2, 'the last directory: nothing after it');
  u.opendir(ROOT_ID);
  t.is(u.listingsReadAhead, before + 2, 'the root: no parent');
});

test('through the mount: find of a fresh mount shows every lower file with the attributes it has in its layer (siblings read and their first replies built ahead)', (t) => {
  const spec = (seed: number): Spec => Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`f${i}`, 'x'.repeat((i * 37 + seed) % 900)]));
  const l = makeLayers(t, [
    { tree: { d0: { f5: 'top copy of f5' } } },
    { tree: { d0: spec(0), d1: spec(1), d2: spec(2), d3: { ...spec(3), inner: spec(4) } } },
  ]);
  fs.symlinkSync('f1', path.join(l.lowers[1]!, 'tree/d1/link'));
  fs.chmodSync(path.join(l.lowers[1]!, 'tree/d2/f9'), 0o751);
  mountStrata(t, l);
  const fmt = '%P %y %i %s %m %n %U %G %T@\\n';
  const find = (root: string): string[] => {
    const r = spawnSync('find', [root, '-mindepth', '1', '-printf', fmt], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  };
  const inMount = find(path.join(l.mnt, 'tree'));
  // what each file is in the layer it comes from: the top's d0/f5, the base for the rest
  const expected = find(path.join(l.lowers[1]!, 'tree')).map((line) =>
    line.startsWith('d0/f5 ') ? find(path.join(l.lowers[0]!, 'tree')).find((x) => x.startsWith('d0/f5 '))! : line,
  );
  const files = (lines: string[]): string[] => lines.filter((x) => / [fl] /.test(x));
  t.is(files(inMount).length, 120 * 5 + 1);
  t.deepEqual(files(inMount), files(expected));
  // and each file's bytes are its layer's (the node the listing made opens the right file)
  for (const line of files(inMount).filter((x) => / f /.test(x))) {
    const rel = `tree/${line.split(' ')[0]!}`;
    const from = rel === 'tree/d0/f5' ? l.lowers[0]! : l.lowers[1]!;
    t.true(fs.readFileSync(path.join(l.mnt, rel)).equals(fs.readFileSync(path.join(from, rel))), rel);
  }
  const s = sessionOf(l.mnt);
  t.true(s.listingsReadAhead >= 3, `siblings read ahead: ${s.listingsReadAhead}`);
  t.true(s.repliesUsedAhead >= 1, `first replies built ahead and used: ${s.repliesUsedAhead} of ${s.repliesBuiltAhead}`);
});
