// Real registries for tests (Debian's docker-registry on 127.0.0.1, a port it picks itself),
// the strata CLI as a child process, and OCI images made with umoci.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { distDir, sh } from './daemon.js';
import { tempDir } from './tmp.js';

export interface Registry {
  /** 127.0.0.1:PORT */
  host: string;
  /** the registry's storage */
  storage: string;
  pid: number;
  /** with tls: its self-signed certificate, the CA a client must trust */
  caFile?: string;
}

export interface RegistryAuth {
  htpasswd?: { username: string; password: string };
  /** token auth: the registry trusts tokens signed by the key of certFile */
  token?: { realm: string; service: string; issuer: string; certFile: string };
  /** serve https with a self-signed certificate (Registry.caFile) */
  tls?: boolean;
}

/** Starts docker-registry with a config written here; teardown stops it by pid. */
export async function startRegistry(t: ExecutionContext, auth: RegistryAuth = {}): Promise<Registry> {
  const dir = tempDir(t, 'strata-registry-');
  const storage = path.join(dir, 'data');
  let authYaml = '';
  if (auth.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    sh(`htpasswd -B -b -c ${file} ${auth.htpasswd.username} ${auth.htpasswd.password}`);
    authYaml = `auth:\n  htpasswd:\n    realm: strata-test\n    path: ${file}\n`;
  } else if (auth.token) {
    const k = auth.token;
    authYaml = `auth:\n  token:\n    realm: ${k.realm}\n    service: ${k.service}\n    issuer: ${k.issuer}\n    rootcertbundle: ${k.certFile}\n`;
  }
  let tlsYaml = '';
  if (auth.tls) {
    sh(`openssl req -x509 -newkey rsa:2048 -nodes -keyout ${dir}/tls.key -out ${dir}/tls.crt -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null`);
    tlsYaml = `  tls:\n    certificate: ${dir}/tls.crt\n    key: ${dir}/tls.key\n`;
  }
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: ${crypto.randomBytes(8).toString('hex')}\n${tlsYaml}${authYaml}`,
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
  const host = await new Promise<string>((resolve, reject) => {
    // generous: on a loaded machine (the whole suite, other helpers' tests) a dozen registries
    // starting at once took more than 15 s, failing tests before they began
    const deadline = Date.now() + 60_000;
    const poll = setInterval(() => {
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve(m[1]!);
      else if (child.exitCode !== null) reject(new Error(`docker-registry exited ${child.exitCode}: ${log}`));
      else if (Date.now() > deadline) reject(new Error(`docker-registry did not start: ${log}`));
      else return;
      clearInterval(poll);
    }, 20);
  });
  return { host, storage, pid: child.pid!, ...(auth.tls ? { caFile: path.join(dir, 'tls.crt') } : {}) };
}

export const strataJs = path.join(distDir, 'src/cli/main.js');

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs the strata CLI as a child, without blocking the event loop: tests in a file run
 * concurrently, and the proxies and token servers they start live in this process. */
export function strata(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> & { pid: number } {
  const child = spawn(process.execPath, [strataJs, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(opts.input ?? '');
  const p = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), out, err })));
  return Object.assign(p, { pid: child.pid! });
}

/** Writes files (path -> content; a value starting with '->' is a symlink) under dir. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [p, content] of Object.entries(files)) {
    const full = path.join(dir, p);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    if (typeof content === 'string' && content.startsWith('->')) fs.symlinkSync(content.slice(2), full);
    else fs.writeFileSync(full, content);
  }
}

/** An OCI layout at layout holding image `tag` with one layer per tree (umoci new + insert). */
export function umociImage(layout: string, tag: string, layers: string[]): void {
  if (!fs.existsSync(path.join(layout, 'oci-layout'))) sh(`umoci init --layout ${layout}`);
  sh(`umoci new --image ${layout}:${tag}`);
  for (const l of layers) sh(`umoci insert --image ${layout}:${tag} ${l} /`);
}

/** Every entry below dir as 'path type mode size/target/sha256', sorted: two trees compare equal by value. */
export function treeOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name);
      const full = path.join(dir, r);
      const st = fs.lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${r} l ${fs.readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.push(`${r} d ${mode}`);
        walk(r);
      } else out.push(`${r} f ${mode} ${st.size} ${crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex').slice(0, 16)}`);
    }
  };
  walk('');
  return out;
}

export function sha256Hex(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** Every blob of an OCI layout, checked against its name: [digest, ok]. */
export function layoutBlobs(layout: string): Map<string, boolean> {
  const dir = path.join(layout, 'blobs', 'sha256');
  const m = new Map<string, boolean>();
  if (!fs.existsSync(dir)) return m;
  for (const hex of fs.readdirSync(dir)) m.set(`sha256:${hex}`, sha256Hex(fs.readFileSync(path.join(dir, hex))) === hex);
  return m;
}

/** Stops a process we started, by pid, if it is still there. */
export function killPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
