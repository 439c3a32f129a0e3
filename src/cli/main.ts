#!/usr/bin/env node
// strata's command line: each command parses its arguments, calls one function, prints.
import { run } from './app.js';

run(process.argv.slice(2)).catch(() => {
  process.exitCode = 1;
});
