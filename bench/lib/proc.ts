// Processes for the bench: running commands, finding a FUSE daemon that went to the
// background, its memory, and the kernel's caches.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** killed after this long: a peer that takes minutes must not stall the whole bench */
  timeoutSeconds?: number;
}

/** A measurement cut short: the table shows "> limit". */
export class TimeoutError extends Error {
  constructor(readonly limitSeconds: number, what: string) {
    super(`${what} still running after ${limitSeconds} s: stopped`);
  }
}

/** Runs a command to its end; never throws for a non-zero exit (the caller decides). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult & { timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer =
      opts.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutSeconds * 1000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: Number(process.hrtime.bigint() - t0) / 1e9, timedOut });
    });
  });
}

/** run() that throws, naming the command, unless it exits 0. */
export async function mustRun(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.timedOut) throw new TimeoutError(opts.timeoutSeconds!, `${cmd} ${args.join(' ')}`);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return r;
}

/** Spawns a foreground daemon and resolves once it printed a line matching ready. */
export function spawnUntilReady(cmd: string, args: string[], ready: RegExp, env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let out = '';
    let err = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (ready.test(out)) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({ child, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code} before it was ready: ${err.trim()}`)));
  });
}

const pids = (): number[] =>
  fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);

function readProc(pid: number, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return undefined; // gone, or not ours to read
  }
}

function holdsDevFuse(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === '/dev/fuse';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** The daemon serving a FUSE mount that we started with env TAG=value (daemons that fork
 * into the background keep their environment), else one whose command line names the
 * mountpoint. Among candidates, the one holding /dev/fuse wins. */
export function findDaemon(tag: { name: string; value: string }, mountpoint: string): number | undefined {
  const marker = `${tag.name}=${tag.value}`;
  const candidates = pids().filter((pid) => {
    if (pid === process.pid) return false;
    const env = readProc(pid, 'environ');
    if (env?.split('\0').includes(marker)) return true;
    return readProc(pid, 'cmdline')?.split('\0').includes(mountpoint) ?? false;
  });
  return candidates.find(holdsDevFuse) ?? candidates[candidates.length - 1];
}

/** Resident set size in bytes, or undefined once the process is gone. */
export function rssBytes(pid: number): number | undefined {
  const m = readProc(pid, 'status')?.match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) * 1024 : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

export const canDropCaches = (): boolean => process.getuid?.() === 0;

/** Writes back dirty pages, then drops the page, dentry and inode caches (root only). */
export function dropCaches(): void {
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** sync(1), so the writeback of one contender's data is not billed to the next. */
export async function syncAll(): Promise<void> {
  await mustRun('sync', []);
}
