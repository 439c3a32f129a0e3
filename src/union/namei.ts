// Lookup of one name through the layers (the kernel's namei.c): top down, a whiteout stops
// it, an opaque directory stops the merging of lower directories, a non-directory hides
// everything below it and a directory hides non-directories below it.
import * as sys from '../sys/index.js';
import type { Attr } from '../sys/index.js';
import { hasWhFile, isMarkerName, isOpaqueDir, isWhiteoutAttr } from './markers.js';
import { joinReal, type Stack } from './layers.js';
import type { Hiding, Layer, LowerDir, Resolution } from './types.js';

/** The directory a name is looked up in. */
export interface ParentDir {
  readonly path: string;
  readonly inUpper: boolean;
  readonly lowerDirs: readonly LowerDir[];
}

export interface Lookup {
  /** undefined: the name does not exist in the merged view */
  readonly found: Resolution | undefined;
  readonly hidden: readonly Hiding[];
}

/** what a lookup that hid nothing reports (most do): no array per lookup */
const NOTHING_HIDDEN: readonly Hiding[] = Object.freeze([]);
const NOT_FOUND: Lookup = Object.freeze({ found: undefined, hidden: NOTHING_HIDDEN });
/** a non-directory's lowerDirs */
const NO_DIRS: readonly LowerDir[] = Object.freeze([]);

export function lookupName(stack: Stack, parent: ParentDir, name: string, opts: { lowersOnly?: boolean } = {}): Lookup {
  if (isMarkerName(name)) return NOT_FOUND;
  // made at the first thing hidden
  let hidden: Hiding[] | undefined;
  const hide = (h: Hiding): readonly Hiding[] => {
    (hidden ??= []).push(h);
    return hidden;
  };
  let upperAttr: Attr | undefined;
  let opaque = false;
  if (parent.inUpper && stack.upper && !opts.lowersOnly) {
    const upper: Layer = stack.upper;
    const p = stack.real(upper, parent.path === '' ? name : `${parent.path}/${name}`);
    const a = sys.lstatIfExists(p);
    if (a && isWhiteoutAttr(a)) return { found: undefined, hidden: hide({ layer: upper, kind: 'whiteout', path: p }) };
    // a .wh.NAME marker hides NAME in the layers below: with none below, nothing to ask
    if (!a && parent.lowerDirs.length > 0 && hasWhFile(stack.real(upper, parent.path), name)) {
      return { found: undefined, hidden: hide({ layer: upper, kind: 'whiteout', path: joinReal(stack.real(upper, parent.path), '.wh.' + name) }) };
    }
    if (a && !sys.isDir(a.mode)) {
      return { found: { isDir: false, inUpper: true, attr: a, lowerDirs: NO_DIRS, opaque: false, hidden: NOTHING_HIDDEN }, hidden: NOTHING_HIDDEN };
    }
    if (a) {
      upperAttr = a;
      opaque = isOpaqueDir(p);
      if (opaque) {
        const h = hide({ layer: upper, kind: 'opaque', path: p });
        return { found: { isDir: true, inUpper: true, attr: a, lowerDirs: [], opaque, hidden: h }, hidden: h };
      }
    }
  }
  const lowerDirs: LowerDir[] = [];
  let lower: { layer: Layer; path: string; attr: Attr } | undefined;
  for (const ld of parent.lowerDirs) {
    const p = joinReal(ld.path, name);
    const a = sys.lstatIfExists(p);
    if (!a) {
      if (hasWhFile(ld.path, name)) {
        hide({ layer: ld.layer, kind: 'whiteout', path: joinReal(ld.path, '.wh.' + name) });
        break;
      }
      continue;
    }
    if (isWhiteoutAttr(a)) {
      hide({ layer: ld.layer, kind: 'whiteout', path: p });
      break;
    }
    if (!sys.isDir(a.mode)) {
      if (upperAttr || lowerDirs.length > 0) {
        hide({ layer: ld.layer, kind: 'non-dir', path: p });
        break;
      }
      const h = hidden ?? NOTHING_HIDDEN;
      const found: Resolution = { isDir: false, inUpper: false, attr: a, lower: { layer: ld.layer, path: p, attr: a }, lowerDirs: NO_DIRS, opaque: false, hidden: h };
      return { found, hidden: h };
    }
    const op = isOpaqueDir(p);
    lowerDirs.push({ layer: ld.layer, path: p, opaque: op });
    lower ??= { layer: ld.layer, path: p, attr: a };
    if (op) {
      hide({ layer: ld.layer, kind: 'opaque', path: p });
      break;
    }
  }
  const h = hidden ?? NOTHING_HIDDEN;
  if (upperAttr) {
    const found: Resolution = { isDir: true, inUpper: true, attr: upperAttr, lowerDirs, opaque, hidden: h, ...(lower ? { lower } : {}) };
    return { found, hidden: h };
  }
  if (lower) return { found: { isDir: true, inUpper: false, attr: lower.attr, lower, lowerDirs, opaque: false, hidden: h }, hidden: h };
  return h === NOTHING_HIDDEN ? NOT_FOUND : { found: undefined, hidden: h };
}

/** The resolution of a non-directory a lower-only directory's listing showed in layer
 * `layer` at real path p (what lookupName finds there: the layers above lack the name, or
 * the listing would have shown theirs or left it out). */
export function listedFile(layer: Layer, p: string, a: Attr): Resolution {
  return { isDir: false, inUpper: false, attr: a, lower: { layer, path: p, attr: a }, lowerDirs: NO_DIRS, opaque: false, hidden: NOTHING_HIDDEN };
}

/** Whether some lower layer shows an entry at this name (then removing it needs a whiteout). */
export function lowerPositive(stack: Stack, parent: ParentDir, name: string): boolean {
  return lookupName(stack, parent, name, { lowersOnly: true }).found !== undefined;
}
