// Read-only OPENs of lower files answered in C (native/src/session.c "lower files"): no JS
// request for such an open or its RELEASE, the right content, and what JS did with its
// own such fds done too: a reader opened before a copy-up reads the copy, and the kernel's
// io modes see C's opens (no passthrough open of the copy while they live). On both
// session loops; a read-only union with passthrough keeps serving its files through it.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { sh } from '../helpers/daemon.js';
import { cleanupMount, mainJs, type MountSession, mountStrata, runNode, sessionOf } from './mount-helper.js';
import { makeLayers } from './layers.js';



/** the counters once the RELEASEs of closed files (sent in the background) are in */
async function settled(mnt: string): Promise<MountSession> {
  for (let i = 0; ; i++) {
    const s = sessionOf(mnt);
    if (s.lowerOpensHeld === 0 || i === 50) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const root = process.getuid?.() === 0;

/** runs the test with STRATA_FUSE_LOOP=loop in the daemon's environment */
function withLoop(t: { teardown: (fn: () => void) => void }, loop: string): void {
  const old = process.env.STRATA_FUSE_LOOP;
  process.env.STRATA_FUSE_LOOP = loop;
  t.teardown(() => (old === undefined ? delete process.env.STRATA_FUSE_LOOP : (process.env.STRATA_FUSE_LOOP = old)));
}

const files = (n: number, tag: string): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${tag}${i}`, `${tag} ${i}\n`]));

// A reader opened before the copy-up, then an append through another fd; the reader's
// pages dropped so its READ comes from its own fd in the daemon. Then, once the reader is
// closed, an open of the copy (passthrough again, where agreed).
const readerAcrossCopyUp = String.raw`
import json, os, sys, time
m = sys.argv[1]
stats = lambda: json.loads(os.getxattr(m, 'strata.session'))
with open(m + '/d/f', 'rb') as fh: fh.read()  # JS's open, which tells the session the path
s0 = stats()
r = os.open(m + '/d/f', os.O_RDONLY)
s1 = stats()
first = os.pread(r, 100, 0)
w = os.open(m + '/d/f', os.O_WRONLY | os.O_APPEND)
os.write(w, b'appended\n')
os.close(w)
os.posix_fadvise(r, 0, 0, os.POSIX_FADV_DONTNEED)
later = os.pread(r, 100, 0)
os.close(r)
for _ in range(100):
    if stats()['lowerOpensHeld'] == 0: break
    time.sleep(0.02)
s2 = stats()
with open(m + '/d/f', 'rb') as fh: again = fh.read()
s3 = stats()
print(json.dumps({'first': first.decode(), 'later': later.decode(), 'again': again.decode(),
                  'inC': s1['opensInC'] - s0['opensInC'], 'swapped': s2['lowerFdsSwapped'] - s0['lowerFdsSwapped'],
                  'copyInC': s3['opensInC'] - s2['opensInC'], 'copyBacking': s3['backingOpens'] - s2['backingOpens'],
                  'passthrough': s3['passthrough']}))
`;

for (const loop of ['js', 'threads']) {
  test.serial(`${loop} loop: read-only OPENs of lower files are answered in C, with no JS request per open or close`, async (t) => {
    withLoop(t, loop);
    const l = makeLayers(t, [{ d: files(10, 'top') }, { d: files(5, 'low') }]);
    mountStrata(t, l);
    const m = l.mnt;
    const all = [...Object.keys(files(10, 'top')), ...Object.keys(files(5, 'low'))];
    const cat = (): string => sh(`cd ${m}/d && cat ${all.join(' ')}`).out;
    const want = all.map((n) => `${n.replace(/\d+$/, '')} ${n.match(/\d+$/)![0]}\n`).join('');
    t.is(cat(), want, 'the content of each layer');
    // the first READs invalidated each file's atime: the next stats ask GETATTR once
    t.is(cat(), want);
    const before = await settled(m);
    t.true(before.lowerFilesKnown >= 15, 'each file looked up has its lower path in C');
    for (let i = 0; i < 5; i++) t.is(cat(), want);
    const after = await settled(m);
    t.is(after.opensInC - before.opensInC, 5 * 15, 'every open of the five passes answered in C');
    t.true(after.jsRequests - before.jsRequests < 5, `no JS request per open or close (${after.jsRequests - before.jsRequests} for 75 opens)`);
    t.is(after.lowerOpensHeld, 0, 'every C open released in C');
    // an open for writing copies up in JS; the copy's opens are JS's from then on
    sh(`echo more >> ${m}/d/top0`);
    const up = await settled(m);
    t.is(sh(`cat ${m}/d/top0 ${m}/d/low0`).out, 'top 0\nmore\nlow 0\n');
    t.is((await settled(m)).opensInC - up.opensInC, 1, 'the copied-up file is opened by JS, the lower one in C');
    t.is(sh(`cat ${l.upper}/d/top0`).out, 'top 0\nmore\n');
  });

  test.serial(`${loop} loop: a reader a lower file's C open gave reads the copy after its copy-up`, (t) => {
    withLoop(t, loop);
    const l = makeLayers(t, [{ d: { f: 'lower\n' } }]);
    mountStrata(t, l);
    const r = spawnSync('python3', ['-c', readerAcrossCopyUp, l.mnt], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as Record<string, string | number>;
    t.is(got.inC, 1, 'the reader was opened in C');
    t.is(got.first, 'lower\n');
    t.is(got.later, 'lower\nappended\n', 'the reader opened before the copy-up reads the copy');
    t.is(got.swapped, 1, "the C-held fd was repointed to the copy");
    t.is(got.again, 'lower\nappended\n');
    t.is(got.copyInC, 0, 'the copy is opened by JS');
    // with passthrough agreed, the writer's open stayed cached (the C reader was a cached
    // open of the inode: the kernel refuses a passthrough open then), and the copy goes
    // through passthrough once the reader is gone
    if (got.passthrough === 1) t.is(got.copyBacking, 1, 'the copy opened through passthrough after the reader closed');
  });
}

