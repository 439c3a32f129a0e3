// What the union harness measures (issue 4), each on a fresh mount: an untimed prepare
// step (warm-ups), then the timed part, then a check that the work really happened.
import fs from 'node:fs';
import path from 'node:path';
import { createEmpty, readAll, readWhole, statAll, writeWhole } from '../lib/client.js';
import type { Mounted } from '../lib/mounted.js';
import { canDropCaches, dropCaches, mustRun, rssBytes, syncAll } from '../lib/proc.js';
import type { Layers } from './layers.js';

export interface WorkloadContext {
  m: Mounted;
  /** the longest a spawned tool (rm, tar, make) may run */
  limitSeconds: number;
  mnt: string;
  layers: Layers;
  /** a memory sample taken inside the workload (the daemon's RSS after the walk) */
  sample: (row: string, value: number) => void;
}

/** met, not met, or a tie: slower than the peer by less than the runs' own spread (and 5%) */
export type Verdict = boolean | 'tie' | undefined;

export interface Goal {
  text: string;
  /** strata's median, the medians by short name, and a contender's run-to-run spread */
  met(strata: number, peers: Map<string, number>, spread: (who: string) => number | undefined): Verdict;
}

export interface Workload {
  id: string;
  label: (l: Layers) => string;
  goal: Goal;
  cold?: boolean;
  /** An idempotent warm workload (everything it touches is cached by its prepare step and
   * stays so): its timed part runs this many times on the same mount and counts as the
   * median of those. One pass of such a workload is tens of ms, where a timer tick or the
   * other core's wake-up is a few percent of it. */
  repeat?: number;
  prepare?: (c: WorkloadContext) => void | Promise<void>;
  run: (c: WorkloadContext) => void | Promise<void>;
  check?: (c: WorkloadContext) => void;
}

/** the most a tie may be slower by, whatever the spread */
export const TIE_MAX = 1.05;

/** At most factor × peer's median; "at" it (a tie) when slower by less than the larger
 * relative spread of the two contenders' runs, and by under 5%: a difference the runs
 * cannot tell from their own noise. */
export const atMost =
  (peer: string, factor = 1) =>
  (strata: number, peers: Map<string, number>, spread: (who: string) => number | undefined): Verdict => {
    const theirs = peers.get(peer);
    if (theirs === undefined) return undefined;
    if (strata <= theirs * factor) return true;
    const over = strata / (theirs * factor);
    const noise = Math.max(spread('strata') ?? 0, spread(peer) ?? 0);
    return over <= TIE_MAX && over - 1 <= noise ? 'tie' : false;
  };

export const noSlowerThanFuseOverlayfs: Goal = { text: '≤ fuse-overlayfs', met: atMost('fuse-overlayfs') };
const nearKernel: Goal = {
  text: '≤ fuse-overlayfs and ≤ 1.5× kernel',
  met: (s, p, spread) => {
    const a = atMost('fuse-overlayfs')(s, p, spread);
    const b = atMost('kernel', 1.5)(s, p, spread);
    if (a === undefined || b === undefined) return undefined;
    if (!a || !b) return false;
    return a === 'tie' || b === 'tie' ? 'tie' : true;
  },
};
export const mountGoal: Goal = { text: '< 300 ms', met: (s) => s < 0.3 };
export const rssGoal: Goal = { text: '< 150 MB', met: (s) => s < 150e6 };

const MiB = (n: number): string => `${n >> 20} MiB`;
const count = (n: number): string => n.toLocaleString('en-US');

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function cold(): Promise<void> {
  await syncAll();
  dropCaches();
}

/** timed passes of a warm workload on each mount (Workload.repeat) */
export const WARM_PASSES = 5;

export const RSS_AFTER_WALK = 'rss-after-walk';

/** `find -ls` of the many/ tree: a listing of each directory, then a stat of every entry */
async function findLsMany({ mnt, layers, limitSeconds }: WorkloadContext): Promise<void> {
  const r = await mustRun('find', [path.join(mnt, 'many'), '-ls'], { timeoutSeconds: limitSeconds });
  expect(r.stdout.split('\n').filter(Boolean).length === layers.many.length + layers.sizes.manyDirs + 1, 'every file and dir listed');
}

