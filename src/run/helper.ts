// Where strata-init (native/init/strata-init.c) and the mount program are, and the
// command line that tells strata-init what to run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { nodeArgv } from './programs.js';
import type { ContainerConfig, Layout } from './state.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

export const initPath = (): string => path.join(repoRoot, 'native/build/Release/strata-init');

/** The mount program, to be given fuse-overlayfs's command line: $STRATA_MOUNT_PROGRAM
 * (which mounts, leaves its daemon and exits, as fuse-overlayfs does), or Strata's mount
 * daemon itself (`serves`: strata-init waits for its READY on fd 3 and it stays). The
 * daemon rather than strata-overlay: strata-overlay would only validate the options, start
 * that daemon and wait for it, one node start-up more (~100 ms here). Started as
 * programs.ts starts strata's programs (strata-init passes its environment on). */
export function mountProgram(env: NodeJS.ProcessEnv = process.env): { argv: string[]; serves: boolean } {
  const p = env.STRATA_MOUNT_PROGRAM;
  if (p) return { argv: [p], serves: false };
  return { argv: nodeArgv('strata-mount-daemon', ['--overlay'], env), serves: true };
}

export function mountArgs(lowers: string[], l: Layout): string[] {
  for (const p of [...lowers, l.upper, l.work, l.rootfs]) {
    // fuse-overlayfs's -o syntax has no quoting for these
    if (/[:,]/.test(p)) throw new UserError(`${p}: a layer path may not contain ':' or ','`, 125);
  }
  return ['-o', `lowerdir=${lowers.join(':')},upperdir=${l.upper},workdir=${l.work}`, l.rootfs];
}

interface IdRange {
  start: number;
  count: number;
}

/** The caller's ranges in /etc/subuid or /etc/subgid ("name:start:count" or "uid:start:count"). */
export function subRanges(file: string, name: string, id: number): IdRange[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === name || who === String(id)) && start && count) out.push({ start: Number(start), count: Number(count) });
  }
  return out.filter((r) => Number.isInteger(r.start) && Number.isInteger(r.count) && r.count > 0);
}

function hasProgram(name: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Rootless id maps: the caller is root, and its subordinate ranges follow from 1 (as
 * podman maps them) when newuidmap can install them. */
export function idMaps(files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): { uid: string[]; gid: string[] } {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name = '';
  try {
    name = os.userInfo().username;
  } catch {
    name = String(uid);
  }
  const maps = { uid: [`0 ${uid} 1`], gid: [`0 ${gid} 1`] };
  const su = subRanges(files.subuid, name, uid);
  const sg = subRanges(files.subgid, name, uid);
  if (su.length && sg.length && hasProgram('newuidmap') && hasProgram('newgidmap')) {
    let next = 1;
    for (const r of su) (maps.uid.push(`${next} ${r.start} ${r.count}`), (next += r.count));
    next = 1;
    for (const r of sg) (maps.gid.push(`${next} ${r.start} ${r.count}`), (next += r.count));
  }
  return maps;
}

export interface InitOptions {
  statusFd: number;
  /** strata-init mounts /dev/fuse itself (with these kernel options) and sends the fd on
   * this socket to strata, which serves the union in its own process */
  fuse?: { sock: number; options: string[] };
  parentDeath: boolean;
  onExit?: string[];
  /** run onExit only when strata-init's parent died first */
  onExitOrphaned?: boolean;
}

/** What strata-init needs before it makes the namespaces and starts the mount program:
 * the start-up options, the id maps, the program. */
function setupArgs(rootless: boolean, program: { argv: string[]; serves: boolean } | undefined, o: { statusFd: number; parentDeath: boolean; onExitOrphaned?: boolean }): string[] {
  const a: string[] = ['--status-fd', String(o.statusFd)];
  if (o.parentDeath) a.push('--parent-death');
  if (o.onExitOrphaned) a.push('--on-exit-orphaned');
  if (rootless) {
    const maps = idMaps();
    a.push('--userns');
    for (const m of maps.uid) a.push('--uidmap', m);
    for (const m of maps.gid) a.push('--gidmap', m);
  }
  if (program?.serves) a.push('--mount-serves');
  for (const m of program?.argv ?? []) a.push('--mount', m);
  return a;
}

/** The rest: the container's own inputs (its late arguments, in late mode). */
function containerArgs(c: ContainerConfig, l: Layout, o: InitOptions): string[] {
  const a: string[] = ['--rootfs', l.rootfs, '--mount-log', l.mountLog, '--exit-file', l.exit];
  if (o.fuse) a.push('--fuse-sock', String(o.fuse.sock), '--fuse-opts', o.fuse.options.join(','));
  else for (const m of mountArgs(c.lowers, l)) a.push('--mount', m);
  if (c.network === 'none') a.push('--netns');
  a.push('--hostname', c.hostname);
  for (const e of c.env) a.push('--env', e);
  a.push('--cwd', c.workingDir);
  if (c.user) a.push('--user', c.user);
  if (c.tty) a.push('--tty');
  if (c.interactive) a.push('--stdin');
  for (const v of c.volumes) a.push(v.readOnly ? '--bind-ro' : '--bind', v.source, v.target);
  a.push('--bind', l.hostname, '/etc/hostname', '--bind', l.hosts, '/etc/hosts', '--bind', l.resolvConf, '/etc/resolv.conf');
  for (const x of o.onExit ?? []) a.push('--on-exit', x);
  a.push('--', ...c.argv);
  return a;
}

export function initArgs(c: ContainerConfig, l: Layout, o: InitOptions): string[] {
  const setup = { ...o, onExitOrphaned: !!(o.onExit && o.onExitOrphaned) };
  return [...setupArgs(c.rootless, o.fuse ? undefined : mountProgram(), setup), ...containerArgs(c, l, o)];
}

/** Late mode (strata-init.c): the command line of a strata-init started before the
 * container is known, rootless, in the foreground: its daemon reads its own arguments
 * from stdin. SHOWN (strata's command line) is for ps only. Its late arguments are
 * lateInitArgs(); --on-exit-orphaned is given now, as a foreground run's --on-exit has it
 * (the waiter is forked before the namespaces, and runs nothing if no --on-exit comes). */
export function earlyInitArgs(lateFd: number, shown: string[]): string[] {
  const program = { argv: nodeArgv('strata-mount-daemon', ['--overlay-stdin', ...shown]), serves: true };
  return [...setupArgs(true, program, { statusFd: 3, parentDeath: true, onExitOrphaned: true }), '--late-args-fd', String(lateFd), '--for', ...shown];
}

export const lateInitArgs = (c: ContainerConfig, l: Layout, o: InitOptions): string[] => containerArgs(c, l, o);
