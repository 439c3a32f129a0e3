// Uppers written by other implementations, read by the subject: the kernel's (whiteouts,
// opaque dirs, index), fuse-overlayfs's, and OCI-style `.wh.` markers in lower layers.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { diffSnapshots, snapshot, type Snapshot } from '../helpers/snapshot.js';
import { copyLayers, makeLayers } from '../helpers/layers.js';
import { mountUnion, scratchDir, subjectFromEnv, subjectUnavailable, unionDirs, type UnionKind } from '../helpers/union.js';
import { applyOp, listTree, nextOp, rng } from './ops.js';
import { knownTreeDivergence } from './known-divergences.js';

const subject = subjectFromEnv();
const unavailable = subjectUnavailable(subject);
const maybe = (title: string, fn: (t: ExecutionContext) => Promise<void> | void): void => {
  if (unavailable) test.skip(`${title} (${unavailable})`, () => {});
  else test(title, fn);
};

/** Ops that put each format feature into an upper: whiteouts, an opaque dir, a copied-up
 * hard link (index=on), a rename, xattrs. Best effort: random ops ran before and may have
 * moved things; the test checks afterwards that the features are there. */
function scriptedOps(root: string): void {
  const at = (p: string): string => path.join(root, p);
  const steps: (() => void)[] = [
    () => fs.unlinkSync(at('d2/h')),
    () => fs.rmSync(at('d3'), { recursive: true }),
    () => fs.mkdirSync(at('d3')),
    () => fs.writeFileSync(at('d3/after'), 'after\n'),
    () => fs.appendFileSync(at('b'), 'more\n'),
    () => fs.renameSync(at('a'), at('a-moved')),
    () => sys.lsetxattr(at('d1/keep'), 'user.added', Buffer.from('v')),
    () => fs.mkdirSync(at('gone')),
    () => fs.unlinkSync(at('s')),
    () => fs.symlinkSync('d1', at('s')),
  ];
  for (const step of steps) {
    try {
      step();
    } catch {
      // the random ops got there first
    }
  }
}

/** What an upper holds, by format feature. */
function features(upper: string): { whiteouts: number; opaque: number; ociMarkers: number } {
  const f = { whiteouts: 0, opaque: 0, ociMarkers: 0 };
  for (const [p, e] of Object.entries(snapshot(upper).entries)) {
    if (e.type === 'chr' && e.rdev === '0') f.whiteouts++;
    if (e.type === 'dir' && (e.xattrs['trusted.overlay.opaque'] || e.xattrs['user.fuseoverlayfs.opaque'])) f.opaque++;
    if (path.basename(p).startsWith('.wh.')) f.ociMarkers++;
  }
  return f;
}

function randomOps(root: string, seed: number, n: number): void {
  const rand = rng(seed);
  for (let i = 0; i < n; i++) applyOp(root, nextOp(rand, listTree(root)));
}

/** WRITER writes an upper over a copy of the lowers; the subject then mounts that upper
 * (and WRITER's workdir, which holds the kernel's index) and must show WRITER's tree. */
async function readsUpperOf(t: ExecutionContext, writer: UnionKind, seed: number): Promise<void> {
  const since = BigInt(Date.now() - 2000) * 1_000_000n;
  const dir = scratchDir(t);
  const lowers = copyLayers(makeLayers(path.join(dir, 'src')), dir, 'lowers');
  const w = unionDirs(dir, 'writer');
  const m = mountUnion(t, writer, { lowers, ...w });
  randomOps(w.mnt, seed, 150);
  scriptedOps(w.mnt);
  const written: Snapshot = snapshot(w.mnt);
  m.unmount();
  const r = unionDirs(dir, 'reader');
  mountUnion(t, subject, { lowers, upper: w.upper, work: w.work, mnt: r.mnt });
  const read = snapshot(r.mnt);
  // the subject's known quirks only; what the writer put in its upper is what it showed
  t.deepEqual(diffSnapshots(written, read, { recentNs: since, ignore: knownTreeDivergence(subject, t) }, [writer, subject]), []);
  const f = features(w.upper);
  t.log(`${writer}'s upper: ${JSON.stringify(f)}`);
  t.true(f.whiteouts > 0 && f.opaque > 0, `${writer}'s upper holds whiteouts and opaque dirs`);
  if (writer === 'kernel') t.true(fs.readdirSync(path.join(w.work, 'index')).length > 0, "the kernel's index holds the copied-up hard link");
}

maybe(`${subject} shows the tree the kernel wrote into an upper (whiteouts, opaque dirs, index)`, (t) => readsUpperOf(t, 'kernel', 11));
maybe(`${subject} shows the tree fuse-overlayfs wrote into an upper`, (t) => readsUpperOf(t, 'fuse-overlayfs', 12));

/** The overlay-form top lower rewritten in the OCI form: `.wh.NAME` files for whiteouts
 * and a `.wh..wh..opq` file in each opaque dir. */
function toOciForm(layer: string): void {
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const st = sys.lstat(p);
      if (sys.isChr(st.mode) && Number(st.rdev) === 0) {
        fs.unlinkSync(p);
        fs.writeFileSync(path.join(d, `.wh.${name}`), '');
      } else if (sys.isDir(st.mode)) {
        if (sys.lgetxattrIfExists(p, 'trusted.overlay.opaque')) {
          sys.lremovexattr(p, 'trusted.overlay.opaque');
          fs.writeFileSync(path.join(p, '.wh..wh..opq'), '');
        }
        walk(p);
        sys.lutimens(p, st.mtime, st.mtimeNsec, st.mtime, st.mtimeNsec);
      }
    }
  };
  const st = sys.lstat(layer);
  walk(layer);
  sys.lutimens(layer, st.mtime, st.mtimeNsec, st.mtime, st.mtimeNsec);
}

maybe(`${subject} honours and hides OCI-style .wh.NAME and .wh..wh..opq in lower layers`, (t) => {
  const dir = scratchDir(t);
  const src = makeLayers(path.join(dir, 'src'));
  const kLowers = copyLayers(src, dir, 'overlay-form');
  const oLowers = copyLayers(src, dir, 'oci-form');
  toOciForm(oLowers[0]!);
  t.true(fs.existsSync(path.join(oLowers[0]!, '.wh.gone')) && fs.existsSync(path.join(oLowers[0]!, 'd3/.wh..wh..opq')));
  const k = unionDirs(dir, 'kernel');
  const s = unionDirs(dir, 'subject');
  // read-only unions: what the layers say, nothing else
  mountUnion(t, 'kernel', { lowers: kLowers, mnt: k.mnt });
  mountUnion(t, subject, { lowers: oLowers, mnt: s.mnt });
  const want = snapshot(k.mnt);
  const got = snapshot(s.mnt);
  t.deepEqual(diffSnapshots(want, got, { ignore: knownTreeDivergence(subject, t) }, ['kernel (overlay form)', `${subject} (OCI form)`]), []);
  t.false(Object.keys(got.entries).some((p) => p.includes('.wh.')), 'no marker file shows');
});
