// The operations of the differential test: a seeded generator and the code that performs
// one op on a mount and answers its errno. The same op stream goes to the kernel's overlay
// and to the subject, through one runner process each.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';

export type Op =
  | { op: 'create'; p: string; mode: number; len: number }
  | { op: 'write'; p: string; off: number; len: number }
  | { op: 'append'; p: string; len: number }
  | { op: 'truncate'; p: string; len: number }
  | { op: 'mkdir'; p: string; mode: number }
  | { op: 'rmdir'; p: string }
  | { op: 'unlink'; p: string }
  | { op: 'rename'; from: string; to: string; flags: 'none' | 'noreplace' | 'exchange' }
  | { op: 'link'; from: string; to: string }
  | { op: 'symlink'; target: string; p: string }
  | { op: 'chmod'; p: string; mode: number }
  | { op: 'chown'; p: string; uid: number; gid: number }
  | { op: 'utimens'; p: string; which: 'a' | 'm' | 'am'; sec: number; nsec: number }
  | { op: 'setxattr'; p: string; name: string; value: string }
  | { op: 'removexattr'; p: string; name: string }
  | { op: 'mkfifo'; p: string; mode: number }
  | { op: 'mknod'; p: string; major: number; minor: number }
  | { op: 'opentrunc'; p: string; len: number }
  | { op: 'unlinkopen'; p: string }
  | { op: 'read'; p: string };

export interface OpResult {
  errno: number;
  /** the rename came back EXDEV and the runner moved the tree by copy + remove instead */
  exdevFallback?: boolean;
  /** for read: sha-free short digest of what came back */
  data?: string;
}

/** mulberry32: small, seedable, same sequence in every process. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TreeEntry {
  p: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
}

// names that exist, are whited out or were opaque-hidden in the lowers, plus fresh ones
const NAMES = ['a', 'b', 'f', 'p', 'gone', 'x', 'old1', 'fresh', 'sub', 'n1', 'q', 'r', 'z1', 'z2', 'dd'];

/** The next op, chosen from the tree as the kernel's mount shows it now. */
export function nextOp(rand: () => number, tree: TreeEntry[], opts: { rootless?: boolean } = {}): Op {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (n: number): number => Math.floor(rand() * n);
  const dirs = ['', ...tree.filter((e) => e.type === 'dir').map((e) => e.p)];
  const files = tree.filter((e) => e.type === 'file').map((e) => e.p);
  const any = tree.map((e) => e.p);
  const join = (d: string, n: string): string => (d ? `${d}/${n}` : n);
  const fresh = (): string => join(pick(dirs), pick(NAMES));
  // mostly existing paths of the right kind, sometimes anything (errno paths matter too)
  const file = (): string => (files.length && rand() < 0.85 ? pick(files) : rand() < 0.5 && any.length ? pick(any) : fresh());
  const existing = (): string => (any.length && rand() < 0.85 ? pick(any) : fresh());
  const dir = (): string => (dirs.length > 1 && rand() < 0.85 ? pick(dirs.slice(1)) : existing());
  const mode = (): number => pick([0o644, 0o600, 0o755, 0o700, 0o444, 0o4755, 0o2750, 0o1777]);
  const ids = opts.rootless ? [0] : [0, 1000, 1001, 65534];
  const kind = int(100);
  if (kind < 10) return { op: 'create', p: fresh(), mode: mode() & 0o777, len: int(4000) };
  if (kind < 16) return { op: 'write', p: file(), off: int(5000), len: 1 + int(3000) };
  if (kind < 21) return { op: 'append', p: file(), len: 1 + int(200) };
  if (kind < 25) return { op: 'truncate', p: file(), len: int(6000) };
  if (kind < 32) return { op: 'mkdir', p: fresh(), mode: pick([0o755, 0o700, 0o750]) };
  if (kind < 37) return { op: 'rmdir', p: dir() };
  if (kind < 44) return { op: 'unlink', p: rand() < 0.8 ? file() : existing() };
  if (kind < 57) {
    const from = rand() < 0.6 ? existing() : dir();
    const to = rand() < 0.5 ? fresh() : existing();
    const flags = pick(['none', 'none', 'none', 'noreplace', 'exchange'] as const);
    return { op: 'rename', from, to, flags };
  }
  if (kind < 62) return { op: 'link', from: file(), to: fresh() };
  if (kind < 66) return { op: 'symlink', target: pick(['a', 'nowhere', 'd1/b2', 'sub', '.']), p: fresh() };
  if (kind < 72) return { op: 'chmod', p: existing(), mode: mode() };
  if (kind < 77) return { op: 'chown', p: existing(), uid: pick(ids), gid: pick(ids) };
  if (kind < 84) return { op: 'utimens', p: existing(), which: pick(['a', 'm', 'am'] as const), sec: 1_000_000_000 + int(300_000_000), nsec: int(1_000_000_000) };
  if (kind < 90) return { op: 'setxattr', p: existing(), name: pick(['user.color', 'user.k1', 'user.k2']), value: String(int(1000)) };
  if (kind < 94) return { op: 'removexattr', p: existing(), name: pick(['user.color', 'user.k1', 'user.dirattr', 'user.one']) };
  if (kind < 96) return { op: 'mkfifo', p: fresh(), mode: 0o644 };
  // a device node other than 0/0 (root only): must stay a device, never read as a whiteout
  if (kind < 97) return opts.rootless ? { op: 'mkfifo', p: fresh(), mode: 0o600 } : { op: 'mknod', p: fresh(), major: 1, minor: pick([3, 5]) };
  if (kind < 98) return rand() < 0.5 ? { op: 'opentrunc', p: file(), len: int(100) } : { op: 'unlinkopen', p: file() };
  return { op: 'read', p: file() };
}

