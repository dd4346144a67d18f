/* A jail decides bans: it counts hits per address in a sliding window (maxretry within
 * findtime), bans for bantime (longer for repeat offenders), never bans allowlisted networks,
 * and keeps at most max_tracked addresses, evicting the least recently seen. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "macro.h"

struct jail_params {
	unsigned maxretry;	   /* hits within findtime that ban (>= 1) */
	uint64_t findtime_usec;	   /* the window */
	uint64_t bantime_usec;	   /* first ban; TIMEUTIL_FOREVER: permanent */
	double bantime_factor;	   /* each further ban of the same address lasts this much longer */
	uint64_t bantime_max_usec; /* cap of escalated bans (0 = bantime_usec), may be forever */
	unsigned max_tracked;	   /* addresses remembered at most (>= 1) */
	unsigned prefix4, prefix6; /* the banned network of an offender (32 and 128 = the host) */
	const struct addr *allow;  /* networks never banned */
	size_t n_allow;
};

enum jail_result {
	JAIL_COUNTED = 0, /* hit recorded, no ban yet */
	JAIL_BAN = 1,	  /* *ret holds the ban decision */
	JAIL_ALLOWED = 2, /* address (or the network a ban would cover) is allowlisted */
	JAIL_BANNED = 3,  /* already banned until later than now: nothing to do */
};

/* Hits whose tags a ban carries at most (the newest of its maxretry). */
#define JAIL_TAGS_MAX 8

struct jail_ban {
	struct addr addr;      /* the network to ban (prefix4/prefix6 applied) */
	struct addr host;      /* the offender whose hits decided it */
	uint64_t time_usec;    /* when it was decided */
	uint64_t bantime_usec; /* how long: at most bantime_max_usec, TIMEUTIL_FOREVER for ever */
	unsigned offence;      /* 1 for the first ban of this address */
	/* The caller's tags of the hits that decided it, oldest first. */
	uint32_t tags[JAIL_TAGS_MAX];
	unsigned n_tags;
};

struct jail_stats {
	uint64_t hits, bans, allowed, already_banned, evictions;
};

struct jail;

/* Returns 0 or -errno (-EINVAL for nonsense parameters). */
int jail_new(const struct jail_params *p, struct jail **ret);

/* Records a hit of address a at time now_usec (the log line's time), with the caller's tag for
 * it (0: none; evidence.h's tags name the hit's log line). Returns an enum jail_result; fills
 * *ret on JAIL_BAN, with the tags of the hits that decided it. Never allocates. */
int jail_hit(struct jail *j, const struct addr *a, uint64_t now_usec, uint32_t tag,
	     struct jail_ban *ret);

/* True when a ban of a would touch an allowlisted network. */
bool jail_is_allowed(const struct jail *j, const struct addr *a);

/* Forgets that a is banned (after an unban), keeping its offence count. */
void jail_forget_ban(struct jail *j, const struct addr *a);

/* What the jail's owner remembers of a network the jail does not track (forgotten at
 * max_tracked, or never seen since a start): its offence count and the end of its ban by this
 * jail (0: none). Returns true when it knows the network. */
typedef bool (*jail_recall_fn)(const struct addr *net, void *userdata, unsigned *ret_offences,
			       uint64_t *ret_until_usec);

/* Asks fn (NULL: nobody) whenever a hit is for a network the jail does not track, so that a
 * flood of others never makes it count a banned network afresh (a second decision within its
 * ban) nor lose its offence count. */
void jail_set_recall(struct jail *j, jail_recall_fn fn, void *userdata);

/* Restores knowledge of an active ban (after a restart): offences and end time. Returns 0 or
 * -errno. */
int jail_restore(struct jail *j, const struct addr *a, unsigned offences, uint64_t until_usec);

/* Restores hits of a at the times given (oldest first) without deciding a ban: a jail that
 * counts bans (recidive) gets back the ones that happened before a restart. */
void jail_restore_hits(struct jail *j, const struct addr *a, const uint64_t *times, size_t n);

size_t jail_tracked(const struct jail *j);
const struct jail_stats *jail_get_stats(const struct jail *j);

struct jail *jail_free(struct jail *j);

DEFINE_FREE_FUNC(struct jail, jail_free)
