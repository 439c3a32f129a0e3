// The container start-up harness (issue 6): `CMD true` in a fresh container of the busybox
// image, from the command to its exit, side by side with the floor (unshare + chroot on a
// plain directory: namespaces and exec, no image, no union) and podman with its vfs driver
// where it runs. Contenders alternate, the order rotating each round; medians of all rounds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatRatio, formatSeconds, median } from '../lib/measure.js';
import { run } from '../lib/proc.js';
import { markdownTable } from '../lib/table.js';
import { caSet, withoutCa } from '../lib/env.js';
import { onPath } from '../lib/tools.js';
import { distDir, strataBin } from '../lib/paths.js';
import type { Workspace } from '../lib/workspace.js';
import type { SuiteOptions } from '../binding/suite.js';

const GOAL_SECONDS = 0.15;

interface Contender {
  name: string;
  /** strata rows are held to the goal */
  strata: boolean;
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** why it cannot run here, if it cannot */
  skip?: string;
  samples: number[];
}

/** podman with the vfs driver in the workspace, the busybox rootfs imported (offline). */
async function podmanContender(ws: Workspace, rootfs: string): Promise<Contender> {
  const c: Contender = { name: 'podman 4 (vfs), run --rm --network none', strata: false, argv: [], env: process.env, samples: [] };
  if (!onPath('podman')) return { ...c, skip: 'podman is not installed (apt-get install podman)' };
  const dir = ws.fresh('podman');
  const base = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const tar = path.join(dir, 'busybox.tar');
  const t = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  if (t.status !== 0) return { ...c, skip: `tar of the rootfs failed: ${t.stderr}` };
  const imp = await run('podman', [...base, 'import', tar, 'localhost/busybox'], { timeoutSeconds: 120 });
  if (imp.code !== 0) return { ...c, skip: `podman import failed: ${imp.stderr.trim().split('\n').pop()}` };
  c.argv = ['podman', ...base, 'run', '--rm', '--network', 'none', 'localhost/busybox', 'true'];
  const probe = await run(c.argv[0]!, c.argv.slice(1), { timeoutSeconds: 60 });
  if (probe.code !== 0) return { ...c, skip: `podman run failed: ${probe.stderr.trim().split('\n').pop()}` };
  return c;
}

/** The unprivileged user of the rootless rows, as test/run/rootless.test.ts uses it. */
const ROOTLESS_UID = 65534;

/** As root: `strata run` as uid 65534 through setpriv, on a store of its own (its layers
 * its own files, as its import extracts them): a user namespace, the mount made inside it
 * by the mount daemon strata-init starts. Returns the argv for a bin, or why it cannot run. */
async function rootlessSetup(ws: Workspace, rootfs: string): Promise<{ argvFor: (bin: string) => string[]; env: NodeJS.ProcessEnv } | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'not root: the rows above are rootless already' };
  if (!onPath('setpriv')) return { skip: 'setpriv is not installed (util-linux)' };
  // the user must reach its store below the workspace (mkdtemp made it 0700)
  fs.chmodSync(ws.dir, 0o755);
  const home = ws.fresh('rootless');
  const own = spawnSync('cp', ['-a', rootfs, path.join(home, 'rootfs')]);
  const chown = spawnSync('chown', ['-R', `${ROOTLESS_UID}:${ROOTLESS_UID}`, home]);
  if (own.status !== 0 || chown.status !== 0) return { skip: `cannot make the user's rootfs: ${own.stderr}${chown.stderr}` };
  const env = { ...process.env, HOME: home };
  const as = (bin: string, args: string[]): string[] => ['setpriv', `--reuid=${ROOTLESS_UID}`, `--regid=${ROOTLESS_UID}`, '--clear-groups', bin, '--root', path.join(home, 'store'), ...args];
  const [cmd, ...args] = as(strataBin, ['import', path.join(home, 'rootfs'), 'busybox']);
  const imp = await run(cmd!, args, { env, cwd: '/' });
  if (imp.code !== 0) return { skip: `strata import as uid ${ROOTLESS_UID}: ${imp.stderr.trim().split('\n').pop()}` };
  return { argvFor: (bin) => as(bin, ['run', '--rm', 'busybox', 'true']), env };
}

