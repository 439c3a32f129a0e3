// The binding micro-bench (issue 2 §5): a bare passthrough on Strata's binding against a
// bare passthrough on fuse-native 2.2.6 and against fuse-overlayfs over a single lower
// (for the operations measured here, a passthrough too). Higher is better throughout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmpty, readWhole, statAll, writeWhole } from '../lib/client.js';
import { formatRatio, Samples, sig3, timed } from '../lib/measure.js';
import { mountBackground, mountForeground, type Mounted } from '../lib/mounted.js';
import { fuseNativePassthroughJs, passthroughJs } from '../lib/paths.js';
import { onPath } from '../lib/tools.js';
import { markdownTable } from '../lib/table.js';
import type { Workspace } from '../lib/workspace.js';

export interface SuiteOptions {
  runs: number;
  quick: boolean;
  log: (line: string) => void;
}

interface Sizes {
  stats: number;
  creates: number;
  fileBytes: number;
}

const sizesFor = (quick: boolean): Sizes =>
  quick ? { stats: 1000, creates: 500, fileBytes: 32 << 20 } : { stats: 10_000, creates: 5000, fileBytes: 256 << 20 };

interface Contender {
  name: string;
  missing?: string;
  mount(ws: Workspace, src: string, mnt: string): Promise<Mounted>;
}

const contenders: Contender[] = [
  {
    name: 'strata binding',
    mount: (ws, src, mnt) => mountForeground(ws, process.execPath, [passthroughJs, src, mnt], mnt, /^ready/m),
  },
  {
    name: 'fuse-native 2.2.6',
    mount: (ws, src, mnt) => mountForeground(ws, process.execPath, [fuseNativePassthroughJs, src, mnt], mnt, /^ready/m),
  },
  {
    name: 'fuse-overlayfs',
    ...(onPath('fuse-overlayfs') ? {} : { missing: 'fuse-overlayfs is not installed' }),
    mount: (ws, src, mnt) => {
      const upper = ws.fresh('upper');
      const work = ws.fresh('work');
      return mountBackground(ws, {
        cmd: 'fuse-overlayfs',
        args: ['-o', `lowerdir=${src},upperdir=${upper},workdir=${work}`, mnt],
        mountpoint: mnt,
        fuse: true,
      });
    },
  },
];

const ROWS = ['creates/s', 'stats/s', 'seq read MB/s', 'seq write MB/s'] as const;

function buildSource(ws: Workspace, sizes: Sizes): { src: string; statPaths: (mnt: string) => string[] } {
  const src = ws.fresh('binding-src');
  fs.mkdirSync(path.join(src, 's'));
  const names: string[] = [];
  for (let i = 0; i < sizes.stats; i++) {
    const name = `f${String(i).padStart(6, '0')}`;
    fs.writeFileSync(path.join(src, 's', name), 'x');
    names.push(name);
  }
  writeWhole(path.join(src, 'r.bin'), sizes.fileBytes);
  return { src, statPaths: (mnt) => names.map((n) => path.join(mnt, 's', n)) };
}

/** Removes what one run wrote into the shared source, so every run starts alike. */
function scrub(src: string, tag: string): void {
  fs.rmSync(path.join(src, `c-${tag}`), { recursive: true, force: true });
  fs.rmSync(path.join(src, `w-${tag}.bin`), { force: true });
}

async function measure(m: Mounted, sizes: Sizes, statPaths: string[], tag: string, samples: Samples, name: string): Promise<void> {
  const mnt = m.mountpoint;
  samples.add('stats/s', name, sizes.stats / (await timed(() => statAll(statPaths))));
  const read = await timed(() => {
    if (readWhole(path.join(mnt, 'r.bin')) !== sizes.fileBytes) throw new Error(`${name}: short read`);
  });
  samples.add('seq read MB/s', name, sizes.fileBytes / 1e6 / read);
  const dir = path.join(mnt, `c-${tag}`);
  fs.mkdirSync(dir);
  samples.add('creates/s', name, sizes.creates / (await timed(() => createEmpty(dir, sizes.creates))));
  samples.add('seq write MB/s', name, sizes.fileBytes / 1e6 / (await timed(() => writeWhole(path.join(mnt, `w-${tag}.bin`), sizes.fileBytes))));
}

export async function bindingSuite(ws: Workspace, opts: SuiteOptions): Promise<string> {
  const sizes = sizesFor(opts.quick);
  opts.log(`binding: ${sizes.stats} stats, ${sizes.creates} creates, ${sizes.fileBytes >> 20} MiB read and written; ${opts.runs} run(s)`);
  const { src, statPaths } = buildSource(ws, sizes);
  readWhole(path.join(src, 'r.bin')); // the source's pages cached for everyone alike
  const samples = new Samples();
  const loadBefore = os.loadavg()[0]!;
  const present = contenders.filter((c) => !c.missing);
  for (let run = 0; run < opts.runs; run++) {
    // alternate who goes first, so no contender always meets the warmest caches
    const order = present.map((_, i) => present[(i + run) % present.length]!);
    for (const c of order) {
      const tag = `${run}-${present.indexOf(c)}`;
      const mnt = ws.fresh('mnt');
      const m = await c.mount(ws, src, mnt);
      try {
        await measure(m, sizes, statPaths(mnt), tag, samples, c.name);
      } finally {
        await m.unmount();
        scrub(src, tag);
      }
      opts.log(`  run ${run + 1}: ${c.name} done`);
    }
  }
  return bindingTable(samples, sizes, loadBefore);
}

function bindingTable(samples: Samples, sizes: Sizes, loadBefore: number): string {
  const [ours, ...peers] = contenders;
  const header = ['operation', ...contenders.map((c) => c.name), ...peers.map((p) => `strata ÷ ${p.name}`)];
  const rows = ROWS.map((row) => {
    const mine = samples.median(row, ours!.name);
    const cells = contenders.map((c) => {
      if (c.missing) return `n/a (${c.missing})`;
      const v = samples.median(row, c.name);
      return v === undefined ? '—' : sig3(v);
    });
    const ratios = peers.map((p) => {
      const theirs = samples.median(row, p.name);
      return mine !== undefined && theirs !== undefined ? formatRatio(mine / theirs) : 'n/a';
    });
    return [row, ...cells, ...ratios];
  });
  const note =
    `Medians; higher is better; a ratio above 1× means Strata's binding is faster. ` +
    `${sizes.stats} lookups+stats of fresh names, ${sizes.creates} empty creates, ` +
    `${sizes.fileBytes >> 20} MiB read and written in 1 MiB requests (source in the page cache). ` +
    `Machine: load average (1 min) ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end, on ${os.cpus().length} CPUs.`;
  return `${markdownTable(header, rows)}\n\n${note}`;
}
