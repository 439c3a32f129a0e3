// Merged listings through a real mount (src/union/readdir.ts, merged by the addon): a
// directory one layer holds, listed as it is, and one merged from three layers with
// whiteouts in both forms, an opaque directory, a device that is no whiteout and a dir
// over a file. Names, d_type, d_ino (the st_ino lstat shows), and telldir/seekdir.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { Union } from '../../src/union/engine.js';
import { makeLayers, type Spec } from './layers.js';
import { mountStrata } from './mount-helper.js';

const range = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i));

/** name -> 'f' | 'd' | 'l' | 'c' (d_type as readdir shows it) */
function listed(dir: string): Map<string, string> {
  const kind = (e: fs.Dirent): string => (e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : e.isCharacterDevice() ? 'c' : e.isFile() ? 'f' : '?');
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (out.has(e.name)) throw new Error(`${e.name} listed twice`);
    out.set(e.name, kind(e));
  }
  return out;
}

/** d_ino of every entry (os.scandir's inode() is d_ino) beside lstat's st_ino */
function inodes(dir: string): { name: string; dIno: number; stIno: number }[] {
  const py = 'import os, sys, json\nprint(json.dumps([[e.name, e.inode(), os.lstat(e.path).st_ino] for e in os.scandir(sys.argv[1])]))';
  const r = spawnSync('python3', ['-c', py, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as [string, number, number][]).map(([name, dIno, stIno]) => ({ name, dIno, stIno }));
}

/** Reads dir with telldir before each entry, then seekdir()s back to every 97th position:
 * the names there, and how many came back other than first read. */
function seekBack(dir: string): { names: string[]; bad: number } {
  const pl = `opendir(my $d, $ARGV[0]) or die "$!"; my (@pos, @names);
    while (1) { my $p = telldir($d); my $n = readdir($d); last unless defined $n; push @pos, $p; push @names, $n; }
    my $bad = 0; for (my $i = $#names; $i >= 0; $i -= 97) { seekdir($d, $pos[$i]); $bad++ unless readdir($d) eq $names[$i]; }
    print join("\\n", $bad, @names);`;
  const r = spawnSync('perl', ['-e', pl, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(r.stderr);
  const [bad, ...names] = r.stdout.split('\n');
  return { names, bad: Number(bad) };
}

const whiteout = { whiteout: true } as const;

test('a dir one layer holds and one merged from three: every name once, its type and inode number, seekdir back to any offset', (t) => {
  const oneNames = range(3000, (i) => `entry-${i}`);
  const low = range(2000, (i) => `n${i}`);
  const top: Spec = {};
  const upper: Spec = {};
  const bottom: Spec = { opq: { hidden1: 'x', hidden2: 'x' } };
  for (const n of low) bottom[n] = 'low';
  for (let i = 0; i < 2000; i += 4) top[`n${i}`] = { sub: 'dir over a file' }; // a dir above hides the file
  for (let i = 1; i < 2000; i += 10) upper[`n${i}`] = whiteout;
  for (let i = 2; i < 2000; i += 10) top[`n${i}`] = whiteout;
  for (let i = 3; i < 2000; i += 10) top[`.wh.n${i}`] = ''; // the OCI form of a whiteout
  top['opq'] = { opaque: { shown: 'x' } };
  top['link'] = { symlink: 'n0' };
  top['only-top'] = 'x';
  upper['only-upper'] = 'x';
  bottom['.wh..wh..opq'] = ''; // an opaque marker, in the last layer: never listed, hides nothing
  const l = makeLayers(t, [{ one: Object.fromEntries(oneNames.map((n) => [n, ''])), merged: top }, { merged: bottom }], { merged: upper });
  sys.mknod(path.join(l.lowers[0]!, 'merged', 'null'), sys.S_IFCHR | 0o666, sys.makedev(1, 3)); // no whiteout
  mountStrata(t, l);

  const one = listed(path.join(l.mnt, 'one'));
  t.deepEqual([...one.keys()].sort(), [...oneNames].sort());
  t.true([...one.values()].every((k) => k === 'f'));

  const expected = new Map<string, string>([
    ['opq', 'd'],
    ['link', 'l'],
    ['only-top', 'f'],
    ['only-upper', 'f'],
    ['null', 'c'],
  ]);
  for (let i = 0; i < 2000; i++) {
    if (i % 10 === 1 || i % 10 === 2 || i % 10 === 3) continue;
    expected.set(`n${i}`, i % 4 === 0 ? 'd' : 'f');
  }
  const merged = listed(path.join(l.mnt, 'merged'));
  t.deepEqual([...merged.keys()].sort(), [...expected.keys()].sort());
  t.deepEqual([...merged].filter(([n, k]) => expected.get(n) !== k), [], 'd_type of each entry');
  t.deepEqual([...listed(path.join(l.mnt, 'merged/opq')).keys()], ['shown'], 'an opaque dir shows nothing of the dirs below');

  for (const d of ['one', 'merged']) {
    const ents = inodes(path.join(l.mnt, d));
    t.is(ents.length, d === 'one' ? 3000 : expected.size);
    t.deepEqual(ents.filter((e) => e.dIno !== e.stIno), [], `${d}: d_ino is the st_ino`);
    const s = seekBack(path.join(l.mnt, d));
    t.is(s.names.filter((n) => n !== '.' && n !== '..').length, ents.length);
    t.is(s.bad, 0, `${d}: seekdir to a telldir position reads the same entry again`);
  }
});

test('a dir one layer holds, changed through the mount: names removed, created and copied up show in the next listing', (t) => {
  const names = range(2500, (i) => `entry-${i}`);
  const l = makeLayers(t, [{ one: Object.fromEntries(names.map((n) => [n, 'x'])) }]);
  mountStrata(t, l);
  const dir = path.join(l.mnt, 'one');
  t.is(fs.readdirSync(dir).length, 2500);
  fs.unlinkSync(path.join(dir, 'entry-7'));
  fs.writeFileSync(path.join(dir, 'entry-8'), 'copied up');
  fs.mkdirSync(path.join(dir, 'made'));
  fs.renameSync(path.join(dir, 'entry-9'), path.join(dir, 'renamed'));
  const after = listed(dir);
  t.is(after.size, 2500);
  t.false(after.has('entry-7'));
  t.false(after.has('entry-9'));
  t.is(after.get('made'), 'd');
  t.is(after.get('renamed'), 'f');
  t.is(after.get('entry-8'), 'f');
  const ents = inodes(dir);
  t.deepEqual(ents.filter((e) => e.dIno !== e.stIno), [], 'd_ino is the st_ino, upper entries and copies up included');
  const ls = spawnSync('ls', ['-l', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.is(ls.stdout.split('\n').filter((x) => x.startsWith('-')).length, 2499, 'ls -l: a long listing of every file');
  // emptiness looks through the layers: a dir whose lower names are all whited out is empty
  for (const n of after.keys()) fs.rmSync(path.join(dir, n), { recursive: true });
  t.deepEqual(fs.readdirSync(dir), []);
  fs.rmdirSync(dir);
  t.false(fs.existsSync(dir));
});

test('a listing read ahead: the readdir waits for it and shows the same entries; an upper dir or a file is never read ahead', async (t) => {
  const names = range(3000, (i) => `entry-${i}`);
  const l = makeLayers(t, [{ big: Object.fromEntries(names.map((n) => [n, ''])), f: 'x' }], { up: { a: 'x' } });
  const u = Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false });
  const big = u.lookupPath('big');
  u.prefetchListing(big.id);
  const fh = u.opendir(big.id);
  const ahead = u.listingReady(fh, 0);
  t.true(ahead instanceof Promise, 'the first readdir of the handle waits for the listing read ahead');
  await ahead;
  t.is(u.listingReady(fh, 0), undefined, 'nothing left to wait for');
  const l1 = u.listingOf(fh, 0).entries;
  t.deepEqual([...l1.names].sort(), [...names].sort());
  t.is(u.listingOf(fh, 0).entries, l1, 'the listing read ahead is the one a readdir takes');
  u.releasedir(fh);
  for (const p of ['up', 'f']) {
    const n = u.lookupPath(p);
    u.prefetchListing(n.id);
    if (n.isDir) t.is(u.listingReady(u.opendir(n.id), 0), undefined, `${p}: not read ahead`);
  }
});

test('through the mount: a big dir seen by ls -l of its parent lists right, also when changed while read ahead', (t) => {
  const names = range(6000, (i) => `a-long-name-for-a-bigger-directory-${i}`);
  const l = makeLayers(t, [{ big: Object.fromEntries(names.map((n) => [n, ''])), other: { x: '' } }]);
  mountStrata(t, l);
  t.true(fs.statSync(path.join(l.lowers[0]!, 'big')).size >= 64 << 10, 'big enough to be read ahead');
  const readAhead = (): number => JSON.parse(spawnSync('getfattr', ['--only-values', '--absolute-names', '-n', 'strata.session', l.mnt], { encoding: 'utf8' }).stdout).listingsReadAhead;
  t.is(readAhead(), 0);
  const ls = spawnSync('ls', ['-l', l.mnt], { encoding: 'utf8' });
  t.regex(ls.stdout, / big\n/);
  t.is(readAhead(), 1, 'big was read ahead, other (small) was not');
  fs.unlinkSync(path.join(l.mnt, 'big', names[0]!)); // copies the dir up: a listing of the lower alone is stale now
  const listed1 = fs.readdirSync(path.join(l.mnt, 'big'));
  t.is(listed1.length, names.length - 1);
  t.false(listed1.includes(names[0]!));
  t.deepEqual([...fs.readdirSync(path.join(l.mnt, 'big'))].sort(), names.slice(1).sort());
});
