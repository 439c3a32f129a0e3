/* The syscalls Node does not offer (or offers without ns precision), synchronous.
 * Every failure throws an Error carrying `code` and a positive `errno`. */
#include "napi_util.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static napi_value js_lstat(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (!arg_string(env, argv[0], &path)) return NULL;
  struct stat st;
  int r = lstat(path, &st);
  napi_value out = r < 0 ? throw_errno(env, errno, "lstat", path) : make_attr(env, &st);
  free(path);
  return out;
}

/* A stat into a Float64Array(16) the caller keeps, in make_attr's field order: building
 * the object in JS costs a fraction of 16 napi property sets. Returns 0, the positive
 * errno (no exception: most of a union's lookups miss in some layer), or -1 when a field
 * is not exact as a double (an inode number past 2^53): then ask lstat/fstat. */
#define SAFE_INT 9007199254740991ULL
int fill_stat(const struct stat *st, double *b) {
  if ((uint64_t)st->st_ino > SAFE_INT || (uint64_t)st->st_dev > SAFE_INT || (uint64_t)st->st_rdev > SAFE_INT) return -1;
  b[0] = (double)st->st_ino;
  b[1] = (double)st->st_dev;
  b[2] = st->st_mode;
  b[3] = (double)st->st_nlink;
  b[4] = st->st_uid;
  b[5] = st->st_gid;
  b[6] = (double)st->st_rdev;
  b[7] = (double)st->st_size;
  b[8] = (double)st->st_blocks;
  b[9] = (double)st->st_blksize;
  b[10] = (double)st->st_atim.tv_sec;
  b[11] = (double)st->st_atim.tv_nsec;
  b[12] = (double)st->st_mtim.tv_sec;
  b[13] = (double)st->st_mtim.tv_nsec;
  b[14] = (double)st->st_ctim.tv_sec;
  b[15] = (double)st->st_ctim.tv_nsec;
  return 0;
}

static bool arg_stat_buf(napi_env env, napi_value v, double **out) {
  return arg_float64s(env, v, 16, "expected a Float64Array(16)", out);
}

static napi_value js_lstat_into(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  double *b;
  char *path;
  if (!arg_stat_buf(env, argv[1], &b)) return NULL;
  if (!arg_string(env, argv[0], &path)) return NULL;
  struct stat st;
  int r = lstat(path, &st);
  int err = errno;
  free(path);
  return make_int64(env, r < 0 ? err : fill_stat(&st, b));
}

/* readdirInos(path) -> [names, types, inos]: a directory's entries (without . and ..),
 * names as one string joined by NULs (one string made, not one per entry), d_type in a
 * Uint8Array and d_ino in a Float64Array (-1 past 2^53): one getdents walk, where
 * fs.readdirSync gives no inode numbers and builds a Dirent object per entry. */
static napi_value js_readdir_inos(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (!arg_string(env, argv[0], &path)) return NULL;
  DIR *d = opendir(path);
  if (!d) {
    napi_value e = throw_errno(env, errno, "scandir", path);
    free(path);
    return e;
  }
  size_t cap = 64, n = 0, ncap = 4096, nlen = 0;
  double *inos = malloc(cap * sizeof *inos);
  unsigned char *types = malloc(cap);
  char *names = malloc(ncap);
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) continue;
    if (n == cap) {
      cap *= 2;
      inos = realloc(inos, cap * sizeof *inos);
      types = realloc(types, cap);
    }
    size_t l = strlen(nm);
    while (nlen + l + 1 > ncap) names = realloc(names, ncap *= 2);
    if (n > 0) names[nlen++] = 0;
    memcpy(names + nlen, nm, l);
    nlen += l;
    inos[n] = (uint64_t)de->d_ino > SAFE_INT ? -1 : (double)de->d_ino;
    types[n] = de->d_type;
    n++;
    errno = 0;
  }
  int err = errno;
  closedir(d);
  napi_value out = NULL;
  if (err) {
    out = throw_errno(env, err, "scandir", path);
  } else {
    napi_value namesv, tab, tarr, iab, iarr;
    void *data;
    napi_create_string_utf8(env, names, nlen, &namesv);
    napi_create_arraybuffer(env, n ? n : 1, &data, &tab);
    memcpy(data, types, n);
    napi_create_typedarray(env, napi_uint8_array, n, tab, 0, &tarr);
    napi_create_arraybuffer(env, (n ? n : 1) * sizeof(double), &data, &iab);
    memcpy(data, inos, n * sizeof(double));
    napi_create_typedarray(env, napi_float64_array, n, iab, 0, &iarr);
    napi_create_array_with_length(env, 3, &out);
    napi_set_element(env, out, 0, namesv);
    napi_set_element(env, out, 1, tarr);
    napi_set_element(env, out, 2, iarr);
  }
  free(names);
  free(inos);
  free(types);
  free(path);
  return out;
}

