// Image fixtures: a store in a temp dir, the offline busybox base image, hand-made tars.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import tar from 'tar-stream';
import type { ExecutionContext } from 'ava';
import { tempDir } from './tmp.js';
import { repoRoot } from './daemon.js';
import { ImageStore, type ResolvedImage } from '../../src/image/store.js';
import { importImage } from '../../src/image/image-import.js';

/** A fresh store in a temp dir removed when the test ends. */
export function tempStore(t: ExecutionContext): ImageStore {
  return new ImageStore(path.join(tempDir(t, 'strata-store-'), 'root'));
}

let sharedRootfs: string | undefined;

/** scripts/mkrootfs-busybox.sh's tree, made once per test process (about a second) and
 * removed when the process exits. Treat it as read-only. */
export function busyboxRootfs(): string {
  if (sharedRootfs) return sharedRootfs;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-rootfs-'));
  process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));
  const dir = path.join(base, 'rootfs');
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/mkrootfs-busybox.sh'), dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkrootfs-busybox.sh failed: ${r.stderr}`);
  sharedRootfs = dir;
  return dir;
}

/** The busybox base image (`strata import` of mkrootfs-busybox.sh's tree) in `store`, tagged
 * `ref`. What run and build tests start from, with no network. */
export async function busyboxImage(_t: ExecutionContext, store: ImageStore, ref = 'busybox:latest'): Promise<ResolvedImage> {
  const have = store.tryResolveImage(ref);
  if (have) return have;
  return importImage(store, busyboxRootfs(), ref, { timestamp: new Date('2000-01-01T00:00:00Z') });
}

export interface TarEntry {
  name: string;
  type?: tar.Header['type'];
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
  /** declared size differing from the content (a lying header) */
  size?: number;
}

/** A tar made entry by entry, exactly as given (names are not cleaned up). */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date('2020-01-01T00:00:00Z'),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
      ...(e.pax ? { pax: e.pax } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      if (content) pack.entry(header, content, (err) => (err ? reject(err) : resolve()));
      else pack.entry({ ...header, size: 0 }, (err) => (err ? reject(err) : resolve())).end(undefined);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export const streamOf = (b: Buffer): Readable => Readable.from([b]);

/** Every path under dir with type, mode, owner, size, mtime (ns), link target, rdev and
 * xattrs: two trees are the same when these lines are. mtimes: false leaves times out (for
 * tools whose tars round them to seconds, as Go's archive/tar does without PAX). */
export function treeListing(dir: string, opts: { xattrs?: boolean; mtimes?: boolean } = {}): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p, { bigint: true });
      let line = `${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isFile() ? st.size : ''} ${opts.mtimes === false ? '' : st.mtimeNs} ${st.isSymbolicLink() ? fs.readlinkSync(p) : ''} ${st.isCharacterDevice() || st.isBlockDevice() ? st.rdev : ''}`;
      if (opts.xattrs && !st.isSymbolicLink()) {
        const x = spawnSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', p], { encoding: 'utf8' }).stdout;
        line += ' ' + x.split('\n').filter((l) => l && !l.startsWith('#')).sort().join(',');
      }
      out.push(line);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(dir, '');
  return out;
}
