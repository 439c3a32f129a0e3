/* A set of inode numbers (open addressing, linear probing, backward-shift deletion: no
 * tombstones, so a set that sees many adds and deletes stays as short as its content).
 * 0 is never a member: it marks an empty slot (FUSE never names inode 0). Not locked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ino_set {
  uint64_t *slots;
  size_t cap; /* a power of two, or 0 before the first add */
  size_t count;
} ino_set_t;

bool ino_set_has(const ino_set_t *set, uint64_t ino);
/* false only when memory ran out (the set is unchanged) */
bool ino_set_add(ino_set_t *set, uint64_t ino);
void ino_set_del(ino_set_t *set, uint64_t ino);
void ino_set_free(ino_set_t *set);