export const describeOp = (o: Op): string => JSON.stringify(o);

// content depends on the op only, so both mounts write the same bytes
const bytes = (len: number, tag: string): Buffer => {
  const b = Buffer.alloc(len);
  let x = 7;
  for (const c of tag) x = (x * 31 + c.charCodeAt(0)) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    b[i] = 65 + ((x >>> 16) % 26);
  }
  return b;
};

function withFd(p: string, flags: number, mode: number, fn: (fd: number) => void): void {
  const fd = fs.openSync(p, flags | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK, mode);
  try {
    fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** What rename(2) would answer for a move of FROM onto TO, checked before the copy fallback. */
function renameTargetErrno(from: string, to: string, noreplace: boolean): number {
  const t = sys.lstatIfExists(to);
  if (!t) return 0;
  if (noreplace) return sys.E.EEXIST;
  const fromDir = sys.isDir(sys.lstat(from).mode);
  if (fromDir && !sys.isDir(t.mode)) return sys.E.ENOTDIR;
  if (!fromDir && sys.isDir(t.mode)) return sys.E.EISDIR;
  if (fromDir && fs.readdirSync(to).length > 0) return sys.E.ENOTEMPTY;
  return 0;
}

/** mv's answer to EXDEV: copy everything (cp -a), then remove the source. */
function moveByCopy(from: string, to: string, noreplace: boolean): OpResult {
  const err = renameTargetErrno(from, to, noreplace);
  if (err) return { errno: err, exdevFallback: true };
  if (sys.lstatIfExists(to)) fs.rmSync(to, { recursive: true });
  const r = spawnSync('cp', ['-a', '--preserve=all', '-T', from, to], { encoding: 'utf8' });
  if (r.status !== 0) return { errno: sys.E.EIO, exdevFallback: true };
  fs.rmSync(from, { recursive: true });
  return { errno: 0, exdevFallback: true };
}

/** Performs OP below ROOT; a failure becomes its errno, nothing is thrown. */
export function applyOp(root: string, o: Op): OpResult {
  const at = (p: string): string => path.join(root, p);
  try {
    switch (o.op) {
      case 'create':
        withFd(at(o.p), fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, o.mode, (fd) => fs.writeSync(fd, bytes(o.len, o.p)));
        break;
      case 'write':
        withFd(at(o.p), fs.constants.O_WRONLY, 0, (fd) => fs.writeSync(fd, bytes(o.len, `${o.p}@${o.off}`), 0, o.len, o.off));
        break;
      case 'append':
        withFd(at(o.p), fs.constants.O_WRONLY | fs.constants.O_APPEND, 0, (fd) => fs.writeSync(fd, bytes(o.len, `+${o.p}`)));
        break;
      case 'truncate':
        withFd(at(o.p), fs.constants.O_WRONLY, 0, (fd) => fs.ftruncateSync(fd, o.len));
        break;
      case 'mkdir':
        fs.mkdirSync(at(o.p), { mode: o.mode });
        break;
      case 'rmdir':
        fs.rmdirSync(at(o.p));
        break;
      case 'unlink':
        fs.unlinkSync(at(o.p));
        break;
      case 'rename': {
        const flags = o.flags === 'noreplace' ? sys.C.RENAME_NOREPLACE : o.flags === 'exchange' ? sys.C.RENAME_EXCHANGE : 0;
        try {
          sys.renameat2(at(o.from), at(o.to), flags);
        } catch (e) {
          if (sys.errnoFrom(e) === sys.E.EXDEV && o.flags !== 'exchange') return moveByCopy(at(o.from), at(o.to), o.flags === 'noreplace');
          throw e;
        }
        break;
      }
      case 'link':
        fs.linkSync(at(o.from), at(o.to));
        break;
      case 'symlink':
        fs.symlinkSync(o.target, at(o.p));
        break;
      case 'chmod':
        // follows symlinks, as chmod(2) does; the generator's targets are relative and stay inside
        fs.chmodSync(at(o.p), o.mode);
        break;
      case 'chown':
        sys.lchown(at(o.p), o.uid, o.gid);
        break;
      case 'utimens': {
        const omit = sys.C.UTIME_OMIT;
        sys.lutimens(at(o.p), o.sec, o.which.includes('a') ? o.nsec : omit, o.sec, o.which.includes('m') ? o.nsec : omit);
        break;
      }
      case 'setxattr':
        sys.lsetxattr(at(o.p), o.name, Buffer.from(o.value));
        break;
      case 'removexattr':
        sys.lremovexattr(at(o.p), o.name);
        break;
      case 'mkfifo':
        sys.mknod(at(o.p), sys.S_IFIFO | o.mode, 0);
        break;
      case 'mknod':
        sys.mknod(at(o.p), sys.S_IFCHR | 0o600, sys.makedev(o.major, o.minor));
        break;
      case 'opentrunc':
        withFd(at(o.p), fs.constants.O_WRONLY | fs.constants.O_TRUNC, 0, (fd) => fs.writeSync(fd, bytes(o.len, `t${o.p}`)));
        break;
      case 'unlinkopen': {
        // an open file outlives its name: fstat, write and read through the fd still work
        let data = '';
        withFd(at(o.p), fs.constants.O_RDWR, 0, (fd) => {
          fs.unlinkSync(at(o.p));
          fs.writeSync(fd, Buffer.from('still here'), 0, 10, 0);
          const b = Buffer.alloc(10);
          fs.readSync(fd, b, 0, 10, 0);
          const st = fs.fstatSync(fd);
          data = `${b.toString()} size=${st.size} nlink=${st.nlink}`;
        });
        return { errno: 0, data };
      }
      case 'read': {
        let data = '';
        withFd(at(o.p), fs.constants.O_RDONLY, 0, (fd) => {
          const b = Buffer.alloc(64);
          const n = fs.readSync(fd, b, 0, 64, 0);
          data = b.subarray(0, n).toString('latin1');
        });
        return { errno: 0, data };
      }
    }
    return { errno: 0 };
  } catch (e) {
    return { errno: sys.errnoFrom(e) };
  }
}

/** Every path below ROOT with a coarse type, for the generator. */
export function listTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(rel ? path.join(root, rel) : root, { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      const type = d.isDirectory() ? 'dir' : d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : 'other';
      out.push({ p, type });
      if (type === 'dir') walk(p);
    }
  };
  walk('');
  return out.sort((a, b) => (a.p < b.p ? -1 : 1));
}
