// Per-blob progress: a bar each, redrawn in place, on a terminal; one line per finished
// blob otherwise (logs and pipes get no control sequences).
export interface ProgressBar {
  advance(bytes: number): void;
  done(status: string): void;
}

export interface Progress {
  bar(label: string, total: number): ProgressBar;
  /** redraws one last time and stops the timer */
  close(): void;
}

interface Line {
  label: string;
  total: number;
  current: number;
  status?: string;
}

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

class TtyProgress implements Progress {
  private readonly lines: Line[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WriteStream) {}

  bar(label: string, total: number): ProgressBar {
    const line: Line = { label, total, current: 0 };
    this.lines.push(line);
    this.draw();
    return {
      advance: (n) => {
        line.current += n;
        this.schedule();
      },
      done: (status) => {
        line.status = status;
        this.draw();
      },
    };
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  private render(l: Line): string {
    if (l.status) return `${l.label} ${l.status}`;
    const width = 30;
    const frac = l.total > 0 ? Math.min(1, l.current / l.total) : 0;
    const full = Math.round(frac * width);
    return `${l.label} [${'='.repeat(full)}${' '.repeat(width - full)}] ${human(l.current)} / ${human(l.total)}`;
  }

  private draw(): void {
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const l of this.lines) s += `\r\x1b[2K${this.render(l)}\n`;
    this.drawn = this.lines.length;
    this.out.write(s);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length) this.draw();
  }
}

class LineProgress implements Progress {
  constructor(private readonly out: NodeJS.WritableStream) {}
  bar(label: string): ProgressBar {
    return { advance: () => undefined, done: (status) => void this.out.write(`${label} ${status}\n`) };
  }
  close(): void {}
}

export const silentProgress: Progress = { bar: () => ({ advance: () => undefined, done: () => undefined }), close: () => undefined };

export function progressOn(out: NodeJS.WriteStream): Progress {
  return out.isTTY ? new TtyProgress(out) : new LineProgress(out);
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
