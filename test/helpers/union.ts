// Mounting a union with the kernel's overlayfs, Strata or fuse-overlayfs over the same
// layers, and always taking it down again (also when the test failed or the daemon died).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import * as sys from '../../src/sys/index.js';
import { listMounts, mountAt } from '../../src/fuse/mounts.js';
import { distDir } from './daemon.js';

export type UnionKind = 'kernel' | 'strata' | 'fuse-overlayfs';
/** 'kernel' as the subject checks the harness itself: the kernel against itself must agree */
export type Subject = UnionKind;

export interface UnionSpec {
  /** top first, as lowerdir= takes them */
  lowers: string[];
  upper?: string;
  work?: string;
  mnt: string;
  /** the kernel's rootless form: opaque and other private xattrs under user.overlay. */
  userxattr?: boolean;
}

export interface MountedUnion {
  kind: UnionKind;
  spec: UnionSpec;
  /** unmounts if still mounted and (unless wait is false) waits for a FUSE daemon to
   * exit; safe to call twice */
  unmount: (opts?: { wait?: boolean }) => void;
}

/** The union under test: env STRATA_COMPAT_SUBJECT=strata|fuse-overlayfs, default strata. */
export function subjectFromEnv(): Subject {
  const s = process.env.STRATA_COMPAT_SUBJECT ?? 'strata';
  if (s !== 'strata' && s !== 'fuse-overlayfs' && s !== 'kernel') throw new Error(`STRATA_COMPAT_SUBJECT=${s}: want strata, fuse-overlayfs or kernel`);
  return s;
}

/** strata's CLI: env STRATA_BIN (e.g. another worktree's build), else this build's. */
export const strataBin = (): string => process.env.STRATA_BIN ?? path.join(distDir, 'src/cli/main.js');

/** Why SUBJECT cannot be mounted on this machine or build, or undefined when it can. */
export function subjectUnavailable(subject: Subject): string | undefined {
  if (subject === 'kernel') return undefined;
  if (subject === 'fuse-overlayfs') {
    return spawnSync('fuse-overlayfs', ['--version']).status === 0 ? undefined : 'fuse-overlayfs is not installed';
  }
  const bin = strataBin();
  if (!fs.existsSync(bin)) return `${bin} does not exist`;
  // `mount --help` exits 0 even without the command (yargs' global help): read the list
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  if (r.status !== 0 || !/^\s+strata mount\b/m.test(r.stdout)) return `${bin} has no working 'mount' command yet (set STRATA_COMPAT_SUBJECT=fuse-overlayfs)`;
  return undefined;
}

export function optionString(kind: UnionKind, spec: UnionSpec): string {
  const o = [`lowerdir=${spec.lowers.join(':')}`];
  if (spec.upper) o.push(`upperdir=${spec.upper}`, `workdir=${spec.work}`);
  if (kind === 'kernel') {
    // index=on keeps hard links linked across copy-up; redirect_dir=off makes a merged
    // directory rename answer EXDEV: the behaviour the issue specifies
    // In a user namespace the kernel has no file handles (it falls back to index=off) and
    // userxattr conflicts with redirect_dir=off, which this kernel reads as "follow".
    if (spec.userxattr) o.push('userxattr', 'index=off', 'redirect_dir=nofollow');
    else if (spec.upper) o.push('index=on', 'redirect_dir=off');
  }
  return o.join(',');
}

export function mountArgv(kind: UnionKind, spec: UnionSpec): string[] {
  const opts = optionString(kind, spec);
  switch (kind) {
    case 'kernel': return ['mount', '-t', 'overlay', 'overlay', '-o', opts, spec.mnt];
    case 'fuse-overlayfs': return ['fuse-overlayfs', '-o', opts, spec.mnt];
    case 'strata': return [process.execPath, strataBin(), 'mount', '-o', opts, spec.mnt];
  }
}

