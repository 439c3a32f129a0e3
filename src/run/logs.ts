// `strata logs`: what a detached container wrote (stdout and stderr, in one file).
import fs from 'node:fs';
import { UserError } from '../errors.js';
import { sleep } from './proc.js';
import { findContainer, layout, loadContainer } from './state.js';

/** Copies the log to OUT; with follow, keeps copying until the container is gone. */
export async function containerLogs(root: string, ref: string, out: NodeJS.WritableStream, follow = false): Promise<void> {
  const c = findContainer(root, ref);
  const file = layout(c.dir).log;
  if (!fs.existsSync(file)) {
    if (c.config.detach) return;
    throw new UserError(`container ${c.config.name} ran in the foreground: it has no logs`);
  }
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n > 0) {
        pos += n;
        if (!out.write(Buffer.from(buf.subarray(0, n)))) await new Promise((r) => out.once('drain', r));
        continue;
      }
      if (!follow) return;
      const now = loadContainer(c.dir);
      if (!now || now.status !== 'running') {
        // one last read: what it wrote just before it exited
        const more = fs.readSync(fd, buf, 0, buf.length, pos);
        if (more > 0) {
          pos += more;
          out.write(Buffer.from(buf.subarray(0, more)));
          continue;
        }
        return;
      }
      await sleep(100);
    }
  } finally {
    fs.closeSync(fd);
  }
}
