#include "inoset.h"

#include <stdlib.h>

static size_t slot_of(uint64_t ino, size_t cap) {
  return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

bool ino_set_has(const ino_set_t *set, uint64_t ino) {
  if (ino == 0 || set->cap == 0) return false;
  for (size_t i = slot_of(ino, set->cap);; i = (i + 1) & (set->cap - 1)) {
    if (set->slots[i] == ino) return true;
    if (set->slots[i] == 0) return false;
  }
}

static void put(uint64_t *slots, size_t cap, uint64_t ino) {
  size_t i = slot_of(ino, cap);
  while (slots[i] != 0 && slots[i] != ino) i = (i + 1) & (cap - 1);
  slots[i] = ino;
}

static bool grow(ino_set_t *set) {
  size_t cap = set->cap ? set->cap * 2 : 64;
  uint64_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return false;
  for (size_t i = 0; i < set->cap; i++)
    if (set->slots[i]) put(slots, cap, set->slots[i]);
  free(set->slots);
  set->slots = slots;
  set->cap = cap;
  return true;
}

bool ino_set_add(ino_set_t *set, uint64_t ino) {
  if (ino == 0) return true;
  if (ino_set_has(set, ino)) return true;
  /* at most half full: probes stay short */
  if ((set->count + 1) * 2 > set->cap && !grow(set)) return false;
  put(set->slots, set->cap, ino);
  set->count++;
  return true;
}

void ino_set_del(ino_set_t *set, uint64_t ino) {
  if (ino == 0 || set->cap == 0) return;
  size_t mask = set->cap - 1, i = slot_of(ino, set->cap);
  while (set->slots[i] != ino) {
    if (set->slots[i] == 0) return;
    i = (i + 1) & mask;
  }
  /* backward shift: pull each later member of the run into the hole when its home slot
   * does not lie (cyclically) between the hole and its own slot */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; set->slots[j] != 0; j = (j + 1) & mask) {
    size_t home = slot_of(set->slots[j], set->cap);
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    set->slots[hole] = set->slots[j];
    hole = j;
  }
  set->slots[hole] = 0;
  set->count--;
}

void ino_set_free(ino_set_t *set) {
  free(set->slots);
  set->slots = NULL;
  set->cap = set->count = 0;
}
