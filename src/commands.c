/* The commands room: every control command, served from inside the loop without blocking. The
 * status reply, the manager's STATUS= and the metrics come from one snapshot (status.c renders
 * it); bans and lifts go through the manager, so that the ban table, the jails, the kernel and
 * the journal hear of them alike. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "commands.h"
#include "log.h"
#include "sources.h"
#include "text.h"
#include "wave.h"

#define MANUAL_JAIL	    "manual"
#define MANUAL_BANTIME_USEC (3600 * USEC_PER_SEC)
#define EVICTIONS_WARN_USEC (60 * USEC_PER_SEC)

/* ---- the snapshot ---- */

static uint64_t active_in_jail(const struct manager *m, const char *jail, uint64_t now)
{
	uint64_t n = 0;
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		n += b->until_usec > now && strcmp(b->jail, jail) == 0;
	}
	return n;
}

static int snapshot_lists(const struct manager *m, struct status *st, uint64_t now)
{
	size_t n_src = sources_n_files(m->sources) + sources_n_journals(m->sources);

	st->jails = calloc(m->engine->n_jails ? m->engine->n_jails : 1, sizeof(*st->jails));
	st->sources = calloc(n_src ? n_src : 1, sizeof(*st->sources));
	if (!st->jails || !st->sources)
		return -ENOMEM;
	for (size_t i = 0; i < m->engine->n_jails; i++) {
		const struct engine_jail *ej = &m->engine->jails[i];
		const struct jail_stats *js = jail_get_stats(ej->jail);
		st->jails[i] = (struct status_jail){
			.name = ej->conf->name,
			.filter = ej->conf->filter_name,
			.tracked = jail_tracked(ej->jail),
			.active_bans = active_in_jail(m, ej->conf->name, now),
			.hits = js->hits,
			.bans = js->bans,
			.allowed = js->allowed,
			.events = ej->events,
			.unbans = ej->unbans,
			.evictions = js->evictions,
		};
	}
	st->n_jails = m->engine->n_jails;
	for (size_t i = 0; i < n_src; i++) {
		struct sources_stat ss = sources_get_stat(m->sources, i);
		st->sources[i] = (struct status_source){ ss.name, ss.lines };
	}
	st->n_sources = n_src;
	return 0;
}

int commands_snapshot(const struct manager *m, struct status *st)
{
	uint64_t now = manager_now(m);
	const struct actions_stats *as = actions_get_stats(m->actions);

	*st = (struct status){
		.uptime_sec = (now - m->start_usec) / USEC_PER_SEC,
		.dry_run = m->dry_run,
		.lines = m->lines,
		.decisions = m->decisions,
		.events = m->events,
		.reloads = m->reloads,
		.active_bans = bans_active(m->bans, now),
		.nft_sent = as->nft_sent,
		.nft_errors = as->nft_errors,
		.tuning = wave_tuning(m->wave),
		.tuner_level = tuner_level_to_string(wave_level(m->wave)),
		.tuner_reason = wave_reason(m->wave),
		.down_why = "",
		.n_files = sources_n_files(m->sources),
		.n_journals = sources_n_journals(m->sources),
		.row = wave_last(m->wave),
	};
	st->server_down = wave_server_down(m->wave, &st->down_since_usec, &st->down_why);
	int r = snapshot_lists(m, st, now);
	if (r < 0)
		status_clear(st);
	return r;
}

/* ---- memory pressure ---- */

void commands_warn_pressure(struct manager *m)
{
	uint64_t now = manager_now(m);

	for (size_t i = 0; i < m->engine->n_jails; i++) {
		struct engine_jail *ej = &m->engine->jails[i];
		uint64_t n = jail_get_stats(ej->jail)->evictions;
		if (n == ej->evictions_told || now - ej->told_usec < EVICTIONS_WARN_USEC)
			continue;
		log_warning(
			"%s: %llu addresses forgotten at max_tracked = %u (%llu since start): a "
			"flood of distinct addresses; the least worth are forgotten first",
			ej->conf->name, (unsigned long long)(n - ej->evictions_told),
			ej->conf->max_tracked, (unsigned long long)n);
		ej->evictions_told = n;
		ej->told_usec = now;
	}
	uint64_t n = bans_evicted(m->bans);
	if (n != m->bans_evicted_told && now - m->bans_told_usec >= EVICTIONS_WARN_USEC) {
		log_warning(
			"ban table at max_bans = %zu: %llu bans that ended soonest dropped (%llu "
			"since start); the kernel keeps them until they expire",
			m->config->max_bans, (unsigned long long)(n - m->bans_evicted_told),
			(unsigned long long)n);
		m->bans_evicted_told = n;
		m->bans_told_usec = now;
	}
}

/* ---- the commands ---- */

