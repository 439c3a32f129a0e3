// Lower layers in the overlay format with everything a union must get right: whiteouts
// (char 0/0) and opaque dirs in the top lower, hard links, symlinks, fifos, xattrs, odd
// modes and owners, ns mtimes. Built the same way every time, so copies are byte-identical.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';

export interface LayerOptions {
  /** rootless: opaque as user.overlay.opaque, no chown to ids the namespace lacks, and no
   * hard links in the lowers: the kernel in a user namespace runs index=off and breaks them
   * on copy-up, which is the kernel's limit there, not a behaviour to copy */
  userxattr?: boolean;
}

/** A time in 2001 with a ns part, different for each i, so copy-up losing ns shows. */
export const oldTime = (i: number): { sec: number; nsec: number } => ({ sec: 978_307_200 + i * 3_607, nsec: (i * 123_456_789) % 1_000_000_000 });

/** Content of a given size from a tiny generator (no randomness: layers must be reproducible). */
export function filler(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed * 2_654_435_761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1_103_515_245 + 12_345) & 0x7fffffff;
    b[i] = 97 + (x % 26);
  }
  return b;
}

export const opaqueXattr = (o: LayerOptions): string => (o.userxattr ? 'user.overlay.opaque' : 'trusted.overlay.opaque');

type Item =
  | { kind: 'dir'; p: string; mode?: number; opaque?: boolean }
  | { kind: 'file'; p: string; size: number; mode?: number; owner?: [number, number] }
  | { kind: 'link'; p: string; to: string }
  | { kind: 'symlink'; p: string; target: string }
  | { kind: 'fifo'; p: string }
  | { kind: 'whiteout'; p: string }
  | { kind: 'xattr'; p: string; name: string; value: string };

// bottom layer (lowerdir's last entry)
const BOTTOM: Item[] = [
  { kind: 'dir', p: 'd1' },
  { kind: 'dir', p: 'd2', mode: 0o750 },
  { kind: 'dir', p: 'd2/sub' },
  { kind: 'dir', p: 'd3' },
  { kind: 'dir', p: 'gone' },
  { kind: 'file', p: 'a', size: 100 },
  { kind: 'file', p: 'b', size: 3000, mode: 0o640, owner: [1000, 1000] },
  { kind: 'link', p: 'd1/b2', to: 'b' },
  { kind: 'file', p: 'big', size: 300_000 },
  { kind: 'file', p: 'd1/f', size: 10 },
  { kind: 'file', p: 'd1/keep', size: 20, mode: 0o4755 },
  { kind: 'file', p: 'd2/sub/g', size: 0 },
  { kind: 'file', p: 'd2/h', size: 5000 },
  { kind: 'file', p: 'd3/old1', size: 7 },
  { kind: 'file', p: 'd3/old2', size: 8 },
  { kind: 'file', p: 'gone/x', size: 9 },
  { kind: 'symlink', p: 's', target: 'a' },
  { kind: 'symlink', p: 'd1/dangling', target: '../nowhere' },
  { kind: 'fifo', p: 'p' },
  { kind: 'xattr', p: 'a', name: 'user.color', value: 'blue' },
  { kind: 'xattr', p: 'd2', name: 'user.dirattr', value: 'x' },
];

// top lower: hides, replaces and adds
const TOP: Item[] = [
  { kind: 'dir', p: 'd1' },
  { kind: 'dir', p: 'd2', mode: 0o750 },
  { kind: 'dir', p: 'd3', opaque: true },
  { kind: 'dir', p: 'newdir' },
  { kind: 'whiteout', p: 'd1/f' },
  { kind: 'whiteout', p: 'gone' },
  { kind: 'whiteout', p: 'p' },
  { kind: 'file', p: 'a', size: 150 },
  { kind: 'file', p: 'd3/fresh', size: 11 },
  { kind: 'file', p: 'd2/top', size: 12, mode: 0o600, owner: [1000, 1001] },
  { kind: 'file', p: 'newdir/n1', size: 13 },
  { kind: 'link', p: 'newdir/n2', to: 'newdir/n1' },
  { kind: 'xattr', p: 'a', name: 'user.color', value: 'red' },
  { kind: 'xattr', p: 'd2/top', name: 'user.one', value: '1' },
  { kind: 'xattr', p: 'd2/top', name: 'user.two', value: '22' },
];

function build(root: string, items: Item[], salt: number, o: LayerOptions): void {
  fs.mkdirSync(root, { recursive: true });
  items.forEach((it, i) => {
    const p = path.join(root, it.p);
    switch (it.kind) {
      case 'dir':
        fs.mkdirSync(p, { mode: it.mode ?? 0o755 });
        fs.chmodSync(p, it.mode ?? 0o755);
        if (it.opaque) sys.lsetxattr(p, opaqueXattr(o), Buffer.from('y'));
        break;
      case 'file':
        fs.writeFileSync(p, filler(it.size, salt + i));
        fs.chmodSync(p, it.mode ?? 0o644);
        if (it.owner && !o.userxattr) sys.lchown(p, it.owner[0], it.owner[1]);
        if (it.mode) fs.chmodSync(p, it.mode); // chown cleared setuid
        break;
      case 'link':
        if (o.userxattr) fs.copyFileSync(path.join(root, it.to), p);
        else fs.linkSync(path.join(root, it.to), p);
        break;
      case 'symlink':
        fs.symlinkSync(it.target, p);
        break;
      case 'fifo':
        sys.mknod(p, sys.S_IFIFO | 0o644, 0);
        break;
      case 'whiteout':
        sys.mknod(p, sys.S_IFCHR, 0);
        break;
      case 'xattr':
        sys.lsetxattr(p, it.name, Buffer.from(it.value));
        break;
    }
  });
  // children before parents, so setting a dir's time is the last touch of it
  const paths = items.map((it) => it.p).filter((p, i, all) => all.indexOf(p) === i);
  paths.sort((x, y) => y.split('/').length - x.split('/').length);
  paths.forEach((rel, i) => {
    const t = oldTime(salt + i);
    sys.lutimens(path.join(root, rel), t.sec, t.nsec, t.sec, t.nsec);
  });
  const t = oldTime(salt + 99);
  sys.lutimens(root, t.sec, t.nsec, t.sec, t.nsec);
}

/** Writes the two lower layers under DIR; answers their paths, top first. */
export function makeLayers(dir: string, o: LayerOptions = {}): string[] {
  const top = path.join(dir, 'l1');
  const bottom = path.join(dir, 'l2');
  build(bottom, BOTTOM, 0, o);
  build(top, TOP, 50, o);
  return [top, bottom];
}

/** cp -a: hard links, xattrs, device nodes and ns times preserved. */
export function copyTree(from: string, to: string): void {
  const r = spawnSync('cp', ['-a', '--preserve=all', '-T', from, to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr}`);
}

/** Byte-identical copies of LAYERS under DIR/NAME, in the same order. */
export function copyLayers(layers: string[], dir: string, name: string): string[] {
  return layers.map((l) => {
    const to = path.join(dir, name, path.basename(l));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    copyTree(l, to);
    return to;
  });
}
