// Serving a union on a FUSE session: the one place that decides how a Strata union is
// mounted (kernel options, session settings). Used by the mount daemon (src/cli/daemon.ts),
// which mounts a path itself, and by a foreground `strata run` (src/run/start.ts), which
// serves a /dev/fuse fd that strata-init mounted inside the container's namespaces.
import fs from 'node:fs';
export { Union } from '../union/engine.js';
import { Union } from '../union/engine.js';
import type { ParsedOptions } from '../union/params.js';
import { FuseSession, type MountOptions } from './session.js';
import type { FuseHandlers, InitInfo } from './handlers.js';
import type { SessionStats } from './native.js';
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

/** Kernel passthrough needs CAP_SYS_ADMIN in the initial user namespace (the kernel checks
 * it at FUSE_DEV_IOC_BACKING_OPEN): anyone else keeps the daemon's data plane and writeback. */
function mayOpenBackingFiles(): boolean {
  if (!isHostRoot()) return false;
  try {
    const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    return cap !== undefined && (BigInt(`0x${cap}`) & (1n << 21n)) !== 0n; // CAP_SYS_ADMIN
  } catch {
    return false;
  }
}

const STACKED_FS = new Set([0x794c7630 /* overlayfs */, 0x65735546 /* fuse */, 0xf15f /* ecryptfs */]);

/** max_stack_depth for passthrough: 1 keeps an overlayfs on top of this mount possible
 * (FILESYSTEM_MAX_STACK_DEPTH is 2); layers that are themselves on a stacked filesystem
 * need 2, or the kernel refuses their files as backing files (ELOOP). */
function stackDepthFor(dirs: string[]): number {
  for (const d of dirs) {
    try {
      if (STACKED_FS.has(fs.statfsSync(d).type)) return 2;
    } catch {
      // validated before; a layer that went away fails later, on its own
    }
  }
  return 1;
}

/** Local filesystems whose files have no flush operation: close(2) of a file on them
 * reports nothing (write errors come at write or fsync), so a FLUSH answers nothing either.
 * ext2/3/4, xfs, btrfs, tmpfs. NFS, CIFS, FUSE and the like do report at close. */
const NO_FLUSH_FS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994]);

/** Whether FLUSH can go unanswered (noFlush): the upper, where every file opened for
 * writing lives, is on a filesystem whose close reports nothing. */
export function flushReportsNothing(upper: string | undefined, statfsType = (d: string) => fs.statfsSync(d).type): boolean {
  if (upper === undefined) return false;
  try {
    return NO_FLUSH_FS.has(statfsType(upper));
  } catch {
    return false;
  }
}

/** allow_other: asked for, or always as root (the kernel's overlayfs lets every user in) */
const allowOthers = (parsed: ParsedOptions): boolean => parsed.allowOther || process.geteuid?.() === 0;

/** The kernel's FUSE mount options for a union (besides fd=, rootmode=, user_id=, group_id=):
 * what serveOn's MountOptions give libfuse, for a mount someone else makes. */
export function unionKernelOptions(parsed: ParsedOptions): string[] {
  const o: string[] = [];
  if (allowOthers(parsed)) o.push('allow_other');
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

export interface Served {
  session: FuseSession;
  /** why passthrough is on or off, for the debug log */
  passthroughWhy: (init: InitInfo) => string;
}

function serveOn(parsed: ParsedOptions, o: ServeOptions, union: Union, start: (h: FuseHandlers, m: MountOptions) => FuseSession): Served {
  const config = parsed.config;
  const writeback = !config.readOnly;
  const passthrough = parsed.passthrough !== false && mayOpenBackingFiles();
  const layerDirs = [...config.lowers, ...(config.upper !== undefined ? [config.upper] : [])];
  const maxStackDepth = passthrough ? stackDepthFor(layerDirs) : 1;
  let stats: (() => SessionStats) | undefined;
  let served: FuseSession | undefined;
  const handlers = unionHandlers(union, {
    writeback,
    readOnly: config.readOnly,
    stats: () => stats!(),
    keepAttrFd: (ino, fd, timeout) => served!.keepAttrFd(ino, fd, timeout),
    ...(o.log ? { log: o.log } : {}),
  });
  const session = start(handlers, {
    fsname: o.source,
    subtype: 'strata',
    allowOther: allowOthers(parsed),
    defaultPermissions: true,
    readOnly: config.readOnly,
    // as the kernel's overlayfs: set-id programs and device nodes of the layers work
    // (libfuse mounts nosuid,nodev unless told); a user namespace gets nodev anyway
    extra: isHostRoot() ? ['suid', 'dev'] : [],
    // READDIRPLUS in the kernel's adaptive mode (libfuse's default, and fuse-overlayfs's):
    // plus for a listing's first request and after lookups in that directory, plain
    // READDIR otherwise. A plus entry costs a stat in the daemon and an inode in the kernel
    // whether or not anyone stats it: a names-only listing of 10,000 entries took 4x the
    // time with always-plus, while listings of dirs up to ~200 entries (one 32 KiB plus
    // reply) stay all-plus; a long listing of a huge dir (ls -l, find -ls) pays a LOOKUP per
    // entry past the first reply instead (bench/union: readdir, ls-l, find-ls).
    // capsCache: lowers never change and the upper only through the mount, so a file's
    // "no security.capability" holds until a setxattr or removexattr of it (the kernel asks
    // before each write and chown: a quarter of an untar's requests); xattrCache: the
    // same for "no xattrs at all", which the handlers learn when asked (ls -l asks two
    // xattrs of every entry: two thirds of its requests)
    // spinUs (busy_poll=): the default unless the mount says otherwise
    // noFlush: a close of a written file then costs no FLUSH round trip where it could
    // report nothing anyway (as fuse-overlayfs, which has no flush)
    settings: {
      readdirplus: true,
      readdirplusAuto: parsed.readdirplus === 'auto',
      parallelDirops: true,
      maxThreads: 4,
      writeback,
      passthrough,
      maxStackDepth,
      capsCache: true,
      xattrCache: true,
      noFlush: !config.readOnly && flushReportsNothing(config.upper),
      ...(parsed.busyPollUs !== undefined ? { spinUs: parsed.busyPollUs } : {}),
    },
    ...(o.debug ? { debug: o.debug } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  stats = () => session.stats();
  served = session;
  const passthroughWhy = (init: InitInfo): string =>
    parsed.passthrough === false ? 'passthrough=off' : !passthrough ? 'needs CAP_SYS_ADMIN in the initial user namespace' : !init.passthrough ? 'the kernel did not offer it' : `max_stack_depth ${maxStackDepth}`;
  return { session, passthroughWhy };
}

/** Mounts the union at parsed.config.mountpoint and serves it. */
export function mountUnion(parsed: ParsedOptions, o: ServeOptions): Served {
  return serveOn(parsed, o, Union.open(parsed.config), (h, m) => FuseSession.mount(parsed.config.mountpoint!, h, m));
}

/** Serves the union on an open /dev/fuse fd that someone else mounted (with
 * unionKernelOptions); the session owns the fd from now on. */
export function serveUnionFd(fd: number, parsed: ParsedOptions, o: ServeOptions, union = Union.open(parsed.config)): Served {
  return serveOn(parsed, o, union, (h, m) => FuseSession.serveFd(fd, h, m));
}
