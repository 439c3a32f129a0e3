// --squash: the layers a stage added, merged into one overlay-format dir on top of its
// base. Whiteouts of paths the base has stay whiteouts; the rest of them just delete.
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../sys/index.js';
import { isPrivileged, makeWhiteout, setOpaque } from '../image/overlay-format.js';
import { LayerView, isOpaque, isWhiteout } from './layerview.js';

function copyMeta(from: string, to: string, a: sys.Attr): void {
  sys.lchown(to, a.uid, a.gid);
  if (!sys.isLnk(a.mode)) sys.chmod(to, a.mode);
  for (const x of sys.llistxattr(from)) {
    if (x.startsWith('trusted.overlay.') || x.startsWith('user.overlay.') || x.startsWith('user.fuseoverlayfs.')) continue;
    sys.lsetxattr(to, x, sys.lgetxattr(from, x));
  }
  sys.lutimens(to, a.atime, a.atimeNsec, a.mtime, a.mtimeNsec);
}

/** layers: the stage's own layer dirs, TOP FIRST; base: the layers under them. */
export function squashLayers(layers: readonly string[], base: readonly string[], out: string): void {
  const baseView = new LayerView(base);
  const privileged = isPrivileged();
  // the topmost layer's metadata wins; set deepest first, as writing a child changes a dir's mtime
  const dirMeta = new Map<string, [string, sys.Attr]>();
  const apply = (layer: string, rel: string): void => {
    for (const name of sys.readdirNames(path.join(layer, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const src = path.join(layer, r);
      const dst = path.join(out, r);
      const a = sys.lstat(src);
      const have = sys.lstatIfExists(dst);
      if (isWhiteout(a)) {
        if (have) fs.rmSync(dst, { recursive: true, force: true });
        if (baseView.lstat(r)) makeWhiteout(dst);
        continue;
      }
      if (sys.isDir(a.mode)) {
        const isOpq = isOpaque(src);
        if (have && (!sys.isDir(have.mode) || isOpq)) fs.rmSync(dst, { recursive: true, force: true });
        if (!sys.lstatIfExists(dst)) sys.mkdir(dst, 0o700);
        // rootless, trusted.* is refused: user.overlay.opaque, as the kernel's userxattr reads
        if (isOpq && baseView.isDir(r)) setOpaque(dst, privileged);
        apply(layer, r);
        dirMeta.set(dst, [src, a]);
        continue;
      }
      if (have) fs.rmSync(dst, { recursive: true, force: true });
      if (sys.isLnk(a.mode)) sys.symlink(sys.readlink(src), dst);
      else if (sys.isReg(a.mode)) fs.copyFileSync(src, dst, fs.constants.COPYFILE_FICLONE);
      else sys.mknod(dst, a.mode, Number(a.rdev));
      copyMeta(src, dst, a);
    }
  };
  for (const layer of [...layers].reverse()) apply(layer, '');
  const depth = (p: string): number => p.split('/').length;
  for (const [dst, [src, a]] of [...dirMeta].sort((x, y) => depth(y[0]) - depth(x[0]))) copyMeta(src, dst, a);
}
