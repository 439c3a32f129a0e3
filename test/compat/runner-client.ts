// Talking to an op runner (runner.ts) from a test: one request, one answer, in order.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { ExecutionContext } from 'ava';
import { distDir } from '../helpers/daemon.js';
import type { Request } from './runner.js';

export const runnerJs = path.join(distDir, 'test/compat/runner.js');

export interface Runner {
  child: ChildProcess;
  call: <T>(r: Request) => Promise<T>;
}

/** Starts `PREFIX... node runner.js`; teardown closes its stdin (it unmounts what it mounted
 * and exits) and kills it after 10 s if it hangs. */
export function startRunner(t: ExecutionContext, prefix: string[] = []): Runner {
  const argv = [...prefix, process.execPath, runnerJs];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiting: { resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => waiting.shift()?.resolve(l));
  child.on('exit', (code, sig) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`runner exited (${code ?? sig}): ${stderr}`));
  });
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  const call = <T>(r: Request): Promise<T> =>
    new Promise<string>((resolve, reject) => {
      waiting.push({ resolve, reject });
      child.stdin!.write(JSON.stringify(r) + '\n');
    }).then((line) => {
      const reply = JSON.parse(line) as { ok: true; value: T } | { ok: false; error: string };
      if (!reply.ok) throw new Error(`runner ${r.cmd}: ${reply.error}`);
      return reply.value;
    });
  return { child, call };
}
