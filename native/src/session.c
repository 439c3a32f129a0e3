/* A libfuse3 low-level session served by JS.
 *
 * Two loops serve /dev/fuse:
 * - js (the default): the JS thread reads /dev/fuse itself, nonblocking, from a uv_poll
 *   on Node's event loop, and calls the request kind's JS function directly. A metadata request costs one
 *   thread wake-up (the daemon's), as in fuse-overlayfs; on this kind of VM a wake-up is
 *   most of a round trip. The data plane must then never block the event loop on disk:
 *   a READ is tried with RWF_NOWAIT (page-cache hits answered at once; by splice when
 *   cachestat finds its pages there, see "spliced READ replies") and otherwise,
 *   like fsync, fallocate, copy_file_range and writes that would block, handed to a small
 *   pool of threads that answer the kernel themselves (see "the pool" below).
 * - threads: libfuse's worker threads read /dev/fuse; each request is copied into a
 *   request_t and queued to the JS thread through a threadsafe function (two wake-ups per
 *   metadata request). The data plane runs in the workers. Kept for A/B and as a fallback
 *   (settings.loop = 'threads', or STRATA_FUSE_LOOP=threads, read in session.ts).
 * Either way JS answers whenever it likes through the reply* functions (libfuse replies
 * are thread safe).
 *
 * Lifetime: the session is destroyed only when its loop has ended and every request
 * handed to JS has been answered, so a late reply never touches freed memory. A request
 * object that JS drops without answering is answered EIO when the GC collects it. */
#include "inoset.h"
#include "lowerfiles.h"
#include "napi_util.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Kernel FUSE passthrough (Linux 6.9, protocol 7.40). Debian 12's headers (7.38) and
 * libfuse 3.14 know nothing of it, so the few ABI pieces are spelled out here. */
#define STRATA_FUSE_PASSTHROUGH_FLAGS2 (1u << (37 - 32)) /* FUSE_PASSTHROUGH, in flags2 */
#define STRATA_FOPEN_PASSTHROUGH (1u << 7)
#define STRATA_FUSE_INIT_EXT (1u << 30)
struct strata_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
#define STRATA_FUSE_DEV_IOC_BACKING_OPEN _IOW(229, 1, struct strata_backing_map)
#define STRATA_FUSE_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)
/* fuse_init_out up to max_stack_depth (the 7.38 header calls it unused[0]) */
#define INIT_OUT_FLAGS2_OFF offsetof(struct fuse_init_out, flags2)
#define INIT_OUT_STACK_DEPTH_OFF (offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t))
/* fuse_open_out with backing_id where the 7.38 header has padding */
struct strata_open_out {
  uint64_t fh;
  uint32_t open_flags;
  int32_t backing_id;
};

typedef struct session {
  struct fuse_session *se;
  napi_threadsafe_function tsfn; /* threads loop */
  pthread_t thread;
  bool thread_started;
  /* mount()'s serves: the JS function of each kind of request (and event), by op. One
   * function per kind rather than one shared dispatch: V8 compiles each with the type
   * feedback of its own kind (a shared one compiled early, on little feedback, was
   * deoptimized and compiled again as new kinds came: +8% instructions on a first make) */
  napi_ref serve_refs[OP_COUNT];
  /* js loop: the async context its calls run in */
  bool js_loop;
  napi_env env;
  napi_ref resource_ref;
  napi_async_context async_ctx;
  uv_poll_t *poll;
  uv_async_t *wake; /* a pool worker tells an exiting session its last item is done */
  struct fuse_buf rbuf; /* the JS thread's receive buffer, kept from request to request */
  /* pool items not answered yet, and whether the session waits for them to end */
  pthread_mutex_t pool_lock;
  int64_t pool_pending;
  bool exiting;
  /* settings applied at init */
  unsigned max_write, max_readahead, max_threads;
  bool writeback, readdirplus, readdirplus_auto, parallel_dirops, cache_symlinks, splice;
  bool splice_read; /* READ replies of backing files by splice (see "spliced READ replies") */
  /* passthrough: asked for by JS (which knows whether it may open backing files), offered
   * by the kernel (seen in INIT), agreed in our INIT reply (which then drops writeback) */
  bool passthrough_wanted;
  unsigned max_stack_depth;
  atomic_bool kernel_passthrough, passthrough;
  atomic_uint_fast64_t backing_opens, backing_open;
  /* JS thread only */
  int64_t outstanding;
  bool loop_done, destroyed;
  int loop_result;
  /* counters for tests and `explain`: updated by worker threads */
  atomic_uint_fast64_t writes, write_bytes, max_write_seen, reads, read_bytes, js_requests, flushes;
  /* READs answered by splice, and those that tried and were copied after all */
  atomic_uint_fast64_t spliced_reads, splice_fallbacks;
  /* js loop: data-plane requests answered on the JS thread without blocking, and handed
   * to the pool; loop wake-ups (poll callbacks) and requests read in them. Only the JS
   * thread touches these (the pool's items are counted when submitted): no atomics. */
  uint64_t inline_ops, pool_ops, wakeups, received;
  /* js loop: busy polling (see "the js loop"): the setting, in ns; when the loop last went
   * back to epoll; whether the gap before the last wake-up was shorter than the window;
   * polls made and those that found a request; the last 8 polls (bit set: found), and a
   * count of the polls the history skipped (every 8th goes ahead) */
  uint64_t spin_ns, idle_since_ns;
  bool spin_pays;
  uint64_t spins, spin_hits;
  uint8_t spin_history, spin_skipped;
  /* settings.capsCache: inodes known to have no security.capability. The kernel asks for
   * it before every write(2) and chown(2) of a file (file_remove_privs, notify_change): a
   * GETXATTR round trip to JS each, over a quarter of an untar's requests. JS's ENODATA
   * answer is kept (and a file CREATE made has none), until a SETXATTR or REMOVEXATTR of
   * the inode or its FORGET; then asked again. Sound for a filesystem whose xattrs change
   * only through the mount. Locked: worker threads (threads loop) ask it too. */
  bool caps_cache;
  pthread_mutex_t xattr_lock;
  /* settings.noFlush: FLUSH is answered ENOSYS, after which the kernel sends none on this
   * connection (fc->no_flush; it still writes dirty pages back at close). For an upper on
   * a filesystem without a ->flush (ext4, xfs, btrfs, tmpfs), where the dup+close below
   * can report nothing: one round trip less per close of a written file, as fuse-overlayfs
   * (which implements no flush). */
  bool no_flush;
  /* attrFd: GETATTRs answered in C by an fstat of an fd JS handed over for an inode whose
   * attr the mount shows exactly as its real file's (see js_attr_fd). Direct-mapped by
   * inode: a newcomer closes the fd it displaces (a miss goes to JS, as always). */
#define ATTR_FDS 256
  struct { uint64_t ino; int fd; } attr_fds[ATTR_FDS];
  double attr_fd_timeout;
  pthread_mutex_t attr_lock;
  atomic_uint_fast64_t attrs_answered;
  ino_set_t nocaps;
  atomic_uint_fast64_t caps_answered;
  /* settings.xattrCache: inodes known to have no xattrs at all, as JS found them
   * (xattrsNone). `ls -l` asks security.selinux and system.posix_acl_access of every entry
   * (and getfattr, cp -a, tar and rsync ask more): a GETXATTR round trip to JS each, twice
   * the requests of the listing and its lookups. GETXATTR of a name in one of the kernel's
   * four namespaces is then answered ENODATA here and LISTXATTR an empty list (any other
   * name is no real xattr: JS's virtual ones, strata.session and strata.explain, go to JS).
   * Dropped as nocaps is (SETXATTR, REMOVEXATTR, FORGET; one lock for both), and when JS says
   * the inode's real file changed (a copy-up: xattrsChanged). */
  bool xattr_cache;
  ino_set_t noxattrs;
  atomic_uint_fast64_t xattrs_answered;
  /* Lower files: read-only OPENs answered here (see "lower files" below). JS tells the
   * lower path of an inode whose content is a lower file (lowerFile); an OPEN of it for
   * reading is then opened here, with no JS request for it or its RELEASE. The table also
   * holds the fds opened so, for the copy-up (lowerFileCopiedUp). Locked: worker threads
   * (threads loop) open too. */
  pthread_mutex_t lower_lock;
  lower_files_t lower_files;
  atomic_uint_fast64_t opens_in_c, lower_fds_swapped;
  /* the INIT exchange, seen by the custom io below */
  atomic_uint_fast64_t init_unique;
  atomic_bool kernel_parallel_dirops;
} session_t;

typedef struct handle { /* fi->fh of an open file */
  uint64_t fh;          /* JS's handle */
  int fd;               /* backing fd served here, or -1 */
  /* js loop: the backing fd is O_DIRECT (reads go to the pool: RWF_NOWAIT and O_DIRECT
   * do not mix well, and the page cache is not involved anyway); RWF_NOWAIT was refused
   * (EOPNOTSUPP: a filesystem without it), so the attempt is not repeated */
  bool direct, no_nowait_read, no_nowait_write;
  /* the backing file refused splice or cachestat (a filesystem without splice_read): its
   * READs are copied from then on */
  bool no_splice;
  /* js loop: reads left to send straight to the pool after a RWF_NOWAIT miss. A miss
   * starts readahead on the backing file and the pool's read then waits on it: tried on
   * every READ of a file read cold, that cost 2.4x in sequential cold reads (512 MiB,
   * 1.33 s against 551 ms on the threaded loop). A file being read cold stays cold for a
   * while; one being re-read hits again once retried. */
  unsigned nowait_skip;
  /* opened here on a lower file (see "lower files"): released here, JS never knew it */
  bool lower;
} handle_t;

typedef struct request {
  int op;
  fuse_req_t req;
  session_t *s;
  bool replied;
  uint64_t ino, ino2;
  char *name, *name2;
  int64_t a, b, c, d;
  uint64_t fh, fh2;
  bool has_fh;
  struct stat attr;
  int to_set;
  char *data;
  size_t len;
  size_t size; /* what the kernel asked for: read, readdir, getxattr, listxattr */
  bool caps_query; /* a GETXATTR of security.capability whose ENODATA capsCache keeps */
  uint64_t *forgets; /* ino, nlookup pairs */
  size_t nforgets;
  uid_t uid;
  gid_t gid;
  pid_t pid;
  mode_t umask;
} request_t;

