// One test per attack on layer extraction (and generation), each named after it: the tar is
// refused or handled safely, the error names the entry, nothing is written outside.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { makeTar, streamOf, type TarEntry } from '../helpers/images.js';
import { extractLayer, type ExtractOptions } from '../../src/image/layer-extract.js';
import { generateLayer } from '../../src/image/layer-generate.js';
import { LayerTarError } from '../../src/image/layer-errors.js';
import * as sys from '../../src/sys/index.js';

interface Arena {
  base: string;
  layer: string;
  outside: string;
}

/** A layer dir to extract into and, beside it, the outside an attack aims at. */
function arena(t: ExecutionContext): Arena {
  const base = tempDir(t, 'strata-attack-');
  const layer = path.join(base, 'layer');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(layer);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'secret\n');
  return { base, layer, outside };
}

async function extract(a: Arena, entries: TarEntry[], opts: ExtractOptions = {}) {
  return extractLayer(streamOf(await makeTar(entries)), a.layer, opts);
}

function outsideUntouched(t: ExecutionContext, a: Arena): void {
  t.deepEqual(fs.readdirSync(a.outside), ['secret']);
  t.is(fs.readFileSync(path.join(a.outside, 'secret'), 'utf8'), 'secret\n');
  t.is(fs.statSync(path.join(a.outside, 'secret')).nlink, 1);
  t.deepEqual(fs.readdirSync(a.base).sort(), ['layer', 'outside']);
}

test('dot-dot components are refused', async (t) => {
  const a = arena(t);
  for (const name of ['../outside/evil', 'a/../../outside/evil', 'a/b/../../../outside/evil']) {
    const e = await t.throwsAsync(extract(a, [{ name, content: 'pwned' }]), { instanceOf: LayerTarError });
    t.regex(e!.message, /'\.\.' component/);
    t.true(e!.message.includes(name));
  }
  outsideUntouched(t, a);
});

test('absolute paths are stripped to inside the layer', async (t) => {
  const a = arena(t);
  const abs = path.join(a.outside, 'evil');
  const r = await extract(a, [{ name: abs, content: 'inside' }]);
  t.is(fs.readFileSync(path.join(a.layer, abs), 'utf8'), 'inside');
  t.true(r.warnings.some((w) => w.includes("leading '/' stripped")));
  outsideUntouched(t, a);
});

test('symlink then write through it is refused', async (t) => {
  const a = arena(t);
  for (const target of ['../outside', a.outside]) {
    const e = await t.throwsAsync(
      extract(a, [
        { name: 'link', type: 'symlink', linkname: target },
        { name: 'link/evil', content: 'pwned' },
      ]),
      { instanceOf: LayerTarError },
    );
    t.regex(e!.message, /'link\/evil'.*'link' is a symlink/);
    fs.rmSync(a.layer, { recursive: true });
    fs.mkdirSync(a.layer);
  }
  // and a symlink to a file, then a file entry of the same name: replaced, never written through
  await extract(a, [
    { name: 'f', type: 'symlink', linkname: '../outside/secret' },
    { name: 'f', content: 'new' },
  ]);
  t.true(fs.lstatSync(path.join(a.layer, 'f')).isFile());
  outsideUntouched(t, a);
});

test('hard link pointing outside is refused', async (t) => {
  const a = arena(t);
  for (const linkname of ['../outside/secret', path.join(a.outside, 'secret'), 'etc/passwd']) {
    const e = await t.throwsAsync(extract(a, [{ name: 'hl', type: 'link', linkname }]), { instanceOf: LayerTarError });
    t.regex(e!.message, /hard link to/);
  }
  // through a symlink planted first
  const e = await t.throwsAsync(
    extract(a, [
      { name: 's', type: 'symlink', linkname: '../outside' },
      { name: 'hl2', type: 'link', linkname: 's/secret' },
    ]),
    { instanceOf: LayerTarError },
  );
  t.regex(e!.message, /hl2/);
  outsideUntouched(t, a);
  // a hard link to a file earlier in the same layer is fine
  fs.rmSync(a.layer, { recursive: true });
  fs.mkdirSync(a.layer);
  await extract(a, [{ name: 'x', content: 'x' }, { name: 'y', type: 'link', linkname: 'x' }]);
  t.is(fs.statSync(path.join(a.layer, 'x')).ino, fs.statSync(path.join(a.layer, 'y')).ino);
});

test('device nodes when not root are skipped with a warning', async (t) => {
  const a = arena(t);
  const r = await extract(a, [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }], { privileged: false });
  t.false(fs.existsSync(path.join(a.layer, 'null')));
  t.true(r.warnings.some((w) => /null: device node 1\/3 skipped/.test(w)));
  // the whiteout form (0/0) is not a device: it is made even unprivileged
  await extract(a, [{ name: 'wh', type: 'character-device', devmajor: 0, devminor: 0 }], { privileged: false });
  t.true(fs.lstatSync(path.join(a.layer, 'wh')).isCharacterDevice());
  if (process.geteuid?.() === 0) {
    await extract(a, [{ name: 'null2', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }]);
    t.is(Number(fs.lstatSync(path.join(a.layer, 'null2')).rdev), sys.makedev(1, 3));
  }
  outsideUntouched(t, a);
});

