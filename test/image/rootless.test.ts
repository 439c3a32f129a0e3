// Extraction and generation as an unprivileged user (root runs them as nobody): owners that
// cannot be chowned are recorded in user.containers.override_stat and come back into the
// tar; opaque dirs take the user.overlay.* form; device nodes are skipped.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir } from '../helpers/tmp.js';
import { distDir } from '../helpers/daemon.js';
import { makeTar } from '../helpers/images.js';
import * as sys from '../../src/sys/index.js';

const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;

(asRoot ? test : test.skip)('rootless extraction records owners in override_stat and writes them back', async (t) => {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o755);
  const layer = path.join(dir, 'layer');
  fs.mkdirSync(layer);
  fs.chownSync(layer, NOBODY, NOBODY);
  const tarFile = path.join(dir, 'layer.tar');
  fs.writeFileSync(
    tarFile,
    await makeTar([
      { name: 'owned', content: 'o', uid: 1234, gid: 5678, mode: 0o4750 },
      { name: 'mine', content: 'm', uid: NOBODY, gid: NOBODY },
      { name: 'opq/', type: 'directory' },
      { name: 'opq/.wh..wh..opq', content: '' },
      { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: '.wh.gone', content: '' },
    ]),
  );
  const script = path.join(dir, 'rootless.mjs');
  fs.writeFileSync(
    script,
    `import fs from 'node:fs';
     import { createRequire } from 'node:module';
     const tar = createRequire(${JSON.stringify(path.join(distDir, '..', 'package.json'))})('tar-stream');
     import { extractLayer } from ${JSON.stringify(path.join(distDir, 'src/image/layer-extract.js'))};
     import { generateLayer } from ${JSON.stringify(path.join(distDir, 'src/image/layer-generate.js'))};
     const r = await extractLayer(fs.createReadStream(process.argv[2]), process.argv[3]);
     const x = tar.extract();
     generateLayer(process.argv[3]).pipe(x);
     const headers = {};
     for await (const e of x) { headers[e.header.name] = { uid: e.header.uid, gid: e.header.gid, mode: e.header.mode }; e.resume(); }
     console.log(JSON.stringify({ warnings: r.warnings, headers }));`,
  );
  const r = spawnSync(process.execPath, [script, tarFile, layer], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: path.join(distDir, '..') });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { warnings: string[]; headers: Record<string, { uid: number; gid: number; mode: number }> };
  const owned = sys.lstat(path.join(layer, 'owned'));
  t.is(owned.uid, NOBODY);
  t.is(sys.lgetxattr(path.join(layer, 'owned'), 'user.containers.override_stat').toString(), '1234:5678:04750');
  t.is(sys.lgetxattrIfExists(path.join(layer, 'mine'), 'user.containers.override_stat'), undefined, 'own ids need no record');
  t.is(sys.lgetxattr(path.join(layer, 'opq'), 'user.overlay.opaque').toString(), 'y');
  t.is(sys.lgetxattrIfExists(path.join(layer, 'opq'), 'trusted.overlay.opaque'), undefined);
  t.false(fs.existsSync(path.join(layer, 'null')));
  t.true(sys.isChr(sys.lstat(path.join(layer, 'gone')).mode), 'whiteouts are made unprivileged (Linux >= 5.8)');
  t.true(out.warnings.some((w) => w.includes('override_stat')));
  t.true(out.warnings.some((w) => w.includes('device node 1/3 skipped')));
  t.deepEqual(out.headers.owned, { uid: 1234, gid: 5678, mode: 0o4750 });
  t.deepEqual(out.headers.mine, { uid: NOBODY, gid: NOBODY, mode: 0o644 });
  t.truthy(out.headers['opq/.wh..wh..opq']);
  t.truthy(out.headers['.wh.gone']);
});
