#include "napi_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  const char *name = strerrorname_np(err);
  char msg[1024];
  if (path)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", name ? name : "EUNKNOWN", strerror(err), syscall, path);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s", name ? name : "EUNKNOWN", strerror(err), syscall);
  napi_value code, message, error, errnum, sc;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  if (path) {
    napi_value p;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, error, "path", p);
  }
  return error;
}

napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, errno_error(env, err, syscall, path));
  return NULL;
}

int string_into(napi_env env, napi_value v, char *buf, size_t size, size_t *len) {
  if (napi_get_value_string_utf8(env, v, buf, size, len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a string");
    return -1;
  }
  /* V8 never writes part of a character: one cut short stopped before a character of up to
   * 4 bytes that did not fit, so only a string shorter than that is surely whole */
  return *len + 4 < size ? 1 : 0;
}

/* One V8 pass for the usual string (a path: every lookup's lstat reads one): written into
 * a stack buffer and copied, where asking its length first and then writing it cost two
 * passes over it (each flattening a concatenated string's pieces). */
bool arg_string(napi_env env, napi_value v, char **out) {
  char buf[1024];
  size_t len;
  int whole = string_into(env, v, buf, sizeof buf, &len);
  if (whole < 0) return false;
  if (whole) {
    *out = malloc(len + 1);
    memcpy(*out, buf, len + 1);
    return true;
  }
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  *out = malloc(len + 1);
  napi_get_value_string_utf8(env, v, *out, len + 1, &len);
  return true;
}

bool arg_int64(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number) return napi_get_value_int64(env, v, out) == napi_ok;
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok;
  }
  napi_throw_type_error(env, "EINVAL", "expected a number or bigint");
  return false;
}

bool arg_uint64(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number) {
    double d;
    napi_get_value_double(env, v, &d);
    *out = d < 0 ? 0 : (uint64_t)d;
    return true;
  }
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok;
  }
  napi_throw_type_error(env, "EINVAL", "expected a number or bigint");
  return false;
}

bool arg_double(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok) return true;
  napi_throw_type_error(env, "EINVAL", "expected a number");
  return false;
}

bool arg_int32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a number");
    return false;
  }
  return true;
}

bool arg_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  napi_is_buffer(env, v, &is);
  if (is) return napi_get_buffer_info(env, v, data, len) == napi_ok;
  napi_is_typedarray(env, v, &is);
  if (is) {
    napi_typedarray_type type;
    size_t n, off;
    napi_value ab;
    napi_get_typedarray_info(env, v, &type, &n, data, &ab, &off);
    *len = n; /* Uint8Array only in practice */
    return true;
  }
  napi_throw_type_error(env, "EINVAL", "expected a Buffer");
  return false;
}

napi_value make_int64(napi_env env, int64_t n) {
  napi_value v;
  if (n <= 9007199254740991LL && n >= -9007199254740991LL)
    napi_create_int64(env, n, &v);
  else
    napi_create_bigint_int64(env, n, &v);
  return v;
}

napi_value make_uint64(napi_env env, uint64_t n) {
  napi_value v;
  if (n <= 9007199254740991ULL)
    napi_create_double(env, (double)n, &v);
  else
    napi_create_bigint_uint64(env, n, &v);
  return v;
}

napi_value make_undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

void set_named(napi_env env, napi_value obj, const char *name, napi_value v) {
  napi_set_named_property(env, obj, name, v);
}

void set_int(napi_env env, napi_value obj, const char *name, int64_t n) {
  napi_set_named_property(env, obj, name, make_int64(env, n));
}

napi_value make_attr(napi_env env, const struct stat *st) {
  napi_value o;
  napi_create_object(env, &o);
  set_named(env, o, "ino", make_uint64(env, st->st_ino));
  set_named(env, o, "dev", make_uint64(env, st->st_dev));
  set_int(env, o, "mode", st->st_mode);
  set_int(env, o, "nlink", (int64_t)st->st_nlink);
  set_int(env, o, "uid", st->st_uid);
  set_int(env, o, "gid", st->st_gid);
  set_named(env, o, "rdev", make_uint64(env, st->st_rdev));
  set_int(env, o, "size", st->st_size);
  set_int(env, o, "blocks", st->st_blocks);
  set_int(env, o, "blksize", st->st_blksize);
  set_int(env, o, "atime", st->st_atim.tv_sec);
  set_int(env, o, "atimeNsec", st->st_atim.tv_nsec);
  set_int(env, o, "mtime", st->st_mtim.tv_sec);
  set_int(env, o, "mtimeNsec", st->st_mtim.tv_nsec);
  set_int(env, o, "ctime", st->st_ctim.tv_sec);
  set_int(env, o, "ctimeNsec", st->st_ctim.tv_nsec);
  return o;
}

static int64_t get_i64(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  int64_t n = 0;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  napi_typeof(env, v, &t);
  if (t == napi_number) napi_get_value_int64(env, v, &n);
  else if (t == napi_bigint) {
    bool lossless;
    napi_get_value_bigint_int64(env, v, &n, &lossless);
  }
  return n;
}

bool read_attr(napi_env env, napi_value obj, struct stat *st) {
  napi_valuetype t;
  napi_typeof(env, obj, &t);
  if (t != napi_object) return false;
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)get_i64(env, obj, "ino");
  st->st_mode = (mode_t)get_i64(env, obj, "mode");
  st->st_nlink = (nlink_t)get_i64(env, obj, "nlink");
  st->st_uid = (uid_t)get_i64(env, obj, "uid");
  st->st_gid = (gid_t)get_i64(env, obj, "gid");
  st->st_rdev = (dev_t)get_i64(env, obj, "rdev");
  st->st_size = (off_t)get_i64(env, obj, "size");
  st->st_blocks = (blkcnt_t)get_i64(env, obj, "blocks");
  st->st_blksize = (blksize_t)get_i64(env, obj, "blksize");
  st->st_atim.tv_sec = get_i64(env, obj, "atime");
  st->st_atim.tv_nsec = get_i64(env, obj, "atimeNsec");
  st->st_mtim.tv_sec = get_i64(env, obj, "mtime");
  st->st_mtim.tv_nsec = get_i64(env, obj, "mtimeNsec");
  st->st_ctim.tv_sec = get_i64(env, obj, "ctime");
  st->st_ctim.tv_nsec = get_i64(env, obj, "ctimeNsec");
  return true;
}

void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

bool arg_float64s(napi_env env, napi_value v, size_t min, const char *what, double **out) {
  /* not a typed array: napi_invalid_arg. No ArrayBuffer or offset asked for: each costs
   * another handle to the buffer (data already counts the offset) */
  napi_typedarray_type type;
  size_t n;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &n, &data, NULL, NULL) == napi_ok && type == napi_float64_array && n >= min) {
    *out = data;
    return true;
  }
  napi_throw_type_error(env, "EINVAL", what);
  return false;
}
