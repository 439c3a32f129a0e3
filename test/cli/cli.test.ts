// The strata command as users meet it: help, version, and a global install.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distDir, repoRoot, sh } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const strata = `${process.execPath} ${path.join(distDir, 'src/cli/main.js')}`;

test('package.json\'s bins are the CommonJS stubs that run the bundles, requiring only their loader and node built-ins', (t) => {
  // strata's first starts a foreground run's strata-init (src/run/early-init.ts, a bundle of its own)
  for (const [bin, bundle, first] of [['strata', 'main.cjs', ['./early-init.cjs']], ['strata-overlay', 'overlay.cjs', []]] as const) {
    const stub = path.resolve(repoRoot, pkg.bin[bin]!);
    t.is(stub, path.join(distDir, 'src/cli', `${bin}.cjs`));
    const src = fs.readFileSync(stub, 'utf8');
    const required = [...src.matchAll(/\brequire\(["']([^"']+)["']\)/g)].map((m) => m[1]!);
    t.deepEqual(required.filter((r) => !builtinModules.includes(r.replace(/^node:/, ''))), [...first, './bundle-loader.cjs'], bin);
    t.true(src.includes(`'${bundle}'`), bin);
    t.notRegex(src, /^import /m, bin);
  }
});

for (const bin of ['strata.cjs', 'strata-overlay.cjs']) {
  test(`${bin} --version runs its bundle with no ES module of dist/ loaded`, (t) => {
    const trace = path.join(tempDir(t), 'loaded');
    const r = spawnSync(process.execPath, ['--import', path.join(distDir, 'test/fixtures/load-trace.js'), path.join(distDir, 'src/cli', bin), '--version'], {
      encoding: 'utf8',
      env: { ...process.env, STRATA_LOAD_TRACE: trace },
    });
    t.is(r.status, 0, r.stderr);
    t.true(r.stdout.trim().endsWith(pkg.version), r.stdout);
    const urls = fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean) : [];
    // with --import node hands the main entry to the ES module loader too (as CommonJS)
    t.deepEqual(urls.filter((u) => u.startsWith(pathToFileURL(path.join(distDir, 'src')).href)), [pathToFileURL(path.join(distDir, 'src/cli', bin)).href]);
  });
}

test('strata --help lists the commands and the global options', (t) => {
  const r = sh(`${strata} --help`);
  t.regex(r.out, /^strata <command> \[options\]/);
  t.regex(r.out, /strata umount <mountpoint>/);
  t.regex(r.out, /--root/);
  t.regex(r.out, /--version/);
});

test('strata --version prints the package version', (t) => {
  t.is(sh(`${strata} --version`).out, `${pkg.version}\n`);
  t.is(sh(`${strata} -v`).out, `${pkg.version}\n`);
});

test('after a command, -v is the command\'s own: run -v HOSTDIR:DIR is a volume, not --version', (t) => {
  const root = path.join(tempDir(t), 'root');
  const r = sh(`${strata} --root ${root} run --rm -v /srv:/data nosuch-image true`, { allowFail: true });
  t.not(r.code, 0);
  t.regex(r.err, /image 'nosuch-image' not found/, 'the volume took its value; the image is the next word');
  t.regex(sh(`${strata} run --help`).out, /-v, --volume +bind HOSTDIR:DIR/);
});

test('help printed after a usage error is wrapped as --help is (yargs renders it unwrapped for handlers)', (t) => {
  const asked = sh(`${strata} run --help`).out;
  const r = sh(`${strata} run`, { allowFail: true });
  t.is(r.code, 2);
  t.is(r.err, `strata: Not enough non-option arguments: got 0, need at least 1\n\n${asked}`);
});

test('strata umount --help describes its argument and --lazy', (t) => {
  const r = sh(`${strata} umount --help`);
  t.regex(r.out, /^strata umount <mountpoint>/);
  t.regex(r.out, /--lazy/);
});

/** The files under dist/src/ that `strata ARGS` loads, relative to dist/src/: tsc's main.js,
 * kept beside the bundle as main.unbundled.js (scripts/bundle.mjs), whose lazy import()s
 * the bundle keeps: what is not loaded here is not evaluated there. */