export async function runSuite(ws: Workspace, opts: SuiteOptions): Promise<string> {
  const rounds = opts.quick ? 3 : 8 * opts.runs;
  const rootfs = ws.fresh('rootfs');
  const mk = spawnSync('bash', [path.join(distDir, '..', 'scripts/mkrootfs-busybox.sh'), rootfs], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`mkrootfs-busybox.sh: ${mk.stderr}`);
  const store = ws.fresh('store');
  const imp = await run(process.execPath, [strataBin, '--root', store, 'import', rootfs, 'busybox']);
  if (imp.code !== 0) throw new Error(`strata import: ${imp.stderr}`);
  // the bin executed as a shell does (its shebang applies), not `node main.js`
  const strataAt = (bin: string): string[] => [bin, '--root', store, 'run', '--rm', 'busybox', 'true'];
  const strata = (): string[] => strataAt(strataBin);
  const base = process.env.STRATA_BASE_BIN;
  const caNote = caSet() ? 'NODE_EXTRA_CA_CERTS set, as in this environment' : 'environment as is';
  // the rows without NODE_EXTRA_CA_CERTS only where it is set: else they repeat the rows above
  const contenders: Contender[] = [
    { name: 'unshare + chroot on a plain dir (floor)', strata: false, argv: ['unshare', '--mount', '--pid', '--uts', '--ipc', '--net', '--fork', 'chroot', rootfs, '/bin/true'], env: process.env, samples: [] },
    { name: `strata run --rm busybox true (${caNote})`, strata: true, argv: strata(), env: process.env, samples: [] },
    ...(caSet() ? [{ name: 'strata run --rm busybox true, without NODE_EXTRA_CA_CERTS', strata: true, argv: strata(), env: withoutCa(), samples: [] }] : []),
    // STRATA_BASE_BIN: another build (e.g. main's) on the same store, for an A/B run
    ...(base ? [{ name: `the same, base build ${base} (${caNote})`, strata: false, argv: strataAt(base), env: process.env, samples: [] }] : []),
    // the path before the in-process server, same build: the mount daemon strata-init starts (one more node start-up)
    { name: `the same through the mount daemon (STRATA_RUN_DAEMON=1, ${caNote})`, strata: false, argv: strata(), env: { ...process.env, STRATA_RUN_DAEMON: '1' }, samples: [] },
    ...(caSet() ? [{ name: 'the same through the daemon, without NODE_EXTRA_CA_CERTS', strata: false, argv: strata(), env: { ...withoutCa(), STRATA_RUN_DAEMON: '1' }, samples: [] }] : []),
  ];
  if (process.getuid?.() !== 0) contenders[1]!.name += ' (rootless: the daemon path)';
  else {
    // rootless, side by side (STRATA_BENCH_ROOTLESS=0 leaves it out): the mount daemon runs
    // in the container's user namespace, no in-process server
    const rl = process.env.STRATA_BENCH_ROOTLESS === '0' ? { skip: 'STRATA_BENCH_ROOTLESS=0' } : await rootlessSetup(ws, rootfs);
    const name = `strata run --rm busybox true as uid ${ROOTLESS_UID} (rootless, ${caNote})`;
    if ('skip' in rl) contenders.push({ name, strata: true, argv: [], env: process.env, skip: rl.skip, samples: [] });
    else {
      contenders.push({ name, strata: true, argv: rl.argvFor(strataBin), env: rl.env, samples: [] });
      if (base) contenders.push({ name: `the same rootless, base build ${base} (${caNote})`, strata: false, argv: rl.argvFor(base), env: rl.env, samples: [] });
    }
  }
  contenders.push(await podmanContender(ws, rootfs));
  for (const c of contenders) {
    if (c.skip) opts.log(`run: skipping ${c.name}: ${c.skip}`);
    else {
      // a warm-up each: page cache, the store's first open
      const w = await run(c.argv[0]!, c.argv.slice(1), { env: c.env, timeoutSeconds: 60 });
      if (w.code !== 0) c.skip = `exited ${w.code}: ${w.stderr.trim().split('\n').pop()}`;
    }
  }
  const present = contenders.filter((c) => !c.skip);
  const loadBefore = os.loadavg()[0]!;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < present.length; i++) {
      const c = present[(i + r) % present.length]!;
      const res = await run(c.argv[0]!, c.argv.slice(1), { env: c.env, timeoutSeconds: 60 });
      if (res.code !== 0) throw new Error(`${c.name}: exited ${res.code}: ${res.stderr.trim()}`);
      c.samples.push(res.seconds);
    }
    opts.log(`  round ${r + 1}/${rounds}: ${present.map((c) => formatSeconds(c.samples[c.samples.length - 1]!)).join(', ')}`);
  }
  const floor = median(contenders[0]!.samples);
  const rows = contenders.map((c) => {
    const m = median(c.samples);
    if (c.skip || m === undefined) return [c.name, `skipped: ${c.skip ?? 'no samples'}`, '', '', c.strata ? `< ${formatSeconds(GOAL_SECONDS)}` : '', c.strata ? '—' : ''];
    const ratio = floor ? formatRatio(m / floor) : '';
    return [c.name, formatSeconds(m), formatSeconds(Math.min(...c.samples)), ratio, c.strata ? `< ${formatSeconds(GOAL_SECONDS)}` : '', c.strata ? (m < GOAL_SECONDS ? 'yes' : 'NO') : ''];
  });
  const table = markdownTable(['contender', 'median', 'min', '× floor', 'goal', 'met'], rows);
  const load = `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end, on ${os.cpus().length} CPUs`;
  return `${table}\n\n${rounds} rounds, contenders alternating; ${load}.`;
}
