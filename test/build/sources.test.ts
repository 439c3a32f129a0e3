// COPY/ADD source resolution and writing into an upper dir, on real temp trees.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ContextTree, ImageTree, resolveCopy, resolveImagePath, type CopyEntry, type ResolveOptions } from '../../src/build/sources.js';
import { IgnoreMatcher } from '../../src/build/dockerignore.js';
import { unpackArchive } from '../../src/build/archive.js';
import { writeEntries } from '../../src/build/copy.js';
import { hashEntries } from '../../src/build/cache.js';
import { LayerView } from '../../src/build/layerview.js';
import { BuildError } from '../../src/build/errors.js';
import * as sys from '../../src/sys/index.js';
import { tempDir } from '../helpers/tmp.js';

function tree(t: ExecutionContext, files: Record<string, string>): string {
  const dir = tempDir(t);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (content.startsWith('->')) fs.symlinkSync(content.slice(2), p);
    else if (rel.endsWith('/')) fs.mkdirSync(p, { recursive: true });
    else fs.writeFileSync(p, content);
  }
  return dir;
}

function resolve(ctx: string, sources: string[], dest: string, more: Partial<ResolveOptions> = {}): CopyEntry[] {
  return resolveCopy({
    keyword: 'COPY',
    tree: new ContextTree(ctx, IgnoreMatcher.forBuild(ctx)),
    sources,
    heredocs: new Map(),
    dest,
    workdir: '/work',
    isDirInImage: () => false,
    unpackArchives: false,
    now: 0,
    ...more,
  });
}
const dests = (e: CopyEntry[]): string[] => e.map((x) => `${x.kind}:${x.dest}`);

test('a file to a file, into a dir (trailing /), relative to WORKDIR', (t) => {
  const ctx = tree(t, { 'a.txt': 'a' });
  t.deepEqual(dests(resolve(ctx, ['a.txt'], '/b.txt')), ['file:/b.txt']);
  t.deepEqual(dests(resolve(ctx, ['a.txt'], '/d/')), ['file:/d/a.txt']);
  t.deepEqual(dests(resolve(ctx, ['./a.txt'], 'rel')), ['file:/work/rel']);
  t.deepEqual(dests(resolve(ctx, ['a.txt'], '.')), ['file:/work/a.txt']);
  t.deepEqual(dests(resolve(ctx, ['a.txt'], '/exists', { isDirInImage: (p) => p === '/exists' })), ['file:/exists/a.txt']);
});

test('a directory source copies its contents, not the directory itself', (t) => {
  const ctx = tree(t, { 'src/x': 'x', 'src/sub/y': 'y', 'src/empty/': '' });
  t.deepEqual(dests(resolve(ctx, ['src'], '/app')), ['dir:/app', 'dir:/app/empty', 'dir:/app/sub', 'file:/app/sub/y', 'file:/app/x']);
  t.deepEqual(dests(resolve(ctx, ['src/'], '/app/')), ['dir:/app', 'dir:/app/empty', 'dir:/app/sub', 'file:/app/sub/y', 'file:/app/x']);
});

