// trace=FILE: one line per copy-up, whiteout, opaque marking and EXDEV decision, with the
// layer names, so a reader can follow what the union did and why.
import fs from 'node:fs';

export type TraceKind = 'copy-up' | 'whiteout' | 'opaque' | 'exdev' | 'link-up';

export class Trace {
  constructor(private readonly file: string | undefined) {}

  event(kind: TraceKind, mergedPath: string, detail: string): void {
    if (!this.file) return;
    const line = `${new Date().toISOString()} ${kind} /${mergedPath} ${detail}\n`;
    try {
      fs.appendFileSync(this.file, line);
    } catch {
      // tracing must never fail a request
    }
  }
}
