// A one-line progress bar on stderr, drawn only when stdout is a terminal (quiet in scripts
// and tests), at most ten times a second, and once more, complete, at the end.
export interface Progress {
  update(done: number, total?: number): void;
  done(): void;
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
const WIDTH = 30;

export function progress(label: string, tty = process.stdout.isTTY === true): Progress {
  if (!tty) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let state: { done: number; total?: number } | undefined;
  const draw = (): void => {
    if (!state) return;
    const { done, total } = state;
    const bar =
      total && total > 0
        ? `[${'#'.repeat(Math.min(WIDTH, Math.round((done / total) * WIDTH))).padEnd(WIDTH)}] ${mib(Math.min(done, total))} / ${mib(total)}`
        : mib(done);
    process.stderr.write(`\r${label} ${bar}\x1b[K`);
  };
  return {
    update(done, total) {
      state = total === undefined ? { done } : { done, total };
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw();
    },
    done() {
      if (!state) return;
      if (state.total !== undefined) state.done = state.total;
      draw();
      process.stderr.write('\n');
    },
  };
}
