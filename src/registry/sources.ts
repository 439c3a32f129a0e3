// Where blobs were last seen on each registry (digest -> repositories), so a push to
// another repository of the same registry can ask for a cross-repository mount instead of
// uploading. A hint only: a stale entry costs one refused mount and a normal upload.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../image/atomic.js';

type Sources = Record<string, Record<string, string[]>>; // registry -> digest -> repos
const KEEP = 4;

export class BlobSources {
  private readonly file: string;
  constructor(dir: string) {
    this.file = path.join(dir, 'registry-sources.json');
  }

  private load(): Sources {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as Sources;
    } catch {
      return {};
    }
  }

  repositories(registry: string, digest: string): string[] {
    return this.load()[registry]?.[digest] ?? [];
  }

  record(registry: string, repository: string, digests: string[]): void {
    const all = this.load();
    const reg = (all[registry] ??= {});
    for (const d of digests) reg[d] = [repository, ...(reg[d] ?? []).filter((r) => r !== repository)].slice(0, KEEP);
    writeFileAtomic(this.file, JSON.stringify(all));
  }
}
