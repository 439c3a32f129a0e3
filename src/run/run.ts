// `strata run` end to end, for the CLI and for tests that hand it layer dirs directly.
import { UserError } from '../cli/errors.js';
import type { RunOptions } from './spec.js';
import { createContainer, startDetached, startForeground, type ContainerInput } from './start.js';
import { listContainers, loadContainer, findContainer, type Container } from './state.js';

/** Runs a container as `strata run` does; answers the exit status strata should end with. */
export async function runContainer(input: ContainerInput, o: RunOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (o.tty && o.interactive && !process.stdin.isTTY) throw new UserError('the input device is not a TTY (-it needs a terminal on stdin)', 125);
  const created = createContainer(input, o);
  if (o.detach) {
    await startDetached(input.root, created);
    out.write(`${created.config.id}\n`);
    return 0;
  }
  const running = startForeground(input.root, created, { stdio: 'inherit', forwardSignals: true });
  return running.exited;
}

/** What `strata inspect` prints. */
export function inspectContainer(root: string, ref: string): Container {
  const c = findContainer(root, ref);
  return loadContainer(c.dir) ?? c;
}

export function psList(root: string, all: boolean): Container[] {
  return listContainers(root).filter((c) => all || c.status === 'running');
}
