// Strata mounts through its command line, on the real kernel: semantics seen by ordinary
// tools, the on-disk format read back by the kernel's overlayfs, and the CLI's contract.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isMounted, sh } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { cleanupMount, layerOptions, mainJs, mountKernel, mountStrata, overlayJs, runNode } from './mount-helper.js';
import { makeLayers, snapshot, type Spec } from './layers.js';
import { mountProgram } from '../../src/run/helper.js';

const fixture: Spec[] = [
  { etc: { conf: 'top', gone: { whiteout: true } }, opq: { opaque: { mine: '1' } }, shared: 'l1', bin: { tool: '#!/bin/sh\n' } },
  { etc: { conf: 'bottom', gone: 'x', keep: 'k' }, opq: { hidden: '2' }, shared: 'l2', big: { a: '1', b: '2', c: { d: '3' } } },
];

test('ordinary tools see the merged tree; the upper shows the same tree to mount -t overlay', (t) => {
  const l = makeLayers(t, fixture);
  mountStrata(t, l);
  const m = l.mnt;
  t.deepEqual(fs.readdirSync(path.join(m, 'etc')).sort(), ['conf', 'keep']);
  t.deepEqual(fs.readdirSync(path.join(m, 'opq')), ['mine']);
  sh(`cd ${m} && echo more >> etc/keep && rm etc/conf && mkdir -p new/deep && echo n > new/deep/f && ln -s ../etc/keep new/link`);
  sh(`cd ${m} && rm -rf big/c && mkdir big/c && echo fresh > big/c/e && mv shared renamed && mkfifo fifo && chmod 700 bin/tool`);
  sh(`cd ${m} && setfattr -n user.x -v 1 etc/keep && touch -m -d '2001-02-03 04:05:06.123456789Z' renamed`);
  const seen = snapshot(m);
  const xattr = sh(`getfattr --absolute-names -d -m - ${m}/etc/keep`).out.replace(m, 'M');
  const mtime = sh(`stat -c %y ${m}/renamed`).out;
  sh(`${process.execPath} ${mainJs} umount ${m}`);
  t.false(isMounted(m));
  const k = path.join(l.dir, 'kernel');
  fs.mkdirSync(k);
  mountKernel(t, l.lowers, l.upper, l.work, k);
  t.deepEqual(snapshot(k), seen);
  t.is(sh(`getfattr --absolute-names -d -m - ${k}/etc/keep`).out.replace(k, 'M'), xattr);
  t.is(sh(`stat -c %y ${k}/renamed`).out, mtime);
  t.deepEqual(fs.readdirSync(path.join(k, 'big/c')), ['e'], 'the new dir over the removed lower one is opaque');
});

test('renaming a merged dir answers EXDEV and mv falls back to copy and delete; trace records it', (t) => {
  const l = makeLayers(t, fixture);
  const trace = path.join(l.dir, 'trace.log');
  mountStrata(t, l, [`trace=${trace}`]);
  const r = sh(`python3 -c "import os; os.rename('${l.mnt}/big', '${l.mnt}/moved')"`, { allowFail: true });
  t.regex(r.err, /Invalid cross-device link/);
  sh(`mv ${l.mnt}/big ${l.mnt}/moved`);
  t.deepEqual(snapshot(path.join(l.mnt, 'moved')), ['a 644 1', 'b 644 2', 'c/ 755', 'c/d 644 3']);
  t.false(fs.existsSync(path.join(l.mnt, 'big')));
  sh(`echo x >> ${l.mnt}/etc/keep`);
  const log = fs.readFileSync(trace, 'utf8');
  t.regex(log, /exdev \/big dir has lower content in lower 2/);
  t.regex(log, /copy-up \/etc dir from lower 1 to upper/);
  t.regex(log, /copy-up \/etc\/keep from lower 2/);
  t.regex(log, /whiteout \/big/);
});

test('st_ino and hard links survive a copy-up seen through the mount', (t) => {
  const l = makeLayers(t, [{ a: 'same', d: {} }]);
  fs.linkSync(path.join(l.lowers[0]!, 'a'), path.join(l.lowers[0]!, 'd/b'));
  mountStrata(t, l);
  const m = l.mnt;
  const before = sh(`stat -c '%i %h' ${m}/a ${m}/d/b`).out;
  sh(`echo changed > ${m}/a`);
  t.is(sh(`cat ${m}/d/b`).out, 'changed\n');
  t.is(sh(`stat -c '%i %h' ${m}/a ${m}/d/b`).out, before);
  t.is(sh(`stat -c %d ${m}/a ${m}/d/b ${m}`).out.split('\n').filter((x) => x).length, 3);
  t.is(new Set(sh(`stat -c %d ${m}/a ${m}/d/b ${m}`).out.trim().split('\n')).size, 1, 'one st_dev per mount');
});