/** Processes whose command line names MNT: the FUSE daemon serving it (MNT is a unique temp path). */
export function daemonPids(mnt: string): number[] {
  const abs = path.resolve(mnt);
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      // strata's daemon takes its config as one JSON argument
      const names = (a: string): boolean => a === abs || a.includes(JSON.stringify(abs));
      if (argv.some(names) && !argv.includes('umount')) pids.push(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Unmounts whatever is at MNT (a dead FUSE mount too), then waits up to 5 s for its daemons
 * (fuse-overlayfs takes ~1.5 s to exit after the unmount) unless PIDS is empty. */
export function unmountAt(mnt: string, pids: number[] = daemonPids(mnt)): void {
  for (let i = 0; i < 20 && mountAt(mnt); i++) {
    try {
      sys.umount2(mnt, 0);
    } catch (e) {
      // busy or a dead FUSE connection: detach it, the kernel finishes when it can
      if (i >= 2) {
        try {
          sys.umount2(mnt, sys.C.MNT_DETACH);
        } catch {
          spawnSync('fusermount3', ['-u', '-z', '-q', mnt]);
        }
      } else if (sys.errnoFrom(e) !== sys.E.EBUSY) {
        spawnSync('fusermount3', ['-u', '-q', mnt]);
      }
      sleep(50);
    }
  }
  for (let i = 0; i < 100 && pids.some(alive); i++) sleep(50);
  for (const p of pids.filter(alive)) process.kill(p, 'SIGKILL');
}

/** Mounts at once (no test context): for the op runner inside a user namespace. */
export function mountUnionNow(kind: UnionKind, spec: UnionSpec): MountedUnion {
  const argv = mountArgv(kind, spec);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    const err = new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').trim()}`);
    if (mountAt(spec.mnt)) unmountAt(spec.mnt);
    throw err;
  }
  for (let i = 0; i < 100 && !mountAt(spec.mnt); i++) sleep(20);
  if (!mountAt(spec.mnt)) throw new Error(`${argv.join(' ')} exited 0 but nothing is mounted at ${spec.mnt}`);
  const pids = kind === 'kernel' ? [] : daemonPids(spec.mnt);
  let done = false;
  return {
    kind,
    spec,
    unmount: (opts = {}) => {
      if (done) return;
      done = true;
      unmountAt(spec.mnt, opts.wait === false ? [] : pids);
    },
  };
}

/** Mounts and registers the unmount with t.teardown, which runs even when the test fails. */
export function mountUnion(t: ExecutionContext, kind: UnionKind, spec: UnionSpec): MountedUnion {
  const m = mountUnionNow(kind, spec);
  t.teardown(() => m.unmount());
  return m;
}

/** Fresh upper, work and mountpoint dirs under DIR/NAME. */
export function unionDirs(dir: string, name: string): { upper: string; work: string; mnt: string } {
  const base = path.join(dir, name);
  const d = { upper: path.join(base, 'upper'), work: path.join(base, 'work'), mnt: path.join(base, 'mnt') };
  for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true });
  return d;
}

/** A temp dir for layers and mounts. Its teardown detaches anything still mounted below it
 * before deleting, so a failed unmount can never make rm walk into a lower layer. */
export function scratchDir(t: ExecutionContext, prefix = 'strata-compat-'): string {
  const dir = fs.mkdtempSync(path.join('/tmp', prefix));
  t.teardown(() => removeScratch(dir));
  return dir;
}

/** Kills processes whose command line names a path below DIR: daemons we started there
 * (also inside user namespaces, where their mounts are invisible to us). */
export function killProcessesBelow(dir: string): void {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.includes(dir + '/'))) process.kill(Number(d), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

export function removeScratch(dir: string): void {
  killProcessesBelow(dir);
  const below = listMounts().filter((m) => m.mountpoint.startsWith(dir + '/')).reverse();
  for (const m of below) unmountAt(m.mountpoint);
  if (listMounts().some((m) => m.mountpoint.startsWith(dir + '/'))) throw new Error(`still mounted below ${dir}; not deleting it`);
  fs.rmSync(dir, { recursive: true, force: true });
}
