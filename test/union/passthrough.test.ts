// Kernel FUSE passthrough on real mounts: agreed as root, its reads and writes never reach
// the daemon, the data is right for every way of writing a file, and a lower file open
// while it is copied up behaves as on the kernel's overlayfs. Rootless keeps writeback.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sh } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { mainJs, type MountSession, mountStrata, sessionOf } from './mount-helper.js';
import { makeLayers } from './layers.js';
import { flushReportsNothing } from '../../src/fuse/serve.js';



/** The session once every RELEASE arrived (the kernel sends them after close returned). */
function settled(mnt: string): MountSession {
  let st = sessionOf(mnt);
  for (let i = 0; i < 100 && (st.backingOpen !== 0 || st.outstanding > 1); i++) {
    spawnSync('sleep', ['0.02']);
    st = sessionOf(mnt);
  }
  return st;
}

const py = (script: string, ...args: string[]): string => {
  const r = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
};

const root = process.getuid?.() === 0;
const asRoot = root ? test : test.skip;

asRoot('as root passthrough is agreed: reads and writes of upper files never reach the daemon', (t) => {
  const l = makeLayers(t, [{ lower: 'x'.repeat(1 << 20) }]);
  mountStrata(t, l);
  const m = l.mnt;
  const before = sessionOf(m);
  t.is(before.passthrough, 1);
  t.is(before.writeback, 0, 'the kernel refuses passthrough with writeback cache');
  sh(`dd if=/dev/urandom of=${m}/new bs=1M count=8 status=none conv=fsync`);
  sh(`cat ${m}/new > /dev/null && cmp ${m}/new ${l.upper}/new`);
  const after = settled(m);
  t.is(after.writes - before.writes, 0, 'no write reached the daemon');
  t.is(after.reads - before.reads, 0, 'no read reached the daemon');
  t.true(after.backingOpens - before.backingOpens >= 2, 'each open registered a backing file');
  t.is(after.backingOpen, 0, 'every backing id is closed with its last open file');
  // a lower file of a writable union is read through the daemon: it may be copied up
  // while open, and its readers must then read the copy
  sh(`cat ${m}/lower > /dev/null`);
  t.true(sessionOf(m).reads > after.reads);
});

asRoot('passthrough=off serves every read and write in the daemon, with writeback', (t) => {
  const l = makeLayers(t, [{}]);
  mountStrata(t, l, ['passthrough=off']);
  const m = l.mnt;
  t.is(sessionOf(m).passthrough, 0);
  t.is(sessionOf(m).writeback, 1);
  sh(`dd if=/dev/zero of=${m}/new bs=1M count=2 status=none conv=fsync && cat ${m}/new > /dev/null`);
  t.true(sessionOf(m).writes > 0);
  t.is(sessionOf(m).backingOpens, 0);
});

asRoot('a read-only union passes every file through, lower files too', (t) => {
  const l = makeLayers(t, [{ a: 'top' }, { b: 'bottom'.repeat(100000) }]);
  mountStrata(t, l, [], `lowerdir=${l.lowers.join(':')}`);
  const m = l.mnt;
  t.is(sessionOf(m).passthrough, 1);
  t.is(sh(`cat ${m}/a`).out, 'top');
  t.is(sh(`md5sum < ${m}/b`).out, sh(`md5sum < ${l.lowers[1]}/b`).out);
  t.is(sessionOf(m).reads, 0);
});

asRoot('a read-only passthrough open gets no FLUSH at close (FOPEN_NOFLUSH); a writable one does, once only where close reports nothing', (t) => {
  const l = makeLayers(t, [{}]);
  mountStrata(t, l);
  const m = l.mnt;
  sh(`echo data > ${m}/f`);
  const before = settled(m);
  t.is(before.passthrough, 1);
  t.is(before.flushes, 1, 'the first writable close flushes');
  sh(`cat ${m}/f ${m}/f ${m}/f > /dev/null`);
  const read = settled(m);
  t.is(read.flushes - before.flushes, 0, 'no FLUSH for a read-only close');
  sh(`echo more >> ${m}/f; echo again >> ${m}/f`);
  const after = settled(m).flushes - read.flushes;
  if (flushReportsNothing(l.upper)) t.is(after, 0, 'answered ENOSYS (noFlush): the kernel sends no FLUSH again');
  else t.is(after, 2, 'an upper whose close may report an error: every writable close flushes');
  t.is(fs.readFileSync(path.join(m, 'f'), 'utf8'), 'data\nmore\nagain\n');
  t.is(fs.readFileSync(path.join(l.upper, 'f'), 'utf8'), 'data\nmore\nagain\n');
});

