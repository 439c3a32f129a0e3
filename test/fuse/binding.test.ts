// Strata's libfuse3 binding, through the real kernel, with a passthrough filesystem.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { distDir, isMounted, sh, startDaemon, type Daemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import * as sys from '../../src/sys/index.js';

const passthroughJs = path.join(distDir, 'test/fixtures/passthrough.js');
const mounted: string[] = [];

async function mountPassthrough(t: ExecutionContext, extra: string[] = []): Promise<{ src: string; mnt: string; d: Daemon }> {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(src);
  fs.mkdirSync(mnt);
  const d = await startDaemon(t, passthroughJs, [src, mnt, ...extra], mnt);
  mounted.push(mnt);
  return { src, mnt, d };
}

test('ls, stat and cat see the source tree', async (t) => {
  const { src, mnt } = await mountPassthrough(t);
  fs.mkdirSync(path.join(src, 'dir'));
  fs.writeFileSync(path.join(src, 'dir/file'), 'hello\n');
  t.is(sh(`ls ${mnt}/dir`).out, 'file\n');
  t.is(sh(`cat ${mnt}/dir/file`).out, 'hello\n');
  t.is(sh(`stat -c %s ${mnt}/dir/file`).out.trim(), '6');
});

test('touch -m and touch -a set mtime and atime independently, to the nanosecond', async (t) => {
  const { src, mnt } = await mountPassthrough(t);
  fs.writeFileSync(path.join(src, 'f'), 'x');
  sh(`touch -m -d '2001-02-03 04:05:06.123456789Z' ${mnt}/f`);
  sh(`touch -a -d '2002-03-04 05:06:07.987654321Z' ${mnt}/f`);
  const st = fs.statSync(path.join(src, 'f'), { bigint: true });
  t.is(st.mtimeNs, 981173106123456789n);
  t.is(st.atimeNs, 1015218367987654321n);
  t.is(sh(`stat -c '%x|%y' ${mnt}/f`).out.trim(), '2002-03-04 05:06:07.987654321 +0000|2001-02-03 04:05:06.123456789 +0000');
});

test('hard links show the same attributes through both names right after a write', async (t) => {
  const { mnt } = await mountPassthrough(t);
  sh(`echo one > ${mnt}/a && ln ${mnt}/a ${mnt}/b && stat -c %s ${mnt}/a ${mnt}/b >/dev/null && echo twotwo >> ${mnt}/a`);
  const [a, b] = sh(`stat -c '%i %h %s %Y' ${mnt}/a ${mnt}/b`).out.trim().split('\n');
  t.is(a, b);
  t.regex(a!, / 2 11 /);
});

test('writes reach the filesystem in requests of at least 128 KiB', async (t) => {
  const { mnt, d } = await mountPassthrough(t);
  sh(`dd if=/dev/zero of=${mnt}/big bs=1M count=16 status=none`);
  d.child.kill('SIGUSR2');
  const stats = JSON.parse(await d.waitFor(/\{"writes".*\}/)) as { maxWriteSeen: number; writeBytes: number };
  t.true(stats.maxWriteSeen >= 128 * 1024, `largest write was ${stats.maxWriteSeen} bytes`);
  t.is(stats.writeBytes, 16 * 1024 * 1024);
});

test('the data plane reads a backing file exactly: whole, at odd offsets, across and past its end', async (t) => {
  const { src, mnt, d } = await mountPassthrough(t);
  const size = 3 * 1024 * 1024 + 12345; // several 256 KiB requests, the last one short
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 11)) & 0xff;
  fs.writeFileSync(path.join(src, 'f'), data);
  t.true(fs.readFileSync(path.join(mnt, 'f')).equals(data), 'the whole file');
  const fd = fs.openSync(path.join(mnt, 'f'), 'r');
  try {
    const at = (pos: number, len: number): Buffer => {
      const b = Buffer.alloc(len);
      return b.subarray(0, fs.readSync(fd, b, 0, len, pos));
    };
    t.true(at(1024 * 1024 + 7, 300_000).equals(data.subarray(1024 * 1024 + 7, 1024 * 1024 + 7 + 300_000)), 'an odd offset');
    t.true(at(size - 100, 4096).equals(data.subarray(size - 100)), 'across the end: a short read');
    t.is(at(size + 10, 4096).length, 0, 'past the end: nothing');
  } finally {
    fs.closeSync(fd);
  }
  d.child.kill('SIGUSR2');
  const stats = JSON.parse(await d.waitFor(/\{"writes".*\}/)) as { reads: number; jsRequests: number };
  t.true(stats.reads > 0, 'the reads reached the daemon');
});

