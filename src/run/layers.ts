// Reading overlay-format layers: whiteouts (char 0/0 or .wh.NAME), opaque directories
// (the xattrs the kernel and fuse-overlayfs write, or .wh..wh..opq), and what a stack of
// lower layers shows at a path.
import path from 'node:path';
import { isDir, lstatIfExists, readdirNames } from '../sys/index.js';
import { isOpaqueDir, isWhiteoutAttr as isWhiteout, WH_OPAQUE as OPQ, WH_PREFIX as WH } from '../image/overlay-format.js';

export { isWhiteout, OPQ };

/** an opaque dir of any writer: the kernel (trusted./user.), fuse-overlayfs, or the OCI marker */
export function isOpaque(dir: string): boolean {
  return isOpaqueDir(dir) || lstatIfExists(path.join(dir, OPQ)) !== undefined;
}

/** A name in a layer dir that is bookkeeping, not a file of the tree. */
export const isMarker = (name: string): boolean => name.startsWith(WH);

/** Whether REL ('etc/passwd') exists in the union of LOWERS (top first). */
export function lowerHas(lowers: string[], rel: string): boolean {
  const parts = rel.split('/').filter(Boolean);
  for (const layer of lowers) {
    let dir = layer;
    let opaqueAbove = false;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      if (lstatIfExists(path.join(dir, WH + name))) return false;
      const p = path.join(dir, name);
      const st = lstatIfExists(p);
      if (!st) break;
      if (isWhiteout(st)) return false;
      if (i === parts.length - 1) return true;
      if (!isDir(st.mode)) return false;
      if (isOpaque(p)) opaqueAbove = true;
      dir = p;
    }
    if (opaqueAbove) return false;
  }
  return false;
}

/** The names the union of LOWERS shows in directory REL. */
export function lowerList(lowers: string[], rel: string): string[] {
  const seen = new Set<string>();
  const hidden = new Set<string>();
  for (const layer of lowers) {
    const dir = path.join(layer, rel);
    const st = lstatIfExists(dir);
    if (!st) continue;
    if (!isDir(st.mode)) break;
    for (const n of readdirNames(dir)) {
      if (n === OPQ) continue;
      if (n.startsWith(WH)) {
        hidden.add(n.slice(WH.length));
        continue;
      }
      const a = lstatIfExists(path.join(dir, n));
      if (a && isWhiteout(a)) hidden.add(n);
      else if (!hidden.has(n)) seen.add(n);
    }
    if (isOpaque(dir)) break;
  }
  return [...seen].sort();
}

/** fuse-overlayfs marks each directory it makes opaque three ways: the xattr, a
 * .wh..wh..opq file and a char 0/0 whiteout named .wh..opq. The last hides nothing a layer
 * can hold, and an OCI layer cannot carry a whiteout of a whiteout-like name: commit leaves
 * these out (the other two markers keep the directory opaque). Paths relative to UPPER. */
export function mountProgramMarkers(upper: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirNames(path.join(upper, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatIfExists(path.join(upper, r));
    if (!st) continue;
    if (name === `${WH}.opq` && isWhiteout(st)) out.push(r);
    else if (isDir(st.mode)) out.push(...mountProgramMarkers(upper, r));
  }
  return out;
}
