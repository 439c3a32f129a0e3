// A read-only view of an image's files straight from its extracted layer dirs (overlay
// format, top first): whiteouts (char 0/0 or .wh.NAME) hide, opaque dirs cut off the
// layers below. The builder needs it to read a stage's files for COPY --from, /etc/passwd
// for --chown and "is the destination a directory" without mounting anything.
import path from 'node:path';
import * as sys from '../sys/index.js';
import { WH_OPAQUE as OPQ, WH_PREFIX as WH } from '../image/overlay-format.js';
import { isOpaque, isWhiteout } from '../run/layers.js';

export { isOpaque, isWhiteout };

export interface FileNode {
  /** where its bytes are on the host (layer file, context file) */
  hostPath: string;
  attr: sys.Attr;
}

export class LayerView {
  constructor(readonly layers: readonly string[]) {}

  /** The layers that hold the directory rel (rel '' = root), top first; undefined when
   * rel is not a directory in the merged view. */
  private dirLayers(rel: string): string[] | undefined {
    let visible = [...this.layers];
    if (!rel) return visible;
    let prefix = '';
    for (const part of rel.split('/')) {
      prefix = prefix ? `${prefix}/${part}` : part;
      const next: string[] = [];
      for (const layer of visible) {
        const p = path.join(layer, prefix);
        const a = sys.lstatIfExists(p);
        if (!a) {
          if (sys.lstatIfExists(path.join(layer, path.dirname(prefix), WH + part))) break;
          continue;
        }
        if (!sys.isDir(a.mode)) {
          if (next.length === 0) return undefined; // the top entry is a file or whiteout
          break;
        }
        next.push(layer);
        if (isOpaque(p)) break;
      }
      if (next.length === 0) return undefined;
      visible = next;
    }
    return visible;
  }

  /** The topmost entry at rel, as lstat sees it (symlinks not followed). */
  lstat(rel: string): FileNode | undefined {
    if (!rel) {
      const top = this.layers[0];
      return top === undefined ? undefined : { hostPath: top, attr: sys.lstat(top) };
    }
    const parent = this.dirLayers(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
    if (!parent) return undefined;
    const base = path.posix.basename(rel);
    for (const layer of parent) {
      const p = path.join(layer, rel);
      const a = sys.lstatIfExists(p);
      if (a) return isWhiteout(a) ? undefined : { hostPath: p, attr: a };
      if (sys.lstatIfExists(path.join(path.dirname(p), WH + base))) return undefined;
    }
    return undefined;
  }

  /** The merged names of directory rel, sorted. */
  readdir(rel: string): string[] {
    const layers = this.dirLayers(rel);
    if (!layers) throw new sys.SysError(sys.E.ENOTDIR, 'readdir', rel);
    const seen = new Set<string>();
    const names: string[] = [];
    for (const layer of layers) {
      for (const d of sys.readdir(path.join(layer, rel))) {
        const name = d.name;
        if (name === OPQ) continue;
        const hidden = name.startsWith(WH) ? name.slice(WH.length) : undefined;
        const key = hidden ?? name;
        if (seen.has(key)) continue;
        seen.add(key);
        if (hidden !== undefined) continue;
        if (d.isCharacterDevice() && isWhiteout(sys.lstat(path.join(layer, rel, name)))) continue;
        names.push(name);
      }
    }
    return names.sort();
  }

  isDir(rel: string): boolean {
    return this.dirLayers(rel) !== undefined;
  }
}
