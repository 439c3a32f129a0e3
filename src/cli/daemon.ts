#!/usr/bin/env node
// Starting a union mount: validate everything first (nothing written on failure), then
// serve it in this process (-f) or in a detached daemon that reports READY (the kernel's
// INIT answered) or its one-line error back through a pipe on fd 3.
//
//   node daemon.js CONFIG_JSON    (spawned by startMount; fd 3 is the report pipe)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FuseSession } from '../fuse/session.js';
import type { SessionStats } from '../fuse/native.js';
import { mountAt } from '../fuse/mounts.js';
import { unionHandlers } from '../fuse/union.js';
import { Union } from '../union/engine.js';
import { MountOptionError, parseOptions, validateConfig, type ParsedOptions } from '../union/params.js';
import { UserError } from './errors.js';

export interface MountRequest {
  /** -o option strings, as given */
  options: string[];
  mountpoint: string;
  /** the device/source field (fstab form); shown as the mount's source */
  source?: string;
  foreground?: boolean;
  debug?: boolean;
  /** how warnings about unknown options are printed */
  warn?: (line: string) => void;
  prog?: string;
}

interface DaemonConfig {
  parsed: ParsedOptions;
  source: string;
  debug: boolean;
}

/** Parses and validates; every failure is a UserError naming the culprit. Reads only. */
export function prepareMount(req: MountRequest): ParsedOptions {
  try {
    const parsed = parseOptions(req.options);
    if (parsed.unknown.length > 0) {
      const warn = req.warn ?? ((l: string) => process.stderr.write(l + '\n'));
      warn(`${req.prog ?? 'strata'}: ignoring unknown mount options: ${parsed.unknown.join(',')}`);
    }
    parsed.config = validateConfig({ ...parsed.config, mountpoint: req.mountpoint }, (p) => mountAt(p) !== undefined);
    return parsed;
  } catch (e) {
    if (e instanceof MountOptionError) throw new UserError(e.message);
    throw e;
  }
}

/** Root of the initial user namespace: the only one whose mounts may honour device nodes. */
function isHostRoot(): boolean {
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

/** Mounts and serves until unmounted; resolves once ready with a promise of the end. */
async function serve(cfg: DaemonConfig, onReady: () => void): Promise<void> {
  const { parsed } = cfg;
  const config = parsed.config;
  const union = Union.open(config);
  const isRoot = process.geteuid?.() === 0;
  const writeback = !config.readOnly;
  const passthrough = parsed.passthrough !== false && mayOpenBackingFiles();
  const layerDirs = [...config.lowers, ...(config.upper !== undefined ? [config.upper] : [])];
  const maxStackDepth = passthrough ? stackDepthFor(layerDirs) : 1;
  let stats: (() => SessionStats) | undefined;
  const handlers = unionHandlers(union, { writeback, readOnly: config.readOnly, stats: () => stats!() });
  const session = FuseSession.mount(config.mountpoint!, handlers, {
    fsname: cfg.source,
    subtype: 'strata',
    allowOther: parsed.allowOther || isRoot,
    defaultPermissions: true,
    readOnly: config.readOnly,
    // as the kernel's overlayfs: set-id programs and device nodes of the layers work
    // (libfuse mounts nosuid,nodev unless told); a user namespace gets nodev anyway
    extra: isHostRoot() ? ['suid', 'dev'] : [],
    settings: { readdirplus: true, readdirplusAuto: false, parallelDirops: true, maxThreads: 4, writeback, passthrough, maxStackDepth },
    ...(cfg.debug ? { debug: (line: string) => process.stderr.write(line + '\n') } : {}),
  });
  stats = () => session.stats();
  const stop = (): void => void session.unmount({ lazy: true }).catch(() => undefined);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const init = await session.ready;
  if (cfg.debug) {
    const why = parsed.passthrough === false ? 'passthrough=off' : !passthrough ? 'needs CAP_SYS_ADMIN in the initial user namespace' : !init.passthrough ? 'the kernel did not offer it' : `max_stack_depth ${maxStackDepth}`;
    process.stderr.write(`strata: passthrough ${init.passthrough ? 'on' : 'off'} (${why}), writeback ${init.writeback ? 'on' : 'off'}\n`);
  }
  onReady();
  await session.closed;
}

/** Mounts per req: in this process with -f/-d (returns when unmounted), else in a detached
 * daemon (returns its pid once the mount is ready). */
export async function startMount(req: MountRequest): Promise<number> {
  const parsed = prepareMount(req);
  const cfg: DaemonConfig = { parsed, source: req.source ?? 'strata', debug: req.debug ?? false };
  if (req.foreground || req.debug) {
    try {
      await serve(cfg, () => undefined);
    } catch (e) {
      throw new UserError(`${req.mountpoint}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return process.pid;
  }
  const script = fileURLToPath(import.meta.url);
  const log = parsed.log !== undefined ? fs.openSync(parsed.log, 'a') : 'ignore';
  const child = spawn(process.execPath, [script, JSON.stringify(cfg)], {
    detached: true,
    cwd: '/', // pin no directory of the caller's
    stdio: ['ignore', log, log, 'pipe'],
  });
  if (typeof log === 'number') fs.closeSync(log);
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let report = '';
  await new Promise<void>((resolve) => {
    pipe.on('data', (d: Buffer) => (report += d.toString()));
    pipe.on('end', resolve);
    pipe.on('error', resolve);
  });
  child.unref();
  if (report.startsWith('ready')) return child.pid!;
  const msg = report.replace(/^error /, '').trim() || 'the mount daemon exited before the mount was ready';
  throw new UserError(`${req.mountpoint}: ${msg}`);
}

async function daemonMain(json: string): Promise<void> {
  const cfg = JSON.parse(json) as DaemonConfig;
  let reported = false;
  const report = (line: string): void => {
    if (reported) return;
    reported = true;
    try {
      fs.writeSync(3, line + '\n');
      fs.closeSync(3);
    } catch {
      // the starter went away: nobody to tell
    }
  };
  try {
    await serve(cfg, () => report('ready'));
    process.exit(0);
  } catch (e) {
    report(`error ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void daemonMain(process.argv[2] ?? '{}');
