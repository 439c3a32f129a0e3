// The mutation lock: runNow answers in the same turn when nothing holds the lock, and
// otherwise keeps the order run() gives; a change that goes async holds it until it settles.
import test from 'ava';
import { andThen, Mutex } from '../../src/union/lock.js';

test('runNow runs at once and gives the value itself when the lock is free', (t) => {
  const m = new Mutex();
  let ran = false;
  const v = m.runNow(() => {
    ran = true;
    return 7;
  });
  t.true(ran);
  t.is(v, 7);
});

test('runNow waits behind a change under way, in order', async (t) => {
  const m = new Mutex();
  const order: string[] = [];
  let release!: () => void;
  const first = m.run(async () => {
    await new Promise<void>((r) => (release = r));
    order.push('first');
  });
  const second = m.runNow(() => order.push('second'));
  t.true(second instanceof Promise, 'queued, not run');
  t.deepEqual(order, []);
  while (!release) await new Promise((r) => setImmediate(r)); // run() starts it a turn later
  release();
  await first;
  await second;
  t.deepEqual(order, ['first', 'second']);
});

test('a runNow change that goes async holds the lock until it settles', async (t) => {
  const m = new Mutex();
  const order: string[] = [];
  let release!: () => void;
  const slow = m.runNow(async () => {
    await new Promise<void>((r) => (release = r));
    order.push('slow');
  });
  const next = m.runNow(() => order.push('next'));
  t.true(next instanceof Promise);
  release();
  await slow;
  await next;
  t.deepEqual(order, ['slow', 'next']);
  t.is(m.runNow(() => 1), 1, 'free again');
});

test('a change that throws at once frees the lock', async (t) => {
  const m = new Mutex();
  t.throws(() => m.runNow(() => { throw new Error('boom'); }), { message: 'boom' });
  await t.throwsAsync(m.run(() => Promise.reject(new Error('late'))), { message: 'late' });
  t.is(m.runNow(() => 2), 2);
});

test('andThen applies at once to a value and after a promise', async (t) => {
  t.is(andThen(2, (x) => x + 1), 3);
  t.is(await andThen(Promise.resolve(2), (x) => x + 1), 3);
});