static napi_value js_fstat_into(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  double *b;
  int32_t fd;
  if (!arg_int32(env, argv[0], &fd) || !arg_stat_buf(env, argv[1], &b)) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0) return make_int64(env, errno);
  return make_int64(env, fill_stat(&st, b));
}

static napi_value js_fstat(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  if (!arg_int32(env, argv[0], &fd)) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0) return throw_errno(env, errno, "fstat", NULL);
  return make_attr(env, &st);
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *path;
  int64_t mode, rdev;
  if (!arg_int64(env, argv[1], &mode) || !arg_int64(env, argv[2], &rdev)) return NULL;
  if (!arg_string(env, argv[0], &path)) return NULL;
  napi_value out = NULL;
  if (mknod(path, (mode_t)mode, (dev_t)rdev) < 0) throw_errno(env, errno, "mknod", path);
  else out = make_undefined(env);
  free(path);
  return out;
}

static napi_value js_makedev(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int64_t maj, min;
  if (!arg_int64(env, argv[0], &maj) || !arg_int64(env, argv[1], &min)) return NULL;
  return make_uint64(env, makedev((unsigned)maj, (unsigned)min));
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path, *name;
  if (!arg_string(env, argv[0], &path)) return NULL;
  if (!arg_string(env, argv[1], &name)) { free(path); return NULL; }
  napi_value out = NULL;
  char stackbuf[4096];
  ssize_t n = lgetxattr(path, name, stackbuf, sizeof stackbuf);
  if (n >= 0) {
    void *data;
    napi_create_buffer_copy(env, (size_t)n, stackbuf, &data, &out);
  } else if (errno == ERANGE) {
    for (;;) {
      ssize_t size = lgetxattr(path, name, NULL, 0);
      if (size < 0) { throw_errno(env, errno, "lgetxattr", path); break; }
      char *buf = malloc((size_t)size + 1);
      n = lgetxattr(path, name, buf, (size_t)size);
      if (n >= 0) {
        void *data;
        napi_create_buffer_copy(env, (size_t)n, buf, &data, &out);
        free(buf);
        break;
      }
      free(buf);
      if (errno != ERANGE) { throw_errno(env, errno, "lgetxattr", path); break; }
    }
  } else {
    throw_errno(env, errno, "lgetxattr", path);
  }
  free(path);
  free(name);
  return out;
}

/* lgetxattrOrErrno(path, name) -> Buffer, or the positive errno as a number (ENODATA
 * for an absent attribute: no exception). Values up to 4 KiB, the size of every xattr a
 * union reads for itself; a larger one answers ERANGE and the caller asks lgetxattr. */
static napi_value js_lgetxattr_or_errno(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path, *name;
  if (!arg_string(env, argv[0], &path)) return NULL;
  if (!arg_string(env, argv[1], &name)) { free(path); return NULL; }
  char stackbuf[4096];
  ssize_t n = lgetxattr(path, name, stackbuf, sizeof stackbuf);
  int err = errno;
  free(path);
  free(name);
  if (n < 0) return make_int64(env, err);
  napi_value out;
  void *data;
  napi_create_buffer_copy(env, (size_t)n, stackbuf, &data, &out);
  return out;
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char *path, *name;
  void *data;
  size_t len;
  int32_t flags;
  if (!arg_buffer(env, argv[2], &data, &len) || !arg_int32(env, argv[3], &flags)) return NULL;
  if (!arg_string(env, argv[0], &path)) return NULL;
  if (!arg_string(env, argv[1], &name)) { free(path); return NULL; }
  napi_value out = NULL;
  if (lsetxattr(path, name, data, len, flags) < 0) throw_errno(env, errno, "lsetxattr", path);
  else out = make_undefined(env);
  free(path);
  free(name);
  return out;
}

