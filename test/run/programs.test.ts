// How strata starts its own node programs (src/run/programs.ts): the CommonJS stubs, this
// node, NODE_EXTRA_CA_CERTS stashed so that node does not read it at start-up, and put
// back by the program (registry/extra-ca.ts).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { nodeArgv, nodeCommand, programPath, type Program } from '../../src/run/programs.js';
import { restoreExtraCaVar, stashExtraCaVar } from '../../src/registry/extra-ca.js';
import { distDir } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const cli = path.join(distDir, 'src/cli');
const programs: Program[] = ['strata', 'strata-overlay', 'strata-mount-daemon'];

test('each program is a CommonJS stub of the build that runs its bundle', (t) => {
  const bundles = { strata: 'main', 'strata-overlay': 'overlay', 'strata-mount-daemon': 'daemon' };
  for (const p of programs) {
    t.is(programPath(p), path.join(cli, `${p}.cjs`));
    const text = fs.readFileSync(programPath(p), 'utf8');
    t.regex(text, /^'use strict';$/m, p);
    t.true(text.includes(`require('./bundle-loader.cjs')`), p);
    t.true(text.includes(`'${bundles[p]}.cjs'`), p);
    t.false(/^import /m.test(text), `${p}: no ES module syntax`);
  }
});

test('nodeCommand and nodeArgv: this node, the stub, the variable stashed only when set', (t) => {
  const env = { NODE_EXTRA_CA_CERTS: '/etc/x.pem', PATH: '/bin' };
  const c = nodeCommand('strata', ['--version'], env);
  t.deepEqual(c, { file: process.execPath, args: [programPath('strata'), '--version'], env: { STRATA_EXTRA_CA_CERTS: '/etc/x.pem', PATH: '/bin' } });
  t.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/etc/x.pem', PATH: '/bin' }, 'the caller\'s env is left as it was');
  t.deepEqual(nodeCommand('strata', [], { PATH: '/bin' }).env, { PATH: '/bin' });
  t.deepEqual(nodeCommand('strata', [], { NODE_EXTRA_CA_CERTS: '' }).env, { NODE_EXTRA_CA_CERTS: '' }, 'empty: node ignores it anyway');
  t.deepEqual(nodeArgv('strata', ['rm'], env), ['/usr/bin/env', '-u', 'NODE_EXTRA_CA_CERTS', 'STRATA_EXTRA_CA_CERTS=/etc/x.pem', process.execPath, programPath('strata'), 'rm']);
  t.deepEqual(nodeArgv('strata', ['rm'], { PATH: '/bin' }), [process.execPath, programPath('strata'), 'rm']);
});

test('stash then restore gives the user\'s environment back', (t) => {
  const env = { NODE_EXTRA_CA_CERTS: '/etc/x.pem', PATH: '/bin' };
  const inside = stashExtraCaVar(env);
  t.is(inside.NODE_EXTRA_CA_CERTS, undefined);
  restoreExtraCaVar(inside);
  t.deepEqual(inside, env);
});

// node warns at start-up when NODE_EXTRA_CA_CERTS names a missing file: whether it read it
const warning = /Ignoring extra certs from `[^`]*`, load failed/;

test('started as programs.ts starts them, node never reads NODE_EXTRA_CA_CERTS', (t) => {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: path.join(tempDir(t), 'none.crt') };
  const direct = spawnSync(process.execPath, [programPath('strata'), '--version'], { env, encoding: 'utf8' });
  t.regex(direct.stderr, warning, 'the control: node reads it when it is set');
  const c = nodeCommand('strata', ['--version'], env);
  const viaCommand = spawnSync(c.file, c.args, { env: c.env, encoding: 'utf8' });
  t.is(viaCommand.status, 0, viaCommand.stderr);
  t.is(viaCommand.stderr, '');
  const argv = nodeArgv('strata-overlay', ['--version'], env);
  const viaArgv = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8' });
  t.is(viaArgv.status, 0, viaArgv.stderr);
  t.is(viaArgv.stdout, 'strata-overlay 0.1.0\n');
  t.is(viaArgv.stderr, '');
  // the daemon's stub: an empty stdin says it is not needed, it exits without a word
  const d = nodeCommand('strata-mount-daemon', ['-'], env);
  const daemon = spawnSync(d.file, d.args, { env: d.env, encoding: 'utf8', input: '' });
  t.is(daemon.status, 0, daemon.stderr);
  t.is(daemon.stderr, '');
});
