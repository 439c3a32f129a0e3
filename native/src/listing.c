/* A union directory's merged listing in one call (src/union/readdir.ts's rules, in C):
 * each layer's getdents walk top down, each name once, whiteouts (char 0/0) and .wh.
 * markers never shown, a `.wh.NAME` hiding NAME in the layers below. Done in JS it cost
 * an object, a Set entry and a few calls per name, interpreted on a fresh mount (the
 * daemon's code is cold) and paid again in garbage collection: ~2 us an entry, a 10,000-
 * entry directory ~20 ms. Here it is the getdents walk and a hash set of names. */
#include "napi_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAFE_INT 9007199254740991ULL
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* a growable byte buffer */
struct bytes {
  char *p;
  size_t len, cap;
};

static bool bytes_reserve(struct bytes *b, size_t more) {
  if (b->len + more <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) return false;
  b->p = p;
  b->cap = cap;
  return true;
}

/* appends s and its NUL; the offset it starts at, or -1 when out of memory */
static ssize_t bytes_push_str(struct bytes *b, const char *s, size_t l) {
  if (!bytes_reserve(b, l + 1)) return -1;
  size_t at = b->len;
  memcpy(b->p + at, s, l);
  b->p[at + l] = 0;
  b->len += l + 1;
  return (ssize_t)at;
}

/* A set of names (open addressing, linear probing): slot = 1 + the name's offset in keys,
 * 0 when free. Only built when there is more than one layer to merge. */
struct name_set {
  uint32_t *slots;
  uint32_t *hashes;
  size_t cap, used;
  struct bytes keys;
};

static uint32_t name_hash(const char *s, size_t l) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < l; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static bool set_grow(struct name_set *s) {
  size_t cap = s->cap ? s->cap * 2 : 1024;
  uint32_t *slots = calloc(cap, sizeof *slots);
  uint32_t *hashes = malloc(cap * sizeof *hashes);
  if (!slots || !hashes) {
    free(slots);
    free(hashes);
    return false;
  }
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->slots[i]) continue;
    size_t j = s->hashes[i] & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = s->slots[i];
    hashes[j] = s->hashes[i];
  }
  free(s->slots);
  free(s->hashes);
  s->slots = slots;
  s->hashes = hashes;
  s->cap = cap;
  return true;
}

/* Adds name: 1 when it was new, 0 when already there, -1 when out of memory. */
static int set_add(struct name_set *s, const char *name, size_t l) {
  if ((s->used + 1) * 2 > s->cap && !set_grow(s)) return -1;
  uint32_t h = name_hash(name, l);
  size_t j = h & (s->cap - 1);
  for (; s->slots[j]; j = (j + 1) & (s->cap - 1)) {
    const char *k = s->keys.p + s->slots[j] - 1;
    if (s->hashes[j] == h && strncmp(k, name, l) == 0 && k[l] == 0) return 0;
  }
  ssize_t at = bytes_push_str(&s->keys, name, l);
  if (at < 0 || (size_t)at >= UINT32_MAX) return -1;
  s->slots[j] = (uint32_t)at + 1;
  s->hashes[j] = h;
  s->used++;
  return 1;
}

static void set_free(struct name_set *s) {
  free(s->slots);
  free(s->hashes);
  free(s->keys.p);
}

/* the merged entries so far, as columns */
struct listing {
  struct bytes names; /* joined by NULs, no NUL after the last one */
  unsigned char *types;
  double *inos;
  uint16_t *layers;
  size_t count, cap;
};

static bool listing_push(struct listing *o, const char *name, size_t l, unsigned type, double ino, uint16_t layer) {
  if (o->count == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 256;
    unsigned char *t = realloc(o->types, cap);
    if (t) o->types = t;
    double *i = realloc(o->inos, cap * sizeof *i);
    if (i) o->inos = i;
    uint16_t *y = realloc(o->layers, cap * sizeof *y);
    if (y) o->layers = y;
    if (!t || !i || !y) return false;
    o->cap = cap;
  }
  if (!bytes_reserve(&o->names, l + 1)) return false;
  if (o->count > 0) o->names.p[o->names.len++] = 0;
  memcpy(o->names.p + o->names.len, name, l);
  o->names.len += l;
  o->types[o->count] = (unsigned char)type;
  o->inos[o->count] = ino;
  o->layers[o->count] = layer;
  o->count++;
  return true;
}

/* One layer's directory into the listing. Returns 0 or an errno (ENOENT and ENOTDIR of
 * the directory itself are not errors: the layer has no such directory). */
