// Timing and the small statistics a bench table needs.

/** Wall time of fn in seconds. */
export async function timed(fn: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2;
}

/** Samples per (row, contender), reduced to medians when printed. */
export class Samples {
  private readonly data = new Map<string, Map<string, number[]>>();

  add(row: string, contender: string, value: number): void {
    let byContender = this.data.get(row);
    if (!byContender) this.data.set(row, (byContender = new Map()));
    let xs = byContender.get(contender);
    if (!xs) byContender.set(contender, (xs = []));
    xs.push(value);
  }

  median(row: string, contender: string): number | undefined {
    return median(this.data.get(row)?.get(contender) ?? []);
  }

  /** half the range of the samples over their median (0.05: ±5%); none for one sample */
  spread(row: string, contender: string): number | undefined {
    const xs = this.data.get(row)?.get(contender) ?? [];
    const m = median(xs);
    if (xs.length < 2 || !m) return undefined;
    return (Math.max(...xs) - Math.min(...xs)) / 2 / m;
  }

  count(row: string, contender: string): number {
    return this.data.get(row)?.get(contender)?.length ?? 0;
  }
}

/** Three significant digits, no exponent for everyday magnitudes. */
export function sig3(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

export function formatSeconds(s: number): string {
  return s < 1 ? `${sig3(s * 1000)} ms` : `${sig3(s)} s`;
}

export function formatRatio(r: number): string {
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`;
}