static request_t *new_request(int op, fuse_req_t req) {
  request_t *r = calloc(1, sizeof *r);
  r->op = op;
  r->req = req;
  if (req) {
    r->s = fuse_req_userdata(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    r->uid = ctx->uid;
    r->gid = ctx->gid;
    r->pid = ctx->pid;
    r->umask = ctx->umask;
  }
  return r;
}

static void free_request_fields(request_t *r) {
  free(r->name);
  free(r->name2);
  free(r->data);
  free(r->forgets);
  r->name = r->name2 = r->data = NULL;
  r->forgets = NULL;
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data);
static void attr_fds_close(session_t *s);

/* the serves' references go when nothing can call them any more */
static void serves_unref(napi_env env, session_t *s) {
  for (int op = 0; op < OP_COUNT; op++) {
    if (s->serve_refs[op]) napi_delete_reference(env, s->serve_refs[op]);
    s->serve_refs[op] = NULL;
  }
}

static void submit(session_t *s, request_t *r) {
  if (r->req) atomic_fetch_add(&s->js_requests, 1);
  if (s->js_loop) {
    /* on the JS thread, inside the poll callback's handle and callback scopes */
    call_js(s->env, NULL, s, r);
    return;
  }
  if (napi_call_threadsafe_function(s->tsfn, r, napi_tsfn_nonblocking) != napi_ok) {
    if (r->req) fuse_reply_err(r->req, EIO);
    free_request_fields(r);
    free(r);
  }
}

static bool pool_idle(session_t *s) {
  pthread_mutex_lock(&s->pool_lock);
  bool idle = s->pool_pending == 0;
  pthread_mutex_unlock(&s->pool_lock);
  return idle;
}

/* js loop: the last napi pieces go once the loop is past every callback using them */
static void wake_closed(uv_handle_t *h) {
  session_t *s = h->data;
  free(h);
  s->wake = NULL;
  serves_unref(s->env, s);
  napi_delete_reference(s->env, s->resource_ref);
  napi_async_destroy(s->env, s->async_ctx);
}

static void maybe_destroy(session_t *s) {
  if (s->destroyed || !s->loop_done || s->outstanding > 0) return;
  /* a pool item answers through the session: it must outlive them (a worker that
   * finishes the last one while the session exits wakes the JS thread to come back) */
  if (!pool_idle(s)) return;
  s->destroyed = true;
  ino_set_free(&s->nocaps);
  ino_set_free(&s->noxattrs);
  attr_fds_close(s);
  lower_files_free(&s->lower_files);
  fuse_session_destroy(s->se);
  s->se = NULL;
  if (s->js_loop) {
    free(s->rbuf.mem);
    s->rbuf.mem = NULL;
    uv_close((uv_handle_t *)s->wake, wake_closed);
  } else {
    serves_unref(s->env, s); /* the loop's EXIT was the last call */
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  }
}

/* Marks a request answered; returns false (and throws) when it already was. */
static bool take_request(napi_env env, napi_value v, request_t **out) {
  request_t *r = NULL;
  if (napi_get_value_external(env, v, (void **)&r) != napi_ok || !r) {
    napi_throw_type_error(env, "EINVAL", "not a FUSE request");
    return false;
  }
  if (r->replied || !r->req) {
    napi_throw_error(env, "EALREADY", "FUSE request already answered");
    return false;
  }
  *out = r;
  return true;
}

static void done_request(request_t *r) {
  r->replied = true;
  r->req = NULL;
  r->s->outstanding--;
  maybe_destroy(r->s);
}

static void finalize_request(napi_env env, void *data, void *hint) {
  request_t *r = data;
  if (!r->replied && r->req) {
    fuse_reply_err(r->req, EIO);
    done_request(r);
  }
  free_request_fields(r);
  free(r);
}

/* ---------------------------------------------------------------- worker side */

static void ll_init(void *userdata, struct fuse_conn_info *conn) {
  session_t *s = userdata;
  if (s->max_write) conn->max_write = s->max_write;
  if (s->max_readahead) conn->max_readahead = s->max_readahead;
  /* The kernel clears suid/sgid on write itself: our writes run as root and would not. */
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  /* The kernel enables passthrough only when the INIT reply has no writeback cache: the
   * two designs do not mix (fs/fuse/inode.c). io_writev adds the flag to the reply. */
  bool passthrough = s->passthrough_wanted && atomic_load(&s->kernel_passthrough);
  atomic_store(&s->passthrough, passthrough);
  if (passthrough) conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  else if (s->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  if (!s->readdirplus) conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  else if (!s->readdirplus_auto) conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  if (!s->parallel_dirops) conn->want &= ~FUSE_CAP_PARALLEL_DIROPS;
  if (s->cache_symlinks && (conn->capable & FUSE_CAP_CACHE_SYMLINKS)) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (!s->splice) conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  request_t *r = new_request(OP_INIT, NULL);
  r->s = s;
  r->a = conn->max_write;
  r->b = conn->want;
  r->c = conn->max_readahead;
  r->d = conn->capable;
  r->size = passthrough;
  submit(s, r);
}

/* capsCache (see session_t): a no-op unless the setting is on */
static bool caps_known_none(session_t *s, uint64_t ino) {
  pthread_mutex_lock(&s->xattr_lock);
  bool none = ino_set_has(&s->nocaps, ino);
  pthread_mutex_unlock(&s->xattr_lock);
  return none;
}

static void caps_none(session_t *s, uint64_t ino) {
  if (!s->caps_cache) return;
  pthread_mutex_lock(&s->xattr_lock);
  ino_set_add(&s->nocaps, ino); /* out of memory: not kept, asked again */
  pthread_mutex_unlock(&s->xattr_lock);
}

/* what is known of ino's xattrs no longer holds: its xattrs changed, or its number went */
static void xattrs_forget(session_t *s, uint64_t ino) {
  if (!s->caps_cache && !s->xattr_cache) return;
  pthread_mutex_lock(&s->xattr_lock);
  ino_set_del(&s->nocaps, ino);
  ino_set_del(&s->noxattrs, ino);
  pthread_mutex_unlock(&s->xattr_lock);
}

/* xattrCache (see session_t): a no-op unless the setting is on */
static bool xattrs_known_none(session_t *s, uint64_t ino) {
  if (!s->xattr_cache) return false;
  pthread_mutex_lock(&s->xattr_lock);
  bool none = ino_set_has(&s->noxattrs, ino);
  pthread_mutex_unlock(&s->xattr_lock);
  return none;
}

/* a name a real file may carry: one of the kernel's xattr namespaces (xattr.c) */
static bool real_xattr_name(const char *name) {
  return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 || strncmp(name, "security.", 9) == 0 ||
         strncmp(name, "system.", 7) == 0;
}

/* attrFd (see session_t): the fd kept for ino, closed and dropped */
static void attr_fd_drop(session_t *s, uint64_t ino) {
  pthread_mutex_lock(&s->attr_lock);
  size_t i = ino % ATTR_FDS;
  if (s->attr_fds[i].ino == ino && ino != 0) {
    close(s->attr_fds[i].fd);
    s->attr_fds[i].ino = 0;
  }
  pthread_mutex_unlock(&s->attr_lock);
}

/* Answers a GETATTR from the fd kept for ino; false when there is none (or its fstat
 * failed): then JS answers. */
static bool attr_fd_answer(session_t *s, fuse_req_t req, uint64_t ino) {
  struct stat st;
  bool found = false;
  pthread_mutex_lock(&s->attr_lock);
  size_t i = ino % ATTR_FDS;
  if (s->attr_fds[i].ino == ino && ino != 0) found = fstat(s->attr_fds[i].fd, &st) == 0;
  double timeout = s->attr_fd_timeout;
  pthread_mutex_unlock(&s->attr_lock);
  if (!found) return false;
  atomic_fetch_add(&s->attrs_answered, 1);
  fuse_reply_attr(req, &st, timeout);
  return true;
}

static void attr_fds_close(session_t *s) {
  for (size_t i = 0; i < ATTR_FDS; i++) {
    if (s->attr_fds[i].ino != 0) close(s->attr_fds[i].fd);
    s->attr_fds[i].ino = 0;
  }
}

/* ---------------------------------------------------------------- lower files
 *
 * A read-only OPEN of a lower file needs nothing of JS's state: the lower path JS told
 * (lowerFile: at the inode's LOOKUP, or at an open of it JS served) is opened here, and its
 * RELEASE closes the fd here. Per open+close of a lower file that saves JS's open, its fh
 * table and the RELEASE's JS call: ~22,000 instructions of the daemon's ~75,000 for a
 * lookup, open, read and close (read-all: 20,000 of them). What JS does with such fds is
 * done here too: at a copy-up (lowerFileCopiedUp) the upper copy is dup3()ed onto each, so
 * readers opened before it read the copy, as overlayfs semantics want; and the inode's
 * path is dropped, so later OPENs go to JS. Only a copy-up changes what JS's open of the inode
 * opens (src/union/engine.ts lowerFileOf); a FORGET drops the path too (the number is
 * never reused, but the memory is kept no longer than the kernel's inode). An open that
 * fails here goes to JS, which answers it as always. */

/* the end of a handle opened here: out of the table before the fd closes, so a swap never
 * dup3()s onto a number reused meanwhile */
static void lower_close(session_t *s, uint64_t ino, int fd) {
  pthread_mutex_lock(&s->lower_lock);
  lower_file_t *e = lower_files_get(&s->lower_files, ino);
  if (e) lower_files_release(&s->lower_files, e, fd);
  pthread_mutex_unlock(&s->lower_lock);
  close(fd);
}

/* the FORGET of ino: the number is gone for the kernel, and so is its path here */
static void lower_file_unknown(session_t *s, uint64_t ino) {
  pthread_mutex_lock(&s->lower_lock);
  lower_files_set_path(&s->lower_files, ino, NULL);
  pthread_mutex_unlock(&s->lower_lock);
}

/* Opens ino's lower file for a read-only OPEN and answers it; false: JS answers. The open
 * happens under the lock: a copy-up's swap (lowerFileCopiedUp) finds every fd opened so
 * far, and no OPEN comes in between it and the path's drop. */
static bool lower_open(session_t *s, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  int flags = fi->flags;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return false;
  /* the flags as the engine's open cleans them (src/union/engine.ts open) */
  flags &= ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY);
  pthread_mutex_lock(&s->lower_lock);
  lower_file_t *e = lower_files_get(&s->lower_files, ino);
  int fd = e && e->path ? open(e->path, flags | O_CLOEXEC) : -1;
  if (fd >= 0 && !lower_files_add_fd(&s->lower_files, e, fd)) {
    close(fd);
    fd = -1;
  }
  pthread_mutex_unlock(&s->lower_lock);
  if (fd < 0) return false;
  handle_t *h = calloc(1, sizeof *h);
  if (!h) {
    lower_close(s, ino, fd);
    return false;
  }
  h->fd = fd;
  h->lower = true;
  h->direct = s->js_loop && (flags & O_DIRECT);
  /* what JS's openFile replies for a lower file: pages kept cached, no FLUSH at close */
  fi->fh = (uintptr_t)h;
  fi->keep_cache = 1;
  fi->noflush = 1;
  atomic_fetch_add(&s->opens_in_c, 1);
  if (fuse_reply_open(req, fi) != 0) {
    /* interrupted: no RELEASE will come for it */
    lower_close(s, ino, fd);
    free(h);
  }
  return true;
}

#define SIMPLE(fn, OPC, ...)                              \
  static void fn {                                        \
    request_t *r = new_request(OPC, req);                 \
    __VA_ARGS__;                                          \
    submit(r->s, r);                                      \
  }

static uint64_t js_fh(struct fuse_file_info *fi) { return fi ? ((handle_t *)(uintptr_t)fi->fh)->fh : 0; }

SIMPLE(ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name), OP_LOOKUP, r->ino = parent; r->name = strdup(name))
static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  session_t *s = fuse_req_userdata(req);
  if (attr_fd_answer(s, req, ino)) return;
  request_t *r = new_request(OP_GETATTR, req);
  r->ino = ino;
  r->has_fh = fi != NULL;
  r->fh = js_fh(fi);
  submit(r->s, r);
}
SIMPLE(ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi), OP_SETATTR,
       r->ino = ino; r->attr = *attr; r->to_set = to_set; r->has_fh = fi != NULL; r->fh = js_fh(fi))
SIMPLE(ll_readlink(fuse_req_t req, fuse_ino_t ino), OP_READLINK, r->ino = ino)
SIMPLE(ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev), OP_MKNOD,
       r->ino = parent; r->name = strdup(name); r->a = mode; r->b = (int64_t)rdev)
SIMPLE(ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode), OP_MKDIR,
       r->ino = parent; r->name = strdup(name); r->a = mode)
SIMPLE(ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name), OP_UNLINK, r->ino = parent; r->name = strdup(name))
SIMPLE(ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name), OP_RMDIR, r->ino = parent; r->name = strdup(name))
SIMPLE(ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name), OP_SYMLINK,
       r->ino = parent; r->name = strdup(name); r->name2 = strdup(link))
SIMPLE(ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                 unsigned int flags),
       OP_RENAME, r->ino = parent; r->name = strdup(name); r->ino2 = newparent; r->name2 = strdup(newname); r->a = flags)
SIMPLE(ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname), OP_LINK,
       r->ino = ino; r->ino2 = newparent; r->name = strdup(newname))
static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  session_t *s = fuse_req_userdata(req);
  if (lower_open(s, req, ino, fi)) return;
  request_t *r = new_request(OP_OPEN, req);
  r->ino = ino;
  r->a = fi->flags;
  submit(s, r);
}
SIMPLE(ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), OP_OPENDIR, r->ino = ino; r->a = fi->flags)
SIMPLE(ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi), OP_READDIR,
       r->ino = ino; r->fh = fi->fh; r->size = size; r->a = off)
SIMPLE(ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
       OP_READDIRPLUS, r->ino = ino; r->fh = fi->fh; r->size = size; r->a = off)
SIMPLE(ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), OP_RELEASEDIR, r->ino = ino; r->fh = fi->fh)
SIMPLE(ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi), OP_FSYNCDIR,
       r->ino = ino; r->fh = fi->fh; r->a = datasync)
SIMPLE(ll_statfs(fuse_req_t req, fuse_ino_t ino), OP_STATFS, r->ino = ino)
SIMPLE(ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags),
       OP_SETXATTR, r->ino = ino; r->name = strdup(name); r->data = malloc(size ? size : 1); memcpy(r->data, value, size);
       r->len = size; r->a = flags; xattrs_forget(r->s, ino))
SIMPLE(ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name), OP_REMOVEXATTR, r->ino = ino; r->name = strdup(name);
       xattrs_forget(r->s, ino))

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  session_t *s = fuse_req_userdata(req);
  if (xattrs_known_none(s, ino)) {
    atomic_fetch_add(&s->xattrs_answered, 1);
    /* an empty list: its size when asked for the size, else no bytes */
    if (size == 0) fuse_reply_xattr(req, 0);
    else fuse_reply_buf(req, NULL, 0);
    return;
  }
  request_t *r = new_request(OP_LISTXATTR, req);
  r->ino = ino;
  r->size = size;
  submit(s, r);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  session_t *s = fuse_req_userdata(req);
  bool caps = s->caps_cache && strcmp(name, "security.capability") == 0;
  if (caps && caps_known_none(s, ino)) {
    atomic_fetch_add(&s->caps_answered, 1);
    fuse_reply_err(req, ENODATA);
    return;
  }
  if (real_xattr_name(name) && xattrs_known_none(s, ino)) {
    atomic_fetch_add(&s->xattrs_answered, 1);
    fuse_reply_err(req, ENODATA);
    return;
  }
  request_t *r = new_request(OP_GETXATTR, req);
  r->ino = ino;
  r->name = strdup(name);
  r->size = size;
  r->caps_query = caps;
  submit(s, r);
}
SIMPLE(ll_access(fuse_req_t req, fuse_ino_t ino, int mask), OP_ACCESS, r->ino = ino; r->a = mask)
SIMPLE(ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi), OP_CREATE,
       r->ino = parent; r->name = strdup(name); r->a = mode; r->b = fi->flags)

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  session_t *s = fuse_req_userdata(req);
  request_t *r = new_request(OP_FORGET, NULL);
  r->s = s;
  r->forgets = malloc(2 * sizeof(uint64_t));
  r->forgets[0] = ino;
  r->forgets[1] = nlookup;
  r->nforgets = 1;
  xattrs_forget(s, ino);
  attr_fd_drop(s, ino);
  lower_file_unknown(s, ino);
  fuse_reply_none(req);
  submit(s, r);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  session_t *s = fuse_req_userdata(req);
  request_t *r = new_request(OP_FORGET, NULL);
  r->s = s;
  r->forgets = malloc(2 * sizeof(uint64_t) * (count ? count : 1));
  for (size_t i = 0; i < count; i++) {
    r->forgets[2 * i] = forgets[i].ino;
    r->forgets[2 * i + 1] = forgets[i].nlookup;
    xattrs_forget(s, forgets[i].ino);
    attr_fd_drop(s, forgets[i].ino);
    lower_file_unknown(s, forgets[i].ino);
  }
  r->nforgets = count;
  fuse_reply_none(req);
  submit(s, r);
}

/* The data plane: files JS opened with a backing fd. */

/* Each worker thread reads into a buffer of its own, kept from one READ to the next.
 * libfuse's fallback for an fd buffer (no splice) mallocs the request's size every time:
 * a 256 KiB read is past malloc's mmap threshold, so every READ paid an mmap, 64 page
 * faults zeroing fresh pages inside the pread, and an munmap (a TLB shootdown across the
 * workers). */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;
struct read_buf {
  char *p;
  size_t cap;
};
static void read_buf_free(void *v) {
  struct read_buf *b = v;
  free(b->p);
  free(b);
}
static void read_buf_init(void) { pthread_key_create(&read_buf_key, read_buf_free); }

static char *thread_read_buf(size_t size) {
  pthread_once(&read_buf_once, read_buf_init);
  struct read_buf *b = pthread_getspecific(read_buf_key);
  if (!b) {
    b = calloc(1, sizeof *b);
    if (!b || pthread_setspecific(read_buf_key, b) != 0) {
      free(b);
      return NULL;
    }
  }
  if (size == 0) size = 1; /* a READ of 0 bytes still gets a buffer */
  if (b->cap < size) {
    /* page aligned, as libfuse's mmapped buffers were: a backing fd opened O_DIRECT
     * (dd iflag=direct) refuses anything less (EINVAL) */
    size_t cap = (size + 4095) & ~(size_t)4095;
    void *p;
    if (posix_memalign(&p, 4096, cap) != 0) return NULL;
    free(b->p);
    b->p = p;
    b->cap = cap;
  }
  return b->p;
}

