// "No xattrs at all" answered without JS (xattrCache): `ls -l` asks security.selinux and
// system.posix_acl_access of every entry. An inode the daemon found to have none gets its
// GETXATTRs ENODATA and its LISTXATTRs an empty list in C, and what changes it (a setxattr
// or removexattr through the mount, a copy-up that gives the copy an xattr, the kernel
// forgetting the inode) is seen at once: never a stale "none".
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { sh } from '../helpers/daemon.js';
import { mountStrata, sessionOf } from './mount-helper.js';
import { makeLayers, type Spec } from './layers.js';



/** getfattr of one name: its value, or undefined when the file has none of that name */
function xattr(file: string, name: string): string | undefined {
  const r = sh(`getfattr --only-values --absolute-names -n ${name} ${file}`, { allowFail: true });
  if (r.code === 0) return r.out;
  if (/No such attribute/.test(r.err)) return undefined;
  throw new Error(`getfattr -n ${name} ${file}: ${r.err}`);
}

/** every xattr name listxattr shows (getfattr -d -m -) */
const names = (file: string): string[] =>
  sh(`getfattr --absolute-names -d -m - ${file}`)
    .out.split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split('=')[0]!);

/** ls -l: a stat, security.selinux and system.posix_acl_access of every entry */
const lsLong = (p: string): string[] => sh(`ls -l ${p}`).out.split('\n').filter((l) => l.startsWith('-'));

const files = (n: number): Spec => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, `${i}\n`]));

/** a minimal POSIX default ACL in the kernel's xattr form (posix_acl_xattr.h): user::rwx,
 * user:1:r--, group::r-x, mask::r-x, other::r-- */
function defaultAcl(): Buffer {
  const entries: [number, number, number][] = [
    [0x01, 7, 0xffffffff],
    [0x02, 4, 1],
    [0x04, 5, 0xffffffff],
    [0x10, 5, 0xffffffff],
    [0x20, 4, 0xffffffff],
  ];
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(tag, 4 + 8 * i);
    b.writeUInt16LE(perm, 6 + 8 * i);
    b.writeUInt32LE(id, 8 + 8 * i);
  });
  return b;
}

const root = process.getuid?.() === 0;
const asRoot = root ? test : test.skip;

asRoot('ls -l of a lower dir asks the daemon almost nothing about xattrs', (t) => {
  const l = makeLayers(t, [{ big: files(300), small: files(20) }]);
  mountStrata(t, l);
  for (const dir of ['small', 'big']) {
    const before = sessionOf(l.mnt);
    t.is(lsLong(path.join(l.mnt, dir)).length, dir === 'big' ? 300 : 20);
    const after = sessionOf(l.mnt);
    const n = dir === 'big' ? 300 : 20;
    // each entry's two GETXATTRs: all but the first in C
    t.true(after.xattrsAnswered - before.xattrsAnswered >= 2 * n - 2, `${dir}: answered in C: ${after.xattrsAnswered - before.xattrsAnswered}`);
    t.true(after.jsRequests - before.jsRequests < 20, `${dir}: requests JS saw: ${after.jsRequests - before.jsRequests}`);
  }
  // a second listing: no GETXATTR reaches JS at all
  const before = sessionOf(l.mnt);
  lsLong(path.join(l.mnt, 'big'));
  const after = sessionOf(l.mnt);
  t.true(after.xattrsAnswered - before.xattrsAnswered >= 600);
  t.true(after.jsRequests - before.jsRequests < 10, `requests JS saw: ${after.jsRequests - before.jsRequests}`);
});

asRoot('lower files that have xattrs still show them, in a listing whose other entries have none', (t) => {
  const l = makeLayers(t, [{ d: files(50) }]);
  sys.lsetxattr(path.join(l.lowers[0]!, 'd/f7'), 'user.tag', Buffer.from('seven'));
  sys.lsetxattr(path.join(l.lowers[0]!, 'd/f40'), 'user.tag', Buffer.from('forty'));
  mountStrata(t, l);
  lsLong(path.join(l.mnt, 'd'));
  lsLong(path.join(l.mnt, 'd'));
  t.true(sessionOf(l.mnt).xattrsKnownNone >= 48);
  t.is(xattr(path.join(l.mnt, 'd/f7'), 'user.tag'), 'seven');
  t.is(xattr(path.join(l.mnt, 'd/f40'), 'user.tag'), 'forty');
  t.deepEqual(names(path.join(l.mnt, 'd/f7')), ['user.tag']);
  t.is(xattr(path.join(l.mnt, 'd/f8'), 'user.tag'), undefined);
  t.deepEqual(names(path.join(l.mnt, 'd/f8')), []);
});

