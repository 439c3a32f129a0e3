// The layer stack of one mount (the kernel's super.c): the upper, the work dir and the
// lowers, and the xattr namespace this mount writes its private names in.
import path from 'node:path';
import fs from 'node:fs';
import * as sys from '../sys/index.js';
import type { Layer, UnionConfig } from './types.js';

/** statfs f_type of filesystems that may sit on other ones: overlayfs, FUSE, ecryptfs */
const STACKED_FS = new Set([0x794c7630, 0x65735546, 0xf15f]);

export const TRUSTED_PREFIX = 'trusted.overlay.';
export const USER_PREFIX = 'user.overlay.';

/** dir/name for a real directory and one name (or a relative path of names): no
 * normalisation, which is path.join's cost on every lookup. */
export const joinReal = (dir: string, name: string): string => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

export class Stack {
  readonly upper: Layer | undefined;
  readonly lowers: readonly Layer[];
  /** workdir/work: where copy-ups and markers are built before their rename into place */
  readonly work: string | undefined;
  /** the namespace of the private xattrs this mount writes (opaque, origin) */
  readonly prefix: string;
  private tmpSeq = 0;
  private readonly dIno = new Map<Layer, boolean>();

  constructor(config: UnionConfig) {
    this.upper = config.upper !== undefined ? { index: 0, name: 'upper', root: path.resolve(config.upper) } : undefined;
    this.lowers = config.lowers.map((root, i) => ({ index: i + 1, name: `lower ${i + 1}`, root: path.resolve(root) }));
    this.work = config.work !== undefined ? path.join(config.work, 'work') : undefined;
    this.prefix = config.userxattr ? USER_PREFIX : TRUSTED_PREFIX;
  }

  /** the real path of merged path p (relative, '' for the root) in a layer */
  real(layer: Layer, p: string): string {
    return p === '' ? layer.root : joinReal(layer.root, p);
  }

  upperPath(p: string): string {
    if (!this.upper) throw new sys.SysError(sys.E.EROFS, 'write', p);
    return this.real(this.upper, p);
  }

  /** a fresh name in workdir/work for something being built */
  tmpPath(): string {
    if (!this.work) throw new sys.SysError(sys.E.EROFS, 'write');
    return path.join(this.work, `#${process.pid.toString(36)}-${(this.tmpSeq++).toString(36)}`);
  }

  /** Whether readdir's d_ino of a layer's entries is the st_ino its lstat shows: true but
   * on a stacked filesystem (overlayfs or FUSE below us may answer readdir and stat with
   * different numbers). Asked once per layer. */
  dInoExact(layer: Layer): boolean {
    let v = this.dIno.get(layer);
    if (v === undefined) {
      try {
        v = !STACKED_FS.has(fs.statfsSync(layer.root).type);
      } catch {
        v = false;
      }
      this.dIno.set(layer, v);
    }
    return v;
  }

  layerNamed(root: string): Layer | undefined {
    if (this.upper?.root === root) return this.upper;
    return this.lowers.find((l) => l.root === root);
  }
}

/** Whether this mount may write trusted.* xattrs on the work dir (root outside a user
 * namespace); if not, private names go to user.overlay.* as the kernel's userxattr does. */
export function detectUserxattr(workdir: string): boolean {
  const probe = path.join(workdir, 'work');
  try {
    sys.lsetxattr(probe, `${TRUSTED_PREFIX}strata.probe`, Buffer.from('y'));
    sys.lremovexattr(probe, `${TRUSTED_PREFIX}strata.probe`);
    return false;
  } catch {
    return true;
  }
}

/** Creates workdir/work, emptied of anything a crash left half built. */
export function prepareWorkdir(workdir: string): void {
  const work = path.join(workdir, 'work');
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  for (const name of fs.readdirSync(work)) fs.rmSync(path.join(work, name), { recursive: true, force: true });
}
