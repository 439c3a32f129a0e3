// The union harness (issue 4): the same lower layers under every contender, a fresh
// mount (and a fresh upper) for every measurement, contenders alternating, medians and
// ratios to the kernel and to fuse-overlayfs in one table, the goals beside them.
import fs from 'node:fs';
import os from 'node:os';
import { formatRatio, formatSeconds, median, Samples, sig3, timed } from '../lib/measure.js';
import { rssBytes, syncAll, TimeoutError } from '../lib/proc.js';
import { markdownTable } from '../lib/table.js';
import { CA_VAR, caSet, withoutCa } from '../lib/env.js';
import type { Workspace } from '../lib/workspace.js';
import type { SuiteOptions } from '../binding/suite.js';
import { unionContenders, type UnionContender } from './contenders.js';
import { buildLayers, unionSizes, type Layers } from './layers.js';
import { coldSupported, mountGoal, RSS_AFTER_WALK, rssGoal, TIE_MAX, WARM_PASSES, workloads, type Goal, type Workload } from './workloads.js';

export interface UnionOptions extends SuiteOptions {
  /** contenders by short name */
  only?: string[];
  /** the longest one rm, tar or make may take before it is stopped and shown as "> limit" */
  limitSeconds: number;
  /** no further run starts once another would likely end past this */
  budgetSeconds: number;
  /** workloads by id (default all); the mount and RSS rows come with any of them */
  workloads?: string[];
}

const MOUNT = 'mount';
const MOUNT_NO_CA = 'mount-no-extra-ca-certs';
// the mount row is taken in the environment as the user has it, and, when it sets
// NODE_EXTRA_CA_CERTS, once more without it (lib/env.ts)
const RSS_IDLE = 'rss-idle';

interface Outcome {
  samples: Samples;
  failures: Map<string, string>;
  /** (row, contender) keys where a run hit the limit */
  timeouts: Set<string>;
  limitSeconds: number;
}

const key = (row: string, who: string): string => `${row}\u0000${who}`;

async function measureOnce(ws: Workspace, c: UnionContender, w: Workload, layers: Layers, out: Outcome, log: (l: string) => void): Promise<void> {
  // a stopped run counts as the limit: a lower bound, shown as "> limit"
  const timedOut = (e: unknown): boolean => {
    if (!(e instanceof TimeoutError)) return false;
    out.samples.add(w.id, c.short, e.limitSeconds);
    out.timeouts.add(key(w.id, c.short));
    log(`    ${w.id} ${c.short}: > ${e.limitSeconds} s (stopped)`);
    return true;
  };
  await syncAll(); // the last contender's dirty pages are written back on nobody's clock
  const dirs = { lowers: layers.lowers, upper: ws.fresh('upper'), work: ws.fresh('work'), mnt: ws.fresh('mnt') };
  const fail = (e: unknown): void => {
    const msg = e instanceof Error ? e.message : String(e);
    if (!out.failures.has(key(w.id, c.short))) out.failures.set(key(w.id, c.short), msg.split('\n')[0]!);
    log(`  ${c.short} ${w.id}: FAILED: ${msg}`);
  };
  if (caSet()) {
    const bare = { lowers: layers.lowers, upper: ws.fresh('upper'), work: ws.fresh('work'), mnt: ws.fresh('mnt') };
    try {
      const m = await c.mount(ws, bare, withoutCa());
      out.samples.add(MOUNT_NO_CA, c.short, m.readySeconds);
      await m.unmount();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (!out.failures.has(key(MOUNT_NO_CA, c.short))) out.failures.set(key(MOUNT_NO_CA, c.short), msg.split('\n')[0]!);
      log(`  ${c.short} mount without ${CA_VAR}: FAILED: ${msg}`);
    } finally {
      for (const d of [bare.upper, bare.work, bare.mnt]) fs.rmSync(d, { recursive: true, force: true });
    }
  }
  try {
    const m = await c.mount(ws, dirs);
    try {
      out.samples.add(MOUNT, c.short, m.readySeconds);
      const idle = m.daemonPid === undefined ? undefined : rssBytes(m.daemonPid);
      if (idle !== undefined) out.samples.add(RSS_IDLE, c.short, idle);
      const ctx = { m, mnt: m.mountpoint, layers, limitSeconds: out.limitSeconds, sample: (row: string, v: number) => out.samples.add(row, c.short, v) };
      await w.prepare?.(ctx);
      const passes: number[] = [];
      for (let i = 0; i < (w.repeat ?? 1); i++) passes.push(await timed(() => w.run(ctx)));
      const seconds = median(passes)!;
      w.check?.(ctx);
      out.samples.add(w.id, c.short, seconds);
      const of = passes.length > 1 ? `, median of ${passes.length} passes` : '';
      log(`    ${w.id} ${c.short}: ${formatSeconds(seconds)} (mounted in ${formatSeconds(m.readySeconds)}${of})`);
    } finally {
      await m.unmount();
    }
  } catch (e) {
    if (!timedOut(e)) fail(e);
  } finally {
    for (const d of [dirs.upper, dirs.work, dirs.mnt]) fs.rmSync(d, { recursive: true, force: true });
  }
}

