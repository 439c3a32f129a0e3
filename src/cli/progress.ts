// A one-line progress bar on stderr, drawn only when stdout is a terminal (quiet in scripts
// and tests), at most ten times a second.
export interface Progress {
  update(done: number, total?: number): void;
  done(): void;
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

export function progress(label: string, tty = process.stdout.isTTY === true): Progress {
  if (!tty) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      drawn = true;
      const width = 30;
      const bar =
        total && total > 0
          ? `[${'#'.repeat(Math.min(width, Math.round((done / total) * width))).padEnd(width)}] ${mib(done)} / ${mib(total)}`
          : mib(done);
      process.stderr.write(`\r${label} ${bar}\x1b[K`);
    },
    done() {
      if (drawn) process.stderr.write('\n');
    },
  };
}
