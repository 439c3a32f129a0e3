// Where a tar stream may end. Some writers (umoci's `insert`, seen here) stop right after
// the last entry's data: no zero padding to the 512-byte block, no end-of-archive blocks.
// tar-stream refuses that as a truncated archive; Go's archive/tar (containerd, umoci unpack)
// accepts it. We accept it too, but only when every byte of content is there: the digest
// covers the bytes as published, and zeros are made up only for padding, never for data.
const BLOCK = 512;

function headerSize(h: Buffer): number {
  const field = h.subarray(124, 136);
  // GNU base-256 for sizes of 8 GiB and more
  if ((field[0]! & 0x80) !== 0) {
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** Follows a tar's block structure as bytes pass, to know what a short ending lacks. */
export class TarEnd {
  private total = 0;
  /** offset of the next header block */
  private next = 0;
  /** offset where the current entry's data ends (before padding) */
  private dataEnd = 0;
  private header: Buffer[] = [];
  private headerBytes = 0;

  see(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const at = this.total + off;
      if (at < this.next) {
        off += Math.min(chunk.length - off, this.next - at);
        continue;
      }
      // inside a header block: collect it whole, then jump past its entry
      const take = Math.min(chunk.length - off, BLOCK - this.headerBytes);
      this.header.push(chunk.subarray(off, off + take));
      this.headerBytes += take;
      off += take;
      if (this.headerBytes === BLOCK) {
        const size = headerSize(Buffer.concat(this.header));
        const start = this.total + off;
        this.dataEnd = start + (Number.isFinite(size) ? size : 0);
        this.next = start + Math.ceil((Number.isFinite(size) ? size : 0) / BLOCK) * BLOCK;
        this.header = [];
        this.headerBytes = 0;
      }
    }
    this.total += chunk.length;
  }

  /** Zero bytes that complete the last entry's padding, when only padding is missing. */
  missingPadding(): Buffer | undefined {
    if (this.headerBytes !== 0 || this.total >= this.next || this.total < this.dataEnd) return undefined;
    return Buffer.alloc(this.next - this.total);
  }
}
