// The union engine on real layer directories, without FUSE: lookup through the layers,
// whiteouts and opaque dirs, merged readdir, copy-up, directory operations, hard links.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { Union, ROOT_ID } from '../../src/union/engine.js';
import { makeLayers, type Layers, type Spec } from './layers.js';

const me = { uid: 0, gid: 0, umask: 0o022 };

function open(t: ExecutionContext, lowers: Spec[], upper: Spec = {}, extra: { readOnly?: boolean } = {}): { u: Union; l: Layers } {
  const l = makeLayers(t, lowers, upper);
  const ro = extra.readOnly === true;
  const u = Union.open({
    lowers: l.lowers,
    ...(ro ? {} : { upper: l.upper, work: l.work }),
    timeout: 1,
    readOnly: ro,
  });
  return { u, l };
}

function names(u: Union, p: string): string[] {
  const n = u.lookupPath(p);
  const fh = u.opendir(n.id);
  const out = u.readdir(fh, 0).map((e) => e.name);
  u.releasedir(fh);
  return out;
}

const read = (u: Union, p: string): string => {
  const n = u.lookupPath(p);
  const f = sys.open(n.inUpper ? path.join(u.core.stack.upper!.root, p) : n.lower!.path, sys.O.O_RDONLY);
  const buf = Buffer.alloc(4096);
  const len = sys.pread(f, buf, 0);
  sys.close(f);
  return buf.subarray(0, len).toString();
};

const errno = async (t: ExecutionContext, fn: () => unknown, code: string): Promise<void> => {
  const e = await t.throwsAsync(async () => fn());
  t.is((e as { code?: string } | undefined)?.code, code);
};

test('lookup falls through the layers; a whiteout in a lower layer stops it', (t) => {
  const { u } = open(t, [{ a: 'top', gone: { whiteout: true }, '.wh.old': '' }, { a: 'bottom', b: 'b2', gone: 'x', old: 'y' }]);
  t.is(read(u, 'a'), 'top');
  t.is(read(u, 'b'), 'b2');
  t.throws(() => u.lookupPath('gone'), { code: 'ENOENT' });
  t.throws(() => u.lookupPath('old'), { code: 'ENOENT' });
  t.throws(() => u.lookupPath('.wh.old'), { code: 'ENOENT' });
});

test('an opaque dir stops merging; a non-dir above hides a dir below; a dir above hides a file below', (t) => {
  const { u } = open(t, [
    { o: { opaque: { mine: '1' } }, q: { '.wh..wh..opq': '', own: '1' }, f: 'file', d: { top: '1' } },
    { o: { theirs: '2' }, q: { other: '2' }, f: { inner: '2' }, d: 'a file below a dir' },
  ]);
  t.deepEqual(names(u, 'o'), ['.', '..', 'mine']);
  t.deepEqual(names(u, 'q'), ['.', '..', 'own']);
  t.false(u.lookupPath('f').isDir);
  t.true(u.lookupPath('d').isDir);
  t.deepEqual(names(u, 'd'), ['.', '..', 'top']);
});

test('readdir merges every layer once, without whiteouts or markers', (t) => {
  const { u } = open(t, [{ d: { a: '1', x: { whiteout: true }, '.wh.y': '' } }, { d: { a: '2', b: '2', x: '2', y: '2' } }], { d: { c: '3' } });
  t.deepEqual(names(u, 'd').sort(), ['.', '..', 'a', 'b', 'c']);
});

test('readdir offsets stay valid while entries are removed during the listing', async (t) => {
  const spec: Spec = {};
  for (let i = 0; i < 50; i++) spec[`f${i}`] = String(i);
  const { u } = open(t, [{ d: spec }]);
  const d = u.lookupPath('d');
  const fh = u.opendir(d.id);
  const first = u.readdir(fh, 0, 10);
  for (const e of first.slice(2)) await u.unlink(d.id, e.name);
  const rest = u.readdir(fh, first[first.length - 1]!.off, 1000);
  t.is(first.length + rest.length, 52);
  t.is(new Set([...first, ...rest].map((e) => e.name)).size, 52);
});

