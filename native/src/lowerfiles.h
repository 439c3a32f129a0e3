/* The lower files a session opens itself (read-only OPENs answered in C, see session.c
 * "lower files"): by inode, the lower path JS said a read-only open of it opens, and the
 * fds the session opened on it that are still open. Chained hash by inode number; an
 * entry lives while it has a path or open handles. Not locked: the session locks it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lower_file {
  struct lower_file *next;
  uint64_t ino;
  char *path;     /* what a read-only OPEN of ino opens; NULL: OPENs go to JS */
  unsigned opens; /* handles opened here and not released yet */
  /* those of them still on the lower file: repointed to the upper copy at a copy-up */
  int *fds;
  unsigned nfds, cap;
} lower_file_t;

typedef struct lower_files {
  lower_file_t **buckets;
  size_t cap; /* a power of two, or 0 before the first entry */
  size_t count, marked; /* entries, and those with a path */
  size_t opens;         /* handles open, over all entries */
} lower_files_t;

lower_file_t *lower_files_get(const lower_files_t *t, uint64_t ino);
/* ino's entry, made if needed; NULL when memory ran out */
lower_file_t *lower_files_obtain(lower_files_t *t, uint64_t ino);
/* sets (path: copied) or clears (NULL) ino's path; false when memory ran out (then no path) */
bool lower_files_set_path(lower_files_t *t, uint64_t ino, const char *path);
/* records fd as opened on e's lower file; false when memory ran out (nothing recorded) */
bool lower_files_add_fd(lower_files_t *t, lower_file_t *e, int fd);
/* the end of a handle opened on e with fd: forgets fd, and the entry if nothing is left */
void lower_files_release(lower_files_t *t, lower_file_t *e, int fd);
void lower_files_free(lower_files_t *t);