export const workloads: Workload[] = [
  {
    id: 'seq-read-cold',
    label: (l) => `seq read ${MiB(l.sizes.bigBytes)} lower file, cold`,
    goal: noSlowerThanFuseOverlayfs,
    cold: true,
    prepare: cold,
    run: ({ mnt, layers }) => expect(readWhole(path.join(mnt, 'big.bin')) === layers.sizes.bigBytes, 'read the whole file'),
  },
  {
    id: 'seq-read-warm',
    label: (l) => `seq read ${MiB(l.sizes.bigBytes)} lower file, warm`,
    goal: nearKernel,
    repeat: WARM_PASSES,
    prepare: ({ mnt, layers }) => {
      readWhole(path.join(layers.base, 'big.bin'));
      readWhole(path.join(mnt, 'big.bin'));
    },
    run: ({ mnt, layers }) => expect(readWhole(path.join(mnt, 'big.bin')) === layers.sizes.bigBytes, 'read the whole file'),
  },
  {
    id: 'copy-up',
    label: (l) => `copy-up: append 1 byte to a ${MiB(l.sizes.bigBytes)} lower file`,
    goal: noSlowerThanFuseOverlayfs,
    prepare: async ({ layers }) => {
      await syncAll(); // see seq-write
      readWhole(path.join(layers.base, 'big.bin'));
    },
    run: ({ mnt }) => fs.appendFileSync(path.join(mnt, 'big.bin'), 'x'),
    check: ({ mnt, layers }) => expect(fs.statSync(path.join(mnt, 'big.bin')).size === layers.sizes.bigBytes + 1, 'the appended byte'),
  },
  {
    id: 'seq-write',
    label: (l) => `seq write ${MiB(l.sizes.bigBytes)}`,
    goal: noSlowerThanFuseOverlayfs,
    // Each run starts with nothing dirty: the run before (another contender's, copy-up's
    // 512 MiB unsynced) left the page cache over the dirty limits, and this write was
    // throttled on its writeback (2.57x fuse-overlayfs in one table, 0.39x in the next)
    prepare: syncAll,
    run: ({ mnt, layers }) => writeWhole(path.join(mnt, 'written.bin'), layers.sizes.bigBytes),
    check: ({ mnt, layers }) => expect(fs.statSync(path.join(mnt, 'written.bin')).size === layers.sizes.bigBytes, 'the written size'),
  },
  {
    id: 'stat-cold',
    label: (l) => `stat ${count(l.many.length)} lower files, cold`,
    goal: noSlowerThanFuseOverlayfs,
    cold: true,
    prepare: cold,
    run: ({ mnt, layers }) => statAll(layers.many.map((p) => path.join(mnt, p))),
  },
  {
    id: 'stat-warm',
    label: (l) => `stat ${count(l.many.length)} lower files, warm`,
    goal: nearKernel,
    repeat: WARM_PASSES,
    prepare: ({ mnt, layers }) => statAll(layers.many.map((p) => path.join(mnt, p))),
    run: ({ mnt, layers }) => statAll(layers.many.map((p) => path.join(mnt, p))),
    check: ({ m, sample }) => {
      const rss = m.daemonPid === undefined ? undefined : rssBytes(m.daemonPid);
      if (rss !== undefined) sample(RSS_AFTER_WALK, rss);
    },
  },
  {
    id: 'read-all',
    label: (l) => `read all ${count(l.many.length)} lower files`,
    goal: noSlowerThanFuseOverlayfs,
    prepare: ({ layers }) => readAll(layers.many.map((p) => path.join(layers.base, p))),
    run: ({ mnt, layers }) => readAll(layers.many.map((p) => path.join(mnt, p))),
  },
  {
    id: 'readdir',
    label: (l) => `readdir of a ${count(l.sizes.wideEntries)}-entry dir`,
    goal: noSlowerThanFuseOverlayfs,
    run: ({ mnt, layers }) => expect(fs.readdirSync(path.join(mnt, 'wide')).length === layers.sizes.wideEntries, 'every entry listed'),
  },
  // the other side of readdir's trade-off: a listing whose every entry is then stat'ed
  // (READDIRPLUS answers the stats in the listing; plain READDIR leaves a LOOKUP per entry)
  {
    id: 'ls-l',
    label: (l) => `ls -l of a ${count(l.sizes.wideEntries)}-entry dir`,
    goal: noSlowerThanFuseOverlayfs,
    run: async ({ mnt, layers, limitSeconds }) => {
      const r = await mustRun('ls', ['-l', path.join(mnt, 'wide')], { timeoutSeconds: limitSeconds });
      expect(r.stdout.split('\n').filter((x) => x.startsWith('-')).length === layers.sizes.wideEntries, 'every entry listed long');
    },
  },
  {
    id: 'find-ls',
    label: (l) => `find -ls of the ${count(l.many.length)}-file lower tree`,
    goal: noSlowerThanFuseOverlayfs,
    run: findLsMany,
  },
  {
    id: 'find-ls-cold',
    label: (l) => `find -ls of the ${count(l.many.length)}-file lower tree, cold`,
    goal: noSlowerThanFuseOverlayfs,
    cold: true,
    prepare: cold,
    run: findLsMany,
  },
  {
    id: 'create',
    label: (l) => `create ${count(l.sizes.creates)} files`,
    goal: noSlowerThanFuseOverlayfs,
    prepare: ({ mnt }) => fs.mkdirSync(path.join(mnt, 'created')),
    run: ({ mnt, layers }) => createEmpty(path.join(mnt, 'created'), layers.sizes.creates),
    check: ({ mnt, layers }) => expect(fs.readdirSync(path.join(mnt, 'created')).length === layers.sizes.creates, 'every file created'),
  },
  {
    id: 'rm-rf',
    label: (l) => `rm -rf a ${count(l.many.length)}-file lower tree`,
    goal: noSlowerThanFuseOverlayfs,
    run: async ({ mnt, limitSeconds }) => void (await mustRun('rm', ['-rf', path.join(mnt, 'many')], { timeoutSeconds: limitSeconds })),
    check: ({ mnt }) => expect(!fs.existsSync(path.join(mnt, 'many')), 'the tree is gone'),
  },
  {
    id: 'untar',
    label: (l) => `untar ${l.sizes.untarTree} (${count(l.tarFiles)} entries)`,
    goal: noSlowerThanFuseOverlayfs,
    prepare: ({ mnt, layers }) => {
      fs.mkdirSync(path.join(mnt, 'untar'));
      readWhole(layers.tarball);
    },
    run: async ({ mnt, layers, limitSeconds }) =>
      void (await mustRun('tar', ['-xf', layers.tarball, '-C', path.join(mnt, 'untar')], { timeoutSeconds: limitSeconds })),
  },
  {
    id: 'make',
    label: (l) => `make -j2 of a ${l.sizes.sourceFiles + 1}-file C project`,
    goal: noSlowerThanFuseOverlayfs,
    run: async ({ mnt, limitSeconds }) => void (await mustRun('make', ['-j2', '-s', '-C', path.join(mnt, 'proj')], { timeoutSeconds: limitSeconds })),
    check: ({ mnt }) => expect(fs.statSync(path.join(mnt, 'proj/prog')).size > 0, 'the program was linked'),
  },
];

export const coldSupported = canDropCaches;
