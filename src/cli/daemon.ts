#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS STRATA_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// The mount daemon: serves one union mount until it is unmounted, and reports READY (the
// kernel's INIT answered) or its one-line error through the pipe on fd 3. Started by
// mount-start.ts, which has validated the config; `-f` serves in the CLI process instead
// (daemon-serve.ts). Or started by strata-init as a container's mount program
// (--mount-serves): it then takes strata-overlay's command line and validates it itself.
//
//   node daemon.js CONFIG_JSON    (fd 3 is the report pipe)
//   node daemon.js - mount ARGS... (the config on stdin: started early, see daemon-spawn.ts;
//                                  an empty stdin means it is not needed after all; the
//                                  strata mount command line after '-' is for ps only)
//   node daemon.js --overlay -o OPTS MOUNTPOINT (strata-overlay's command line, fd 3 as above)
//   node daemon.js --overlay-stdin [SHOWN...]  (the same, started early by strata-init's
//                                  late mode: on stdin, NUL-terminated, its log file, then
//                                  the command line; an empty stdin: not needed)
// Started as src/run/programs.ts starts strata's programs: NODE_EXTRA_CA_CERTS stashed,
// put back here for what the daemon runs (fusermount3).
import fs from 'node:fs';
import { restoreExtraCaVar } from '../registry/extra-ca.js';
import { serve } from './daemon-serve.js';
import { prepareMount, type DaemonConfig } from './mount-start.js';
import { parseOverlayArgs } from './overlay-args.js';
import * as sys from '../sys/index.js';

restoreExtraCaVar();

/** The config of `--overlay ARGS`, validated here as strata-overlay would. */
function overlayConfig(argv: string[]): DaemonConfig {
  const a = parseOverlayArgs(argv);
  if (a.kind !== 'mount') throw new Error('--overlay: no mount on the command line');
  const parsed = prepareMount(a.req);
  return { parsed, source: a.req.source ?? 'strata', debug: a.req.debug ?? false };
}

/** --overlay-stdin: the log file and the command line from stdin. The log becomes stdout
 * and stderr here, as strata-init makes it theirs when it starts the daemon with its
 * arguments (it could not yet: the container's record did not exist). */
function lateOverlayConfig(): DaemonConfig | undefined {
  const [log, ...argv] = fs.readFileSync(0, 'utf8').split('\0').slice(0, -1);
  if (log === undefined) return undefined;
  const fd = fs.openSync(log, 'w', 0o600);
  sys.dup3(fd, 1);
  sys.dup3(fd, 2);
  fs.closeSync(fd);
  return overlayConfig(argv);
}

/** The config, from the command line or stdin; undefined when none is coming. */
function readConfig(argv: string[]): DaemonConfig | undefined {
  if (argv[0] === '--overlay') return overlayConfig(argv.slice(1));
  if (argv[0] === '--overlay-stdin') return lateOverlayConfig();
  // all of stdin, to its end ('' if the CLI closed it without writing)
  const json = argv[0] === '-' ? fs.readFileSync(0, 'utf8') : (argv[0] ?? '{}');
  return json === '' ? undefined : (JSON.parse(json) as DaemonConfig);
}

async function daemonMain(argv: string[]): Promise<void> {
  // the engine is loaded by now (static imports): the early start's whole point
  let reported = false;
  const report = (line: string): void => {
    if (reported) return;
    reported = true;
    try {
      fs.writeSync(3, line + '\n');
      fs.closeSync(3);
    } catch {
      // the starter went away: nobody to tell
    }
  };
  try {
    const cfg = readConfig(argv);
    if (!cfg) process.exit(0);
    await serve(cfg, () => report('ready'));
    process.exit(0);
  } catch (e) {
    report(`error ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    process.exit(1);
  }
}

// an entry point only, never imported: bundled (scripts/bundle.mjs), an import would run it
void daemonMain(process.argv.slice(2));
