// Crash-safe writes: a file appears complete under its final name or not at all.
import path from 'node:path';
import crypto from 'node:crypto';
import * as sys from '../sys/index.js';

/** fsync of a directory makes a rename in it durable. */
export function fsyncDir(dir: string): void {
  const fd = sys.open(dir, sys.O.O_RDONLY | sys.O.O_DIRECTORY);
  try {
    sys.fsync(fd);
  } finally {
    sys.close(fd);
  }
}

export function tempName(dir: string, base: string): string {
  return path.join(dir, `.${base}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
}

/** Writes temp -> fsync -> rename -> fsync(dir). */
export function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o644): void {
  const dir = path.dirname(file);
  const tmp = tempName(dir, path.basename(file));
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const fd = sys.open(tmp, sys.O.O_WRONLY | sys.O.O_CREAT | sys.O.O_EXCL, mode);
  try {
    let off = 0;
    while (off < buf.length) off += sys.pwrite(fd, buf.subarray(off), off);
    sys.fsync(fd);
  } catch (e) {
    sys.close(fd);
    sys.unlink(tmp);
    throw e;
  }
  sys.close(fd);
  sys.rename(tmp, file);
  fsyncDir(dir);
}
