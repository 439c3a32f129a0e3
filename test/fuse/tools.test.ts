// Ordinary tools through a passthrough mount on Strata's binding: tar, ln, mv, renameat2
// flags, extended attributes, dd. Each checks what reached the source tree.
import test, { type ExecutionContext } from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { distDir, isMounted, sh, startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const passthroughJs = path.join(distDir, 'test/fixtures/passthrough.js');
const mounted: string[] = [];

async function mountPassthrough(t: ExecutionContext): Promise<{ dir: string; src: string; mnt: string }> {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(src);
  fs.mkdirSync(mnt);
  await startDaemon(t, passthroughJs, [src, mnt], mnt);
  mounted.push(mnt);
  return { dir, src, mnt };
}

// renameat2(2) has no command-line tool in Debian 12; python's ctypes reaches glibc's.
const renameat2Py = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), int(sys.argv[3]))
if r != 0:
    print(os.strerror(ctypes.get_errno()), file=sys.stderr)
    sys.exit(1)
`;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

function renameat2(from: string, to: string, flags: number): { code: number; err: string } {
  const r = sh(`python3 -c '${renameat2Py}' '${from}' '${to}' ${flags}`, { allowFail: true });
  return { code: r.code, err: r.err.trim() };
}

test('tar --format=posix extracted into the mount keeps nanosecond mtimes', async (t) => {
  const { dir, src, mnt } = await mountPassthrough(t);
  const stage = path.join(dir, 'stage');
  fs.mkdirSync(path.join(stage, 'd'), { recursive: true });
  fs.writeFileSync(path.join(stage, 'd/f'), 'content\n');
  fs.symlinkSync('f', path.join(stage, 'd/l'));
  sh(`touch -h -m -d '2003-04-05 06:07:08.123456789Z' ${stage}/d/l`);
  sh(`touch -m -d '2001-02-03 04:05:06.987654321Z' ${stage}/d/f`);
  sh(`touch -m -d '2000-01-01 00:00:00.000000001Z' ${stage}/d`);
  sh(`tar --format=posix -C ${stage} -cf ${dir}/t.tar d`);
  sh(`tar -C ${mnt} -xf ${dir}/t.tar`);
  const ns = (p: string): bigint => fs.lstatSync(p, { bigint: true }).mtimeNs;
  t.is(ns(path.join(src, 'd/f')), 981173106987654321n);
  t.is(ns(path.join(src, 'd/l')), 1049522828123456789n);
  t.is(ns(path.join(src, 'd')), 946684800000000001n);
  t.is(sh(`stat -c %y ${mnt}/d/f`).out.trim(), '2001-02-03 04:05:06.987654321 +0000');
  t.is(fs.readFileSync(path.join(src, 'd/f'), 'utf8'), 'content\n');
  t.is(fs.readlinkSync(path.join(src, 'd/l')), 'f');
});

test('ln makes hard and symbolic links, mv moves files and directories', async (t) => {
  const { src, mnt } = await mountPassthrough(t);
  sh(`mkdir ${mnt}/a ${mnt}/b && echo data > ${mnt}/a/f`);
  sh(`ln ${mnt}/a/f ${mnt}/b/hard && ln -s ../a/f ${mnt}/b/soft`);
  t.is(fs.statSync(path.join(src, 'a/f')).ino, fs.statSync(path.join(src, 'b/hard')).ino);
  t.is(sh(`stat -c %h ${mnt}/a/f`).out.trim(), '2');
  t.is(fs.readlinkSync(path.join(src, 'b/soft')), '../a/f');
  t.is(sh(`cat ${mnt}/b/soft`).out, 'data\n');

  sh(`mv ${mnt}/a/f ${mnt}/a/g && mv ${mnt}/a ${mnt}/c && mv ${mnt}/c/g ${mnt}/b/`);
  t.false(fs.existsSync(path.join(src, 'a')));
  t.deepEqual(fs.readdirSync(path.join(src, 'c')), []);
  t.is(fs.readFileSync(path.join(src, 'b/g'), 'utf8'), 'data\n');
  t.is(sh(`cat ${mnt}/b/g ${mnt}/b/hard`).out, 'data\ndata\n');
  // the symlink now dangles, through the mount as in the source
  t.not(sh(`cat ${mnt}/b/soft`, { allowFail: true }).code, 0);
});

test('renameat2 RENAME_NOREPLACE refuses an existing target and moves onto a free one', async (t) => {
  const { src, mnt } = await mountPassthrough(t);
  fs.writeFileSync(path.join(src, 'x'), 'x');
  fs.writeFileSync(path.join(src, 'y'), 'y');
  const busy = renameat2(`${mnt}/x`, `${mnt}/y`, RENAME_NOREPLACE);
  t.is(busy.code, 1);
  t.is(busy.err, 'File exists');
  t.is(fs.readFileSync(path.join(src, 'y'), 'utf8'), 'y');
  t.is(renameat2(`${mnt}/x`, `${mnt}/z`, RENAME_NOREPLACE).code, 0);
  t.deepEqual(fs.readdirSync(src).sort(), ['y', 'z']);
  t.is(sh(`cat ${mnt}/z`).out, 'x');
});

test('renameat2 RENAME_EXCHANGE swaps two names, files and directories alike', async (t) => {
  const { src, mnt } = await mountPassthrough(t);
  fs.writeFileSync(path.join(src, 'file'), 'was file');
  fs.mkdirSync(path.join(src, 'dir'));
  fs.writeFileSync(path.join(src, 'dir/inner'), 'inner');
  t.is(sh(`cat ${mnt}/file ${mnt}/dir/inner`).out, 'was fileinner');
  t.is(renameat2(`${mnt}/file`, `${mnt}/dir`, RENAME_EXCHANGE).code, 0);
  t.true(fs.statSync(path.join(src, 'file')).isDirectory());
  t.is(fs.readFileSync(path.join(src, 'dir'), 'utf8'), 'was file');
  // the daemon's own node table followed the swap
  t.is(sh(`cat ${mnt}/dir ${mnt}/file/inner`).out, 'was fileinner');
  t.is(sh(`echo more >> ${mnt}/file/inner && cat ${src}/file/inner`).out, 'innermore\n');
  const missing = renameat2(`${mnt}/file`, `${mnt}/nothing`, RENAME_EXCHANGE);
  t.is(missing.err, 'No such file or directory');
});

test('setfattr and getfattr round-trip user.* attributes', async (t) => {
  const { src, mnt } = await mountPassthrough(t);
  sh(`echo x > ${mnt}/f`);
  sh(`setfattr -n user.colour -v blue ${mnt}/f && setfattr -n user.bin -v 0x00ff10 ${mnt}/f`);
  t.is(sh(`getfattr --only-values -n user.colour ${mnt}/f`).out, 'blue');
  t.regex(sh(`getfattr -e hex -n user.bin ${src}/f`).out, /user\.bin=0x00ff10/);
  t.is(sh(`getfattr --only-values -n user.colour ${src}/f`).out, 'blue');
  t.regex(sh(`getfattr -d ${mnt}/f`).out, /user\.bin=0sAP8Q\nuser\.colour="blue"/);
  sh(`setfattr -x user.colour ${mnt}/f`);
  const gone = sh(`getfattr -n user.colour ${mnt}/f`, { allowFail: true });
  t.not(gone.code, 0);
  t.regex(gone.err, /No such attribute/);
  t.deepEqual(
    sh(`getfattr -d --absolute-names ${src}/f`).out.split('\n').filter((l) => l.startsWith('user.')),
    ['user.bin=0sAP8Q'],
  );
});

test('dd with 1 MiB blocks writes and reads back the exact bytes', async (t) => {
  const { dir, src, mnt } = await mountPassthrough(t);
  const data = crypto.randomBytes(24 * 1024 * 1024 + 12345);
  fs.writeFileSync(path.join(dir, 'rand'), data);
  const digest = crypto.createHash('sha256').update(data).digest('hex');
  sh(`dd if=${dir}/rand of=${mnt}/copy bs=1M status=none`);
  t.is(sh(`sha256sum < ${src}/copy`).out.split(' ')[0], digest);
  sh(`dd if=${mnt}/copy of=${dir}/back bs=1M iflag=direct status=none`);
  t.is(sh(`sha256sum < ${dir}/back`).out.split(' ')[0], digest);
  // overwrite one block in the middle in place
  sh(`dd if=/dev/zero of=${mnt}/copy bs=1M seek=3 count=1 conv=notrunc status=none`);
  const now = fs.readFileSync(path.join(src, 'copy'));
  t.is(now.length, data.length);
  t.true(now.subarray(3 << 20, 4 << 20).equals(Buffer.alloc(1 << 20)));
  t.true(now.subarray(0, 3 << 20).equals(data.subarray(0, 3 << 20)));
  t.true(now.subarray(4 << 20).equals(data.subarray(4 << 20)));
});

test.after.always('nothing this file mounted stays mounted', (t) => {
  t.deepEqual(mounted.filter(isMounted), []);
});
