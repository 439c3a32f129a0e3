// Merged directory listings (the kernel's readdir.c): every layer of the directory top
// down, each name once, whiteouts and markers never shown, a whiteout hiding the name in
// the layers below it. A listing is computed once per open handle, so offsets stay valid
// while entries come and go.
//
// The merge itself runs in the addon (sys.readdirMerged), and a listing stays in the
// columns it gives: no object per entry, and the names bytes until a caller needs them
// as strings. A plain listing of a big directory on a fresh mount (the daemon's code
// not yet compiled) otherwise cost ~2 us an entry in JS and garbage collection.
import * as sys from '../sys/index.js';
import { INO_XATTR } from './inode.js';
import { joinReal, type Stack } from './layers.js';
import type { Layer } from './types.js';
import type { ParentDir } from './namei.js';

/** one layer's real directory of a merged dir */
export interface LayerDir {
  path: string;
  fromUpper: boolean;
  layer: Layer;
}

/** Entries lstat'ed in one call (Listing.attrAt): a readdirplus reply's worth and more. */
export const STAT_CHUNK = 256;
/** chunks of stats kept by all listings together (32 KiB each), the oldest dropped first */
const STAT_CHUNKS_KEPT = 64;

/** one chunk's stats and when they were taken (performance.now()) */
interface StatChunk {
  buf: Float64Array;
  at: number;
}
const keptChunks: { l: Listing; c: number; chunk: StatChunk }[] = [];

/** A merged listing, '.' and '..' not included: entry i is names[i], of type type(i). */
export class Listing {
  private split: string[] | undefined;
  private paths: string[] | undefined;
  private index: Map<string, number> | undefined;
  /** by chunk of STAT_CHUNK entries: their stats, or the read ahead that takes them */
  private stats: (StatChunk | Promise<void> | undefined)[] | undefined;

  constructor(
    /** the layers' directories, top first: an entry's `layers` index is into this */
    readonly dirs: readonly LayerDir[],
    private readonly columns: sys.MergedListing,
  ) {}

  get count(): number {
    return this.columns.types.length;
  }

  /** the names as bytes, joined by NULs (empty when there are none) */
  get nameBytes(): Buffer {
    return this.columns.names;
  }

  /** each entry's DT_* (S_IF* >> 12) */
  get dtypes(): Uint8Array {
    return this.columns.types;
  }

  /** each entry's d_ino when it is the st_ino lookup shows, else -1: ask entryIno */
  get inos(): Float64Array {
    return this.columns.inos;
  }

  get names(): readonly string[] {
    this.split ??= this.count === 0 ? [] : this.columns.names.toString('utf8').split('\0');
    return this.split;
  }

  /** entry i's S_IF* type bits */
  type(i: number): number {
    return (this.columns.types[i]! << 12) & sys.S_IFMT;
  }

  /** the layer directory entry i was found in */
  dirOf(i: number): LayerDir {
    return this.dirs[this.columns.layers[i]!]!;
  }

  /** Entry i's lstat in the layer directory it was listed from, as taken with the rest of
   * its chunk at most maxAgeMs ago, or now (one call for STAT_CHUNK entries: no path walk
   * from the root, no call into the addon per entry). undefined for a directory, an entry
   * that could not be stat'ed, and while its chunk is being read ahead. */
  attrAt(i: number, maxAgeMs: number): sys.Attr | undefined {
    const c = (i / STAT_CHUNK) | 0;
    const s = this.stats?.[c];
    if (s instanceof Promise) return undefined;
    const from = c * STAT_CHUNK;
    if (s && this.statsFresh(i, maxAgeMs)) return sys.attrAt(s.buf, i - from);
    const buf = s?.buf ?? this.chunkBuf(c);
    const at = performance.now();
    sys.lstatEntries(this.layerPaths, this.columns, from, from + buf.length / 16, buf);
    this.keep(c, { buf, at });
    return sys.attrAt(buf, i - from);
  }

  /** whether entry i's chunk has stats from under maxAgeMs ago */
  statsFresh(i: number, maxAgeMs: number): boolean {
    const s = this.stats?.[(i / STAT_CHUNK) | 0];
    return s !== undefined && !(s instanceof Promise) && performance.now() - s.at <= maxAgeMs;
  }

