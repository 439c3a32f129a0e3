// `strata explain`: for each component of a merged path, the layer it resolved in, what
// whiteouts and opaque dirs hid, and whether it was copied up. Computed by the engine (the
// only one that knows), printed by the CLI.
import * as sys from '../sys/index.js';
import type { UnionCore } from './core.js';
import { INO_XATTR } from './inode.js';
import { lookupName, type ParentDir } from './namei.js';

/** The name a client asks the mount for (getxattr); never listed. */
export const EXPLAIN_XATTR = 'strata.explain';

export interface ExplainStep {
  path: string;
  layer: string;
  real: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
  /** dirs: the layers whose entries merge here, top first */
  merged: string[];
  hidden: { layer: string; kind: string; path: string }[];
  copiedUp: boolean;
  copiedFrom?: string;
}

const typeName = (mode: number): ExplainStep['type'] =>
  sys.isDir(mode) ? 'dir' : sys.isReg(mode) ? 'file' : sys.isLnk(mode) ? 'symlink' : 'other';

export function explainPath(core: UnionCore, p: string): ExplainStep[] {
  const { stack } = core;
  const root = core.rootDir;
  const steps: ExplainStep[] = [];
  const rootLayer = stack.upper ?? stack.lowers[0]!;
  steps.push({
    path: '/',
    layer: rootLayer.name,
    real: rootLayer.root,
    type: 'dir',
    merged: [...(stack.upper ? ['upper'] : []), ...root.lowerDirs.map((d) => d.layer.name)],
    hidden: [],
    copiedUp: false,
  });
  let dir: ParentDir = root;
  const parts = p === '' ? [] : p.split('/');
  for (const [i, name] of parts.entries()) {
    const cur = parts.slice(0, i + 1).join('/');
    const { found, hidden } = lookupName(stack, dir, name);
    const hiddenOut = hidden.map((h) => ({ layer: h.layer.name, kind: h.kind, path: h.path }));
    if (!found) {
      steps.push({ path: `/${cur}`, layer: 'none', real: '', type: 'other', merged: [], hidden: hiddenOut, copiedUp: false });
      break;
    }
    const layer = found.inUpper ? stack.upper! : (found.lower?.layer ?? stack.lowers[0]!);
    const real = stack.real(layer, cur);
    let copiedUp = false;
    let copiedFrom: string | undefined;
    if (found.inUpper) {
      copiedUp = sys.lgetxattrIfExists(real, stack.prefix + INO_XATTR) !== undefined || sys.lgetxattrIfExists(real, `${stack.prefix}origin`) !== undefined;
      if (copiedUp) copiedFrom = lookupName(stack, dir, name, { lowersOnly: true }).found?.lower?.layer.name;
    }
    steps.push({
      path: `/${cur}`,
      layer: layer.name,
      real,
      type: typeName(found.attr.mode),
      merged: found.isDir ? [...(found.inUpper ? ['upper'] : []), ...found.lowerDirs.map((d) => d.layer.name)] : [],
      hidden: hiddenOut,
      copiedUp,
      ...(copiedFrom ? { copiedFrom } : {}),
    });
    if (!found.isDir) break;
    dir = { path: cur, inUpper: found.inUpper, lowerDirs: found.lowerDirs };
  }
  return steps;
}

/** The human form: one line per component. */
export function formatExplain(steps: ExplainStep[]): string {
  return steps
    .map((s) => {
      let line = `${s.path}: `;
      if (s.layer === 'none') line += 'not found';
      else {
        line += `${s.type} in ${s.layer} (${s.real})`;
        if (s.merged.length > 1) line += `, merged from ${s.merged.join(' + ')}`;
        if (s.copiedUp) line += `, copied up${s.copiedFrom ? ` from ${s.copiedFrom}` : ''}`;
      }
      for (const h of s.hidden) {
        if (h.kind === 'non-dir') line += `; the ${h.layer} non-dir ${h.path} is hidden by the dir above`;
        else line += `; ${h.kind === 'whiteout' ? 'whiteout' : 'opaque dir'} in ${h.layer} (${h.path}) hides the layers below`;
      }
      return line;
    })
    .join('\n');
}
