// Strata's own node programs and how strata starts them (its mount daemon, the rm --force
// that strata-init runs for a killed `run --rm`, the mount program of a container): the
// CommonJS stubs of scripts/bundle.mjs, not the ES module stubs main.js, daemon.js and
// overlay.js (node's ES loader costs ~9 ms of each start), run by this node (not PATH's),
// with NODE_EXTRA_CA_CERTS moved aside as the bins' shebang does (node would build its whole
// root store first, ~80 ms here) and put back by the program itself (registry/extra-ca.ts),
// so that what it runs sees the user's environment. Only node built-ins and extra-ca.ts
// here: main.ts loads this module for every command (daemon-spawn.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stashExtraCaVar } from '../registry/extra-ca.js';

/** The stubs, named after the bins (the mount daemon's is no bin of package.json). */
export type Program = 'strata' | 'strata-overlay' | 'strata-mount-daemon';

// dist/src/run/ for tsc's module, dist/src/cli/ for the bundles: the same depth
const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../cli');

export const programPath = (p: Program): string => path.join(cliDir, `${p}.cjs`);

export interface NodeCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** For spawn(): program p with args, in env less NODE_EXTRA_CA_CERTS (stashed). */
export function nodeCommand(p: Program, args: string[], env: NodeJS.ProcessEnv = process.env): NodeCommand {
  return { file: process.execPath, args: [programPath(p), ...args], env: stashExtraCaVar(env) };
}

/** The same as one argv, for a program that passes env on as it is (strata-init):
 * /usr/bin/env makes the stash, when there is something to stash. */
export function nodeArgv(p: Program, args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const node = [process.execPath, programPath(p), ...args];
  const file = env.NODE_EXTRA_CA_CERTS;
  return file ? ['/usr/bin/env', '-u', 'NODE_EXTRA_CA_CERTS', `STRATA_EXTRA_CA_CERTS=${file}`, ...node] : node;
}
