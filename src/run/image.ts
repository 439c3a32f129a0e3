// The one file that knows the image store's API (contracts.md, owner: image). Everything
// else in src/run takes plain inputs: layer dirs (top first) and an image config.
// The store is not on this branch yet: it is loaded at run time, so that adapting to its
// final spelling touches only this file.
import { UserError } from '../cli/errors.js';
import type { HistoryEntry, ImageConfig } from './image-config.js';

export interface ResolvedImage {
  id: string;
  names: string[];
  layerDirs: string[];
  config: ImageConfig;
}

interface ImageStore {
  readonly root: string;
  resolveImage(ref: string): ResolvedImage;
  hold(holder: string, image: ResolvedImage): void;
  release(holder: string): void;
  commit(opts: {
    parent: ResolvedImage | null;
    layerDir: string;
    exclude?: string[];
    config: ImageConfig;
    history: HistoryEntry;
    tag?: string;
  }): Promise<ResolvedImage>;
}

interface StoreModule {
  openStore(root?: string): Promise<ImageStore> | ImageStore;
}

interface ListingModule {
  inspectImage(store: ImageStore, ref: string): unknown;
}

async function load<T>(spec: string): Promise<T> {
  try {
    return (await import(spec)) as T;
  } catch (e) {
    throw new UserError(`the image store is not available in this build (${(e as Error).message.split('\n')[0]})`);
  }
}

// computed specifiers: tsc does not need the modules to exist on this branch
const STORE = '../image/store.js';
const LISTING = '../image/listing.js';

async function openImages(root: string): Promise<ImageStore> {
  return (await load<StoreModule>(STORE)).openStore(root);
}

/** Keeps the image's layers from rmi and prune while container ID exists. */
export async function holdImage(root: string, id: string, image: ResolvedImage): Promise<void> {
  (await openImages(root)).hold(id, image);
}

export async function releaseImage(root: string, id: string): Promise<void> {
  (await openImages(root)).release(id);
}

export async function inspectImage(root: string, ref: string): Promise<unknown> {
  const store = await openImages(root);
  return (await load<ListingModule>(LISTING)).inspectImage(store, ref);
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
