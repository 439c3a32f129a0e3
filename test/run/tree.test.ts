import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';
import { removeTree } from '../../src/run/tree.js';

function container(dir: string): void {
  for (const d of ['upper/etc', 'upper/a/b/c', 'work/work', 'rootfs']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  for (const f of ['config.json', 'state.json', 'exit', 'hosts', 'upper/etc/hosts', 'upper/a/b/c/deep']) fs.writeFileSync(path.join(dir, f), 'x\n');
}

test('removeTree removes a container dir: nested dirs, files, fifos and whiteouts alike', (t) => {
  const dir = path.join(tempDir(t, 'strata-runpath-tree-'), 'c');
  container(dir);
  fs.symlinkSync('nowhere', path.join(dir, 'upper/dangling'));
  t.is(spawnSync('mkfifo', [path.join(dir, 'upper/fifo')]).status, 0);
  if (process.getuid?.() === 0) {
    fs.mkdirSync(path.join(dir, 'upper/sealed'), { mode: 0 });
    t.is(spawnSync('mknod', [path.join(dir, 'upper/etc/gone'), 'c', '0', '0']).status, 0);
  }
  removeTree(dir);
  t.false(fs.existsSync(dir));
});

test('removeTree unlinks symlinks and never follows them (a container may point one at the host)', (t) => {
  const base = tempDir(t, 'strata-runpath-tree-');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'host data');
  const dir = path.join(base, 'c');
  container(dir);
  fs.symlinkSync(outside, path.join(dir, 'upper/etc/to-host'));
  fs.symlinkSync(path.join(outside, 'keep'), path.join(dir, 'upper/file-link'));
  removeTree(dir);
  t.false(fs.existsSync(dir));
  t.is(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'host data');
});

test('removeTree of a missing path is a no-op, of a file removes the file', (t) => {
  const base = tempDir(t, 'strata-runpath-tree-');
  t.notThrows(() => removeTree(path.join(base, 'none')));
  fs.writeFileSync(path.join(base, 'f'), '');
  removeTree(path.join(base, 'f'));
  t.false(fs.existsSync(path.join(base, 'f')));
});

test('removeTree empties directories a non-root owner left without write permission', (t) => {
  // as that owner: root would write into them anyway
  const base = tempDir(t, 'strata-runpath-tree-');
  const dir = path.join(base, 'c');
  container(dir);
  const owner = process.getuid?.() === 0 ? 65534 : process.getuid!();
  if (owner === 65534) spawnSync('chown', ['-R', '65534:65534', base]);
  fs.chmodSync(base, 0o755);
  fs.chmodSync(path.join(dir, 'upper/a/b'), 0o500);
  fs.chmodSync(path.join(dir, 'upper/a'), 0o500);
  const tree = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/run/tree.js');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `(await import(${JSON.stringify(tree)})).removeTree(${JSON.stringify(dir)})`], {
    uid: owner,
    gid: owner === 65534 ? 65534 : process.getgid!(),
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  t.false(fs.existsSync(dir));
});
