// NODE_EXTRA_CA_CERTS through the strata bin (src/registry/extra-ca.ts): the shebang starts
// node without it, yet registry TLS trusts its certificates exactly as node would have, and
// a command that opens no TLS never reads the file.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { deferredExtraCaFile, restoreExtraCaVar } from '../../src/registry/extra-ca.js';
import { startRegistry, strata, strataJs, type Run } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { tempStore } from '../helpers/images.js';
import { syntheticImage } from './fixtures.js';

/** The bin executed as a user's shell does (its shebang line applies), not `node main.js`. */
function bin(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const child = spawn(strataJs, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, out, err })));
}

const warning = /Ignoring extra certs from `[^`]*`, load failed/;

test('push and pull over https to a registry whose CA is given only by NODE_EXTRA_CA_CERTS', async (t) => {
  const reg = await startRegistry(t, { tls: true });
  const src = tempStore(t);
  const img = await syntheticImage(src, 'app', { layerSizes: [1000] });
  const env = { NODE_EXTRA_CA_CERTS: reg.caFile! };
  const pushed = await bin(['--root', src.root, 'push', 'app', `${reg.host}/app:1`], env);
  t.is(pushed.code, 0, pushed.err);
  const back = await bin(['--root', tempDir(t), 'pull', `${reg.host}/app:1`], env);
  t.is(back.code, 0, back.err);
  t.is(back.out.trim(), img.manifest.digest);
  // node started directly reads the variable itself: the same answer
  const direct = await strata(['--root', tempDir(t), 'pull', `${reg.host}/app:1`], { env });
  t.is(direct.out.trim(), img.manifest.digest, direct.err);
  // and without it, or with a file that cannot be read, the certificate is refused
  const { NODE_EXTRA_CA_CERTS: _, ...none } = process.env;
  const child = spawn(strataJs, ['--root', tempDir(t), 'pull', `${reg.host}/app:1`], { env: none, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  t.not(await new Promise((r) => child.on('close', r)), 0);
  t.regex(err, /self[- ]signed certificate/);
  const missing = await bin(['--root', tempDir(t), 'pull', `${reg.host}/app:1`], { NODE_EXTRA_CA_CERTS: path.join(tempDir(t), 'none.crt') });
  t.not(missing.code, 0);
  t.regex(missing.err, warning, 'node\'s warning, once the file is needed');
  t.regex(missing.err, /self[- ]signed certificate/);
});

test('a command that opens no TLS never reads NODE_EXTRA_CA_CERTS', async (t) => {
  const env = { NODE_EXTRA_CA_CERTS: path.join(tempDir(t), 'none.crt') };
  // node itself warns at start-up when it reads a missing file: the control
  const direct = await strata(['--version'], { env });
  t.regex(direct.err, warning);
  for (const args of [['--version'], ['--root', tempDir(t), 'images']]) {
    const r = await bin(args, env);
    t.is(r.code, 0, r.err);
    t.is(r.err, '', args.join(' '));
  }
});

test('restoreExtraCaVar puts the stashed variable back, and only the shebang\'s stash counts', (t) => {
  const env: NodeJS.ProcessEnv = { STRATA_EXTRA_CA_CERTS: '/etc/x.pem', PATH: '/bin' };
  restoreExtraCaVar(env);
  t.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/etc/x.pem', PATH: '/bin' });
  t.is(deferredExtraCaFile(), '/etc/x.pem');
  // env -S spells unset as '': the variable stays unset
  const unset: NodeJS.ProcessEnv = { STRATA_EXTRA_CA_CERTS: '' };
  restoreExtraCaVar(unset);
  t.deepEqual(unset, {});
  // started as `node main.js`: node has read it, nothing to undo
  const plain: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/etc/y.pem' };
  restoreExtraCaVar(plain);
  t.deepEqual(plain, { NODE_EXTRA_CA_CERTS: '/etc/y.pem' });
});

test('the bins\' shebangs stash the variable the same way', (t) => {
  // the package's bins (package.json) and the ES module stubs tests and `node main.js` run
  // (and the mount daemon's, which strata starts itself: src/run/programs.ts)
  for (const f of ['strata.cjs', 'strata-overlay.cjs', 'strata-mount-daemon.cjs', 'main.js', 'overlay.js', 'daemon.js']) {
    const first = fs.readFileSync(path.join(path.dirname(strataJs), f), 'utf8').split('\n')[0];
    t.is(first, '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS STRATA_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node', f);
  }
});