test('copy-up keeps data, mode, owner, ns times and xattrs (security.capability too), not private ones', async (t) => {
  const { u, l } = open(t, [{ d: { f: 'data' } }]);
  const lf = path.join(l.lowers[0]!, 'd/f');
  fs.chmodSync(lf, 0o751);
  fs.chownSync(lf, 1234, 5678);
  sys.lsetxattr(lf, 'user.keep', Buffer.from('v'));
  sys.lsetxattr(lf, 'security.capability', Buffer.from('0100000200040000000000000000000000000000', 'hex'));
  sys.lsetxattr(lf, 'trusted.overlay.something', Buffer.from('private'));
  sys.lutimens(lf, 1000, 123456789, 2000, 987654321);
  const d = path.join(l.lowers[0]!, 'd');
  sys.lutimens(d, 3000, 1, 4000, 2);
  const before = sys.lstat(lf);
  const n = u.lookupPath('d/f');
  await u.setxattr(n.id, 'user.new', Buffer.from('n'), 0);
  const up = path.join(l.upper, 'd/f');
  const a = sys.lstat(up);
  t.is(fs.readFileSync(up, 'utf8'), 'data');
  t.is(a.mode, before.mode);
  t.is(a.uid, 1234);
  t.is(a.gid, 5678);
  t.is(a.mtime, 2000);
  t.is(a.mtimeNsec, 987654321);
  t.is(a.atimeNsec, 123456789);
  t.is(sys.lgetxattr(up, 'user.keep').toString(), 'v');
  t.is(sys.lgetxattr(up, 'security.capability').length, 20);
  t.is(sys.lgetxattrIfExists(up, 'trusted.overlay.something'), undefined);
  const dirUp = sys.lstat(path.join(l.upper, 'd'));
  t.is(dirUp.mtime, 4000);
  t.is(dirUp.mtimeNsec, 2);
  t.deepEqual(u.listxattr(n.id).sort(), ['security.capability', 'user.keep', 'user.new']);
  await errno(t, () => u.getxattr(n.id, 'trusted.overlay.strata.ino'), 'ENODATA');
  t.deepEqual(fs.readdirSync(path.join(l.work, 'work')), [], 'nothing left in workdir/work');
});

test('st_ino does not change when a file is copied up', async (t) => {
  const { u } = open(t, [{ f: 'x' }]);
  const n = u.lookupPath('f');
  const before = u.getattr(n.id).ino;
  await u.setattr(n.id, { mode: 0o600 });
  t.true(n.inUpper);
  t.is(u.getattr(n.id).ino, before);
  u.forget(n.id, 1);
  t.is(u.getattr(u.lookupPath('f').id).ino, before, 'also for a fresh node after forget');
});

test('hard links stay linked across copy-up', async (t) => {
  const { u, l } = open(t, [{ a: 'shared', sub: {} }]);
  fs.linkSync(path.join(l.lowers[0]!, 'a'), path.join(l.lowers[0]!, 'sub/b'));
  const a = u.lookupPath('a');
  const b = u.lookupPath('sub/b');
  t.is(a.id, b.id, 'one node for one inode');
  const fd = await u.open(a.id, sys.O.O_WRONLY | sys.O.O_APPEND);
  sys.pwrite(fd, Buffer.from('+more'), 0);
  sys.close(fd);
  t.is(fs.readFileSync(path.join(l.upper, 'sub/b'), 'utf8'), 'shared+more');
  t.is(sys.lstat(path.join(l.upper, 'sub/b')).ino, sys.lstat(path.join(l.upper, 'a')).ino);
  t.is(u.getattr(b.id).nlink, 2);
});

test('create over a whiteout replaces it; unlink leaves a whiteout only over a lower entry', async (t) => {
  const { u, l } = open(t, [{ low: 'l' }]);
  const root = ROOT_ID;
  await u.unlink(root, 'low');
  t.true(sys.isChr(sys.lstat(path.join(l.upper, 'low')).mode));
  t.throws(() => u.lookupPath('low'), { code: 'ENOENT' });
  const { fd } = await u.create(root, 'low', 0o644, sys.O.O_WRONLY, me);
  sys.close(fd);
  t.true(sys.isReg(sys.lstat(path.join(l.upper, 'low')).mode));
  const { fd: fd2 } = await u.create(root, 'fresh', 0o644, sys.O.O_WRONLY, me);
  sys.close(fd2);
  await u.unlink(root, 'fresh');
  t.is(sys.lstatIfExists(path.join(l.upper, 'fresh')), undefined, 'no whiteout for an upper-only file');
  await u.unlink(root, 'low');
  t.true(sys.isChr(sys.lstat(path.join(l.upper, 'low')).mode));
  await errno(t, () => u.create(root, '.wh.x', 0o644, 0, me), 'EINVAL');
});

