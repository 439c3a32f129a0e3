// ADD's local archives, unpacked into a layer dir. Kept behind this one function until the
// image module's hardened tar extraction is merged; GNU tar meanwhile refuses members
// with `..` and strips leading `/`, and detects gzip, bzip2, xz and zstd itself.
import { spawnSync } from 'node:child_process';
import { BuildError } from './errors.js';

export function extractArchive(archive: string, destDir: string, shown: string): void {
  const r = spawnSync('tar', ['-x', '-f', archive, '-C', destDir, '--same-owner', '--same-permissions', '--no-overwrite-dir'], { encoding: 'utf8' });
  if (r.error) throw new BuildError(`ADD ${shown}: cannot run tar: ${r.error.message}`);
  if (r.status !== 0) throw new BuildError(`ADD ${shown}: cannot unpack: ${(r.stderr || '').trim().split('\n')[0]}`);
}