/* pread/pwrite of size bytes at off going on after short transfers (as fuse_buf_copy),
 * with preadv2/pwritev2 flags (0: blocking; RWF_NOWAIT). Returns how many bytes moved;
 * *err is the errno that stopped it early, or 0 (done, end of file, a write of 0). */
static size_t read_full(int fd, char *mem, size_t size, off_t off, int flags, int *err) {
  size_t got = 0;
  *err = 0;
  while (got < size) {
    struct iovec iov = {.iov_base = mem + got, .iov_len = size - got};
    ssize_t n = preadv2(fd, &iov, 1, off + (off_t)got, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) *err = errno;
    if (n <= 0) break;
    got += (size_t)n;
  }
  return got;
}

static size_t write_full(int fd, const char *p, size_t size, off_t off, int flags, int *err) {
  size_t done = 0;
  *err = 0;
  while (done < size) {
    struct iovec iov = {.iov_base = (void *)(p + done), .iov_len = size - done};
    ssize_t n = pwritev2(fd, &iov, 1, off + (off_t)done, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) *err = errno;
    if (n <= 0) break;
    done += (size_t)n;
  }
  return done;
}

/* ---------------------------------------------------------------- spliced READ replies
 *
 * A READ answered by copy moves its data twice in the daemon's CPU time: preadv2 copies it
 * from the backing file's page cache into our buffer (_copy_to_iter), then the kernel
 * copies our writev into the fuse page (fuse_copy_page, after pinning our pages). Spliced,
 * the backing file's pages go into a pipe by reference behind the reply header, and one
 * splice hands the whole reply to /dev/fuse (a reply must be one message), which copies
 * from those pages into its own: the first copy and the pinning are gone. SPLICE_F_MOVE is
 * not asked for: fuse copies anyway (libfuse #1221), and a page it stole would leave the
 * backing file's page cache.
 *
 * The reply needs the request's unique id, which fuse_req_t hides: io_read notes the
 * header of each request it reads in the reading thread, which then processes it (both
 * loops read and process a request on one thread; a pool item carries the id along). */
static __thread uint64_t cur_unique;
static __thread uint32_t cur_opcode;

/* Smaller replies are copied. Splicing costs three syscalls more than copying (header,
 * file->pipe, pipe->fuse against one writev), and on the JS thread a cachestat and a probe
 * too. Measured (passthrough fixture with direct_io, 5 runs, daemon CPU per 256 MiB read in
 * READs of one size): 8 KiB 224 ms spliced / 232 ms copied, 16 KiB 142 / 129, 32 KiB
 * 77 / 100. (libfuse draws its line at 2 pages.) */
#define SPLICE_MIN_BYTES (32 * 1024)

/* One pipe per thread, kept from one READ to the next, grown (F_SETPIPE_SZ) to hold a
 * whole reply. Past /proc/sys/fs/pipe-max-size, without CAP_SYS_RESOURCE, it cannot grow:
 * replies that big are copied. */
struct splice_pipe {
  int rd, wr;
  size_t cap;
  size_t refused; /* the smallest size F_SETPIPE_SZ refused, or 0 */
};
static pthread_key_t splice_pipe_key;
static pthread_once_t splice_pipe_once = PTHREAD_ONCE_INIT;
static void splice_pipe_free(void *v) {
  struct splice_pipe *p = v;
  close(p->rd);
  close(p->wr);
  free(p);
}
static void splice_pipe_init(void) { pthread_key_create(&splice_pipe_key, splice_pipe_free); }

static struct splice_pipe *thread_pipe(size_t need) {
  pthread_once(&splice_pipe_once, splice_pipe_init);
  struct splice_pipe *p = pthread_getspecific(splice_pipe_key);
  if (!p) {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return NULL;
    p = calloc(1, sizeof *p);
    if (!p || pthread_setspecific(splice_pipe_key, p) != 0) {
      free(p);
      close(fds[0]);
      close(fds[1]);
      return NULL;
    }
    p->rd = fds[0];
    p->wr = fds[1];
    int cap = fcntl(p->rd, F_GETPIPE_SZ);
    p->cap = cap > 0 ? (size_t)cap : 0;
  }
  if (p->cap >= need) return p;
  if (p->refused && need >= p->refused) return NULL;
  int cap = fcntl(p->rd, F_SETPIPE_SZ, (int)need);
  if (cap < 0) {
    p->refused = need;
    return NULL;
  }
  p->cap = (size_t)cap;
  return p;
}

/* The pipe holds what no reply of ours will follow (a failed splice): drop it, the next
 * READ makes a new one. */
static void thread_pipe_drop(void) {
  struct splice_pipe *p = pthread_getspecific(splice_pipe_key);
  if (!p) return;
  pthread_setspecific(splice_pipe_key, NULL);
  splice_pipe_free(p);
}

/* How many bytes a READ of size at off gets from fd (the file may end inside it), or -1 */
static ssize_t read_length(int fd, size_t size, off_t off) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  if (off >= st.st_size) return 0;
  return (ssize_t)((uint64_t)(st.st_size - off) < size ? (size_t)(st.st_size - off) : size);
}

/* Answers a READ with len bytes of fd at off by splice. true: answered (or the kernel has
 * forgotten the request); false: nothing was sent, answer by copy. A file that shrank
 * since its length was taken (read_length, or the JS thread's probe) splices short, and
 * falls back too. */
static bool reply_spliced(session_t *s, fuse_req_t req, uint64_t unique, int fd, size_t len, off_t off,
                          bool *refused) {
  size_t first = (size_t)off / 4096, end = ((size_t)off + len + 4095) / 4096;
  struct splice_pipe *p = thread_pipe((1 + end - first) * 4096); /* a page for the header */
  if (!p) {
    atomic_fetch_add(&s->splice_fallbacks, 1);
    return false;
  }
  struct fuse_out_header oh = {.len = (uint32_t)(sizeof oh + len), .error = 0, .unique = unique};
  if (write(p->wr, &oh, sizeof oh) != (ssize_t)sizeof oh) goto broken;
  loff_t pos = off;
  for (size_t got = 0; got < len;) {
    ssize_t n = splice(fd, &pos, p->wr, NULL, len - got, SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) *refused = true;
    if (n <= 0) goto broken;
    got += (size_t)n;
  }
  ssize_t n;
  do n = splice(p->rd, NULL, fuse_session_fd(s->se), NULL, sizeof oh + len, 0);
  while (n < 0 && errno == EINTR);
  /* ENOENT: the kernel no longer waits for this request (interrupted, aborted) */
  if (n < 0 && errno != ENOENT) goto broken;
  atomic_fetch_add(&s->spliced_reads, 1);
  fuse_reply_none(req); /* frees req, sends nothing */
  return true;
broken:
  thread_pipe_drop();
  atomic_fetch_add(&s->splice_fallbacks, 1);
  return false;
}

/* Whether a READ of len bytes at off may splice: the setting, a reply worth it, an id. */
static bool splice_wanted(session_t *s, const handle_t *h, size_t len, uint64_t unique) {
  return s->splice_read && !s->splice && !h->direct && !h->no_splice && unique != 0 && len >= SPLICE_MIN_BYTES;
}

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* x86_64, arm64 and the generic table alike */
#endif
struct strata_cachestat_range {
  uint64_t off, len;
};
struct strata_cachestat {
  uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* js loop: whether the file has len bytes at off, all in the page cache and readable, so
 * that a splice (which has no RWF_NOWAIT) waits for no disk. 1 yes, 0 no (or the file ends
 * first), -1 cannot tell (cachestat refused: a kernel before 6.5, a file it does not cover).
 * cachestat counts pages present; readahead inserts them locked before their I/O is done,
 * and a splice would wait for that. Readahead goes forward, so the range's last page is
 * the last to become readable: a 1-byte RWF_NOWAIT read of its last byte says whether it
 * is, and that the file reaches that far (no fstat). */
static int range_resident(int fd, size_t len, off_t off) {
  struct strata_cachestat_range r = {.off = (uint64_t)off, .len = len};
  struct strata_cachestat cs;
  if (syscall(SYS_cachestat, fd, &r, &cs, 0) != 0) return -1;
  uint64_t pages = ((uint64_t)off + len + 4095) / 4096 - (uint64_t)off / 4096;
  if (cs.nr_cache < pages) return 0;
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  return preadv2(fd, &iov, 1, off + (off_t)len - 1, RWF_NOWAIT) == 1 ? 1 : 0;
}

/* Reads size bytes at off from a backing fd and answers, blocking: a worker's (or the
 * pool's) way. may_splice: splice_wanted said yes for the request (unique). */
static void read_and_reply(session_t *s, fuse_req_t req, int fd, size_t size, off_t off, uint64_t unique,
                           bool may_splice) {
  if (may_splice) {
    ssize_t len = read_length(fd, size, off);
    bool refused = false;
    if (len >= SPLICE_MIN_BYTES && reply_spliced(s, req, unique, fd, (size_t)len, off, &refused)) return;
  }
  char *mem = !s->splice ? thread_read_buf(size) : NULL;
  if (mem) {
    int err;
    size_t got = read_full(fd, mem, size, off, 0, &err);
    if (err && got == 0) fuse_reply_err(req, err);
    else fuse_reply_buf(req, mem, got);
    return;
  }
  struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  buf.buf[0].fd = fd;
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/* ---------------------------------------------------------------- the pool (js loop)
 *
 * Data-plane work that may wait for a disk runs here, not on the JS thread: READs the
 * page cache cannot answer, writes that would block, fsync, fallocate, copy_file_range.
 * The thread answers the kernel itself. A few threads, started when work finds none
 * idle, shared by every session of the process; they block every signal, as libfuse's
 * workers do (see js_mount). Each session counts its items (pool_pending) and is not
 * destroyed before they are done. */
#define POOL_MAX_THREADS 4

/* pthread_create with every signal blocked in the new thread (it inherits the mask) */
static int create_thread_without_signals(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  sigset_t all, old_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old_mask);
  int res = pthread_create(t, attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  return res;
}

typedef struct pool_item {
  struct pool_item *next;
  session_t *s;
  fuse_req_t req;
  int op;
  int fd, fd_out;
  off_t off, off_out;
  size_t size;
  int64_t a, b; /* fsync: datasync; fallocate: mode, length; copy_file_range: flags */
  char *data;   /* write: the bytes not written yet, from byte `done` of the request */
  size_t done;
  uint64_t unique; /* read: the request's id, and whether it may be answered by splice */
  bool splice;
} pool_item_t;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static pool_item_t *pool_head, *pool_tail;
static int pool_threads, pool_waiting, pool_queued;

static void pool_run(pool_item_t *it) {
  int res;
  switch (it->op) {
  case OP_READ:
    read_and_reply(it->s, it->req, it->fd, it->size, it->off, it->unique, it->splice);
    break;
  case OP_WRITE: {
    int err;
    size_t got = it->done + write_full(it->fd, it->data, it->size - it->done, it->off + (off_t)it->done, 0, &err);
    if (got == 0 && it->size > 0) fuse_reply_err(it->req, err ? err : EIO);
    else fuse_reply_write(it->req, got);
    break;
  }
  case OP_FSYNC:
    res = it->a ? fdatasync(it->fd) : fsync(it->fd);
    fuse_reply_err(it->req, res < 0 ? errno : 0);
    break;
  case OP_FALLOCATE:
    res = fallocate(it->fd, (int)it->a, it->off, (off_t)it->b);
    fuse_reply_err(it->req, res < 0 ? errno : 0);
    break;
  case OP_COPY_FILE_RANGE: {
    loff_t oi = it->off, oo = it->off_out;
    ssize_t n = copy_file_range(it->fd, &oi, it->fd_out, &oo, it->size, (unsigned)it->a);
    if (n < 0) fuse_reply_err(it->req, errno);
    else fuse_reply_write(it->req, (size_t)n);
    break;
  }
  default:
    fuse_reply_err(it->req, ENOSYS);
  }
}

static void pool_finish(pool_item_t *it) {
  session_t *s = it->s;
  free(it->data);
  free(it);
  pthread_mutex_lock(&s->pool_lock);
  /* under the lock: once maybe_destroy has seen no item pending, nothing here touches
   * the session (or its wake handle) again */
  if (--s->pool_pending == 0 && s->exiting) uv_async_send(s->wake);
  pthread_mutex_unlock(&s->pool_lock);
}

static void *pool_main(void *arg) {
  for (;;) {
    pthread_mutex_lock(&pool_mu);
    while (!pool_head) {
      pool_waiting++;
      pthread_cond_wait(&pool_cv, &pool_mu);
      pool_waiting--;
    }
    pool_item_t *it = pool_head;
    pool_head = it->next;
    if (!pool_head) pool_tail = NULL;
    pool_queued--;
    pthread_mutex_unlock(&pool_mu);
    pool_run(it);
    pool_finish(it);
  }
  return NULL;
}

static pool_item_t *pool_item(session_t *s, fuse_req_t req, int op, int fd) {
  pool_item_t *it = calloc(1, sizeof *it);
  if (!it) return NULL;
  it->s = s;
  it->req = req;
  it->op = op;
  it->fd = fd;
  return it;
}

/* Hands an item to the pool (JS thread). Without a thread to run it, it runs here. */
static void pool_submit(pool_item_t *it) {
  session_t *s = it->s;
  s->pool_ops++;
  pthread_mutex_lock(&s->pool_lock);
  s->pool_pending++;
  pthread_mutex_unlock(&s->pool_lock);
  pthread_mutex_lock(&pool_mu);
  it->next = NULL;
  if (pool_tail) pool_tail->next = it;
  else pool_head = it;
  pool_tail = it;
  pool_queued++;
  if (pool_queued > pool_waiting && pool_threads < POOL_MAX_THREADS) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (create_thread_without_signals(&t, &attr, pool_main, NULL) == 0) pool_threads++;
    pthread_attr_destroy(&attr);
  }
  bool none = pool_threads == 0;
  if (none) { /* take it back and run it here */
    pool_head = pool_tail = NULL;
    pool_queued--;
  }
  pthread_cond_signal(&pool_cv);
  pthread_mutex_unlock(&pool_mu);
  if (none) {
    pool_run(it);
    pool_finish(it);
  }
}

/* js loop: answers a READ from the page cache without waiting (RWF_NOWAIT); false when
 * that would block, and the pool must read. */
#define NOWAIT_SKIP_AFTER_MISS 64

/* a READ answered by splice from the page cache; false: not sent, copy it (or the pool) */
static bool splice_nowait(session_t *s, fuse_req_t req, handle_t *h, size_t size, off_t off, uint64_t unique) {
  int resident = range_resident(h->fd, size, off);
  if (resident < 0) h->no_splice = true;
  /* a miss goes the copy way: its RWF_NOWAIT read starts the readahead the pool's waits on;
   * so does the file's tail, which the copy reads short */
  if (resident <= 0) return false;
  bool refused = false;
  if (reply_spliced(s, req, unique, h->fd, size, off, &refused)) return true;
  if (refused) h->no_splice = true;
  return false;
}

static bool read_nowait(session_t *s, fuse_req_t req, handle_t *h, size_t size, off_t off, uint64_t unique) {
  if (s->splice || h->direct || h->no_nowait_read) return false;
  if (h->nowait_skip > 0) {
    h->nowait_skip--;
    return false;
  }
  if (splice_wanted(s, h, size, unique) && splice_nowait(s, req, h, size, off, unique)) {
    s->inline_ops++;
    return true;
  }
  char *mem = thread_read_buf(size);
  if (!mem) return false;
  int err;
  size_t got = read_full(h->fd, mem, size, off, RWF_NOWAIT, &err);
  if (err == EOPNOTSUPP) h->no_nowait_read = true;
  if (err == EAGAIN) h->nowait_skip = NOWAIT_SKIP_AFTER_MISS;
  if (err == EAGAIN || err == EOPNOTSUPP) return false; /* the pool reads it all */
  if (err && got == 0) {
    fuse_reply_err(req, err);
    return true;
  }
  /* (a NOWAIT read reports the end of file without waiting) */
  s->inline_ops++;
  fuse_reply_buf(req, mem, got);
  return true;
}

static void pool_or_fail(pool_item_t *it, fuse_req_t req) {
  if (it) pool_submit(it);
  else fuse_reply_err(req, ENOMEM);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  session_t *s = fuse_req_userdata(req);
  atomic_fetch_add(&s->reads, 1);
  uint64_t unique = cur_opcode == FUSE_READ ? cur_unique : 0; /* as io_read saw it */
  if (h->fd >= 0 && s->js_loop) {
    if (read_nowait(s, req, h, size, off, unique)) return;
    pool_item_t *it = pool_item(s, req, OP_READ, h->fd);
    if (it) {
      it->size = size;
      it->off = off;
      it->unique = unique;
      it->splice = splice_wanted(s, h, size, unique);
    }
    pool_or_fail(it, req);
    return;
  }
  if (h->fd >= 0) {
    read_and_reply(s, req, h->fd, size, off, unique, splice_wanted(s, h, size, unique));
    return;
  }
  request_t *r = new_request(OP_READ, req);
  r->ino = ino;
  r->fh = h->fh;
  r->size = size;
  r->a = off;
  submit(s, r);
}

static void note_write(session_t *s, size_t size) {
  atomic_fetch_add(&s->writes, 1);
  atomic_fetch_add(&s->write_bytes, size);
  uint_fast64_t seen = atomic_load(&s->max_write_seen);
  while (size > seen && !atomic_compare_exchange_weak(&s->max_write_seen, &seen, size)) {
  }
}

/* js loop: the data is in the receive buffer, which the next request reuses: what
 * RWF_NOWAIT cannot write at once is copied for the pool. (ext4 refuses buffered NOWAIT
 * writes with EOPNOTSUPP; the handle then stops trying.) */
static void write_nowait_or_pool(session_t *s, fuse_req_t req, handle_t *h, const char *p, size_t size, off_t off) {
  size_t done = 0;
  if (!h->no_nowait_write && !h->direct) {
    int err;
    done = write_full(h->fd, p, size, off, RWF_NOWAIT, &err);
    if (err == EOPNOTSUPP) h->no_nowait_write = true;
    if (err && err != EAGAIN && err != EOPNOTSUPP) {
      if (done == 0) fuse_reply_err(req, err);
      else fuse_reply_write(req, done);
      return;
    }
    if (done == size) {
      s->inline_ops++;
      fuse_reply_write(req, size);
      return;
    }
  }
  pool_item_t *it = pool_item(s, req, OP_WRITE, h->fd);
  void *copy = NULL;
  /* page aligned: an O_DIRECT backing fd needs it */
  if (it && posix_memalign(&copy, 4096, size - done ? size - done : 1) != 0) copy = NULL;
  if (it && !copy) {
    free(it);
    it = NULL;
  }
  if (it) {
    memcpy(copy, p + done, size - done);
    it->data = copy;
    it->done = done;
    it->size = size;
    it->off = off;
  }
  pool_or_fail(it, req);
}

static void ll_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off, struct fuse_file_info *fi) {
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  session_t *s = fuse_req_userdata(req);
  size_t size = fuse_buf_size(in);
  note_write(s, size);
  if (h->fd >= 0 && s->js_loop && in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
    write_nowait_or_pool(s, req, h, in->buf[0].mem, size, off);
    return;
  }
  /* (a spliced write in the js loop is copied here, blocking: splice is off by default) */
  if (h->fd >= 0) {
    struct fuse_bufvec out = FUSE_BUFVEC_INIT(size);
    out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    out.buf[0].fd = h->fd;
    out.buf[0].pos = off;
    ssize_t n = fuse_buf_copy(&out, in, 0);
    if (n < 0) fuse_reply_err(req, (int)-n);
    else fuse_reply_write(req, (size_t)n);
    return;
  }
  request_t *r = new_request(OP_WRITE, req);
  r->ino = ino;
  r->fh = h->fh;
  r->a = off;
  r->data = malloc(size ? size : 1);
  struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
  mem.buf[0].mem = r->data;
  ssize_t n = fuse_buf_copy(&mem, in, 0);
  if (n < 0) {
    fuse_reply_err(req, (int)-n);
    free_request_fields(r);
    free(r);
    return;
  }
  r->len = (size_t)n;
  submit(s, r);
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  session_t *s = fuse_req_userdata(req);
  atomic_fetch_add(&s->flushes, 1);
  if (s->no_flush) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  if (h->fd >= 0) {
    /* close() of a duplicate reports delayed write errors, as close() of the file would */
    int dup_fd = dup(h->fd);
    int res = dup_fd < 0 ? -1 : close(dup_fd);
    fuse_reply_err(req, res < 0 ? errno : 0);
    return;
  }
  request_t *r = new_request(OP_FLUSH, req);
  r->ino = ino;
  r->fh = h->fh;
  submit(r->s, r);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  session_t *s = fuse_req_userdata(req);
  if (h->fd >= 0 && s->js_loop) {
    pool_item_t *it = pool_item(s, req, OP_FSYNC, h->fd);
    if (it) it->a = datasync;
    pool_or_fail(it, req);
    return;
  }
  if (h->fd >= 0) {
    int res = datasync ? fdatasync(h->fd) : fsync(h->fd);
    fuse_reply_err(req, res < 0 ? errno : 0);
    return;
  }
  request_t *r = new_request(OP_FSYNC, req);
  r->ino = ino;
  r->fh = h->fh;
  r->a = datasync;
  submit(r->s, r);
}

