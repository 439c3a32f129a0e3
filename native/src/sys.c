/* The syscalls Node does not offer (or offers without ns precision), synchronous.
 * Every failure throws an Error carrying `code` and a positive `errno`. */
#include "napi_util.h"

#include <errno.h>
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

#define GET_ARGS(n)                                                  \
  size_t argc = n;                                                   \
  napi_value argv[n > 0 ? n : 1];                                    \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);              \
  if (argc < n) {                                                    \
    napi_throw_type_error(env, "EINVAL", "missing arguments");       \
    return NULL;                                                     \
  }

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
  export_fn(env, exports, "fstat", js_fstat);
  export_fn(env, exports, "mknod", js_mknod);
  export_fn(env, exports, "makedev", js_makedev);
  export_fn(env, exports, "lgetxattr", js_lgetxattr);
  export_fn(env, exports, "lsetxattr", js_lsetxattr);
  export_fn(env, exports, "llistxattr", js_llistxattr);
  export_fn(env, exports, "lremovexattr", js_lremovexattr);
  export_fn(env, exports, "renameat2", js_renameat2);
  export_fn(env, exports, "utimensat", js_utimensat);
  export_fn(env, exports, "futimens", js_futimens);
  export_fn(env, exports, "fchownat", js_fchownat);
  export_fn(env, exports, "ficlone", js_ficlone);
  export_fn(env, exports, "copyFileRange", js_copy_file_range);
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
  napi_set_named_property(env, exports, "constants", c);
}