// A lower file's READs are answered by splice (from its page cache) and copied up while
// open: its readers, racing the copy-up or not, must go on reading from the copy.
const readersMove = String.raw`
import json, os, sys, threading
m, upper, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
chunk = 128 * 1024
stats = lambda: json.loads(os.getxattr(m, 'strata.session'))
r = os.open(m + '/f', os.O_RDONLY)
bad = []
def reader():  # its first half again and again, from its own fd, across the copy-up
    fd = os.open(m + '/f', os.O_RDONLY)
    for _ in range(4):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # from the daemon each time
        for off in range(chunk, size // 2, chunk):
            b = os.pread(fd, chunk, off)
            if b != b'L' * len(b) or len(b) != min(chunk, size - off): bad.append(off)
    os.close(fd)
th = threading.Thread(target=reader)
th.start()
first = os.pread(r, 2 * chunk, 0)
w = os.open(m + '/f', os.O_WRONLY)
os.pwrite(w, b'W', 0)  # copies f up
th.join()
# the copy changed behind the mount's back, where no reader has read yet
u = os.open(upper + '/f', os.O_WRONLY)
os.pwrite(u, b'C' * 2 * chunk, size - 4 * chunk)
os.close(u)
before = stats()
late = os.pread(r, 2 * chunk, size - 4 * chunk)
after = stats()
print(json.dumps({'first': first == b'L' * 2 * chunk, 'racing': bad, 'late': late == b'C' * 2 * chunk,
                  'spliced': after['splicedReads'] - before['splicedReads']}))
`;

