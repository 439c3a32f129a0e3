// Which inodes the session is told have no xattrs at all (settings.xattrCache), so that
// their GETXATTRs and LISTXATTRs are answered in C (native/src/session.c, noxattrs).
//
// `ls -l` asks security.selinux and system.posix_acl_access of every entry it lists, and
// getfattr, cp -a, tar and rsync -X ask more: answered in JS, those were two thirds of an
// `ls -l`'s requests and most of its daemon CPU. Finding out costs an llistxattr, so it is
// only done where xattrs are being asked: for an inode whose GETXATTR reached JS and found
// nothing, and for the entries handed to the kernel (lookup, readdirplus) of a directory in
// which that happened, lately or from then on, and of its subdirectories (ls -lR). A
// `find` or a stat walk asks no xattrs and pays no llistxattr.
//
// What is told holds until the session drops it itself (a SETXATTR, REMOVEXATTR or FORGET
// of the inode) or the node's real file changes (a copy-up: onRealFileChange): lower
// layers never change, and the upper only through the mount.
import type { Node, Union } from '../union/engine.js';
import type { XattrKnowledge } from './handlers.js';

/** unwatched directories whose entries handed out lately are remembered, and how many of each */
const RECENT_DIRS = 16;
const RECENT_ENTRIES = 4096;

export class XattrScout {
  private knowledge: XattrKnowledge | undefined;
  /** directories whose entries are checked as they are handed to the kernel */
  private readonly dirs = new Set<number>();
  /** entries lately handed out in directories not watched, checked at once should xattrs
   * be asked there after all: `ls -l` of a small directory gets every entry in the
   * listing's first reply, before its first GETXATTR */
  private readonly recent = new Map<number, number[]>();
  /** ids found to have none, told at flush() */
  private found = new Float64Array(256);
  private count = 0;

  constructor(private readonly u: Union) {
    u.onRealFileChange((id) => this.knowledge?.changed(id));
  }

  /** the session's knowledge (InitInfo.xattrs); without it the scout does nothing */
  init(k: XattrKnowledge | undefined): void {
    this.knowledge = k;
  }

  /** A GETXATTR or LISTXATTR of ino reached JS and found nothing: check the inode, and
   * its directory's entries from now on (and those it handed out lately). */
  askedNothing(ino: number): void {
    if (!this.knowledge) return;
    this.check(ino);
    const dir = this.u.parentOf(ino);
    if (dir && !this.dirs.has(dir.id)) {
      this.dirs.add(dir.id);
      for (const id of this.recent.get(dir.id) ?? []) {
        if (id === ino || !this.u.has(id)) continue;
        this.check(id);
        if (this.u.node(id).isDir) this.dirs.add(id);
      }
      this.recent.delete(dir.id);
    }
    this.flush();
  }

  /** an entry of dir about to be handed to the kernel (lookup, readdirplus); flush() before the reply */
  entry(dir: number, n: Node): void {
    if (!this.knowledge) return;
    if (this.dirs.has(dir)) {
      this.check(n.id);
      if (n.isDir) this.dirs.add(n.id);
      return;
    }
    let ids = this.recent.get(dir);
    if (!ids) {
      if (this.recent.size >= RECENT_DIRS) this.recent.delete(this.recent.keys().next().value!);
      this.recent.set(dir, (ids = []));
    }
    if (ids.length < RECENT_ENTRIES) ids.push(n.id);
  }

  /** tells the session what entry() found: before the reply that carries the entries */
  flush(): void {
    if (this.count === 0) return;
    this.knowledge?.none(this.found, this.count);
    this.count = 0;
  }

  /** the kernel forgot id (maybe for good) */
  forgot(id: number): void {
    if (this.u.has(id)) return;
    this.dirs.delete(id);
    this.recent.delete(id);
  }

  private check(id: number): void {
    if (!this.u.hasNoXattrs(id)) return;
    if (this.count === this.found.length) {
      const more = new Float64Array(this.found.length * 2);
      more.set(this.found);
      this.found = more;
    }
    this.found[this.count++] = id;
  }
}