test('noFlush only for an upper on ext2/3/4, xfs, btrfs or tmpfs: not NFS, CIFS, FUSE, overlayfs, nor when unknown', (t) => {
  const type = (x: number) => () => x;
  t.true(flushReportsNothing('/u', type(0xef53)));
  t.true(flushReportsNothing('/u', type(0x58465342)));
  t.true(flushReportsNothing('/u', type(0x9123683e)));
  t.true(flushReportsNothing('/u', type(0x01021994)));
  for (const other of [0x6969 /* nfs */, 0xff534d42 /* cifs */, 0x65735546 /* fuse */, 0x794c7630 /* overlayfs */]) {
    t.false(flushReportsNothing('/u', type(other)), other.toString(16));
  }
  t.false(flushReportsNothing(undefined, type(0xef53)), 'no upper');
  t.false(
    flushReportsNothing('/u', () => {
      throw new Error('ENOENT');
    }),
    'statfs failed',
  );
});

// One transcript, run on the kernel's overlayfs and on Strata over copies of the same
// layers: every read, size and error must be the same.
const transcript = String.raw`
import os, sys, mmap, errno
m = sys.argv[1]
out = []
def log(*a): out.append(' '.join(str(x) for x in a))
def size(p): return os.stat(os.path.join(m, p)).st_size
def attempt(f):
    try: return f()
    except OSError as e: return 'E' + errno.errorcode[e.errno]
P = lambda p: os.path.join(m, p)

# a reader holds the lower file open while another opener copies it up and writes
r = os.open(P('f'), os.O_RDONLY)
log('r0', os.pread(r, 64, 0))
w = os.open(P('f'), os.O_WRONLY)
log('w', os.pwrite(w, b'WRITTEN', 0), size('f'))
log('r1', os.pread(r, 64, 0))
r2 = os.open(P('f'), os.O_RDONLY)
a = os.open(P('f'), os.O_WRONLY | os.O_APPEND)
log('a', os.write(a, b'+tail'), size('f'))
log('r2', os.pread(r2, 64, 0), os.pread(r, 64, 0))
os.ftruncate(w, 4)
log('t', size('f'), os.pread(r, 64, 0))
for fd in (r, w, r2, a): os.close(fd)

# the upper file now: passthrough opens, concurrent ones sharing the inode
w = os.open(P('f'), os.O_RDWR)
r = os.open(P('f'), os.O_RDONLY)
os.utime(P('f'), (1000000000, 1000000000))
log('stat', os.stat(P('f')).st_mtime)
log('pw', os.pwrite(w, b'x' * 100000, 10))
st1 = os.stat(P('f'))
log('size right after a write', st1.st_size, 'mtime moved', st1.st_mtime > 1000000000)
log('pr', len(os.pread(r, 200000, 0)), os.pread(r, 6, 0))
os.fsync(w); os.fdatasync(w)
a = os.open(P('f'), os.O_WRONLY | os.O_APPEND)
log('append', os.write(a, b'END'), size('f'), os.pread(r, 3, size('f') - 3))
os.truncate(P('f'), 50)
log('truncate by path', size('f'), len(os.pread(r, 200000, 0)))
os.ftruncate(a, 20000)
log('extend', size('f'), os.pread(r, 4, 19996))
mp = mmap.mmap(w, 20000)
mp[0:5] = b'MMAP!'
mp.flush()
log('mmap', os.pread(r, 5, 0), size('f'))
mp.close()
for fd in (r, w, a): os.close(fd)
with open(P('f'), 'rb') as fh: log('reopen', fh.read(5), len(fh.read()))

# mmap of a lower file, then a write through the other name of a hard link
g = os.open(P('g'), os.O_RDONLY)
mg = mmap.mmap(g, 0, prot=mmap.PROT_READ)
log('mmap lower', mg[0:4])
mg.close()
hw = os.open(P('h'), os.O_WRONLY)
log('link write', os.pwrite(hw, b'HARD', 0), os.pread(g, 4, 0), size('g'), size('h'))
hr = os.open(P('h'), os.O_RDONLY)
gw = os.open(P('g'), os.O_RDWR)
log('both names open', os.pwrite(gw, b'LINK', 4), os.pread(hr, 8, 0), os.stat(P('g')).st_ino == os.stat(P('h')).st_ino)
for fd in (g, hw, hr, gw): os.close(fd)
# both names of the copied-up link open at once (one inode: one backing file for both)
gw = os.open(P('g'), os.O_WRONLY | os.O_APPEND)
hr = os.open(P('h'), os.O_RDONLY)
log('upper links', os.write(gw, b'-more-'), os.pread(hr, 64, 0), size('h'), size('g'))
hw = os.open(P('h'), os.O_RDWR)
log('other name', os.pwrite(hw, b'!', 0), os.pread(hr, 1, 0), size('g'))
for fd in (gw, hr, hw): os.close(fd)

# O_TRUNC of a lower file, create, and a new file written through mmap
t = os.open(P('trunc'), os.O_WRONLY | os.O_TRUNC)
log('o_trunc', size('trunc'), os.write(t, b'short'), size('trunc'))
os.close(t)
n = os.open(P('new'), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.ftruncate(n, 8192)
mn = mmap.mmap(n, 8192)
mn[8000:8004] = b'deep'
mn.close()
os.close(n)
with open(P('new'), 'rb') as fh: log('new', fh.read()[8000:8004], size('new'))
print('\n'.join(out))
`;

