// `strata import`: a root filesystem (a directory or a tarball, gzip or not) as a one-layer
// image. A tarball is extracted (hardened) first and the layer generated from the result,
// so the stored layer is canonical whatever tool wrote the tarball.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { decompressed, sniffCompression } from './compression.js';
import { extractLayer } from './layer-extract.js';
import type { ImageStore, ResolvedImage } from './store.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ImportOptions {
  onBytes?: (n: number) => void;
  timestamp?: Date;
}

export async function importImage(store: ImageStore, source: string, ref: string, opts: ImportOptions = {}): Promise<ResolvedImage> {
  const st = fs.statSync(source, { throwIfNoEntry: false });
  if (!st) throw new UserError(`${source}: no such file or directory`);
  const commit = (dir: string): Promise<ResolvedImage> =>
    store.commit({
      parent: null,
      layerDir: dir,
      config: { config: { Env: [`PATH=${DEFAULT_PATH}`] } },
      history: { created_by: `strata import ${path.basename(source)}`, comment: 'imported' },
      tag: ref,
      ...(opts.timestamp ? { timestamp: opts.timestamp } : {}),
      ...(opts.onBytes ? { onBytes: opts.onBytes } : {}),
    });
  if (st.isDirectory()) return commit(source);
  if (!st.isFile()) throw new UserError(`${source}: neither a directory nor a tarball`);
  const work = fs.mkdtempSync(path.join(store.tmpDir, `import-${process.pid}-`));
  try {
    const tree = path.join(work, 'tree');
    fs.mkdirSync(tree);
    await extractLayer(decompressed(fs.createReadStream(source), sniffCompression(source)), tree);
    return await commit(tree);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
