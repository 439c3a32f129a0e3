// Mount options: parsing the fuse-overlayfs / `mount -t overlay` option string and
// validating the layers before anything is created (the kernel's params.c and super.c).
// Every failure is one line naming the culprit; nothing is written before validation passes.
import fs from 'node:fs';
import path from 'node:path';
import type { IdMapping, UnionConfig } from './types.js';

/** A bad option or layer: the message names the culprit. */
export class MountOptionError extends Error {
  readonly code = 'EINVAL';
  constructor(message: string) {
    super(message);
    this.name = 'MountOptionError';
  }
}

export interface ParsedOptions {
  config: UnionConfig;
  /** FUSE options passed to the kernel mount */
  allowOther: boolean;
  defaultPermissions: boolean;
  /** log=FILE: where a background daemon writes its log (unexpected failures) */
  log?: string;
  /** passthrough=off: every read and write through the daemon, even where the kernel could
   * serve them from the backing file (on by default where kernel and privileges allow) */
  passthrough: boolean;
  /** readdirplus=always: a READDIRPLUS for every readdir request (attributes of every entry
   * listed); auto (the default): the kernel's adaptive mode (src/fuse/serve.ts says why) */
  readdirplus: 'auto' | 'always';
  /** busy_poll=US: how long the daemon keeps polling for the next request after a burst
   * (src/fuse/session.ts sessionSpinUs); 0 turns it off; undefined: the default */
  busyPollUs?: number;
  /** options nobody here knows: warned about once, not fatal */
  unknown: string[];
}

/** busy_poll='s upper bound: past a millisecond a poll costs more than any wake-up */
export const MAX_BUSY_POLL_US = 1000;

/** Splits on sep, honouring backslash escapes (`\,` `\:` `\\`), as the kernel does. */
export function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Splits an option string on commas but keeps escapes for splitEscaped of values. */
function splitOptions(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[++i];
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.filter((o) => o !== '');
}

/** fuse-overlayfs's uidmapping=inside:outside:count[:inside:outside:count...] */
export function parseIdMapping(name: string, value: string): IdMapping[] {
  const nums = value.split(/[:,]/).map((x) => Number(x));
  if (nums.length === 0 || nums.length % 3 !== 0 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new MountOptionError(`${name}=${value}: expected inside:outside:count triples`);
  }
  const out: IdMapping[] = [];
  for (let i = 0; i < nums.length; i += 3) out.push({ inside: nums[i]!, outside: nums[i + 1]!, count: nums[i + 2]! });
  return out;
}

/** Options that only matter to the kernel or to other tools: accepted silently. */
const IGNORED = new Set(['rw', 'suid', 'nosuid', 'dev', 'nodev', 'exec', 'noexec', 'auto', 'noauto', 'user', 'nouser',
  'defaults', 'index=on', 'redirect_dir=off', 'redirect_dir=nofollow', 'xino=off', 'xino=auto', 'metacopy=off',
  'noatime', 'relatime', 'fsync=1', 'async', 'sync', '_netdev', 'nofail']);

