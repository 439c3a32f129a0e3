// The image commands end to end, through the strata binary, on a temp store.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir } from '../helpers/tmp.js';
import { distDir } from '../helpers/daemon.js';
import { busyboxRootfs } from '../helpers/images.js';

const main = path.join(distDir, 'src/cli/main.js');

function strata(root: string, ...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [main, '--root', root, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function ok(root: string, ...args: string[]): string {
  const r = strata(root, ...args);
  if (r.code !== 0) throw new Error(`strata ${args.join(' ')} failed (${r.code}): ${r.err}`);
  return r.out;
}

test('import, images, history, inspect, tag, save, load, rmi, prune', (t) => {
  const dir = tempDir(t);
  const root = path.join(dir, 'store');
  const id = ok(root, 'import', busyboxRootfs(), 'bb:1').trim();
  t.regex(id, /^sha256:[0-9a-f]{64}$/);
  ok(root, 'tag', 'bb:1', 'other');
  const rows = JSON.parse(ok(root, 'images', '--json')) as { repository: string; tag: string; id: string }[];
  t.deepEqual(rows.map((r) => `${r.repository}:${r.tag}`).sort(), ['bb:1', 'other:latest']);
  t.true(rows.every((r) => r.id === id));
  const table = ok(root, 'images');
  t.regex(table, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
  t.regex(table, new RegExp(`bb\\s+1\\s+${id.slice(7, 19)}`));
  t.regex(ok(root, 'history', 'bb:1'), /strata import rootfs\s+1\.9\dMB\s+imported/);
  t.is((JSON.parse(ok(root, 'history', '--json', 'bb:1')) as unknown[]).length, 1);
  const info = JSON.parse(ok(root, 'inspect', 'other')) as { Id: string; RepoTags: string[]; LayerDirs: string[] }[];
  t.is(info[0]!.Id, id);
  t.deepEqual(info[0]!.RepoTags.sort(), ['bb:1', 'other:latest']);
  t.true(fs.existsSync(path.join(info[0]!.LayerDirs[0]!, 'bin/busybox')));
  const archive = path.join(dir, 'bb.tar');
  ok(root, 'save', 'bb:1', '-o', archive, '--format', 'docker');
  t.is(ok(root, 'rmi', 'bb:1'), 'Untagged: bb:1\n');
  t.regex(ok(root, 'rmi', 'other'), /Untagged: other:latest\nDeleted: sha256:/);
  t.deepEqual(JSON.parse(ok(root, 'images', '--json')), []);
  const pruned = JSON.parse(ok(root, 'prune', '--json')) as { blobs: number; layers: number };
  t.deepEqual([pruned.blobs, pruned.layers], [3, 1]);
  t.is(ok(root, 'load', '-i', archive), 'Loaded image: bb:1\n');
  t.is(ok(root, 'images', '-q'), `${id.slice(7, 19)}\n`);
});

test('failures are one line naming the culprit, with a non-zero exit', (t) => {
  const root = path.join(tempDir(t), 'store');
  for (const [args, re] of [
    [['history', 'nosuch'], /^strata: image 'nosuch' not found in /],
    [['rmi', 'nosuch:1'], /^strata: image 'nosuch:1' not found/],
    [['import', '/nonexistent/dir', 'x'], /^strata: \/nonexistent\/dir: no such file or directory/],
    [['tag', 'a', 'b'], /^strata: image 'a' not found/],
    [['load', '-i', '/nonexistent.tar'], /^strata: \/nonexistent\.tar: no such file/],
  ] as const) {
    const r = strata(root, ...args);
    t.not(r.code, 0, args.join(' '));
    t.regex(r.err, re);
    t.is(r.err.trim().split('\n').length, 1, r.err);
  }
});

test('every image command has --help', (t) => {
  const root = path.join(tempDir(t), 'store');
  for (const c of ['import', 'save', 'load', 'images', 'history', 'inspect', 'tag', 'rmi', 'prune']) {
    const r = strata(root, c, '--help');
    t.is(r.code, 0, c);
    t.regex(r.out, new RegExp(`strata ${c}`), c);
  }
});

test('progress bars on a terminal only', (t) => {
  const dir = tempDir(t);
  const root = path.join(dir, 'store');
  ok(root, 'import', busyboxRootfs(), 'bb');
  const quiet = strata(root, 'save', 'bb', '-o', path.join(dir, 'a.tar'));
  t.is(quiet.err, '');
  t.is(quiet.out, '');
  // util-linux's script(1) gives the command a terminal
  const cmd = [process.execPath, main, '--root', root, 'save', 'bb', '-o', path.join(dir, 'b.tar')].map((s) => `'${s}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /saving \[#+ *\] \d+\.\d MiB \/ \d+\.\d MiB/);
  t.true(fs.existsSync(path.join(dir, 'b.tar')));
});
