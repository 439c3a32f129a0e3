#!/usr/bin/env node
// npm run bench -- [binding] [union] [run] [--runs N] [--quick]
// Prints one markdown table per suite; everything it mounts or writes lives in one temp
// dir that is removed at the end, also on Ctrl-C.
import { parseArgs } from 'node:util';
import { bindingSuite } from './binding/suite.js';
import { unionSuite } from './union/suite.js';
import { runSuite } from './run/suite.js';
import { Workspace } from './lib/workspace.js';

const SUITES = ['binding', 'union', 'run'] as const;
type Suite = (typeof SUITES)[number];

const usage = `usage: npm run bench -- [binding] [union] [run] [options]

  binding        our binding's bare passthrough vs fuse-native 2.2.6 and fuse-overlayfs
  union          kernel overlayfs, fuse-overlayfs, unionfs-fuse and strata on the same layers
  run            strata run --rm busybox true vs unshare + chroot (the floor) and podman (vfs)
                 (no suite named: all three)
  --runs N       runs per contender, medians reported (default 3; 1 with --quick;
                 the run suite does 8 rounds per run)
  --quick        small sizes, a smoke test of the harness (about a minute)
  --only A,B     union suite: only these contenders (kernel, fuse-overlayfs, unionfs-fuse, strata,
                 strata-nopt (passthrough=off), strata-rdp-always (readdirplus=always);
                 strata-base too when STRATA_BASE_BIN names another build, for an A/B run)
  --limit S      union suite: stop rm, tar or make after S seconds, shown as "> S s"
                 (default 120; 30 with --quick)
  --budget M     union suite: start no run that would end past M minutes (default 30)
  --workloads A,B  union suite: only these workloads, by id (the mount and RSS rows come
                 with any); e.g. --workloads stat-warm for the mount row alone
  -h, --help     this text

  STRATA_BIN=path/to/main.js selects the strata CLI the union suite mounts with;
  STRATA_BASE_BIN=path/to/main.js adds another build's rows to the union and run suites.
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      workloads: { type: 'string' },
      limit: { type: 'string' },
      budget: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const unknown = positionals.filter((p) => !(SUITES as readonly string[]).includes(p));
  if (unknown.length) {
    process.stderr.write(`bench: unknown suite ${unknown.join(', ')}\n\n${usage}`);
    return 2;
  }
  const runs = values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`bench: --runs wants a positive integer, not ${values.runs}\n`);
    return 2;
  }
  const limitSeconds = values.limit === undefined ? (values.quick ? 30 : 120) : Number(values.limit);
  if (!(limitSeconds > 0)) {
    process.stderr.write(`bench: --limit wants seconds, not ${values.limit}\n`);
    return 2;
  }
  const budgetMinutes = values.budget === undefined ? 30 : Number(values.budget);
  if (!(budgetMinutes > 0)) {
    process.stderr.write(`bench: --budget wants minutes, not ${values.budget}\n`);
    return 2;
  }
  const suites: Suite[] = positionals.length ? (positionals as Suite[]) : [...SUITES];
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const ws = new Workspace();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`bench: ${sig}, cleaning up`);
    void ws.dispose().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const suite of suites) {
      const opts = { runs, quick: values.quick, log };
      const table =
        suite === 'binding'
          ? await bindingSuite(ws, opts)
          : suite === 'run'
            ? await runSuite(ws, opts)
            : await unionSuite(ws, { ...opts, limitSeconds, budgetSeconds: budgetMinutes * 60, ...(values.only ? { only: values.only.split(',') } : {}), ...(values.workloads ? { workloads: values.workloads.split(',') } : {}) });
      process.stdout.write(`\n## ${suite}${values.quick ? ' (--quick)' : ''}, ${runs} run(s)\n\n${table}\n`);
    }
    return 0;
  } finally {
    await ws.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const detail = e instanceof Error ? (process.env.STRATA_DEBUG ? (e.stack ?? e.message) : e.message) : String(e);
    process.stderr.write(`bench: ${detail}\n`);
    process.exit(1);
  },
);
