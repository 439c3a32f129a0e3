// RUN steps as containers of src/run: a record made from the step's layer dirs (no stored
// image behind it), started in the foreground with its output piped to the build; its
// upper dir is the step's layer, minus the paths the runtime itself wrote there.
import fs from 'node:fs';
import path from 'node:path';
import { createContainer, startForeground } from '../run/start.js';
import { forgetContainer } from '../run/forget.js';
import { runtimePaths } from '../run/diff.js';
import { mountProgramMarkers } from '../run/layers.js';
import type { RunStepOptions, RunStepResult } from './builder.js';
import { LayerView } from './layerview.js';

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
        exclude: [...runtimePaths(created.config), ...mountProgramMarkers(created.layout.upper)],
        release: () => forgetContainer(root, record),
      };
    } catch (e) {
      await forgetContainer(root, record).catch(() => undefined);
      throw e;
    }
  };
}
