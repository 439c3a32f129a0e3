// The store lock: a lock file created with O_EXCL holding the owner's pid. A lock whose
// owner is gone (kill(pid, 0) answers ESRCH) is stale and broken. Re-entrant inside one
// process, so a store call may call another; metadata updates are synchronous
// read-modify-write under it, so calls in one process never interleave inside one.
import fs from 'node:fs';
import os from 'node:os';
import * as sys from '../sys/index.js';
import { UserError } from '../errors.js';

const POLL_MS = 25;
const EMPTY_STALE_MS = 10_000;

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').split(' ')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** kill(pid, 0): EPERM still means the process exists (someone else's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

export class StoreLock {
  private depth = 0;
  private acquiring: Promise<void> | undefined;

  constructor(readonly file: string, private readonly timeoutMs = 300_000) {}

  private static readonly byFile = new Map<string, StoreLock>();

  /** The one lock object of this process for `file`: two objects for one file would each
   * take the other's lock file for a leftover of this process. */
  static for(file: string): StoreLock {
    let l = StoreLock.byFile.get(file);
    if (!l) {
      l = new StoreLock(file);
      StoreLock.byFile.set(file, l);
    }
    return l;
  }

  /** Runs fn holding the lock (taking it first if this process does not hold it). */
  async with<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.depth === 0) {
      this.acquiring ??= this.acquire().finally(() => (this.acquiring = undefined));
      await this.acquiring;
    }
    this.depth++;
    try {
      return await fn();
    } finally {
      if (--this.depth === 0) this.release();
    }
  }

  /** The same for a short synchronous change (a tag): waits by sleeping the thread. */
  withSync<T>(fn: () => T): T {
    if (this.depth === 0) {
      const deadline = Date.now() + this.timeoutMs;
      const nap = new Int32Array(new SharedArrayBuffer(4));
      while (!this.step(deadline)) Atomics.wait(nap, 0, 0, POLL_MS);
    }
    this.depth++;
    try {
      return fn();
    } finally {
      if (--this.depth === 0) this.release();
    }
  }

  /** fn under the lock if it can be had now (a stale lock is broken); undefined when a live
   * process, this one included, holds it. */
  tryWithSync<T>(fn: () => T): T | undefined {
    if (this.depth > 0) return undefined;
    let mine = false;
    // a stale lock takes one step to break and one to take
    for (let i = 0; i < 3 && !mine; i++) mine = this.step(Infinity);
    if (!mine) return undefined;
    this.depth++;
    try {
      return fn();
    } finally {
      if (--this.depth === 0) this.release();
    }
  }

  /** One attempt: true when the lock is ours; throws once the deadline has passed. */
  private step(deadline: number): boolean {
    if (this.tryCreate()) return true;
    const pid = ownerOf(this.file);
    if (pid === process.pid) {
      // left by this very process (a crashed earlier call cannot be: depth would be > 0)
      fs.rmSync(this.file, { force: true });
      return false;
    }
    if (pid !== undefined && !pidAlive(pid)) {
      this.breakStale(pid);
      return false;
    }
    // an owner writes its pid right after creating the file: empty for long means it died there
    if (pid === undefined && Date.now() - (sys.lstatIfExists(this.file)?.mtime ?? Infinity) * 1000 > EMPTY_STALE_MS) {
      this.breakStale(0);
      return false;
    }
    if (Date.now() > deadline)
      throw new UserError(`${this.file}: store is locked by process ${pid ?? '?'} (waited ${this.timeoutMs / 1000}s)`);
    return false;
  }

  private tryCreate(): boolean {
    try {
      const fd = sys.open(this.file, sys.O.O_WRONLY | sys.O.O_CREAT | sys.O.O_EXCL, 0o644);
      try {
        sys.pwrite(fd, Buffer.from(`${process.pid} ${os.hostname()}\n`), 0);
      } finally {
        sys.close(fd);
      }
      return true;
    } catch (e) {
      if (sys.hasErrno(e, sys.E.EEXIST)) return false;
      throw e;
    }
  }

  /** Breaks a stale lock by renaming it aside first: of two processes breaking the same stale
   * lock only one rename succeeds, and the loser sees ENOENT and retries normally. */
  private breakStale(pid: number): void {
    const aside = `${this.file}.stale.${process.pid}`;
    try {
      sys.rename(this.file, aside);
    } catch (e) {
      if (sys.hasErrno(e, sys.E.ENOENT)) return;
      throw e;
    }
    const now = ownerOf(aside);
    if (now !== undefined && now !== pid && pidAlive(now)) {
      // a live owner took the lock between our read and our rename: give it back
      try {
        sys.renameat2(aside, this.file, sys.C.RENAME_NOREPLACE);
        return;
      } catch {
        /* the file is then someone else's problem no longer; fall through to remove */
      }
    }
    fs.rmSync(aside, { force: true });
  }

  private async acquire(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    while (!this.step(deadline)) await new Promise((r) => setTimeout(r, POLL_MS));
  }

  private release(): void {
    if (ownerOf(this.file) === process.pid) fs.rmSync(this.file, { force: true });
  }
}