/* RELEASE is answered here, before JS hears of it (as FORGET, without a request handle):
 * the kernel sends it in the background once the file is gone (fuse_file_put: nobody
 * waits for it but on fuseblk mounts) and ignores its result, so a reply from JS only
 * cost a request object, its finalizer and a reply call per close. JS still gets it in
 * order with the other requests, and closes the backing fd. */
static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  session_t *s = fuse_req_userdata(req);
  if (h->lower) {
    lower_close(s, ino, h->fd);
    free(h);
    fuse_reply_err(req, 0);
    return;
  }
  request_t *r = new_request(OP_RELEASE, NULL);
  r->s = s;
  r->ino = ino;
  r->fh = h->fh;
  r->a = fi->flags;
  r->b = h->fd; /* JS owns the backing fd and closes it */
  free(h);
  fuse_reply_err(req, 0);
  submit(s, r);
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  session_t *s = fuse_req_userdata(req);
  if (h->fd >= 0 && s->js_loop) {
    pool_item_t *it = pool_item(s, req, OP_FALLOCATE, h->fd);
    if (it) {
      it->a = mode;
      it->off = offset;
      it->b = length;
    }
    pool_or_fail(it, req);
    return;
  }
  if (h->fd >= 0) {
    int res = fallocate(h->fd, mode, offset, length);
    fuse_reply_err(req, res < 0 ? errno : 0);
    return;
  }
  request_t *r = new_request(OP_FALLOCATE, req);
  r->ino = ino;
  r->fh = h->fh;
  r->a = mode;
  r->b = offset;
  r->c = length;
  submit(r->s, r);
}

static void ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  if (h->fd >= 0) {
    off_t res = lseek(h->fd, off, whence);
    if (res < 0) fuse_reply_err(req, errno);
    else fuse_reply_lseek(req, res);
    return;
  }
  request_t *r = new_request(OP_LSEEK, req);
  r->ino = ino;
  r->fh = h->fh;
  r->a = off;
  r->b = whence;
  submit(r->s, r);
}

static void ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
                               fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
                               int flags) {
  handle_t *hi = (handle_t *)(uintptr_t)fi_in->fh, *ho = (handle_t *)(uintptr_t)fi_out->fh;
  session_t *s = fuse_req_userdata(req);
  if (hi->fd >= 0 && ho->fd >= 0 && s->js_loop) {
    pool_item_t *it = pool_item(s, req, OP_COPY_FILE_RANGE, hi->fd);
    if (it) {
      it->off = off_in;
      it->fd_out = ho->fd;
      it->off_out = off_out;
      it->size = len;
      it->a = flags;
    }
    pool_or_fail(it, req);
    return;
  }
  if (hi->fd >= 0 && ho->fd >= 0) {
    loff_t oi = off_in, oo = off_out;
    ssize_t res = copy_file_range(hi->fd, &oi, ho->fd, &oo, len, (unsigned)flags);
    if (res < 0) fuse_reply_err(req, errno);
    else fuse_reply_write(req, (size_t)res);
    return;
  }
  request_t *r = new_request(OP_COPY_FILE_RANGE, req);
  r->ino = ino_in;
  r->fh = hi->fh;
  r->a = off_in;
  r->ino2 = ino_out;
  r->fh2 = ho->fh;
  r->b = off_out;
  r->c = (int64_t)len;
  r->d = flags;
  submit(r->s, r);
}

static const struct fuse_lowlevel_ops ll_ops = {
    .init = ll_init,
    .lookup = ll_lookup,
    .forget = ll_forget,
    .forget_multi = ll_forget_multi,
    .getattr = ll_getattr,
    .setattr = ll_setattr,
    .readlink = ll_readlink,
    .mknod = ll_mknod,
    .mkdir = ll_mkdir,
    .unlink = ll_unlink,
    .rmdir = ll_rmdir,
    .symlink = ll_symlink,
    .rename = ll_rename,
    .link = ll_link,
    .open = ll_open,
    .read = ll_read,
    .write_buf = ll_write_buf,
    .flush = ll_flush,
    .release = ll_release,
    .fsync = ll_fsync,
    .opendir = ll_opendir,
    .readdir = ll_readdir,
    .readdirplus = ll_readdirplus,
    .releasedir = ll_releasedir,
    .fsyncdir = ll_fsyncdir,
    .statfs = ll_statfs,
    .setxattr = ll_setxattr,
    .getxattr = ll_getxattr,
    .listxattr = ll_listxattr,
    .removexattr = ll_removexattr,
    .access = ll_access,
    .create = ll_create,
    .fallocate = ll_fallocate,
    .copy_file_range = ll_copy_file_range,
    .lseek = ll_lseek,
};

/* ---------------------------------------------------------------- /dev/fuse io
 *
 * libfuse up to 3.15 (Debian 12 has 3.14) never puts FUSE_PARALLEL_DIROPS in its INIT
 * reply, whatever conn->want says (libfuse PR #861, fixed in 3.16). Without it the kernel
 * holds the directory's mutex across every lookup and readdir, so one slow lookup stalls
 * every other lookup in that directory, and a directory's lookups never run in parallel.
 * These hooks are plain read/writev on the fd, except that the INIT reply gets the flag
 * when the kernel offered it and the session asked for it. */
static ssize_t io_read(int fd, void *buf, size_t len, void *userdata) {
  session_t *s = userdata;
  ssize_t n = read(fd, buf, len);
  /* for a spliced READ reply, which must name the request (see reply_spliced) */
  if (n >= (ssize_t)sizeof(struct fuse_in_header)) {
    const struct fuse_in_header *in = buf;
    cur_unique = in->unique;
    cur_opcode = in->opcode;
  } else {
    cur_opcode = 0;
  }
  if (n >= (ssize_t)(sizeof(struct fuse_in_header) + offsetof(struct fuse_init_in, flags) + sizeof(uint32_t)) &&
      atomic_load(&s->init_unique) == 0) {
    const struct fuse_in_header *in = buf;
    if (in->opcode == FUSE_INIT) {
      const struct fuse_init_in *init = (const void *)(in + 1);
      atomic_store(&s->kernel_parallel_dirops, (init->flags & FUSE_PARALLEL_DIROPS) != 0);
      bool ext = (init->flags & STRATA_FUSE_INIT_EXT) &&
                 n >= (ssize_t)(sizeof(struct fuse_in_header) + offsetof(struct fuse_init_in, flags2) + sizeof(uint32_t));
      atomic_store(&s->kernel_passthrough, ext && (init->flags2 & STRATA_FUSE_PASSTHROUGH_FLAGS2) != 0);
      atomic_store(&s->init_unique, in->unique);
    }
  }
  return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata) {
  session_t *s = userdata;
  uint64_t init = atomic_load(&s->init_unique);
  if (init && count >= 2 && iov[0].iov_len >= sizeof(struct fuse_out_header) &&
      iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
    const struct fuse_out_header *out = iov[0].iov_base;
    if (out->unique == init && out->error == 0) {
      struct fuse_init_out *arg = iov[1].iov_base;
      if (s->parallel_dirops && atomic_load(&s->kernel_parallel_dirops)) arg->flags |= FUSE_PARALLEL_DIROPS;
      if (atomic_load(&s->passthrough)) {
        if (iov[1].iov_len >= INIT_OUT_STACK_DEPTH_OFF + sizeof(uint32_t)) {
          char *base = iov[1].iov_base;
          uint32_t flags2, depth = s->max_stack_depth;
          memcpy(&flags2, base + INIT_OUT_FLAGS2_OFF, sizeof flags2);
          flags2 |= STRATA_FUSE_PASSTHROUGH_FLAGS2;
          memcpy(base + INIT_OUT_FLAGS2_OFF, &flags2, sizeof flags2);
          memcpy(base + INIT_OUT_STACK_DEPTH_OFF, &depth, sizeof depth);
          arg->flags |= STRATA_FUSE_INIT_EXT;
          arg->flags &= ~FUSE_WRITEBACK_CACHE;
        } else {
          atomic_store(&s->passthrough, false); /* a reply too short to carry it */
        }
      }
      atomic_store(&s->init_unique, UINT64_MAX); /* done: no later reply is touched */
    }
  }
  return writev(fd, iov, count);
}