static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (!arg_string(env, argv[0], &path)) return NULL;
  char stackbuf[4096], *buf = stackbuf;
  ssize_t n = llistxattr(path, stackbuf, sizeof stackbuf);
  while (n < 0 && errno == ERANGE) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) break;
    if (buf != stackbuf) free(buf);
    buf = malloc((size_t)size + 1);
    n = llistxattr(path, buf, (size_t)size);
  }
  napi_value out = NULL;
  if (n < 0) {
    throw_errno(env, errno, "llistxattr", path);
  } else {
    napi_create_array(env, &out);
    uint32_t i = 0;
    for (ssize_t off = 0; off < n;) {
      size_t l = strlen(buf + off);
      napi_value s;
      napi_create_string_utf8(env, buf + off, l, &s);
      napi_set_element(env, out, i++, s);
      off += (ssize_t)l + 1;
    }
  }
  if (buf != stackbuf) free(buf);
  free(path);
  return out;
}

static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path, *name;
  if (!arg_string(env, argv[0], &path)) return NULL;
  if (!arg_string(env, argv[1], &name)) { free(path); return NULL; }
  napi_value out = NULL;
  if (lremovexattr(path, name) < 0) throw_errno(env, errno, "lremovexattr", path);
  else out = make_undefined(env);
  free(path);
  free(name);
  return out;
}

static napi_value js_renameat2(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *from, *to;
  int32_t flags;
  if (!arg_int32(env, argv[2], &flags)) return NULL;
  if (!arg_string(env, argv[0], &from)) return NULL;
  if (!arg_string(env, argv[1], &to)) { free(from); return NULL; }
  napi_value out = NULL;
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, (unsigned)flags) < 0) throw_errno(env, errno, "renameat2", from);
  else out = make_undefined(env);
  free(from);
  free(to);
  return out;
}

/* utimensat(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec, nofollow): a nsec of
 * UTIME_NOW or UTIME_OMIT means what it means to the kernel. */
static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  char *path;
  int64_t as, an, ms, mn;
  bool nofollow;
  if (!arg_int64(env, argv[1], &as) || !arg_int64(env, argv[2], &an) ||
      !arg_int64(env, argv[3], &ms) || !arg_int64(env, argv[4], &mn))
    return NULL;
  napi_get_value_bool(env, argv[5], &nofollow);
  if (!arg_string(env, argv[0], &path)) return NULL;
  struct timespec ts[2] = {{.tv_sec = as, .tv_nsec = an}, {.tv_sec = ms, .tv_nsec = mn}};
  napi_value out = NULL;
  if (utimensat(AT_FDCWD, path, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0) < 0)
    throw_errno(env, errno, "utimensat", path);
  else out = make_undefined(env);
  free(path);
  return out;
}

static napi_value js_futimens(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int32_t fd;
  int64_t as, an, ms, mn;
  if (!arg_int32(env, argv[0], &fd) || !arg_int64(env, argv[1], &as) || !arg_int64(env, argv[2], &an) ||
      !arg_int64(env, argv[3], &ms) || !arg_int64(env, argv[4], &mn))
    return NULL;
  struct timespec ts[2] = {{.tv_sec = as, .tv_nsec = an}, {.tv_sec = ms, .tv_nsec = mn}};
  if (futimens(fd, ts) < 0) return throw_errno(env, errno, "futimens", NULL);
  return make_undefined(env);
}

/* fchownat(path, uid, gid, nofollow): -1 leaves an id unchanged. */
static napi_value js_fchownat(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char *path;
  int64_t uid, gid;
  bool nofollow;
  if (!arg_int64(env, argv[1], &uid) || !arg_int64(env, argv[2], &gid)) return NULL;
  napi_get_value_bool(env, argv[3], &nofollow);
  if (!arg_string(env, argv[0], &path)) return NULL;
  napi_value out = NULL;
  if (fchownat(AT_FDCWD, path, (uid_t)uid, (gid_t)gid, nofollow ? AT_SYMLINK_NOFOLLOW : 0) < 0)
    throw_errno(env, errno, "fchownat", path);
  else out = make_undefined(env);
  free(path);
  return out;
}

/* setattrInto(path, set, buf): a setattr of a path in one call, then its lstat into buf
 * (as lstatInto). set is a Float64Array(8): uid, gid, mode, size (-1: unchanged), atime,
 * atimeNsec, mtime, mtimeNsec (a nsec of UTIME_OMIT: unchanged). The changes go in the
 * order a chown needs (it clears set-id bits before the mode is set), never following
 * a symlink. Returns 0, a positive errno (no exception), or -1 as lstatInto. */
