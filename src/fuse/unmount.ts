// Unmounting a FUSE mount, live or dead (a killed daemon leaves ENOTCONN behind).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { C, E, SysError, umount2, errnoFrom } from '../sys/index.js';
import { mountAt } from './mounts.js';

/** Unmounts MOUNTPOINT: umount2 where we may (root, or root of a user namespace that
 * owns the mount), fusermount3 otherwise. Lazy detaches a busy mount at once. */
export function unmount(mountpoint: string, opts: { lazy?: boolean } = {}): void {
  const abs = path.resolve(mountpoint);
  try {
    umount2(abs, opts.lazy ? C.MNT_DETACH : 0);
    return;
  } catch (e) {
    const errno = errnoFrom(e);
    if (errno !== E.EPERM) throw e;
  }
  const r = spawnSync('fusermount3', ['-u', ...(opts.lazy ? ['-z'] : []), '-q', abs], { encoding: 'utf8' });
  if (r.status !== 0) {
    const msg = (r.stderr || r.error?.message || 'fusermount3 failed').trim();
    throw new SysError(/busy/i.test(msg) ? E.EBUSY : E.EPERM, 'fusermount3 -u', abs, msg);
  }
}

/** Clears whatever FUSE mount sits at MOUNTPOINT, even a dead one; false if none. */
export function clearMount(mountpoint: string): boolean {
  const m = mountAt(mountpoint);
  if (!m || !m.fstype.startsWith('fuse')) return false;
  unmount(mountpoint, { lazy: true });
  return true;
}
