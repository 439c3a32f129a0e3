// Images made of layer dirs (an offline busybox rootfs plus a small layer with a whiteout
// and an opaque dir), container runs through the same code as `strata run`, and the checks
// that a container left nothing behind.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { distDir, repoRoot } from './daemon.js';
import type { RunOptions } from '../../src/run/spec.js';
import type { ImageConfig } from '../../src/run/image-config.js';

export const NOBODY = 65534;

export interface Image {
  dir: string;
  /** top first */
  lowers: string[];
}

/** base: busybox; app on top: /etc/app added, /bin/vi whited out, /opt opaque (hides
 * /opt/old), /escape -> / . */
export function makeImage(owner?: number): Image {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-run-image-'));
  fs.chmodSync(dir, 0o755);
  const base = path.join(dir, 'base');
  const app = path.join(dir, 'app');
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/mkrootfs-busybox.sh'), base], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkrootfs-busybox: ${r.stderr}`);
  fs.mkdirSync(path.join(base, 'opt'));
  fs.writeFileSync(path.join(base, 'opt/old'), 'old\n');
  fs.mkdirSync(path.join(app, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(app, 'bin'));
  fs.mkdirSync(path.join(app, 'opt'));
  fs.writeFileSync(path.join(app, 'etc/app'), 'app layer\n');
  fs.writeFileSync(path.join(app, 'opt/new'), 'new\n');
  fs.writeFileSync(path.join(app, 'bin/hello.sh'), '#!/bin/sh\necho hello from a script\n', { mode: 0o755 });
  fs.writeFileSync(path.join(app, 'bin/not-exec'), 'data\n', { mode: 0o644 });
  // an absolute symlink out of the tree: mounts through it must stay in the container
  fs.symlinkSync('/', path.join(app, 'escape'));
  const wh = spawnSync('mknod', [path.join(app, 'bin/vi'), 'c', '0', '0']);
  if (wh.status !== 0) throw new Error('mknod whiteout failed');
  const opq = spawnSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(app, 'opt')]);
  if (opq.status !== 0) throw new Error('setfattr opaque failed');
  if (owner !== undefined) spawnSync('chown', ['-R', '-h', `${owner}:${owner}`, base, app]);
  return { dir, lowers: [app, base] };
}

export const baseConfig: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'FROM_IMAGE=yes'], Cmd: ['sh'], WorkingDir: '/' },
};

export interface Ctx {
  /** a fresh store root (owned by the user the tests run as) */
  root: string;
  home: string;
  image: Image;
  asNobody: boolean;
  /** (asNobody) files bound over /etc/subuid and /etc/subgid, in a mount namespace of
   * strata's own, so newuidmap sees them and the machine's files stay as they are */
  subids?: { subuid: string; subgid: string };
}

/** A store root for one test; teardown removes every container in it (rm -f) and the dir. */
export function makeCtx(t: ExecutionContext, image: Image, asNobody = false): Ctx {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-run-'));
  fs.chmodSync(dir, 0o755);
  const root = path.join(dir, 'root');
  const home = path.join(dir, 'home');
  fs.mkdirSync(root);
  fs.mkdirSync(home);
  if (asNobody) spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, root, home]);
  const ctx = { root, home, image, asNobody };
  t.teardown(() => {
    const ids = strata(ctx, ['ps', '-a', '-q']).out.split('\n').filter(Boolean);
    for (const id of ids) strata(ctx, ['rm', '-f', id]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return ctx;
}

// Containers mount with Strata's own strata-overlay unless STRATA_MOUNT_PROGRAM names another
// program with its command line (fuse-overlayfs takes the same one).
function command(ctx: Ctx, argv: string[], extraEnv: NodeJS.ProcessEnv = {}): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: ctx.asNobody ? ctx.home : process.env.HOME,
    ...(process.env.STRATA_MOUNT_PROGRAM ? { STRATA_MOUNT_PROGRAM: process.env.STRATA_MOUNT_PROGRAM } : {}),
    ...extraEnv,
  };
  if (!ctx.asNobody) return { cmd: process.execPath, args: argv, env };
  const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...argv];
  if (!ctx.subids) return { cmd: asNobody[0]!, args: asNobody.slice(1), env };
  const script = 'mount --bind "$1" /etc/subuid && mount --bind "$2" /etc/subgid && shift 2 && exec "$@"';
  return { cmd: 'unshare', args: ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ctx.subids.subuid, ctx.subids.subgid, ...asNobody], env };
}