static napi_value js_setattr_into(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  double *set, *b;
  char *path;
  if (!arg_float64s(env, argv[1], 8, "expected a Float64Array(8)", &set)) return NULL;
  if (!arg_stat_buf(env, argv[2], &b)) return NULL;
  if (!arg_string(env, argv[0], &path)) return NULL;
  int r = 0;
  if (set[0] >= 0 || set[1] >= 0)
    r = fchownat(AT_FDCWD, path, set[0] >= 0 ? (uid_t)set[0] : (uid_t)-1, set[1] >= 0 ? (gid_t)set[1] : (gid_t)-1, AT_SYMLINK_NOFOLLOW);
  if (r == 0 && set[2] >= 0) r = chmod(path, (mode_t)set[2] & 07777);
  if (r == 0 && set[3] >= 0) r = truncate(path, (off_t)set[3]);
  if (r == 0 && ((long)set[5] != UTIME_OMIT || (long)set[7] != UTIME_OMIT)) {
    struct timespec ts[2] = {{.tv_sec = (time_t)set[4], .tv_nsec = (long)set[5]}, {.tv_sec = (time_t)set[6], .tv_nsec = (long)set[7]}};
    r = utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
  }
  struct stat st;
  if (r == 0) r = lstat(path, &st);
  int err = errno;
  free(path);
  return make_int64(env, r < 0 ? err : fill_stat(&st, b));
}

/* openat(path, flags, mode): the fd, or the negative errno (no exception: a create's
 * EEXIST is an answer, not a failure). */
static napi_value js_open(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *path;
  int32_t flags, mode;
  if (!arg_int32(env, argv[1], &flags) || !arg_int32(env, argv[2], &mode)) return NULL;
  if (!arg_string(env, argv[0], &path)) return NULL;
  int fd;
  do fd = open(path, flags | O_CLOEXEC, (mode_t)mode); while (fd < 0 && errno == EINTR);
  int err = errno;
  free(path);
  return make_int64(env, fd < 0 ? -err : fd);
}

static napi_value js_ficlone(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t dst, src;
  if (!arg_int32(env, argv[0], &dst) || !arg_int32(env, argv[1], &src)) return NULL;
  if (ioctl(dst, FICLONE, src) < 0) return throw_errno(env, errno, "ioctl(FICLONE)", NULL);
  return make_undefined(env);
}

/* copyFileRange(fdIn, fdOut, length): copies from both files' current offsets until
 * length bytes or EOF; returns the bytes copied. Falls back to nothing: the caller
 * decides what to do with EXDEV/EINVAL/ENOSYS. */
static napi_value js_copy_file_range(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t in, out;
  int64_t len;
  if (!arg_int32(env, argv[0], &in) || !arg_int32(env, argv[1], &out) || !arg_int64(env, argv[2], &len)) return NULL;
  int64_t done = 0;
  while (done < len) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(len - done), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return throw_errno(env, errno, "copy_file_range", NULL);
    }
    if (n == 0) break;
    done += n;
  }
  return make_int64(env, done);
}

/* copyFile(src, dest, fsync) -> Promise: a copy-up's data, in a libuv worker so the JS
 * thread keeps serving other requests. dest is created exclusively (mode 0600; the caller
 * sets owner, mode and times after). FICLONE first (a reflink: no data moves), else
 * copy_file_range over the source's data segments (holes stay holes; the kernel may
 * reflink or copy in place), else read/write; fsync when asked, before the caller's
 * rename makes the copy visible. On failure dest may exist: the caller removes it. */
typedef struct copy_work {
  napi_async_work work;
  napi_deferred deferred;
  char *src, *dest;
  bool fsync;
  int err;
  const char *failed; /* the syscall that failed */
} copy_work_t;

static int copy_rw(int in, int out, off_t from, off_t to) {
  static const size_t BUF = 1 << 20;
  char *buf = malloc(BUF);
  if (!buf) return ENOMEM;
  int err = 0;
  while (from < to) {
    size_t want = (size_t)(to - from) < BUF ? (size_t)(to - from) : BUF;
    ssize_t n = pread(in, buf, want, from);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { err = errno; break; }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = pwrite(out, buf + done, (size_t)(n - done), from + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) { err = errno; goto out; }
      done += w;
    }
    from += n;
  }
out:
  free(buf);
  return err;
}

