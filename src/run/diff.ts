// `strata diff`: the container layer (its upper dir) against the image's layers, as
// Docker prints it: A added, C changed, D deleted (a whiteout, or what an opaque
// directory hides). What the runtime itself put there is left out, as commit leaves it out.
import path from 'node:path';
import { isDir, isReg, lstat, readdirNames } from '../sys/index.js';
import { isMarker, isOpaque, isWhiteout, lowerHas, lowerList, OPQ } from './layers.js';
import { findContainer, layout, type ContainerConfig } from './state.js';

export interface Change {
  kind: 'A' | 'C' | 'D';
  path: string;
}

/** Upper-dir paths the runtime wrote (mountpoints and the /etc files it binds over). */
export function runtimePaths(c: Pick<ContainerConfig, 'volumes'>): string[] {
  return ['dev', 'proc', 'sys', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', ...c.volumes.map((v) => v.target.replace(/^\/+/, ''))];
}

const under = (rel: string, p: string): boolean => rel === p || rel.startsWith(p + '/');

export function changes(upper: string, lowers: string[], skip: string[] = []): Change[] {
  const out: Change[] = [];
  /** Adds the changes under REL; answers whether there were any. */
  const walk = (rel: string): boolean => {
    const before = out.length;
    const dir = path.join(upper, rel);
    for (const name of readdirNames(dir).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstat(path.join(upper, r));
      if (isMarker(name)) {
        // .wh.NAME files are the OCI form of a whiteout; other markers are bookkeeping
        // (fuse-overlayfs also leaves a whiteout named .wh..opq in opaque dirs)
        const target = name.slice(4);
        if (isReg(st.mode) && name !== OPQ && !skip.some((s) => under(rel ? `${rel}/${target}` : target, s)))
          out.push({ kind: 'D', path: `/${rel ? `${rel}/` : ''}${target}` });
        continue;
      }
      if (skip.some((s) => under(r, s))) continue;
      if (isWhiteout(st)) {
        out.push({ kind: 'D', path: '/' + r });
        continue;
      }
      const below = lowerHas(lowers, r);
      if (!isDir(st.mode)) {
        out.push({ kind: below ? 'C' : 'A', path: '/' + r });
        continue;
      }
      const at = out.length;
      out.push({ kind: below ? 'C' : 'A', path: '/' + r });
      let changed = !below;
      if (below && isOpaque(path.join(upper, r))) {
        const mine = new Set(readdirNames(path.join(upper, r)));
        for (const n of lowerList(lowers, r)) if (!mine.has(n)) (out.push({ kind: 'D', path: `/${r}/${n}` }), (changed = true));
      }
      // a directory copied up only to hold the runtime's mountpoints is no change (an
      // empty one was copied up for its own metadata)
      const inner = walk(r);
      if (!inner && !changed && readdirNames(path.join(upper, r)).length > 0) out.splice(at, 1);
    }
    return out.length > before;
  };
  walk('');
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

export function containerChanges(root: string, ref: string): Change[] {
  const c = findContainer(root, ref);
  return changes(layout(c.dir).upper, c.config.lowers, runtimePaths(c.config));
}
