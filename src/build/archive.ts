// ADD's local archives, unpacked with the image module's hardened extraction
// (layer-extract.ts: no '..', no write through a symlink, a leading '/' stripped, limits
// against tar bombs), each into its own empty dir first, then moved into the layer dir.
// gzip is undone by zlib; bzip2, xz and zstd, which Node lacks, by their own programs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import * as sys from '../sys/index.js';
import { extractLayer } from '../image/layer-extract.js';
import { BuildError } from './errors.js';

type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

function sniff(file: string): Compression {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(6);
    const n = fs.readSync(fd, b, 0, 6, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (n >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
    if (n >= 6 && b.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (n >= 4 && b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
    return 'none';
  } finally {
    fs.closeSync(fd);
  }
}

/** The archive's plain tar bytes; a failing decompressor ends the stream with an error. */
function tarStream(archive: string, shown: string): Readable {
  const c = sniff(archive);
  const file = fs.createReadStream(archive);
  if (c === 'none') return file;
  if (c === 'gzip') {
    const gunzip = zlib.createGunzip();
    file.on('error', (e) => gunzip.destroy(e));
    return file.pipe(gunzip);
  }
  file.destroy();
  const child = spawn(c, ['-d', '-c', archive], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.on('error', (e) => child.stdout.destroy(new BuildError(`ADD ${shown}: cannot run ${c}: ${e.message}`)));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new BuildError(`ADD ${shown}: ${c} failed: ${err.trim().split('\n')[0] ?? code}`));
  });
  return child.stdout;
}

/** Unpacks `archive` into `into` (a new, empty dir). */
export async function unpackArchive(archive: string, into: string, shown: string): Promise<void> {
  try {
    await extractLayer(tarStream(archive, shown), into);
  } catch (e) {
    if (e instanceof BuildError) throw e;
    throw new BuildError(`ADD ${shown}: cannot unpack: ${(e as Error).message}`);
  }
}

/** Moves what `src` holds into `dest`, as tar -x over an existing tree does: a file
 * replaces what is there, a dir merges into a dir already there (whose metadata stays). */
export function mergeInto(src: string, dest: string): void {
  for (const name of sys.readdirNames(src)) {
    const from = path.join(src, name);
    const to = path.join(dest, name);
    const there = sys.lstatIfExists(to);
    if (there && sys.isDir(there.mode) && sys.isDir(sys.lstat(from).mode)) {
      mergeInto(from, to);
      continue;
    }
    if (there) fs.rmSync(to, { recursive: true, force: true });
    sys.rename(from, to);
  }
}