test('mkdir over a whited-out lower dir is opaque; rmdir checks emptiness across layers', async (t) => {
  const { u, l } = open(t, [{ d: { inner: 'x' } }]);
  await errno(t, () => u.rmdir(ROOT_ID, 'd'), 'ENOTEMPTY');
  await u.unlink(u.lookupPath('d').id, 'inner');
  await u.rmdir(ROOT_ID, 'd');
  t.true(sys.isChr(sys.lstat(path.join(l.upper, 'd')).mode));
  await u.mkdir(ROOT_ID, 'd', 0o755, me);
  t.is(sys.lgetxattr(path.join(l.upper, 'd'), 'trusted.overlay.opaque').toString(), 'y');
  t.deepEqual(names(u, 'd'), ['.', '..']);
  t.is(sys.lstat(path.join(l.upper, 'd')).mode & 0o7777, 0o755 & ~0o022);
});

test('rename: over targets, NOREPLACE, EXCHANGE, whiteout at a lower old name, EXDEV for merged dirs', async (t) => {
  const { u, l } = open(t, [{ a: 'A', b: 'B', dir: { x: '1' } }]);
  const { RENAME_NOREPLACE, RENAME_EXCHANGE } = sys.C;
  await errno(t, () => u.rename(ROOT_ID, 'a', ROOT_ID, 'b', RENAME_NOREPLACE), 'EEXIST');
  await u.rename(ROOT_ID, 'a', ROOT_ID, 'b', RENAME_EXCHANGE);
  t.is(read(u, 'a'), 'B');
  t.is(read(u, 'b'), 'A');
  await u.rename(ROOT_ID, 'a', ROOT_ID, 'c', 0);
  t.true(sys.isChr(sys.lstat(path.join(l.upper, 'a')).mode), 'whiteout left at the old name');
  t.is(read(u, 'c'), 'B');
  await errno(t, () => u.rename(ROOT_ID, 'dir', ROOT_ID, 'dir2', 0), 'EXDEV');
  await u.mkdir(ROOT_ID, 'fresh', 0o755, me);
  await u.rename(ROOT_ID, 'fresh', ROOT_ID, 'moved', 0);
  t.true(u.lookupPath('moved').isDir);
  await u.rename(ROOT_ID, 'moved', ROOT_ID, 'a', 0);
  t.deepEqual(names(u, 'a'), ['.', '..']);
});

test('a read-only union answers EROFS to every change', async (t) => {
  const { u } = open(t, [{ f: 'x' }], {}, { readOnly: true });
  const n = u.lookupPath('f');
  await errno(t, () => u.setattr(n.id, { mode: 0o600 }), 'EROFS');
  await errno(t, () => u.open(n.id, sys.O.O_WRONLY), 'EROFS');
  await errno(t, () => u.unlink(ROOT_ID, 'f'), 'EROFS');
  await errno(t, () => u.mkdir(ROOT_ID, 'd', 0o755, me), 'EROFS');
  t.is(read(u, 'f'), 'x');
});

test('explain names the layer of each component and what hid what', (t) => {
  const { u } = open(t, [{ d: { gone: { whiteout: true } } }, { d: { gone: 'x', f: 'y' } }]);
  const steps = u.explain('d/f');
  t.deepEqual(steps.map((s) => s.layer), ['upper', 'lower 1', 'lower 2']);
  t.deepEqual(steps[1]!.merged, ['lower 1', 'lower 2']);
  const gone = u.explain('d/gone');
  t.is(gone[2]!.layer, 'none');
  t.is(gone[2]!.hidden[0]!.kind, 'whiteout');
  t.is(gone[2]!.hidden[0]!.layer, 'lower 1');
});

