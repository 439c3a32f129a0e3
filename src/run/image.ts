// The one file that knows the image store's API (contracts.md, owner: image). Everything
// else in src/run takes plain inputs: layer dirs (top first) and an image config.
import { UserError } from '../errors.js';
import type { HistoryEntry, ImageConfig } from './image-config.js';
import { openStore, type ImageStore, type ResolvedImage } from '../image/store.js';

export type { ResolvedImage } from '../image/store.js';

async function openImages(root: string): Promise<ImageStore> {
  return openStore(root);
}

/** Keeps the image's layers from rmi and prune while container ID exists; durable: false
 * for a container that is removed when it ends. */
export async function holdImage(root: string, id: string, image: ResolvedImage, durable = true): Promise<void> {
  (await openImages(root)).hold(id, image, durable);
}

export async function releaseImage(root: string, id: string): Promise<void> {
  (await openImages(root)).release(id);
}

export async function inspectImage(root: string, ref: string): Promise<unknown> {
  // listing's code is only for inspect: `strata run` does not load it
  const { inspectImage: inspectStoredImage } = await import('../image/listing.js');
  const store = await openImages(root);
  return inspectStoredImage(store, ref);
}

/** The image to run: an unknown one fails as Docker's run does, with status 125. */
export async function resolveImage(root: string, ref: string): Promise<ResolvedImage> {
  const store = await openImages(root);
  try {
    return store.resolveImage(ref);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(e.message, 125);
    throw e;
  }
}

export interface CommitRequest {
  parentRef: string;
  layerDir: string;
  /** paths relative to the layer dir's root ('etc/hostname'), left out of the layer */
  exclude: string[];
  config: ImageConfig;
  history: HistoryEntry;
  tag: string;
}

export async function commitLayer(root: string, req: CommitRequest): Promise<ResolvedImage> {
  const store = await openImages(root);
  const parent = store.resolveImage(req.parentRef);
  return store.commit({
    parent,
    layerDir: req.layerDir,
    exclude: req.exclude,
    config: req.config,
    history: req.history,
    tag: req.tag,
  });
}
