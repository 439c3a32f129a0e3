// Resumable blob downloads: bytes go to <root>/ingest/sha256-<hex> while being hashed, and
// only a blob whose size and digest match is fsynced and renamed into the blob store. A
// mismatch removes the partial file; an interrupted stream keeps it, so the next attempt
// (the same process retrying, or a later pull) resumes from where it stopped.
// One writer per blob: a StoreLock file beside the partial, so two pulls of one layer
// fetch it once; prune removes partials whose lock no live process holds.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import * as sys from '../sys/index.js';
import { hexOf, isDigest, type Digest } from './digest.js';
import { StoreLock } from './lock.js';
import { DigestMismatchError, type OciLayout } from './oci-layout.js';

export type Bytes = AsyncIterable<Buffer | Uint8Array>;

/** Opens a blob's bytes given how many an interrupted ingest kept: a stream starting at
 * `start`, which is `kept` (resumed, e.g. with Range) or 0 (from the beginning). */
export type Source = (kept: number) => Promise<{ stream: Bytes; start: number }>;

export interface Expected {
  digest: Digest;
  size?: number;
}

/** What arrived differs from what was expected (digest or size); nothing was stored. */
export class IngestMismatchError extends DigestMismatchError {
  constructor(readonly expected: Expected, readonly got: { digest?: Digest; size: number }) {
    const sizeWrong = expected.size !== undefined && got.size !== expected.size;
    super(`blob ${expected.digest}`, sizeWrong ? `${expected.size} bytes` : expected.digest, sizeWrong ? `${got.size} bytes` : (got.digest ?? '?'));
  }
}

/** A source's stream that starts neither at 0 nor at the kept bytes. */
export class IngestRangeError extends Error {
  constructor(digest: Digest, start: number, kept: number) {
    super(`ingest of ${digest}: a stream from ${start} cannot follow ${kept} kept bytes`);
  }
}

const PARTIAL_RE = /^sha256-([0-9a-f]{64})$/;

export class PartialIngests {
  readonly dir: string;
  /** digests being ingested by this process, in order of arrival (the file lock is per process) */
  private readonly queue = new Map<Digest, Promise<void>>();

  constructor(root: string, private readonly blobs: OciLayout) {
    this.dir = path.join(root, 'ingest');
    sys.mkdirp(this.dir);
  }

  partialPath(digest: Digest): string {
    return path.join(this.dir, `sha256-${hexOf(digest)}`);
  }

  private lockOf(digest: Digest): StoreLock {
    return StoreLock.for(`${this.partialPath(digest)}.lock`);
  }

  /** bytes kept from an interrupted ingest of digest (0 if none) */
  size(digest: Digest): number {
    return sys.lstatIfExists(this.partialPath(digest))?.size ?? 0;
  }

  private async exclusive<T>(digest: Digest, fn: () => Promise<T>): Promise<T> {
    const before = this.queue.get(digest) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((r) => (done = r)));
    this.queue.set(digest, mine);
    await before;
    try {
      return await this.lockOf(digest).with(fn);
    } finally {
      done();
      if (this.queue.get(digest) === mine) this.queue.delete(digest);
    }
  }

  /** Writes blob expect.digest, verified, into the blob store. 'present' when it was there
   * already (or another ingest stored it while this one waited). */
  async ingest(open: Source, expect: Expected, opts: { onBytes?: (n: number) => void } = {}): Promise<'stored' | 'present'> {
    return this.exclusive(expect.digest, async () => {
      if (this.blobs.has(expect.digest)) return 'present';
      let kept = this.size(expect.digest);
      if (expect.size !== undefined && kept > expect.size) kept = 0;
      const { stream, start } = await open(kept);
      if (start !== 0 && start !== kept) throw new IngestRangeError(expect.digest, start, kept);
      await this.write(stream, start, expect, opts.onBytes);
      return 'stored';
    });
  }

  private async write(src: Bytes, start: number, expect: Expected, onBytes?: (n: number) => void): Promise<void> {
    const partial = this.partialPath(expect.digest);
    const hash = crypto.createHash('sha256');
    const fd = sys.open(partial, sys.O.O_RDWR | sys.O.O_CREAT | (start === 0 ? sys.O.O_TRUNC : 0), 0o644);
    let offset = 0;
    let open = true;
    const close = (): void => {
      if (open) sys.close(fd);
      open = false;
    };
    const discard = (): void => {
      close();
      fs.rmSync(partial, { force: true });
    };
    try {
      if (start > 0) {
        const buf = Buffer.alloc(1 << 20);
        for (let n; offset < start && (n = sys.pread(fd, buf.subarray(0, Math.min(buf.length, start - offset)), offset)) > 0; offset += n) hash.update(buf.subarray(0, n));
        sys.ftruncate(fd, start);
      }
      for await (const piece of src) {
        const chunk = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        if (expect.size !== undefined && offset + chunk.length > expect.size) {
          discard();
          throw new IngestMismatchError(expect, { size: offset + chunk.length });
        }
        for (let done = 0; done < chunk.length; ) done += sys.pwrite(fd, chunk.subarray(done), offset + done);
        hash.update(chunk);
        offset += chunk.length;
        onBytes?.(chunk.length);
      }
    } catch (e) {
      // an interrupted stream keeps its bytes for a resumed pull; a mismatch has discarded them
      close();
      throw e;
    }
    const got = { digest: `sha256:${hash.digest('hex')}` as Digest, size: offset };
    if (got.digest !== expect.digest || (expect.size !== undefined && got.size !== expect.size)) {
      discard();
      throw new IngestMismatchError(expect, got);
    }
    close();
    this.blobs.commitTemp(partial, expect.digest);
  }

  /** Removes partial files (and lock files) that no live process is writing; answers the
   * bytes freed. An ingest of this process is left alone too. */
  prune(): number {
    let bytes = 0;
    for (const name of sys.readdirNames(this.dir)) {
      const hex = PARTIAL_RE.exec(name.replace(/\.lock$/, ''))?.[1];
      const digest = `sha256:${hex}`;
      if (hex === undefined || !isDigest(digest) || this.queue.has(digest)) continue;
      this.lockOf(digest).tryWithSync(() => {
        bytes += this.size(digest);
        fs.rmSync(this.partialPath(digest), { force: true });
      });
    }
    return bytes;
  }
}
