/* Jails: an open-addressing table (linear probing, keyed hash) of tracked addresses over a
 * preallocated entry pool with an LRU list, so that the hot path never allocates and a flood of
 * distinct addresses costs a bounded amount of memory. Each entry keeps the times of its last
 * maxretry hits in a ring: the window test is one comparison. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "jail.h"
#include "macro.h"

#define NIL UINT32_MAX

struct entry {
	struct addr addr;
	uint32_t hash; /* low bits of the table hash, to re-home entries on deletion */
	uint32_t lru_prev, lru_next;
	uint32_t offences;
	uint32_t nhits; /* hits in the ring (<= maxretry) */
	uint32_t head;	/* next ring slot to write */
	uint64_t banned_until;
};

struct jail {
	struct jail_params p;
	struct addr *allow;
	uint64_t key[2];
	struct entry *entries; /* pool of max_tracked */
	uint64_t *times;       /* max_tracked rings of maxretry */
	uint32_t n_entries;
	uint32_t lru_head, lru_tail; /* most / least recently seen */
	uint32_t *table;	     /* entry index + 1; 0 = empty, so calloc's untouched pages serve */
	uint32_t mask;
	struct jail_stats stats;
};

int jail_new(const struct jail_params *p, struct jail **ret)
{
	struct jail *j;
	size_t size = 1;

	if (p->maxretry < 1 || p->max_tracked < 1 || p->max_tracked > (1u << 30) ||
	    p->bantime_factor < 1.0 || p->prefix4 > 32 || p->prefix6 > 128)
		return -EINVAL;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->p = *p;
	if (j->p.bantime_max_usec < j->p.bantime_usec)
		j->p.bantime_max_usec = j->p.bantime_usec;
	if (p->n_allow) {
		j->allow = malloc(p->n_allow * sizeof(struct addr));
		if (!j->allow)
			return jail_free(j), -ENOMEM;
		memcpy(j->allow, p->allow, p->n_allow * sizeof(struct addr));
	}
	j->p.allow = j->allow;

	while (size < (size_t)p->max_tracked * 2)
		size <<= 1;
	j->mask = (uint32_t)(size - 1);
	/* calloc of large blocks maps untouched pages: memory grows with use, not with the cap. */
	j->table = calloc(size, sizeof(uint32_t));
	j->entries = calloc(p->max_tracked, sizeof(struct entry));
	j->times = calloc((size_t)p->max_tracked * p->maxretry, sizeof(uint64_t));
	if (!j->table || !j->entries || !j->times)
		return jail_free(j), -ENOMEM;
	j->lru_head = j->lru_tail = NIL;
	if (getrandom(j->key, sizeof(j->key), GRND_NONBLOCK) != sizeof(j->key)) {
		/* Early boot without entropy: a weaker key beats not starting. */
		j->key[0] = (uint64_t)(uintptr_t)j ^ 0x9e3779b97f4a7c15ULL;
		j->key[1] = (uint64_t)(uintptr_t)&size;
	}
	*ret = j;
	return 0;
}

struct jail *jail_free(struct jail *j)
{
	if (!j)
		return NULL;
	free(j->allow);
	free(j->table);
	free(j->entries);
	free(j->times);
	free(j);
	return NULL;
}

static void lru_unlink(struct jail *j, uint32_t i)
{
	struct entry *e = &j->entries[i];
	if (e->lru_prev != NIL)
		j->entries[e->lru_prev].lru_next = e->lru_next;
	else
		j->lru_head = e->lru_next;
	if (e->lru_next != NIL)
		j->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		j->lru_tail = e->lru_prev;
}

static void lru_push_front(struct jail *j, uint32_t i)
{
	struct entry *e = &j->entries[i];
	e->lru_prev = NIL;
	e->lru_next = j->lru_head;
	if (j->lru_head != NIL)
		j->entries[j->lru_head].lru_prev = i;
	j->lru_head = i;
	if (j->lru_tail == NIL)
		j->lru_tail = i;
}

static inline uint32_t slot_get(const struct jail *j, uint32_t s)
{
	return j->table[s] ? j->table[s] - 1 : NIL;
}

static inline void slot_set(struct jail *j, uint32_t s, uint32_t i)
{
	j->table[s] = i == NIL ? 0 : i + 1;
}

/* Returns the table slot holding a, or the empty slot where it would go. */
static uint32_t find_slot(const struct jail *j, const struct addr *a, uint32_t hash)
{
	uint32_t s = hash & j->mask;
	for (;;) {
		uint32_t i = slot_get(j, s);
		if (i == NIL || addr_equal(&j->entries[i].addr, a))
			return s;
		s = (s + 1) & j->mask;
	}
}

/* Deletes the entry at slot s, shifting later members of its probe run back (no tombstones,
 * so lookups stay short however many evictions happen). */
