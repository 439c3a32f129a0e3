// The core types of the union engine, shared by every file of src/union (the kernel's
// ovl_entry.h / overlayfs.h in spirit). Nothing here touches a layer.
import type { Attr } from '../sys/index.js';

/** One directory of the stack: the upper (writable) one or a lower (read-only) one. */
export interface Layer {
  /** 0 for the upper, 1.. for the lowers, top first (lower 1 = leftmost lowerdir) */
  readonly index: number;
  /** 'upper' or 'lower N', as trace and explain print it */
  readonly name: string;
  readonly root: string;
}

/** A directory of some lower layer that a merged directory draws entries from. */
export interface LowerDir {
  readonly layer: Layer;
  readonly path: string;
  /** an opaque marker here: layers further down do not merge in */
  readonly opaque: boolean;
}

/** What hid what during a lookup, for `strata explain`. */
export interface Hiding {
  readonly layer: Layer;
  readonly kind: 'whiteout' | 'opaque' | 'non-dir';
  readonly path: string;
}

/** The result of looking a name up through the layers (namei). */
export interface Resolution {
  readonly isDir: boolean;
  /** the entry exists in the upper at upperPath */
  readonly inUpper: boolean;
  /** the real attr of the topmost real file (upper if inUpper, else the lower) */
  readonly attr: Attr;
  /** the topmost lower entry this one covers: origin of a copy-up, lower file of a lower-only one */
  readonly lower?: { readonly layer: Layer; readonly path: string; readonly attr: Attr };
  /** dirs: the lower dirs merged, top first */
  readonly lowerDirs: readonly LowerDir[];
  /** dirs: the upper dir carries an opaque marker */
  readonly opaque: boolean;
  readonly hidden: readonly Hiding[];
}

/** Who asks: the caller's ids (already mapped to host ids) and umask. */
export interface Caller {
  uid: number;
  gid: number;
  umask: number;
}

/** Everything a union mount is made of, validated (see params.ts). */
export interface UnionConfig {
  lowers: string[];
  upper?: string;
  work?: string;
  mountpoint?: string;
  /** write opaque markers and private xattrs as user.overlay.* (rootless, the kernel's userxattr) */
  userxattr?: boolean;
  /** no fsync at copy-up (volatile / fsync=0) */
  volatile?: boolean;
  /** kernel cache timeout in seconds for entries and attributes */
  timeout: number;
  uidMap?: IdMapping[];
  gidMap?: IdMapping[];
  squashToRoot?: boolean;
  trace?: string;
  readOnly: boolean;
}

/** One range of a fuse-overlayfs uidmapping=/gidmapping=: mount ids -> host ids. */
export interface IdMapping {
  inside: number;
  outside: number;
  count: number;
}


export type { AttrChange } from '../sys/index.js';
