// The builder's tests on the real image store: a temp store holding the offline busybox
// image (test/helpers/images.ts), RUN in src/run's containers, commits counted.
import type { ExecutionContext } from 'ava';
import type { BuildDeps, BuildStore } from '../../src/build/builder.js';
import { containerRunner } from '../../src/build/runstep.js';
import type { CommitOptions, ImageStore, ResolvedImage } from '../../src/image/store.js';
import { busyboxImage, tempStore } from '../helpers/images.js';

/** The real store, with a count of the commits the builder asked for. */
export class CountingStore implements BuildStore {
  commits = 0;
  constructor(readonly real: ImageStore) {}
  get root(): string {
    return this.real.root;
  }
  resolveImage(ref: string): ResolvedImage {
    return this.real.resolveImage(ref);
  }
  tryResolveImage(ref: string): ResolvedImage | undefined {
    return this.real.tryResolveImage(ref);
  }
  commit(o: CommitOptions): Promise<ResolvedImage> {
    this.commits++;
    return this.real.commit(o);
  }
  tag(image: ResolvedImage, ref: string): void {
    this.real.tag(image, ref);
  }
}

/** A fresh store (removed when the test ends) holding busybox:latest. */
export async function storeWithBusybox(t: ExecutionContext): Promise<CountingStore> {
  const store = tempStore(t);
  await busyboxImage(t, store);
  return new CountingStore(store);
}

export function depsFor(store: BuildStore): BuildDeps {
  return { store, runInContainer: containerRunner(store.root) };
}