test('globs, several sources, and the rule that the dest must then end in /', (t) => {
  const ctx = tree(t, { 'a.go': '1', 'b.go': '2', 'c.txt': '3', 'd/e.go': '4' });
  t.deepEqual(dests(resolve(ctx, ['*.go'], '/s/')), ['file:/s/a.go', 'file:/s/b.go']);
  t.deepEqual(dests(resolve(ctx, ['*/*.go', 'c.txt'], '/s/')), ['file:/s/e.go', 'file:/s/c.txt']);
  t.throws(() => resolve(ctx, ['*.go'], '/s'), { instanceOf: BuildError, message: /must be a directory and end with a \// });
  t.throws(() => resolve(ctx, ['*.rs'], '/s/'), { instanceOf: BuildError, message: /\*\.rs matches nothing in the build context/ });
  t.throws(() => resolve(ctx, ['nope'], '/s/'), { instanceOf: BuildError, message: /file not found in build context or excluded by \.dockerignore: nope/ });
});

test('.dockerignore hides files from COPY, also inside a copied dir', (t) => {
  const ctx = tree(t, { '.dockerignore': '**/*.log\nsrc/secret\n!src/keep.log\n', 'a.log': '', 'src/x': '', 'src/secret': '', 'src/keep.log': '', 'src/b.log': '' });
  t.deepEqual(dests(resolve(ctx, ['src'], '/app')), ['dir:/app', 'file:/app/keep.log', 'file:/app/x']);
  t.throws(() => resolve(ctx, ['a.log'], '/'), { message: /excluded by \.dockerignore: a\.log/ });
  // `*` names src too, whose contents land in /all (a dir source copies its contents)
  t.deepEqual(dests(resolve(ctx, ['*'], '/all/')), ['file:/all/.dockerignore', 'dir:/all', 'file:/all/keep.log', 'file:/all/x']);
});

test('a source outside the context is refused: ../x, and symlinks leading out', (t) => {
  const ctx = tree(t, { 'in/f': 'f', 'abs': '->/etc/passwd', 'up': '->../../etc', 'ok': '->in/f', 'dirlink': '->in' });
  t.throws(() => resolve(ctx, ['../x'], '/'), { instanceOf: BuildError, message: '../x: forbidden path outside the build context' });
  t.throws(() => resolve(ctx, ['in/../../x'], '/'), { message: /forbidden path outside the build context/ });
  t.throws(() => resolve(ctx, ['abs'], '/'), { message: 'abs: a symlink leads outside the build context (to /etc/passwd)' });
  t.throws(() => resolve(ctx, ['up/passwd'], '/'), { message: 'up/passwd: a symlink leads outside the build context' });
  // a source that is a symlink inside the context is followed; its name is kept
  t.deepEqual(dests(resolve(ctx, ['ok'], '/d/')), ['file:/d/ok']);
  t.deepEqual(dests(resolve(ctx, ['dirlink/f'], '/d/')), ['file:/d/f']);
  // a leading / is the context root
  t.deepEqual(dests(resolve(ctx, ['/in/f'], '/d/')), ['file:/d/f']);
});

test('symlinks inside a copied directory are copied as symlinks', (t) => {
  const ctx = tree(t, { 'd/target': 't', 'd/link': '->target', 'd/out': '->/etc/passwd' });
  const e = resolve(ctx, ['d'], '/x');
  t.deepEqual(e.filter((x) => x.kind === 'symlink').map((x) => [x.dest, x.target]), [['/x/link', 'target'], ['/x/out', '/etc/passwd']]);
});

test('writeEntries: contents, --chown and --chmod, parents keep the image\'s metadata, times kept or clamped', (t) => {
  const ctx = tree(t, { 'src/a': 'A', 'src/sub/b': 'B', 'src/l': '->a' });
  fs.utimesSync(path.join(ctx, 'src/a'), 1000, 1000);
  const lower = tree(t, { 'usr/': '' });
  fs.chmodSync(path.join(lower, 'usr'), 0o750);
  fs.utimesSync(path.join(lower, 'usr'), 500, 500);
  const view = new LayerView([lower]);
  const upper = tempDir(t);
  const entries = resolve(ctx, ['src'], '/usr/app', { chown: { uid: 12, gid: 34 }, chmod: 0o640 });
  writeEntries(upper, entries, { lowerAttr: (abs) => view.lstat(abs.slice(1))?.attr, now: 2000 });
  t.is(fs.readFileSync(path.join(upper, 'usr/app/sub/b'), 'utf8'), 'B');
  const a = fs.lstatSync(path.join(upper, 'usr/app/a'));
  t.is(a.mode & 0o7777, 0o640);
  t.is(a.uid, 12);
  t.is(a.gid, 34);
  t.is(a.mtimeMs, 1000_000);
  t.is(fs.readlinkSync(path.join(upper, 'usr/app/l')), 'a');
  t.is(fs.lstatSync(path.join(upper, 'usr/app/l')).uid, 12);
  const usr = fs.statSync(path.join(upper, 'usr'));
  t.is(usr.mode & 0o7777, 0o750, 'a parent dir of the image keeps its mode');
  t.is(usr.mtimeMs, 500_000, 'and its mtime, though the layer wrote into it');
  t.is(fs.statSync(path.join(upper, 'usr/app/sub')).mode & 0o7777, 0o640);

  const upper2 = tempDir(t);
  writeEntries(upper2, resolve(ctx, ['src/a'], '/a'), { lowerAttr: () => undefined, now: 2000, clamp: 700 });
  t.is(fs.lstatSync(path.join(upper2, 'a')).mtimeMs, 700_000);
});

test('heredoc sources become files named after their delimiter', (t) => {
  const ctx = tree(t, {});
  const e = resolve(ctx, ['<<hello.txt'], '/etc/', { heredocs: new Map([['hello.txt', Buffer.from('hi\n')]]) });
  t.deepEqual(dests(e), ['file:/etc/hello.txt']);
  const upper = tempDir(t);
  writeEntries(upper, e, { lowerAttr: () => undefined, now: 0 });
  t.is(fs.readFileSync(path.join(upper, 'etc/hello.txt'), 'utf8'), 'hi\n');
  t.is(fs.statSync(path.join(upper, 'etc/hello.txt')).mode & 0o777, 0o644);
});

test('LayerView: top layer wins, whiteouts and opaque dirs hide lower entries', (t) => {
  const low = tree(t, { 'etc/a': 'low', 'etc/b': 'low', 'opq/x': 'x', 'gone/y': 'y' });
  const top = tree(t, { 'etc/a': 'top', 'opq/z': 'z' });
  sys.mknod(path.join(top, 'etc/b'), sys.S_IFCHR | 0o600, 0);
  sys.mknod(path.join(top, 'gone'), sys.S_IFCHR | 0o600, 0);
  sys.lsetxattr(path.join(top, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
  const v = new LayerView([top, low]);
  t.is(fs.readFileSync(v.lstat('etc/a')!.hostPath, 'utf8'), 'top');
  t.is(v.lstat('etc/b'), undefined);
  t.deepEqual(v.readdir('etc'), ['a']);
  t.deepEqual(v.readdir('opq'), ['z']);
  t.is(v.lstat('opq/x'), undefined);
  t.is(v.lstat('gone/y'), undefined);
  t.false(v.isDir('gone'));
  t.deepEqual(v.readdir(''), ['etc', 'opq']);
  // COPY --from reads through the view, symlinks resolve inside the image root
  fs.symlinkSync('/etc/a', path.join(top, 'abs'));
  const e = resolveCopy({
    keyword: 'COPY', tree: new ImageTree('stage base', [top, low]), sources: ['abs', '../../etc'], heredocs: new Map(),
    dest: '/out/', workdir: '/', isDirInImage: () => false, unpackArchives: false, now: 0,
  });
  t.deepEqual(dests(e), ['file:/out/abs', 'dir:/out', 'file:/out/a']);
  t.is(e[0]!.uid, fs.lstatSync(path.join(top, 'etc/a')).uid);
});

test('ADD unpacks a local tar archive into the destination', async (t) => {
  const ctx = tree(t, { 'payload/p/q': 'Q' });
  sys.mkdirp(path.join(ctx, 'in'));
  fs.renameSync(path.join(ctx, 'payload'), path.join(ctx, 'in/payload'));
  spawnSync('tar', ['-czf', path.join(ctx, 'x.tar.gz'), '-C', path.join(ctx, 'in/payload'), 'p']);
  const e = resolve(ctx, ['x.tar.gz'], '/opt', { keyword: 'ADD', unpackArchives: true });
  t.deepEqual(dests(e), ['archive:/opt']);
  const unpacked = tempDir(t);
  await unpackArchive(path.join(ctx, 'x.tar.gz'), unpacked, 'x.tar.gz');
  const upper = tempDir(t);
  writeEntries(upper, e, { lowerAttr: () => undefined, now: 0, unpacked: new Map([[e[0]!, unpacked]]) });
  t.is(fs.readFileSync(path.join(upper, 'opt/p/q'), 'utf8'), 'Q');
  // COPY never unpacks
  t.deepEqual(dests(resolve(ctx, ['x.tar.gz'], '/opt/')), ['file:/opt/x.tar.gz']);
});

test('--exclude drops paths inside a copied dir, and file sources by name', (t) => {
  const ctx = tree(t, { 'd/a.md': '', 'd/keep.txt': '', 'd/sub/b.md': '', 'top.md': '', 'top.txt': '' });
  const exclude = new IgnoreMatcher(['*.md', 'sub/*.md']);
  t.deepEqual(dests(resolve(ctx, ['d', 'top.md', 'top.txt'], '/o/', { exclude })), ['dir:/o', 'file:/o/keep.txt', 'dir:/o/sub', 'file:/o/top.txt']);
});

test('a destination through an image symlink lands where the symlink points (merged /usr)', (t) => {
  const img = tree(t, { 'usr/bin/': '', 'bin': '->usr/bin', 'etc/alt': '->/usr/bin', 'etc/file': 'f', 'etc/flink': '->file' });
  const it = new ImageTree('image', [img]);
  t.is(resolveImagePath(it, '/bin/tool'), '/usr/bin/tool');
  t.is(resolveImagePath(it, '/bin'), '/usr/bin');
  t.is(resolveImagePath(it, '/etc/alt'), '/usr/bin');
  t.is(resolveImagePath(it, '/etc/flink'), '/etc/flink', 'a symlink to a file is replaced, not followed');
  t.is(resolveImagePath(it, '/new/dir/x'), '/new/dir/x');
  const ctx = tree(t, { tool: 'T' });
  const e = resolve(ctx, ['tool'], '/bin/', { resolveDest: (abs) => resolveImagePath(it, abs), isDirInImage: () => true });
  t.deepEqual(dests(e), ['file:/usr/bin/tool']);
});

test('DOCKERFILE.dockerignore beside the Dockerfile wins over CONTEXT/.dockerignore', (t) => {
  const ctx = tree(t, { '.dockerignore': 'a\n', 'web.Dockerfile.dockerignore': 'b\n', a: '', b: '' });
  t.true(IgnoreMatcher.forBuild(ctx).ignores('a'));
  const m = IgnoreMatcher.forBuild(ctx, path.join(ctx, 'web.Dockerfile'));
  t.false(m.ignores('a'));
  t.true(m.ignores('b'));
});

test('xattrs of copied files come along (not the overlay\'s own), and are part of the content hash', (t) => {
  const ctx = tree(t, { f: 'x' });
  sys.lsetxattr(path.join(ctx, 'f'), 'user.note', Buffer.from('kept'));
  sys.lsetxattr(path.join(ctx, 'f'), 'trusted.overlay.opaque', Buffer.from('y'));
  const e = resolve(ctx, ['f'], '/f');
  const before = hashEntries(e);
  const upper = tempDir(t);
  writeEntries(upper, e, { lowerAttr: () => undefined, now: 0 });
  t.is(sys.lgetxattr(path.join(upper, 'f'), 'user.note').toString(), 'kept');
  t.is(sys.lgetxattrIfExists(path.join(upper, 'f'), 'trusted.overlay.opaque'), undefined);
  sys.lsetxattr(path.join(ctx, 'f'), 'user.note', Buffer.from('changed'));
  t.not(hashEntries(e), before);
});

test('hard links within one COPY stay hard links', (t) => {
  const ctx = tree(t, { 'd/a': 'same' });
  fs.linkSync(path.join(ctx, 'd/a'), path.join(ctx, 'd/b'));
  const upper = tempDir(t);
  writeEntries(upper, resolve(ctx, ['d'], '/d'), { lowerAttr: () => undefined, now: 0 });
  const a = fs.statSync(path.join(upper, 'd/a'));
  t.is(a.ino, fs.statSync(path.join(upper, 'd/b')).ino);
  t.is(a.nlink, 2);
});
