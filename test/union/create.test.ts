// Creations in the upper without a lookup first (a parent with no lower dirs): the build's
// own EEXIST decides, a stray whiteout is built over, and the new entry's owner and mode
// come out as asked whether or not the daemon had to chown and chmod it.
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { Union } from '../../src/union/engine.js';
import { makeLayers, type Spec } from './layers.js';

const me = { uid: 0, gid: 0, umask: 0 };
const other = { uid: 1234, gid: 5678, umask: 0 };

function open(t: ExecutionContext, lowers: Spec[], upper: Spec): { u: Union; upper: string } {
  const l = makeLayers(t, lowers, upper);
  return { u: Union.open({ lowers: l.lowers, upper: l.upper, work: l.work, timeout: 1, readOnly: false }), upper: l.upper };
}

const code = async (fn: () => unknown): Promise<string | undefined> => {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

test('an upper-only dir: a taken name is EEXIST for every kind, a stray whiteout is built over', async (t) => {
  // u has no lower dir: its entries are the upper's alone, but a whiteout may be left in it
  const { u, upper } = open(t, [{ other: '1' }], { u: { x: 'file', w: { whiteout: true }, wd: { whiteout: true }, ws: { whiteout: true } } });
  const d = u.lookupPath('u');
  t.deepEqual(d.lowerDirs, []);
  t.is(await code(() => u.create(d.id, 'x', 0o644, sys.O.O_WRONLY, me)), 'EEXIST');
  t.is(await code(() => u.mkdir(d.id, 'x', 0o755, me)), 'EEXIST');
  t.is(await code(() => u.symlink(d.id, 'x', 'target', me)), 'EEXIST');
  t.is(await code(() => u.mknod(d.id, 'x', sys.S_IFIFO | 0o644, 0, me)), 'EEXIST');
  t.is(sys.lstat(path.join(upper, 'u/x')).size, 4, 'the file taken is left as it was');

  const c = await u.create(d.id, 'w', 0o640, sys.O.O_WRONLY, me);
  sys.close(c.fd);
  const w = sys.lstat(path.join(upper, 'u/w'));
  t.true(sys.isReg(w.mode));
  t.is(c.attr.ino, u.getattr(c.node.id).ino);
  t.is(w.mode & 0o7777, 0o640);
  const dir = await u.mkdir(d.id, 'wd', 0o750, me);
  t.true(dir.isDir);
  t.true(sys.isDir(sys.lstat(path.join(upper, 'u/wd')).mode));
  t.is(sys.lgetxattr(path.join(upper, 'u/wd'), 'trusted.overlay.opaque').toString(), 'y', 'over a whiteout a new dir is opaque');
  await u.symlink(d.id, 'ws', 'there', me);
  t.is(sys.readlink(path.join(upper, 'u/ws')), 'there');
  t.is(u.lookupPath('u/w').id, c.node.id);
});

test('a new entry has the owner and mode asked: chowned then chmodded for another caller, the daemon umask undone', async (t) => {
  const { u, upper } = open(t, [{}], { u: {} });
  const d = u.lookupPath('u');
  const old = process.umask(0o077);
  t.teardown(() => process.umask(old));
  const mine = await u.create(d.id, 'mine', 0o664, sys.O.O_WRONLY, me);
  sys.close(mine.fd);
  t.is(sys.lstat(path.join(upper, 'u/mine')).mode & 0o7777, 0o664, 'the daemon umask (077) does not apply');
  t.is(mine.attr.mode & 0o7777, 0o664, 'the answer is the final attr');
  const theirs = await u.create(d.id, 'theirs', 0o4755, sys.O.O_WRONLY, other);
  sys.close(theirs.fd);
  const a = sys.lstat(path.join(upper, 'u/theirs'));
  t.deepEqual([a.uid, a.gid, a.mode & 0o7777], [1234, 5678, 0o4755], 'set-uid kept: the chown came before the chmod');
  t.deepEqual([theirs.attr.uid, theirs.attr.gid, theirs.attr.mode & 0o7777], [1234, 5678, 0o4755]);
  await u.mkdir(d.id, 'dir', 0o1777, me);
  t.is(sys.lstat(path.join(upper, 'u/dir')).mode & 0o7777, 0o1777);
  await u.mkdir(d.id, 'theirdir', 0o750, other);
  const td = sys.lstat(path.join(upper, 'u/theirdir'));
  t.deepEqual([td.uid, td.gid, td.mode & 0o7777], [1234, 5678, 0o750]);
  await u.symlink(d.id, 'link', 'x', other);
  const sl = sys.lstat(path.join(upper, 'u/link'));
  t.deepEqual([sl.uid, sl.gid], [1234, 5678]);
  await u.mknod(d.id, 'fifo', sys.S_IFIFO | 0o620, 0, me);
  const f = sys.lstat(path.join(upper, 'u/fifo'));
  t.deepEqual([f.mode & sys.S_IFMT, f.mode & 0o7777], [sys.S_IFIFO, 0o620]);
  const masked = await u.create(d.id, 'masked', 0o666, sys.O.O_WRONLY, { ...me, umask: 0o027 });
  sys.close(masked.fd);
  t.is(sys.lstat(path.join(upper, 'u/masked')).mode & 0o7777, 0o640, "the caller's umask applies");
});

test('a set-gid parent gives new entries its group, and new dirs its set-gid bit', async (t) => {
  const { u, upper } = open(t, [{}], { sg: {} });
  const sg = path.join(upper, 'sg');
  sys.lchown(sg, 0, 4321);
  sys.chmod(sg, 0o2775);
  const d = u.lookupPath('sg');
  const c = await u.create(d.id, 'f', 0o644, sys.O.O_WRONLY, me);
  sys.close(c.fd);
  t.is(sys.lstat(path.join(sg, 'f')).gid, 4321);
  await u.mkdir(d.id, 'sub', 0o755, me);
  const sub = sys.lstat(path.join(sg, 'sub'));
  t.deepEqual([sub.gid, sub.mode & 0o7777], [4321, 0o2755]);
  await u.mkdir(d.id, 'theirs', 0o755, other);
  const th = sys.lstat(path.join(sg, 'theirs'));
  t.deepEqual([th.uid, th.gid, th.mode & 0o7777], [1234, 4321, 0o2755]);
});

test('a .wh.NAME marker in a merged upper dir still hides the lower NAME; create there makes it anew', async (t) => {
  const { u, upper } = open(t, [{ m: { x: 'lower' } }], { m: { '.wh.x': '' } });
  const m = u.lookupPath('m');
  t.true(m.lowerDirs.length > 0);
  t.throws(() => u.lookupPath('m/x'), { code: 'ENOENT' });
  const c = await u.create(m.id, 'x', 0o644, sys.O.O_WRONLY, me);
  sys.close(c.fd);
  t.is(sys.lstat(path.join(upper, 'm/x')).size, 0);
  t.true(u.lookupPath('m/x').inUpper);
});