  /** Takes the stats of entry i's chunk in a worker thread, for attrAt to find (a listing
   * read ahead of the readdirplus that will want them), unless it has them from under
   * maxAgeMs ago. */
  statsAhead(i: number, maxAgeMs: number): Promise<void> {
    const c = (i / STAT_CHUNK) | 0;
    const stats = (this.stats ??= []);
    const s = stats[c];
    if (s instanceof Promise) return s;
    if (this.statsFresh(i, maxAgeMs)) return Promise.resolve();
    const from = c * STAT_CHUNK;
    const buf = this.chunkBuf(c);
    const at = performance.now();
    const done = sys.lstatEntriesAsync(this.layerPaths, this.columns, from, from + buf.length / 16, buf).then(
      () => this.keep(c, { buf, at }),
      () => void (stats[c] = undefined), // attrAt takes them itself
    );
    stats[c] = done;
    return done;
  }

  /** the index of the entry named name, or -1 */
  indexOf(name: string): number {
    this.index ??= new Map(this.names.map((n, i) => [n, i]));
    return this.index.get(name) ?? -1;
  }

  /** room for chunk c's stats: 16 doubles for each of its entries */
  private chunkBuf(c: number): Float64Array {
    return new Float64Array((Math.min(this.count, (c + 1) * STAT_CHUNK) - c * STAT_CHUNK) * 16);
  }

  private get layerPaths(): string[] {
    return (this.paths ??= this.dirs.map((d) => d.path));
  }

  private keep(c: number, chunk: StatChunk): void {
    (this.stats ??= [])[c] = chunk;
    keptChunks.push({ l: this, c, chunk });
    if (keptChunks.length <= STAT_CHUNKS_KEPT) return;
    const old = keptChunks.shift()!;
    if (old.l.stats![old.c] === old.chunk) old.l.stats![old.c] = undefined;
  }
}

/** The layers' real directories for a merged dir, top first. */
export function layerDirs(stack: Stack, dir: ParentDir): LayerDir[] {
  const out: LayerDir[] = [];
  if (dir.inUpper && stack.upper) out.push({ path: stack.real(stack.upper, dir.path), fromUpper: true, layer: stack.upper });
  for (const ld of dir.lowerDirs) out.push({ path: ld.path, fromUpper: false, layer: ld.layer });
  return out;
}

/** the layers' directories, and whether each one's d_ino is the st_ino lookup shows */
function mergeArgs(stack: Stack, dir: ParentDir): { dirs: LayerDir[]; paths: string[]; exact: boolean[] } {
  const dirs = layerDirs(stack, dir);
  // an upper entry's st_ino may be a copy-up's recorded origin, a merged dir's the lower one's
  return { dirs, paths: dirs.map((d) => d.path), exact: dirs.map((d) => !d.fromUpper && stack.dInoExact(d.layer)) };
}

export function listMerged(stack: Stack, dir: ParentDir): Listing {
  const { dirs, paths, exact } = mergeArgs(stack, dir);
  return new Listing(dirs, sys.readdirMerged(paths, exact));
}

/** listMerged in a worker thread: a listing read ahead. */
export async function listMergedAsync(stack: Stack, dir: ParentDir): Promise<Listing> {
  const { dirs, paths, exact } = mergeArgs(stack, dir);
  return new Listing(dirs, await sys.readdirMergedAsync(paths, exact));
}

/** The d_ino of entry i, matching what lookup will show as st_ino. */
export function entryIno(stack: Stack, l: Listing, i: number): number | bigint {
  const known = l.inos[i]!;
  if (known >= 0) return known;
  const d = l.dirOf(i);
  const p = joinReal(d.path, l.names[i]!);
  const a = sys.lstatIfExists(p);
  if (!a) return 1;
  const type = l.type(i);
  if (d.fromUpper && (type === sys.S_IFREG || type === sys.S_IFDIR)) {
    const v = sys.lgetxattrIfExists(p, stack.prefix + INO_XATTR);
    if (v && /^\d+$/.test(v.toString())) return Number(v.toString());
  }
  return a.ino;
}
