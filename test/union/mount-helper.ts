// Mounting Strata through its command line for tests, always unmounted in teardown.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { distDir, isMounted, sh } from '../helpers/daemon.js';
import { clearMount } from '../../src/fuse/unmount.js';
import type { Layers } from './layers.js';
import type { SessionStats } from '../../src/fuse/native.js';

export const mainJs = path.join(distDir, 'src/cli/main.js');
export const overlayJs = path.join(distDir, 'src/cli/overlay.js');

/** A mount's counters, as its strata.session xattr shows them (src/fuse/union.ts). */
export type MountSession = SessionStats & { writeback: number; backingFailures: number; listingsReadAhead: number; repliesBuiltAhead: number; repliesUsedAhead: number };

export function sessionOf(mnt: string): MountSession {
  return JSON.parse(sh(`getfattr --only-values --absolute-names -n strata.session ${mnt}`).out) as MountSession;
}

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function runNode(script: string, args: string[]): Run {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Unmounts mnt and stops its daemon when the test ends, passed or failed. */
export function cleanupMount(t: ExecutionContext, mnt: string, pid?: () => number | undefined): void {
  t.teardown(async () => {
    try {
      if (isMounted(mnt)) spawnSync(process.execPath, [mainJs, 'umount', mnt]);
    } catch {
      // cleared below
    }
    try {
      clearMount(mnt);
    } catch {
      spawnSync('umount', ['-l', mnt]);
    }
    const p = pid?.();
    if (p) {
      for (let i = 0; i < 50; i++) {
        try {
          process.kill(p, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

export function layerOptions(l: Layers, extra: string[] = []): string {
  return [`lowerdir=${l.lowers.join(':')}`, `upperdir=${l.upper}`, `workdir=${l.work}`, ...extra].join(',');
}

/** `strata mount -o ... MNT --print-pid`; returns the daemon pid. */
export function mountStrata(t: ExecutionContext, l: Layers, extra: string[] = [], opts: string | undefined = undefined): number {
  let pid: number | undefined;
  cleanupMount(t, l.mnt, () => pid);
  const r = runNode(mainJs, ['mount', '-o', opts ?? layerOptions(l, extra), l.mnt, '--print-pid']);
  if (r.code !== 0) throw new Error(`strata mount failed (${r.code}): ${r.err}`);
  pid = Number(r.out.trim());
  return pid;
}

/** Mounts the kernel's overlayfs over the same dirs (to check the on-disk format). */
export function mountKernel(t: ExecutionContext, lowers: string[], upper: string, work: string, mnt: string): void {
  t.teardown(() => void spawnSync('umount', [mnt]));
  const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`, mnt], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -t overlay failed: ${r.stderr}`);
}