/* INIT always arrives through read (libfuse splices only once INIT agreed to it); these
 * keep the splice setting working with custom io. */
static ssize_t io_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout, size_t len, unsigned flags,
                                 void *userdata) {
  return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t io_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len, unsigned flags,
                              void *userdata) {
  return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io dev_fuse_io = {
    .read = io_read,
    .writev = io_writev,
    .splice_receive = io_splice_receive,
    .splice_send = io_splice_send,
};

static void *loop_main(void *arg) {
  session_t *s = arg;
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  fuse_loop_cfg_set_max_threads(cfg, s->max_threads);
  fuse_loop_cfg_set_idle_threads(cfg, s->max_threads);
  int res = fuse_session_loop_mt(s->se, cfg);
  fuse_loop_cfg_destroy(cfg);
  /* Closes /dev/fuse; unmounts only if the kernel still has it mounted (a loop that
   * failed), so no mount outlives its server. */
  fuse_session_unmount(s->se);
  request_t *r = new_request(OP_EXIT, NULL);
  r->s = s;
  r->a = res;
  submit(s, r);
  return NULL;
}

/* ---------------------------------------------------------------- the js loop
 *
 * The poll callback reads and processes requests until /dev/fuse is empty (EAGAIN), at
 * most JS_BATCH of them, so timers and other I/O keep their turn. Each request runs in a
 * handle scope and a callback scope of its own: the promise continuations and nextTicks
 * its handler queued run (and send an async handler's reply) before the next request is
 * read, as after a threadsafe-function call. */
#define JS_BATCH 64

typedef struct js_scope {
  napi_handle_scope hs;
  napi_callback_scope cs;
} js_scope_t;

static void js_scope_open(session_t *s, js_scope_t *sc) {
  napi_open_handle_scope(s->env, &sc->hs);
  napi_value resource;
  napi_get_reference_value(s->env, s->resource_ref, &resource);
  napi_open_callback_scope(s->env, resource, s->async_ctx, &sc->cs);
}

static void js_scope_close(session_t *s, js_scope_t *sc) {
  napi_close_callback_scope(s->env, sc->cs); /* runs the microtasks and ticks */
  napi_close_handle_scope(s->env, sc->hs);
}

static void poll_closed(uv_handle_t *h) { free(h); }

/* The kernel's connection ended (unmounted, aborted) or reading it failed: as loop_main. */
static void js_loop_end(session_t *s, int res) {
  uv_close((uv_handle_t *)s->poll, poll_closed); /* off epoll before the fd closes */
  s->poll = NULL;
  pthread_mutex_lock(&s->pool_lock);
  s->exiting = true;
  pthread_mutex_unlock(&s->pool_lock);
  fuse_session_unmount(s->se);
  request_t *r = new_request(OP_EXIT, NULL);
  r->s = s;
  r->a = res;
  js_scope_t sc;
  js_scope_open(s, &sc);
  submit(s, r);
  js_scope_close(s, &sc);
}

/* 1: a request is in rbuf; 0: none now (EAGAIN); -1: the loop ends, *res says why (0:
 * exited, i.e. ENODEV; < 0: a read error, which ends it as in libfuse's loops) */
static int js_receive(session_t *s, int *res) {
  for (;;) {
    int n = fuse_session_receive_buf(s->se, &s->rbuf);
    if (n == -EINTR) continue;
    if (n == -EAGAIN) return 0;
    if (n <= 0) {
      *res = n;
      return -1;
    }
    return 1;
  }
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Busy polling (settings.spinUs, the mount's busy_poll=). A program that works through a
 * tree (stat, open, read, close: one request after another) sends its next request a few
 * us after our reply; by then the JS thread was back in epoll, and waking it up again
 * cost more than serving the request: on this VM a thread woken on the other CPU is
 * ~20 us late (a pipe ping-pong between two processes: 46 us a round trip, 25 us when one
 * side polls, 2 us on one CPU). So after a batch the loop keeps polling the empty
 * /dev/fuse for up to the window, yielding the CPU between polls (a client on this very
 * CPU runs at once), but only where it pays: the last poll found a request, or the gap
 * before this wake-up was under twice the window (the gap includes the wake-up's own
 * lateness); and once fewer than half of the last 8 polls found a request, only one burst
 * in 8 polls, until they find requests again. A stream of requests ms apart pays
 * one unfound poll; make's, tens of us to ms apart, had 35-45% of its ~1,750 polls find
 * one: now ~600 polls (65% found), the daemon's CPU over a make -j2 of 41 files 120-150 ->
 * 90-110 ms, its time unchanged within noise; a tree walk's polls find 97-99% (unchanged).
 * Measured (20,000 lower files, 2 CPUs idle): a stat walk of a fresh mount 1.80 s ->
 * 0.54-0.60 s, open+close of each 1.52-1.75 s -> 0.48-0.57 s, wake-ups for 160,106
 * requests 97,761 -> 3,128, daemon CPU lower (its sleeps and wake-ups cost more system
 * time than the polls). An earlier try that polled up to 1 ms, always, slowed a lookup
 * loop on a loaded machine (299 -> 453 ms). */
static int js_receive_polling(session_t *s, int *res) {
  /* polls mostly finding nothing: one burst in 8 polls, to see whether that changed */
  if (__builtin_popcount(s->spin_history) < 4 && ++s->spin_skipped % 8 != 0) return 0;
  uint64_t start = now_ns();
  s->spins++;
  for (;;) {
    int got = js_receive(s, res);
    if (got != 0) {
      s->spin_hits++;
      s->spin_history = (uint8_t)(s->spin_history << 1 | 1);
      return got;
    }
    if (now_ns() - start > s->spin_ns) {
      s->spin_history <<= 1;
      return 0;
    }
    sched_yield();
  }
}

static void on_fuse_readable(uv_poll_t *h, int status, int events) {
  session_t *s = h->data;
  s->wakeups++;
  if (s->spin_ns && !s->spin_pays) s->spin_pays = now_ns() - s->idle_since_ns < 2 * s->spin_ns;
  int res = 0;
  for (int i = 0; i < JS_BATCH; i++) {
    int got = js_receive(s, &res);
    if (got == 0 && i > 0 && s->spin_pays && status >= 0) {
      got = js_receive_polling(s, &res);
      s->spin_pays = got != 0;
    }
    if (got == 0) {
      if (s->spin_ns) s->idle_since_ns = now_ns();
      /* POLLERR (libuv stopped the handle): a dead connection that read did not report */
      if (status < 0) js_loop_end(s, 0);
      return;
    }
    if (got < 0) {
      js_loop_end(s, res);
      return;
    }
    s->received++;
    js_scope_t sc;
    js_scope_open(s, &sc);
    fuse_session_process_buf(s->se, &s->rbuf);
    js_scope_close(s, &sc);
    if (fuse_session_exited(s->se)) {
      js_loop_end(s, 0);
      return;
    }
  }
  /* a full batch: the loop's other work gets its turn, the fd calls again at once */
  if (s->spin_ns) s->idle_since_ns = now_ns();
}

/* the pool's last item for an exiting session is done */
static void on_wake(uv_async_t *h) { maybe_destroy(h->data); }

static bool js_loop_start(napi_env env, session_t *s) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return false;
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "strata-fuse", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, resource, name, &s->async_ctx) != napi_ok) return false;
  napi_create_reference(env, resource, 1, &s->resource_ref);
  s->poll = calloc(1, sizeof *s->poll);
  s->wake = calloc(1, sizeof *s->wake);
  /* uv_poll_init makes the fd nonblocking: an empty /dev/fuse answers EAGAIN */
  if (!s->poll || !s->wake || uv_poll_init(loop, s->poll, fuse_session_fd(s->se)) != 0) goto fail;
  s->poll->data = s;
  if (uv_async_init(loop, s->wake, on_wake) != 0) {
    uv_close((uv_handle_t *)s->poll, poll_closed);
    s->poll = NULL;
    goto fail;
  }
  s->wake->data = s;
  uv_poll_start(s->poll, UV_READABLE, on_fuse_readable);
  return true;
fail:
  free(s->poll);
  free(s->wake);
  s->poll = NULL;
  s->wake = NULL;
  napi_delete_reference(env, s->resource_ref);
  napi_async_destroy(env, s->async_ctx);
  return false;
}

/* ---------------------------------------------------------------- JS side */

static napi_value make_setattr(napi_env env, const struct stat *st, int to_set) {
  napi_value o;
  napi_create_object(env, &o);
  if (to_set & FUSE_SET_ATTR_MODE) set_int(env, o, "mode", st->st_mode);
  if (to_set & FUSE_SET_ATTR_UID) set_int(env, o, "uid", st->st_uid);
  if (to_set & FUSE_SET_ATTR_GID) set_int(env, o, "gid", st->st_gid);
  if (to_set & FUSE_SET_ATTR_SIZE) set_int(env, o, "size", st->st_size);
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    set_int(env, o, "atime", 0);
    set_int(env, o, "atimeNsec", UTIME_NOW);
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    set_int(env, o, "atime", st->st_atim.tv_sec);
    set_int(env, o, "atimeNsec", st->st_atim.tv_nsec);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    set_int(env, o, "mtime", 0);
    set_int(env, o, "mtimeNsec", UTIME_NOW);
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    set_int(env, o, "mtime", st->st_mtim.tv_sec);
    set_int(env, o, "mtimeNsec", st->st_mtim.tv_nsec);
  }
  if (to_set & FUSE_SET_ATTR_CTIME) {
    set_int(env, o, "ctime", st->st_ctim.tv_sec);
    set_int(env, o, "ctimeNsec", st->st_ctim.tv_nsec);
  }
  return o;
}

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value num(napi_env env, int64_t n) { return make_int64(env, n); }

/* Runs on the JS thread: turns a request into serves[op](req, ...args) (js_cb unused: the
 * threads loop's threadsafe function has none). */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  request_t *r = data;
  session_t *s = r->s;
  if (env == NULL) { /* torn down */
    if (r->req) fuse_reply_err(r->req, EIO);
    free_request_fields(r);
    free(r);
    return;
  }
  napi_value argv[MAX_ARGS + 1], undef, reqv;
  size_t argc = 1;
  napi_get_undefined(env, &undef);
  argv[0] = undef;
  bool wrapped = r->req != NULL; /* then the JS handle's finalizer frees r */
  if (wrapped) {
    s->outstanding++;
    napi_create_external(env, r, finalize_request, NULL, &reqv);
    argv[0] = reqv;
  }
#define ARG(v) (argv[argc++] = (v))
  switch (r->op) {
  case OP_INIT: {
    napi_value o;
    napi_create_object(env, &o);
    set_int(env, o, "maxWrite", r->a);
    set_int(env, o, "want", r->b);
    set_int(env, o, "maxReadahead", r->c);
    set_int(env, o, "capable", r->d);
    napi_value b;
    napi_get_boolean(env, (r->b & FUSE_CAP_WRITEBACK_CACHE) != 0, &b);
    set_named(env, o, "writeback", b);
    napi_get_boolean(env, (r->b & FUSE_CAP_READDIRPLUS) != 0, &b);
    set_named(env, o, "readdirplus", b);
    napi_get_boolean(env, r->size != 0, &b);
    set_named(env, o, "passthrough", b);
    ARG(o);
    break;
  }
  case OP_EXIT:
    if (s->thread_started) pthread_join(s->thread, NULL);
    s->thread_started = false;
    s->loop_done = true;
    s->loop_result = (int)r->a;
    ARG(num(env, r->a));
    break;
  case OP_FORGET: {
    napi_value arr;
    napi_create_array_with_length(env, r->nforgets * 2, &arr);
    for (size_t i = 0; i < r->nforgets * 2; i++) napi_set_element(env, arr, (uint32_t)i, make_uint64(env, r->forgets[i]));
    ARG(arr);
    break;
  }
  case OP_LOOKUP: case OP_UNLINK: case OP_RMDIR:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name));
    break;
  case OP_GETATTR:
    ARG(make_uint64(env, r->ino)); ARG(r->has_fh ? make_uint64(env, r->fh) : undef);
    break;
  case OP_SETATTR:
    ARG(make_uint64(env, r->ino)); ARG(make_setattr(env, &r->attr, r->to_set));
    ARG(r->has_fh ? make_uint64(env, r->fh) : undef);
    break;
  case OP_READLINK: case OP_STATFS:
    ARG(make_uint64(env, r->ino));
    break;
  case OP_MKNOD:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name)); ARG(num(env, r->a)); ARG(num(env, r->b));
    break;
  case OP_MKDIR:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name)); ARG(num(env, r->a));
    break;
  case OP_SYMLINK:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name)); ARG(str(env, r->name2));
    break;
  case OP_RENAME:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name)); ARG(make_uint64(env, r->ino2)); ARG(str(env, r->name2));
    ARG(num(env, r->a));
    break;
  case OP_LINK:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->ino2)); ARG(str(env, r->name));
    break;
  case OP_OPEN: case OP_OPENDIR:
    ARG(make_uint64(env, r->ino)); ARG(num(env, r->a));
    break;
  case OP_READ:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(num(env, (int64_t)r->size)); ARG(num(env, r->a));
    break;
  case OP_WRITE: {
    napi_value buf;
    void *copy;
    napi_create_buffer_copy(env, r->len, r->data, &copy, &buf);
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(buf); ARG(num(env, r->a));
    break;
  }
  case OP_FLUSH: case OP_RELEASEDIR:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh));
    break;
  case OP_RELEASE:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(num(env, r->a)); ARG(num(env, r->b));
    break;
  case OP_FSYNC: case OP_FSYNCDIR:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(num(env, r->a));
    break;
  case OP_READDIR: case OP_READDIRPLUS:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(num(env, (int64_t)r->size)); ARG(num(env, r->a));
    break;
  case OP_SETXATTR: {
    napi_value buf;
    void *copy;
    napi_create_buffer_copy(env, r->len, r->data, &copy, &buf);
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name)); ARG(buf); ARG(num(env, r->a));
    break;
  }
  case OP_GETXATTR:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name)); ARG(num(env, (int64_t)r->size));
    break;
  case OP_LISTXATTR:
    ARG(make_uint64(env, r->ino)); ARG(num(env, (int64_t)r->size));
    break;
  case OP_REMOVEXATTR:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name));
    break;
  case OP_ACCESS:
    ARG(make_uint64(env, r->ino)); ARG(num(env, r->a));
    break;
  case OP_CREATE:
    ARG(make_uint64(env, r->ino)); ARG(str(env, r->name)); ARG(num(env, r->a)); ARG(num(env, r->b));
    break;
  case OP_FALLOCATE:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(num(env, r->a)); ARG(num(env, r->b));
    ARG(num(env, r->c));
    break;
  case OP_LSEEK:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(num(env, r->a)); ARG(num(env, r->b));
    break;
  case OP_COPY_FILE_RANGE:
    ARG(make_uint64(env, r->ino)); ARG(make_uint64(env, r->fh)); ARG(num(env, r->a));
    ARG(make_uint64(env, r->ino2)); ARG(make_uint64(env, r->fh2)); ARG(num(env, r->b)); ARG(num(env, r->c));
    ARG(num(env, r->d));
    break;
  }
