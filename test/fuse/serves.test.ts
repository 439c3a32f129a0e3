// The addon's calls into JS: one function per kind of request, by Op, called with the
// request's arguments alone (native/src/session.c call_js). Served in this process on
// both loops; the test's own file operations are async (the libuv pool), so the event
// loop stays free to answer them.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fuse, type Req, type SessionLoop, type Serves } from '../../src/fuse/native.js';
import { Op } from '../../src/fuse/ops.js';
import { unmount } from '../../src/fuse/unmount.js';
import * as sys from '../../src/sys/index.js';
import { tempDir } from '../helpers/tmp.js';

interface Call {
  op: Op;
  args: unknown[];
}

/** serves that record every call; LOOKUP of "x" in the root finds file 2 */
function recordingServes(calls: Call[], onExit: () => void): Serves {
  const root = sys.lstat('/');
  const attrs = [undefined, root, { ...root, ino: 2, mode: sys.S_IFREG | 0o644 }];
  const serves: Serves = [];
  for (let op = Op.LOOKUP; op <= Op.EXIT; op++) {
    serves[op] = (req: Req | undefined, ...args: unknown[]) => {
      calls.push({ op, args: [req, ...args] });
      if (op === Op.EXIT) onExit();
      if (!req) return;
      if (op === Op.LOOKUP && args[1] === 'x') fuse.replyEntry(req, { ino: 2, attr: attrs[2], attrTimeout: 0, entryTimeout: 0 });
      else if (op === Op.GETATTR) fuse.replyAttr(req, attrs[args[0] as number]!, 0);
      else fuse.replyErr(req, sys.E.ENOENT);
    };
  }
  return serves;
}

async function served(t: ExecutionContext, loop: SessionLoop): Promise<void> {
  const mnt = path.join(tempDir(t), 'mnt');
  fs.mkdirSync(mnt);
  const calls: Call[] = [];
  let exited!: () => void;
  const exit = new Promise<void>((resolve) => (exited = resolve));
  fuse.mount(mnt, ['-o', 'fsname=serves-test'], { loop }, recordingServes(calls, exited));
  let mountedHere = true;
  t.teardown(() => {
    if (mountedHere) unmount(mnt, { lazy: true });
  });
  const st = await fs.promises.stat(path.join(mnt, 'x'));
  t.is(st.ino, 2);
  await t.throwsAsync(fs.promises.stat(path.join(mnt, 'nothing')), { code: 'ENOENT' });
  unmount(mnt);
  mountedHere = false;
  await exit;

  const init = calls.find((c) => c.op === Op.INIT);
  t.truthy(init, 'INIT reached its function');
  t.is(init!.args[0], undefined, 'an event comes without a request');
  t.is(typeof (init!.args[1] as { maxWrite?: unknown }).maxWrite, 'number');
  const lookups = calls.filter((c) => c.op === Op.LOOKUP);
  t.deepEqual(
    lookups.map((c) => c.args.slice(1)),
    [
      [1, 'x'],
      [1, 'nothing'],
    ],
    "LOOKUP's function gets (req, parent, name) and nothing else",
  );
  t.is(typeof lookups[0]!.args[0], 'object', 'with the request handle first');
  t.true(calls.some((c) => c.op === Op.EXIT && c.args[0] === undefined && typeof c.args[1] === 'number'), 'EXIT: (undefined, code)');
}

test('the js loop calls each kind of request\'s own function with its arguments', (t) => served(t, 'js'));
test('the threads loop calls each kind of request\'s own function with its arguments', (t) => served(t, 'threads'));

test('mount refuses serves that lack a function for some op', (t) => {
  const mnt = tempDir(t);
  const serves: Serves = [];
  for (let op = Op.LOOKUP; op <= Op.EXIT; op++) serves[op] = () => undefined;
  t.throws(() => fuse.mount(mnt, [], {}, serves.slice(0, Op.EXIT)), { message: /serves/ });
  const holed = [...serves];
  delete holed[Op.GETATTR];
  t.throws(() => fuse.mount(mnt, [], {}, holed), { message: /serves/ });
  t.throws(() => fuse.mount(mnt, [], {}, (() => undefined) as unknown as Serves), { message: /serves/ });
});
