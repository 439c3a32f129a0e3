// `strata exec`: a new process in a running container, entered with nsenter through the
// namespaces of the container's pid 1 (as the host sees it), as the container's user.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { UserError } from '../errors.js';
import { mergeEnv } from './spec.js';
import { findContainer } from './state.js';

export interface ExecOptions {
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  workdir?: string;
}

export function execArgs(pid: number, o: { rootless: boolean; netns: boolean; uid: number; gid: number; cwd: string }): string[] {
  const a = ['--target', String(pid)];
  // rootless: entering the container's user namespace makes us its root; setgroups is
  // denied there, so keep our credentials (root inside) unless a user is asked for
  if (o.rootless) a.push('--user', '--preserve-credentials');
  a.push('--mount', '--uts', '--ipc', '--pid');
  if (o.netns) a.push('--net');
  // no --root: entering the mount namespace already puts us at its root, the container's
  // rootfs; and nsenter opens /proc/PID/root before it enters the user namespace, when a
  // FUSE mount owned by that namespace still refuses us
  a.push(`--wdns=${o.cwd}`);
  if (o.gid !== 0 || !o.rootless) a.push('--setgid', String(o.gid));
  if (o.uid !== 0 || !o.rootless) a.push('--setuid', String(o.uid));
  return a;
}

/** Runs CMD in the container; answers its exit status (126/127 when it cannot be run). */
export async function execInContainer(root: string, ref: string, cmd: string[], o: ExecOptions): Promise<number> {
  const c = findContainer(root, ref);
  if (c.status !== 'running' || !c.state) throw new UserError(`container ${c.config.name} is not running (${c.status})`);
  if (cmd.length === 0) throw new UserError('exec needs a command');
  if (o.tty && !process.stdin.isTTY) throw new UserError('the input device is not a TTY (-t needs a terminal on stdin)');
  const cwd = o.workdir ?? c.config.workingDir;
  if (!cwd.startsWith('/')) throw new UserError(`the working directory "${cwd}" is invalid: it must be absolute`);
  const { uid, gid } = c.state;
  const env = mergeEnv(
    [...c.config.env, ...(c.config.env.some((e) => e.startsWith('HOME=')) ? [] : [`HOME=${uid === 0 ? '/root' : '/'}`])],
    o.env ?? [],
  );
  const args = execArgs(c.state.init.pid, { rootless: c.config.rootless, netns: c.config.network === 'none', uid, gid, cwd });
  const envObj: Record<string, string> = {};
  for (const e of env) envObj[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
  const child = spawn('nsenter', [...args, '--', ...cmd], {
    stdio: [o.interactive || o.tty ? 'inherit' : 'ignore', 'inherit', 'inherit'],
    env: envObj,
  });
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new UserError(`nsenter: ${e.message}`)));
    child.once('close', (code, signal) => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, forward);
      resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
    });
  });
}
