// The build cache: a step's key is its parent image id and its normalised instruction,
// plus for COPY/ADD a hash of what the selected sources hold (bytes, mode, owner after
// --chown, symlink targets; never mtime). Keys map to the id of the image the step made,
// one small file per key under the store root.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CopyEntry } from './sources.js';
import { copiedXattrs } from './copy.js';
import { pidAlive } from '../image/lock.js';

function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** The hex sha256 of what COPY would write: the `file:<hash>` of its history entry. */
export function hashEntries(entries: readonly CopyEntry[]): string {
  const h = crypto.createHash('sha256');
  for (const e of entries) {
    const content =
      e.kind === 'file' || e.kind === 'archive' ? (e.content ? crypto.createHash('sha256').update(e.content).digest('hex') : sha256File(e.hostPath!)) : '';
    const xattrs = e.kind === 'file' && e.hostPath ? copiedXattrs(e.hostPath).map(([k, v]) => `${k}=${v.toString('base64')}`) : [];
    const line = [e.kind, e.dest, e.mode.toString(8), e.uid, e.gid, e.target ?? '', content, e.implicit ? 'implicit' : '', ...xattrs];
    h.update(JSON.stringify(line) + '\n');
  }
  return h.digest('hex');
}

/** parent: the image id the step starts from (null: scratch); parts: the normalised step. */
export function stepKey(parent: string | null, parts: readonly string[]): string {
  return crypto.createHash('sha256').update(JSON.stringify([parent ?? 'scratch', ...parts])).digest('hex');
}

export class BuildCache {
  constructor(readonly dir: string) {}

  /** the cache of the image store at `root` */
  static of(root: string): BuildCache {
    return new BuildCache(path.join(root, 'build-cache'));
  }

  get(key: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.dir, key), 'utf8').trim() || undefined;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Drops the entries whose image `exists` denies (removed since) and stray temp files;
   * returns how many entries went. */
  prune(exists: (imageId: string) => boolean): number {
    let dropped = 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return 0;
      throw e;
    }
    for (const n of names) {
      const tmp = /^\.[0-9a-f]{64}\.(\d+)\.tmp$/.exec(n);
      if (tmp) {
        if (Number(tmp[1]) !== process.pid && !pidAlive(Number(tmp[1]))) fs.rmSync(path.join(this.dir, n), { force: true });
        continue;
      }
      const id = this.get(n);
      if (id !== undefined && exists(id)) continue;
      fs.rmSync(path.join(this.dir, n), { force: true });
      dropped++;
    }
    return dropped;
  }

  /** written to a temp name and renamed: a reader sees no half-written id */
  set(key: string, imageId: string): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `.${key}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, imageId + '\n');
    fs.renameSync(tmp, path.join(this.dir, key));
  }
}
