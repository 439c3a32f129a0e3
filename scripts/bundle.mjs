#!/usr/bin/env node
// Bundles the programs node starts (strata, its mount daemon, strata-overlay) into one file
// each, over tsc's output of the same name in dist/src/cli/: Node 20 has no compile cache,
// and loading ~30 ES modules one by one costs ~50 ms at every start. In place, so that
// import.meta.url-relative paths (the native addon, strata-init, package.json, daemon.js)
// resolve as from tsc's modules: everything under dist/src/ is at the same depth.
// Lazy import()s (one per command, commands.ts) stay lazy: esbuild evaluates an inlined
// module when its import() runs. tsc's main.js is kept as main.unbundled.js, the module
// graph tests trace (test/cli/cli.test.ts).
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/src/cli');
const entries = ['main', 'daemon', 'overlay'];

/** yargs from its CommonJS build, one file and a few small packages: its ESM entry is a
 * dozen modules, and a bundle of it would still search for its locales beside main.js. */
const yargsCjs = {
  name: 'yargs-cjs',
  setup(b) {
    b.onResolve({ filter: /^yargs$/ }, () => ({ path: path.join(root, 'node_modules/yargs/index.cjs') }));
  },
};

/** Node built-ins loaded when the module that imports them is first evaluated, not all at
 * start-up: a bundle's ES imports are all hoisted to its top, where each lazily imported
 * command's (http, https, tls, zlib, readline...) cost ~25 ms more for every command. Each
 * `import ... from 'node:x'` becomes an import of a one-line CommonJS module requiring it,
 * which esbuild evaluates on first use like any other module of the bundle. */
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => (a.namespace === 'builtin' ? { path: a.path, external: true } : { path: a.path, namespace: 'builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({ contents: `module.exports = require(${JSON.stringify(a.path)});`, loader: 'js' }));
  },
};

fs.copyFileSync(path.join(out, 'main.js'), path.join(out, 'main.unbundled.js'));
// a previous build's chunks, named by their content's hash, would stay behind
for (const f of fs.readdirSync(out)) if (f.startsWith('chunk-')) fs.rmSync(path.join(out, f));
await build({
  entryPoints: Object.fromEntries(entries.map((e) => [e, path.join(root, 'src/cli', `${e}.ts`)])),
  outdir: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // one chunk per lazily imported module graph (a command's, the engine's), beside the
  // entries: node built-ins and packages load only with the code that uses them
  // bundled CommonJS (yargs, tar-stream and their dependencies) requires node built-ins, and
  // yargs finds its locales from __dirname: its own build directory in the package (a
  // yargs installed elsewhere leaves its messages in English, their default)
  banner: {
    js: [
      "import { createRequire as __strataCreateRequire } from 'node:module';",
      'const require = __strataCreateRequire(import.meta.url);',
      "const __dirname = new URL('../../../node_modules/yargs/build', import.meta.url).pathname;",
    ].join('\n'),
  },
  plugins: [yargsCjs, lazyBuiltins],
  sourcemap: true,
  logLevel: 'warning',
});
for (const e of entries) fs.chmodSync(path.join(out, `${e}.js`), 0o755);
