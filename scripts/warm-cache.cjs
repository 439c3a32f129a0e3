// Writes a bundle's code cache for scripts/bundle.mjs: runs the bundle once per command line
// given, one after the other in this one process, so that the cache holds what each of
// them compiled (V8 caches the functions a script has compiled so far, whichever run of it
// compiled them); written on exit, as bundle-loader.ts's STRATA_WRITE_CODE_CACHE=1 does.
//   node scripts/warm-cache.cjs BUNDLE.cjs '[["ARG", ...], ...]'
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');

const [bundle, argvsJson] = process.argv.slice(2);
const { compileBundle, writeCodeCache } = require(path.join(path.dirname(bundle), 'bundle-loader.cjs'));
const argvs = JSON.parse(argvsJson);
const b = compileBundle(bundle);
process.on('exit', () => writeCodeCache(b));

function runNext() {
  const argv = argvs.shift();
  if (!argv) return;
  process.argv = [process.argv[0], bundle, ...argv];
  const module = { exports: {}, filename: bundle, id: '.', loaded: false };
  b.script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
}
// the next command once the one before has nothing left to do (the last may exit itself)
process.on('beforeExit', runNext);
runNext();
