// Inode numbers as the kernel's overlayfs keeps them: st_ino unchanged by copy-up, hard
// links one inode after one name was copied up (index=on), one st_dev for the whole mount.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { copyLayers, makeLayers } from '../helpers/layers.js';
import { mountUnion, scratchDir, subjectFromEnv, subjectUnavailable, unionDirs, type UnionKind } from '../helpers/union.js';
import { listTree } from './ops.js';

const subject = subjectFromEnv();
const unavailable = subjectUnavailable(subject);

interface Inodes {
  before: Map<string, bigint>;
  after: Map<string, bigint>;
  devs: Set<bigint>;
}

/** st_ino of every entry, then copy-up of each (chmod to its own mode, append to files), then st_ino again. */
function inodesAcrossCopyUp(root: string): Inodes {
  const tree = listTree(root).filter((e) => e.type !== 'other' && e.type !== 'symlink');
  const stat = (p: string): fs.BigIntStats => fs.lstatSync(path.join(root, p), { bigint: true });
  const before = new Map(tree.map((e) => [e.p, stat(e.p).ino]));
  for (const e of tree) {
    const p = path.join(root, e.p);
    fs.chmodSync(p, Number(stat(e.p).mode & 0o7777n));
    if (e.type === 'file' && e.p !== 'big') fs.appendFileSync(p, '+');
  }
  const after = new Map(tree.map((e) => [e.p, stat(e.p).ino]));
  const devs = new Set(listTree(root).map((e) => stat(e.p).dev));
  return { before, after, devs };
}

const title = `${subject} keeps st_ino across copy-up, hard links on one inode, one st_dev, as the kernel does`;
if (unavailable) test.skip(`${title} (${unavailable})`, () => {});
else
  test(title, (t) => {
    const dir = scratchDir(t);
    const src = makeLayers(path.join(dir, 'src'));
    const run = (kind: UnionKind, name: string): Inodes => {
      const lowers = copyLayers(src, dir, `${name}-lowers`);
      const d = unionDirs(dir, name);
      mountUnion(t, kind, { lowers, ...d });
      return inodesAcrossCopyUp(d.mnt);
    };
    const k = run('kernel', 'kernel');
    const s = run(subject, 'subject');
    const changed = (x: Inodes): string[] => [...x.before].filter(([p, ino]) => x.after.get(p) !== ino).map(([p]) => p);
    t.deepEqual(changed(k), [], 'the kernel keeps every st_ino (the premise)');
    t.deepEqual(changed(s), [], `${subject} keeps every st_ino across copy-up`);
    t.is(s.after.get('b'), s.after.get('d1/b2'), 'b and d1/b2 are still one inode after both were copied up');
    t.is(s.after.get('newdir/n1'), s.after.get('newdir/n2'), 'newdir/n1 and newdir/n2 are still one inode');
    t.is(s.devs.size, 1, 'one st_dev for every entry of the mount');
    t.is(k.devs.size, 1);
  });
