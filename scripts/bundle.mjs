#!/usr/bin/env node
// Bundles the programs node starts (strata, its mount daemon, strata-overlay) into one
// CommonJS file each, dist/src/cli/{main,daemon,overlay}.cjs, and replaces tsc's
// main.js, daemon.js and overlay.js with stubs that run them with V8's code cache
// (src/cli/bundle-loader.ts), warmed here. Node 20 has no compile cache: loading the ~30-60
// ES modules a command needs cost ~50 ms at every start, compiling the bundle ~25 ms more.
// Beside tsc's output, so that import.meta.url-relative paths (the native addon,
// strata-init, package.json, daemon.js) resolve as from tsc's modules: everything under
// dist/src/ is at the same depth. Lazy import()s (one per command, commands.ts) stay lazy:
// esbuild evaluates an inlined module, and requires its node built-ins, when its import()
// runs. tsc's main.js is kept as main.unbundled.js, the module graph tests trace.
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/src/cli');
const entries = ['main', 'daemon', 'overlay'];

/** yargs from its CommonJS build, one file and a few small packages: its ESM entry is a
 * dozen modules. */
const yargsCjs = {
  name: 'yargs-cjs',
  setup(b) {
    b.onResolve({ filter: /^yargs$/ }, () => ({ path: path.join(root, 'node_modules/yargs/index.cjs') }));
  },
};

fs.copyFileSync(path.join(out, 'main.js'), path.join(out, 'main.unbundled.js'));
await build({
  entryPoints: Object.fromEntries(entries.map((e) => [e, path.join(root, 'src/cli', `${e}.ts`)])),
  outdir: out,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // the ES modules' import.meta.url, as the bundle's own; yargs finds its locales from
  // __dirname: its build directory in the package (a yargs installed elsewhere leaves its
  // messages in English, their default)
  define: { 'import.meta.url': '__strataUrl', __dirname: '__strataYargsDir' },
  banner: {
    js: [
      "var __strataUrl = require('node:url').pathToFileURL(__filename).href;",
      "var __strataYargsDir = require('node:path').join(__filename, '../../../../node_modules/yargs/build');",
    ].join('\n'),
  },
  plugins: [yargsCjs],
  sourcemap: true,
  logLevel: 'warning',
});

