// The store root as contracts.md defines it. Until the image store lands, the registry
// commands work on the OCI layout at that root directly (openLayout); afterwards this file
// becomes the one-line adapter to openStore().
import os from 'node:os';
import path from 'node:path';
import { openLayout, type Content } from './content.js';

export function storeRoot(arg?: string): string {
  if (arg) return arg;
  if (process.env.STRATA_ROOT) return process.env.STRATA_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/strata';
  return path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'strata');
}

/** create: false for commands that only read (push): a mistyped --root is an error */
export function openContent(rootArg?: string, create = true): Content {
  return openLayout(storeRoot(rootArg), { create });
}