asRoot('copy-up while open, append, truncate, mmap, fsync and hard links read as on the kernel overlayfs', (t) => {
  const spec = { f: 'lower content\n', g: 'linked lower file\n', trunc: 'a longer lower file\n' };
  const k = makeLayers(t, [spec]);
  const s = makeLayers(t, [spec]);
  for (const l of [k, s]) fs.linkSync(path.join(l.lowers[0]!, 'g'), path.join(l.lowers[0]!, 'h'));
  // index=on: the kernel keeps hard links linked across copy-up, as Strata always does
  t.teardown(() => void spawnSync('umount', [k.mnt]));
  sh(`mount -t overlay overlay -o lowerdir=${k.lowers[0]},upperdir=${k.upper},workdir=${k.work},index=on ${k.mnt}`);
  mountStrata(t, s);
  t.is(sessionOf(s.mnt).passthrough, 1);
  const expected = py(transcript, k.mnt);
  const got = py(transcript, s.mnt);
  t.is(got, expected);
  t.regex(got, /^r1 b'WRITTENontent/m, 'the reader opened before the copy-up reads the copy');
  const st = settled(s.mnt);
  t.true(st.backingOpens > 0);
  t.is(st.backingFailures, 0);
  t.is(st.backingOpen, 0, 'no backing id outlives its files');
  sh(`cmp ${s.mnt}/f ${s.upper}/f && cmp ${s.upper}/g ${s.upper}/h`);
});

test('rootless: no passthrough (the kernel would refuse its backing files), writeback stays', (t) => {
  const dir = tempDir(t, 'strata-rootless-pt-');
  fs.chmodSync(dir, 0o755);
  for (const d of ['l1', 'u', 'w', 'm']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(path.join(dir, 'l1/f'), 'lower');
  if (root) spawnSync('chown', ['-R', '65534:65534', dir]);
  const script = [
    `${process.execPath} ${mainJs} mount -o lowerdir=${dir}/l1,upperdir=${dir}/u,workdir=${dir}/w ${dir}/m`,
    `getfattr --only-values --absolute-names -n strata.session ${dir}/m`,
    `echo`,
    `echo more >> ${dir}/m/f && cat ${dir}/m/f`,
    `${process.execPath} ${mainJs} umount ${dir}/m`,
  ].join(' && ');
  const argv = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '-Urm', 'bash', '-c', script] : ['unshare', '-Urm', 'bash', '-c', script];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const [json, ...rest] = r.stdout.split('\n');
  const st = JSON.parse(json!) as MountSession;
  t.is(st.passthrough, 0);
  t.is(st.writeback, 1);
  t.is(rest.join('\n'), 'lowermore\n');
});

const hammer = String.raw`
import os, sys, errno
m, me = sys.argv[1], int(sys.argv[2])
errors = {}
for i in range(150):
    for name in ('shared', 'lower%d' % (i % 5)):
        p = os.path.join(m, name)
        try:
            flags = (os.O_RDONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND)[(i + me) % 3]
            fd = os.open(p, flags)
            if flags == os.O_RDONLY: os.pread(fd, 4096, 0)
            else: os.write(fd, b'%d.' % me)
            os.stat(p)
            os.close(fd)
        except OSError as e:
            errors[errno.errorcode[e.errno]] = errors.get(errno.errorcode[e.errno], 0) + 1
print(errors)
`;

asRoot('concurrent opens of one inode in every mode, across copy-ups: none fails (no EBUSY, ETXTBSY or EIO)', async (t) => {
  const spec: Record<string, string> = { shared: 'start.' };
  for (let i = 0; i < 5; i++) spec[`lower${i}`] = `lower ${i}.`;
  const l = makeLayers(t, [spec]);
  mountStrata(t, l);
  const { spawn } = await import('node:child_process');
  const runs = [0, 1, 2, 3].map(
    (me) =>
      new Promise<string>((resolve) => {
        const c = spawn('python3', ['-c', hammer, l.mnt, String(me)]);
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.stderr.on('data', (d: Buffer) => (out += d.toString()));
        c.on('close', () => resolve(out.trim()));
      }),
  );
  t.deepEqual(await Promise.all(runs), ['{}', '{}', '{}', '{}']);
  const st = settled(l.mnt);
  t.true(st.backingOpens > 0);
  t.is(st.backingFailures, 0);
  t.is(st.backingOpen, 0);
  sh(`cmp ${l.mnt}/shared ${l.upper}/shared`);
});