export interface Result {
  code: number;
  out: string;
  err: string;
}

const runCliJs = path.join(distDir, 'test/helpers/run-cli.js');
const mainJs = path.join(distDir, 'src/cli/main.js');
/** the strata bin's CommonJS stub, as package.json names it (it starts early-init.cjs first) */
const strataBin = path.join(distDir, 'src/cli/strata.cjs');

export function runArgv(ctx: Ctx, options: RunOptions, config: ImageConfig = baseConfig): string[] {
  return [runCliJs, JSON.stringify({ root: ctx.root, lowers: ctx.image.lowers, config, image: { id: '', ref: 'test-image' }, options })];
}

/** `strata run` with the test image: resolves with its exit status and output. */
export function run(ctx: Ctx, options: RunOptions, o: { config?: ImageConfig; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  const c = command(ctx, runArgv(ctx, options, o.config), o.env);
  return new Promise((resolve, reject) => {
    const child = spawn(c.cmd, c.args, { env: c.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end(o.input ?? '');
    child.once('error', reject);
    child.once('close', (code, sig) => resolve({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), out, err }));
  });
}

/** Starts `strata run` and leaves it running: for signals and killing. */
export function spawnRun(ctx: Ctx, options: RunOptions, env: NodeJS.ProcessEnv = {}) {
  const c = command(ctx, runArgv(ctx, options), env);
  const child = spawn(c.cmd, c.args, { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<number>((r) => child.once('close', (code, sig) => r(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
  return { child, output: () => out, closed };
}

/** The strata bin on the test root, left running: resolves with its status and output. */
export function spawnStrata(ctx: Ctx, args: string[]) {
  const c = command(ctx, [strataBin, '--root', ctx.root, ...args]);
  const child = spawn(c.cmd, c.args, { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<Result>((r) => child.once('close', (code, sig) => r({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), out, err })));
  return { child, output: () => out, closed };
}

/** The strata CLI on the test root. */
export function strata(ctx: Ctx, args: string[], input = ''): Result {
  const c = command(ctx, [mainJs, '--root', ctx.root, ...args]);
  const r = spawnSync(c.cmd, c.args, { env: c.env, encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Processes whose command line names DIR (strata-init, the FUSE daemon, the container
 * processes started from it): none may outlive a container. */
export function processesUsing(dir: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    // the strata CLI itself (node running it); strata-init's own command line may name
    // main.js too (--on-exit), and is counted
    const cli = /\/(run-cli|main)\.js$/.test(argv[1] ?? '');
    const cmdline = argv.join(' ').trim();
    if (cmdline.includes(dir) && !cli) out.push(`${pid}: ${cmdline}`);
  }
  return out;
}

/** Mounts anywhere on the host that name DIR. */
export function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
}

export async function eventually(test: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (test()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return test();
}

export function containerDirs(ctx: Ctx): string[] {
  try {
    return fs.readdirSync(path.join(ctx.root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch {
    return [];
  }
}

/** Runs ARGV (node script and args) in a pseudo-terminal of 33 rows and 101 columns, as a
 * shell would; types TEXT once the output shows AFTER. */
export function inPty(ctx: Ctx, argv: string[], send?: { after: string; text: string }): Promise<{ code: number | null; out: string }> {
  const py = `
import os, pty, sys, struct, fcntl, termios, select
after, text = sys.argv[1].encode(), sys.argv[2].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 101, 0, 0))
out, sent = b'', not after
while True:
    r, _, _ = select.select([fd], [], [], 20)
    if not r:
        # silent for 20 s: end the child so the test fails with what it printed, never hangs
        os.kill(pid, 9); out += b'\\n[inPty: no output for 20 s, killed]\\n'; break
    try: data = os.read(fd, 4096)
    except OSError: break
    if not data: break
    out += data
    if not sent and after in out:
        os.write(fd, text); sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(st))
`;
  const c = command(ctx, argv);
  const child = spawn('python3', ['-c', py, send?.after ?? '', send?.text ?? '', c.cmd === 'setpriv' ? '/usr/bin/setpriv' : c.cmd, ...c.args], { env: c.env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}

export const mainArgv = (ctx: Ctx, args: string[]): string[] => [mainJs, '--root', ctx.root, ...args];