export async function unionSuite(ws: Workspace, opts: UnionOptions): Promise<string> {
  const unknown = (opts.only ?? []).filter((o) => !unionContenders.some((c) => c.short === o));
  if (unknown.length) throw new Error(`--only: no contender ${unknown.join(', ')} (there are ${unionContenders.map((c) => c.short).join(', ')})`);
  const chosen = unionContenders.filter((c) => (opts.only ? opts.only.includes(c.short) : !c.optIn));
  const missing = new Map<string, string>();
  for (const c of chosen) {
    const why = await c.probe(ws);
    if (why) missing.set(c.short, why);
  }
  const present = chosen.filter((c) => !missing.has(c.short));
  for (const [who, why] of missing) opts.log(`union: skipping ${who}: ${why}`);
  const sizes = unionSizes(opts.quick);
  opts.log(`union: building the layers (${sizes.bigBytes >> 20} MiB file, ${sizes.manyDirs * sizes.filesPerDir} files, tar of ${sizes.untarTree})`);
  const layers = await buildLayers(ws, sizes);
  const unknownW = (opts.workloads ?? []).filter((id) => !workloads.some((w) => w.id === id));
  if (unknownW.length) throw new Error(`--workloads: no workload ${unknownW.join(', ')} (there are ${workloads.map((w) => w.id).join(', ')})`);
  const active = workloads.filter((w) => (!w.cold || coldSupported()) && (!opts.workloads || opts.workloads.includes(w.id)));
  const out: Outcome = { samples: new Samples(), failures: new Map(), timeouts: new Set(), limitSeconds: opts.limitSeconds };
  const loadBefore = os.loadavg()[0]!;
  const started = Date.now();
  let runsDone = 0;
  for (let run = 0; run < opts.runs; run++) {
    const elapsed = (Date.now() - started) / 1000;
    if (run > 0 && elapsed + elapsed / run > opts.budgetSeconds) {
      opts.log(`  stopping after ${run} run(s): another would end past the ${opts.budgetSeconds / 60}-minute budget`);
      break;
    }
    opts.log(`  run ${run + 1}/${opts.runs}`);
    for (const [wi, w] of active.entries()) {
      const order = present.map((_, i) => present[(i + run + wi) % present.length]!);
      for (const c of order) await measureOnce(ws, c, w, layers, out, opts.log);
    }
    runsDone++;
  }
  const load = `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end, on ${os.cpus().length} CPUs`;
  const runsNote = runsDone < opts.runs ? `${runsDone} of the ${opts.runs} asked (time budget ${opts.budgetSeconds / 60} min)` : `${runsDone}`;
  return unionTable(chosen, missing, active, layers, out, runsNote, load);
}

interface Row {
  label: string;
  id: string;
  goal: Goal;
  memory: boolean;
}