test('a reader of a lower file moves to its copy at copy-up: spliced reads, racing it or after it', (t) => {
  const size = 16 << 20;
  const l = makeLayers(t, [{ f: 'L'.repeat(size) }]);
  mountStrata(t, l);
  sh(`cat ${l.lowers[0]}/f > /dev/null`); // in the page cache: READs are spliced inline
  const r = spawnSync('python3', ['-c', readersMove, l.mnt, l.upper, String(size)], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { first: boolean; racing: number[]; late: boolean; spliced: number };
  t.true(got.first, 'the lower file read right');
  t.deepEqual(got.racing, [], 'no read racing the copy-up saw a wrong byte');
  t.true(got.late, 'the reader opened before the copy-up reads the copy');
  t.true(got.spliced > 0, 'by splice');
});

test('a read-only union answers EROFS', (t) => {
  const l = makeLayers(t, fixture);
  let pid: number | undefined;
  cleanupMount(t, l.mnt, () => pid);
  const r = runNode(mainJs, ['mount', '-o', `lowerdir=${l.lowers.join(':')}`, l.mnt, '--print-pid']);
  t.is(r.code, 0, r.err);
  pid = Number(r.out);
  t.is(fs.readFileSync(path.join(l.mnt, 'etc/conf'), 'utf8'), 'top');
  t.regex(sh(`touch ${l.mnt}/x`, { allowFail: true }).err, /Read-only file system/);
  t.regex(sh(`rm ${l.mnt}/shared`, { allowFail: true }).err, /Read-only file system/);
});

test('bad input: one line naming the culprit, non-zero exit, nothing mounted, nothing written', (t) => {
  const l = makeLayers(t, fixture);
  fs.writeFileSync(path.join(l.dir, 'file'), '');
  fs.mkdirSync(path.join(l.upper, 'w'));
  fs.mkdirSync(path.join(l.work, 'u'));
  const shm = fs.mkdtempSync('/dev/shm/strata-test-');
  t.teardown(() => fs.rmSync(shm, { recursive: true, force: true }));
  const low = l.lowers.join(':');
  const cases: [string, string, RegExp][] = [
    [`lowerdir=${l.dir}/missing,upperdir=${l.upper},workdir=${l.work}`, l.mnt, /lowerdir .*missing: no such directory/],
    [`lowerdir=${l.dir}/file,upperdir=${l.upper},workdir=${l.work}`, l.mnt, /lowerdir .*file: not a directory/],
    [`lowerdir=${low},upperdir=${l.upper},workdir=${shm}`, l.mnt, /not on the same filesystem/],
    [`lowerdir=${low},upperdir=${l.upper},workdir=${l.upper}/w`, l.mnt, /workdir .* inside upperdir/],
    [`lowerdir=${low},upperdir=${l.work}/u,workdir=${l.work}`, l.mnt, /upperdir .* inside workdir/],
    [`lowerdir=${low}:${l.upper},upperdir=${l.upper},workdir=${l.work}`, l.mnt, /also listed as lowerdir/],
    [`lowerdir=${low},upperdir=${l.upper},workdir=${l.work}`, path.join(l.dir, 'nomnt'), /mountpoint .*nomnt: no such directory/],
    [`upperdir=${l.upper},workdir=${l.work}`, l.mnt, /lowerdir= is required/],
  ];
  for (const [opts, mnt, re] of cases) {
    const r = runNode(mainJs, ['mount', '-o', opts, mnt]);
    t.not(r.code, 0, opts);
    t.regex(r.err, re, opts);
    t.is(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    t.false(isMounted(mnt));
    t.false(fs.existsSync(path.join(l.work, 'work')), 'workdir/work not created');
    t.false(fs.existsSync(path.join(shm, 'work')));
  }
  mountStrata(t, l);
  const again = runNode(mainJs, ['mount', '-o', layerOptions(l), l.mnt]);
  t.not(again.code, 0);
  t.regex(again.err, /already mounted/);
});

test('SIGTERM unmounts cleanly and the daemon exits 0', async (t) => {
  const l = makeLayers(t, fixture);
  cleanupMount(t, l.mnt);
  const child = spawn(process.execPath, [mainJs, 'mount', '-f', '-o', layerOptions(l), l.mnt], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; i < 200 && !isMounted(l.mnt); i++) await new Promise((r) => setTimeout(r, 25));
  t.true(isMounted(l.mnt));
  t.is(fs.readFileSync(path.join(l.mnt, 'shared'), 'utf8'), 'l1');
  child.kill('SIGTERM');
  t.is(await exited, 0);
  t.false(isMounted(l.mnt));
});

test('the background daemon answers SIGTERM by unmounting', async (t) => {
  const l = makeLayers(t, fixture);
  const pid = mountStrata(t, l);
  t.true(isMounted(l.mnt));
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && isMounted(l.mnt); i++) await new Promise((r) => setTimeout(r, 25));
  t.false(isMounted(l.mnt));
});

test('strata explain prints the layer of each component and what hid what', (t) => {
  const l = makeLayers(t, fixture);
  mountStrata(t, l);
  sh(`echo x >> ${l.mnt}/etc/keep`);
  const out = runNode(mainJs, ['explain', path.join(l.mnt, 'etc/keep')]);
  t.is(out.code, 0, out.err);
  t.regex(out.out, /^\/: dir in upper/m);
  t.regex(out.out, /^\/etc: dir in upper .*merged from upper \+ lower 1 \+ lower 2/m);
  t.regex(out.out, /^\/etc\/keep: file in upper .*copied up from lower 2/m);
  const opq = runNode(mainJs, ['explain', path.join(l.mnt, 'opq/mine')]);
  t.regex(opq.out, /^\/opq: dir in lower 1 .*opaque dir in lower 1/m);
  const gone = runNode(mainJs, ['explain', path.join(l.mnt, 'etc/gone')]);
  t.regex(gone.out, /^\/etc\/gone: not found; whiteout in lower 1/m);
  t.false(sh(`getfattr -d -m - ${l.mnt}/etc/keep`).out.includes('strata'), 'the query is never listed');
  const outside = runNode(mainJs, ['explain', l.dir]);
  t.not(outside.code, 0);
  t.regex(outside.err, /not inside a Strata mount/);
});

test('strata-overlay takes both fuse-overlayfs forms and warns once about unknown options', (t) => {
  const l = makeLayers(t, fixture);
  cleanupMount(t, l.mnt);
  const a = runNode(overlayJs, ['-o', `${layerOptions(l)},frobnicate,rw`, l.mnt]);
  t.is(a.code, 0, a.err);
  t.is(a.err.trim().split('\n').length, 1);
  t.regex(a.err, /unknown mount options: frobnicate/);
  t.is(fs.readFileSync(path.join(l.mnt, 'shared'), 'utf8'), 'l1');
  sh(`${process.execPath} ${mainJs} umount ${l.mnt}`);
  const b = runNode(overlayJs, ['strata-src', l.mnt, '-o', layerOptions(l)]);
  t.is(b.code, 0, b.err);
  t.is(b.err, '');
  t.regex(sh(`findmnt -n -o SOURCE,FSTYPE ${l.mnt}`).out, /strata-src\s+fuse\.strata/);
});

// start-up: node reads NODE_EXTRA_CA_CERTS eagerly (~80 ms); a mount daemon never opens TLS
const CA = { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', STRATA_TEST_ENV: 'kept' };

function environOf(pid: number): Record<string, string | undefined> {
  const vars = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((v) => v);
  return Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
}

/** A container's mount program as strata-init runs it (--mount-serves): it stays, serving
 * the mount, once it has said "ready" on fd 3. */
async function startServingMountProgram(argv: string[], env: NodeJS.ProcessEnv): Promise<{ status: number; stderr: string }> {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let report = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdio[3]!.on('data', (d: Buffer) => (report += d.toString()));
  await new Promise((r) => child.stdio[3]!.once('close', r));
  child.unref();
  (child.stderr as unknown as { unref(): void }).unref();
  return { status: report.startsWith('ready') ? 0 : 1, stderr: stderr + report };
}

for (const how of ['strata mount', 'strata-overlay', "containers' mount program"] as const) {
  test(`${how}: the mount daemon runs the CommonJS bundle, started without NODE_EXTRA_CA_CERTS (stashed), with the rest of the environment`, async (t) => {
    const l = makeLayers(t, fixture);
    let pid: number | undefined;
    cleanupMount(t, l.mnt, () => pid);
    const mark = `${process.pid}-${how}-${Date.now()}`;
    const env = { ...process.env, ...CA, STRATA_TEST_MARK: mark };
    const r =
      how === 'strata mount'
        ? spawnSync(process.execPath, [mainJs, 'mount', '-o', layerOptions(l), l.mnt], { encoding: 'utf8', env })
        : how === 'strata-overlay'
          ? spawnSync(process.execPath, [overlayJs, '-o', layerOptions(l), l.mnt], { encoding: 'utf8', env })
          : await startServingMountProgram([...mountProgram(env).argv, '-o', layerOptions(l), l.mnt], env);
    t.is(r.status, 0, r.stderr);
    // what is left with the mark: the daemon (the mount commands have exited)
    const left = await settled(mark, 1);
    t.is(left.size, 1);
    pid = [...left.keys()][0]!;
    t.is(left.get(pid)![0], process.execPath);
    t.regex(left.get(pid)![1]!, /\/cli\/strata-mount-daemon\.cjs$/);
    t.is(fs.readFileSync(path.join(l.mnt, 'shared'), 'utf8'), 'l1');
    // the environment node started with; the daemon puts the variable back for what it runs
    const e = environOf(pid);
    t.is(e.NODE_EXTRA_CA_CERTS, undefined);
    t.is(e.STRATA_EXTRA_CA_CERTS, CA.NODE_EXTRA_CA_CERTS);
    t.is(e.STRATA_TEST_ENV, 'kept');
    t.is(e.PATH, process.env.PATH);
  });
}

/** The live processes whose environment holds STRATA_TEST_MARK=mark, with their argv. */
function marked(mark: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (!fs.readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`STRATA_TEST_MARK=${mark}`)) continue;
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (/\) Z /.test(st)) continue;
      out.set(Number(d), fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0'));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function settled(mark: string, count: number): Promise<Map<number, string[]>> {
  let m = marked(mark);
  for (let i = 0; i < 100 && m.size !== count; i++) {
    await new Promise((r) => setTimeout(r, 50));
    m = marked(mark);
  }
  return m;
}

test('strata mount starts its daemon early; one not needed (bad usage, bad options, log=) exits', async (t) => {
  const l = makeLayers(t, fixture);
  let pid: number | undefined;
  cleanupMount(t, l.mnt, () => pid);
  const mark = `${process.pid}-${Date.now()}`;
  const env = { ...process.env, STRATA_TEST_MARK: mark };
  const cli = (args: string[]) => spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', env });
  t.is(cli(['mount']).status, 2);
  t.is((await settled(mark, 0)).size, 0, 'after bad usage');
  t.is(cli(['mount', '-o', `lowerdir=${l.dir}/missing`, l.mnt]).status, 1);
  t.is((await settled(mark, 0)).size, 0, 'after a failed validation');
  // served by the early daemon: its config came on stdin
  let r = cli(['mount', '--print-pid', '-o', layerOptions(l), l.mnt]);
  t.is(r.status, 0, r.stderr);
  pid = Number(r.stdout);
  let left = await settled(mark, 1);
  t.deepEqual([...left.keys()], [pid]);
  t.is(left.get(pid)![2], '-');
  t.true(left.get(pid)!.includes(l.mnt), 'ps shows the mountpoint');
  t.is(fs.readFileSync(path.join(l.mnt, 'shared'), 'utf8'), 'l1');
  sh(`${process.execPath} ${mainJs} umount ${l.mnt}`);
  t.is((await settled(mark, 0)).size, 0, 'the daemon ends with its mount');
  // log= : the daemon's stdout and stderr are the file, so it is started after validation
  const log = path.join(l.dir, 'daemon.log');
  r = cli(['mount', '--print-pid', '-o', `${layerOptions(l)},log=${log}`, l.mnt]);
  t.is(r.status, 0, r.stderr);
  pid = Number(r.stdout);
  left = await settled(mark, 1);
  t.deepEqual([...left.keys()], [pid]);
  t.not(left.get(pid)![2], '-');
  t.true(fs.existsSync(log));
});

test("containers' mount program: the daemon's bundle with NODE_EXTRA_CA_CERTS stashed, fuse-overlayfs as given", (t) => {
  const daemon = path.join(path.dirname(mainJs), 'strata-mount-daemon.cjs');
  t.deepEqual(mountProgram({ ...CA }), {
    argv: ['/usr/bin/env', '-u', 'NODE_EXTRA_CA_CERTS', `STRATA_EXTRA_CA_CERTS=${CA.NODE_EXTRA_CA_CERTS}`, process.execPath, daemon, '--overlay'],
    serves: true,
  });
  t.deepEqual(mountProgram({}), { argv: [process.execPath, daemon, '--overlay'], serves: true });
  t.deepEqual(mountProgram({ ...CA, STRATA_MOUNT_PROGRAM: 'fuse-overlayfs' }), { argv: ['fuse-overlayfs'], serves: false });
});

test('rootless: as an unprivileged user in a user namespace, whiteouts are 0/0 and opaque is user.overlay.opaque', (t) => {
  const dir = tempDir(t, 'strata-rootless-');
  fs.chmodSync(dir, 0o755);
  for (const d of ['l1', 'l1/d', 'u', 'w', 'm']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(path.join(dir, 'l1/d/f'), 'x');
  fs.writeFileSync(path.join(dir, 'l1/g'), 'y');
  spawnSync('chown', ['-R', '65534:65534', dir]);
  const script = [
    `${process.execPath} ${mainJs} mount -o lowerdir=${dir}/l1,upperdir=${dir}/u,workdir=${dir}/w ${dir}/m`,
    `rm ${dir}/m/g && rm -r ${dir}/m/d && mkdir ${dir}/m/d && echo new > ${dir}/m/d/n`,
    `ls ${dir}/m/d`,
    `${process.execPath} ${mainJs} umount ${dir}/m`,
  ].join(' && ');
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '-Urm', 'bash', '-c', script], {
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, 'n\n');
  t.is(sh(`stat -c '%F %t:%T' ${dir}/u/g`).out.trim(), 'character special file 0:0');
  t.is(sh(`getfattr --only-values -n user.overlay.opaque ${dir}/u/d`).out, 'y');
  t.regex(sh(`getfattr -n trusted.overlay.opaque ${dir}/u/d`, { allowFail: true }).err, /No such attribute/);
});

test('rm -rf of a large lower tree through the mount leaves whiteouts and an empty merged dir', (t) => {
  const spec: Record<string, string> = {};
  for (let i = 0; i < 1500; i++) spec[`file-${i}`] = String(i);
  const l = makeLayers(t, [{ many: spec }]);
  mountStrata(t, l);
  t.is(fs.readdirSync(path.join(l.mnt, 'many')).length, 1500);
  sh(`rm -rf ${l.mnt}/many`);
  t.false(fs.existsSync(path.join(l.mnt, 'many')));
  t.is(sh(`stat -c '%F %t:%T' ${l.upper}/many`).out.trim(), 'character special file 0:0');
});

test('attributes through the mount: chown, chmod, one time at a time to the ns, truncate, fallocate, device nodes, statfs', (t) => {
  const l = makeLayers(t, [{ f: 'hello world', g: 'g' }]);
  mountStrata(t, l);
  const m = l.mnt;
  sh(`chown 1234:4321 ${m}/f && chmod 640 ${m}/f`);
  sh(`touch -m -d '2001-02-03 04:05:06.123456789Z' ${m}/f && touch -a -d '2002-03-04 05:06:07.987654321Z' ${m}/f`);
  t.is(sh(`stat -c '%u %g %a %x|%y' ${m}/f`).out.trim(), '1234 4321 640 2002-03-04 05:06:07.987654321 +0000|2001-02-03 04:05:06.123456789 +0000');
  t.is(sh(`stat -c '%u %g %a %x|%y' ${l.upper}/f`).out.trim(), '1234 4321 640 2002-03-04 05:06:07.987654321 +0000|2001-02-03 04:05:06.123456789 +0000');
  sh(`truncate -s 5 ${m}/g && fallocate -l 1M ${m}/g`);
  t.is(fs.statSync(path.join(m, 'g')).size, 1024 * 1024);
  t.is(fs.readFileSync(path.join(m, 'g')).subarray(0, 1).toString(), 'g');
  sh(`mknod ${m}/null c 1 3 && echo discarded > ${m}/null`);
  t.is(sh(`stat -c '%F %t:%T' ${m}/null`).out.trim(), 'character special file 1:3');
  const df = sh(`stat -f -c %b ${m}`).out.trim();
  t.is(df, sh(`stat -f -c %b ${l.upper}`).out.trim());
  t.is(fs.readFileSync(path.join(m, 'f'), 'utf8'), 'hello world');
});

test('concurrency: stress-ng hdd, dir, rename, link and xattr stressors on the mount, no error and no crash', (t) => {
  const l = makeLayers(t, [{ base: { f: 'x' } }]);
  const pid = mountStrata(t, l);
  const r = sh(`cd ${l.mnt} && timeout 120 stress-ng --hdd 1 --hdd-bytes 8M --dir 1 --rename 1 --link 1 --xattr 1 --timeout 10s --temp-path ${l.mnt} 2>&1`, { allowFail: true });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /successful run completed/);
  t.true(isMounted(l.mnt));
  t.notThrows(() => process.kill(pid, 0), 'the daemon is alive');
  t.is(fs.readFileSync(path.join(l.mnt, 'base/f'), 'utf8'), 'x');
});

