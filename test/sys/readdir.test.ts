// sys.readdirInos (the addon's one getdents walk): names, d_type and d_ino as lstat shows
// them, an empty directory as no entries, and its failures as SysErrors.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';

function dir(t: import('ava').ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-rv-dir-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('every entry but . and .., with its d_type and the st_ino lstat shows', (t) => {
  const d = dir(t);
  fs.writeFileSync(path.join(d, 'file'), 'x');
  fs.mkdirSync(path.join(d, 'sub'));
  fs.symlinkSync('file', path.join(d, 'link'));
  fs.writeFileSync(path.join(d, 'ünï'), '');
  const l = sys.readdirInos(d);
  t.is(l.types.length, l.names.length);
  t.is(l.inos.length, l.names.length);
  t.deepEqual([...l.names].sort(), ['file', 'link', 'sub', 'ünï'].sort());
  l.names.forEach((name, i) => {
    const st = fs.lstatSync(path.join(d, name));
    t.is(l.inos[i], st.ino, `${name}: d_ino`);
    // DT_* is S_IF* >> 12 (0 when the filesystem leaves d_type unknown)
    if (l.types[i] !== 0) t.is(l.types[i], (st.mode & sys.S_IFMT) >> 12, `${name}: d_type`);
  });
});

test('an empty directory has no entries; a missing one or a file throws ENOENT or ENOTDIR', (t) => {
  const d = dir(t);
  const l = sys.readdirInos(d);
  t.deepEqual(l.names, []);
  t.is(l.types.length, 0);
  t.is(l.inos.length, 0);
  t.true(sys.hasErrno(t.throws(() => sys.readdirInos(path.join(d, 'missing'))), sys.E.ENOENT));
  fs.writeFileSync(path.join(d, 'f'), '');
  t.true(sys.hasErrno(t.throws(() => sys.readdirInos(path.join(d, 'f'))), sys.E.ENOTDIR));
});
