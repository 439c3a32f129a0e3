// The tree snapshot the compat tests compare with: each field it promises to compare does
// show up as a difference, and what it promises to leave out does not.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { diffSnapshots, snapshot } from '../helpers/snapshot.js';
import { copyTree, makeLayers } from '../helpers/layers.js';
import { scratchDir } from '../helpers/union.js';

const pair = (t: ExecutionContext): { a: string; b: string } => {
  const dir = scratchDir(t);
  const [top] = makeLayers(path.join(dir, 'src'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.symlinkSync('one', path.join(top!, 'sl'));
  copyTree(top!, a);
  copyTree(top!, b);
  return { a, b };
};

test('identical copies of a layer compare equal, whiteouts and opaque xattrs included', (t) => {
  const { a, b } = pair(t);
  t.deepEqual(diffSnapshots(snapshot(a), snapshot(b)), []);
  const s = snapshot(a);
  t.is(s.entries['gone']?.type, 'chr');
  t.is(s.entries['gone']?.rdev, '0');
  t.truthy(s.entries['d3']?.xattrs['trusted.overlay.opaque']);
  t.deepEqual(s.links, [['newdir/n1', 'newdir/n2']]);
});

const cases: [string, (b: string) => void, RegExp][] = [
  ['mode', (b) => fs.chmodSync(path.join(b, 'a'), 0o600), /^a: mode/],
  ['owner', (b) => sys.lchown(path.join(b, 'a'), 7, -1), /^a: uid/],
  ['content of the same size', (b) => fs.writeFileSync(path.join(b, 'a'), Buffer.alloc(150, 'z')), /^a: hash/],
  ['an xattr value', (b) => sys.lsetxattr(path.join(b, 'a'), 'user.color', Buffer.from('green')), /^a: xattrs/],
  ['one ns of mtime', (b) => {
    const st = sys.lstat(path.join(b, 'a'));
    sys.lutimens(path.join(b, 'a'), st.atime, st.atimeNsec, st.mtime, (st.mtimeNsec + 1) % 1e9);
  }, /^a: mtimeNs/],
  ['a symlink target of the same length', (b) => {
    fs.unlinkSync(path.join(b, 'sl'));
    fs.symlinkSync('two', path.join(b, 'sl'));
  }, /^sl: target/],
  ['an entry only on one side', (b) => fs.mkdirSync(path.join(b, 'extra')), /^extra: only in B \(dir\)/],
  ['a broken hard link', (b) => {
    fs.unlinkSync(path.join(b, 'newdir/n2'));
    fs.copyFileSync(path.join(b, 'newdir/n1'), path.join(b, 'newdir/n2'));
  }, /^hard links|newdir\/n1: nlink/],
  ['a whiteout turned into a file', (b) => {
    fs.unlinkSync(path.join(b, 'gone'));
    fs.writeFileSync(path.join(b, 'gone'), '');
  }, /^gone: type/],
];
for (const [what, change, re] of cases) {
  test(`a difference in ${what} shows`, (t) => {
    const { a, b } = pair(t);
    const before = snapshot(a);
    change(b);
    const d = diffSnapshots(before, snapshot(b));
    t.true(d.some((l) => re.test(l)), d.join('\n'));
  });
}

test('atime and times set during the run are left out', (t) => {
  const { a, b } = pair(t);
  const since = BigInt(Date.now() - 1000) * 1_000_000n;
  const st = sys.lstat(path.join(b, 'a'));
  sys.lutimens(path.join(b, 'a'), 5, 5, st.mtime, st.mtimeNsec);
  fs.writeFileSync(path.join(a, 'new'), 'x');
  fs.writeFileSync(path.join(b, 'new'), 'x');
  // two different "now"s on the two sides, as two mounts running one op get
  const now = Math.floor(Date.now() / 1000);
  sys.lutimens(b, now, 1, now + 1, 2);
  t.deepEqual(diffSnapshots(snapshot(a), snapshot(b), { recentNs: since }), []);
  t.not(snapshot(a).entries['.']!.mtimeNs, snapshot(b).entries['.']!.mtimeNs, 'the roots differ, both recent');
});