test.serial('a file a listing introduced (READDIRPLUS, no LOOKUP) has its first open in JS, the next ones in C', async (t) => {
  const l = makeLayers(t, [{ inc: files(4, 'h') }]);
  mountStrata(t, l);
  const m = l.mnt;
  t.is(sh(`ls -l ${m}/inc | grep -c '^-'`).out.trim(), '4', 'the entries with their attributes');
  const s0 = await settled(m);
  t.is(sh(`cat ${m}/inc/h0`).out, 'h 0\n');
  const s1 = await settled(m);
  t.is(s1.opensInC - s0.opensInC, 0, 'no LOOKUP told its path: the first open is JS\'s');
  t.is(sh(`cat ${m}/inc/h0; cat ${m}/inc/h0`).out, 'h 0\nh 0\n');
  t.is((await settled(m)).opensInC - s1.opensInC, 2, 'the open JS served told it');
});

test.serial('a stat walk tells the session no path; once a lower file was read, every lookup does', async (t) => {
  const l = makeLayers(t, [{ d: files(6, 'f') }]);
  mountStrata(t, l);
  const m = l.mnt;
  sh(`stat ${m}/d/f0 ${m}/d/f1 ${m}/d/f2 > /dev/null`);
  t.is((await settled(m)).lowerFilesKnown, 0, 'nothing told for files only stated');
  t.is(sh(`cat ${m}/d/f0`).out, 'f 0\n');
  const s0 = await settled(m);
  t.is(s0.lowerFilesKnown, 1, "JS's open told its file");
  t.is(sh(`cat ${m}/d/f3 ${m}/d/f4`).out, 'f 3\nf 4\n');
  const s1 = await settled(m);
  t.is(s1.opensInC - s0.opensInC, 2, 'files looked up since are opened in C');
});

test.serial('after an unlink and renames, the names open the right files (lower paths told to C stay right)', (t) => {
  const l = makeLayers(t, [{ a: 'A\n', b: 'B\n', c: 'C\n', e: 'E\n' }]);
  mountStrata(t, l);
  const m = l.mnt;
  t.is(sh(`cat ${m}/a ${m}/b ${m}/c ${m}/e`).out, 'A\nB\nC\nE\n');
  const held = spawnSync(
    'python3',
    [
      '-c',
      String.raw`
import os, subprocess, sys
m = sys.argv[1]
c = os.open(m + '/c', os.O_RDONLY)
subprocess.run(['sh', '-c', f'rm {m}/a && echo new > {m}/a && mv {m}/b {m}/x && mv {m}/x {m}/c && mv {m}/e {m}/e2'], check=True)
print(os.pread(c, 10, 0).decode(), end='')
print(open(f'/proc/self/fd/{c}', 'rb').read().decode(), end='')
`,
      m,
    ],
    { encoding: 'utf8' },
  );
  t.is(held.status, 0, held.stderr);
  t.is(held.stdout, 'C\nC\n', 'an fd open on a file renamed over still reads it, and reopens it');
  t.is(sh(`cat ${m}/a ${m}/c ${m}/e2`).out, 'new\nB\nE\n');
  t.is(sh(`cat ${m}/b ${m}/e 2>&1`, { allowFail: true }).code, 1, 'the old names are gone');
});

(root ? test.serial : test.skip)('a read-only union with passthrough serves its files through it, not from C', async (t) => {
  const l = makeLayers(t, [{ d: files(3, 'f') }]);
  let pid: number | undefined;
  cleanupMount(t, l.mnt, () => pid);
  const r = runNode(mainJs, ['mount', '-o', `lowerdir=${l.lowers[0]}`, l.mnt, '--print-pid']);
  t.is(r.code, 0, r.err);
  pid = Number(r.out);
  t.is(sh(`cat ${l.mnt}/d/f0 ${l.mnt}/d/f1 ${l.mnt}/d/f2`).out, 'f 0\nf 1\nf 2\n');
  const s = await settled(l.mnt);
  if (s.passthrough !== 1) return t.pass('no passthrough on this kernel');
  t.is(s.opensInC, 0);
  t.is(s.lowerFilesKnown, 0);
  t.true(s.backingOpens >= 3);
});
