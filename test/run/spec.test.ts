// Resolving run's options against an image config, as Docker does; bad input is refused
// before anything is made.
import test from 'ava';
import { parseVolume, resolveRun, DEFAULT_PATH } from '../../src/run/spec.js';
import { signalNumber } from '../../src/run/lifecycle.js';

test('command: Entrypoint + CMD..., or + the image Cmd; none at all is an error', (t) => {
  const img = { config: { Entrypoint: ['/ep'], Cmd: ['a'] } };
  t.deepEqual(resolveRun(img, {}).argv, ['/ep', 'a']);
  t.deepEqual(resolveRun(img, { command: ['b', 'c'] }).argv, ['/ep', 'b', 'c']);
  t.deepEqual(resolveRun({ config: { Cmd: ['sh'] } }, {}).argv, ['sh']);
  t.throws(() => resolveRun({}, {}), { message: /no command given/ });
});

test('env: PATH by default, image Env overridden by -e, -e NAME passes the host value, TERM with -t', (t) => {
  process.env.STRATA_SPEC_TEST = 'from-host';
  const r = resolveRun({ config: { Cmd: ['x'], Env: ['A=1', 'B=2'] } }, { env: ['B=3', 'STRATA_SPEC_TEST', 'UNSET_STRATA_VAR'], tty: true });
  t.deepEqual(r.env, [`PATH=${DEFAULT_PATH}`, 'A=1', 'B=3', 'STRATA_SPEC_TEST=from-host', 'TERM=xterm']);
  t.deepEqual(resolveRun({ config: { Cmd: ['x'], Env: ['PATH=/mine'] } }, {}).env, ['PATH=/mine']);
  t.throws(() => resolveRun({ config: { Cmd: ['x'] } }, { env: ['=v'] }), { message: /empty name/ });
});

test('user, working dir and hostname', (t) => {
  const img = { config: { Cmd: ['x'], User: 'app', WorkingDir: '/srv' } };
  t.is(resolveRun(img, {}).user, 'app');
  t.is(resolveRun(img, { user: '0:0' }).user, '0:0');
  t.is(resolveRun(img, {}).workingDir, '/srv');
  t.is(resolveRun({ config: { Cmd: ['x'] } }, {}).workingDir, '/');
  t.throws(() => resolveRun(img, { hostname: 'bad host' }), { message: /invalid hostname/ });
});

test('volume specs', (t) => {
  t.deepEqual(parseVolume('/tmp:/data'), { source: '/tmp', target: '/data', readOnly: false });
  t.deepEqual(parseVolume('/tmp/:/data/:ro'), { source: '/tmp/', target: '/data/', readOnly: true });
  t.throws(() => parseVolume('/tmp:/'), { message: /DIR may not be \// });
  t.throws(() => parseVolume('/tmp:/a:ro:x'), { message: /expected HOSTDIR:DIR\[:ro\]/ });
});

test('signal names and numbers', (t) => {
  t.is(signalNumber('term'), 'SIGTERM');
  t.is(signalNumber('SIGUSR1'), 'SIGUSR1');
  t.is(signalNumber('9'), 'SIGKILL');
  t.throws(() => signalNumber('NOPE'), { message: /invalid signal: NOPE/ });
});
