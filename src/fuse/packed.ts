// Entries, attrs and open flags packed for the addon's packed replies: doubles at the
// fixed offsets native/src/session.c reads (PK_*), one buffer reused by every reply.
// Reading an entry's ~20 named properties from C cost more than the kernel's write of
// the reply (perf of 20,000 cold lookups: 10.5% of the daemon's CPU against 7.4%).
import type { Attr } from '../sys/native.js';
import type { EntryParam, OpenReplyFlags } from './native.js';

export const PK = {
  NODEID: 0, GENERATION: 1, ATTR_TIMEOUT: 2, ENTRY_TIMEOUT: 3, HAS_ATTR: 4,
  INO: 5, MODE: 6, NLINK: 7, UID: 8, GID: 9, RDEV: 10, SIZE: 11, BLOCKS: 12, BLKSIZE: 13,
  ATIME: 14, ATIME_NSEC: 15, MTIME: 16, MTIME_NSEC: 17, CTIME: 18, CTIME_NSEC: 19,
  LEN: 20,
} as const;

/** The buffer every packed reply is built in (replies are sent at once, one at a time). */
export const packed = new Float64Array(PK.LEN);

/** Packs attr (and timeout as its attr timeout); false when a field needs a bigint,
 * which a double cannot hold exactly: such a reply takes the object path. */
export function packAttr(b: Float64Array, a: Attr, timeout: number): boolean {
  if (typeof a.ino !== 'number' || typeof a.rdev !== 'number') return false;
  b[PK.ATTR_TIMEOUT] = timeout;
  b[PK.HAS_ATTR] = 1;
  b[PK.INO] = a.ino;
  b[PK.MODE] = a.mode;
  b[PK.NLINK] = a.nlink;
  b[PK.UID] = a.uid;
  b[PK.GID] = a.gid;
  b[PK.RDEV] = a.rdev;
  b[PK.SIZE] = a.size;
  b[PK.BLOCKS] = a.blocks;
  b[PK.BLKSIZE] = a.blksize;
  b[PK.ATIME] = a.atime;
  b[PK.ATIME_NSEC] = a.atimeNsec;
  b[PK.MTIME] = a.mtime;
  b[PK.MTIME_NSEC] = a.mtimeNsec;
  b[PK.CTIME] = a.ctime;
  b[PK.CTIME_NSEC] = a.ctimeNsec;
  return true;
}

/** Packs an entry as the object path reads it (timeouts default to 1 s); false when it
 * needs a bigint. */
export function packEntry(b: Float64Array, e: EntryParam): boolean {
  if (typeof e.ino !== 'number') return false;
  if (e.attr) {
    if (!packAttr(b, e.attr, e.attrTimeout ?? 1)) return false;
  } else {
    b.fill(0, PK.HAS_ATTR);
    b[PK.ATTR_TIMEOUT] = e.attrTimeout ?? 1;
  }
  b[PK.NODEID] = e.ino;
  b[PK.GENERATION] = e.generation ?? 0;
  b[PK.ENTRY_TIMEOUT] = e.entryTimeout ?? 1;
  return true;
}

/** An open reply's flags as the bits PK_DIRECT_IO... of session.c. */
export function openBits(f: OpenReplyFlags): number {
  return (f.directIo ? 1 : 0) | (f.keepCache ? 2 : 0) | (f.nonseekable ? 4 : 0) | (f.cacheReaddir ? 8 : 0) | (f.noflush ? 16 : 0);
}