test('uidmapping/gidmapping show host ids mapped, and new files get host ids; squash_to_root shows root', async (t) => {
  const l = makeLayers(t, [{ f: 'x' }]);
  fs.chownSync(path.join(l.lowers[0]!, 'f'), 100001, 100002);
  const maps = { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }] };
  const u = Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false, ...maps });
  const a = u.getattr(u.lookupPath('f').id);
  t.deepEqual([a.uid, a.gid], [1, 2]);
  const { fd } = await u.create(ROOT_ID, 'new', 0o644, sys.O.O_WRONLY, { uid: 0, gid: 0, umask: 0 });
  sys.close(fd);
  const real = sys.lstat(path.join(l.upper, 'new'));
  t.deepEqual([real.uid, real.gid], [100000, 100000]);
  const sq = Union.open({ lowers: l.lowers, timeout: 1, readOnly: true, squashToRoot: true });
  t.is(sq.getattr(sq.lookupPath('f').id).uid, 0);
});

test('a file opened read-only before its copy-up reads the copy afterwards', async (t) => {
  const { u } = open(t, [{ f: 'old data' }]);
  const n = u.lookupPath('f');
  const ro = await u.open(n.id, sys.O.O_RDONLY);
  const rw = await u.open(n.id, sys.O.O_WRONLY);
  sys.pwrite(rw, Buffer.from('NEW'), 0);
  u.close(n.id, rw);
  const buf = Buffer.alloc(16);
  t.is(buf.subarray(0, sys.pread(ro, buf, 0)).toString(), 'NEW data');
  u.close(n.id, ro);
});

test('of several readers of a lower file, closed in any order, those still open read the copy after a copy-up', async (t) => {
  const { u } = open(t, [{ f: 'old data' }]);
  const n = u.lookupPath('f');
  const readers = await Promise.all([0, 1, 2, 3].map(() => u.open(n.id, sys.O.O_RDONLY)));
  // the first and the third go: the second and the fourth stay tracked, and only they
  u.close(n.id, readers[0]!);
  u.close(n.id, readers[2]!);
  const rw = await u.open(n.id, sys.O.O_WRONLY);
  sys.pwrite(rw, Buffer.from('NEW'), 0);
  u.close(n.id, rw);
  const buf = Buffer.alloc(16);
  for (const fd of [readers[1]!, readers[3]!]) t.is(buf.subarray(0, sys.pread(fd, buf, 0)).toString(), 'NEW data');
  // a closed fd number was not swapped behind its back: one opened since is left alone
  const other = sys.open('/dev/null', sys.O.O_RDONLY);
  t.is(sys.pread(other, buf, 0), 0);
  sys.close(other);
  for (const fd of [readers[1]!, readers[3]!]) u.close(n.id, fd);
  t.false(u.core.openFds.has(n.id), 'nothing left tracked');
});

test('opening a lower file with O_TRUNC copies up its metadata, not its data', async (t) => {
  const { u, l } = open(t, [{ f: 'x'.repeat(10000) }]);
  fs.chmodSync(path.join(l.lowers[0]!, 'f'), 0o640);
  const n = u.lookupPath('f');
  const ino = u.getattr(n.id).ino;
  const fd = await u.open(n.id, sys.O.O_WRONLY | sys.O.O_TRUNC);
  sys.pwrite(fd, Buffer.from('new'), 0);
  u.close(n.id, fd);
  t.is(fs.readFileSync(path.join(l.upper, 'f'), 'utf8'), 'new');
  t.is(sys.lstat(path.join(l.upper, 'f')).mode & 0o7777, 0o640);
  t.is(u.getattr(n.id).ino, ino);
});

test('an open file whose last name is gone still answers getattr and setattr through its fd', async (t) => {
  const { u } = open(t, [{}]);
  const { node, fd } = await u.create(ROOT_ID, 'q', 0o644, sys.O.O_RDWR, me);
  await u.unlink(ROOT_ID, 'q');
  sys.pwrite(fd, Buffer.from('still here'), 0);
  const a = await u.setattr(node.id, { mode: 0o600, mtime: 1000, mtimeNsec: 5 });
  t.is(a.mode & 0o7777, 0o600);
  t.is(a.mtimeNsec, 5);
  t.is(u.getattr(node.id).size, 10);
  t.is(u.getattr(node.id).nlink, 0);
  u.close(node.id, fd);
});
