// PAX records with binary values. tar-stream decodes PAX values as UTF-8 and encodes them
// from strings, which mangles binary xattrs (security.capability, as docker writes it in
// SCHILY.xattr.*). This module reads the raw records from the tar bytes alongside
// tar-stream (PaxXattrTap), and encodes a PAX header holding raw values (encodePaxRecords).
import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;
const XATTR = 'SCHILY.xattr.';

/** A tar header's numeric field: octal text, or base-256 when the high bit is set. */
function numField(b: Buffer): number {
  if ((b[0]! & 0x80) !== 0) {
    let n = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = b.toString('latin1').replace(/[\0 ].*$/s, '').trim();
  return s === '' ? 0 : Number.parseInt(s, 8);
}

/** "LEN key=value\n" records; values kept as bytes. */
export function parsePaxRecords(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number.parseInt(buf.toString('latin1', off, sp), 10);
    if (!(len > 0) || off + len > buf.length) break;
    const rec = buf.subarray(sp + 1, off + len - 1); // without the trailing \n
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

export function encodePaxRecords(records: [string, Buffer | string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of records) {
    const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.from(String(len)), body);
  }
  return Buffer.concat(parts);
}

/** Passes a tar stream through unchanged, and queues for each entry (in order) the raw
 * SCHILY.xattr values its PAX headers gave it. */
export class PaxXattrTap extends Transform {
  private readonly queue: Map<string, Buffer>[] = [];
  private pending = Buffer.alloc(0);
  /** bytes of entry data still to skip */
  private skip = 0;
  /** bytes of a PAX header body still to capture, and where it goes */
  private capture: { left: number; pad: number; kind: 'x' | 'g'; parts: Buffer[] } | undefined;
  private local = new Map<string, Buffer>();
  private global = new Map<string, Buffer>();

  /** The raw xattrs of the next entry tar-stream hands over. */
  next(): Map<string, Buffer> {
    return this.queue.shift() ?? new Map();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.scan(chunk);
    cb(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length);
        this.skip -= n;
        buf = buf.subarray(n);
        if (this.skip > 0) break;
      }
      if (this.capture) {
        const c = this.capture;
        const n = Math.min(c.left, buf.length);
        c.parts.push(Buffer.from(buf.subarray(0, n)));
        c.left -= n;
        buf = buf.subarray(n);
        if (c.left > 0) break;
        this.capture = undefined;
        this.skip = c.pad;
        const recs = parsePaxRecords(Buffer.concat(c.parts));
        const into = c.kind === 'x' ? this.local : this.global;
        for (const [k, v] of recs) into.set(k, v);
        continue;
      }
      if (buf.length < BLOCK) break;
      const h = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (h.every((b) => b === 0)) continue;
      const type = String.fromCharCode(h[156]!);
      let size = numField(h.subarray(124, 136));
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (type === 'x' || type === 'g') {
        this.capture = { left: size, pad, kind: type, parts: [] };
        continue;
      }
      if (type === 'L' || type === 'K') {
        this.skip = size + pad;
        continue;
      }
      const xattrs = new Map<string, Buffer>();
      for (const m of [this.global, this.local])
        for (const [k, v] of m) if (k.startsWith(XATTR)) xattrs.set(k.slice(XATTR.length), v);
      const paxSize = this.local.get('size') ?? this.global.get('size');
      if (paxSize) size = Number.parseInt(paxSize.toString('latin1'), 10);
      this.queue.push(xattrs);
      this.local = new Map();
      // as tar-stream reads it: a directory has no data whatever its size field says
      this.skip = type === '5' ? 0 : size + ((BLOCK - (size % BLOCK)) % BLOCK);
    }
    this.pending = Buffer.from(buf);
  }
}

function octal(buf: Buffer, off: number, len: number, n: number): void {
  buf.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

/** A ustar header block of typeflag x for a PAX body of `size` bytes, and the body padded. */
export function paxHeaderBlocks(body: Buffer, mtime: Date): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write('PaxHeader', 0, 100, 'latin1');
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, body.length);
  octal(h, 136, 12, Math.max(0, Math.floor(mtime.getTime() / 1000)));
  h.write('x', 156, 1, 'latin1');
  h.write('ustar\x0000', 257, 8, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return Buffer.concat([h, body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK)]);
}
