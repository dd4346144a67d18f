/* Jails: an address index (addrindex) over a
 * preallocated entry pool with an LRU list, so that the hot path never allocates and a flood of
 * distinct addresses costs a bounded amount of memory. Each entry keeps the times of its last
 * maxretry hits in a ring: the window test is one comparison. */
#include "jail.h"
#include "addrindex.h"
#include "macro.h"
#include "timeutil.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
/* How many of the least recently seen entries an eviction looks at to pick the one worth least. */
#define EVICT_SCAN 16

struct entry {
	struct addr addr;
	uint32_t lru_prev, lru_next;
	uint32_t offences;
	uint32_t nhits; /* hits in the ring (<= maxretry) */
	uint32_t head;	/* next ring slot to write */
	uint64_t banned_until;
};

struct jail {
	struct jail_params p;
	struct addr *allow;
	struct entry *entries; /* pool of max_tracked */
	uint64_t *times;       /* max_tracked rings of maxretry */
	uint32_t *tags;	       /* beside times: the caller's tag of each hit */
	uint32_t n_entries;
	uint32_t lru_head, lru_tail; /* most / least recently seen */
	struct addrindex index;
	struct jail_stats stats;
	jail_recall_fn recall;
	void *recall_data;
};

static const struct addr *entry_key(uint32_t pos, const void *ctx)
{
	const struct jail *j = ctx;
	return &j->entries[pos].addr;
}

int jail_new(const struct jail_params *p, struct jail **ret)
{
	struct jail *j;

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

	/* calloc of large blocks maps untouched pages: memory grows with use, not with the cap. */
	j->entries = calloc(p->max_tracked, sizeof(struct entry));
	j->times = calloc((size_t)p->max_tracked * p->maxretry, sizeof(uint64_t));
	j->tags = calloc((size_t)p->max_tracked * p->maxretry, sizeof(uint32_t));
	if (!j->entries || !j->times || !j->tags ||
	    addrindex_init(&j->index, p->max_tracked, entry_key, j) < 0)
		return jail_free(j), -ENOMEM;
	j->lru_head = j->lru_tail = NIL;
	*ret = j;
	return 0;
}

struct jail *jail_free(struct jail *j)
{
	if (!j)
		return NULL;
	free(j->allow);
	addrindex_done(&j->index);
	free(j->entries);
	free(j->times);
	free(j->tags);
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

/* What an entry would cost to forget: its hits toward maxretry, and a ban or past offences
 * (escalation) weigh as a full ring. */
static uint32_t entry_worth(const struct jail *j, const struct entry *e)
{
	return e->nhits + (e->offences || e->banned_until ? j->p.maxretry : 0);
}

/* Among the EVICT_SCAN least recently seen entries, the one worth least (the oldest of equals):
 * a flood of one-hit addresses pushes out other one-hit addresses, not the offender four hits
 * into its five. */
static uint32_t evict_victim(const struct jail *j)
{
	uint32_t best = j->lru_tail, best_worth = entry_worth(j, &j->entries[best]);
	uint32_t i = j->entries[best].lru_prev;

	for (unsigned n = 1; n < EVICT_SCAN && i != NIL && best_worth > 1; n++) {
		uint32_t w = entry_worth(j, &j->entries[i]);
		if (w < best_worth) {
			best = i;
			best_worth = w;
		}
		i = j->entries[i].lru_prev;
	}
	return best;
}

/* Returns the entry index for a, creating (and evicting the least worth of the least recently
 * seen) when needed. */
static uint32_t get_entry(struct jail *j, const struct addr *a)
{
	uint32_t i = addrindex_find(&j->index, a);

	if (i != ADDRINDEX_NONE) {
		lru_unlink(j, i);
		lru_push_front(j, i);
		return i;
	}
	if (j->n_entries < j->p.max_tracked)
		i = j->n_entries++;
	else {
		i = evict_victim(j);
		lru_unlink(j, i);
		addrindex_remove(&j->index, &j->entries[i].addr);
		j->stats.evictions++;
	}
	j->entries[i] = (struct entry){ .addr = *a };
	unsigned offences;
	uint64_t until;
	if (j->recall && j->recall(a, j->recall_data, &offences, &until)) {
		j->entries[i].offences = offences;
		j->entries[i].banned_until = until;
	}
	addrindex_insert(&j->index, a, i);
	lru_push_front(j, i);
	return i;
}

bool jail_is_allowed(const struct jail *j, const struct addr *a)
{
	return addr_overlaps_any(a, j->p.allow, j->p.n_allow);
}

static struct addr ban_net(const struct jail *j, const struct addr *a)
{
	struct addr n = *a;
	addr_mask(&n, n.family == AF_INET ? j->p.prefix4 : j->p.prefix6);
	return n;
}

/* In double, compared before it is converted back: bantime x factor^(n-1) may be far beyond
 * 2^64 (a forever bantime, a thousandth offence), and converting that is undefined. The cap
 * saturates it: to bantime_max, which is forever when bantime is. */
static uint64_t ban_length(const struct jail *j, unsigned offence)
{
	double t = (double)j->p.bantime_usec * pow(j->p.bantime_factor, offence - 1);
	uint64_t len = !(t < (double)j->p.bantime_max_usec)
			       ? j->p.bantime_max_usec
			       : MIN((uint64_t)t, j->p.bantime_max_usec);
	/* An escalation past ten years (bantime_max = forever) is forever: a restart treats a
	 * longer finite ban as planted. */
	return len > TIMEUTIL_LONGEST_USEC ? TIMEUTIL_FOREVER : len;
}

/* The tags of the newest hits of the full ring at i (whose oldest is at its head), oldest
 * first. */
static void take_tags(const struct jail *j, uint32_t i, struct jail_ban *ret)
{
	const uint32_t *tags = &j->tags[(size_t)i * j->p.maxretry];
	unsigned n = MIN(j->p.maxretry, (unsigned)JAIL_TAGS_MAX);
	uint32_t head = j->entries[i].head;

	ret->n_tags = 0;
	for (unsigned k = j->p.maxretry - n; k < j->p.maxretry; k++) {
		uint32_t t = tags[(head + k) % j->p.maxretry];
		if (t)
			ret->tags[ret->n_tags++] = t;
	}
}

/* Writes one hit into the ring of entry i. */
static void ring_put(struct jail *j, uint32_t i, uint64_t now_usec, uint32_t tag)
{
	struct entry *e = &j->entries[i];
	size_t at = (size_t)i * j->p.maxretry + e->head;

	j->times[at] = now_usec;
	j->tags[at] = tag;
	e->head = (e->head + 1) % j->p.maxretry;
	if (e->nhits < j->p.maxretry)
		e->nhits++;
}

int jail_hit(struct jail *j, const struct addr *a, uint64_t now_usec, uint32_t tag,
	     struct jail_ban *ret)
{
	struct addr net = ban_net(j, a);
	j->stats.hits++;