test('a handler that throws answers EIO and the mount stays up', async (t) => {
  const { src, mnt, d } = await mountPassthrough(t, ['--throw-on', 'boom']);
  fs.writeFileSync(path.join(src, 'ok'), 'fine');
  const r = sh(`stat ${mnt}/boom`, { allowFail: true });
  t.not(r.code, 0);
  t.regex(r.err, /Input\/output error/);
  t.is(sh(`cat ${mnt}/ok`).out, 'fine');
  t.regex(await d.waitFor(/LOOKUP failed unexpectedly/, 5000, 'stderr'), /LOOKUP/);
  t.true(isMounted(mnt));
});

test('SIGTERM unmounts cleanly and the daemon exits', async (t) => {
  const { mnt, d } = await mountPassthrough(t);
  t.true(isMounted(mnt));
  const exited = new Promise<number | null>((r) => d.child.once('exit', (code) => r(code)));
  d.child.kill('SIGTERM');
  t.is(await exited, 0);
  t.false(isMounted(mnt));
});

test.after.always('nothing this file mounted stays mounted', (t) => {
  t.deepEqual(mounted.filter(isMounted), []);
});

/** Every stat field the kernel takes from a reply, as stat(1) prints them (%i inode, %f raw
 * mode, %h nlink, %u %g ids, %t:%T device numbers, %s size, %b blocks, %o blksize, %X.%x
 * and the like the times to the nanosecond). */
const statFields = (p: string): string => sh(`stat -c '%i %f %h %u %g %t:%T %s %b %o %x %y %z' ${p}`).out.trim();

test('lookup, getattr, setattr and create replies carry every stat field as the filesystem gave it', async (t) => {
  const { src, mnt } = await mountPassthrough(t);
  // odd values in every field: a sparse size past 2^32, ids, ns times, a device's numbers
  const f = path.join(src, 'f');
  fs.writeFileSync(f, 'x');
  fs.truncateSync(f, 2 ** 32 + 12345);
  fs.chownSync(f, 1234, 5678);
  sh(`touch -m -d '2001-02-03 04:05:06.123456789Z' ${f} && touch -a -d '2002-03-04 05:06:07.987654321Z' ${f}`);
  sh(`mknod ${src}/chr c 13 37 && mkdir ${src}/dir && ln -s f ${src}/lnk && ln ${f} ${src}/f2`);
  for (const name of ['f', 'chr', 'dir', 'lnk']) t.is(statFields(path.join(mnt, name)), statFields(path.join(src, name)), `lookup of ${name}`);
  // setattr's reply (chmod) and getattr's, after the attr timeout (1 s) ran out
  sh(`chmod 0751 ${mnt}/f`);
  t.is(statFields(path.join(mnt, 'f')), statFields(f), 'after setattr');
  await new Promise((r) => setTimeout(r, 1100));
  fs.chownSync(f, 4321, 8765); // behind the kernel's back: only a new getattr shows it
  t.is(statFields(path.join(mnt, 'f')), statFields(f), 'getattr');
  // create's reply: the new file's entry, which the kernel keeps for the entry timeout
  const fd = fs.openSync(path.join(mnt, 'new'), 'wx', 0o640);
  t.is(statFields(path.join(mnt, 'new')), statFields(path.join(src, 'new')), 'create');
  fs.closeSync(fd);
});

