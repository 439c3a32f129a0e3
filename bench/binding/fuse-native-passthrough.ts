// The baseline of the binding micro-bench: a bare passthrough on fuse-native 2.2.6
// (libfuse 2, path based), with its default options, as a user of that library gets it.
//
//   node fuse-native-passthrough.js SOURCE MOUNTPOINT
import fs from 'node:fs';
import path from 'node:path';
import Fuse, { type FuseStat } from 'fuse-native';
import { unmount } from '../../src/fuse/unmount.js';

type Errno = { errno?: number };
// fuse-native wants negative errnos; node's errors carry them already negative
const err = (e: unknown): number => (e as Errno)?.errno ?? -5;

function toStat(st: fs.Stats): FuseStat {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    dev: st.dev,
    nlink: st.nlink,
    ino: st.ino,
    rdev: st.rdev,
    blksize: st.blksize,
    blocks: st.blocks,
    atime: st.atime,
    mtime: st.mtime,
    ctime: st.ctime,
  };
}

function main(argv: string[]): void {
  const [source, mountpoint] = argv;
  if (!source || !mountpoint) {
    process.stderr.write('usage: fuse-native-passthrough SOURCE MOUNTPOINT\n');
    process.exit(2);
  }
  const at = (p: string): string => path.join(source, p);
  const fuse = new Fuse(
    mountpoint,
    {
      getattr: (p, cb) => fs.lstat(at(p), (e, st) => (e ? cb(err(e)) : cb(0, toStat(st)))),
      fgetattr: (_p, fd, cb) => fs.fstat(fd, (e, st) => (e ? cb(err(e)) : cb(0, toStat(st)))),
      readdir: (p, cb) => fs.readdir(at(p), (e, names) => (e ? cb(err(e)) : cb(0, names))),
      open: (p, flags, cb) => fs.open(at(p), flags, (e, fd) => (e ? cb(err(e)) : cb(0, fd))),
      create: (p, mode, cb) =>
        fs.open(at(p), fs.constants.O_CREAT | fs.constants.O_RDWR, mode, (e, fd) => (e ? cb(err(e)) : cb(0, fd))),
      read: (_p, fd, buf, len, pos, cb) => fs.read(fd, buf, 0, len, pos, (e, n) => cb(e ? err(e) : n)),
      write: (_p, fd, buf, len, pos, cb) => fs.write(fd, buf, 0, len, pos, (e, n) => cb(e ? err(e) : n)),
      release: (_p, fd, cb) => fs.close(fd, (e) => cb(e ? err(e) : 0)),
      truncate: (p, size, cb) => fs.truncate(at(p), size, (e) => cb(e ? err(e) : 0)),
      ftruncate: (_p, fd, size, cb) => fs.ftruncate(fd, size, (e) => cb(e ? err(e) : 0)),
      unlink: (p, cb) => fs.unlink(at(p), (e) => cb(e ? err(e) : 0)),
      mkdir: (p, mode, cb) => fs.mkdir(at(p), { mode }, (e) => cb(e ? err(e) : 0)),
      rmdir: (p, cb) => fs.rmdir(at(p), (e) => cb(e ? err(e) : 0)),
      rename: (a, b, cb) => fs.rename(at(a), at(b), (e) => cb(e ? err(e) : 0)),
      utimens: (p, atime, mtime, cb) => fs.utimes(at(p), atime, mtime, (e) => cb(e ? err(e) : 0)),
      chmod: (p, mode, cb) => fs.chmod(at(p), mode, (e) => cb(e ? err(e) : 0)),
    },
    { fsname: 'fuse-native-passthrough' },
  );
  // fuse-native unmounts with libfuse 2's fusermount; umount2 is what the other contenders get
  const stop = (): void => {
    try {
      unmount(mountpoint, { lazy: true });
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  fuse.mount((e) => {
    if (e) {
      process.stderr.write(`fuse-native-passthrough: ${e.message}\n`);
      process.exit(1);
    }
    process.stdout.write('ready\n');
  });
}

main(process.argv.slice(2));
