// Serving a union on a FUSE session: the one place that decides how a Strata union is
// mounted (kernel options, session settings). Used by the mount daemon (src/cli/daemon.ts),
// which mounts a path itself, and by a foreground `strata run` (src/run/start.ts), which
// serves a /dev/fuse fd that strata-init mounted inside the container's namespaces.
import fs from 'node:fs';
export { Union } from '../union/engine.js';
import { Union } from '../union/engine.js';
import type { ParsedOptions } from '../union/params.js';
import { FuseSession, type MountOptions } from './session.js';
import { unionHandlers } from './union.js';

/** Root of the initial user namespace: the only one whose mounts may honour device nodes. */
export function isHostRoot(): boolean {
  if (process.geteuid?.() !== 0) return false;
  try {
    return /^\s*0\s+0\s+4294967295\s*$/.test(fs.readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    return false;
  }
}

/** The kernel's FUSE mount options for a union (besides fd=, rootmode=, user_id=, group_id=). */
export function unionKernelOptions(parsed: ParsedOptions): string[] {
  const o: string[] = [];
  if (parsed.allowOther || process.geteuid?.() === 0) o.push('allow_other');
  o.push('default_permissions');
  if (parsed.config.readOnly) o.push('ro');
  return o;
}

export interface ServeOptions {
  /** the mount's source field */
  source: string;
  debug?: (line: string) => void;
  /** where unexpected handler failures go (default: stderr) */
  log?: (line: string) => void;
}

function sessionOptions(parsed: ParsedOptions, o: ServeOptions): MountOptions {
  const writeback = !parsed.config.readOnly;
  return {
    fsname: o.source,
    subtype: 'strata',
    allowOther: parsed.allowOther || process.geteuid?.() === 0,
    defaultPermissions: true,
    readOnly: parsed.config.readOnly,
    // as the kernel's overlayfs: set-id programs and device nodes of the layers work
    // (libfuse mounts nosuid,nodev unless told); a user namespace gets nodev anyway
    extra: isHostRoot() ? ['suid', 'dev'] : [],
    settings: { readdirplus: true, readdirplusAuto: false, parallelDirops: true, maxThreads: 4, writeback },
    ...(o.debug ? { debug: o.debug } : {}),
    ...(o.log ? { log: o.log } : {}),
  };
}

/** Mounts the union at parsed.config.mountpoint and serves it. */
export function mountUnion(parsed: ParsedOptions, o: ServeOptions): FuseSession {
  const union = Union.open(parsed.config);
  return FuseSession.mount(parsed.config.mountpoint!, unionHandlers(union, { writeback: !parsed.config.readOnly }), sessionOptions(parsed, o));
}

/** Serves the union on an open /dev/fuse fd that someone else mounted (with
 * unionKernelOptions); the session owns the fd from now on. */
export function serveUnionFd(fd: number, parsed: ParsedOptions, o: ServeOptions, union = Union.open(parsed.config)): FuseSession {
  return FuseSession.serveFd(fd, unionHandlers(union, { writeback: !parsed.config.readOnly }), sessionOptions(parsed, o));
}