#undef ARG
  /* strings and buffers are copied into JS now */
  free_request_fields(r);
  napi_value global, result, serve;
  napi_get_global(env, &global);
  napi_get_reference_value(env, s->serve_refs[r->op], &serve);
  napi_status st = napi_call_function(env, global, serve, argc, argv, &result);
  if (st == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    if (r->req && !r->replied) {
      fuse_reply_err(r->req, EIO);
      done_request(r);
    }
  }
  if (!r->req && !r->replied && r->op != OP_INIT) {
    /* no JS handle was made for it */
  }
  if (r->op == OP_EXIT) {
    maybe_destroy(s);
  }
  if (!wrapped) free(r); /* INIT, EXIT, FORGET, RELEASE: no JS handle owns it */
}

/* whether serves has a function for every op */
static bool serves_valid(napi_env env, napi_value serves) {
  bool is_array;
  uint32_t n;
  if (napi_is_array(env, serves, &is_array) != napi_ok || !is_array) return false;
  if (napi_get_array_length(env, serves, &n) != napi_ok || n < OP_COUNT) return false;
  for (uint32_t op = 1; op < OP_COUNT; op++) {
    napi_value f;
    napi_valuetype t;
    if (napi_get_element(env, serves, op, &f) != napi_ok || napi_typeof(env, f, &t) != napi_ok || t != napi_function) return false;
  }
  return true;
}

/* holds serves' functions (checked by serves_valid) for the session's calls */
static void serves_ref(napi_env env, session_t *s, napi_value serves) {
  for (uint32_t op = 1; op < OP_COUNT; op++) {
    napi_value f;
    napi_get_element(env, serves, op, &f);
    napi_create_reference(env, f, 1, &s->serve_refs[op]);
  }
}

/* mount(mountpoint, fuseArgs[], settings, serves) -> session. serves[op] (op as ops.h
 * numbers them, 1 to OP_EXIT) is a function called as serves[op](req, ...args) for each
 * request of that kind, and with req undefined for the events (INIT, EXIT, FORGET, and a
 * RELEASE answered in C already). */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, "EINVAL", "mount(mountpoint, args, settings, serves)");
    return NULL;
  }
  char *mountpoint;
  if (!arg_string(env, argv[0], &mountpoint)) return NULL;

  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  char **fargv = calloc(n + 2, sizeof(char *));
  fargv[0] = strdup("strata");
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    if (!arg_string(env, v, &fargv[i + 1])) {
      for (uint32_t j = 0; j <= i; j++) free(fargv[j]);
      free(fargv);
      free(mountpoint);
      return NULL;
    }
  }
  struct fuse_args args = FUSE_ARGS_INIT((int)n + 1, fargv);

  session_t *s = calloc(1, sizeof *s);
  napi_value cfg = argv[2], v;
  bool has;
#define SETTING_U(key, field, def)                                       \
  s->field = def;                                                        \
  napi_has_named_property(env, cfg, key, &has);                          \
  if (has) {                                                             \
    uint32_t x;                                                          \
    napi_get_named_property(env, cfg, key, &v);                          \
    if (napi_get_value_uint32(env, v, &x) == napi_ok) s->field = x;      \
  }
#define SETTING_B(key, field, def)                                       \
  s->field = def;                                                        \
  napi_has_named_property(env, cfg, key, &has);                          \
  if (has) {                                                             \
    bool x;                                                              \
    napi_get_named_property(env, cfg, key, &v);                          \
    if (napi_get_value_bool(env, v, &x) == napi_ok) s->field = x;        \
  }
  SETTING_U("maxWrite", max_write, 1024 * 1024)
  SETTING_U("maxReadahead", max_readahead, 1024 * 1024)
  SETTING_U("maxThreads", max_threads, 4)
  SETTING_B("writeback", writeback, false)
  SETTING_B("readdirplus", readdirplus, true)
  SETTING_B("readdirplusAuto", readdirplus_auto, true)
  SETTING_B("parallelDirops", parallel_dirops, true)
  SETTING_B("cacheSymlinks", cache_symlinks, true)
  SETTING_B("splice", splice, false)
  SETTING_B("spliceRead", splice_read, false)
  SETTING_B("passthrough", passthrough_wanted, false)
  SETTING_U("maxStackDepth", max_stack_depth, 1)
  SETTING_B("capsCache", caps_cache, false)
  SETTING_B("xattrCache", xattr_cache, false)
  SETTING_B("noFlush", no_flush, false)
  SETTING_U("spinUs", spin_ns, 0)
  s->spin_ns *= 1000;
  s->spin_history = 0xff; /* polls pay until they show otherwise */
#undef SETTING_U
#undef SETTING_B
  s->js_loop = true;
  napi_has_named_property(env, cfg, "loop", &has);
  if (has) {
    char mode[16];
    size_t l;
    napi_get_named_property(env, cfg, "loop", &v);
    if (napi_get_value_string_utf8(env, v, mode, sizeof mode, &l) == napi_ok) {
      if (strcmp(mode, "threads") == 0) s->js_loop = false;
      else if (strcmp(mode, "js") != 0) {
        fuse_opt_free_args(&args);
        free(s);
        free(mountpoint);
        napi_throw_type_error(env, "EINVAL", "settings.loop must be 'js' or 'threads'");
        return NULL;
      }
    }
  }
  pthread_mutex_init(&s->pool_lock, NULL);
  pthread_mutex_init(&s->xattr_lock, NULL);
  pthread_mutex_init(&s->attr_lock, NULL);
  pthread_mutex_init(&s->lower_lock, NULL);
  if (s->max_threads < 1) s->max_threads = 1;
  if (s->max_stack_depth < 1 || s->max_stack_depth > 2) s->max_stack_depth = 1; /* FILESYSTEM_MAX_STACK_DEPTH */

  napi_value name;
  napi_create_string_utf8(env, "strata-fuse", NAPI_AUTO_LENGTH, &name);
  if (!serves_valid(env, argv[3]) ||
      (!s->js_loop && napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, s, call_js, &s->tsfn) != napi_ok)) {
    fuse_opt_free_args(&args);
    free(s);
    free(mountpoint);
    napi_throw_error(env, "EINVAL", "serves must be an array of a function per op");
    return NULL;
  }

  s->se = fuse_session_new(&args, &ll_ops, sizeof ll_ops, s);
  fuse_opt_free_args(&args);
  if (!s->se) {
    if (s->tsfn) napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    free(s);
    free(mountpoint);
    napi_throw_error(env, "EINVAL", "fuse_session_new failed: bad FUSE options (see stderr)");
    return NULL;
  }
  if (fuse_session_mount(s->se, mountpoint) != 0) {
    fuse_session_destroy(s->se);
    if (s->tsfn) napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    free(s);
    throw_errno(env, EIO, "fuse_session_mount", mountpoint);
    free(mountpoint);
    return NULL;
  }
  free(mountpoint);
  /* after mounting: same fd, and the mountpoint stays known for the unmount */
  if (fuse_session_custom_io(s->se, &dev_fuse_io, fuse_session_fd(s->se)) != 0) {
    fuse_session_unmount(s->se);
    fuse_session_destroy(s->se);
    if (s->tsfn) napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    free(s);
    return throw_errno(env, EIO, "fuse_session_custom_io", NULL);
  }
  s->env = env;
  serves_ref(env, s, argv[3]);
  if (s->js_loop) {
    if (!js_loop_start(env, s)) {
      serves_unref(env, s);
      fuse_session_unmount(s->se);
      fuse_session_destroy(s->se);
      free(s);
      return throw_errno(env, EIO, "uv_poll_init", NULL);
    }
    napi_value ext;
    napi_create_external(env, s, NULL, NULL, &ext); /* lives as long as the process */
    return ext;
  }
  /* The loop thread and the workers libfuse starts from it inherit a mask that blocks
   * every signal: signals go to Node's threads. A handler running in a worker could be
   * cut short there (libfuse pthread_cancels its workers when the loop ends; libuv's
   * handler write()s, a cancellation point), losing the signal, e.g. a child's SIGCHLD. */
  int started = create_thread_without_signals(&s->thread, NULL, loop_main, s);
  if (started != 0) {
    int err = started;
    serves_unref(env, s);
    fuse_session_unmount(s->se);
    fuse_session_destroy(s->se);
    if (s->tsfn) napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    free(s);
    return throw_errno(env, err, "pthread_create", NULL);
  }
  s->thread_started = true;
  napi_value ext;
  napi_create_external(env, s, NULL, NULL, &ext); /* lives as long as the process */
  return ext;
}

static session_t *get_session(napi_env env, napi_value v) {
  session_t *s = NULL;
  if (napi_get_value_external(env, v, (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, "EINVAL", "not a FUSE session");
    return NULL;
  }
  return s;
}

/* sessionFd(session): the /dev/fuse fd, for aborting; -1 once closed. */
static napi_value js_session_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  return num(env, s->destroyed || !s->se ? -1 : fuse_session_fd(s->se));
}

static napi_value js_session_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  napi_value o;
  napi_create_object(env, &o);
  set_int(env, o, "writes", (int64_t)atomic_load(&s->writes));
  set_int(env, o, "writeBytes", (int64_t)atomic_load(&s->write_bytes));
  set_int(env, o, "maxWriteSeen", (int64_t)atomic_load(&s->max_write_seen));
  set_int(env, o, "reads", (int64_t)atomic_load(&s->reads));
  set_int(env, o, "flushes", (int64_t)atomic_load(&s->flushes));
  set_int(env, o, "splicedReads", (int64_t)atomic_load(&s->spliced_reads));
  set_int(env, o, "spliceFallbacks", (int64_t)atomic_load(&s->splice_fallbacks));
  set_int(env, o, "jsRequests", (int64_t)atomic_load(&s->js_requests));
  set_int(env, o, "outstanding", s->outstanding);
  set_int(env, o, "passthrough", atomic_load(&s->passthrough) ? 1 : 0);
  set_int(env, o, "backingOpens", (int64_t)atomic_load(&s->backing_opens));
  set_int(env, o, "backingOpen", (int64_t)atomic_load(&s->backing_open));
  set_named(env, o, "loop", str(env, s->js_loop ? "js" : "threads"));
  set_int(env, o, "inlineOps", (int64_t)s->inline_ops);
  set_int(env, o, "poolOps", (int64_t)s->pool_ops);
  pthread_mutex_lock(&s->pool_lock);
  set_int(env, o, "poolPending", s->pool_pending);
  pthread_mutex_unlock(&s->pool_lock);
  set_int(env, o, "wakeups", (int64_t)s->wakeups);
  set_int(env, o, "received", (int64_t)s->received);
  set_int(env, o, "spins", (int64_t)s->spins);
  set_int(env, o, "spinHits", (int64_t)s->spin_hits);
  set_int(env, o, "capsAnswered", (int64_t)atomic_load(&s->caps_answered));
  set_int(env, o, "xattrsAnswered", (int64_t)atomic_load(&s->xattrs_answered));
  pthread_mutex_lock(&s->xattr_lock);
  set_int(env, o, "xattrsKnownNone", (int64_t)s->noxattrs.count);
  pthread_mutex_unlock(&s->xattr_lock);
  set_int(env, o, "attrsAnswered", (int64_t)atomic_load(&s->attrs_answered));
  set_int(env, o, "opensInC", (int64_t)atomic_load(&s->opens_in_c));
  set_int(env, o, "lowerFdsSwapped", (int64_t)atomic_load(&s->lower_fds_swapped));
  pthread_mutex_lock(&s->lower_lock);
  set_int(env, o, "lowerFilesKnown", (int64_t)s->lower_files.marked);
  set_int(env, o, "lowerOpensHeld", (int64_t)s->lower_files.opens);
  pthread_mutex_unlock(&s->lower_lock);
  return o;
}

/* ---------------------------------------------------------------- replies */

#define REPLY_PROLOGUE(nargs)                                   \
  size_t argc = nargs;                                          \
  napi_value argv[nargs];                                       \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);         \
  request_t *r;                                                 \
  if (argc < nargs) {                                           \
    napi_throw_type_error(env, "EINVAL", "missing arguments");  \
    return NULL;                                                \
  }                                                             \
  if (!take_request(env, argv[0], &r)) return NULL;

static napi_value finish(napi_env env, request_t *r, int res) {
  done_request(r);
  napi_value out;
  napi_get_boolean(env, res == 0, &out); /* false: the kernel no longer waited (interrupted) */
  return out;
}

static double get_double(napi_env env, napi_value obj, const char *name, double def) {
  napi_value v;
  bool has;
  double d = def;
  napi_has_named_property(env, obj, name, &has);
  if (!has) return def;
  napi_get_named_property(env, obj, name, &v);
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    bool lossless;
    int64_t i;
    if (napi_get_value_bigint_int64(env, v, &i, &lossless) == napi_ok) d = (double)i;
    else d = def;
  }
  return d;
}

static uint64_t get_u64(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  uint64_t u = 0;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number) {
    double d;
    napi_get_value_double(env, v, &d);
    u = (uint64_t)d;
  } else if (t == napi_bigint) {
    bool lossless;
    napi_get_value_bigint_uint64(env, v, &u, &lossless);
  }
  return u;
}

