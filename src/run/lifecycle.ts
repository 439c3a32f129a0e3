// Stopping, killing and removing containers, and telling stale records from live ones.
// Only processes a record names with a matching start time are ever signalled.
import os from 'node:os';
import { UserError } from '../errors.js';
import { isAlive, signalRef, waitUntil } from './proc.js';
import { forgetContainer } from './forget.js';
import { findContainer, loadContainer, shortId, type Container } from './state.js';

export function signalNumber(sig: string): NodeJS.Signals {
  const s = sig.toUpperCase();
  const name = (/^\d+$/.test(s)
    ? Object.entries(os.constants.signals).find(([, n]) => n === Number(s))?.[0]
    : s.startsWith('SIG') ? s : `SIG${s}`) as NodeJS.Signals | undefined;
  if (!name || !(name in os.constants.signals)) throw new UserError(`invalid signal: ${sig}`);
  return name;
}

function mustRun(c: Container, what: string): asserts c is Container & { state: NonNullable<Container['state']> } {
  if (c.status !== 'running' || !c.state) throw new UserError(`cannot ${what} container ${c.config.name}: it is ${c.status}`);
}

export function killContainer(root: string, ref: string, signal = 'SIGKILL'): Container {
  const c = findContainer(root, ref);
  mustRun(c, 'kill');
  signalRef(c.state.init, signalNumber(signal));
  return c;
}

/** Waits for the supervisor to finish: it unmounts and writes the exit code last. */
async function waitGone(c: Container, ms: number): Promise<boolean> {
  return waitUntil(() => {
    const now = loadContainer(c.dir);
    return !now || now.status !== 'running' || !isAlive(c.state?.supervisor);
  }, ms);
}

/** SIGTERM (or the image's StopSignal), then SIGKILL after SECONDS. */
export async function stopContainer(root: string, ref: string, seconds = 10): Promise<Container> {
  const c = findContainer(root, ref);
  if (c.status !== 'running' || !c.state) return c;
  const sig = c.config.imageConfig.config?.StopSignal;
  signalRef(c.state.init, sig ? signalNumber(sig) : 'SIGTERM');
  if (!(await waitGone(c, seconds * 1000))) {
    signalRef(c.state.init, 'SIGKILL');
    await waitGone(c, 10_000);
  }
  await waitUntil(() => !isAlive(c.state?.supervisor), 5000);
  return loadContainer(c.dir) ?? c;
}

/** Removes a record; with force a running one is killed first, and a stale one's leftover
 * FUSE daemon (its supervisor was killed) is ended so its mount goes with it. */
export async function removeContainer(root: string, ref: string, force = false): Promise<Container> {
  const c = findContainer(root, ref);
  if ((c.status === 'running' || c.status === 'created') && !force)
    throw new UserError(`container ${c.config.name} is ${c.status}: stop it first or use --force`);
  if (c.status === 'running' && c.state) {
    signalRef(c.state.init, 'SIGKILL');
    await waitGone(c, 10_000);
    await waitUntil(() => !isAlive(c.state?.supervisor), 5000);
  }
  if (c.status === 'created') {
    signalRef(c.config.creator, 'SIGKILL');
  }
  if (c.state) {
    // a supervisor killed without its cleanup leaves these behind
    signalRef(c.state.init, 'SIGKILL');
    signalRef(c.state.daemon, 'SIGTERM');
    await waitUntil(() => !isAlive(c.state?.daemon), 2000);
    signalRef(c.state.daemon, 'SIGKILL');
  }
  await forgetContainer(root, c);
  return c;
}

export function describeStatus(c: Container): string {
  switch (c.status) {
    case 'running':
      return `Up since ${c.state?.started ?? '?'}`;
    case 'exited':
      return `Exited (${c.exitCode}) ${c.finished ?? ''}`.trim();
    case 'created':
      return 'Created';
    case 'stale':
      return c.state ? 'Stale (its processes are gone: rm -f clears it)' : 'Stale (never started: rm -f clears it)';
  }
}

export { shortId };