for (const e of entries) {
  // esbuild keeps the entry's shebang, which the loader's function wrapper cannot hold:
  // an empty first line instead keeps the source map's lines
  const cjs = path.join(out, `${e}.cjs`);
  fs.writeFileSync(cjs, fs.readFileSync(cjs, 'utf8').replace(/^#!.*/, ''));
  fs.chmodSync(cjs, 0o644);
  const stub = path.join(out, `${e}.js`);
  // the entry's shebang (main.ts's keeps node from reading NODE_EXTRA_CA_CERTS)
  const shebang = fs.readFileSync(path.join(root, 'src/cli', `${e}.ts`), 'utf8').split('\n')[0];
  fs.writeFileSync(
    stub,
    `${shebang}\n// ${e}.cjs, run with its code cache (scripts/bundle.mjs, bundle-loader.ts)\nimport { runBundle } from './bundle-loader.js';\n\nrunBundle(new URL('./${e}.cjs', import.meta.url));\n`,
  );
  fs.chmodSync(stub, 0o755);
  fs.rmSync(path.join(out, `${e}.js.map`), { force: true });
}

/** one entry as a CommonJS bundle of its own in out/ (extra: esbuild options on top) */
const cjsBundle = (entry, outfile, extra = {}) =>
  build({ entryPoints: [path.join(root, entry)], outfile: path.join(out, outfile), bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', ...extra });

// The bins package.json names, and the mount daemon's stub, as CommonJS: node's ES module
// loader costs ~9 ms of every start, which a stub that is itself an ES module (main.js,
// above) pays before the bundle runs. They load a CommonJS build of the same loader; strata
// starts its own node programs through them (src/run/programs.ts). main.js, daemon.js and
// overlay.js stay, for the tests and for `node dist/src/cli/main.js`.
await cjsBundle('src/cli/bundle-loader.ts', 'bundle-loader.cjs');
// A foreground `strata run` starts strata-init before strata's bundle loads (~15 ms with
// its code cache, longer under load): src/run/early-init.ts, a small bundle of its own that
// the strata stub runs first.
await cjsBundle('src/run/early-init.ts', 'early-init.cjs', {
  define: { 'import.meta.url': '__strataUrl' },
  banner: { js: "var __strataUrl = require('node:url').pathToFileURL(__filename).href;" },
});
const bins = { main: 'strata', overlay: 'strata-overlay', daemon: 'strata-mount-daemon' };
const before = { main: "require('./early-init.cjs').startEarlyInit(process.argv.slice(2));\n" };
for (const [e, bin] of Object.entries(bins)) {
  const shebang = fs.readFileSync(path.join(root, 'src/cli', `${e}.ts`), 'utf8').split('\n')[0];
  const stub = path.join(out, `${bin}.cjs`);
  fs.writeFileSync(
    stub,
    `${shebang}\n// the ${bin} bin: ${e}.cjs run with its code cache (scripts/bundle.mjs, bundle-loader.ts)\n'use strict';\n${before[e] ?? ''}require('./bundle-loader.cjs').runBundle(require('node:url').pathToFileURL(require('node:path').join(__dirname, '${e}.cjs')));\n`,
  );
  fs.chmodSync(stub, 0o755);
}

/** File operations of every kind the daemon serves in JS (lookups, listings, attributes,
 * reads, creates, writes, links, renames, removals), on the union mounted at mnt. */
const exercise = (mnt) =>
  `cd ${mnt} && ls -l . d && find . -ls && cat d/f && stat d/f && echo x > new && cat new && mkdir dir && mv new dir/n && ` +
  'ln -s n dir/l && readlink dir/l && ln dir/n dir/h && touch d/f && chmod 600 d/f && truncate -s 0 dir/n && ls -lR . && rm -r dir';

/** The daemon's code cache written by a daemon that served: it mounts a small union (as a
 * rootless run's strata-init starts it, --overlay-stdin) and answers exercise()'s requests
 * until unmounted. A fresh mount's first requests otherwise compile their functions from
 * source: ~17 M instructions of a first make's ~73 M in the daemon. False, with nothing
 * written, where this build cannot mount (no /dev/fuse, no permission). */
async function warmServingDaemon(store, env) {
  const dir = path.join(store, 'serving');
  for (const d of ['lower/d', 'upper', 'work', 'mnt']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'lower/d/f'), 'lower\n');
  const mnt = path.join(dir, 'mnt');
  const input = [path.join(dir, 'mount.log'), '-o', `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`, mnt].map((a) => `${a}\0`).join('');
  const child = spawn(process.execPath, [path.join(root, 'scripts/warm-cache.cjs'), path.join(out, 'daemon.cjs'), JSON.stringify([['--overlay-stdin']])], {
    env: { ...env, STRATA_WRITE_CODE_CACHE: '1' },
    stdio: ['pipe', 'ignore', 'ignore', 'pipe'],
    cwd: '/',
  });
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  // a mount that never gets ready must not hang the build: the old warm-up is used instead
  const stuck = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.stdin.end(input);
  let report = '';
  for await (const chunk of child.stdio[3]) report += chunk;
  clearTimeout(stuck);
  if (report.trim() !== 'ready') {
    await exited;
    spawnSync('fusermount3', ['-u', '-z', mnt], { stdio: 'ignore' });
    return false;
  }
  spawnSync('sh', ['-c', exercise(mnt)], { stdio: 'ignore', timeout: 30_000 });
  const u = spawnSync('fusermount3', ['-u', mnt], { stdio: 'ignore' });
  if (u.status !== 0) spawnSync('fusermount3', ['-u', '-z', mnt], { stdio: 'ignore' });
  return (await exited) === 0 && fs.existsSync(path.join(out, 'daemon.cjs.cache'));
}

// the code caches, each written on exit by a command that compiles much of its bundle and
// changes nothing outside a temporary store: for main, a `run` that gets as far as making
// the record (an image resolved, the run modules loaded, the options checked: the part of
// every `strata run` before strata-init starts, ~15 ms of compiling otherwise) and then all
// command modules and the help, in one process (scripts/warm-cache.cjs); for the daemon,
// one that served requests (warmServingDaemon), else, as for overlay, the engine (the
// daemon's start up to the mount itself)
const warmStore = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-warm-'));
try {
  const layer = path.join(warmStore, 'layer');
  fs.mkdirSync(layer);
  const store = path.join(warmStore, 'store');
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '', STRATA_EARLY_INIT: '0' };
  const imp = spawnSync(process.execPath, [path.join(out, 'main.js'), '--root', store, 'import', layer, 'warm'], { env, stdio: ['ignore', 'ignore', 'inherit'], cwd: '/' });
  if (imp.status !== 0) throw new Error(`main.js import (for the code cache's warm-up): exit ${imp.status}`);
  // the daemon as a rootless run's strata-init starts it (--overlay-stdin: its log, then
  // strata-overlay's command line on stdin), on layers that pass every check but the last:
  // its mountpoint, /, is already mounted (the options' parsing and validation compiled,
  // nothing mounted); it reports that on fd 3
  for (const d of ['lower', 'upper', 'work']) fs.mkdirSync(path.join(warmStore, d));
  const daemonInput = [path.join(warmStore, 'mount.log'), '-o', `lowerdir=${warmStore}/lower,upperdir=${warmStore}/upper,workdir=${warmStore}/work`, '/'].map((a) => `${a}\0`).join('');
  const warm = {
    // an invalid --name: refused after the image and the options, before the record
    main: { argvs: [['--root', store, 'run', '--rm', '--name', 'not a name', 'warm', 'true'], ['--help']], report: '' },
    daemon: { argvs: [['--overlay-stdin']], input: daemonInput, report: 'error mountpoint /: already mounted' },
    overlay: { argvs: [['--help']], report: '' },
  };
  for (const e of entries) {
    const file = path.join(out, `${e}.cjs.cache`);
    fs.rmSync(file, { force: true });
    if (e === 'daemon' && (await warmServingDaemon(warmStore, env))) continue;
    fs.rmSync(file, { force: true });
    const w = warm[e];
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/warm-cache.cjs'), path.join(out, `${e}.cjs`), JSON.stringify(w.argvs)], {
      env: { ...env, STRATA_WRITE_CODE_CACHE: '1' },
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
      input: w.input ?? '',
      cwd: '/',
      encoding: 'utf8',
    });
    // the run's refusal is expected, anything else on stderr is not
    const err = r.stderr.split('\n').filter((l) => l && !l.startsWith('strata: invalid container name'));
    const report = (r.output[3] ?? '').trim();
    if (err.length > 0 || report !== w.report || !fs.existsSync(file)) {
      throw new Error(`code cache of ${e}.cjs: exit ${r.status}, ${[...err, report].join('\n') || 'no cache written'}`);
    }
  }
} finally {
  fs.rmSync(warmStore, { recursive: true, force: true });
}
