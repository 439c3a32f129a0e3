// The failure paths of strata-init --fuse-sock (mount_fuse in native/init/strata-init.c),
// driven directly: strata gone before the fd is sent, gone after it without the ready
// byte, and a --fuse-sock that is not a socket. Each must fail the start (125, an "error"
// status line naming the cause, no "started"). And sys.recvFd on a socket without an fd.
// (The mount is in strata-init's private mount namespace: the host never sees it.)
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { initPath } from '../../src/run/helper.js';
import * as sys from '../../src/sys/index.js';

const asRoot = process.geteuid?.() === 0 ? test.serial : test.skip;

interface Outcome {
  code: number | null;
  status: string;
}

/** Runs strata-init with --fuse-sock 4 (the given fd as its fd 4); onFuse runs when it
 * reports "fuse" (the /dev/fuse fd is on the socket). */
function runInit(t: import('ava').ExecutionContext, childEnd: number, onFuse?: () => void): Promise<Outcome> {
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-fuse-sock-'));
  t.teardown(() => fs.rmSync(rootfs, { recursive: true, force: true }));
  const child = spawn(initPath(), ['--rootfs', rootfs, '--status-fd', '3', '--fuse-sock', '4', '--fuse-opts', 'default_permissions', '--', '/bin/true'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', childEnd],
  });
  let status = '';
  (child.stdio[3] as Readable).on('data', (d: Buffer) => {
    status += d.toString();
    if (onFuse && /^fuse$/m.test(status)) {
      const f = onFuse;
      onFuse = undefined;
      f();
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, status })));
}

asRoot('--fuse-sock: strata dies after getting the fd, before the ready byte: the start fails', async (t) => {
  const [mine, theirs] = sys.socketpair();
  const out = runInit(t, theirs, () => {
    const fd = sys.recvFd(mine);
    fs.closeSync(fd);
    fs.closeSync(mine); // EOF instead of 'r'
  });
  fs.closeSync(theirs);
  const r = await out;
  t.is(r.code, 125, r.status);
  t.regex(r.status, /^error 125 strata did not serve the union mount$/m);
  t.notRegex(r.status, /^started /m);
});

asRoot('--fuse-sock: strata is gone before the fd is sent: the start fails', async (t) => {
  const [mine, theirs] = sys.socketpair();
  fs.closeSync(mine);
  const out = runInit(t, theirs);
  fs.closeSync(theirs);
  const r = await out;
  t.is(r.code, 125, r.status);
  t.regex(r.status, /^error 125 sending \/dev\/fuse to strata: /m);
  t.notRegex(r.status, /^fuse$/m);
});

asRoot('--fuse-sock on an fd that is not a socket: the start fails', async (t) => {
  const nul = fs.openSync('/dev/null', 'r+');
  const out = runInit(t, nul);
  fs.closeSync(nul);
  const r = await out;
  t.is(r.code, 125, r.status);
  t.regex(r.status, /^error 125 sending \/dev\/fuse to strata: Socket operation on non-socket$/m);
});

test('recvFd: EAGAIN with nothing sent, EBADMSG for a byte without an fd, ECONNRESET at EOF', (t) => {
  const [a, b] = sys.socketpair();
  try {
    t.is(t.throws<sys.SysError>(() => sys.recvFd(a))?.errno, os.constants.errno.EAGAIN);
    fs.writeSync(b, 'x');
    t.throws(() => sys.recvFd(a), { code: 'EBADMSG' });
    fs.closeSync(b);
    t.throws(() => sys.recvFd(a), { code: 'ECONNRESET' });
  } finally {
    fs.closeSync(a);
  }
});
