// A readdir or readdirplus reply built in JS, in the kernel's wire format (linux/fuse.h:
// struct fuse_dirent, and struct fuse_direntplus = fuse_entry_out + fuse_dirent), and sent
// as one buffer. Handing the addon an array of objects instead cost ~15 µs an entry: it
// read some twenty properties of each through N-API. The layout is the kernel's stable
// ABI, the same bytes libfuse's fuse_add_direntry{,_plus} write.
import type { Attr } from '../sys/native.js';
import { fuse } from './native.js';

const align8 = (n: number): number => (n + 7) & ~7;
/** struct fuse_dirent before the name */
const DIRENT = 24;
/** struct fuse_entry_out (40 bytes, then a 88-byte struct fuse_attr) */
const ENTRY_OUT = 128;
const TWO32 = 4294967296;

/** a name's length in UTF-8: its length when ASCII (a loop the JIT inlines, where
 * Buffer.byteLength is a call into C++ for every name of a listing) */
export function utf8Length(name: string): number {
  for (let k = 0; k < name.length; k++) if (name.charCodeAt(k) >= 0x80) return Buffer.byteLength(name);
  return name.length;
}

/** the room an entry takes in a reply */
export const direntSize = (nameBytes: number): number => align8(DIRENT + nameBytes);
export const direntPlusSize = (nameBytes: number): number => align8(ENTRY_OUT + DIRENT + nameBytes);

/** the kernel's entry_valid/attr_valid pair for a timeout in seconds (libfuse's calc_timeout_*) */
function timeoutParts(t: number): [number, number] {
  if (!(t > 0)) return [0, 0];
  if (t >= 2 ** 63) return [2 ** 63, 999_999_999];
  const sec = Math.floor(t);
  return [sec, Math.min(999_999_999, Math.floor((t - sec) * 1e9))];
}

export class DirReply {
  /** node ids given to the kernel in this reply, one lookup each (undone if it never arrives) */
  readonly lookups: number[] = [];
  private readonly buf: Buffer;
  private readonly u32: Uint32Array;
  private pos = 0;

  constructor(readonly size: number, filled?: Buffer) {
    // zeroed: padding, generation, attr.flags stay 0
    this.buf = filled ?? Buffer.alloc(align8(size) + 8);
    this.u32 = new Uint32Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >> 2);
    if (filled) this.pos = filled.length;
  }

  /** a reply of entries already encoded (a slice of an EncodedListing) */
  static of(bytes: Buffer): DirReply {
    return new DirReply(bytes.length, bytes);
  }

  get length(): number {
    return this.pos;
  }

  /** whether an entry of this size still fits */
  fits(entrySize: number): boolean {
    return this.pos + entrySize <= this.size;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private u64(i: number, v: number | bigint): void {
    if (typeof v === 'bigint') {
      this.u32[i] = Number(v & 0xffffffffn);
      this.u32[i + 1] = Number((v >> 32n) & 0xffffffffn);
    } else {
      this.u32[i] = v; // ToUint32: v modulo 2^32, two's complement for negative times
      this.u32[i + 1] = Math.floor(v / TWO32);
    }
  }

  /** the fuse_dirent at byte p */
  private dirent(p: number, name: string, nameBytes: number, ino: number | bigint, mode: number, off: number): void {
    const i = p >> 2;
    this.u64(i, ino);
    this.u64(i + 2, off);
    this.u32[i + 4] = nameBytes;
    this.u32[i + 5] = (mode & 0o170000) >>> 12;
    const at = p + DIRENT;
    if (nameBytes === name.length && nameBytes <= 64) {
      // ASCII (as many bytes as UTF-16 units): a loop the JIT inlines beats a call into C++
      for (let k = 0; k < nameBytes; k++) this.buf[at + k] = name.charCodeAt(k);
    } else {
      this.buf.write(name, at, nameBytes, 'utf8');
    }
  }

  /** a readdir entry (ino: d_ino; mode: its S_IF* type bits); false when it does not fit */
  add(name: string, nameBytes: number, ino: number | bigint, mode: number, off: number): boolean {
    const need = direntSize(nameBytes);
    if (!this.fits(need)) return false;
    this.dirent(this.pos, name, nameBytes, ino, mode, off);
    this.pos += need;
    return true;
  }

  /** A readdirplus entry. nodeid 0 gives the kernel the name alone (it links no inode and
   * counts no lookup: the daemon did not look the entry up); otherwise the kernel takes one
   * lookup of nodeid, recorded in `lookups`. */
  addPlus(name: string, nameBytes: number, off: number, nodeid: number, attr: Attr, timeout: number): boolean;
  addPlus(name: string, nameBytes: number, off: number, nodeid: 0, ino: number | bigint, mode: number): boolean;
  addPlus(name: string, nameBytes: number, off: number, nodeid: number, a: Attr | number | bigint, b: number): boolean {
    const need = direntPlusSize(nameBytes);
    if (!this.fits(need)) return false;
    const p = this.pos;
    if (typeof a !== 'object') {
      this.dirent(p + ENTRY_OUT, name, nameBytes, a, b, off);
    } else {
      const i = p >> 2;
      this.u64(i, nodeid);
      const [sec, nsec] = timeoutParts(b);
      this.u64(i + 4, sec); // entry_valid
      this.u64(i + 6, sec); // attr_valid
      this.u32[i + 8] = nsec;
      this.u32[i + 9] = nsec;
      const t = i + 10; // struct fuse_attr
      this.u64(t, a.ino);
      this.u64(t + 2, a.size);
      this.u64(t + 4, a.blocks);
      this.u64(t + 6, a.atime);
      this.u64(t + 8, a.mtime);
      this.u64(t + 10, a.ctime);
      this.u32[t + 12] = a.atimeNsec;
      this.u32[t + 13] = a.mtimeNsec;
      this.u32[t + 14] = a.ctimeNsec;
      this.u32[t + 15] = a.mode;
      this.u32[t + 16] = a.nlink;
      this.u32[t + 17] = a.uid;
      this.u32[t + 18] = a.gid;
      this.u32[t + 19] = Number(a.rdev);
      this.u32[t + 20] = a.blksize;
      this.dirent(p + ENTRY_OUT, name, nameBytes, a.ino, a.mode, off);
      if (nodeid !== 0) this.lookups.push(nodeid);
    }
    this.pos += need;
    return true;
  }
}