static int merge_layer(struct listing *o, struct name_set *seen, bool merging, const char *path, uint16_t layer, bool exact_ino) {
  DIR *d = opendir(path);
  if (!d) return errno == ENOENT || errno == ENOTDIR ? 0 : errno;
  int dfd = dirfd(d);
  /* `.wh.NAME` markers hide NAME below this layer, not in it: added once it is read */
  struct bytes hidden = {0};
  int err = 0;
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) goto next;
    size_t l = strlen(nm);
    if (strncmp(nm, WH_PREFIX, sizeof WH_PREFIX - 1) == 0) {
      if (merging && strcmp(nm, WH_OPAQUE) != 0 && bytes_push_str(&hidden, nm + sizeof WH_PREFIX - 1, l - (sizeof WH_PREFIX - 1)) < 0) {
        err = ENOMEM;
        break;
      }
      goto next;
    }
    /* one layer: names are unique and nothing lies below to hide. A whiteout is added
     * too, before it is known to be one: it hides the name below. */
    if (merging) {
      int r = set_add(seen, nm, l);
      if (r < 0) {
        err = ENOMEM;
        break;
      }
      if (r == 0) goto next;
    }
    unsigned type = de->d_type;
    if (type == DT_UNKNOWN || type == DT_CHR) {
      struct stat st;
      if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) goto next; /* gone while listed */
        err = errno;
        break;
      }
      if (S_ISCHR(st.st_mode) && st.st_rdev == 0) goto next; /* a whiteout */
      type = (st.st_mode & S_IFMT) >> 12;
    }
    double ino = exact_ino && (uint64_t)de->d_ino <= SAFE_INT ? (double)de->d_ino : -1;
    if (!listing_push(o, nm, l, type, ino, layer)) {
      err = ENOMEM;
      break;
    }
  next:
    errno = 0;
  }
  if (!err && errno) err = errno;
  closedir(d);
  for (size_t p = 0; !err && p < hidden.len; p += strlen(hidden.p + p) + 1) {
    if (set_add(seen, hidden.p + p, strlen(hidden.p + p)) < 0) err = ENOMEM;
  }
  free(hidden.p);
  return err;
}

static napi_value typed(napi_env env, napi_typedarray_type type, size_t elem, const void *src, size_t n) {
  void *data;
  napi_value ab, arr;
  napi_create_arraybuffer(env, (n ? n : 1) * elem, &data, &ab);
  if (n) memcpy(data, src, n * elem);
  napi_create_typedarray(env, type, n, ab, 0, &arr);
  return arr;
}

/* one merge: its layers, then its result (or the errno and the layer it failed on) */
typedef struct {
  char **paths;
  unsigned char *exact;
  uint32_t nlayers;
  struct listing o;
  int err;
  uint32_t failed;
  /* async: */
  napi_async_work work;
  napi_deferred deferred;
} merge_job;

/* A JS array of n paths as malloc'd strings (paths_free frees them); NULL with an
 * exception pending when it is not one */
static char **paths_of(napi_env env, napi_value arr, uint32_t n) {
  char **paths = calloc(n ? n : 1, sizeof *paths);
  if (!paths) {
    throw_errno(env, ENOMEM, "scandir", NULL);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, arr, i, &v);
    if (!arg_string(env, v, &paths[i])) {
      for (uint32_t k = 0; k < i; k++) free(paths[k]);
      free(paths);
      return NULL;
    }
  }
  return paths;
}

static void paths_free(char **paths, uint32_t n) {
  for (uint32_t i = 0; paths && i < n; i++) free(paths[i]);
  free(paths);
}

static void job_free(merge_job *j) {
  paths_free(j->paths, j->nlayers);
  free(j->exact);
  free(j->o.names.p);
  free(j->o.types);
  free(j->o.inos);
  free(j->o.layers);
  free(j);
}

/* (paths, exact) into a job; NULL with an exception pending when they are not that */
static merge_job *job_of(napi_env env, napi_value paths, napi_value exact) {
  uint32_t n;
  bool isarr;
  napi_typedarray_type et;
  size_t ecount, eoff;
  void *edata;
  napi_value eab;
  if (napi_is_array(env, paths, &isarr) != napi_ok || !isarr || napi_get_array_length(env, paths, &n) != napi_ok ||
      napi_get_typedarray_info(env, exact, &et, &ecount, &edata, &eab, &eoff) != napi_ok || et != napi_uint8_array ||
      ecount != n || n > UINT16_MAX) {
    napi_throw_type_error(env, "EINVAL", "expected an array of paths and a Uint8Array of one flag each");
    return NULL;
  }
  merge_job *j = calloc(1, sizeof *j);
  if (j) j->exact = malloc(n ? n : 1);
  if (!j || !j->exact) {
    if (j) job_free(j);
    throw_errno(env, ENOMEM, "scandir", NULL);
    return NULL;
  }
  memcpy(j->exact, edata, n);
  if (!(j->paths = paths_of(env, paths, n))) {
    job_free(j);
    return NULL;
  }
  j->nlayers = n;
  return j;
}

