// Which open files the kernel serves itself (FUSE passthrough), and with which backing
// file. The kernel's rules (fs/fuse/iomode.c) shape this table:
// - a fuse inode has at most one backing file while any passthrough open of it lives; a
//   passthrough open with another backing id fails (EBUSY), so concurrent opens of one
//   inode share one registered id, counted here and closed with the last of them;
// - an inode is in one io mode at a time: while it has cached (daemon-served) opens, a
//   passthrough open fails (ETXTBSY), and while it has passthrough opens, a cached open
//   fails (EIO). So a new open follows the mode of the opens it joins.
// The daemon learns of a close only when RELEASE arrives, after the kernel dropped the
// file; so these counts are never below the kernel's, and following them never conflicts.
import * as sys from '../sys/index.js';
import type { BackingFiles } from './handlers.js';

interface Backing {
  id: number;
  /** dev:ino of the registered file: a node whose file changed must not reuse the id */
  key: sys.FileKey;
  refs: number;
}

interface InodeIo {
  cached: number;
  backing: Backing | undefined;
}

/** What one open file holds: released exactly once. */
export type OpenIo = { ino: number; backing: Backing | undefined };

export class BackingTable {
  private readonly inodes = new Map<number, InodeIo>();
  /** registrations that failed (say ELOOP: a backing file too deep in stacked filesystems) */
  failures = 0;

  constructor(private readonly files: BackingFiles, private readonly log: (line: string) => void) {}

  private io(ino: number): InodeIo {
    let s = this.inodes.get(ino);
    if (!s) this.inodes.set(ino, (s = { cached: 0, backing: undefined }));
    return s;
  }

  /** The mode of a new open of ino on fd: passthrough (with the id to reply) when wanted and
   * the inode's other opens allow it, else cached. knownKey: fd's file's dev:ino, when the
   * caller has just seen it (a create), instead of an fstat. */
  open(ino: number, fd: number, wanted: boolean, knownKey?: sys.FileKey): OpenIo {
    const s = this.io(ino);
    if (s.cached === 0) {
      const live = s.backing && s.backing.refs > 0 ? s.backing : undefined;
      // the key matters only to join or register a backing file: a cached open of a file
      // nobody serves through passthrough (a lower file of a writable union) needs no fstat
      const key = live || wanted ? (knownKey ?? keyOfFd(fd)) : undefined;
      // joining the inode's passthrough opens is always right when the file is the same. A
      // node whose file changed (a new file on a reused inode number) while the old one's
      // RELEASE is still on its way gets its own: the kernel dropped the old one already
      let b = live && live.key === key ? live : undefined;
      if (!b && (wanted || live) && key !== undefined) b = this.register(fd, key);
      if (b) {
        b.refs++;
        s.backing = b;
        return { ino, backing: b };
      }
      if (live) {
        // the kernel refuses a cached open of an inode in passthrough mode: say why
        this.log(`passthrough: inode ${ino} is open on another backing file; this open will fail`);
      }
    }
    s.cached++;
    return { ino, backing: undefined };
  }

  private register(fd: number, key: sys.FileKey): Backing | undefined {
    try {
      return { id: this.files.open(fd), key, refs: 0 };
    } catch (e) {
      if (this.failures++ === 0) this.log(`passthrough: backing file refused (${sys.errnoFrom(e)}); serving such files here`);
      return undefined;
    }
  }

  /** The end of an open (RELEASE, or a reply that never reached the kernel). */
  release(o: OpenIo): void {
    const s = this.inodes.get(o.ino);
    if (!s) return;
    const b = o.backing;
    if (b) {
      if (--b.refs === 0) {
        if (s.backing === b) s.backing = undefined;
        try {
          this.files.close(b.id);
        } catch {
          // the connection is gone, and every id with it
        }
      }
    } else if (s.cached > 0) s.cached--;
    if (s.cached === 0 && !s.backing) this.inodes.delete(o.ino);
  }
}

function keyOfFd(fd: number): sys.FileKey | undefined {
  try {
    const a = sys.fstat(fd);
    return sys.isReg(a.mode) ? sys.fileKey(a) : undefined;
  } catch {
    return undefined;
  }
}
