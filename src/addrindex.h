/* An open-addressing index from addresses to the caller's array positions: linear probing with
 * a keyed hash and backward-shift deletion (no tombstones, so lookups stay short under churn).
 * The caller keeps the addresses; the index stores only positions, 4 bytes a slot. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define ADDRINDEX_NONE UINT32_MAX

/* Returns the address stored at position pos of the caller's array. */
typedef const struct addr *(*addrindex_key_fn)(uint32_t pos, const void *ctx);

struct addrindex {
	uint32_t *slots; /* position + 1; 0 = empty, so untouched calloc'ed pages stay unmapped */
	uint32_t mask;
	size_t used;
	uint64_t key[2];
	addrindex_key_fn key_fn;
	const void *ctx;
};

/* Sizes the index for up to capacity entries at a load of at most one half. Returns 0 or
 * -ENOMEM. */
int addrindex_init(struct addrindex *x, size_t capacity, addrindex_key_fn key_fn, const void *ctx);
void addrindex_done(struct addrindex *x);

/* Position of a, or ADDRINDEX_NONE. */
uint32_t addrindex_find(const struct addrindex *x, const struct addr *a);

/* Records that a (not present) lives at pos. The caller keeps used <= capacity. */
void addrindex_insert(struct addrindex *x, const struct addr *a, uint32_t pos);

/* Forgets a (present). */
void addrindex_remove(struct addrindex *x, const struct addr *a);

/* a (present) has moved to position pos. */
void addrindex_move(struct addrindex *x, const struct addr *a, uint32_t pos);

/* Rebuilds for a new capacity from the caller's n entries at positions 0..n-1. Returns 0 or
 * -ENOMEM (the old index is kept). */
int addrindex_resize(struct addrindex *x, size_t capacity, uint32_t n);
