// A rootless foreground `strata run` starts strata-init first of all, before it has parsed
// its options, resolved the image or made the record: strata-init makes the user and
// mount namespaces and starts the mount daemon in them at once (late mode, see
// native/init/strata-init.c), so the daemon's node start-up (~60 ms to READY, most of it
// before it reads its arguments) runs while this process does its own work, rather than
// after it. Once the container is known, startForeground() hands strata-init the rest of
// its command line on a pipe; a run that fails before that (an unknown image, a bad
// option, a name taken) ends the pipe empty, and strata-init then kills its daemon, which
// had mounted nothing, and exits: no process, namespace or mount is left.
// Only node built-ins and small modules here: the strata bin loads this module (a bundle of
// its own) for every command.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { commandIndex, splitPassthrough } from '../cli/passthrough.js';
import { earlyInitArgs, initPath } from './helper.js';
import { isRootless } from './root.js';

/** strata-init's fd for its late arguments (fd 3 is its status pipe) */
const LATE_FD = 4;

type Unrefable = { ref?: () => void; unref?: () => void } | null | undefined;

export class EarlyInit {
  private taken = false;
  private readonly gone: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    this.gone = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('close', () => r())));
    child.on('error', () => undefined);
    // an unused one neither keeps this process alive nor outlives it (see exit())
    child.unref();
    for (const s of [child.stdio[3], child.stdio[4]]) (s as Unrefable)?.unref?.();
  }

  /** The process, to be handed its late arguments by sendLate(): the caller's now.
   * Undefined when it could not start or has ended (the caller spawns one as usual). */
  take(): ChildProcess | undefined {
    if (this.taken) return undefined;
    const c = this.child;
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) {
      void this.drop();
      return undefined;
    }
    this.taken = true;
    c.ref();
    for (const s of [c.stdio[3], c.stdio[4]]) (s as Unrefable)?.ref?.();
    return c;
  }

  /** Not needed after all: an empty late-arguments pipe ends it. Resolves once it is gone
   * (bounded: it only has to kill a daemon that is still starting). */
  async drop(timeoutMs = 5000): Promise<void> {
    if (this.taken) return;
    this.taken = true;
    (this.child.stdio[LATE_FD] as Writable | null)?.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.gone, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** At this process's exit, if nobody took it: its process group (strata-init, the
   * daemon it started, its helpers) is killed at once, rather than left to end by itself
   * after this process is gone. */
  exit(): void {
    if (this.taken || this.child.pid === undefined || this.child.exitCode !== null) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Hands a taken early strata-init the rest of its command line. */
export function sendLate(child: ChildProcess, args: string[]): void {
  const pipe = child.stdio[LATE_FD] as Writable;
  pipe.on('error', () => undefined); // it died: its status stream says why
  pipe.end(args.map((a) => `${a}\0`).join(''));
}

/** Starts strata-init in late mode, its stdio this process's (as a foreground run's);
 * shown is strata's command line, for ps. Undefined where late mode does not apply: as
 * root (strata serves the union itself), or with another mount program; and with
 * STRATA_EARLY_INIT=0 (for comparisons). */
export function spawnEarlyInit(shown: string[]): EarlyInit | undefined {
  if (!isRootless() || process.env.STRATA_MOUNT_PROGRAM || process.env.STRATA_EARLY_INIT === '0') return undefined;
  let child: ChildProcess;
  try {
    // its own process group, as startForeground's: a terminal's ^C reaches strata alone
    child = spawn(initPath(), earlyInitArgs(LATE_FD, shown), { stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'], detached: true });
  } catch {
    return undefined;
  }
  const early = new EarlyInit(child);
  process.once('exit', () => early.exit());
  return early;
}

/** One per process, shared by the copies of this module in the bundles: the strata bin's
 * stub runs its own small bundle of it (early-init.cjs, scripts/bundle.mjs) before it
 * loads strata's ~750 KB one (main.cjs), whose copy then finds what it started here. */
interface Slot {
  tried: boolean;
  early?: EarlyInit;
}
const SLOT = Symbol.for('strata.earlyInit');
const slot = (): Slot => ((globalThis as { [SLOT]?: Slot })[SLOT] ??= { tried: false });

/** For `strata run` in the foreground: starts strata-init now, before strata's bundle or
 * yargs is even loaded; the run command takes it with takeEarlyInit(). Not for -d (its
 * output goes to the log, which does not exist yet) or help; a guess from argv, since
 * nothing is parsed yet: the command drops one it cannot use. Once per process. */
export function startEarlyInit(argv: string[]): void {
  const s = slot();
  if (s.tried) return;
  s.tried = true;
  const at = commandIndex(argv);
  if (argv[at] !== 'run') return;
  // strata's own options: up to the image (splitPassthrough puts a -- after it)
  const line = splitPassthrough(argv);
  const end = line.indexOf('--', at);
  const own = line.slice(0, end < 0 ? line.length : end);
  if (own.some((a) => a === '--detach' || a.startsWith('--detach=') || a === '--help' || /^-[a-z]*[dh]/.test(a))) return;
  s.early = spawnEarlyInit(argv);
}

export function takeEarlyInit(): EarlyInit | undefined {
  const s = slot();
  const e = s.early;
  s.early = undefined;
  return e;
}
