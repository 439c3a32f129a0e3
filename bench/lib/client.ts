// What the benchmarks do inside a mount, as an application would: plain syscalls from
// this process (the daemons under test are other processes).
import fs from 'node:fs';
import path from 'node:path';

const BLOCK = 1024 * 1024;
let block: Buffer | undefined;

/** 1 MiB of incompressible bytes, made once. */
export function dataBlock(): Buffer {
  if (!block) {
    block = Buffer.allocUnsafe(BLOCK);
    for (let i = 0; i < BLOCK; i += 4) block.writeUInt32LE((Math.random() * 0x100000000) >>> 0, i);
  }
  return block;
}

/** Reads a file to its end in 1 MiB requests; returns the bytes read. */
export function readWhole(p: string): number {
  const fd = fs.openSync(p, 'r');
  const buf = Buffer.allocUnsafe(BLOCK);
  let total = 0;
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, BLOCK, null)) > 0; ) total += n;
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

/** Writes bytes of data in 1 MiB requests to a new file. */
export function writeWhole(p: string, bytes: number): void {
  const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  const buf = dataBlock();
  try {
    for (let done = 0; done < bytes; ) done += fs.writeSync(fd, buf, 0, Math.min(BLOCK, bytes - done));
  } finally {
    fs.closeSync(fd);
  }
}

export function createEmpty(dir: string, count: number): void {
  for (let i = 0; i < count; i++) fs.closeSync(fs.openSync(path.join(dir, `n${i}`), 'w'));
}

export function statAll(paths: string[]): void {
  for (const p of paths) fs.lstatSync(p);
}

export function readAll(paths: string[]): void {
  for (const p of paths) fs.readFileSync(p);
}
