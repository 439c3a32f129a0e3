// Spawning the mount daemon (daemon.ts), and spawning it early: `strata mount` starts the
// daemon as soon as main.ts sees the command, before yargs is loaded and the options are
// validated, so node's start-up and the engine's loading in the daemon (~100 ms) overlap
// the CLI's own. The early daemon waits for its config on stdin and does nothing, writes
// nothing, until it gets one; an empty stdin (bad usage, a failed validation, a CLI that
// died) makes it exit. Only node built-ins, passthrough.ts and programs.ts here: main.ts
// loads this module for every command.
import { spawn, type ChildProcess } from 'node:child_process';
import { nodeCommand } from '../run/programs.js';
import { commandIndex } from './passthrough.js';

/** Starts `node strata-mount-daemon.cjs ARG [SHOWN...]` (daemon.ts's bundle, started as
 * programs.ts starts ours: node never reads NODE_EXTRA_CA_CERTS, the daemon's environment
 * has it back), detached; fd 3 is its report pipe. SHOWN is not read: it keeps the
 * mountpoint and layers in the daemon's command line, for ps and for tools that find a
 * daemon by its mountpoint, as fuse-overlayfs's shows them. */
export function spawnDaemon(arg: string, stdin: 'ignore' | 'pipe', log: number | 'ignore', shown: string[] = []): ChildProcess {
  const c = nodeCommand('strata-mount-daemon', [arg, ...shown]);
  return spawn(c.file, c.args, {
    detached: true,
    cwd: '/', // pin no directory of the caller's
    env: c.env,
    stdio: [stdin, log, log, 'pipe'],
  });
}

let early: ChildProcess | undefined;

/** For `strata mount` in the background: starts the daemon now, to be handed its config by
 * takeEarlyDaemon(). Not for -f/-d (served in this process), --help, or a log= option
 * (the daemon's stdout and stderr are the log file, opened before it starts). */
export function startEarlyDaemon(argv: string[]): void {
  const i = commandIndex(argv);
  if (argv[i] !== 'mount') return;
  const rest = argv.slice(i + 1);
  const inProcess = ['-f', '--foreground', '-d', '--debug', '-h', '--help', '-v', '--version'];
  if (rest.some((a) => inProcess.includes(a) || a.includes('log='))) return;
  try {
    early = spawnDaemon('-', 'pipe', 'ignore', argv.slice(i));
  } catch {
    return; // the usual path spawns it later and reports the error
  }
  early.on('error', () => undefined);
  // an unused early daemon neither keeps this process alive nor outlives it
  early.unref();
  for (const s of [early.stdin, early.stdio[3]]) (s as unknown as { unref?: () => void } | null)?.unref?.();
}

/** The daemon started by startEarlyDaemon, if any and still alive; it is the caller's now. */
export function takeEarlyDaemon(): ChildProcess | undefined {
  const d = early;
  early = undefined;
  if (!d || d.exitCode !== null || d.signalCode !== null || !d.stdin) return undefined;
  for (const s of [d.stdin, d.stdio[3]]) (s as unknown as { ref?: () => void } | null)?.ref?.();
  return d;
}

/** Lets an early daemon that was not used go: it exits on the end of its stdin. */
export function dropEarlyDaemon(): void {
  takeEarlyDaemon()?.stdin?.end();
}
