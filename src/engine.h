/* The runtime jails of a configuration: each enabled jail's compiled filter and its counting
 * table, and the step that turns one parsed log line into a ban decision. Shared by the daemon
 * and the offline replay, so both decide exactly alike. */
#pragma once

#include <stdint.h>

#include "bans.h"
#include "config.h"
#include "evidence.h"
#include "filter.h"
#include "jail.h"
#include "logline.h"
#include "traplist.h"

struct engine_jail {
	const struct config_jail *conf;
	struct filter *filter;	   /* NULL for a jail of backend = bans or reaper */
	struct evidence *evidence; /* the lines of its hits (NULL for backend = bans) */
	struct jail *jail;
	struct traplist *trap;		    /* NULL: every hit counts */
	uint64_t trap_misses;		    /* hits not counted: <USER> not in the trap list */
	uint64_t events;		    /* matches of address-less failregexes */
	uint64_t unbans;		    /* lifted by the admin */
	uint64_t evictions_told, told_usec; /* the manager's rate-limited warning about them */
	const struct bans *bans;	    /* what its jail recalls (engine_recall_from) */
};

struct engine {
	struct engine_jail *jails;
	size_t n_jails;
};

enum engine_result {
	ENGINE_NONE = 0,
	ENGINE_BAN = 1,	  /* *ret_ban is a new ban decision */
	ENGINE_EVENT = 2, /* an address-less failregex matched */
	/* Hits that decided no ban; replay's report counts them. */
	ENGINE_COUNTED = 3, /* counted toward maxretry */
	ENGINE_ALLOWED = 4, /* the network a ban would cover is allowlisted */
	ENGINE_BANNED = 5,  /* the address is banned already */
};

/* Builds the enabled jails of c (or only the jail named only, enabled or not). Errors go to
 * errs. Returns 0, -ENOENT when only names no jail, -EINVAL or -ENOMEM. */
int engine_new(const struct config *c, const char *only, struct engine **ret,
	       struct config_errors *errs);

/* Offers one line to one jail (one with a filter) at time time_usec. With a trap list, a hit
 * counts only when what its <USER> captured is in the list. A hit's line goes to the jail's
 * evidence ring; a ban's tags name its hits' lines there. Returns an enum engine_result; fills
 * *ret_ban on ENGINE_BAN, and only its host on ENGINE_COUNTED, ENGINE_ALLOWED and
 * ENGINE_BANNED. */
int engine_feed(struct engine_jail *ej, const struct logline *l, uint64_t time_usec,
		struct jail_ban *ret_ban);

/* Lets every jail of e recall, from the ban table b, the networks it no longer tracks: their
 * offence count and the end of their ban, when b's record of the network is the jail's own.
 * A jail that forgot a banned network under a flood then neither decides it again within its
 * ban nor starts its offences afresh: the daemon and replay decide alike. b must outlive e. */
void engine_recall_from(struct engine *e, const struct bans *b);

/* Jail j's decision jb as a ban record (no evidence, no strikes): the one form the daemon and
 * replay record it in. A forever ban ends at BAN_FOREVER. */
struct ban engine_ban_record(const struct config_jail *j, const struct jail_ban *jb);

/* Counts a ban of host at time_usec in the jails of backend = bans (recidive), from *pos on:
 * returns the next of them that decides a ban of its own (filled in *ret; *pos moves past it),
 * or NULL when none is left. The daemon and replay both count bans through it. */
struct engine_jail *engine_count_ban(struct engine *e, size_t *pos, const struct addr *host,
				     uint64_t time_usec, struct jail_ban *ret);

/* The running jail named name, or NULL. */
struct engine_jail *engine_find_jail(const struct engine *e, const char *name);

/* Whether a ban of network a would touch the allowlist of jail j (the global one merged in), or
 * the global one of c alone (j NULL, or a jail not running). */
bool engine_allowlisted(const struct engine *e, const struct config *c, const struct config_jail *j,
			const struct addr *a);

struct engine *engine_free(struct engine *e);
DEFINE_FREE_FUNC(struct engine, engine_free)
