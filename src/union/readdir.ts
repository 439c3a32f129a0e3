// Merged directory listings (the kernel's readdir.c): every layer of the directory top
// down, each name once, whiteouts and markers never shown, a whiteout hiding the name in
// the layers below it. A listing is computed once per open handle, so offsets stay valid
// while entries come and go.
import * as sys from '../sys/index.js';
import { isMarkerName, isWhiteoutAttr, WH_OPAQUE, WH_PREFIX } from './markers.js';
import { INO_XATTR } from './inode.js';
import { joinReal, type Stack } from './layers.js';
import type { ParentDir } from './namei.js';

export interface MergedEntry {
  name: string;
  /** S_IF* type bits */
  type: number;
  /** the real directory (of some layer) the entry was found in */
  dir: string;
  fromUpper: boolean;
}

function typeOf(d: import('node:fs').Dirent): number {
  if (d.isDirectory()) return sys.S_IFDIR;
  if (d.isFile()) return sys.S_IFREG;
  if (d.isSymbolicLink()) return sys.S_IFLNK;
  if (d.isCharacterDevice()) return sys.S_IFCHR;
  if (d.isBlockDevice()) return sys.S_IFBLK;
  if (d.isFIFO()) return sys.S_IFIFO;
  return sys.S_IFSOCK;
}

/** The layers' real directories for a merged dir, top first. */
export function layerDirs(stack: Stack, dir: ParentDir): { path: string; fromUpper: boolean }[] {
  const out: { path: string; fromUpper: boolean }[] = [];
  if (dir.inUpper && stack.upper) out.push({ path: stack.real(stack.upper, dir.path), fromUpper: true });
  for (const ld of dir.lowerDirs) out.push({ path: ld.path, fromUpper: false });
  return out;
}

export function listMerged(stack: Stack, dir: ParentDir): MergedEntry[] {
  const seen = new Set<string>();
  const out: MergedEntry[] = [];
  for (const layer of layerDirs(stack, dir)) {
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = sys.readdir(layer.path);
    } catch (e) {
      if (sys.hasErrno(e, sys.E.ENOENT) || sys.hasErrno(e, sys.E.ENOTDIR)) continue;
      throw e;
    }
    const hiddenBelow: string[] = [];
    for (const d of dirents) {
      const name = d.name;
      if (isMarkerName(name)) {
        if (name !== WH_OPAQUE) hiddenBelow.push(name.slice(WH_PREFIX.length));
        continue;
      }
      if (seen.has(name)) continue;
      seen.add(name);
      if (d.isCharacterDevice()) {
        const a = sys.lstatIfExists(joinReal(layer.path, name));
        if (a && isWhiteoutAttr(a)) continue;
      }
      out.push({ name, type: typeOf(d), dir: layer.path, fromUpper: layer.fromUpper });
    }
    for (const name of hiddenBelow) seen.add(name);
  }
  return out;
}

/** The d_ino of an entry, matching what lookup will show as st_ino. */
export function entryIno(stack: Stack, e: MergedEntry): number | bigint {
  const p = joinReal(e.dir, e.name);
  const a = sys.lstatIfExists(p);
  if (!a) return 1;
  if (e.fromUpper && (e.type === sys.S_IFREG || e.type === sys.S_IFDIR)) {
    const v = sys.lgetxattrIfExists(p, stack.prefix + INO_XATTR);
    if (v && /^\d+$/.test(v.toString())) return Number(v.toString());
  }
  return a.ino;
}
