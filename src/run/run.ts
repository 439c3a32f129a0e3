// `strata run` end to end, for the CLI and for tests that hand it layer dirs directly.
import { UserError } from '../errors.js';
import type { EarlyInit } from './early-init.js';
import { holdImage, inspectImage, type ResolvedImage } from './image.js';
import type { RunOptions } from './spec.js';
import { createContainer, startDetached, startForeground, type ContainerInput } from './start.js';
import { deleteRecord, listContainers, loadContainer, findContainer, type Container } from './state.js';

/** Runs a container as `strata run` does; answers the exit status strata should end with.
 * early: a strata-init started before (early-init.ts), used or dropped here. */
export async function runContainer(
  input: ContainerInput,
  o: RunOptions,
  out: NodeJS.WritableStream = process.stdout,
  image?: ResolvedImage,
  early?: EarlyInit,
): Promise<number> {
  let created;
  try {
    if (o.tty && o.interactive && !process.stdin.isTTY) throw new UserError('the input device is not a TTY (-it needs a terminal on stdin)', 125);
    created = createContainer(input, o);
  } catch (e) {
    await early?.drop();
    throw e;
  }
  if (image) {
    try {
      // a --rm record is garbage after a crash: its hold need not survive one
      await holdImage(input.root, created.config.id, image, !o.rm);
    } catch (e) {
      deleteRecord(input.root, { dir: created.layout.dir, config: created.config });
      await early?.drop();
      throw e;
    }
  }
  if (o.detach) {
    await early?.drop();
    await startDetached(input.root, created);
    out.write(`${created.config.id}\n`);
    return 0;
  }
  const running = startForeground(input.root, created, { stdio: 'inherit', forwardSignals: true, early });
  return running.exited;
}

/** What `strata inspect` prints for a container. */
export function inspectContainer(root: string, ref: string): Container {
  const c = findContainer(root, ref);
  return loadContainer(c.dir) ?? c;
}

/** A container by that name or id, else the image. */
export async function inspectAny(root: string, ref: string): Promise<unknown> {
  try {
    return inspectContainer(root, ref);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    try {
      return await inspectImage(root, ref);
    } catch {
      throw new UserError(`no such container or image: ${ref}`);
    }
  }
}

export function psList(root: string, all: boolean): Container[] {
  return listContainers(root).filter((c) => all || c.status === 'running');
}
