// `strata build` as a user runs it, on fresh real stores: reproducible with
// SOURCE_DATE_EPOCH or --timestamp (same image id and manifest digest, layer blobs alike),
// the failure-and-debug flow, and prune forgetting cache entries of removed images.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { ImageStore } from '../../src/image/store.js';
import { distDir } from '../helpers/daemon.js';
import { busyboxImage } from '../helpers/images.js';
import { tempDir } from '../helpers/tmp.js';
import './fixture.js';

const strata = (root: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [path.join(distDir, 'src/cli/main.js'), '--root', root, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });

/** a fresh store root holding busybox:latest (imported at a fixed time) */
async function freshRoot(t: ExecutionContext): Promise<string> {
  const root = path.join(tempDir(t, 'strata-build-root-'), 'root');
  await busyboxImage(t, new ImageStore(root));
  return root;
}

function context(t: ExecutionContext, dockerfile: string): string {
  const ctx = tempDir(t, 'strata-build-ctx-');
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile);
  fs.mkdirSync(path.join(ctx, 'p/d'), { recursive: true });
  fs.writeFileSync(path.join(ctx, 'p/d/f'), 'in a tar\n');
  fs.writeFileSync(path.join(ctx, 'app.sh'), 'echo app\n');
  const tar = spawnSync('tar', ['-czf', path.join(ctx, 'p.tar.gz'), '-C', path.join(ctx, 'p'), 'd']);
  if (tar.status !== 0) throw new Error('tar failed');
  fs.rmSync(path.join(ctx, 'p'), { recursive: true });
  return ctx;
}

const REPRO = 'FROM busybox\nCOPY app.sh /app/\nADD p.tar.gz /x/\nRUN echo built > /app/built && mkdir /app/dir && touch /app/dir/new\nENV A=1\n';

/** every entry's mtime (seconds) in a tar */
async function tarTimes(tarBytes: Buffer): Promise<number[]> {
  const out: number[] = [];
  const x = tar.extract();
  const done = (async () => {
    for await (const e of x) {
      out.push(Math.floor(e.header.mtime!.getTime() / 1000));
      e.resume();
    }
  })();
  x.end(tarBytes);
  await done;
  return out;
}

function built(root: string, id: string): { manifestDigest: string; layers: string[] } {
  const img = new ImageStore(root).resolveImage(id);
  return { manifestDigest: img.manifestDigest, layers: img.manifest.layers.map((l) => l.digest) };
}

test('SOURCE_DATE_EPOCH or --timestamp: two builds in fresh stores give the same image id and manifest digest', async (t) => {
  const ctx = context(t, REPRO);
  const [a, b, c] = await Promise.all([freshRoot(t), freshRoot(t), freshRoot(t)]);
  const ra = strata(a, ['build', '-q', ctx], { SOURCE_DATE_EPOCH: '1700000000' });
  t.is(ra.status, 0, ra.stderr);
  // a second later on the clock, the other way of giving the time
  await new Promise((r) => setTimeout(r, 1100));
  const rb = strata(b, ['build', '-q', '--timestamp', '2023-11-14T22:13:20Z', ctx]);
  t.is(rb.status, 0, rb.stderr);
  const id = ra.stdout.trim();
  t.regex(id, /^sha256:[0-9a-f]{64}$/);
  t.is(rb.stdout.trim(), id);
  t.deepEqual(built(b, id), built(a, id));
  t.is(new ImageStore(a).resolveImage(id).config.created, '2023-11-14T22:13:20.000Z');
  // the layers the build made: gzip header without a time, no entry time after the epoch
  const store = new ImageStore(a);
  const own = store.resolveImage(id).manifest.layers.slice(1);
  t.is(own.length, 3, 'COPY, ADD, RUN');
  for (const l of own) {
    const blob = fs.readFileSync(path.join(a, 'blobs/sha256', l.digest.slice(7)));
    t.is(blob.readUInt32LE(4), 0, 'gzip MTIME is 0');
    const times = await tarTimes(zlib.gunzipSync(blob));
    t.true(times.length > 0);
    t.true(times.every((s) => s <= 1700000000), times.join(' '));
  }
  const rc = strata(c, ['build', '-q', '--timestamp', '1700000001', ctx]);
  t.is(rc.status, 0, rc.stderr);
  t.not(rc.stdout.trim(), id, 'another time, another image');
});

test('a failing RUN names the step, exit status and output, and its last good image opens with strata run --rm', async (t) => {
  const root = await freshRoot(t);
  const ctx = context(t, 'FROM busybox\nRUN echo one > /one\nRUN echo "what went wrong"; exit 3\nRUN echo never\n');
  const r = strata(root, ['build', ctx]);
  t.is(r.status, 1);
  t.true(r.stdout.includes('Step 3/4 : RUN echo "what went wrong"; exit 3\nwhat went wrong\n'), r.stdout);
  const m = /^strata: step 3\/4 \(RUN echo "what went wrong"; exit 3\) failed: the command '\/bin\/sh -c echo "what went wrong"; exit 3' returned a non-zero code: 3; the last good image is ([0-9a-f]{12}): strata run -it \1 sh\n$/.exec(r.stderr);
  t.truthy(m, r.stderr);
  const debug = strata(root, ['run', '--rm', m![1]!, 'cat', '/one']);
  t.is(debug.stdout, 'one\n', debug.stderr);
  t.is(debug.status, 0);
  t.false(r.stdout.includes('never'));
});

test('strata prune drops build cache entries whose image was removed, and keeps the others', async (t) => {
  const root = await freshRoot(t);
  const ctx = context(t, 'FROM busybox\nCOPY app.sh /app/\nENV B=2\n');
  const first = strata(root, ['build', '-q', '-t', 'app', '-t', 'app:v1', ctx]);
  t.is(first.status, 0, first.stderr);
  t.deepEqual(new ImageStore(root).resolveImage('app').names.sort(), ['app:latest', 'app:v1'], '-t before the context, twice');
  const cacheDir = path.join(root, 'build-cache');
  t.is(fs.readdirSync(cacheDir).length, 2);
  const keep = JSON.parse(strata(root, ['prune', '--json']).stdout) as { buildCache: number };
  t.is(keep.buildCache, 0);
  t.is(fs.readdirSync(cacheDir).length, 2);
  // the final image and the COPY step's: both cache entries then point at removed images
  t.is(strata(root, ['rmi', 'app']).status, 0);
  t.is(strata(root, ['rmi', 'app:v1']).status, 0);
  for (const img of new ImageStore(root).listImages()) if (!img.names.length) t.is(strata(root, ['rmi', img.id]).status, 0);
  const pruned = JSON.parse(strata(root, ['prune', '--json']).stdout) as { buildCache: number };
  t.is(pruned.buildCache, 2);
  t.deepEqual(fs.readdirSync(cacheDir), []);
  const again = strata(root, ['build', ctx]);
  t.is(again.status, 0, again.stderr);
  t.false(again.stdout.includes('Using cache'), 'nothing is served from a removed image');
});
