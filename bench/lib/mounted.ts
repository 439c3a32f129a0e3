// A mount made for one measurement, whatever serves it, and how it is taken down.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { mountAt } from '../../src/fuse/mounts.js';
import { clearMount, unmount } from '../../src/fuse/unmount.js';
import { findDaemon, mustRun, spawnUntilReady, waitGone } from './proc.js';
import type { Workspace } from './workspace.js';

export interface Mounted {
  mountpoint: string;
  /** from the start of the mount command to a usable mount: the command has returned and
   * a readdir of the root has been answered through it (a mount that returned before
   * the kernel's INIT was answered pays the wait here) */
  readySeconds: number;
  /** the process serving a FUSE mount; undefined for the kernel's */
  daemonPid: number | undefined;
  unmount(): Promise<void>;
}

const TAG = 'STRATA_BENCH_MOUNT';
let tagCounter = 0;

/** umount2 with a few retries while something still holds the mount; lazy at last. */
async function unmountPatiently(mountpoint: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if (!mountAt(mountpoint)) return;
    try {
      unmount(mountpoint);
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EBUSY') throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  clearMount(mountpoint);
}

async function reap(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  if (!(await waitGone(pid, 5000))) {
    process.kill(pid, 'SIGKILL');
    await waitGone(pid, 2000);
  }
}

export interface BackgroundMount {
  cmd: string;
  args: string[];
  mountpoint: string;
  fuse: boolean;
  /** how this contender unmounts; default umount2 */
  unmount?: (mountpoint: string) => Promise<void>;
  /** the mount command's environment; default the bench's own, as the user has it */
  env?: NodeJS.ProcessEnv;
}

/** A mount command that returns once the mount is ready, leaving a daemon behind (or
 * none: the kernel's). */
export async function mountBackground(ws: Workspace, m: BackgroundMount): Promise<Mounted> {
  const tag = { name: TAG, value: `${process.pid}-${++tagCounter}` };
  const t0 = process.hrtime.bigint();
  await mustRun(m.cmd, m.args, { env: { ...(m.env ?? process.env), [tag.name]: tag.value } });
  if (!mountAt(m.mountpoint)) throw new Error(`${m.cmd} exited 0 but nothing is mounted at ${m.mountpoint}`);
  await fs.promises.readdir(m.mountpoint);
  const readySeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const daemonPid = m.fuse ? findDaemon(tag, m.mountpoint) : undefined;
  const undo = ws.defer(async () => {
    if (m.unmount) await m.unmount(m.mountpoint);
    else await unmountPatiently(m.mountpoint);
    await reap(daemonPid);
    if (mountAt(m.mountpoint)) clearMount(m.mountpoint);
  });
  return { mountpoint: m.mountpoint, readySeconds, daemonPid, unmount: undo };
}

/** A daemon that stays in the foreground and prints a ready line once mounted. */
export async function mountForeground(ws: Workspace, cmd: string, args: string[], mountpoint: string, ready: RegExp): Promise<Mounted> {
  let child: ChildProcess | undefined;
  const undo = ws.defer(async () => {
    // the daemon's own SIGTERM path unmounts and exits, as a user's Ctrl-C would
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await reap(child?.pid);
    await unmountPatiently(mountpoint);
  });
  try {
    const started = await spawnUntilReady(cmd, args, ready);
    child = started.child;
    return { mountpoint, readySeconds: started.seconds, daemonPid: child.pid, unmount: undo };
  } catch (e) {
    await undo();
    throw e;
  }
}
