// `strata run`'s core: plain inputs (layer dirs top first, an image config) in, a
// container record and a running strata-init out. Nothing is left behind when the start
// fails: the record is deleted and strata-init has already unmounted what it mounted.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { UserError } from '../errors.js';
import { sendLate, type EarlyInit } from './early-init.js';
import { initArgs, initPath, lateInitArgs } from './helper.js';
import { nodeArgv } from './programs.js';
import type { ImageConfig } from './image-config.js';
import { bootId, procRef } from './proc.js';
import { hostsFile, resolveRun, resolvConfFile, type RunOptions } from './spec.js';
import {
  checkName, claimName, containersDir, defaultName, deleteRecord, layout, newId, shortId, writeConfig, writeState,
  type ContainerConfig, type ContainerState, type Layout,
} from './state.js';
import { isRootless } from './root.js';
import { forgetContainer } from './forget.js';
import { InProcessServer, servesInProcess } from './serve.js';

export interface ContainerInput {
  root: string;
  /** the image's layer dirs, top first */
  lowers: string[];
  config: ImageConfig;
  image?: { id: string; ref: string };
}

export interface Created {
  layout: Layout;
  config: ContainerConfig;
}

/** Checks every input, then makes the record: dirs, name, config.json, /etc files. */
export function createContainer(input: ContainerInput, o: RunOptions): Created {
  const r = resolveRun(input.config, o);
  if (input.lowers.length === 0) throw new UserError('the image has no layers', 125);
  for (const d of input.lowers) if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`layer dir ${d} is missing`, 125);
  const id = newId();
  const name = o.name ?? defaultName(id);
  checkName(name);
  fs.mkdirSync(containersDir(input.root), { recursive: true, mode: 0o700 });
  const l = layout(path.join(containersDir(input.root), id));
  const config: ContainerConfig = {
    id,
    name,
    created: new Date().toISOString(),
    image: input.image ?? { id: '', ref: '' },
    lowers: input.lowers,
    imageConfig: input.config,
    argv: r.argv,
    cmd: r.cmd,
    env: [`HOSTNAME=${r.hostname ?? shortId(id)}`, ...r.env],
    workingDir: r.workingDir,
    user: r.user,
    hostname: r.hostname ?? shortId(id),
    network: r.network,
    volumes: r.volumes,
    tty: !!o.tty,
    interactive: !!o.interactive,
    autoRemove: !!o.rm,
    detach: !!o.detach,
    rootless: isRootless(),
    creator: procRef(process.pid)!,
    bootId: bootId(),
  };
  try {
    fs.mkdirSync(l.dir, { mode: 0o700 });
    for (const d of [l.upper, l.work, l.rootfs]) fs.mkdirSync(d);
    fs.writeFileSync(l.hostname, `${config.hostname}\n`);
    fs.writeFileSync(l.hosts, hostsFile(config.hostname, config.network));
    fs.writeFileSync(l.resolvConf, resolvConfFile());
    writeConfig(l, config);
    // after the dir: a name link never points at a record that does not exist yet
    claimName(input.root, name, id);
  } catch (e) {
    deleteRecord(input.root, { dir: l.dir, config });
    throw e;
  }
  return { layout: l, config };
}

export interface StartOptions {
  /** 'inherit' for the CLI; 'pipe' gives the caller child.stdin/stdout/stderr */
  stdio: 'inherit' | 'pipe';
  /** forward SIGINT, SIGTERM, ... sent to this process to the container */
  forwardSignals?: boolean;
  /** a strata-init started early (early-init.ts): it is handed its late arguments rather
   * than a new one spawned, where it fits (rootless, 'inherit'); dropped otherwise */
  early?: EarlyInit;
}

export interface Running {
  id: string;
  name: string;
  child: ChildProcess;
  /** resolves once the command runs (rejects with the UserError when it cannot start) */
  started: Promise<ContainerState>;
  /** the command's exit status, once the container is gone (and removed with --rm) */
  exited: Promise<number>;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

interface StatusLines {
  started: Promise<ContainerState>;
  error: () => UserError | undefined;
  /** resolves when the status stream closes */
  ended: Promise<void>;
  /** the code an "exited" or "error" line gave */
  exitCode: () => number | undefined;
}

function isZombie(pid: number | undefined): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Calls online for each complete line of the stream (node:readline would do, but costs
 * a few ms of every start to load). */
function onLines(stream: Readable, online: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) online(line);
  });
  // a last line without its newline, as readline gives it
  stream.on('end', () => rest && online(rest));
  stream.on('error', () => undefined);
}

/** Reads strata-init's status lines; writes state.json when the command runs. */
function watchStatus(created: Created, child: ChildProcess, onFuse?: () => void, onExited?: () => void): StatusLines {
  let error: UserError | undefined;
  let exitCode: number | undefined;
  let onEnded!: () => void;
  const ended = new Promise<void>((r) => (onEnded = r));
  const started = new Promise<ContainerState>((resolve, reject) => {
    const stream = child.stdio[3] as Readable;
    stream.on('close', onEnded);
    onLines(stream, (line) => {
      const [word, ...rest] = line.split(' ');
      if (word === 'started') {
        const [pid, daemon, uid, gid] = rest.map(Number) as [number, number, number, number];
        const state: ContainerState = {
          init: procRef(pid) ?? { pid, start: '' },
          supervisor: procRef(child.pid!) ?? { pid: child.pid!, start: '' },
          daemon: daemon > 0 ? procRef(daemon) : undefined,
          uid,
          gid,
          started: new Date().toISOString(),
          bootId: bootId(),
        };
        writeState(created.layout, state);
        resolve(state);
      } else if (word === 'fuse') {
        onFuse?.();
      } else if (word === 'error') {
        error = new UserError(rest.slice(1).join(' '), Number(rest[0]) || 125);
        exitCode = error.exitCode;
      } else if (word === 'exited') {
        exitCode = Number(rest[0]);
        onExited?.();
      }
    });
    stream.on('close', () => reject(error ?? new UserError(`container ${shortId(created.config.id)} failed to start`, 125)));
    child.once('error', (e) => reject(new UserError(`cannot start ${initPath()}: ${e.message}`, 125)));
  });
  started.catch(() => undefined);
  return { started, error: () => error, ended, exitCode: () => exitCode };
}

