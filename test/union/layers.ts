// Small layer fixtures for the union tests: real directories with real whiteouts and
// opaque markers, built with plain syscalls (no mount involved).
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import * as sys from '../../src/sys/index.js';
import { tempDir } from '../helpers/tmp.js';

export interface Layers {
  dir: string;
  lowers: string[];
  upper: string;
  work: string;
  mnt: string;
}

/** A tree spec: 'file content', {dir}, or markers. */
export type Spec = { [name: string]: string | Spec | { whiteout: true } | { symlink: string } | { opaque: Spec } };

export function build(root: string, spec: Spec): void {
  fs.mkdirSync(root, { recursive: true });
  for (const [name, v] of Object.entries(spec)) {
    const p = path.join(root, name);
    if (typeof v === 'string') fs.writeFileSync(p, v);
    else if ('whiteout' in v && v.whiteout === true) sys.mknod(p, sys.S_IFCHR, sys.makedev(0, 0));
    else if ('symlink' in v && typeof v.symlink === 'string') fs.symlinkSync(v.symlink, p);
    else if ('opaque' in v && typeof v.opaque === 'object') {
      build(p, v.opaque as Spec);
      sys.lsetxattr(p, 'trusted.overlay.opaque', Buffer.from('y'));
    } else build(p, v as Spec);
  }
}

/** lowers given top first; an empty upper, a work dir and a mountpoint beside them. */
export function makeLayers(t: ExecutionContext, lowers: Spec[], upper: Spec = {}): Layers {
  const dir = tempDir(t, 'strata-union-');
  const ls = lowers.map((spec, i) => {
    const p = path.join(dir, `l${i + 1}`);
    build(p, spec);
    return p;
  });
  const up = path.join(dir, 'upper');
  build(up, upper);
  const work = path.join(dir, 'work');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(work);
  fs.mkdirSync(mnt);
  return { dir, lowers: ls, upper: up, work, mnt };
}

/** Every path under root with its type and content (files) or target (symlinks). */
export function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      if (st.isDirectory()) {
        out.push(`${r}/ ${(st.mode & 0o7777).toString(8)}`);
        walk(r);
      } else if (st.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(path.join(root, r))}`);
      else if (st.isFile()) out.push(`${r} ${(st.mode & 0o7777).toString(8)} ${fs.readFileSync(path.join(root, r), 'utf8')}`);
      else out.push(`${r} special ${st.mode.toString(8)}`);
    }
  };
  walk('');
  return out;
}