/** A whole listing's plain readdir entries encoded once ('.' and '..' first, d_off = the
 * index of the next entry), so that each READDIR is a slice of it: the kernel asks for
 * 32 KiB at a time and a 10,000-entry directory would otherwise cost its per-entry work
 * in every request. */
export class EncodedListing {
  private constructor(
    private readonly buf: Buffer,
    /** byte start of entry i; starts[count] is the end */
    private readonly starts: Uint32Array,
  ) {}

  get count(): number {
    return this.starts.length - 1;
  }

  /** names joined by NULs (one for each of inos), d_ino, DT_* types: encoded by the addon */
  static encode(names: Buffer, inos: Float64Array, dtypes: Uint8Array): EncodedListing {
    const [buf, starts] = fuse.direntsEncode(names, inos, dtypes);
    return new EncodedListing(buf, starts);
  }

  /** The same bytes from entries one by one, in JS: for an inode number past 2^53 (a
   * bigint), which a Float64Array cannot hold. */
  static encodeEach(names: readonly string[], inos: readonly (number | bigint)[], dtypes: ArrayLike<number>): EncodedListing {
    const count = names.length;
    const bytes = new Uint16Array(count);
    const starts = new Uint32Array(count + 1);
    let total = 0;
    for (let i = 0; i < count; i++) {
      starts[i] = total;
      bytes[i] = utf8Length(names[i]!);
      total += direntSize(bytes[i]!);
    }
    starts[count] = total;
    const r = new DirReply(total);
    for (let i = 0; i < count; i++) r.add(names[i]!, bytes[i]!, inos[i]!, dtypes[i]! << 12, i + 1);
    return new EncodedListing(r.bytes(), starts);
  }

  /** The entries from index offset on that fit in size bytes as readdirplus entries with
   * no inode (nodeid 0): each one the plain entry after a zeroed struct fuse_entry_out. */
  slicePlus(offset: number, size: number): Buffer {
    // in the addon: a copy per entry, on a fresh mount's first reply (cold code)
    return fuse.direntsSlicePlus(this.buf, this.starts, offset, size);
  }

  /** the entries from index offset on that fit in size bytes */
  slice(offset: number, size: number): Buffer {
    const n = this.count;
    if (offset >= n) return this.buf.subarray(0, 0);
    const start = this.starts[offset]!;
    // the last entry end within the budget: binary search over the ends
    let lo = offset + 1;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! - start <= size) lo = mid;
      else hi = mid - 1;
    }
    return this.buf.subarray(start, this.starts[lo]!);
  }
}