static void table_delete(struct jail *j, uint32_t s)
{
	uint32_t hole = s, t = s;
	for (;;) {
		t = (t + 1) & j->mask;
		uint32_t i = slot_get(j, t);
		if (i == NIL)
			break;
		uint32_t home = j->entries[i].hash & j->mask;
		/* Move i into the hole unless its home lies cyclically in (hole, t]. */
		bool stays = hole <= t ? (home > hole && home <= t) : (home > hole || home <= t);
		if (!stays) {
			slot_set(j, hole, i);
			hole = t;
		}
	}
	slot_set(j, hole, NIL);
}

static uint32_t lookup(const struct jail *j, const struct addr *a)
{
	uint32_t s = find_slot(j, a, (uint32_t)addr_hash(a, j->key));
	return slot_get(j, s);
}

/* Returns the entry index for a, creating (and evicting the least recently seen) when needed. */
static uint32_t get_entry(struct jail *j, const struct addr *a)
{
	uint32_t hash = (uint32_t)addr_hash(a, j->key);
	uint32_t s = find_slot(j, a, hash);
	uint32_t i = slot_get(j, s);

	if (i != NIL) {
		lru_unlink(j, i);
		lru_push_front(j, i);
		return i;
	}
	if (j->n_entries < j->p.max_tracked)
		i = j->n_entries++;
	else {
		i = j->lru_tail;
		lru_unlink(j, i);
		table_delete(j, find_slot(j, &j->entries[i].addr, j->entries[i].hash));
		j->stats.evictions++;
		/* The deletion may have moved entries: the free slot for a is found again. */
		s = find_slot(j, a, hash);
	}
	j->entries[i] = (struct entry){ .addr = *a, .hash = hash };
	slot_set(j, s, i);
	lru_push_front(j, i);
	return i;
}

bool jail_is_allowed(const struct jail *j, const struct addr *a)
{
	for (size_t i = 0; i < j->p.n_allow; i++)
		if (addr_overlaps(a, &j->p.allow[i]))
			return true;
	return false;
}

static struct addr ban_net(const struct jail *j, const struct addr *a)
{
	struct addr n = *a;
	addr_mask(&n, n.family == AF_INET ? j->p.prefix4 : j->p.prefix6);
	return n;
}

static uint64_t ban_length(const struct jail *j, unsigned offence)
{
	double t = (double)j->p.bantime_usec * pow(j->p.bantime_factor, offence - 1);
	if (t >= (double)j->p.bantime_max_usec)
		return j->p.bantime_max_usec;
	return (uint64_t)t;
}

int jail_hit(struct jail *j, const struct addr *a, uint64_t now_usec, struct jail_ban *ret)
{
	struct addr net = ban_net(j, a);
	j->stats.hits++;

	/* The whole network a ban would cover is checked, not only the address: banning a /64
	 * must not lock out an allowlisted host inside it. */
	if (jail_is_allowed(j, &net)) {
		j->stats.allowed++;
		return JAIL_ALLOWED;
	}

	uint32_t i = get_entry(j, a);
	struct entry *e = &j->entries[i];
	if (e->banned_until > now_usec) {
		j->stats.already_banned++;
		return JAIL_BANNED;
	}

	uint64_t *ring = &j->times[(size_t)i * j->p.maxretry];
	ring[e->head] = now_usec;
	e->head = (e->head + 1) % j->p.maxretry;
	if (e->nhits < j->p.maxretry)
		e->nhits++;
	if (e->nhits < j->p.maxretry)
		return JAIL_COUNTED;
	/* The ring is full: its oldest hit sits where the next one will be written. */
	uint64_t oldest = ring[e->head];
	if (now_usec >= oldest && now_usec - oldest >= j->p.findtime_usec)
		return JAIL_COUNTED;

	e->offences++;
	e->nhits = 0;
	e->head = 0;
	*ret = (struct jail_ban){
		.addr = net,
		.time_usec = now_usec,
		.bantime_usec = ban_length(j, e->offences),
		.offence = e->offences,
	};
	e->banned_until = now_usec + ret->bantime_usec;
	j->stats.bans++;
	return JAIL_BAN;
}

void jail_forget_ban(struct jail *j, const struct addr *a)
{
	uint32_t i = lookup(j, a);
	if (i != NIL)
		j->entries[i].banned_until = 0;
}

int jail_restore(struct jail *j, const struct addr *a, unsigned offences, uint64_t until_usec)
{
	uint32_t i = get_entry(j, a);
	j->entries[i].offences = MAX(j->entries[i].offences, offences);
	j->entries[i].banned_until = MAX(j->entries[i].banned_until, until_usec);
	return 0;
}

size_t jail_tracked(const struct jail *j)
{
	return j->n_entries;
}

const struct jail_stats *jail_get_stats(const struct jail *j)
{
	return &j->stats;
}
