#!/usr/bin/env node
// The mount daemon: serves one union mount until it is unmounted, and reports READY (the
// kernel's INIT answered) or its one-line error through the pipe on fd 3. Started by
// mount-start.ts, which has validated the config; `-f` serves in the CLI process instead.
//
//   node daemon.js CONFIG_JSON    (fd 3 is the report pipe)
//   node daemon.js - mount ARGS... (the config on stdin: started early, see daemon-spawn.ts;
//                                  an empty stdin means it is not needed after all; the
//                                  strata mount command line after '-' is for ps only)
import fs from 'node:fs';
import { FuseSession } from '../fuse/session.js';
import type { SessionStats } from '../fuse/native.js';
import { unionHandlers } from '../fuse/union.js';
import { Union } from '../union/engine.js';
import type { DaemonConfig } from './mount-start.js';

/** All of a pipe, to its end; '' if the other end closed without writing. */
function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString();
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
export async function serve(cfg: DaemonConfig, onReady: () => void): Promise<void> {
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

async function daemonMain(arg: string): Promise<void> {
  // the engine is loaded by now (static imports): the early start's whole point
  const json = arg === '-' ? readAll(0) : arg;
  if (json === '') process.exit(0);
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
