// Overlay-format dir -> layer tar -> dir keeps what a layer must: whiteouts, opaque dirs,
// hard links, xattrs, ns mtimes, owners, modes; and the tar is in OCI's `.wh.` form.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';
import { tempDir } from '../helpers/tmp.js';
import { treeListing } from '../helpers/images.js';
import { sh } from '../helpers/daemon.js';
import { generateLayer } from '../../src/image/layer-generate.js';
import { extractLayer } from '../../src/image/layer-extract.js';
import { HashingStream } from '../../src/image/digest.js';
import { makeWhiteout } from '../../src/image/overlay-format.js';
import { PaxXattrTap } from '../../src/image/pax-raw.js';
import * as sys from '../../src/sys/index.js';

const asRoot = process.geteuid?.() === 0;

function upperDir(base: string): string {
  const u = path.join(base, 'upper');
  fs.mkdirSync(path.join(u, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(u, 'bin/tool'), 'tool');
  fs.chmodSync(path.join(u, 'bin/tool'), 0o755);
  fs.linkSync(path.join(u, 'bin/tool'), path.join(u, 'bin/tool-link'));
  fs.symlinkSync('tool', path.join(u, 'bin/sym'));
  fs.writeFileSync(path.join(u, 'owned'), 'o');
  if (asRoot) {
    sys.lchown(path.join(u, 'owned'), 1234, 5678);
    fs.chmodSync(path.join(u, 'owned'), 0o4750);
  }
  sys.lutimens(path.join(u, 'owned'), 1_600_000_000, 123_456_789, 1_600_000_001, 987_654_321);
  fs.mkdirSync(path.join(u, 'opaque-x'));
  fs.writeFileSync(path.join(u, 'opaque-x/kept'), 'k');
  sys.lsetxattr(path.join(u, 'opaque-x'), asRoot ? 'trusted.overlay.opaque' : 'user.overlay.opaque', Buffer.from('y'));
  fs.mkdirSync(path.join(u, 'opaque-f'));
  fs.writeFileSync(path.join(u, 'opaque-f/.wh..wh..opq'), '');
  makeWhiteout(path.join(u, 'gone'));
  fs.writeFileSync(path.join(u, '.wh.gone-too'), '');
  sys.mknod(path.join(u, 'fifo'), sys.S_IFIFO | 0o644, 0);
  sys.lsetxattr(path.join(u, 'owned'), 'user.comment', Buffer.from('héllo'));
  sys.lsetxattr(path.join(u, 'owned'), 'user.binary', Buffer.from([0xff, 0x00, 0xfe]));
  sys.lsetxattr(path.join(u, 'bin'), 'user.overlay.origin', Buffer.from('private'));
  return u;
}

async function tarEntries(src: NodeJS.ReadableStream): Promise<{ name: string; type: string; linkname: string | null; pax: Record<string, string> }[]> {
  const out: { name: string; type: string; linkname: string | null; pax: Record<string, string> }[] = [];
  const x = tar.extract();
  src.pipe(x as unknown as NodeJS.WritableStream);
  for await (const e of x) {
    out.push({ name: e.header.name, type: e.header.type, linkname: e.header.linkname, pax: (e.header.pax ?? {}) as Record<string, string> });
    e.resume();
  }
  return out;
}

test('layer tar uses the OCI whiteout form, tar links, PAX xattrs and ns mtimes', async (t) => {
  const u = upperDir(tempDir(t));
  const entries = await tarEntries(generateLayer(u));
  const byName = new Map(entries.map((e) => [e.name, e]));
  t.true(byName.has('.wh.gone'));
  t.true(byName.has('.wh.gone-too'));
  t.true(byName.has('opaque-x/.wh..wh..opq'));
  t.true(byName.has('opaque-f/.wh..wh..opq'));
  t.is(byName.get('bin/tool-link')?.type, 'link');
  t.is(byName.get('bin/tool-link')?.linkname, 'bin/tool');
  t.is(byName.get('owned')?.pax['SCHILY.xattr.user.comment'], 'héllo');
  // binary values travel raw in SCHILY.xattr (as docker writes security.capability)
  const tap = new PaxXattrTap();
  const raw = new Map<string, Map<string, Buffer>>();
  const x = tar.extract();
  generateLayer(u).pipe(tap).pipe(x as unknown as NodeJS.WritableStream);
  for await (const e of x) {
    raw.set(e.header.name, tap.next());
    e.resume();
  }
  t.deepEqual([...(raw.get('owned')?.get('user.binary') ?? [])], [0xff, 0x00, 0xfe]);
  t.is(raw.get('owned')?.get('user.comment')?.toString(), 'héllo');
  t.is(byName.get('owned')?.pax.mtime, '1600000001.987654321');
  t.false(entries.some((e) => Object.keys(e.pax).some((k) => k.includes('overlay'))), 'private xattrs stay out');
  t.false(byName.has('gone'), 'the whiteout device itself is not in the tar');
});

test('dir -> tar -> dir round trip keeps the overlay format and metadata', async (t) => {
  const base = tempDir(t);
  const u = upperDir(base);
  const out = path.join(base, 'out');
  fs.mkdirSync(out);
  const r = await extractLayer(generateLayer(u), out);
  t.deepEqual(r.warnings, []);
  const wh = sys.lstat(path.join(out, 'gone'));
  t.true(sys.isChr(wh.mode) && Number(wh.rdev) === 0);
  t.true(sys.isChr(sys.lstat(path.join(out, 'gone-too')).mode), '.wh. file became a char 0/0 whiteout');
  const opaqueName = asRoot ? 'trusted.overlay.opaque' : 'user.overlay.opaque';
  t.is(sys.lgetxattr(path.join(out, 'opaque-x'), opaqueName).toString(), 'y');
  t.is(sys.lgetxattr(path.join(out, 'opaque-f'), opaqueName).toString(), 'y');
  t.false(fs.existsSync(path.join(out, 'opaque-f/.wh..wh..opq')), 'no marker files the kernel would show');
  t.is(fs.statSync(path.join(out, 'bin/tool')).ino, fs.statSync(path.join(out, 'bin/tool-link')).ino);
  const owned = sys.lstat(path.join(out, 'owned'));
  t.is(owned.mtime, 1_600_000_001);
  t.is(owned.mtimeNsec, 987_654_321);
  if (asRoot) {
    t.is(owned.uid, 1234);
    t.is(owned.gid, 5678);
    t.is(owned.mode & 0o7777, 0o4750);
  }
  t.deepEqual([...sys.lgetxattr(path.join(out, 'owned'), 'user.binary')], [0xff, 0x00, 0xfe]);
  t.is(sys.lgetxattr(path.join(out, 'owned'), 'user.comment').toString(), 'héllo');
  t.is(sys.lgetxattrIfExists(path.join(out, 'bin'), 'user.overlay.origin'), undefined);
  t.true((fs.lstatSync(path.join(out, 'fifo')).mode & sys.S_IFMT) === sys.S_IFIFO);
  t.is(fs.readlinkSync(path.join(out, 'bin/sym')), 'tool');
});

test('the same tree gives the same tar (diff_id) every time', async (t) => {
  const base = tempDir(t);
  const u = upperDir(base);
  const digest = async (dir: string): Promise<string> => {
    const h = new HashingStream();
    await new Promise((resolve, reject) => generateLayer(dir).pipe(h).on('finish', resolve).on('error', reject).resume());
    return h.digest;
  };
  t.is(await digest(u), await digest(u));
  // an extracted layer is a fixed point: generating from it and extracting again changes nothing
  // (the upper itself may differ: its `.wh.` marker files become devices and xattrs)
  const out = path.join(base, 'out');
  fs.mkdirSync(out);
  await extractLayer(generateLayer(u), out);
  const out2 = path.join(base, 'out2');
  fs.mkdirSync(out2);
  const second = await extractLayer(generateLayer(out), out2);
  t.is(second.diffId as string, await digest(out));
  t.is(await digest(out), await digest(out2));
  t.deepEqual(treeListing(out, { xattrs: true }), treeListing(out2, { xattrs: true }));
});

test('exclude leaves paths and everything under them out', async (t) => {
  const u = upperDir(tempDir(t));
  const names = (await tarEntries(generateLayer(u, { exclude: ['/bin', 'opaque-x/kept'] }))).map((e) => e.name);
  t.false(names.some((n) => n.startsWith('bin')));
  t.false(names.includes('opaque-x/kept'));
  t.true(names.includes('owned'));
});

test('an upper whose data lives in a lower (overlayfs redirect or metacopy) is refused', async (t) => {
  const base = tempDir(t);
  for (const [file, xattr] of [
    ['renamed', asRoot ? 'trusted.overlay.redirect' : 'user.overlay.redirect'],
    ['chowned', asRoot ? 'trusted.overlay.metacopy' : 'user.overlay.metacopy'],
  ] as const) {
    const u = path.join(base, file);
    fs.mkdirSync(u);
    const p = path.join(u, file);
    if (file === 'renamed') fs.mkdirSync(p);
    else fs.writeFileSync(p, '');
    sys.lsetxattr(p, xattr, Buffer.from(file === 'renamed' ? '/old' : ''));
    const s = generateLayer(u);
    const e = await t.throwsAsync(new Promise((resolve, reject) => s.on('error', reject).on('end', resolve).resume()));
    t.regex(e!.message, new RegExp(`'${file}'.*${xattr.replace(/\./g, '\\.')}`));
  }
});

test('binary xattrs (security.capability) travel raw, both ways with GNU tar', async (t) => {
  const base = tempDir(t);
  const u = path.join(base, 'u');
  fs.mkdirSync(u);
  fs.writeFileSync(path.join(u, 'ping'), 'elf');
  // cap_net_raw=ep, VFS_CAP_REVISION_2: not UTF-8
  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
  sys.lsetxattr(path.join(u, 'ping'), asRoot ? 'security.capability' : 'user.cap', cap);
  const name = asRoot ? 'security.capability' : 'user.cap';
  // ours -> GNU tar
  const ours = path.join(base, 'ours.tar');
  await new Promise<void>((resolve, reject) => generateLayer(u).pipe(fs.createWriteStream(ours)).on('finish', () => resolve()).on('error', reject));
  const gx = path.join(base, 'gx');
  fs.mkdirSync(gx);
  sh(`tar --xattrs --xattrs-include='*' -C ${gx} -xf ${ours}`);
  t.deepEqual(sys.lgetxattr(path.join(gx, 'ping'), name), cap);
  // GNU tar -> ours
  const theirs = path.join(base, 'theirs.tar');
  sh(`tar --xattrs --xattrs-include='*' --format=pax -C ${u} -cf ${theirs} ping`);
  const out = path.join(base, 'out');
  fs.mkdirSync(out);
  await extractLayer(fs.createReadStream(theirs), out);
  t.deepEqual(sys.lgetxattr(path.join(out, 'ping'), name), cap);
});
