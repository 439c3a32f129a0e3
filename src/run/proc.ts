// Processes named by pid in container records: a pid alone is not an identity (pids are
// reused, and reset by a reboot), so records keep the process start time and the boot id.
import fs from 'node:fs';

export interface ProcRef {
  pid: number;
  /** field 22 of /proc/PID/stat: clock ticks after boot */
  start: string;
}

/** This boot's id: a record written under another boot names processes that are gone. */
export function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** The start time of PID, or undefined when there is no such process. */
export function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[19];
  const state = fields[0];
  if (state === 'Z' || state === 'X') return undefined;
  return start;
}

export function procRef(pid: number): ProcRef | undefined {
  const start = startTimeOf(pid);
  return start === undefined ? undefined : { pid, start };
}

/** Whether the very process the record names is still running. */
export function isAlive(ref: ProcRef | undefined): ref is ProcRef {
  return !!ref && ref.pid > 0 && startTimeOf(ref.pid) === ref.start;
}

/** Signals the process the record names, never a process that reused its pid. */
export function signalRef(ref: ProcRef | undefined, signal: NodeJS.Signals | number): boolean {
  if (!isAlive(ref)) return false;
  try {
    process.kill(ref.pid, signal);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until test() holds or ms pass; answers whether it held. */
export async function waitUntil(test: () => boolean, ms: number, every = 20): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (test()) return true;
    if (Date.now() >= end) return false;
    await sleep(every);
  }
}
