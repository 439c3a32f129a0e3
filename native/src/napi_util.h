/* Small helpers shared by the addon's files: argument parsing and errno errors. */
#ifndef STRATA_NAPI_UTIL_H
#define STRATA_NAPI_UTIL_H

#include <node_api.h>
#include <stdint.h>
#include <stdbool.h>

#define NAPI_CALL(env, call)                                          \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error((env), "EINVAL", "napi call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

#define MAX_ARGS 8

/* Declares argc/argv for a callback of n arguments; throws and returns when fewer came. */
#define GET_ARGS(n)                                                  \
  size_t argc = n;                                                   \
  napi_value argv[n > 0 ? n : 1];                                    \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);              \
  if (argc < n) {                                                    \
    napi_throw_type_error(env, "EINVAL", "missing arguments");       \
    return NULL;                                                     \
  }

/* Throws an Error whose `code` is the errno's name and `errno` the positive number. */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path);
/* That error, not thrown (to reject a promise with). */
napi_value errno_error(napi_env env, int err, const char *syscall, const char *path);

/* Argument readers: on a wrong type they throw a TypeError and return false. */
bool arg_string(napi_env env, napi_value v, char **out); /* malloc'd, caller frees */
/* v (a string) into buf (size bytes) with its NUL, *len its bytes: 1 when it is surely whole,
 * 0 when it may have been cut short, -1 (a TypeError thrown) when v is no string */
int string_into(napi_env env, napi_value v, char *buf, size_t size, size_t *len);
bool arg_int64(napi_env env, napi_value v, int64_t *out);  /* number or bigint */
bool arg_uint64(napi_env env, napi_value v, uint64_t *out);
bool arg_double(napi_env env, napi_value v, double *out);
bool arg_int32(napi_env env, napi_value v, int32_t *out);
bool arg_buffer(napi_env env, napi_value v, void **data, size_t *len);
/* a Float64Array of at least min doubles; else a TypeError saying what (what) was expected */
bool arg_float64s(napi_env env, napi_value v, size_t min, const char *what, double **out);

napi_value make_int64(napi_env env, int64_t n);   /* number when exact, bigint otherwise */
napi_value make_uint64(napi_env env, uint64_t n);
napi_value make_undefined(napi_env env);
void set_named(napi_env env, napi_value obj, const char *name, napi_value v);
void set_int(napi_env env, napi_value obj, const char *name, int64_t n);

struct stat;
/* A stat as the JS Attr shape: ino, mode, nlink, uid, gid, rdev, size, blocks, blksize,
 * atime/atimeNsec, mtime/mtimeNsec, ctime/ctimeNsec. */
napi_value make_attr(napi_env env, const struct stat *st);
/* A stat into 16 doubles (lstatInto's layout): 0, or -1 when a number is past 2^53. */
int fill_stat(const struct stat *st, double *b);
/* The reverse, for replies: fields missing from the object stay 0. */
bool read_attr(napi_env env, napi_value obj, struct stat *st);

void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb);

#endif
