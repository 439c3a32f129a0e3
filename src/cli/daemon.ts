#!/usr/bin/env node
// Starting a union mount: validate everything first (nothing written on failure), then
// serve it in this process (-f) or in a detached daemon that reports READY (the kernel's
// INIT answered) or its one-line error back through a pipe on fd 3.
//
//   node daemon.js CONFIG_JSON    (spawned by startMount; fd 3 is the report pipe)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mountAt } from '../fuse/mounts.js';
import { mountUnion } from '../fuse/serve.js';
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

/** Mounts and serves until unmounted; resolves once ready with a promise of the end. */
async function serve(cfg: DaemonConfig, onReady: () => void): Promise<void> {
  const { parsed } = cfg;
  const { session, passthroughWhy } = mountUnion(parsed, {
    source: cfg.source,
    ...(cfg.debug ? { debug: (line: string) => process.stderr.write(line + '\n') } : {}),
  });
  const stop = (): void => void session.unmount({ lazy: true }).catch(() => undefined);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const init = await session.ready;
  if (cfg.debug) {
    const why = passthroughWhy(init);
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