static int cmd_status(struct manager *m, const struct control_request *req, FILE *out)
{
	struct status st;
	int r = commands_snapshot(m, &st);

	if (r < 0)
		return r;
	if (req->json)
		status_write_json(&st, out);
	else
		status_write_text(&st, out);
	status_clear(&st);
	return 0;
}

static void list_one(const struct ban *b, uint64_t now, bool json, bool first, FILE *out)
{
	char s[ADDR_STRLEN];
	uint64_t left = (b->until_usec - now + USEC_PER_SEC - 1) / USEC_PER_SEC;

	addr_format(&b->addr, s, sizeof(s));
	if (!json) {
		fprintf(out, "%-40s %-16s %9" PRIu64 "s %7" PRIu32 "\n", s, b->jail, left,
			b->offence);
		return;
	}
	fprintf(out, "%s{\"address\":\"%s\",\"jail\":", first ? "" : ",", s);
	text_json_string(out, b->jail);
	fprintf(out, ",\"remaining\":%" PRIu64 ",\"offence\":%" PRIu32 "}", left, b->offence);
}

static int cmd_list(struct manager *m, const struct control_request *req, FILE *out)
{
	uint64_t now = manager_now(m);
	bool first = true;

	if (req->jail[0] && !config_find_jail(m->config, req->jail) &&
	    strcmp(req->jail, MANUAL_JAIL) != 0) {
		fprintf(out, "no jail named %s", req->jail);
		return -ENOENT;
	}
	if (req->json)
		fputc('[', out);
	else
		fprintf(out, "%-40s %-16s %10s %7s\n", "ADDRESS", "JAIL", "REMAINING", "OFFENCE");
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		if (b->until_usec <= now || (req->jail[0] && strcmp(b->jail, req->jail) != 0))
			continue;
		list_one(b, now, req->json, first, out);
		first = false;
	}
	if (req->json)
		fprintf(out, "]\n");
	return 0;
}

static int cmd_ban(struct manager *m, const struct control_request *req, FILE *out)
{
	const struct config_jail *j = NULL;
	uint64_t now = manager_now(m);
	char s[ADDR_STRLEN];
	struct ban ban = { .addr = req->addr, .host = req->addr, .since_usec = now };

	addr_format(&req->addr, s, sizeof(s));
	if (addr_too_wide_to_ban(&req->addr)) {
		fprintf(out, "%s is too wide a network to ban (at least /8 or /16 for IPv6)", s);
		return -EINVAL;
	}
	if (req->jail[0] && !(j = config_find_jail(m->config, req->jail))) {
		fprintf(out, "no jail named %s", req->jail);
		return -ENOENT;
	}
	if (engine_allowlisted(m->engine, m->config, j, &req->addr)) {
		fprintf(out, "%s is allowlisted: not banned", s);
		return -EPERM;
	}
	const struct ban *old = bans_find(m->bans, &req->addr);
	ban.offence = !old ? 1 : old->offence < UINT32_MAX ? old->offence + 1 : UINT32_MAX;
	ban.until_usec = now + (req->time_usec ? req->time_usec
				: j	       ? j->bantime_usec
					       : MANUAL_BANTIME_USEC);
	snprintf(ban.jail, sizeof(ban.jail), "%s", j ? j->name : MANUAL_JAIL);
	/* The admin's word replaces whatever ban there was, shorter or longer. */
	manager_ban_now(m, j, &ban);
	fprintf(out, "banned %s for %llus\n", s,
		(unsigned long long)((ban.until_usec - now) / USEC_PER_SEC));
	return 0;
}

static int cmd_unban(struct manager *m, const struct control_request *req, FILE *out)
{
	uint64_t now = manager_now(m);
	size_t n = 0;

	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		if (b->until_usec <= now)
			continue;
		if (!req->all && !addr_equal(&b->addr, &req->addr))
			continue;
		manager_lift(m, b, now);
		n++;
	}
	actions_flush(m->actions);
	if (!req->all && n == 0) {
		char s[ADDR_STRLEN];
		fprintf(out, "%s is not banned", addr_format(&req->addr, s, sizeof(s)));
		return -ENOENT;
	}
	fprintf(out, "unbanned %zu\n", n);
	return 0;
}

int commands_handle(const struct control_request *req, FILE *out, void *userdata)
{
	struct manager *m = userdata;

	switch (req->cmd) {
	case CONTROL_STATUS:
		return cmd_status(m, req, out);
	case CONTROL_LIST:
		return cmd_list(m, req, out);
	case CONTROL_BAN:
		return cmd_ban(m, req, out);
	case CONTROL_UNBAN:
		return cmd_unban(m, req, out);
	case CONTROL_RELOAD:
		manager_request_reload(m);
		fprintf(out, "reloading\n");
		return 0;
	}
	return -EINVAL;
}
