/* FUSE readdir replies encoded in C (linux/fuse.h struct fuse_dirent), for a whole listing
 * at once: the JS encoder ran cold (interpreted) on every fresh mount's first big listing,
 * ~3 us an entry there, this is ~0.1. The kernel's stable ABI, as libfuse's
 * fuse_add_direntry writes it. */
#include "napi_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct wire_dirent {
  uint64_t ino;
  uint64_t off;
  uint32_t namelen;
  uint32_t type;
};

/* direntsEncode(names, inos, types) -> [Buffer, starts]: names joined by NULs (count =
 * inos.length), d_ino in a Float64Array, DT_* types in a Uint8Array; entry i gets
 * d_off i + 1; starts (Uint32Array, count + 1) holds each entry's byte offset, then the end. */
static napi_value js_dirents_encode(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  size_t nlen;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &nlen) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected names, inos, types");
    return NULL;
  }
  napi_typedarray_type ti, tt;
  size_t count, tcount, o;
  void *ip, *tp;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[1], &ti, &count, &ip, &ab, &o) != napi_ok || ti != napi_float64_array ||
      napi_get_typedarray_info(env, argv[2], &tt, &tcount, &tp, &ab, &o) != napi_ok || tt != napi_uint8_array || tcount != count) {
    napi_throw_type_error(env, "EINVAL", "expected a Float64Array and a Uint8Array of one length");
    return NULL;
  }
  char *names = malloc(nlen + 1);
  napi_get_value_string_utf8(env, argv[0], names, nlen + 1, &nlen);
  const double *inos = ip;
  const uint8_t *types = tp;
  /* first pass: sizes (names split at NULs; one name per entry) */
  size_t total = 0, n = 0, p = 0;
  napi_value startsab, starts;
  uint32_t *st;
  napi_create_arraybuffer(env, (count + 1) * sizeof(uint32_t), (void **)&st, &startsab);
  napi_create_typedarray(env, napi_uint32_array, count + 1, startsab, 0, &starts);
  for (n = 0; n < count; n++) {
    size_t l = p <= nlen ? strnlen(names + p, nlen - p) : 0;
    st[n] = (uint32_t)total;
    total += (sizeof(struct wire_dirent) + l + 7) & ~(size_t)7;
    p += l + 1;
  }
  st[count] = (uint32_t)total;
  napi_value buf;
  char *out;
  napi_create_buffer(env, total ? total : 1, (void **)&out, &buf);
  memset(out, 0, total);
  p = 0;
  for (n = 0; n < count; n++) {
    size_t l = p <= nlen ? strnlen(names + p, nlen - p) : 0;
    struct wire_dirent d = {
      .ino = inos[n] < 0 ? 0 : (uint64_t)inos[n], .off = n + 1, .namelen = (uint32_t)l, .type = types[n],
    };
    memcpy(out + st[n], &d, sizeof d);
    memcpy(out + st[n] + sizeof d, names + p, l);
    p += l + 1;
  }
  free(names);
  napi_value res;
  napi_create_array_with_length(env, 2, &res);
  napi_set_element(env, res, 0, buf);
  napi_set_element(env, res, 1, starts);
  return res;
}

void dirent_init(napi_env env, napi_value exports) {
  export_fn(env, exports, "direntsEncode", js_dirents_encode);
}
