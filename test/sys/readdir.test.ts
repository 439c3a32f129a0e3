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

// sys.readdirMerged: a union directory's layers merged in the addon.
function merged(t: import('ava').ExecutionContext, paths: string[], exact = paths.map(() => true)): Map<string, { type: number; ino: number; layer: number }> {
  const l = sys.readdirMerged(paths, exact);
  const names = l.types.length === 0 ? [] : l.names.toString('utf8').split('\0');
  t.is(names.length, l.types.length);
  t.is(l.inos.length, l.types.length);
  t.is(l.layers.length, l.types.length);
  const out = new Map<string, { type: number; ino: number; layer: number }>();
  names.forEach((n, i) => {
    t.false(out.has(n), `${n} listed once`);
    out.set(n, { type: l.types[i]!, ino: l.inos[i]!, layer: l.layers[i]! });
  });
  return out;
}

test('readdirMerged: the topmost of each name; char 0/0 whiteouts and .wh.NAME hide lower names; markers and whiteouts never listed', (t) => {
  const d = dir(t);
  const [top, mid, bottom] = ['top', 'mid', 'bottom'].map((n) => path.join(d, n));
  for (const l of [top, mid, bottom]) fs.mkdirSync(l!);
  fs.writeFileSync(path.join(top!, 'both'), 'top');
  fs.mkdirSync(path.join(mid!, 'both'));
  sys.mknod(path.join(top!, 'gone'), sys.S_IFCHR, sys.makedev(0, 0)); // a whiteout
  fs.writeFileSync(path.join(mid!, 'gone'), 'hidden');
  fs.writeFileSync(path.join(top!, '.wh.oci-gone'), ''); // the OCI form
  fs.writeFileSync(path.join(bottom!, 'oci-gone'), 'hidden');
  fs.writeFileSync(path.join(top!, '.wh..wh..opq'), ''); // a marker, hides no name
  sys.mknod(path.join(mid!, 'null'), sys.S_IFCHR | 0o666, sys.makedev(1, 3)); // a char device that is no whiteout
  fs.symlinkSync('both', path.join(mid!, 'link'));
  fs.writeFileSync(path.join(bottom!, 'low'), '');
  sys.mknod(path.join(mid!, 'lone-whiteout'), sys.S_IFCHR, sys.makedev(0, 0));
  fs.writeFileSync(path.join(mid!, 'oci-gone'), 'hidden'); // top's marker hides it in every layer below
  const m = merged(t, [top!, mid!, bottom!]);
  t.deepEqual([...m.keys()].sort(), ['both', 'link', 'low', 'null'].sort());
  t.deepEqual(m.get('both'), { type: sys.S_IFREG >> 12, ino: fs.lstatSync(path.join(top!, 'both')).ino, layer: 0 }, 'the top layer wins');
  t.is(m.get('null')!.type, sys.S_IFCHR >> 12);
  t.is(m.get('null')!.layer, 1);
  t.is(m.get('link')!.type, sys.S_IFLNK >> 12);
  t.is(m.get('low')!.layer, 2);
  // a .wh.NAME hides NAME below its layer, not beside it
  fs.writeFileSync(path.join(mid!, '.wh.low'), '');
  fs.writeFileSync(path.join(mid!, 'beside'), '');
  fs.writeFileSync(path.join(mid!, '.wh.beside'), '');
  const m2 = merged(t, [top!, mid!, bottom!]);
  t.false(m2.has('low'));
  t.true(m2.has('beside'));
});

test('readdirMerged: one layer is listed as it is; inode numbers only of exact layers; missing layers add nothing', (t) => {
  const d = dir(t);
  const a = path.join(d, 'a');
  const b = path.join(d, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(a, `entry-${i}`), '');
  sys.mknod(path.join(a, 'wh'), sys.S_IFCHR, sys.makedev(0, 0));
  fs.writeFileSync(path.join(a, '.wh.x'), '');
  fs.writeFileSync(path.join(a, 'ünï'), '');
  fs.writeFileSync(path.join(b, 'entry-7'), '');
  fs.writeFileSync(path.join(b, 'only-b'), '');
  const one = merged(t, [a]);
  t.is(one.size, 3001, 'every name but the whiteout and the marker');
  t.is(one.get('entry-42')!.ino, fs.lstatSync(path.join(a, 'entry-42')).ino);
  t.true(one.has('ünï'));
  const two = merged(t, [path.join(d, 'missing'), a, path.join(a, 'entry-1'), b], [true, false, true, true]);
  t.is(two.size, 3002, 'a missing dir (ENOENT) and a file (ENOTDIR) are layers without the dir');
  t.is(two.get('entry-7')!.layer, 1);
  t.is(two.get('entry-7')!.ino, -1, 'a layer not exact leaves the inode number to lstat');
  t.is(two.get('only-b')!.ino, fs.lstatSync(path.join(b, 'only-b')).ino);
  t.is(two.get('only-b')!.layer, 3);
  const none = sys.readdirMerged([], []);
  t.is(none.names.length, 0);
  t.is(none.types.length, 0);
  t.throws(() => sys.readdirMerged([a], []), { message: /one flag each/ });
});
