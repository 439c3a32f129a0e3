// One temp dir per bench run, and everything mounted in it: removed at the end, also on
// Ctrl-C or a failure, so a bench run leaves nothing behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class Workspace {
  readonly dir: string;
  private readonly cleanups = new Map<number, () => Promise<void>>();
  private nextId = 0;
  private counter = 0;

  constructor(prefix = 'strata-bench-') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  /** A fresh directory under the workspace. */
  fresh(name: string): string {
    const p = path.join(this.dir, `${name}-${++this.counter}`);
    fs.mkdirSync(p, { recursive: true });
    return p;
  }

  /** Registers an undo (an unmount) to run at dispose if nobody ran it first. */
  defer(undo: () => Promise<void>): () => Promise<void> {
    const id = this.nextId++;
    let done = false;
    const once = async (): Promise<void> => {
      if (done) return;
      done = true;
      this.cleanups.delete(id);
      await undo();
    };
    this.cleanups.set(id, once);
    return once;
  }

  async dispose(): Promise<void> {
    for (const undo of [...this.cleanups.values()].reverse()) {
      try {
        await undo();
      } catch (e) {
        process.stderr.write(`bench: cleanup: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
