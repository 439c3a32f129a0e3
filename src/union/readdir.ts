// Merged directory listings (the kernel's readdir.c): every layer of the directory top
// down, each name once, whiteouts and markers never shown, a whiteout hiding the name in
// the layers below it. A listing is computed once per open handle, so offsets stay valid
// while entries come and go.
import * as sys from '../sys/index.js';
import { isMarkerName, isWhiteoutAttr, WH_OPAQUE, WH_PREFIX } from './markers.js';
import { INO_XATTR } from './inode.js';
import { joinReal, type Stack } from './layers.js';
import type { Layer } from './types.js';
import type { ParentDir } from './namei.js';

export interface MergedEntry {
  name: string;
  /** S_IF* type bits */
  type: number;
  /** the real directory (of some layer) the entry was found in */
  dir: string;
  fromUpper: boolean;
  /** d_ino there when it is the st_ino lookup shows (a lower layer's entry on a plain
   * filesystem), else -1: ask lstat */
  ino: number;
}

/** S_IF* type bits of a d_type (DT_* is S_IF* >> 12); 0 for DT_UNKNOWN */
const typeOfDt = (dt: number): number => (dt << 12) & sys.S_IFMT;

/** The layers' real directories for a merged dir, top first. */
export function layerDirs(stack: Stack, dir: ParentDir): { path: string; fromUpper: boolean; layer: Layer }[] {
  const out: { path: string; fromUpper: boolean; layer: Layer }[] = [];
  if (dir.inUpper && stack.upper) out.push({ path: stack.real(stack.upper, dir.path), fromUpper: true, layer: stack.upper });
  for (const ld of dir.lowerDirs) out.push({ path: ld.path, fromUpper: false, layer: ld.layer });
  return out;
}

export function listMerged(stack: Stack, dir: ParentDir): MergedEntry[] {
  const seen = new Set<string>();
  const out: MergedEntry[] = [];
  const layers = layerDirs(stack, dir);
  const single = layers.length === 1;
  for (const layer of layers) {
    let l: { names: string[]; types: Uint8Array; inos: Float64Array };
    try {
      l = sys.readdirInos(layer.path);
    } catch (e) {
      if (sys.hasErrno(e, sys.E.ENOENT) || sys.hasErrno(e, sys.E.ENOTDIR)) continue;
      throw e;
    }
    // an upper entry's st_ino may be a copy-up's recorded origin, a merged dir's the lower one's
    const exactIno = !layer.fromUpper && stack.dInoExact(layer.layer);
    const hiddenBelow: string[] = [];
    for (let i = 0; i < l.names.length; i++) {
      const name = l.names[i]!;
      if (isMarkerName(name)) {
        if (name !== WH_OPAQUE) hiddenBelow.push(name.slice(WH_PREFIX.length));
        continue;
      }
      // one layer: names are unique and nothing lies below to hide
      if (!single) {
        if (seen.has(name)) continue;
        seen.add(name);
      }
      let type = typeOfDt(l.types[i]!);
      if (type === 0 || type === sys.S_IFCHR) {
        const a = sys.lstatIfExists(joinReal(layer.path, name));
        if (!a) continue; // gone while listed
        if (isWhiteoutAttr(a)) continue;
        type = a.mode & sys.S_IFMT;
      }
      out.push({ name, type, dir: layer.path, fromUpper: layer.fromUpper, ino: exactIno ? l.inos[i]! : -1 });
    }
    for (const name of hiddenBelow) seen.add(name);
  }
  return out;
}

/** The d_ino of an entry, matching what lookup will show as st_ino. */
export function entryIno(stack: Stack, e: MergedEntry): number | bigint {
  if (e.ino >= 0) return e.ino;
  const p = joinReal(e.dir, e.name);
  const a = sys.lstatIfExists(p);
  if (!a) return 1;
  if (e.fromUpper && (e.type === sys.S_IFREG || e.type === sys.S_IFDIR)) {
    const v = sys.lgetxattrIfExists(p, stack.prefix + INO_XATTR);
    if (v && /^\d+$/.test(v.toString())) return Number(v.toString());
  }
  return a.ino;
}