	/* The whole network a ban would cover is checked, not only the address: banning a /64
	 * must not lock out an allowlisted host inside it. */
	if (jail_is_allowed(j, &net)) {
		j->stats.allowed++;
		return JAIL_ALLOWED;
	}

	/* Hits count per network a ban would cover: the hosts of one /64 are one offender, or
	 * rotating through its addresses would never reach maxretry. */
	uint32_t i = get_entry(j, &net);
	struct entry *e = &j->entries[i];
	if (e->banned_until > now_usec) {
		j->stats.already_banned++;
		return JAIL_BANNED;
	}

	ring_put(j, i, now_usec, tag);
	if (e->nhits < j->p.maxretry)
		return JAIL_COUNTED;
	/* The ring is full: its oldest hit sits where the next one will be written. */
	uint64_t oldest = j->times[(size_t)i * j->p.maxretry + e->head];
	if (now_usec >= oldest && now_usec - oldest >= j->p.findtime_usec)
		return JAIL_COUNTED;

	/* Saturates: an offence count never wraps back to a first offence's short ban. */
	if (e->offences < UINT32_MAX)
		e->offences++;
	take_tags(j, i, ret);
	e->nhits = 0;
	e->head = 0;
	ret->addr = net;
	ret->host = *a;
	ret->time_usec = now_usec;
	ret->bantime_usec = ban_length(j, e->offences);
	ret->offence = e->offences;
	e->banned_until = timeutil_add(now_usec, ret->bantime_usec);
	j->stats.bans++;
	return JAIL_BAN;
}

void jail_set_recall(struct jail *j, jail_recall_fn fn, void *userdata)
{
	j->recall = fn;
	j->recall_data = userdata;
}

void jail_forget_ban(struct jail *j, const struct addr *a)
{
	struct addr net = ban_net(j, a);
	uint32_t i = addrindex_find(&j->index, &net);
	if (i != ADDRINDEX_NONE)
		j->entries[i].banned_until = 0;
}

int jail_restore(struct jail *j, const struct addr *a, unsigned offences, uint64_t until_usec)
{
	struct addr net = ban_net(j, a);
	uint32_t i = get_entry(j, &net);
	j->entries[i].offences = MAX(j->entries[i].offences, offences);
	j->entries[i].banned_until = MAX(j->entries[i].banned_until, until_usec);
	return 0;
}

void jail_restore_hits(struct jail *j, const struct addr *a, const uint64_t *times, size_t n)
{
	struct addr net = ban_net(j, a);

	if (n == 0 || jail_is_allowed(j, &net))
		return;
	uint32_t i = get_entry(j, &net);
	/* A full ring would decide at the next hit whatever its times: only maxretry - 1 of the
	 * newest come back, so that a ban still needs a hit of today. */
	size_t keep = MIN(n, (size_t)j->p.maxretry - 1);
	for (size_t k = n - keep; k < n; k++)
		ring_put(j, i, times[k], 0);
}

size_t jail_tracked(const struct jail *j)
{
	return j->n_entries;
}

const struct jail_stats *jail_get_stats(const struct jail *j)
{
	return &j->stats;
}
