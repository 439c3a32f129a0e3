// Layer blobs may be gzip-compressed or plain tar: told apart by their first bytes, not by
// what a manifest claims (docker-archives and some registries get the media type wrong).
import fs from 'node:fs';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { UserError } from '../errors.js';

export type Compression = 'gzip' | 'none';

export function sniffCompression(file: string): Compression {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4);
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) throw new UserError(`${file}: zstd-compressed layers are not supported`);
  return 'none';
}

/** The uncompressed tar of a stream whose compression is known; errors are forwarded. */
export function decompressed(src: Readable, c: Compression): Readable {
  if (c === 'none') return src;
  const gunzip = zlib.createGunzip();
  src.on('error', (e) => gunzip.destroy(e));
  return src.pipe(gunzip);
}

export function gzipped(src: Readable): Readable {
  const gz = zlib.createGzip();
  src.on('error', (e) => gz.destroy(e));
  return src.pipe(gz);
}
