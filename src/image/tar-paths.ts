// Hardening of entry names: what a tar entry may name, and how it is reached inside the
// layer dir without following anything a previous entry planted.
import path from 'node:path';
import * as sys from '../sys/index.js';
import { LayerTarError } from './layer-errors.js';

export interface EntryPath {
  /** components under the layer dir; [] is the layer dir itself */
  parts: string[];
  /** the name without './' or a leading '/', for messages and duplicate checks */
  rel: string;
  stripped: boolean;
}

/** Normalises a tar entry name. A leading '/' is stripped (as node-tar does) and reported;
 * a '..' component anywhere is refused: no sanitising guess of what was meant. */
export function entryPath(name: string): EntryPath {
  if (name.includes('\0')) throw new LayerTarError(name, 'NUL byte in name');
  const stripped = name.startsWith('/');
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new LayerTarError(name, "'..' component: would lead outside the layer");
  return { parts, rel: parts.join('/'), stripped };
}

/** The parent directory of `parts` under root, created (0700, fixed up later) where missing.
 * Every component must be a real directory: a symlink planted by an earlier entry is never
 * followed, which is what stops "symlink, then write through it". */
export function parentDir(
  root: string,
  parts: string[],
  entryName: string,
  create: (dir: string, rel: string, replacedWhiteout: boolean) => void,
): string {
  let dir = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = path.join(dir, parts[i]!);
    const st = sys.lstatIfExists(next);
    if (!st) {
      sys.mkdir(next, 0o700);
      create(next, parts.slice(0, i + 1).join('/'), false);
    } else if (sys.isChr(st.mode) && Number(st.rdev) === 0) {
      // a whiteout earlier in this layer, now a directory with contents: deleted, then made
      // anew, which overlay spells as an opaque directory
      sys.unlink(next);
      sys.mkdir(next, 0o700);
      create(next, parts.slice(0, i + 1).join('/'), true);
    } else if (sys.isLnk(st.mode)) {
      throw new LayerTarError(entryName, `'${parts.slice(0, i + 1).join('/')}' is a symlink: refusing to write through it`);
    } else if (!sys.isDir(st.mode)) {
      throw new LayerTarError(entryName, `'${parts.slice(0, i + 1).join('/')}' is not a directory`);
    }
    dir = next;
  }
  return dir;
}
