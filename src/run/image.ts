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

async function openImages(root: string): Promise<ImageStore> {
  // a computed specifier: tsc does not need the module to exist on this branch
  const spec = '../image/store.js';
  let mod: StoreModule;
  try {
    mod = (await import(spec)) as StoreModule;
  } catch (e) {
    throw new UserError(`the image store is not available in this build (${(e as Error).message.split('\n')[0]})`);
  }
  return await mod.openStore(root);
}

export async function resolveImage(root: string, ref: string): Promise<ResolvedImage> {
  const store = await openImages(root);
  return store.resolveImage(ref);
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
