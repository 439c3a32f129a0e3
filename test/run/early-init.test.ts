// A rootless foreground `strata run` starts strata-init before it resolves the image
// (src/run/early-init.ts): strata-init's late mode makes the namespaces and starts the
// mount daemon at once, and takes the rest of its command line on a pipe. These tests
// hold it to: the daemon really starts early, gets its log and arguments late, and a
// strata-init that is not needed (a failed run, a strata that died) stops its daemon and
// leaves nothing.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { eventually, processesUsing } from '../helpers/containers.js';
import { earlyInitArgs, initPath } from '../../src/run/helper.js';

const argvOf = (pid: number): string[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
};

const childrenOf = (pid: number): number[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

const isDaemon = (pid: number): boolean => argvOf(pid)[1]?.endsWith('/strata-mount-daemon.cjs') ?? false;

test('late mode: the daemon starts at once, in a user namespace; an empty late-arguments pipe stops it and strata-init, silently', async (t) => {
  const marker = `early-init-test-${process.pid}-${Date.now()}`;
  const child = spawn(initPath(), earlyInitArgs(4, ['test', marker]), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let err = '';
  let status = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  (child.stdio[3] as Readable).on('data', (d: Buffer) => (status += d.toString()));
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  let daemon: number | undefined;
  t.true(await eventually(() => (daemon = childrenOf(child.pid!).find(isDaemon)) !== undefined, 10_000), 'the daemon is started before any late argument');
  t.is(argvOf(daemon!)[2], '--overlay-stdin');
  t.true(argvOf(daemon!).includes(marker), 'what strata shows is in its command line, for ps');
  t.not(fs.readlinkSync(`/proc/${daemon}/ns/user`), fs.readlinkSync('/proc/self/ns/user'));
  (child.stdio[4] as Writable).end();
  t.is(await closed, 0);
  t.is(status, '', 'nothing to report: it was not needed');
  t.is(err, '');
  t.false(fs.existsSync(`/proc/${daemon}`), 'the daemon was killed and reaped');
  t.deepEqual(processesUsing(marker), [], 'nor is its on-exit waiter left');
});
