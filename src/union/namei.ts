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

export function lookupName(stack: Stack, parent: ParentDir, name: string, opts: { lowersOnly?: boolean } = {}): Lookup {
  const hidden: Hiding[] = [];
  if (isMarkerName(name)) return { found: undefined, hidden };
  const childPath = parent.path === '' ? name : `${parent.path}/${name}`;
  let upperAttr: Attr | undefined;
  let opaque = false;
  if (parent.inUpper && stack.upper && !opts.lowersOnly) {
    const upper: Layer = stack.upper;
    const p = stack.real(upper, childPath);
    const a = sys.lstatIfExists(p);
    if (a && isWhiteoutAttr(a)) {
      hidden.push({ layer: upper, kind: 'whiteout', path: p });
      return { found: undefined, hidden };
    }
    // a .wh.NAME marker hides NAME in the layers below: with none below, nothing to ask
    if (!a && parent.lowerDirs.length > 0 && hasWhFile(stack.real(upper, parent.path), name)) {
      hidden.push({ layer: upper, kind: 'whiteout', path: joinReal(stack.real(upper, parent.path), '.wh.' + name) });
      return { found: undefined, hidden };
    }
    if (a && !sys.isDir(a.mode)) {
      return { found: { isDir: false, inUpper: true, attr: a, lowerDirs: [], opaque: false, hidden }, hidden };
    }
    if (a) {
      upperAttr = a;
      opaque = isOpaqueDir(p);
      if (opaque) {
        hidden.push({ layer: upper, kind: 'opaque', path: p });
        return { found: { isDir: true, inUpper: true, attr: a, lowerDirs: [], opaque, hidden }, hidden };
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
        hidden.push({ layer: ld.layer, kind: 'whiteout', path: joinReal(ld.path, '.wh.' + name) });
        break;
      }
      continue;
    }
    if (isWhiteoutAttr(a)) {
      hidden.push({ layer: ld.layer, kind: 'whiteout', path: p });
      break;
    }
    if (!sys.isDir(a.mode)) {
      if (upperAttr || lowerDirs.length > 0) {
        hidden.push({ layer: ld.layer, kind: 'non-dir', path: p });
        break;
      }
      const found: Resolution = { isDir: false, inUpper: false, attr: a, lower: { layer: ld.layer, path: p, attr: a }, lowerDirs: [], opaque: false, hidden };
      return { found, hidden };
    }
    const op = isOpaqueDir(p);
    lowerDirs.push({ layer: ld.layer, path: p, opaque: op });
    lower ??= { layer: ld.layer, path: p, attr: a };
    if (op) {
      hidden.push({ layer: ld.layer, kind: 'opaque', path: p });
      break;
    }
  }
  if (upperAttr) {
    const found: Resolution = { isDir: true, inUpper: true, attr: upperAttr, lowerDirs, opaque, hidden, ...(lower ? { lower } : {}) };
    return { found, hidden };
  }
  if (lower) return { found: { isDir: true, inUpper: false, attr: lower.attr, lower, lowerDirs, opaque: false, hidden }, hidden };
  return { found: undefined, hidden };
}

/** Whether some lower layer shows an entry at this name (then removing it needs a whiteout). */
export function lowerPositive(stack: Stack, parent: ParentDir, name: string): boolean {
  return lookupName(stack, parent, name, { lowersOnly: true }).found !== undefined;
}
