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

/* direntsEncode(names, inos, types) -> [Buffer, starts]: names a Buffer of them joined by
 * NULs (count = inos.length), d_ino in a Float64Array, DT_* types in a Uint8Array; entry i
 * gets d_off i + 1; starts (Uint32Array, count + 1) holds each entry's byte offset, then
 * the end. */
static napi_value js_dirents_encode(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  void *np;
  size_t nlen;
  napi_typedarray_type ti, tt;
  size_t count, tcount, o;
  void *ip, *tp;
  napi_value ab;
  bool isbuf;
  if (napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf || napi_get_buffer_info(env, argv[0], &np, &nlen) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &ti, &count, &ip, &ab, &o) != napi_ok || ti != napi_float64_array ||
      napi_get_typedarray_info(env, argv[2], &tt, &tcount, &tp, &ab, &o) != napi_ok || tt != napi_uint8_array || tcount != count) {
    napi_throw_type_error(env, "EINVAL", "expected a Buffer of names, a Float64Array and a Uint8Array of one length");
    return NULL;
  }
  const char *names = np;
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
  napi_value res;
  napi_create_array_with_length(env, 2, &res);
  napi_set_element(env, res, 0, buf);
  napi_set_element(env, res, 1, starts);
  return res;
}

/* struct fuse_entry_out: a readdirplus entry's head, all zero for an entry given by name
 * alone (nodeid 0: the kernel links no inode and counts no lookup) */
#define ENTRY_OUT 128

/* direntsSlicePlus(encoded, starts, offset, size) -> Buffer: direntsEncode's entries from
 * index offset on, as many as fit in size bytes as readdirplus entries with no inode:
 * each one a zeroed struct fuse_entry_out, then the plain entry. */
static napi_value js_dirents_slice_plus(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  void *ep, *sp;
  size_t elen, count, o;
  napi_typedarray_type ts;
  napi_value ab;
  int64_t offset, size;
  bool isbuf, pending;
  if (napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf || napi_get_buffer_info(env, argv[0], &ep, &elen) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &ts, &count, &sp, &ab, &o) != napi_ok || ts != napi_uint32_array || count == 0 ||
      !arg_int64(env, argv[2], &offset) || !arg_int64(env, argv[3], &size) || offset < 0 || size < 0) {
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, "EINVAL", "expected an encoded listing, its starts, an offset and a size");
    return NULL;
  }
  const uint32_t *st = sp;
  size_t entries = count - 1, pos = 0, end = (size_t)offset;
  /* the entries that fit */
  while (end < entries && st[end + 1] <= elen && pos + ENTRY_OUT + (st[end + 1] - st[end]) <= (size_t)size) {
    pos += ENTRY_OUT + (st[end + 1] - st[end]);
    end++;
  }
  napi_value buf;
  char *out;
  napi_create_buffer(env, pos ? pos : 1, (void **)&out, &buf);
  pos = 0;
  for (size_t i = (size_t)offset; i < end; i++) {
    memset(out + pos, 0, ENTRY_OUT);
    memcpy(out + pos + ENTRY_OUT, (const char *)ep + st[i], st[i + 1] - st[i]);
    pos += ENTRY_OUT + (st[i + 1] - st[i]);
  }
  if (pos == 0) {
    napi_value empty;
    napi_create_buffer(env, 0, (void **)&out, &empty);
    return empty;
  }
  return buf;
}

void dirent_init(napi_env env, napi_value exports) {
  export_fn(env, exports, "direntsEncode", js_dirents_encode);
  export_fn(env, exports, "direntsSlicePlus", js_dirents_slice_plus);
}