function unionTable(
  chosen: UnionContender[],
  missing: Map<string, string>,
  active: Workload[],
  layers: Layers,
  out: Outcome,
  runs: string,
  load: string,
): string {
  const rows: Row[] = [
    ...active.map((w) => ({ label: w.label(layers), id: w.id, goal: w.goal, memory: false })),
    { label: `mount command → ready mount${caSet() ? ` (environment as given: ${CA_VAR} set)` : ''}`, id: MOUNT, goal: mountGoal, memory: false },
    ...(caSet() ? [{ label: `mount command → ready mount, without ${CA_VAR}`, id: MOUNT_NO_CA, goal: mountGoal, memory: false }] : []),
    { label: 'daemon RSS, idle', id: RSS_IDLE, goal: { text: '', met: () => undefined }, memory: true },
    { label: `daemon RSS after the ${layers.many.length.toLocaleString('en-US')}-file walk`, id: RSS_AFTER_WALK, goal: rssGoal, memory: true },
  ];
  const header = ['workload', ...chosen.map((c) => c.name), 'goal (strata)', 'met'];
  const body = rows.map((r) => {
    const med = new Map<string, number>();
    for (const c of chosen) {
      const v = out.samples.median(r.id, c.short);
      if (v !== undefined) med.set(c.short, v);
    }
    const cells = chosen.map((c) => {
      if (missing.has(c.short)) return 'not run';
      const v = med.get(c.short);
      if (v === undefined) {
        if (out.failures.has(key(r.id, c.short))) return 'failed';
        return c.fuse || !r.memory ? '—' : 'in kernel';
      }
      const stopped = out.timeouts.has(key(r.id, c.short)) && v >= out.limitSeconds;
      const shown = r.memory ? `${sig3(v / 1e6)} MB` : `${stopped ? '> ' : ''}${formatSeconds(v)}`;
      const ratios: string[] = [];
      const k = med.get('kernel');
      const fo = med.get('fuse-overlayfs');
      if (c.short !== 'kernel' && k !== undefined) ratios.push(`${formatRatio(v / k)} k`);
      if (c.short !== 'kernel' && c.short !== 'fuse-overlayfs' && fo !== undefined) ratios.push(`${formatRatio(v / fo)} fo`);
      return ratios.length ? `${shown} (${ratios.join(', ')})` : shown;
    });
    const mine = med.get('strata');
    const verdict = mine === undefined || !r.goal.text ? '—' : `${r.goal.met(mine, med, (who) => out.samples.spread(r.id, who))}`;
    const met = ({ true: 'yes', false: 'NO', tie: 'tie', undefined: '?' } as Record<string, string>)[verdict] ?? verdict;
    return [r.label, ...cells, r.goal.text, met];
  });
  const notes = [
    `Medians of ${runs} run(s), each on a fresh mount with an empty upper dir; lower is better. ` +
      `(×k): ratio to kernel overlayfs; (×fo): ratio to fuse-overlayfs. Two lower layers; default options everywhere.`,
    `Warm rows (${active.filter((w) => w.repeat).map((w) => w.id).join(', ') || 'none here'}): each run is the median of ${WARM_PASSES} timed passes on its mount.`,
    `met "tie": over the goal's bound (fuse-overlayfs's median, 1.5× the kernel's) by less than the larger run-to-run spread (half the range over the median) of the two, and by under ${Math.round((TIE_MAX - 1) * 100)}%.`,
    `Mount command → ready mount: from the start of the mount command to its return with a readdir of the mount's root answered.`,
    `rm, tar and make are stopped after ${out.limitSeconds} s ("> ${out.limitSeconds} s"). Machine: ${load}.`,
  ];
  if (!coldSupported()) notes.push('Cold workloads skipped: dropping the page cache needs root.');
  for (const [who, why] of missing) notes.push(`${who} not run: ${why}.`);
  for (const [k, msg] of out.failures) {
    const [row, who] = k.split('\u0000');
    notes.push(`${who} failed ${row}: ${msg}`);
  }
  return `${markdownTable(header, body)}\n\n${notes.join('\n')}`;
}
