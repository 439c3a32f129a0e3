// A full disk during an import, through the CLI: the store is on a 1 MiB tmpfs and the
// busybox rootfs is 2 MiB. One error line, a non-zero exit, and no blob, layer dir, index
// entry or temp file left half written.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { distDir } from '../helpers/daemon.js';
import { busyboxRootfs } from '../helpers/images.js';
import { tempDir } from '../helpers/tmp.js';

const root = process.geteuid?.() === 0;

/** every regular file under dir, relative */
function files(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

(root ? test : test.skip)('import into a store whose disk fills up: one error line, exit 1, nothing half written', (t) => {
  const dir = tempDir(t, 'strata-full-');
  const disk = path.join(dir, 'disk');
  fs.mkdirSync(disk);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`mount tmpfs: ${m.stderr}`);
  t.teardown(() => void spawnSync('umount', ['-l', disk]));
  const store = path.join(disk, 'root');
  const r = spawnSync(process.execPath, [path.join(distDir, 'src/cli/main.js'), '--root', store, 'import', busyboxRootfs(), 'busybox'], { encoding: 'utf8' });
  t.is(r.status, 1);
  t.regex(r.stderr, /^strata: .*(ENOSPC|no space left)[^\n]*\n$/i);
  t.deepEqual(files(store).sort(), ['index.json', 'oci-layout'], 'no blob, layer, ingest or temp file left');
  t.deepEqual((JSON.parse(fs.readFileSync(path.join(store, 'index.json'), 'utf8')) as { manifests: unknown[] }).manifests, []);
  t.deepEqual(fs.readdirSync(path.join(store, 'layers')), []);
});
