#include "lowerfiles.h"

#include <stdlib.h>
#include <string.h>

static size_t bucket_of(uint64_t ino, size_t cap) { return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1); }

lower_file_t *lower_files_get(const lower_files_t *t, uint64_t ino) {
  if (t->cap == 0) return NULL;
  for (lower_file_t *e = t->buckets[bucket_of(ino, t->cap)]; e; e = e->next)
    if (e->ino == ino) return e;
  return NULL;
}

static bool grow(lower_files_t *t) {
  size_t cap = t->cap ? t->cap * 2 : 256;
  lower_file_t **b = calloc(cap, sizeof *b);
  if (!b) return false;
  for (size_t i = 0; i < t->cap; i++) {
    for (lower_file_t *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t j = bucket_of(e->ino, cap);
      e->next = b[j];
      b[j] = e;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->cap = cap;
  return true;
}

lower_file_t *lower_files_obtain(lower_files_t *t, uint64_t ino) {
  lower_file_t *e = lower_files_get(t, ino);
  if (e) return e;
  /* one entry per bucket on average: chains stay short */
  if (t->count + 1 > t->cap && !grow(t)) return NULL;
  e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->ino = ino;
  size_t i = bucket_of(ino, t->cap);
  e->next = t->buckets[i];
  t->buckets[i] = e;
  t->count++;
  return e;
}

/* drops e if it holds nothing any more */
static void maybe_drop(lower_files_t *t, lower_file_t *e) {
  if (e->path || e->opens > 0) return;
  for (lower_file_t **p = &t->buckets[bucket_of(e->ino, t->cap)]; *p; p = &(*p)->next) {
    if (*p != e) continue;
    *p = e->next;
    free(e->fds);
    free(e);
    t->count--;
    return;
  }
}

static void clear_path(lower_files_t *t, lower_file_t *e) {
  if (!e->path) return;
  free(e->path);
  e->path = NULL;
  t->marked--;
}

bool lower_files_set_path(lower_files_t *t, uint64_t ino, const char *path) {
  lower_file_t *e = path ? lower_files_obtain(t, ino) : lower_files_get(t, ino);
  if (!e) return path == NULL;
  clear_path(t, e);
  if (path) {
    e->path = strdup(path);
    if (e->path) t->marked++;
  }
  bool ok = path == NULL || e->path != NULL;
  maybe_drop(t, e);
  return ok;
}

bool lower_files_add_fd(lower_files_t *t, lower_file_t *e, int fd) {
  if (e->nfds == e->cap) {
    unsigned cap = e->cap ? e->cap * 2 : 2;
    int *fds = realloc(e->fds, cap * sizeof *fds);
    if (!fds) return false;
    e->fds = fds;
    e->cap = cap;
  }
  e->fds[e->nfds++] = fd;
  e->opens++;
  t->opens++;
  return true;
}

void lower_files_release(lower_files_t *t, lower_file_t *e, int fd) {
  for (unsigned i = 0; i < e->nfds; i++) {
    if (e->fds[i] != fd) continue;
    e->fds[i] = e->fds[--e->nfds];
    break;
  }
  if (e->opens > 0) {
    e->opens--;
    t->opens--;
  }
  maybe_drop(t, e);
}

void lower_files_free(lower_files_t *t) {
  for (size_t i = 0; i < t->cap; i++) {
    for (lower_file_t *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e->path);
      free(e->fds);
      free(e);
    }
  }
  free(t->buckets);
  memset(t, 0, sizeof *t);
}