test('tar bomb beyond the size limit is refused', async (t) => {
  const a = arena(t);
  const big = Buffer.alloc(2 * 2 ** 20, 0x61);
  const e = await t.throwsAsync(extract(a, [{ name: 'small', content: 'x' }, { name: 'bomb', content: big }], { maxBytes: 2 ** 20 }), {
    instanceOf: LayerTarError,
  });
  t.regex(e!.message, /'bomb'.*tar bomb/);
  const many = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, content: '' }));
  const e2 = await t.throwsAsync(extract(a, many, { maxEntries: 20 }), { instanceOf: LayerTarError });
  t.regex(e2!.message, /more than 20 entries/);
  outsideUntouched(t, a);
});

test('duplicate entries: the later replaces the earlier, never writing through it', async (t) => {
  const a = arena(t);
  const r = await extract(a, [
    { name: 'dup', type: 'symlink', linkname: '../outside/secret' },
    { name: 'dup', content: 'second' },
    { name: 'd/', type: 'directory' },
    { name: 'd/child', content: 'c' },
    { name: 'd/', type: 'directory', mode: 0o700 },
    { name: 'f', content: 'file' },
    { name: 'f/', type: 'directory' },
    { name: 'g/', type: 'directory' },
    { name: 'g/sub/', type: 'directory' },
    { name: 'g', content: 'now a file' },
  ]);
  t.is(fs.readFileSync(path.join(a.layer, 'g'), 'utf8'), 'now a file');
  t.is(fs.readFileSync(path.join(a.layer, 'dup'), 'utf8'), 'second');
  t.true(fs.lstatSync(path.join(a.layer, 'dup')).isFile());
  // a directory declared twice keeps its contents, takes the later mode
  t.is(fs.readFileSync(path.join(a.layer, 'd/child'), 'utf8'), 'c');
  t.is(fs.statSync(path.join(a.layer, 'd')).mode & 0o777, 0o700);
  t.true(fs.statSync(path.join(a.layer, 'f')).isDirectory());
  t.true(r.warnings.some((w) => w.includes('duplicate entry')));
  outsideUntouched(t, a);
});

test('whiteout for a name that does not exist hides nothing and touches nothing', async (t) => {
  const a = arena(t);
  await extract(a, [{ name: '.wh.nothere', content: '' }, { name: 'sub/.wh.gone', content: '' }]);
  const st = sys.lstat(path.join(a.layer, 'nothere'));
  t.true(sys.isChr(st.mode));
  t.is(Number(st.rdev), 0);
  t.true(sys.isChr(sys.lstat(path.join(a.layer, 'sub/gone')).mode));
  // a whiteout through a symlink would delete outside in a flattening extractor: refused
  const e = await t.throwsAsync(
    extract(a, [
      { name: 'esc', type: 'symlink', linkname: '../outside' },
      { name: 'esc/.wh.secret', content: '' },
    ]),
    { instanceOf: LayerTarError },
  );
  t.regex(e!.message, /esc\/\.wh\.secret.*symlink/);
  // impossible whiteout names
  for (const name of ['.wh...', 'x/.wh..', '.wh.']) await t.throwsAsync(extract(a, [{ name, content: '' }]), { instanceOf: LayerTarError });
  outsideUntouched(t, a);
});

test('user file named like a whiteout is refused both ways', async (t) => {
  const a = arena(t);
  // dir -> tar: a .wh. file with data would turn into a deletion in the tar
  const upper = path.join(a.base, 'upper');
  fs.mkdirSync(path.join(upper, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'dir/.wh.foo'), 'my data');
  const tarStream = generateLayer(upper);
  const e = await t.throwsAsync(
    new Promise((resolve, reject) => {
      tarStream.on('error', reject);
      tarStream.on('end', resolve);
      tarStream.resume();
    }),
    { instanceOf: LayerTarError },
  );
  t.regex(e!.message, /dir\/\.wh\.foo.*named like a whiteout/);
  fs.rmSync(upper, { recursive: true });
  // tar -> dir: a directory (or link) named like a whiteout
  for (const entries of [
    [{ name: 'dir/.wh.foo/', type: 'directory' as const }],
    [{ name: 'dir/.wh.foo', type: 'symlink' as const, linkname: '../../outside/secret' }],
  ]) {
    const e2 = await t.throwsAsync(extract(a, entries), { instanceOf: LayerTarError });
    t.regex(e2!.message, /named like a whiteout/);
  }
  outsideUntouched(t, a);
});

test('overlay xattrs in a tar are dropped, never steering the mount', async (t) => {
  const a = arena(t);
  const r = await extract(a, [
    { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.user.overlay.opaque': 'y' } },
  ]);
  t.is(sys.lgetxattrIfExists(path.join(a.layer, 'd'), 'trusted.overlay.redirect'), undefined);
  t.is(sys.lgetxattrIfExists(path.join(a.layer, 'd'), 'user.overlay.opaque'), undefined);
  t.true(r.warnings.some((w) => w.includes('overlay metadata is never taken from a tar')));
  outsideUntouched(t, a);
});

test('whiteout then the same name as a directory in one layer becomes an opaque directory', async (t) => {
  const a = arena(t);
  await extract(a, [{ name: '.wh.d', content: '' }, { name: 'd/x', content: 'x' }, { name: '.wh.e', content: '' }, { name: 'e/', type: 'directory' }]);
  const opaque = process.geteuid?.() === 0 ? 'trusted.overlay.opaque' : 'user.overlay.opaque';
  for (const d of ['d', 'e']) {
    t.true(fs.statSync(path.join(a.layer, d)).isDirectory());
    t.is(sys.lgetxattr(path.join(a.layer, d), opaque).toString(), 'y', d);
  }
  t.is(fs.readFileSync(path.join(a.layer, 'd/x'), 'utf8'), 'x');
  outsideUntouched(t, a);
});