function loadedSources(t: ExecutionContext, args: string[]): { code: number | null; sources: string[] } {
  const trace = path.join(tempDir(t), 'loaded');
  const r = spawnSync(process.execPath, ['--import', path.join(distDir, 'test/fixtures/load-trace.js'), path.join(distDir, 'src/cli/main.unbundled.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, STRATA_LOAD_TRACE: trace },
  });
  const src = pathToFileURL(path.join(distDir, 'src')).href + '/';
  const urls = fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').split('\n') : [];
  return { code: r.status, sources: urls.filter((u) => u.startsWith(src)).map((u) => u.slice(src.length)) };
}

// start-up time: the engine, the native addon and the store load only in a command's
// handler, and only the invoked command's module loads (all of them for the global help)
const allCommandModules = fs.readdirSync(path.join(distDir, 'src/cli/commands')).filter((f) => f.endsWith('.js')).map((f) => `cli/commands/${f}`).sort();
for (const [args, modules] of [
  [['--version'], []],
  [['--help'], allCommandModules],
  [['mount', '--help'], ['cli/commands/mount.js']],
  [['explain', '--help'], ['cli/commands/explain.js']],
  [['--root', '/nonexistent', 'unmount', '--help'], ['cli/commands/umount.js']],
  [['bogus'], allCommandModules],
] as const) {
  test(`strata ${args.join(' ')} loads only the command line's own modules, and ${modules.length === 1 ? modules[0] : `${modules.length} command modules`}`, (t) => {
    const { code, sources } = loadedSources(t, [...args]);
    t.is(code, args[0] === 'bogus' ? 2 : 0);
    t.true(sources.includes('cli/app.js'), 'the trace saw the CLI');
    t.deepEqual(
      // extra-ca.js: main.ts's first step; run/programs.js: how daemon-spawn.ts starts the
      // early daemon; run/early-init.js (with helper.js, root.js): a foreground run's early
      // strata-init; node built-ins only
      sources.filter((s) => !s.startsWith('cli/') && !['errors.js', 'registry/extra-ca.js', 'run/programs.js', 'run/early-init.js', 'run/helper.js', 'run/root.js'].includes(s)),
      [],
    );
    t.deepEqual(sources.filter((s) => s.startsWith('cli/commands/')).sort(), [...modules]);
    t.false(sources.includes('cli/daemon.js'));
  });
}

// the programs node starts are bundles (scripts/bundle.mjs), run by a stub with their code
// cache: nothing else under dist/src loads, whatever runs
for (const [bin, args] of [
  ['main.js', ['--version']],
  ['main.js', ['--root', '/nonexistent', 'mount', '--help']],
  ['overlay.js', ['--version']],
] as const) {
  test(`${bin} ${args.join(' ')} runs its bundle: it loads no other module under dist/src`, (t) => {
    const trace = path.join(tempDir(t), 'loaded');
    const r = spawnSync(process.execPath, ['--import', path.join(distDir, 'test/fixtures/load-trace.js'), path.join(distDir, 'src/cli', bin), ...args], {
      encoding: 'utf8',
      env: { ...process.env, STRATA_LOAD_TRACE: trace },
    });
    t.is(r.status, 0, r.stderr);
    const urls = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    t.deepEqual(
      urls.filter((u) => !u.startsWith('node:')),
      [bin, 'bundle-loader.js'].map((f) => pathToFileURL(path.join(distDir, 'src/cli', f)).href),
    );
  });
}

test('the bundles require node built-ins only (yargs, tar-stream and lru-cache are inside)', (t) => {
  for (const bin of ['main.cjs', 'daemon.cjs', 'overlay.cjs', 'early-init.cjs']) {
    const src = fs.readFileSync(path.join(distDir, 'src/cli', bin), 'utf8');
    const required = [...src.matchAll(/\brequire\(["']([^"']+)["']\)/g)].map((m) => m[1]!);
    t.true(required.length > 0, bin);
    t.deepEqual(required.filter((r) => !builtinModules.includes(r.replace(/^node:/, ''))), [], bin);
    t.notRegex(src, /^import /m, bin);
  }
});

test('every entry of the command list names its module\'s command and aliases', async (t) => {
  const { commands } = (await import(pathToFileURL(path.join(distDir, 'src/cli/commands.js')).href)) as typeof import('../../src/cli/commands.js');
  const names = new Set<string>();
  for (const c of commands) {
    const m = await c.load();
    const command = [m.command].flat()[0]!;
    t.is(command.split(' ')[0], c.name);
    t.deepEqual([m.aliases ?? []].flat(), c.aliases ?? []);
    t.false(names.has(c.name));
    names.add(c.name);
  }
  t.is(commands.length, 26);
});

test('strata with no command fails with a hint', (t) => {
  const r = sh(strata, { allowFail: true });
  t.is(r.code, 2);
  t.regex(r.err, /name a command/);
});

// yargs' own messages: pinned so that a change of yargs (17 <-> 18) cannot change them unseen
for (const [args, line, usage] of [
  ['mount', 'Not enough non-option arguments: got 0, need at least 1', 'strata mount <mountpoint>'],
  ['mount a b', 'Unknown argument: b', 'strata mount <mountpoint>'],
  ['tag a', 'Not enough non-option arguments: got 1, need at least 2', 'strata tag <source> <target>'],
  ['images --bogus', 'Unknown argument: bogus', 'strata images'],
  ['mont x', 'Did you mean mount?', 'strata <command> [options]'],
] as const) {
  test(`bad usage \`strata ${args}\` is one error line, then the usage, exit 2`, (t) => {
    const r = sh(`${strata} ${args}`, { allowFail: true });
    t.is(r.code, 2);
    t.is(r.out, '');
    const lines = r.err.split('\n');
    t.is(lines[0], `strata: ${line}`);
    t.is(lines[1], '');
    t.is(lines[2], usage);
  });
}

test('a global install into a temp prefix yields a working strata', (t) => {
  t.timeout(120_000);
  const prefix = tempDir(t, 'strata-prefix-');
  // --prefix keeps the machine's real global prefix untouched
  sh(`npm install -g --prefix ${prefix} --no-audit --no-fund --ignore-scripts ${repoRoot}`, { cwd: prefix });
  const bin = path.join(prefix, 'bin/strata');
  t.true(fs.existsSync(bin));
  t.is(sh(`${bin} --version`, { cwd: '/' }).out, `${pkg.version}\n`);
  t.regex(sh(`PATH=${prefix}/bin:$PATH strata umount --help`, { cwd: '/' }).out, /strata umount <mountpoint>/);
});
