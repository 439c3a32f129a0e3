// Starting FUSE daemons as child processes for tests, and always taking them down.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { mountAt } from '../../src/fuse/mounts.js';
import { clearMount } from '../../src/fuse/unmount.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const distDir = path.join(repoRoot, 'dist');

export interface Daemon {
  child: ChildProcess;
  mountpoint: string;
  stdout: () => string;
  stderr: () => string;
  /** waits for text matching re on stdout (or stderr) */
  waitFor: (re: RegExp, ms?: number, stream?: 'stdout' | 'stderr') => Promise<string>;
}

/** Spawns `node SCRIPT ARGS` that mounts at MOUNTPOINT and prints a line matching
 * readyRe when ready. Teardown kills it and clears the mount, even if the test failed. */
export async function startDaemon(
  t: ExecutionContext,
  script: string,
  args: string[],
  mountpoint: string,
  readyRe = /^ready/m,
): Promise<Daemon> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    try {
      clearMount(mountpoint);
    } catch {
      spawnSync('umount', ['-l', mountpoint]);
    }
  });
  const waitFor = (re: RegExp, ms = 15000, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${re} from ${script}; stderr: ${err}`));
      }, ms);
      const poll = setInterval(() => {
        const m = (stream === 'stdout' ? out : err).match(re);
        if (m) {
          clearTimeout(deadline);
          clearInterval(poll);
          resolve(m[0]);
        } else if (child.exitCode !== null) {
          clearTimeout(deadline);
          clearInterval(poll);
          reject(new Error(`${script} exited ${child.exitCode}: ${err}`));
        }
      }, 20);
    });
  await waitFor(readyRe);
  return { child, mountpoint, stdout: () => out, stderr: () => err, waitFor };
}

export function isMounted(p: string): boolean {
  return mountAt(p) !== undefined;
}

/** Runs a shell command; throws with its stderr on failure. */
export function sh(cmd: string, opts: { cwd?: string; allowFail?: boolean } = {}): { code: number; out: string; err: string } {
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', cwd: opts.cwd });
  const res = { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  if (res.code !== 0 && !opts.allowFail) throw new Error(`${cmd} failed (${res.code}): ${r.stderr}`);
  return res;
}