/* Copies [from, to) of in to the same offsets of out. */
static int copy_range(int in, int out, off_t from, off_t to, bool *use_cfr) {
  while (*use_cfr && from < to) {
    loff_t oi = from, oo = from;
    ssize_t n = copy_file_range(in, &oi, out, &oo, (size_t)(to - from), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == ENOTSUP)) {
      *use_cfr = false;
      break;
    }
    if (n < 0) return errno;
    if (n == 0) return 0; /* the source shrank */
    from += n;
  }
  return from < to ? copy_rw(in, out, from, to) : 0;
}

static void copy_execute(napi_env env, void *data) {
  copy_work_t *w = data;
  int in = -1, out = -1;
  w->err = 0;
  in = open(w->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) { w->err = errno; w->failed = "open"; goto done; }
  struct stat st;
  if (fstat(in, &st) < 0) { w->err = errno; w->failed = "fstat"; goto done; }
  out = open(w->dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (out < 0) { w->err = errno; w->failed = "open"; goto done; }
  if (st.st_size > 0 && ioctl(out, FICLONE, in) != 0) {
    bool use_cfr = true;
    off_t pos = 0;
    while (pos < st.st_size) {
      off_t data = lseek(in, pos, SEEK_DATA);
      if (data < 0 && errno == ENXIO) break; /* only a hole is left */
      if (data < 0) data = pos;              /* no SEEK_DATA here: all of it is data */
      off_t hole = lseek(in, data, SEEK_HOLE);
      if (hole < 0 || hole > st.st_size) hole = st.st_size;
      if (hole <= data) hole = st.st_size;
      int e = copy_range(in, out, data, hole, &use_cfr);
      if (e) { w->err = e; w->failed = "copy_file_range"; goto done; }
      pos = hole;
    }
    /* a trailing hole: the size says where the file ends */
    if (ftruncate(out, st.st_size) < 0) { w->err = errno; w->failed = "ftruncate"; goto done; }
  }
  if (w->fsync && fsync(out) < 0) { w->err = errno; w->failed = "fsync"; goto done; }
done:
  if (out >= 0 && close(out) < 0 && !w->err) { w->err = errno; w->failed = "close"; }
  if (in >= 0) close(in);
}

static void copy_complete(napi_env env, napi_status status, void *data) {
  copy_work_t *w = data;
  if (status != napi_ok && !w->err) { w->err = EIO; w->failed = "copy"; }
  if (w->err) {
    napi_reject_deferred(env, w->deferred, errno_error(env, w->err, w->failed, w->src));
  } else {
    napi_resolve_deferred(env, w->deferred, make_undefined(env));
  }
  napi_delete_async_work(env, w->work);
  free(w->src);
  free(w->dest);
  free(w);
}

static napi_value js_copy_file(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  copy_work_t *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "copyFile", NULL);
  napi_get_value_bool(env, argv[2], &w->fsync);
  if (!arg_string(env, argv[0], &w->src)) { free(w); return NULL; }
  if (!arg_string(env, argv[1], &w->dest)) { free(w->src); free(w); return NULL; }
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "strata-copy-up", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, copy_execute, copy_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

/* dup3(oldfd, newfd, O_CLOEXEC): newfd now names oldfd's file, atomically, even while
 * other threads read through it (the union swaps a copied-up file under open handles). */
static napi_value js_dup3(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t oldfd, newfd;
  if (!arg_int32(env, argv[0], &oldfd) || !arg_int32(env, argv[1], &newfd)) return NULL;
  if (dup3(oldfd, newfd, O_CLOEXEC) < 0) return throw_errno(env, errno, "dup3", NULL);
  return make_undefined(env);
}

static napi_value js_umount2(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path;
  int32_t flags;
  if (!arg_int32(env, argv[1], &flags)) return NULL;
  if (!arg_string(env, argv[0], &path)) return NULL;
  napi_value out = NULL;
  if (umount2(path, flags) < 0) throw_errno(env, errno, "umount2", path);
  else out = make_undefined(env);
  free(path);
  return out;
}

static napi_value js_statvfs(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (!arg_string(env, argv[0], &path)) return NULL;
  struct statvfs s;
  int r = statvfs(path, &s);
  napi_value out = NULL;
  if (r < 0) {
    throw_errno(env, errno, "statvfs", path);
  } else {
    napi_create_object(env, &out);
    set_int(env, out, "bsize", (int64_t)s.f_bsize);
    set_int(env, out, "frsize", (int64_t)s.f_frsize);
    set_int(env, out, "blocks", (int64_t)s.f_blocks);
    set_int(env, out, "bfree", (int64_t)s.f_bfree);
    set_int(env, out, "bavail", (int64_t)s.f_bavail);
    set_int(env, out, "files", (int64_t)s.f_files);
    set_int(env, out, "ffree", (int64_t)s.f_ffree);
    set_int(env, out, "favail", (int64_t)s.f_favail);
    set_int(env, out, "namemax", (int64_t)s.f_namemax);
  }
  free(path);
  return out;
}

/* socketpair() -> [fd, fd]: a unix stream pair, both ends close-on-exec (spawn's stdio
 * array dup2s the child's end into place, which clears the flag there only). */
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, errno, "socketpair", NULL);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, make_int64(env, sv[0]));
  napi_set_element(env, arr, 1, make_int64(env, sv[1]));
  return arr;
}

