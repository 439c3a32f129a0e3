#!/usr/bin/env node
// strata's command line: each command parses its arguments, calls one function, prints.
import { startEarlyDaemon } from './daemon-spawn.js';

const argv = process.argv.slice(2);
// `strata mount`: the daemon's start-up overlaps loading yargs and parsing (daemon-spawn.ts)
startEarlyDaemon(argv);
const { run } = await import('./app.js');

run(argv).catch(() => {
  // run() has set the failure's own status (a UserError's, e.g. 127 from `strata run`)
  if (!process.exitCode) process.exitCode = 1;
});
