// What the kernel has mounted, from /proc/self/mountinfo.
import fs from 'node:fs';
import path from 'node:path';

export interface MountInfo {
  mountpoint: string;
  fstype: string;
  source: string;
  options: string;
}

// mountinfo escapes space, tab, newline and backslash as octal
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function listMounts(): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const g = post.split(' ');
    out.push({ mountpoint: unescape(f[4] ?? ''), fstype: g[0] ?? '', source: unescape(g[1] ?? ''), options: g[2] ?? '' });
  }
  return out;
}

/** The mount at exactly this path, if any (the last one wins, as the kernel shows it). */
export function mountAt(p: string): MountInfo | undefined {
  const abs = path.resolve(p);
  const all = listMounts().filter((m) => m.mountpoint === abs);
  return all[all.length - 1];
}