/* the merge itself: no napi, so that it may run in a worker thread */
static void job_run(merge_job *j) {
  struct name_set seen = {0};
  for (uint32_t i = 0; i < j->nlayers && !j->err; i++) {
    j->err = merge_layer(&j->o, &seen, j->nlayers > 1, j->paths[i], (uint16_t)i, j->exact[i] != 0);
    if (j->err) j->failed = i;
  }
  set_free(&seen);
}

static napi_value job_error(napi_env env, merge_job *j) {
  return errno_error(env, j->err, "scandir", j->paths[j->failed]);
}

/* [names, types, inos, layers] */
static napi_value job_result(napi_env env, merge_job *j) {
  struct listing *o = &j->o;
  /* the names stay bytes: encoded into readdir replies as they are, decoded only when a
   * caller wants them as strings */
  napi_value names, res;
  void *copy;
  napi_create_buffer_copy(env, o->names.len, o->names.p ? o->names.p : "", &copy, &names);
  napi_create_array_with_length(env, 4, &res);
  napi_set_element(env, res, 0, names);
  napi_set_element(env, res, 1, typed(env, napi_uint8_array, 1, o->types, o->count));
  napi_set_element(env, res, 2, typed(env, napi_float64_array, sizeof(double), o->inos, o->count));
  napi_set_element(env, res, 3, typed(env, napi_uint16_array, sizeof(uint16_t), o->layers, o->count));
  return res;
}

/* readdirMerged(paths, exact) -> [names, types, inos, layers]: the merged listing of the
 * directories in paths (a union directory's layers, top first). exact (a Uint8Array, one
 * flag a layer) says whose d_ino is the st_ino lookup shows; the others' entries get -1
 * (as do inode numbers past 2^53). names: a Buffer of them joined by NULs; types are DT_*,
 * those getdents left unknown (and char devices, to tell whiteouts) taken from lstat;
 * layers holds the index in paths each entry comes from. */
static napi_value js_readdir_merged(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  merge_job *j = job_of(env, argv[0], argv[1]);
  if (!j) return NULL;
  job_run(j);
  napi_value res = NULL;
  if (j->err) napi_throw(env, job_error(env, j));
  else res = job_result(env, j);
  job_free(j);
  return res;
}

static void job_execute(napi_env env, void *data) {
  job_run(data);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  merge_job *j = data;
  if (status != napi_ok && !j->err) j->err = EIO;
  if (j->err) napi_reject_deferred(env, j->deferred, job_error(env, j));
  else napi_resolve_deferred(env, j->deferred, job_result(env, j));
  napi_delete_async_work(env, j->work);
  job_free(j);
}

/* readdirMergedAsync(paths, exact) -> Promise of readdirMerged's result, merged in a
 * worker thread (libuv's pool): a listing read ahead while the JS thread serves others. */
