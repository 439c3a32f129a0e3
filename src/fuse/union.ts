// The FUSE adapter of the union engine: turns FuseHandlers calls into engine calls and
// engine nodes into kernel entries with long cache timeouts (every change goes through
// the mount, and lowers never change). The only union code that knows FUSE.
import type { Union, Node } from '../union/engine.js';
import * as sys from '../sys/index.js';
import type { FuseHandlers } from './handlers.js';
import type { DirEntry, EntryParam, RequestContext } from './native.js';

/** With the kernel's writeback cache the kernel reads pages of write-only files and does
 * O_APPEND itself: the backing fd must be readable and must not append on its own. */
function writebackFlags(flags: number): number {
  const acc = flags & 0o3;
  const f = flags & ~sys.O.O_APPEND;
  return acc === sys.O.O_WRONLY ? (f & ~0o3) | sys.O.O_RDWR : f;
}

// The room an entry takes in a readdir reply (linux/fuse.h: FUSE_DIRENT_ALIGN of the
// name's offset plus its length): struct fuse_dirent is 24 bytes before the name, and a
// readdirplus entry has a 128-byte struct fuse_entry_out before that.
const align8 = (n: number): number => (n + 7) & ~7;
const direntSize = (name: string): number => align8(24 + Buffer.byteLength(name));
const direntPlusSize = (name: string): number => align8(152 + Buffer.byteLength(name));

export function unionHandlers(u: Union, opts: { writeback?: boolean } = {}): FuseHandlers {
  const t = u.timeout;
  let writeback = opts.writeback ?? false;
  const fixFlags = (flags: number): number => (writeback ? writebackFlags(flags) : flags);
  const fds = new Map<number, number>();
  let nextFh = 1;
  const entry = (n: Node, attr = u.getattr(n.id)): EntryParam => ({ ino: n.id, attr, attrTimeout: t, entryTimeout: t });
  const looked = (parent: number, name: string): EntryParam => {
    const { node, attr } = u.lookupEntry(parent, name);
    return entry(node, attr);
  };
  const caller = (ctx: RequestContext): { uid: number; gid: number; umask: number } => ({ uid: ctx.uid, gid: ctx.gid, umask: ctx.umask });
  const handle = (fd: number): number => {
    const fh = nextFh++;
    fds.set(fh, fd);
    return fh;
  };
  const fdOf = (fh: number | undefined): number | undefined => (fh === undefined ? undefined : fds.get(fh));

  return {
    init(info) {
      writeback = writeback && info.writeback;
    },
    lookup(parent, name) {
      // a negative entry the kernel may cache: lowers never change, the upper only through us
      const negative = { ino: 0, entryTimeout: t };
      try {
        const found = u.lookupEntryIfExists(parent, name);
        return found ? entry(found.node, found.attr) : negative;
      } catch (e) {
        if (sys.hasErrno(e, sys.E.ENOENT)) return negative; // e.g. a parent with no name left
        throw e;
      }
    },
    forget: (ino, n) => u.forget(ino, n),
    getattr: (ino, fh) => ({ attr: u.getattr(ino, fdOf(fh)), timeout: t }),
    async setattr(ino, set) {
      return { attr: await u.setattr(ino, set), timeout: t };
    },
    readlink: (ino) => u.readlink(ino),
    mknod: async (parent, name, mode, rdev, ctx) => entry(await u.mknod(parent, name, mode, rdev, caller(ctx))),
    mkdir: async (parent, name, mode, ctx) => entry(await u.mkdir(parent, name, mode, caller(ctx))),
    symlink: async (parent, name, target, ctx) => entry(await u.symlink(parent, name, target, caller(ctx))),
    link: async (ino, newParent, newName) => entry(await u.link(ino, newParent, newName)),
    unlink: (parent, name) => u.unlink(parent, name),
    rmdir: (parent, name) => u.rmdir(parent, name),
    rename: (parent, name, newParent, newName, flags) => u.rename(parent, name, newParent, newName, flags),
    async open(ino, flags) {
      const fd = await u.open(ino, fixFlags(flags));
      return { fh: handle(fd), backingFd: fd, keepCache: true };
    },
    async create(parent, name, mode, flags, ctx) {
      const { node, fd } = await u.create(parent, name, mode, fixFlags(flags), caller(ctx));
      return { entry: entry(node), fh: handle(fd), backingFd: fd, keepCache: true };
    },
    release(ino, fh, _flags, backingFd) {
      const fd = fds.get(fh) ?? backingFd;
      fds.delete(fh);
      if (fd >= 0) u.close(ino, fd);
    },
    opendir: (ino) => ({ fh: u.opendir(ino), keepCache: true, cacheReaddir: true }),
    readdir(ino, fh, offset, plus, size) {
      const out: DirEntry[] = [];
      // '.' and '..' both show this directory's attr: one stat per reply, not one per entry
      let dirAttr: sys.Attr | undefined;
      // only what fits in the kernel's buffer: each readdirplus entry costs a lookup, and
      // one the reply has no room for is thrown away (the kernel asks again from its offset)
      const budget = { bytes: size > 0 ? size : 4096, size: plus ? direntPlusSize : direntSize };
      for (const e of u.readdir(fh, offset, plus ? 256 : 1024, !plus, budget)) {
        if (!plus) {
          out.push({ name: e.name, off: e.off, ino: e.ino, mode: e.type });
          continue;
        }
        if (e.name === '.' || e.name === '..') {
          out.push({ name: e.name, off: e.off, entry: { ino: 0, attr: { ...(dirAttr ??= u.getattr(ino)), ino: e.ino } } });
          continue;
        }
        try {
          out.push({ name: e.name, off: e.off, entry: looked(ino, e.name) });
        } catch {
          // gone since the listing was taken: the kernel skips an entry with no inode
          out.push({ name: e.name, off: e.off, entry: { ino: 0 } });
        }
      }
      return out;
    },
    releasedir: (_ino, fh) => u.releasedir(fh),
    fsyncdir: () => undefined,
    statfs: () => u.statfs(),
    setxattr: (ino, name, value, flags) => u.setxattr(ino, name, value, flags),
    getxattr: (ino, name) => u.getxattr(ino, name),
    listxattr: (ino) => u.listxattr(ino),
    removexattr: (ino, name) => u.removexattr(ino, name),
  };
}