for (const mode of ['auto', 'always'] as const) {
  test(`readdirplus=${mode}: a 3,000-entry merged dir lists every name once, whiteouts and markers hidden, and each entry then stats with the st_ino ls -i showed`, (t) => {
    const low: Record<string, string> = {};
    const top: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) (i % 2 ? low : top)[`entry-${i}`] = String(i);
    low['gone-1'] = 'x';
    const l = makeLayers(t, [{ big: top }, { big: { ...low, 'entry-0': 'lower copy' } }], { big: { 'gone-1': { whiteout: true }, '.wh.entry-1': '', fresh: 'up' } });
    mountStrata(t, l, [`readdirplus=${mode}`]);
    const dir = path.join(l.mnt, 'big');
    const listed = sh(`ls -if ${dir}`).out.trim().split('\n').map((x) => x.trim().split(/\s+/) as [string, string]);
    const names = listed.map(([, n]) => n).filter((n) => n !== '.' && n !== '..');
    const want = [...Array.from({ length: 3000 }, (_, i) => `entry-${i}`).filter((n) => n !== 'entry-1'), 'fresh'];
    t.deepEqual([...names].sort(), want.sort(), 'every name once; the whiteout and the .wh. marker hide theirs');
    for (const [ino, n] of listed) {
      if (n === '.' || n === '..') continue;
      t.is(String(fs.lstatSync(path.join(dir, n)).ino), ino, `${n}: d_ino is st_ino`);
    }
    t.is(fs.readFileSync(path.join(dir, 'entry-0'), 'utf8'), '0', 'the top layer wins');
    t.is(fs.readFileSync(path.join(dir, 'fresh'), 'utf8'), 'up');
  });
}