/* recvFd(sock) -> fd: one fd sent with SCM_RIGHTS (Node cannot receive them), received
 * close-on-exec. Never blocks: the caller knows the message is there (EAGAIN if not). */
static napi_value js_recv_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t sock;
  if (!arg_int32(env, argv[0], &sock)) return NULL;
  char c;
  struct iovec iov = { &c, 1 };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl;
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  ssize_t n;
  do n = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "recvmsg", NULL);
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  if (n == 0 || !cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
    return throw_errno(env, n == 0 ? ECONNRESET : EBADMSG, "recvmsg", NULL);
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return make_int64(env, fd);
}

static void export_const(napi_env env, napi_value obj, const char *name, int64_t v) {
  set_int(env, obj, name, v);
}

void sys_init(napi_env env, napi_value exports) {
  export_fn(env, exports, "lstat", js_lstat);
  export_fn(env, exports, "lstatInto", js_lstat_into);
  export_fn(env, exports, "fstatInto", js_fstat_into);
  export_fn(env, exports, "readdirInos", js_readdir_inos);
  export_fn(env, exports, "fstat", js_fstat);
  export_fn(env, exports, "mknod", js_mknod);
  export_fn(env, exports, "makedev", js_makedev);
  export_fn(env, exports, "lgetxattr", js_lgetxattr);
  export_fn(env, exports, "lgetxattrOrErrno", js_lgetxattr_or_errno);
  export_fn(env, exports, "lsetxattr", js_lsetxattr);
  export_fn(env, exports, "llistxattr", js_llistxattr);
  export_fn(env, exports, "lremovexattr", js_lremovexattr);
  export_fn(env, exports, "renameat2", js_renameat2);
  export_fn(env, exports, "utimensat", js_utimensat);
  export_fn(env, exports, "futimens", js_futimens);
  export_fn(env, exports, "fchownat", js_fchownat);
  export_fn(env, exports, "setattrInto", js_setattr_into);
  export_fn(env, exports, "open", js_open);
  export_fn(env, exports, "ficlone", js_ficlone);
  export_fn(env, exports, "copyFileRange", js_copy_file_range);
  export_fn(env, exports, "copyFile", js_copy_file);
  export_fn(env, exports, "dup3", js_dup3);
  export_fn(env, exports, "umount2", js_umount2);
  export_fn(env, exports, "statvfs", js_statvfs);
  export_fn(env, exports, "socketpair", js_socketpair);
  export_fn(env, exports, "recvFd", js_recv_fd);
  napi_value c;
  napi_create_object(env, &c);
  export_const(env, c, "UTIME_NOW", UTIME_NOW);
  export_const(env, c, "UTIME_OMIT", UTIME_OMIT);
  export_const(env, c, "RENAME_NOREPLACE", RENAME_NOREPLACE);
  export_const(env, c, "RENAME_EXCHANGE", RENAME_EXCHANGE);
  export_const(env, c, "RENAME_WHITEOUT", RENAME_WHITEOUT);
  export_const(env, c, "XATTR_CREATE", XATTR_CREATE);
  export_const(env, c, "XATTR_REPLACE", XATTR_REPLACE);
  export_const(env, c, "MNT_DETACH", MNT_DETACH);
  export_const(env, c, "MNT_FORCE", MNT_FORCE);
  export_const(env, c, "O_PATH", O_PATH);
  napi_set_named_property(env, exports, "constants", c);
}
