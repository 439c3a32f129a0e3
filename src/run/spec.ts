// From `strata run`'s options and an image to a ContainerConfig, as Docker resolves them:
// the command is Entrypoint + (CMD... or the image's Cmd), -e overrides the image's Env,
// -w and -u override WorkingDir and User. Pure: every check of bad input happens here,
// before anything is made on disk.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { ImageConfig } from './image-config.js';
import type { Volume } from './state.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  name?: string;
  rm?: boolean;
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  network?: string;
  volumes?: string[];
  command?: string[];
}

export interface ResolvedRun {
  argv: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  hostname?: string;
  network: 'none' | 'host';
  volumes: Volume[];
}

/** -v HOSTDIR:DIR[:ro|rw] */
export function parseVolume(spec: string): Volume {
  const parts = spec.split(':');
  const bad = (why: string): UserError => new UserError(`bad volume spec "${spec}": ${why}`, 125);
  if (parts.length < 2 || parts.length > 3) throw bad('expected HOSTDIR:DIR[:ro]');
  const [source, target, mode = 'rw'] = parts as [string, string, string?];
  if (!path.isAbsolute(source)) throw bad('HOSTDIR must be an absolute path (named volumes are not supported)');
  if (!path.isAbsolute(target)) throw bad('DIR must be an absolute path in the container');
  if (path.normalize(target) === '/') throw bad('DIR may not be /');
  if (mode !== 'ro' && mode !== 'rw') throw bad(`mode must be ro or rw, not "${mode}"`);
  if (!fs.existsSync(source)) throw bad(`${source} does not exist`);
  return { source: path.normalize(source), target: path.normalize(target), readOnly: mode === 'ro' };
}

/** -e K=V sets, -e K takes K from strata's own environment (and is dropped if unset). */
export function mergeEnv(base: string[], overrides: string[]): string[] {
  const map = new Map<string, string>();
  for (const e of base) {
    const i = e.indexOf('=');
    if (i > 0) map.set(e.slice(0, i), e.slice(i + 1));
  }
  for (const e of overrides) {
    const i = e.indexOf('=');
    if (i === 0) throw new UserError(`bad environment variable "${e}": empty name`, 125);
    if (i < 0) {
      const v = process.env[e];
      if (v !== undefined) map.set(e, v);
    } else map.set(e.slice(0, i), e.slice(i + 1));
  }
  return [...map].map(([k, v]) => `${k}=${v}`);
}

export function resolveRun(image: ImageConfig, o: RunOptions): ResolvedRun {
  const ic = image.config ?? {};
  const network = o.network ?? 'none';
  if (network !== 'none' && network !== 'host') throw new UserError(`unsupported network "${network}": use none or host`, 125);
  const cmd = o.command && o.command.length > 0 ? o.command : (ic.Cmd ?? []);
  const argv = [...(ic.Entrypoint ?? []), ...cmd];
  if (argv.length === 0) throw new UserError('no command given and the image has no Cmd or Entrypoint', 125);
  const workingDir = o.workdir ?? (ic.WorkingDir || '/');
  if (!path.isAbsolute(workingDir)) throw new UserError(`the working directory "${workingDir}" is invalid: it must be absolute`, 125);
  const volumes = (o.volumes ?? []).map(parseVolume);
  const base = ic.Env ?? [];
  const env = mergeEnv(base.some((e) => e.startsWith('PATH=')) ? base : [`PATH=${DEFAULT_PATH}`, ...base], o.env ?? []);
  if (o.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const hostname = o.hostname ?? (network === 'host' ? os.hostname() : undefined);
  if (hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(hostname))
    throw new UserError(`invalid hostname "${hostname}"`, 125);
  return { argv, cmd, env, workingDir, user: o.user ?? ic.User ?? '', hostname, network, volumes };
}

/** /etc/hosts for the container: the host's with --network host, loopback only otherwise. */
export function hostsFile(hostname: string, network: 'none' | 'host'): string {
  if (network === 'host') {
    let host = '';
    try {
      host = fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      host = '127.0.0.1\tlocalhost\n';
    }
    return host.endsWith('\n') || host === '' ? `${host}127.0.1.1\t${hostname}\n` : `${host}\n127.0.1.1\t${hostname}\n`;
  }
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`;
}

export function resolvConfFile(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}
