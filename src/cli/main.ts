#!/usr/bin/env node
// strata's command line: each command parses its arguments, calls one function, prints.
import { run } from './app.js';

run(process.argv.slice(2)).catch(() => {
  // run() has set the failure's own status (a UserError's, e.g. 127 from `strata run`)
  if (!process.exitCode) process.exitCode = 1;
});