asRoot('an xattr set through the mount on a file known to have none is seen at once, and its removal too', (t) => {
  const l = makeLayers(t, [{ d: files(10) }]);
  mountStrata(t, l);
  const f = path.join(l.mnt, 'd/f3');
  lsLong(path.join(l.mnt, 'd'));
  t.is(xattr(f, 'user.a'), undefined);
  const known = sessionOf(l.mnt);
  t.true(known.xattrsKnownNone >= 10, `known to have none: ${known.xattrsKnownNone}`);
  t.deepEqual(names(f), []);
  t.true(sessionOf(l.mnt).xattrsAnswered > known.xattrsAnswered, 'the listxattr was answered in C');

  sh(`setfattr -n user.a -v one ${f}`);
  t.is(xattr(f, 'user.a'), 'one', 'no stale ENODATA after the setxattr');
  t.deepEqual(names(f), ['user.a'], 'no stale empty list after the setxattr');
  t.is(xattr(path.join(l.upper, 'd/f3'), 'user.a'), 'one');

  sh(`setfattr -x user.a ${f}`);
  t.is(xattr(f, 'user.a'), undefined);
  t.deepEqual(names(f), []);
  lsLong(path.join(l.mnt, 'd')); // known to have none again
  sh(`setfattr -n user.b -v two ${f}`);
  t.is(xattr(f, 'user.b'), 'two', 'seen though "none" was answered in between');
  t.deepEqual(names(f), ['user.b']);
});

asRoot('a copy-up that gives the copy an xattr is seen, though the lower file was known to have none', (t) => {
  const l = makeLayers(t, [{ d: files(5) }]);
  // copies are built in workdir/work: with a default ACL there, a copy inherits an access ACL
  sys.lsetxattr(l.work, 'system.posix_acl_default', defaultAcl());
  mountStrata(t, l);
  const f = path.join(l.mnt, 'd/f1');
  lsLong(path.join(l.mnt, 'd'));
  t.is(xattr(f, 'system.posix_acl_access'), undefined);
  t.true(sessionOf(l.mnt).xattrsKnownNone >= 5);
  sh(`touch -m -d 2001-01-01 ${f}`); // a copy-up, no xattr request
  const upper = path.join(l.upper, 'd/f1');
  t.true(fs.existsSync(upper));
  t.not(xattr(upper, 'system.posix_acl_access'), undefined, 'the fixture: the copy carries an ACL');
  t.not(xattr(f, 'system.posix_acl_access'), undefined, 'the mount shows the copy\'s ACL');
  t.true(names(f).includes('system.posix_acl_access'));
});

asRoot('what the kernel forgets is forgotten; virtual names still reach the daemon', (t) => {
  const l = makeLayers(t, [{ d: files(100) }]);
  mountStrata(t, l);
  lsLong(path.join(l.mnt, 'd'));
  const f = path.join(l.mnt, 'd/f9');
  // strata.explain and strata.session are answered by JS for an inode known to have none
  const explained = JSON.parse(xattr(f, 'strata.explain') ?? 'null') as unknown[];
  t.true(Array.isArray(explained) && explained.length > 0, 'explain answers');
  const before = sessionOf(l.mnt).xattrsKnownNone;
  t.true(before >= 100);
  // removed files' inodes are evicted by the kernel: FORGETs
  sh(`rm ${path.join(l.mnt, 'd')}/f5*`);
  let known = before;
  for (let i = 0; i < 50 && known > before - 11; i++) {
    sh('sleep 0.05');
    known = sessionOf(l.mnt).xattrsKnownNone;
  }
  t.true(known <= before - 11, `forgotten inodes dropped: ${before} -> ${known}`);
});