static bool read_entry(napi_env env, napi_value obj, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  napi_valuetype t;
  napi_typeof(env, obj, &t);
  if (t != napi_object) {
    napi_throw_type_error(env, "EINVAL", "expected an entry");
    return false;
  }
  e->ino = get_u64(env, obj, "ino");
  e->generation = get_u64(env, obj, "generation");
  e->attr_timeout = get_double(env, obj, "attrTimeout", 1.0);
  e->entry_timeout = get_double(env, obj, "entryTimeout", 1.0);
  napi_value attr;
  bool has;
  napi_has_named_property(env, obj, "attr", &has);
  if (has) {
    napi_get_named_property(env, obj, "attr", &attr);
    read_attr(env, attr, &e->attr);
  }
  return true;
}

static void read_open_flags(napi_env env, napi_value obj, struct fuse_file_info *fi) {
  napi_valuetype t;
  napi_typeof(env, obj, &t);
  if (t != napi_object) return;
  napi_value v;
  bool b, has;
#define FLAG(key, field)                                   \
  napi_has_named_property(env, obj, key, &has);            \
  if (has) {                                               \
    napi_get_named_property(env, obj, key, &v);            \
    if (napi_get_value_bool(env, v, &b) == napi_ok) fi->field = b; \
  }
  FLAG("directIo", direct_io)
  FLAG("keepCache", keep_cache)
  FLAG("nonseekable", nonseekable)
  FLAG("cacheReaddir", cache_readdir)
  FLAG("noflush", noflush)
#undef FLAG
}

static int backing_fd(napi_env env, napi_value obj) {
  napi_valuetype t;
  napi_typeof(env, obj, &t);
  if (t != napi_object) return -1;
  double d = get_double(env, obj, "backingFd", -1);
  return (int)d;
}

/* replyErr(req, errno): 0 is success without data. */
static napi_value js_reply_err(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  int32_t err;
  if (!arg_int32(env, argv[1], &err)) return NULL;
  if (err < 0) err = -err;
  if (r->op == OP_GETXATTR && r->caps_query && err == ENODATA) caps_none(r->s, r->ino);
  /* a getxattr answered while the change was under way may have kept the old state */
  if (r->op == OP_SETXATTR || r->op == OP_REMOVEXATTR) xattrs_forget(r->s, r->ino);
  return finish(env, r, fuse_reply_err(r->req, err));
}

static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  struct fuse_entry_param e;
  if (!read_entry(env, argv[1], &e)) return NULL;
  return finish(env, r, fuse_reply_entry(r->req, &e));
}

static int backing_id_of(napi_env env, napi_value obj) {
  napi_valuetype t;
  napi_typeof(env, obj, &t);
  if (t != napi_object) return 0;
  return (int)get_double(env, obj, "backingId", 0);
}

static uint64_t timeout_sec(double t) { return t <= 0 ? 0 : t >= 1e18 ? (uint64_t)1e18 : (uint64_t)t; }
static uint32_t timeout_nsec(double t) {
  if (t <= 0 || t >= 1e18) return 0;
  double ns = (t - (double)(uint64_t)t) * 1e9;
  return ns >= 999999999 ? 999999999 : (uint32_t)ns;
}

/* What libfuse's fuse_reply_entry sends, for replies libfuse 3.14 cannot build. */
static void fill_entry_out(struct fuse_entry_out *o, const struct fuse_entry_param *e) {
  memset(o, 0, sizeof *o);
  o->nodeid = e->ino;
  o->generation = e->generation;
  o->entry_valid = timeout_sec(e->entry_timeout);
  o->entry_valid_nsec = timeout_nsec(e->entry_timeout);
  o->attr_valid = timeout_sec(e->attr_timeout);
  o->attr_valid_nsec = timeout_nsec(e->attr_timeout);
  const struct stat *st = &e->attr;
  o->attr.ino = st->st_ino;
  o->attr.mode = st->st_mode;
  o->attr.nlink = st->st_nlink;
  o->attr.uid = st->st_uid;
  o->attr.gid = st->st_gid;
  o->attr.rdev = st->st_rdev;
  o->attr.size = st->st_size;
  o->attr.blocks = st->st_blocks;
  o->attr.blksize = st->st_blksize;
  o->attr.atime = st->st_atim.tv_sec;
  o->attr.atimensec = st->st_atim.tv_nsec;
  o->attr.mtime = st->st_mtim.tv_sec;
  o->attr.mtimensec = st->st_mtim.tv_nsec;
  o->attr.ctime = st->st_ctim.tv_sec;
  o->attr.ctimensec = st->st_ctim.tv_nsec;
}

/* A passthrough open: the kernel reads and writes the backing file registered as id
 * itself. FOPEN_KEEP_CACHE and the other cache flags are refused with it (iomode.c): the
 * fuse inode has no page cache of its own in this mode. */
static void fill_passthrough_open(struct strata_open_out *o, const struct fuse_file_info *fi, int backing_id) {
  memset(o, 0, sizeof *o);
  o->fh = fi->fh;
  /* FOPEN_NOFLUSH is allowed with it (FOPEN_PASSTHROUGH_MASK): a read-only open's close
   * then waits for no FLUSH round trip, as it does without passthrough */
  o->open_flags = STRATA_FOPEN_PASSTHROUGH | (fi->noflush ? FOPEN_NOFLUSH : 0);
  o->backing_id = backing_id;
}

/* passthrough: the kernel reads and writes the file itself, so whether the fd is O_DIRECT
 * (a fcntl per open) never matters here */
static handle_t *new_handle(session_t *s, uint64_t fh, int fd, bool passthrough) {
  handle_t *h = calloc(1, sizeof *h);
  h->fh = fh;
  h->fd = fd;
  if (fd >= 0 && s->js_loop && !passthrough) {
    int fl = fcntl(fd, F_GETFL);
    h->direct = fl >= 0 && (fl & O_DIRECT);
  }
  return h;
}

/* The create reply once its fields are read: entry e, JS's fh, the flags in fi. */
static napi_value reply_create(napi_env env, request_t *r, const struct fuse_entry_param *e, uint64_t fh,
                               struct fuse_file_info *fi, int fd, int id) {
  handle_t *h = new_handle(r->s, fh, fd, id > 0);
  fi->fh = (uintptr_t)h;
  int res;
  if (id > 0) {
    struct {
      struct fuse_entry_out entry;
      struct strata_open_out open;
    } out;
    fill_entry_out(&out.entry, e);
    fill_passthrough_open(&out.open, fi, id);
    res = fuse_reply_buf(r->req, (const char *)&out, sizeof out);
  } else {
    res = fuse_reply_create(r->req, e, fi);
  }
  if (res != 0) free(h); /* no release will come for it */
  else caps_none(r->s, e->ino); /* a file create made carries no xattr the kernel asks for */
  return finish(env, r, res);
}

/* The open (or opendir) reply once its fields are read. */
static napi_value reply_open(napi_env env, request_t *r, uint64_t fh, struct fuse_file_info *fi, int fd, int id) {
  handle_t *h = NULL;
  if (r->op == OP_OPENDIR) {
    fi->fh = fh;
    id = 0;
  } else {
    h = new_handle(r->s, fh, fd, id > 0);
    fi->fh = (uintptr_t)h;
  }
  int res;
  if (id > 0) {
    struct strata_open_out out;
    fill_passthrough_open(&out, fi, id);
    res = fuse_reply_buf(r->req, (const char *)&out, sizeof out);
  } else {
    res = fuse_reply_open(r->req, fi);
  }
  if (res != 0) free(h);
  return finish(env, r, res);
}

/* replyCreate(req, entry, fh, {backingFd, backingId, directIo, keepCache}) */
static napi_value js_reply_create(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(4);
  struct fuse_entry_param e;
  if (!read_entry(env, argv[1], &e)) return NULL;
  uint64_t fh;
  if (!arg_uint64(env, argv[2], &fh)) return NULL;
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  read_open_flags(env, argv[3], &fi);
  return reply_create(env, r, &e, fh, &fi, backing_fd(env, argv[3]), backing_id_of(env, argv[3]));
}

/* replyOpen(req, fh, {backingFd, backingId, directIo, keepCache, cacheReaddir}) for open and opendir */
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  uint64_t fh;
  if (!arg_uint64(env, argv[1], &fh)) return NULL;
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  read_open_flags(env, argv[2], &fi);
  return reply_open(env, r, fh, &fi, backing_fd(env, argv[2]), backing_id_of(env, argv[2]));
}

/* ---------------------------------------------------------------- packed replies
 *
 * The same replies with their fields as doubles at fixed offsets of one Float64Array
 * (src/fuse/packed.ts packs them), read here in one call. Reading an entry's ~20 named
 * properties from C cost more than the kernel's write of the reply: perf of 20,000 cold
 * lookups gave read_entry 10.5% of the daemon's CPU, the writev 7.4%. */
enum {
  PK_NODEID, PK_GENERATION, PK_ATTR_TIMEOUT, PK_ENTRY_TIMEOUT, PK_HAS_ATTR,
  PK_INO, PK_MODE, PK_NLINK, PK_UID, PK_GID, PK_RDEV, PK_SIZE, PK_BLOCKS, PK_BLKSIZE,
  PK_ATIME, PK_ATIME_NSEC, PK_MTIME, PK_MTIME_NSEC, PK_CTIME, PK_CTIME_NSEC,
  PK_LEN
};

/* open reply flag bits (packed.ts openBits) */
enum { PK_DIRECT_IO = 1, PK_KEEP_CACHE = 2, PK_NONSEEKABLE = 4, PK_CACHE_READDIR = 8, PK_NOFLUSH = 16 };

/* a packed field as an integer: NaN (a field JS left unset) is 0 */
static int64_t pk_int(double d) { return d == d ? (int64_t)d : 0; }

static bool arg_packed(napi_env env, napi_value v, const double **out) {
  return arg_float64s(env, v, PK_LEN, "expected a packed Float64Array", (double **)out);
}

static void packed_attr(const double *b, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)pk_int(b[PK_INO]);
  st->st_mode = (mode_t)pk_int(b[PK_MODE]);
  st->st_nlink = (nlink_t)pk_int(b[PK_NLINK]);
  st->st_uid = (uid_t)pk_int(b[PK_UID]);
  st->st_gid = (gid_t)pk_int(b[PK_GID]);
  st->st_rdev = (dev_t)pk_int(b[PK_RDEV]);
  st->st_size = (off_t)pk_int(b[PK_SIZE]);
  st->st_blocks = (blkcnt_t)pk_int(b[PK_BLOCKS]);
  st->st_blksize = (blksize_t)pk_int(b[PK_BLKSIZE]);
  st->st_atim.tv_sec = pk_int(b[PK_ATIME]);
  st->st_atim.tv_nsec = pk_int(b[PK_ATIME_NSEC]);
  st->st_mtim.tv_sec = pk_int(b[PK_MTIME]);
  st->st_mtim.tv_nsec = pk_int(b[PK_MTIME_NSEC]);
  st->st_ctim.tv_sec = pk_int(b[PK_CTIME]);
  st->st_ctim.tv_nsec = pk_int(b[PK_CTIME_NSEC]);
}

static void packed_entry(const double *b, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  e->ino = (fuse_ino_t)pk_int(b[PK_NODEID]);
  e->generation = (uint64_t)pk_int(b[PK_GENERATION]);
  e->attr_timeout = b[PK_ATTR_TIMEOUT];
  e->entry_timeout = b[PK_ENTRY_TIMEOUT];
  if (b[PK_HAS_ATTR] != 0) packed_attr(b, &e->attr);
}

static void packed_open_flags(uint32_t bits, struct fuse_file_info *fi) {
  memset(fi, 0, sizeof *fi);
  fi->direct_io = (bits & PK_DIRECT_IO) != 0;
  fi->keep_cache = (bits & PK_KEEP_CACHE) != 0;
  fi->nonseekable = (bits & PK_NONSEEKABLE) != 0;
  fi->cache_readdir = (bits & PK_CACHE_READDIR) != 0;
  fi->noflush = (bits & PK_NOFLUSH) != 0;
}

/* the open half of a packed open or create reply: fh, flag bits, backing fd and id, from
 * four arguments in a row */
struct open_parts {
  uint64_t fh;
  struct fuse_file_info fi;
  int32_t fd, id;
};
static bool arg_open_parts(napi_env env, const napi_value *argv, struct open_parts *o) {
  uint32_t bits;
  if (!arg_uint64(env, argv[0], &o->fh)) return false;
  if (napi_get_value_uint32(env, argv[1], &bits) != napi_ok || !arg_int32(env, argv[2], &o->fd) || !arg_int32(env, argv[3], &o->id)) {
    napi_throw_type_error(env, "EINVAL", "expected numbers");
    return false;
  }
  packed_open_flags(bits, &o->fi);
  return true;
}

/* replyEntryPacked(req, packed) */
static napi_value js_reply_entry_packed(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  const double *b;
  if (!arg_packed(env, argv[1], &b)) return NULL;
  struct fuse_entry_param e;
  packed_entry(b, &e);
  return finish(env, r, fuse_reply_entry(r->req, &e));
}

/* replyAttrPacked(req, packed): the attr and its timeout (PK_ATTR_TIMEOUT) */
static napi_value js_reply_attr_packed(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  const double *b;
  if (!arg_packed(env, argv[1], &b)) return NULL;
  struct stat st;
  packed_attr(b, &st);
  return finish(env, r, fuse_reply_attr(r->req, &st, b[PK_ATTR_TIMEOUT]));
}

/* replyOpenPacked(req, fh, bits, backingFd, backingId) */
static napi_value js_reply_open_packed(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(5);
  struct open_parts o;
  if (!arg_open_parts(env, argv + 1, &o)) return NULL;
  return reply_open(env, r, o.fh, &o.fi, o.fd, o.id);
}

/* replyCreatePacked(req, packed entry, fh, bits, backingFd, backingId) */
static napi_value js_reply_create_packed(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(6);
  const double *b;
  if (!arg_packed(env, argv[1], &b)) return NULL;
  struct open_parts o;
  if (!arg_open_parts(env, argv + 2, &o)) return NULL;
  struct fuse_entry_param e;
  packed_entry(b, &e);
  return reply_create(env, r, &e, o.fh, &o.fi, o.fd, o.id);
}

/* backingOpen(session, fd) -> id: registers fd's file as a backing file of this
 * connection (needs passthrough agreed, and CAP_SYS_ADMIN in the initial namespace). */
