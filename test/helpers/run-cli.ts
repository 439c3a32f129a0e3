#!/usr/bin/env node
// `strata run` without the image store: the same code path as the CLI's run command from
// the image onwards, with the image given as layer dirs and a config.
//   node run-cli.js '{"root":..., "lowers":[...], "config":{...}, "options":{...}}'
import { spawnEarlyInit } from '../../src/run/early-init.js';
import { runContainer } from '../../src/run/run.js';
import { UserError } from '../../src/cli/errors.js';
import type { ContainerInput } from '../../src/run/start.js';
import type { RunOptions } from '../../src/run/spec.js';

interface Input extends ContainerInput {
  options: RunOptions;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
// as the CLI's main.ts does for a foreground run (rootless only): the store root in its
// command line, for the tests' processesUsing()
const early = input.options.detach ? undefined : spawnEarlyInit(['run-cli', '--root', input.root]);
runContainer({ root: input.root, lowers: input.lowers, config: input.config, image: input.image }, input.options, process.stdout, undefined, early).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`strata: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof UserError ? e.exitCode : 1;
  },
);
