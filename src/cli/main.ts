#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS STRATA_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// strata's command line: each command parses its arguments, calls one function, prints.
// The shebang keeps node from loading NODE_EXTRA_CA_CERTS at start-up (registry/extra-ca.ts)
import { restoreExtraCaVar } from '../registry/extra-ca.js';
import { startEarlyDaemon } from './daemon-spawn.js';
import { startEarlyInit } from '../run/early-init.js';

restoreExtraCaVar();
const argv = process.argv.slice(2);
// `strata mount`: the daemon's start-up overlaps loading yargs and parsing (daemon-spawn.ts)
startEarlyDaemon(argv);
// `strata run` (rootless, in the foreground): strata-init and its mount daemon, the same way
// (run/early-init.ts; the strata bin's stub has done it already, before loading this bundle)
startEarlyInit(argv);
// no top-level await: the bundle is CommonJS (scripts/bundle.mjs)
void import('./app.js').then(({ run }) =>
  run(argv).catch(() => {
    // run() has set the failure's own status (a UserError's, e.g. 127 from `strata run`)
    if (!process.exitCode) process.exitCode = 1;
  }),
);