static napi_value js_backing_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  int32_t fd;
  if (!arg_int32(env, argv[1], &fd)) return NULL;
  if (s->destroyed || !s->se) return throw_errno(env, EBADF, "FUSE_DEV_IOC_BACKING_OPEN", NULL);
  struct strata_backing_map map = {.fd = fd, .flags = 0, .padding = 0};
  int id = ioctl(fuse_session_fd(s->se), STRATA_FUSE_DEV_IOC_BACKING_OPEN, &map);
  if (id < 0) return throw_errno(env, errno, "FUSE_DEV_IOC_BACKING_OPEN", NULL);
  atomic_fetch_add(&s->backing_opens, 1);
  atomic_fetch_add(&s->backing_open, 1);
  return num(env, id);
}

/* backingClose(session, id): the kernel drops the id (files open through it stay valid). */
static napi_value js_backing_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  int32_t id;
  if (!arg_int32(env, argv[1], &id)) return NULL;
  if (s->destroyed || !s->se) return make_undefined(env); /* the connection took them all */
  uint32_t uid = (uint32_t)id;
  if (ioctl(fuse_session_fd(s->se), STRATA_FUSE_DEV_IOC_BACKING_CLOSE, &uid) < 0)
    return throw_errno(env, errno, "FUSE_DEV_IOC_BACKING_CLOSE", NULL);
  atomic_fetch_sub(&s->backing_open, 1);
  return make_undefined(env);
}

/* xattrsNone(session, ids, count): the inodes ids[0..count) have no xattrs at all, as JS
 * has just found (xattrCache; see session_t). Told before the reply that hands the
 * kernel a new inode, so no request about it can come in between. */
static napi_value js_xattrs_none(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  double *ids;
  int32_t count;
  if (!arg_int32(env, argv[2], &count)) return NULL;
  if (count < 0) count = 0;
  if (!arg_float64s(env, argv[1], (size_t)count, "expected a Float64Array of inode numbers, at least count long", &ids)) return NULL;
  if (!s->xattr_cache) return make_undefined(env);
  pthread_mutex_lock(&s->xattr_lock);
  for (int32_t i = 0; i < count; i++)
    if (ids[i] > 0) ino_set_add(&s->noxattrs, (uint64_t)ids[i]); /* out of memory: asked again */
  pthread_mutex_unlock(&s->xattr_lock);
  return make_undefined(env);
}

/* xattrsChanged(session, id): what is known of the inode's xattrs no longer holds (its
 * real file changed: a copy-up) */
static napi_value js_xattrs_changed(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  uint64_t id;
  if (!arg_uint64(env, argv[1], &id)) return NULL;
  if (id > 0) xattrs_forget(s, id);
  return make_undefined(env);
}

static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  struct stat st;
  if (!read_attr(env, argv[1], &st)) {
    napi_throw_type_error(env, "EINVAL", "expected an attr");
    return NULL;
  }
  double timeout;
  napi_get_value_double(env, argv[2], &timeout);
  return finish(env, r, fuse_reply_attr(r->req, &st, timeout));
}

static napi_value js_reply_readlink(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  char *target;
  if (!arg_string(env, argv[1], &target)) return NULL;
  int res = fuse_reply_readlink(r->req, target);
  free(target);
  return finish(env, r, res);
}

static napi_value js_reply_write(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  int64_t count;
  if (!arg_int64(env, argv[1], &count)) return NULL;
  return finish(env, r, fuse_reply_write(r->req, (size_t)count));
}

/* replyBuf(req, buffer): data for read. */
static napi_value js_reply_buf(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  void *data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len)) return NULL;
  if (r->op == OP_READ && len > r->size) len = r->size;
  return finish(env, r, fuse_reply_buf(r->req, data, len));
}

/* replyXattr(req, value): the size protocol (size 0 asks the length; too small is ERANGE)
 * is applied here. */
static napi_value js_reply_xattr(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  void *data;
  size_t len;
  if (!arg_buffer(env, argv[1], &data, &len)) return NULL;
  int res;
  if (r->size == 0) res = fuse_reply_xattr(r->req, len);
  else if (len > r->size) res = fuse_reply_err(r->req, ERANGE);
  else res = fuse_reply_buf(r->req, data, len);
  return finish(env, r, res);
}

/* replyXattrList(req, names[]) */
static napi_value js_reply_xattr_list(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  size_t cap = 256, len = 0;
  char *buf = malloc(cap);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t l;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_string_utf8(env, v, NULL, 0, &l) != napi_ok) continue;
    while (len + l + 1 > cap) buf = realloc(buf, cap *= 2);
    napi_get_value_string_utf8(env, v, buf + len, l + 1, &l);
    len += l + 1;
  }
  int res;
  if (r->size == 0) res = fuse_reply_xattr(r->req, len);
  else if (len > r->size) res = fuse_reply_err(r->req, ERANGE);
  else res = fuse_reply_buf(r->req, buf, len);
  free(buf);
  return finish(env, r, res);
}

static napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  struct statvfs sv;
  memset(&sv, 0, sizeof sv);
  sv.f_bsize = (unsigned long)get_double(env, argv[1], "bsize", 4096);
  sv.f_frsize = (unsigned long)get_double(env, argv[1], "frsize", 4096);
  sv.f_blocks = (fsblkcnt_t)get_double(env, argv[1], "blocks", 0);
  sv.f_bfree = (fsblkcnt_t)get_double(env, argv[1], "bfree", 0);
  sv.f_bavail = (fsblkcnt_t)get_double(env, argv[1], "bavail", 0);
  sv.f_files = (fsfilcnt_t)get_double(env, argv[1], "files", 0);
  sv.f_ffree = (fsfilcnt_t)get_double(env, argv[1], "ffree", 0);
  sv.f_favail = (fsfilcnt_t)get_double(env, argv[1], "favail", 0);
  sv.f_namemax = (unsigned long)get_double(env, argv[1], "namemax", 255);
  return finish(env, r, fuse_reply_statfs(r->req, &sv));
}

static napi_value js_reply_lseek(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  int64_t off;
  if (!arg_int64(env, argv[1], &off)) return NULL;
  return finish(env, r, fuse_reply_lseek(r->req, off));
}

/* replyReaddir(req, entries) -> how many entries fit. Entries are {name, ino, mode, off}
 * for readdir and {name, off, entry} for readdirplus; every entry that fits with a
 * nonzero entry.ino (other than . and ..) counts as a lookup for the kernel. */
static napi_value js_reply_readdir(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(2);
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  size_t size = r->size, pos = 0;
  char *buf = malloc(size ? size : 1);
  uint32_t added = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value ent, namev;
    napi_get_element(env, argv[1], i, &ent);
    napi_get_named_property(env, ent, "name", &namev);
    char name[1024];
    size_t nl;
    if (napi_get_value_string_utf8(env, namev, name, sizeof name, &nl) != napi_ok) continue;
    off_t off = (off_t)get_double(env, ent, "off", 0);
    size_t need;
    if (r->op == OP_READDIRPLUS) {
      napi_value ev;
      struct fuse_entry_param e;
      napi_get_named_property(env, ent, "entry", &ev);
      if (!read_entry(env, ev, &e)) {
        free(buf);
        return NULL;
      }
      need = fuse_add_direntry_plus(r->req, buf + pos, size - pos, name, &e, off);
    } else {
      struct stat st;
      memset(&st, 0, sizeof st);
      st.st_ino = (ino_t)get_u64(env, ent, "ino");
      st.st_mode = (mode_t)get_double(env, ent, "mode", 0);
      need = fuse_add_direntry(r->req, buf + pos, size - pos, name, &st, off);
    }
    if (need > size - pos) break;
    pos += need;
    added++;
  }
  int res = fuse_reply_buf(r->req, buf, pos);
  free(buf);
  finish(env, r, res);
  return num(env, added);
}

/* reqContextInto(req, Float64Array(4)): uid, gid, pid, umask, with no object built in C
 * (four named properties set from C cost more than the rest of an OPEN's dispatch) */
static napi_value js_req_context_into(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  request_t *r = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&r) != napi_ok || !r) {
    napi_throw_type_error(env, "EINVAL", "not a FUSE request");
    return NULL;
  }
  double *b;
  if (!arg_float64s(env, argv[1], 4, "expected a Float64Array(4)", &b)) return NULL;
  b[0] = r->uid;
  b[1] = r->gid;
  b[2] = r->pid;
  b[3] = r->umask;
  return make_undefined(env);
}

/* attrFd(session, ino, fd, timeout): from now on GETATTR of ino is answered in C by an
 * fstat of fd, with that attr timeout, until a FORGET of ino (or another inode's fd takes
 * its slot). The session owns fd (closed then, or now if the session is gone). Only for
 * an inode whose attr the mount shows as its real file's: its st_ino, nlink, uid and gid
 * as they are (the caller decides); the fd follows the file through renames. */
static napi_value js_attr_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  int64_t ino;
  int32_t fd;
  double timeout;
  if (!arg_int64(env, argv[1], &ino) || !arg_int32(env, argv[2], &fd) || !arg_double(env, argv[3], &timeout)) return NULL;
  if (s->destroyed || ino <= 0) {
    close(fd);
    return make_undefined(env);
  }
  pthread_mutex_lock(&s->attr_lock);
  size_t i = (uint64_t)ino % ATTR_FDS;
  if (s->attr_fds[i].ino != 0) close(s->attr_fds[i].fd);
  s->attr_fds[i].ino = (uint64_t)ino;
  s->attr_fds[i].fd = fd;
  s->attr_fd_timeout = timeout;
  pthread_mutex_unlock(&s->attr_lock);
  return make_undefined(env);
}

/* lowerFile(session, ino, path): a read-only OPEN of ino opens path (its content: a lower
 * file) here, until lowerFileCopiedUp or a FORGET of ino. Told before the reply that hands
 * the kernel the inode (LOOKUP), or later (an OPEN JS answered). */
static napi_value js_lower_file(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  int64_t ino;
  char path[PATH_MAX];
  size_t len;
  if (!arg_int64(env, argv[1], &ino)) return NULL;
  int whole = string_into(env, argv[2], path, sizeof path, &len);
  if (whole < 0) return NULL;
  if (s->destroyed || ino <= 0 || !whole) return make_undefined(env); /* too long: JS opens it */
  pthread_mutex_lock(&s->lower_lock);
  lower_files_set_path(&s->lower_files, (uint64_t)ino, path); /* out of memory: JS opens it */
  pthread_mutex_unlock(&s->lower_lock);
  return make_undefined(env);
}

/* lowerFileCopiedUp(session, ino, upper) -> the opens of ino still held here: ino's content
 * is now the upper file upper. Its path goes, and each fd opened here on the lower file
 * gets the upper copy dup3()ed onto it (as the engine's swapLowerFds), all under the lock:
 * no OPEN comes in between. A failed open of upper throws its errno (the fds not swapped
 * yet stay on the lower file). */
static napi_value js_lower_file_copied_up(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  int64_t ino;
  char *upper;
  if (!arg_int64(env, argv[1], &ino) || !arg_string(env, argv[2], &upper)) return NULL;
  int err = 0;
  unsigned held = 0;
  pthread_mutex_lock(&s->lower_lock);
  lower_file_t *e = ino > 0 ? lower_files_get(&s->lower_files, (uint64_t)ino) : NULL;
  if (e) {
    held = e->opens;
    while (e->nfds > 0) {
      int fresh = open(upper, O_RDONLY | O_CLOEXEC);
      if (fresh < 0 || dup3(fresh, e->fds[e->nfds - 1], O_CLOEXEC) < 0) {
        err = errno;
        if (fresh >= 0) close(fresh);
        break;
      }
      close(fresh);
      e->nfds--;
      atomic_fetch_add(&s->lower_fds_swapped, 1);
    }
    lower_files_set_path(&s->lower_files, (uint64_t)ino, NULL); /* may free e */
  }
  pthread_mutex_unlock(&s->lower_lock);
  if (err) {
    napi_value r = throw_errno(env, err, "copy-up: reopen", upper);
    free(upper);
    return r;
  }
  free(upper);
  return num(env, held);
}

/* lowerFileOpens(session, ino): the opens of ino made here and not released yet */
static napi_value js_lower_file_opens(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  session_t *s = get_session(env, argv[0]);
  if (!s) return NULL;
  int64_t ino;
  if (!arg_int64(env, argv[1], &ino)) return NULL;
  pthread_mutex_lock(&s->lower_lock);
  lower_file_t *e = ino > 0 ? lower_files_get(&s->lower_files, (uint64_t)ino) : NULL;
  unsigned held = e ? e->opens : 0;
  pthread_mutex_unlock(&s->lower_lock);
  return num(env, held);
}

void session_init(napi_env env, napi_value exports) {
  export_fn(env, exports, "lowerFile", js_lower_file);
  export_fn(env, exports, "lowerFileCopiedUp", js_lower_file_copied_up);
  export_fn(env, exports, "lowerFileOpens", js_lower_file_opens);
  export_fn(env, exports, "attrFd", js_attr_fd);
  export_fn(env, exports, "reqContextInto", js_req_context_into);
  export_fn(env, exports, "mount", js_mount);
  export_fn(env, exports, "sessionFd", js_session_fd);
  export_fn(env, exports, "sessionStats", js_session_stats);
  export_fn(env, exports, "backingOpen", js_backing_open);
  export_fn(env, exports, "xattrsNone", js_xattrs_none);
  export_fn(env, exports, "xattrsChanged", js_xattrs_changed);
  export_fn(env, exports, "backingClose", js_backing_close);
  export_fn(env, exports, "replyErr", js_reply_err);
  export_fn(env, exports, "replyEntry", js_reply_entry);
  export_fn(env, exports, "replyCreate", js_reply_create);
  export_fn(env, exports, "replyOpen", js_reply_open);
  export_fn(env, exports, "replyAttr", js_reply_attr);
  export_fn(env, exports, "replyEntryPacked", js_reply_entry_packed);
  export_fn(env, exports, "replyAttrPacked", js_reply_attr_packed);
  export_fn(env, exports, "replyOpenPacked", js_reply_open_packed);
  export_fn(env, exports, "replyCreatePacked", js_reply_create_packed);
  export_fn(env, exports, "replyReadlink", js_reply_readlink);
  export_fn(env, exports, "replyWrite", js_reply_write);
  export_fn(env, exports, "replyBuf", js_reply_buf);
  export_fn(env, exports, "replyXattr", js_reply_xattr);
  export_fn(env, exports, "replyXattrList", js_reply_xattr_list);
  export_fn(env, exports, "replyStatfs", js_reply_statfs);
  export_fn(env, exports, "replyLseek", js_reply_lseek);
  export_fn(env, exports, "replyReaddir", js_reply_readdir);
}
