// The op runner: one process per union, reading one JSON request a line on stdin and
// answering one JSON line on stdout. Root tests start it plainly; rootless tests start it
// as nobody inside `unshare -Urm`, where it also builds the layers and mounts.
//
//   node runner.js      (requests: op, list, snapshot, mklayers, copy, mkdirs, mount, umount)
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { applyOp, listTree, type Op } from './ops.js';
import { snapshot, type SnapshotOptions } from '../helpers/snapshot.js';
import { copyLayers, makeLayers } from '../helpers/layers.js';
import { mountUnionNow, type MountedUnion, type UnionKind, type UnionSpec } from '../helpers/union.js';

export type Request =
  | { cmd: 'op'; root: string; op: Op }
  | { cmd: 'list'; root: string }
  | { cmd: 'snapshot'; root: string; opts?: SnapshotOptions }
  | { cmd: 'mklayers'; dir: string; userxattr?: boolean }
  | { cmd: 'copy'; layers: string[]; dir: string; name: string }
  | { cmd: 'mount'; kind: UnionKind; spec: UnionSpec }
  | { cmd: 'umount'; mnt: string; wait?: boolean }
  | { cmd: 'mkdirs'; paths: string[] };

const mounted = new Map<string, MountedUnion>();

function handle(r: Request): unknown {
  switch (r.cmd) {
    case 'op': return applyOp(r.root, r.op);
    case 'list': return listTree(r.root);
    case 'snapshot': return snapshot(r.root, r.opts);
    case 'mklayers': return makeLayers(r.dir, { userxattr: r.userxattr });
    case 'copy': return copyLayers(r.layers, r.dir, r.name);
    case 'mount': {
      mounted.set(r.spec.mnt, mountUnionNow(r.kind, r.spec));
      return true;
    }
    case 'mkdirs':
      for (const p of r.paths) fs.mkdirSync(p, { recursive: true });
      return true;
    case 'umount': {
      mounted.get(r.mnt)?.unmount({ wait: r.wait });
      mounted.delete(r.mnt);
      return true;
    }
  }
}

const unmountAll = (): void => {
  for (const m of [...mounted.values()].reverse()) m.unmount();
  mounted.clear();
};

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let reply: { ok: true; value: unknown } | { ok: false; error: string };
  try {
    reply = { ok: true, value: handle(JSON.parse(line) as Request) };
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
// stdin closing (the test ended, passed or not) takes our mounts down with us
rl.on('close', () => {
  unmountAll();
  process.exit(0);
});
process.on('SIGTERM', () => {
  unmountAll();
  process.exit(0);
});
