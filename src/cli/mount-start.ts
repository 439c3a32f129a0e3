// Starting a union mount from the command line (`strata mount`, `strata-overlay`): validate
// everything first (nothing written on failure), then serve it in this process (-f) or in
// a detached daemon (daemon.ts, spawned by daemon-spawn.ts, early if main.ts could) that reports READY (the kernel's INIT answered) or its
// one-line error back through a pipe on fd 3. This module loads no engine, FUSE code or
// native addon: the daemon does, in its own process.
import fs from 'node:fs';
import { mountAt } from '../fuse/mounts.js';
import { MountOptionError, parseOptions, validateConfig, type ParsedOptions } from '../union/params.js';
import { dropEarlyDaemon, spawnDaemon, takeEarlyDaemon } from './daemon-spawn.js';
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

/** What the daemon is given, as JSON in its argv or on its stdin. */
export interface DaemonConfig {
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

/** Mounts per req: in this process with -f/-d (returns when unmounted), else in a detached
 * daemon (returns its pid once the mount is ready). */
export async function startMount(req: MountRequest): Promise<number> {
  let parsed: ParsedOptions;
  try {
    parsed = prepareMount(req);
  } catch (e) {
    dropEarlyDaemon();
    throw e;
  }
  const cfg: DaemonConfig = { parsed, source: req.source ?? 'strata', debug: req.debug ?? false };
  if (req.foreground || req.debug || parsed.log !== undefined) dropEarlyDaemon();
  if (req.foreground || req.debug) {
    const { serve } = await import('./daemon-serve.js');
    try {
      await serve(cfg, () => undefined);
    } catch (e) {
      throw new UserError(`${req.mountpoint}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return process.pid;
  }
  const json = JSON.stringify(cfg);
  let child = takeEarlyDaemon();
  if (child) child.stdin!.end(json);
  else {
    const log = parsed.log !== undefined ? fs.openSync(parsed.log, 'a') : 'ignore';
    child = spawnDaemon(json, 'ignore', log);
    if (typeof log === 'number') fs.closeSync(log);
  }
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
