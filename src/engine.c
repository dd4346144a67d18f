/* Runtime jails: filter + jail (+ trap list) per enabled configured jail, with the global
 * allowlist merged into each jail's own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "timeutil.h"

static int jail_build(const struct config *c, const struct config_jail *cj, struct engine_jail *ej,
		      struct config_errors *errs)
{
	_cleanup_free_ struct addr *allow = NULL;
	size_t n_allow = c->n_allow + cj->n_allow;
	int r;

	ej->conf = cj;
	/* A jail of backend = bans has no filter: its hits are bans, its evidence theirs. One of
	 * backend = reaper has none either; its evidence is what the reaper saw. */
	if (config_jail_reads_logs(cj) &&
	    (r = config_compile_filter(cj->filter, cj, &ej->filter, errs)) < 0)
		return r;
	if (cj->backend != BACKEND_BANS && (r = evidence_new(EVIDENCE_SLOTS, &ej->evidence)) < 0)
		return r;
	if (cj->trap_path && (r = traplist_load(cj->trap_path, &ej->trap, errs)) < 0)
		return r;

	allow = malloc((n_allow ? n_allow : 1) * sizeof(struct addr));
	if (!allow)
		return -ENOMEM;
	if (c->n_allow)
		memcpy(allow, c->allow, c->n_allow * sizeof(struct addr));
	if (cj->n_allow)
		memcpy(allow + c->n_allow, cj->allow, cj->n_allow * sizeof(struct addr));

	struct jail_params p = {
		.maxretry = cj->maxretry,
		.findtime_usec = cj->findtime_usec,
		.bantime_usec = cj->bantime_usec,
		.bantime_factor = cj->bantime_factor,
		.bantime_max_usec = cj->bantime_max_usec,
		.max_tracked = cj->max_tracked,
		.prefix4 = cj->prefix4,
		.prefix6 = cj->prefix6,
		.allow = allow,
		.n_allow = n_allow,
	};
	return jail_new(&p, &ej->jail);
}

int engine_new(const struct config *c, const char *only, struct engine **ret,
	       struct config_errors *errs)
{
	_cleanup_(engine_freep) struct engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_jails; i++) {
		const struct config_jail *cj = &c->jails[i];
		if (only ? strcmp(cj->name, only) != 0 : !cj->enabled)
			continue;
		struct engine_jail *ej = ARRAY_GROW(e->jails, e->n_jails);
		if (!ej)
			return -ENOMEM;
		r = jail_build(c, cj, ej, errs);
		if (r < 0)
			return r;
	}
	if (only && e->n_jails == 0)
		return -ENOENT;
	*ret = TAKE_PTR(e);
	return 0;
}

int engine_feed(struct engine_jail *ej, const struct logline *l, uint64_t time_usec,
		struct jail_ban *ret_ban)
{
	struct filter_hit h;

	if (!ej->filter)
		return ENGINE_NONE;
	switch (filter_match(ej->filter, l, &h)) {
	case FILTER_HIT: {
		/* The list names what only a spammer writes to; the address is still the one
		 * Courier wrote (the filter's <HOST>), never taken from <USER>'s text. */
		if (ej->trap && !(h.user && traplist_contains(ej->trap, h.user, h.user_len))) {
			ej->trap_misses++;
			return ENGINE_NONE;
		}
		uint32_t tag = evidence_put(ej->evidence, time_usec, l->tag, l->tag_len, l->msg,
					    l->msg_len);
		switch (jail_hit(ej->jail, &h.addr, time_usec, tag, ret_ban)) {
		case JAIL_BAN:
			return ENGINE_BAN;
		case JAIL_ALLOWED:
			ret_ban->host = h.addr;
			return ENGINE_ALLOWED;
		case JAIL_BANNED:
			ret_ban->host = h.addr;
			return ENGINE_BANNED;
		default:
			ret_ban->host = h.addr;
			return ENGINE_COUNTED;
		}
	}
	case FILTER_EVENT:
		ej->events++;
		return ENGINE_EVENT;
	default:
		return ENGINE_NONE;
	}
}

static bool recall(const struct addr *net, void *userdata, unsigned *ret_offences,
		   uint64_t *ret_until_usec)
{
	const struct engine_jail *ej = userdata;
	const struct ban *b = bans_find(ej->bans, net);

	/* Offences and bans are per jail. Another jail's record (a longer ban that replaced this
	 * jail's) is the ban room's to weigh when this jail decides: taken as this jail's own, it
	 * would keep the jail from extending a shorter ban. */
	if (!b || strcmp(b->jail, ej->conf->name) != 0)
		return false;
	*ret_offences = b->offence;
	*ret_until_usec = b->until_usec;
	return true;
}

void engine_recall_from(struct engine *e, const struct bans *b)
{
	for (size_t i = 0; i < e->n_jails; i++) {
		e->jails[i].bans = b;
		jail_set_recall(e->jails[i].jail, b ? recall : NULL, &e->jails[i]);
	}
}

struct ban engine_ban_record(const struct config_jail *j, const struct jail_ban *jb)
{
	struct ban ban = {
		.addr = jb->addr,
		.host = jb->host,
		.since_usec = jb->time_usec,
		.until_usec = timeutil_add(jb->time_usec, jb->bantime_usec),
		.offence = jb->offence,
	};
	snprintf(ban.jail, sizeof(ban.jail), "%s", j->name);
	return ban;
}

struct engine_jail *engine_count_ban(struct engine *e, size_t *pos, const struct addr *host,
				     uint64_t time_usec, struct jail_ban *ret)
{
	while (*pos < e->n_jails) {
		struct engine_jail *ej = &e->jails[(*pos)++];
		if (ej->conf->backend == BACKEND_BANS &&
		    jail_hit(ej->jail, host, time_usec, 0, ret) == JAIL_BAN)
			return ej;
	}
	return NULL;
}

struct engine_jail *engine_find_jail(const struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->n_jails; i++)
		if (strcmp(e->jails[i].conf->name, name) == 0)
			return &e->jails[i];
	return NULL;
}

bool engine_allowlisted(const struct engine *e, const struct config *c, const struct config_jail *j,
			const struct addr *a)
{
	const struct engine_jail *ej = j ? engine_find_jail(e, j->name) : NULL;

	if (ej)
		return jail_is_allowed(ej->jail, a);
	return addr_overlaps_any(a, c->allow, c->n_allow) ||
	       (j && addr_overlaps_any(a, j->allow, j->n_allow));
}

struct engine *engine_free(struct engine *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n_jails; i++) {
		filter_free(e->jails[i].filter);
		evidence_free(e->jails[i].evidence);
		jail_free(e->jails[i].jail);
		traplist_free(e->jails[i].trap);
	}
	free(e->jails);
	free(e);
	return NULL;
}