/** strata-init's --on-exit: the strata bin as programs.ts starts it */
const removeArgv = (root: string, id: string): string[] => nodeArgv('strata', ['--root', root, 'rm', '--force', id]);

/** Runs the container in the foreground: strata-init is this process's child, and (as
 * root) this process serves the container's union (src/run/serve.ts). */
export function startForeground(root: string, created: Created, o: StartOptions): Running {
  const { config, layout: l } = created;
  let server: InProcessServer | undefined;
  try {
    server = servesInProcess(config) ? new InProcessServer(config, l) : undefined;
  } catch (e) {
    deleteRecord(root, { dir: l.dir, config });
    throw e;
  }
  const stdio: StdioOptions = o.stdio === 'inherit' ? ['inherit', 'inherit', 'inherit', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'];
  if (server) stdio.push(server.childSock);
  // strata removes a --rm container's record when it ends; strata-init does if strata is killed
  const onExit = config.autoRemove ? removeArgv(root, config.id) : undefined;
  const fuse = server ? { sock: 4, options: server.kernelOptions } : undefined;
  const initOptions = { statusFd: 3, parentDeath: true, onExit, onExitOrphaned: true, ...(fuse ? { fuse } : {}) };
  const early = !server && config.rootless && o.stdio === 'inherit' ? o.early?.take() : undefined;
  if (!early) void o.early?.drop();
  if (early) sendLate(early, lateInitArgs(config, l, initOptions));
  // its own process group: a terminal's ^C reaches strata, which forwards it once
  const child = early ?? spawn(initPath(), initArgs(config, l, initOptions), { stdio, detached: true });
  server?.spawned();
  // "exited" comes once strata-init has reaped the container and unmounted its union (the
  // daemon, if any, gone): a --rm record is removed from then on, while strata-init ends
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removing ??= (async () => {
      await server?.finished();
      await forgetContainer(root, { dir: l.dir, config }).catch(() => undefined);
    })());
  const status = watchStatus(created, child, () => server?.serve(), config.autoRemove ? () => void remove() : undefined);
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  if (o.forwardSignals) for (const s of FORWARDED) process.on(s, forward);
  const exited = new Promise<number>((resolve, reject) => {
    let ended = false;
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return;
      ended = true;
      if (o.forwardSignals) for (const s of FORWARDED) process.off(s, forward);
      const serveError = server?.error;
      const startError = status.error();
      status.started.then(
        async () => {
          if (config.autoRemove) await remove();
          else await server?.finished();
          resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
        },
        async (e: unknown) => {
          await remove();
          reject(serveError ? new UserError(serveError, 125) : (startError ?? e));
        },
      );
    };
    child.once('close', onClose);
    // Seen twice in ~150 failed starts with the in-process server under load: strata-init
    // had exited (a zombie, its status stream closed) and libuv never reported it, so
    // 'close' never came. Likely cause, fixed in native/src/session.c: SIGCHLD handled on a
    // FUSE worker thread that libfuse cancelled mid-handler (its loop threads now block
    // every signal; 0 hangs in 120 starts with this watch off). It stays as a bound: a
    // zombie whose status stream ended is taken as exited with the code it reported.
    if (server) {
      void status.ended.then(async () => {
        for (let i = 0; i < 40 && !ended; i++) {
          // unref'd: this watch must not keep strata alive once the container is done
          await new Promise((r) => setTimeout(r, 250).unref());
          if (!ended && i >= 3 && isZombie(child.pid)) {
            child.unref();
            onClose(status.exitCode() ?? 125, null);
          }
        }
      });
    }
  });
  exited.catch(() => undefined);
  return { id: config.id, name: config.name, child, started: status.started, exited };
}

/** Runs the container detached: strata-init lives on in its own session, output goes to
 * the log; resolves once the command runs. */
export async function startDetached(root: string, created: Created): Promise<ContainerState> {
  const { config, layout: l } = created;
  const log = fs.openSync(l.log, 'a', 0o600);
  const onExit = config.autoRemove ? removeArgv(root, config.id) : undefined;
  let child: ChildProcess;
  try {
    child = spawn(initPath(), initArgs(config, l, { statusFd: 3, parentDeath: false, onExit }), {
      stdio: ['ignore', log, log, 'pipe'],
      detached: true,
    });
  } finally {
    fs.closeSync(log);
  }
  const status = watchStatus(created, child);
  try {
    const state = await status.started;
    (child.stdio[3] as Readable).destroy();
    child.unref();
    return state;
  } catch (e) {
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('close', r)));
    await forgetContainer(root, { dir: l.dir, config }).catch(() => undefined);
    throw e;
  }
}