export function parseOptions(opts: string[]): ParsedOptions {
  const config: UnionConfig = { lowers: [], timeout: 60, readOnly: false };
  const parsed: ParsedOptions = { config, allowOther: false, defaultPermissions: true, passthrough: true, readdirplus: 'auto', unknown: [] };
  for (const opt of opts.flatMap(splitOptions)) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? '' : opt.slice(eq + 1);
    switch (key) {
      case 'lowerdir':
        config.lowers = splitEscaped(value, ':').filter((l) => l !== '');
        if (config.lowers.length === 0) throw new MountOptionError('lowerdir=: names no directory');
        break;
      case 'upperdir':
        config.upper = splitEscaped(value, ',').join(',');
        break;
      case 'workdir':
        config.work = splitEscaped(value, ',').join(',');
        break;
      case 'ro':
        config.readOnly = true;
        break;
      case 'userxattr':
        config.userxattr = true;
        break;
      case 'volatile':
        config.volatile = true;
        break;
      case 'fsync':
        if (value === '0') config.volatile = true;
        else if (value !== '1') throw new MountOptionError(`fsync=${value}: expected 0 or 1`);
        break;
      case 'timeout': {
        const t = Number(value);
        if (!Number.isFinite(t) || t < 0) throw new MountOptionError(`timeout=${value}: expected seconds`);
        config.timeout = t;
        break;
      }
      case 'uidmapping':
        config.uidMap = parseIdMapping(key, value);
        break;
      case 'gidmapping':
        config.gidMap = parseIdMapping(key, value);
        break;
      case 'squash_to_root':
        config.squashToRoot = true;
        break;
      case 'trace':
        if (!value) throw new MountOptionError('trace=: names no file');
        config.trace = path.resolve(value);
        break;
      case 'log':
        if (!value) throw new MountOptionError('log=: names no file');
        parsed.log = path.resolve(value);
        break;
      case 'allow_other':
        parsed.allowOther = true;
        break;
      case 'passthrough':
        if (value === '' || value === 'on') parsed.passthrough = true;
        else if (value === 'off') parsed.passthrough = false;
        else throw new MountOptionError(`passthrough=${value}: expected on or off`);
        break;
      case 'readdirplus':
        if (value === 'auto' || value === 'always') parsed.readdirplus = value;
        else throw new MountOptionError(`readdirplus=${value}: expected auto or always`);
        break;
      case 'busy_poll': {
        const us = Number(value);
        if (!/^\d+$/.test(value) || us > MAX_BUSY_POLL_US) throw new MountOptionError(`busy_poll=${value}: expected microseconds, 0 to ${MAX_BUSY_POLL_US}`);
        parsed.busyPollUs = us;
        break;
      }
      case 'default_permissions':
        parsed.defaultPermissions = true;
        break;
      default:
        if (!IGNORED.has(opt)) parsed.unknown.push(opt);
    }
  }
  if (config.lowers.length === 0) throw new MountOptionError('lowerdir= is required');
  if (config.upper === undefined && config.work !== undefined) throw new MountOptionError('workdir= needs upperdir=');
  if (config.upper !== undefined && config.work === undefined) throw new MountOptionError('upperdir= needs workdir=');
  if (config.upper === undefined) config.readOnly = true;
  return parsed;
}

function realDir(what: string, p: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new MountOptionError(`${what} ${p}: ${code === 'ENOENT' ? 'no such directory' : (code ?? 'cannot stat')}`);
  }
  if (!st.isDirectory()) throw new MountOptionError(`${what} ${p}: not a directory`);
  return fs.realpathSync(p);
}

const inside = (child: string, parent: string): boolean => child === parent || child.startsWith(parent.endsWith('/') ? parent : parent + '/');

/** Checks every layer and the mountpoint; returns the config with real absolute paths.
 * Reads only: nothing is created or changed here. */
export function validateConfig(c: UnionConfig, isMounted: (dir: string) => boolean = () => false): UnionConfig {
  const out: UnionConfig = { ...c, lowers: c.lowers.map((l) => realDir('lowerdir', l)) };
  if (c.upper !== undefined) {
    const upper = realDir('upperdir', c.upper);
    const work = realDir('workdir', c.work ?? '');
    if (fs.statSync(upper).dev !== fs.statSync(work).dev) {
      throw new MountOptionError(`workdir ${c.work}: not on the same filesystem as upperdir ${c.upper}`);
    }
    if (inside(work, upper)) throw new MountOptionError(`workdir ${c.work}: inside upperdir ${c.upper}`);
    if (inside(upper, work)) throw new MountOptionError(`upperdir ${c.upper}: inside workdir ${c.work}`);
    for (const [i, l] of out.lowers.entries()) {
      if (l === upper) throw new MountOptionError(`upperdir ${c.upper}: also listed as lowerdir (lower ${i + 1})`);
      if (inside(l, upper) || inside(upper, l)) {
        throw new MountOptionError(`upperdir ${c.upper}: overlaps lowerdir ${c.lowers[i]}`);
      }
      if (inside(l, work) || inside(work, l)) throw new MountOptionError(`workdir ${c.work}: overlaps lowerdir ${c.lowers[i]}`);
    }
    out.upper = upper;
    out.work = work;
  }
  if (c.mountpoint !== undefined) {
    const mp = realDir('mountpoint', c.mountpoint);
    if (isMounted(mp)) throw new MountOptionError(`mountpoint ${c.mountpoint}: already mounted`);
    out.mountpoint = mp;
  }
  return out;
}
