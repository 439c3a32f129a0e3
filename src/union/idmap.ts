// fuse-overlayfs's uidmapping=/gidmapping= and squash_to_root: files on disk keep host ids,
// the mount shows the mapped (inside) ids.
import type { IdMapping } from './types.js';

/** Ids outside every range show as the overflow id, as the kernel shows unmapped ids. */
const OVERFLOW_ID = 65534;

export class IdMap {
  constructor(
    private readonly ranges: readonly IdMapping[] | undefined,
    private readonly squash = false,
  ) {}

  /** every id shows as it is on disk */
  get isIdentity(): boolean {
    return !this.squash && !this.ranges;
  }

  /** host id on disk -> id the mount shows */
  toInside(id: number): number {
    if (this.squash) return 0;
    if (!this.ranges) return id;
    for (const r of this.ranges) if (id >= r.outside && id < r.outside + r.count) return r.inside + (id - r.outside);
    return OVERFLOW_ID;
  }

  /** id a caller asked for (or runs as) -> host id to write on disk */
  toHost(id: number): number {
    if (id === -1 || id === 0xffffffff || !this.ranges) return id;
    for (const r of this.ranges) if (id >= r.inside && id < r.inside + r.count) return r.outside + (id - r.inside);
    return OVERFLOW_ID;
  }
}
