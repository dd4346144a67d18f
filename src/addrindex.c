/* Address index: linear probing over 4-byte slots, keyed hash against chosen-address floods,
 * backward-shift deletion. Shared by the jails' trackers and the ban table. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "addrindex.h"

static size_t table_size(size_t capacity)
{
	size_t size = 8;
	while (size < capacity * 2)
		size <<= 1;
	return size;
}

int addrindex_init(struct addrindex *x, size_t capacity, addrindex_key_fn key_fn, const void *ctx)
{
	size_t size = table_size(capacity);

	*x = (struct addrindex){ .key_fn = key_fn, .ctx = ctx };
	x->slots = calloc(size, sizeof(uint32_t));
	if (!x->slots)
		return -ENOMEM;
	x->mask = (uint32_t)(size - 1);
	if (getrandom(x->key, sizeof(x->key), GRND_NONBLOCK) != sizeof(x->key)) {
		/* Early boot without entropy: a weaker key beats not starting. */
		x->key[0] = (uint64_t)(uintptr_t)x->slots ^ 0x9e3779b97f4a7c15ULL;
		x->key[1] = (uint64_t)(uintptr_t)x;
	}
	return 0;
}

void addrindex_done(struct addrindex *x)
{
	free(x->slots);
	x->slots = NULL;
}

static inline uint32_t home(const struct addrindex *x, const struct addr *a)
{
	return (uint32_t)addr_hash(a, x->key) & x->mask;
}

/* The slot holding a, or the empty slot where it would go. */
static uint32_t find_slot(const struct addrindex *x, const struct addr *a)
{
	uint32_t s = home(x, a);
	for (;;) {
		uint32_t v = x->slots[s];
		if (v == 0 || addr_equal(x->key_fn(v - 1, x->ctx), a))
			return s;
		s = (s + 1) & x->mask;
	}
}

uint32_t addrindex_find(const struct addrindex *x, const struct addr *a)
{
	uint32_t v = x->slots[find_slot(x, a)];
	return v ? v - 1 : ADDRINDEX_NONE;
}

void addrindex_insert(struct addrindex *x, const struct addr *a, uint32_t pos)
{
	x->slots[find_slot(x, a)] = pos + 1;
	x->used++;
}

void addrindex_move(struct addrindex *x, const struct addr *a, uint32_t pos)
{
	x->slots[find_slot(x, a)] = pos + 1;
}

void addrindex_remove(struct addrindex *x, const struct addr *a)
{
	uint32_t hole = find_slot(x, a), t = hole;

	if (x->slots[hole] == 0)
		return;
	x->used--;
	for (;;) {
		t = (t + 1) & x->mask;
		uint32_t v = x->slots[t];
		if (v == 0)
			break;
		uint32_t h = home(x, x->key_fn(v - 1, x->ctx));
		/* Move v into the hole unless its home lies cyclically in (hole, t]. */
		bool stays = hole <= t ? (h > hole && h <= t) : (h > hole || h <= t);
		if (!stays) {
			x->slots[hole] = v;
			hole = t;
		}
	}
	x->slots[hole] = 0;
}

int addrindex_resize(struct addrindex *x, size_t capacity, uint32_t n)
{
	size_t size = table_size(capacity);
	uint32_t *slots = calloc(size, sizeof(uint32_t));

	if (!slots)
		return -ENOMEM;
	free(x->slots);
	x->slots = slots;
	x->mask = (uint32_t)(size - 1);
	x->used = 0;
	for (uint32_t i = 0; i < n; i++)
		addrindex_insert(x, x->key_fn(i, x->ctx), i);
	return 0;
}
