// Known, subject-specific divergences from the kernel, each with why. Nothing here is
// skipped silently: every hit is logged with t.log; this is the list of what to fix next.
import type { ExecutionContext } from 'ava';
import type { Entry } from '../helpers/snapshot.js';
import type { Subject } from '../helpers/union.js';
import type { Op, OpResult } from './ops.js';

interface TreeDivergence {
  subject: Subject;
  id: string;
  matches: (p: string, field: keyof Entry | 'links', kernel?: Entry, other?: Entry) => boolean;
}

interface OpDivergence {
  subject: Subject;
  id: string;
  matches: (op: Op, kernel: OpResult, other: OpResult) => boolean;
}

const TREE: TreeDivergence[] = [
  // fuse-overlayfs 1.10 copies a symlink up without its times: chown/setxattr on a lower
  // symlink leave it with the copy-up time as mtime (the kernel keeps the lower's)
  { subject: 'fuse-overlayfs', id: 'symlink copy-up loses mtime', matches: (_p, f, a) => f === 'mtimeNs' && a?.type === 'symlink' },
  // fuse-overlayfs 1.10 breaks hard links on copy-up (the kernel keeps them with index=on):
  // after a write through one name the other keeps the old data, nlink and link groups differ
  {
    subject: 'fuse-overlayfs',
    id: 'copy-up breaks hard links',
    matches: (_p, f, a, b) => linkedFile(f, a, b),
  },
  // fuse-overlayfs 1.10 writes marker files and xattrs the kernel shows as ordinary ones:
  // `.wh..wh..opq` files in opaque dirs and user.fuseoverlayfs.origin on renamed entries
  // (Strata must never do this: DESIGN.md, "Never write marker files the kernel would show")
  {
    subject: 'fuse-overlayfs',
    id: "its upper shows .wh..wh..opq files and user.fuseoverlayfs.* xattrs through the kernel",
    matches: (p, f, a, b) =>
      /(^|\/)\.wh\.(\.wh\.)?\.opq$/.test(p) ||
      (f === 'xattrs' && a !== undefined && b !== undefined && JSON.stringify(dropFuseOverlayfs(a.xattrs)) === JSON.stringify(dropFuseOverlayfs(b.xattrs))),
  },
];

const dropFuseOverlayfs = (x: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(x).filter(([k]) => !k.startsWith('user.fuseoverlayfs.')));

/** Op kinds a subject is known to get wrong in ways that spoil every later comparison;
 * the generator leaves them out for that subject (logged at the start of each run). */
export const AVOIDED: { subject: Subject; id: string; avoid: (op: Op) => boolean }[] = [
  // fuse-overlayfs 1.10: RENAME_EXCHANGE of lower entries leaves no whiteouts, so a file
  // exchanged and then unlinked comes back from the lower (seed 3 found it)
  { subject: 'fuse-overlayfs', id: 'RENAME_EXCHANGE loses whiteouts', avoid: (op) => op.op === 'rename' && op.flags === 'exchange' },
];

const OPS: OpDivergence[] = [];

/** A short reason when SUBJECT's answer B to OP differs from the kernel's A in a known way. */
export function knownOpDivergence(subject: Subject, op: Op, a: OpResult, b: OpResult): string | undefined {
  return OPS.find((d) => d.subject === subject && d.matches(op, a, b))?.id;
}

const linkedFile = (f: keyof Entry | 'links', a?: Entry, b?: Entry): boolean =>
  f === 'links' || (a !== undefined && b !== undefined && a.type === 'file' && b.type === 'file' && (a.nlink > 1 || b.nlink > 1));

/** diffSnapshots' ignore for SUBJECT: known per-field differences, each logged once per test. */
export function knownTreeDivergence(subject: Subject, t: ExecutionContext): (p: string, field: keyof Entry | 'links', a?: Entry, b?: Entry) => boolean {
  const seen = new Set<string>();
  const list = TREE.filter((x) => x.subject === subject);
  return (p, field, a, b) => {
    const d = list.find((x) => x.matches(p, field, a, b));
    if (!d) return false;
    const differs = field === 'links' || JSON.stringify(a?.[field]) !== JSON.stringify(b?.[field]);
    if (differs && !seen.has(d.id)) t.log(`known ${subject} divergence: ${d.id} (first at ${p} ${field})`);
    if (differs) seen.add(d.id);
    return true;
  };
}

/**
 * The kernel's own inode-cache artifact, rootless only (index=off): each name of a hard link
 * gets an overlay inode of its own, whose cached mode changes only through that name. A chmod
 * u+s through one name leaves the other's cached mode without the bit, and truncate (or open
 * O_TRUNC) through the other name then keeps the suid/sgid bits the VFS would clear; after a
 * remount (or with index=on, one inode for all names) the kernel clears them. A write clears
 * them either way (the upper file decides that, with its real mode). Strata always decides on
 * the file's real mode, as the kernel does with a fresh inode. Holds only for LINKED (names a
 * link op named), when the kernel has suid/sgid bits the subject lacks and nothing else differs.
 */
export function staleSetidOfAnotherName(linked: ReadonlySet<string>): (p: string, field: keyof Entry | 'links', kernel?: Entry, other?: Entry) => boolean {
  return (p, field, kernel, other) => {
    if (field !== 'mode' || !linked.has(p) || kernel?.type !== 'file' || other?.type !== 'file') return false;
    const lost = kernel.mode & ~other.mode;
    return lost !== 0 && (lost & ~0o6000) === 0 && (other.mode & ~kernel.mode) === 0;
  };
}
