// The bundles' code cache (src/cli/bundle-loader.ts): used for the bundle and node it was
// made by, never for another text of the bundle, another node, or a damaged file.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compileBundle, writeCodeCache } from '../../src/cli/bundle-loader.js';
import { distDir } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const cli = path.join(distDir, 'src/cli');

test('the build leaves a code cache that V8 takes for each bundle', (t) => {
  for (const e of ['main', 'daemon', 'overlay']) t.is(compileBundle(path.join(cli, `${e}.cjs`)).cache, 'used', e);
});

// plusReply and readdirReply are made by unionHandlers, which only a mounted session runs:
// their names are in the cache when its functions are (V8 serializes a compiled function's
// inner functions), i.e. when the build's daemon served requests (scripts/bundle.mjs)
test("the daemon's cache holds the request path's functions, compiled by a daemon that served at build time", (t) => {
  if (!fs.existsSync('/dev/fuse')) return t.pass('no FUSE here: the build warms the daemon up to its mount only');
  const cache = fs.readFileSync(path.join(cli, 'daemon.cjs.cache'));
  for (const name of ['plusReply', 'readdirReply']) t.true(cache.includes(name), name);
});

test('a cache is not used for another text of the bundle (same length), nor for another node, nor when damaged', (t) => {
  const dir = tempDir(t, 'strata-cache-');
  const file = path.join(dir, 'b.cjs');
  fs.writeFileSync(file, 'module.exports = function f() { return 1; };\n');
  t.is(compileBundle(file).cache, 'none');
  writeCodeCache(compileBundle(file));
  t.is(compileBundle(file).cache, 'used');
  const cache = fs.readFileSync(`${file}.cache`);
  // one character changed: V8's own check compares lengths only
  fs.writeFileSync(file, 'module.exports = function f() { return 2; };\n');
  t.is(compileBundle(file).cache, 'none');
  fs.writeFileSync(file, 'module.exports = function f() { return 1; };\n');
  fs.writeFileSync(`${file}.cache`, Buffer.from(cache.toString('latin1').replace(process.version, 'v0.0.0'), 'latin1'));
  t.is(compileBundle(file).cache, 'none', 'made by another node');
  const damaged = Buffer.from(cache);
  damaged[damaged.length - 5] ^= 0xff;
  fs.writeFileSync(`${file}.cache`, damaged);
  t.is(compileBundle(file).cache, 'none', 'a damaged payload');
  fs.writeFileSync(`${file}.cache`, cache.subarray(0, 10));
  t.is(compileBundle(file).cache, 'none');
});

test('the bins run without their caches, and write none at run time', (t) => {
  const dir = tempDir(t, 'strata-cache-');
  // a copy of the bundle beside its stub, at the same depth, without a cache
  const copy = path.join(cli, `main-nocache-${process.pid}.cjs`);
  const stub = path.join(cli, `main-nocache-${process.pid}.js`);
  t.teardown(() => {
    for (const f of [copy, stub, `${copy}.cache`]) fs.rmSync(f, { force: true });
  });
  fs.copyFileSync(path.join(cli, 'main.cjs'), copy);
  fs.writeFileSync(stub, fs.readFileSync(path.join(cli, 'main.js'), 'utf8').replace('./main.cjs', `./${path.basename(copy)}`));
  const r = spawnSync(process.execPath, [stub, '--root', dir, 'images'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.false(fs.existsSync(`${copy}.cache`));
});