static napi_value js_readdir_merged_async(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  merge_job *j = job_of(env, argv[0], argv[1]);
  if (!j) return NULL;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "strata-readdir", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

/* The lstat of a listing's entries, each in the layer directory it was listed from, for a
 * lookup that then needs no syscall of its own (src/union/readdir.ts, Listing.attrAt).
 * One fstatat per entry relative to its layer's directory: no path walk from the root,
 * no string made per entry, and no call into the addon per entry (a lookup's lstat from
 * JS cost ~4.5 us here, the syscall alone ~3). Directories are skipped (their lookup
 * merges layers and reads xattrs), as is what fails: a mode of 0 marks both. */
typedef struct {
  char **paths;
  uint32_t nlayers;
  char *names; /* the [from, to) entries' names, each with its NUL */
  uint16_t *layers;
  unsigned char *types;
  uint32_t count;
  double *out; /* count * 16 doubles: the caller's Float64Array, entry `from` first */
  napi_ref out_ref;
  napi_async_work work;
  napi_deferred deferred;
} stats_job;

static void stats_free(napi_env env, stats_job *j) {
  paths_free(j->paths, j->nlayers);
  free(j->names);
  free(j->layers);
  free(j->types);
  if (j->out_ref) napi_delete_reference(env, j->out_ref);
  free(j);
}

static void stats_run(stats_job *j) {
  int *fds = malloc((j->nlayers ? j->nlayers : 1) * sizeof *fds);
  if (!fds) {
    for (uint32_t i = 0; i < j->count; i++) j->out[i * 16 + 2] = 0;
    return;
  }
  for (uint32_t l = 0; l < j->nlayers; l++) fds[l] = -2; /* opened when first needed */
  const char *nm = j->names;
  for (uint32_t i = 0; i < j->count; i++, nm += strlen(nm) + 1) {
    double *b = j->out + (size_t)i * 16;
    b[2] = 0; /* fill_stat writes nothing when it fails */
    uint16_t l = j->layers[i];
    if (j->types[i] == DT_DIR || l >= j->nlayers) continue;
    if (fds[l] == -2) fds[l] = open(j->paths[l], O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fds[l] >= 0 && fstatat(fds[l], nm, &st, AT_SYMLINK_NOFOLLOW) == 0) fill_stat(&st, b);
  }
  for (uint32_t l = 0; l < j->nlayers; l++)
    if (fds[l] >= 0) close(fds[l]);
  free(fds);
}

/* (paths, names, layers, types, from, to, out) into a job; NULL with an exception pending
 * when they are not that */
static stats_job *stats_job_of(napi_env env, napi_value *argv) {
  uint32_t n;
  bool isarr;
  void *names, *layers, *types;
  size_t names_len, layers_len, types_len;
  int64_t from, to;
  double *out;
  napi_typedarray_type lt;
  napi_value ab;
  size_t off;
  if (napi_is_array(env, argv[0], &isarr) != napi_ok || !isarr || napi_get_array_length(env, argv[0], &n) != napi_ok ||
      !arg_buffer(env, argv[1], &names, &names_len) || napi_get_typedarray_info(env, argv[2], &lt, &layers_len, &layers, &ab, &off) != napi_ok ||
      lt != napi_uint16_array || !arg_buffer(env, argv[3], &types, &types_len) || !arg_int64(env, argv[4], &from) ||
      !arg_int64(env, argv[5], &to) || from < 0 || to < from || (size_t)to > types_len || layers_len != types_len) {
    bool pending;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, "EINVAL", "expected paths, names, layers, types, from, to and a Float64Array");
    return NULL;
  }
  if (!arg_float64s(env, argv[6], (size_t)(to - from) * 16, "expected a Float64Array of 16 doubles an entry", &out)) return NULL;
  /* the names of entries [from, to): skip `from` NUL-separated names */
  const char *p = names, *end = (const char *)names + names_len;
  for (int64_t i = 0; i < from && p < end; i++) p += strnlen(p, (size_t)(end - p)) + 1;
  const char *q = p;
  for (int64_t i = from; i < to && q < end; i++) q += strnlen(q, (size_t)(end - q)) + 1;
  if (q > end) q = end;
  stats_job *j = calloc(1, sizeof *j);
  uint32_t count = (uint32_t)(to - from);
  if (j) {
    j->names = malloc((size_t)(q - p) + 1);
    j->layers = malloc((count ? count : 1) * sizeof *j->layers);
    j->types = malloc(count ? count : 1);
  }
  if (!j || !j->names || !j->layers || !j->types) {
    if (j) stats_free(env, j);
    throw_errno(env, ENOMEM, "lstat", NULL);
    return NULL;
  }
  if (!(j->paths = paths_of(env, argv[0], n))) {
    stats_free(env, j);
    return NULL;
  }
  j->nlayers = n;
  memcpy(j->names, p, (size_t)(q - p));
  j->names[q - p] = 0; /* the last name has no NUL of its own in the listing's buffer */
  memcpy(j->layers, (uint16_t *)layers + from, count * sizeof *j->layers);
  memcpy(j->types, (unsigned char *)types + from, count);
  j->count = count;
  j->out = out;
  return j;
}

/* lstatEntries(paths, names, layers, types, from, to, out): entries [from, to) of a merged
 * listing (readdirMerged's names, layers and types; paths its layers' directories) lstat'ed
 * into out, entry `from` first (16 doubles an entry, as lstatInto; a mode of 0 where there
 * is none) */
static napi_value js_lstat_entries(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  stats_job *j = stats_job_of(env, argv);
  if (!j) return NULL;
  stats_run(j);
  stats_free(env, j);
  return make_undefined(env);
}

static void stats_execute(napi_env env, void *data) {
  stats_run(data);
}

static void stats_complete(napi_env env, napi_status status, void *data) {
  stats_job *j = data;
  napi_value undef;
  napi_get_undefined(env, &undef);
  napi_resolve_deferred(env, j->deferred, undef);
  napi_delete_async_work(env, j->work);
  stats_free(env, j);
}

/* lstatEntriesAsync(...): lstatEntries in a worker thread (out is held until it is done,
 * and is not to be read before) */
static napi_value js_lstat_entries_async(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  stats_job *j = stats_job_of(env, argv);
  if (!j) return NULL;
  napi_value promise, name;
  napi_create_reference(env, argv[6], 1, &j->out_ref);
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "strata-lstat", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, stats_execute, stats_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

void listing_init(napi_env env, napi_value exports) {
  export_fn(env, exports, "readdirMerged", js_readdir_merged);
  export_fn(env, exports, "readdirMergedAsync", js_readdir_merged_async);
  export_fn(env, exports, "lstatEntries", js_lstat_entries);
  export_fn(env, exports, "lstatEntriesAsync", js_lstat_entries_async);
}
