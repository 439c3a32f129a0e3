// What the listing commands show, as plain data (the CLI formats it; --json prints it).
import { hexOf } from './digest.js';
import { splitTagged } from './reference.js';
import type { HistoryRow, ImageStore } from './store.js';

export interface ImageRow {
  repository: string;
  tag: string;
  id: string;
  digest: string;
  created?: string;
  size: number;
}

export function imageRows(store: ImageStore): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of store.listImages()) {
    const base = { id: img.id, digest: img.manifestDigest, size: img.size, ...(img.config.created ? { created: img.config.created } : {}) };
    if (img.names.length === 0) rows.push({ repository: '<none>', tag: '<none>', ...base });
    for (const n of img.names) {
      const { name, tag } = splitTagged(n);
      rows.push({ repository: name, tag, ...base });
    }
  }
  return rows.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag));
}

export function historyRows(store: ImageStore, ref: string): HistoryRow[] {
  return store.history(store.resolveImage(ref));
}

/** `strata inspect`: Docker's field names where Docker has them. */
export function inspectImage(store: ImageStore, ref: string): Record<string, unknown> {
  const img = store.resolveImage(ref);
  return {
    Id: img.id,
    RepoTags: img.names,
    ManifestDigest: img.manifestDigest,
    Created: img.config.created,
    Architecture: img.config.architecture,
    Os: img.config.os,
    Config: img.config.config ?? {},
    RootFS: { Type: 'layers', Layers: img.diffIds },
    ChainIds: img.chainIds,
    History: img.config.history ?? [],
    Size: img.size,
    LayerDirs: img.layerDirs,
    ShortId: hexOf(img.id).slice(0, 12),
  };
}
