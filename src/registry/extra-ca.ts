// NODE_EXTRA_CA_CERTS, read when a TLS connection needs it instead of at node's start-up.
// Node 20 reads the file and builds its whole root store (~80 ms here) before any script
// runs whenever the variable is set, though only registry commands and ADD <url> open TLS.
// The strata bins' shebang,
//   #!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS STRATA_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// starts node without it and the value stashed (GNU env expands ${...} before it applies
// -u; an unset variable expands to ''). restoreExtraCaVar() then puts the variable back,
// so what strata spawns sees the user's environment, and remembers that node did not load
// the file: http.ts adds its certificates to node's default list itself, as node would have.
// The node processes strata starts itself (its mount daemon, strata-overlay, `rm --force`:
// src/run/programs.ts) get the same stash from stashExtraCaVar() and restore it the same way.
// Only node built-ins here, and no node:tls (~8 ms to load): main.ts loads this first.

const STASH = 'STRATA_EXTRA_CA_CERTS';

let deferred: string | undefined;

/** Undoes the shebang's stash in env; a no-op when node was started some other way (it
 * has then read NODE_EXTRA_CA_CERTS itself). */
export function restoreExtraCaVar(env: NodeJS.ProcessEnv = process.env): void {
  if (!(STASH in env)) return;
  const file = env[STASH];
  delete env[STASH];
  // '' is how env -S spells unset; node ignores an empty NODE_EXTRA_CA_CERTS as well
  if (!file) return;
  env.NODE_EXTRA_CA_CERTS = file;
  deferred = file;
}

/** The environment for starting one of strata's own node programs: env with
 * NODE_EXTRA_CA_CERTS moved aside as the shebang moves it, for restoreExtraCaVar() in the
 * program to put back. An empty or unset variable costs node nothing and stays as it is. */
export function stashExtraCaVar(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return { ...env };
  const out: NodeJS.ProcessEnv = { ...env, [STASH]: file };
  delete out.NODE_EXTRA_CA_CERTS;
  return out;
}

/** The NODE_EXTRA_CA_CERTS file this node was started without, if any: TLS code must add it. */
export function deferredExtraCaFile(): string | undefined {
  return deferred;
}