/** the daemon's open fds */
const fdCount = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length;

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const loop of ['js', 'threads']) {
  test(`every close reaches the handler's release, which closes its fd (${loop} loop)`, async (t) => {
    const { src, mnt, d } = await mountPassthrough(t, ['--loop', loop]);
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(src, `f${i}`), `${i}`);
    const pid = d.child.pid!;
    const before = fdCount(pid);
    const fds = Array.from({ length: 50 }, (_, i) => fs.openSync(path.join(mnt, `f${i}`), 'r'));
    t.true(fdCount(pid) >= before + 50, 'an fd per open file in the daemon');
    for (const fd of fds) fs.closeSync(fd);
    await until('the daemon closed them', () => fdCount(pid) <= before);
    t.pass();
  });
}

test('a release that throws is logged, and the mount stays up', async (t) => {
  const { src, mnt, d } = await mountPassthrough(t, ['--throw-on-release', 'bad']);
  fs.writeFileSync(path.join(src, 'bad'), 'data');
  t.is(fs.readFileSync(path.join(mnt, 'bad'), 'utf8'), 'data');
  t.regex(await d.waitFor(/RELEASE failed unexpectedly: TypeError: deliberate release failure/, 5000, 'stderr'), /RELEASE/);
  t.is(fs.readFileSync(path.join(mnt, 'bad'), 'utf8'), 'data', 'still served');
  t.true(isMounted(mnt));
});

test('every kind of request is served when each handler answers through a promise', async (t) => {
  // --no-backing: reads and writes reach the handlers too
  const { src, mnt } = await mountPassthrough(t, ['--async', '--no-backing']);
  fs.writeFileSync(path.join(src, 'old'), 'lower data\n');
  t.is(sh(`cat ${mnt}/old`).out, 'lower data\n', 'lookup, open, read, release');
  sh(`mkdir ${mnt}/d && printf 'abc' > ${mnt}/d/f && ln -s f ${mnt}/d/l && ln ${mnt}/d/f ${mnt}/d/h && mknod ${mnt}/d/p p`);
  t.is(fs.readFileSync(path.join(src, 'd/f'), 'utf8'), 'abc', 'create, write, flush');
  t.is(sh(`readlink ${mnt}/d/l`).out, 'f\n');
  t.is(sh(`stat -c '%h %F' ${mnt}/d/h ${mnt}/d/p`).out, '2 regular file\n1 fifo\n', 'link, mknod');
  sh(`chmod 0604 ${mnt}/d/f && mv ${mnt}/d/h ${mnt}/d/h2 && setfattr -n user.k -v v ${mnt}/d/f`);
  t.is(fs.statSync(path.join(src, 'd/f')).mode & 0o777, 0o604, 'setattr');
  t.is(sh(`getfattr --only-values -n user.k ${mnt}/d/f`).out, 'v', 'setxattr, getxattr');
  t.regex(sh(`getfattr -d ${mnt}/d/f`).out, /user\.k="v"/, 'listxattr');
  sh(`setfattr -x user.k ${mnt}/d/f`);
  t.deepEqual(sys.llistxattr(path.join(src, 'd/f')), [], 'removexattr');
  t.is(sh(`ls ${mnt}/d`).out, 'f\nh2\nl\np\n', 'opendir, readdir, releasedir, rename');
  t.regex(sh(`stat -f -c %b ${mnt}`).out, /^\d+\n$/, 'statfs');
  sh(`rm ${mnt}/d/f ${mnt}/d/h2 ${mnt}/d/l ${mnt}/d/p && rmdir ${mnt}/d`);
  t.false(fs.existsSync(path.join(src, 'd')), 'unlink, rmdir');
});

test('a request whose handler is missing answers ENOSYS, and the others are served', async (t) => {
  const { src, mnt } = await mountPassthrough(t, ['--without', 'mkdir,symlink']);
  fs.writeFileSync(path.join(src, 'f'), 'data');
  const mkdir = sh(`mkdir ${mnt}/d`, { allowFail: true });
  t.not(mkdir.code, 0);
  t.regex(mkdir.err, /Function not implemented/);
  t.regex(sh(`ln -s f ${mnt}/l`, { allowFail: true }).err, /Function not implemented/);
  t.false(fs.existsSync(path.join(src, 'd')));
  t.is(sh(`cat ${mnt}/f`).out, 'data');
  sh(`mknod ${mnt}/p p`);
  t.true(fs.existsSync(path.join(src, 'p')), 'mknod still served');
});
