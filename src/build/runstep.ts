// RUN steps as containers of src/run: a record made from the step's layer dirs (no stored
// image behind it), started in the foreground with its output piped to the build; its
// upper dir is the step's layer, minus the paths the runtime itself wrote there.
import fs from 'node:fs';
import path from 'node:path';
import { createContainer, startForeground } from '../run/start.js';
import { forgetContainer } from '../run/forget.js';
import { runtimePaths } from '../run/diff.js';
import type { RunStepOptions, RunStepResult } from './builder.js';
import { LayerView } from './layerview.js';
import * as sys from '../sys/index.js';

// fuse-overlayfs marks a dir it makes opaque with the xattr, a .wh..wh..opq file, and a
// whiteout (char 0/0) named .wh..opq: that last one names no file of the image, and a
// layer tar cannot hold it (a `.wh.` name is a deletion there), so it stays out
const FUSE_OVERLAYFS_OPQ = '.wh..opq';

/** upper-dir paths (relative) of fuse-overlayfs's .wh..opq whiteouts */
function opaqueWhiteouts(upper: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of sys.readdirNames(path.join(upper, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    const st = sys.lstat(path.join(upper, r));
    if (sys.isDir(st.mode)) out.push(...opaqueWhiteouts(upper, r));
    else if (name === FUSE_OVERLAYFS_OPQ && sys.isChr(st.mode) && Number(st.rdev) === 0) out.push(r);
  }
  return out;
}

export function containerRunner(root: string): (o: RunStepOptions) => Promise<RunStepResult> {
  return async (o) => {
    const created = createContainer(
      { root, lowers: o.lowers, config: { config: {} } },
      { command: o.argv, env: o.env, workdir: o.workdir, user: o.user || undefined, network: o.network },
    );
    const record = { dir: created.layout.dir, config: created.config };
    try {
      // Docker makes a missing working directory for RUN; the runtime only enters it
      if (!new LayerView(o.lowers).isDir(o.workdir.slice(1))) fs.mkdirSync(path.join(created.layout.upper, o.workdir), { recursive: true, mode: 0o755 });
      const running = startForeground(root, created, { stdio: 'pipe' });
      running.child.stdin?.end();
      running.child.stdout?.on('data', o.onOutput);
      running.child.stderr?.on('data', o.onOutput);
      const exitCode = await running.exited;
      return {
        exitCode,
        upperDir: created.layout.upper,
        exclude: [...runtimePaths(created.config), ...opaqueWhiteouts(created.layout.upper)],
        release: () => forgetContainer(root, record),
      };
    } catch (e) {
      await forgetContainer(root, record).catch(() => undefined);
      throw e;
    }
  };
}
