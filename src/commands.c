/* The commands room: every control command, served from inside the loop without blocking. The
 * status reply, the manager's STATUS= and the metrics come from one snapshot (status.c renders
 * it); bans and lifts go through the manager, so that the ban table, the jails, the kernel and
 * the journal hear of them alike. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "banning.h"
#include "commands.h"
#include "fleet.h"
#include "log.h"
#include "sources.h"
#include "text.h"
#include "timeutil.h"
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
			.filter = ej->conf->backend == BACKEND_BANS	? "(bans)"
				  : ej->conf->backend == BACKEND_REAPER ? "(reaper)"
									: ej->conf->filter_name,
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

static void snapshot_fleet(const struct manager *m, struct status *st, uint64_t now)
{
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		st->remote_bans += b->origin && b->until_usec > now;
	}
	if (!m->fleet)
		return;
	const struct fleet_stats *fs = fleet_get_stats(m->fleet);
	st->fleet = (struct status_fleet){
		.host = fleet_host(m->fleet),
		.redis = fleet_redis(m->fleet),
		.connected = fs->connected,
		.published = fs->published,
		.dropped = fs->dropped,
		.failed = fs->failed,
		.applied = fs->applied,
		.refused = fs->refused,
		.ignored = fs->ignored,
		.forged = fs->forged,
		.malformed = fs->malformed,
		.outbox = fs->outbox,
		.reconnects = fs->reconnects,
	};
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
		.bans_evicted = bans_evicted(m->bans),
		.evidence_bytes = bans_evidence_bytes(m->bans),
		.reload_failed_usec = m->reload_failed_usec,
		.reload_error = m->reload_error,
		.nft_sent = as->nft_sent,
		.nft_errors = as->nft_errors,
		.tuning = wave_tuning(m->wave),
		.tuner_level = tuner_level_to_string(wave_level(m->wave)),
		.tuner_reason = wave_reason(m->wave),
		.down_why = "",
		.reaper = wave_reaper_state(m->wave),
		.reaper_level = tuner_level_to_string(config_reaper_level(&m->config->reaper)),
		.reaped = wave_reaped_total(m->wave),
		.n_files = sources_n_files(m->sources),
		.n_journals = sources_n_journals(m->sources),
		.row = wave_last(m->wave),
	};
	st->server_down = wave_server_down(m->wave, &st->down_since_usec, &st->down_why);
	snapshot_fleet(m, st, now);
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

/* ---- bans as the admin reads them ---- */

static uint64_t remaining(const struct ban *b, uint64_t now)
{
	return b->until_usec == BAN_FOREVER
		       ? TIMEUTIL_FOREVER
		       : (b->until_usec - now + USEC_PER_SEC - 1) / USEC_PER_SEC * USEC_PER_SEC;
}

static void json_ban(const struct ban *b, uint64_t now, FILE *out)
{
	char s[ADDR_STRLEN], h[ADDR_STRLEN], t[32];
	const char *cur = b->evidence;
	struct bans_evidence_line l;
	bool first = true;

	fprintf(out, "{\"address\":\"%s\",\"jail\":", addr_format(&b->addr, s, sizeof(s)));
	text_json_string(out, b->jail);
	if (b->until_usec == BAN_FOREVER)
		fprintf(out, ",\"remaining\":null");
	else
		fprintf(out, ",\"remaining\":%" PRIu64,
			(uint64_t)(remaining(b, now) / USEC_PER_SEC));
	fprintf(out, ",\"offence\":%" PRIu32 ",\"forever\":%s,\"offender\":\"%s\"", b->offence,
		b->until_usec == BAN_FOREVER ? "true" : "false",
		addr_format(&b->host, h, sizeof(h)));
	fprintf(out, ",\"since\":\"%s\"", timeutil_format_rfc3339(b->since_usec, t, sizeof(t)));
	if (b->until_usec == BAN_FOREVER)
		fprintf(out, ",\"until\":null");
	else
		fprintf(out, ",\"until\":\"%s\"",
			timeutil_format_rfc3339(b->until_usec, t, sizeof(t)));
	fputs(",\"origin\":", out);
	if (b->origin)
		text_json_string(out, b->origin);
	else
		fputs("null", out);
	fprintf(out, ",\"recent_bans\":%u,\"evidence\":[", b->n_strikes);
	while (bans_evidence_next(&cur, &l)) {
		char *text = strndup(l.text, l.len);
		fprintf(out, "%s{\"time\":\"%s\",\"line\":", first ? "" : ",",
			timeutil_format_rfc3339(l.time_usec, t, sizeof(t)));
		text_json_string(out, text ? text : "");
		fputc('}', out);
		free(text);
		first = false;
	}
	fprintf(out, "]}");
}

static void list_one(const struct ban *b, uint64_t now, const struct control_request *req,
		     bool first, FILE *out)
{
	char s[ADDR_STRLEN], h[ADDR_STRLEN], d[32];

	if (req->json) {
		fputs(first ? "" : ",", out);
		json_ban(b, now, out);
		return;
	}
	addr_format(&b->addr, s, sizeof(s));
	fprintf(out, "%-40s %-16s %10s %7" PRIu32 "%s%s\n", s, b->jail,
		timeutil_format_duration(remaining(b, now), d, sizeof(d)), b->offence,
		b->origin ? "  remote from " : "", b->origin ? b->origin : "");
	if (!req->verbose)
		return;
	if (!addr_equal(&b->addr, &b->host))
		fprintf(out, "    offender %s\n", addr_format(&b->host, h, sizeof(h)));
	if (b->evidence)
		banning_write_evidence(b, "    ", out);
	else
		fprintf(out, "    (no evidence kept)\n");
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
		list_one(b, now, req, first, out);
		first = false;
	}
	if (req->json)
		fprintf(out, "]\n");
	return 0;
}

/* A ban of network b touches a: b covers it, or (a being a network) lies inside it. */
static bool touches(const struct ban *b, const struct addr *a)
{
	return addr_in_net(a, &b->addr) || addr_in_net(&b->addr, a);
}

static void show_one(struct manager *m, const struct ban *b, const struct addr *a, uint64_t now,
		     FILE *out)
{
	char s[ADDR_STRLEN], x[ADDR_STRLEN], t[32], d[32];
	const struct config_jail *rj = NULL;

	fprintf(out, "%s banned by %s", addr_format(&b->addr, s, sizeof(s)), b->jail);
	if (!addr_equal(&b->addr, a))
		fprintf(out, " (%s %s)", addr_in_net(a, &b->addr) ? "covers" : "inside",
			addr_format(a, x, sizeof(x)));
	fprintf(out, "\n  offender  %s\n", addr_format(&b->host, x, sizeof(x)));
	fprintf(out, "  since     %s\n", timeutil_format_rfc3339(b->since_usec, t, sizeof(t)));
	if (b->until_usec == BAN_FOREVER)
		fprintf(out, "  until     forever (lifted only by unban)\n");
	else
		fprintf(out, "  until     %s (%s left)\n",
			timeutil_format_rfc3339(b->until_usec, t, sizeof(t)),
			timeutil_format_duration(remaining(b, now), d, sizeof(d)));
	fprintf(out, "  offence   %" PRIu32 " in %s\n", b->offence, b->jail);
	if (b->origin)
		fprintf(out, "  remote    from %s (fleet): decided there, applied here\n",
			b->origin);
	for (size_t i = 0; i < m->engine->n_jails && !rj; i++)
		if (m->engine->jails[i].conf->backend == BACKEND_BANS)
			rj = m->engine->jails[i].conf;
	if (b->n_strikes) {
		fprintf(out, "  bans      %u of this network kept, the last at %s", b->n_strikes,
			timeutil_format_rfc3339(
				(uint64_t)(b->strikes[b->n_strikes - 1] * USEC_PER_SEC), t,
				sizeof(t)));
		if (rj)
			fprintf(out, " (%s bans at %u within %s)", rj->name, rj->maxretry,
				timeutil_format_duration(rj->findtime_usec, d, sizeof(d)));
		fputc('\n', out);
	}
	fprintf(out, "  evidence\n");
	if (b->evidence)
		banning_write_evidence(b, "    ", out);
	else
		fprintf(out,
			"    (none kept: a ban by hand, or evidence dropped at max_evidence)\n");
}

/* Why is a not banned: its last ban, and whether it is allowlisted. */
static int show_none(struct manager *m, const struct addr *a, FILE *out)
{
	const struct ban *last = NULL;
	char s[ADDR_STRLEN], t[32];

	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		if (touches(b, a) && (!last || b->until_usec > last->until_usec))
			last = b;
	}
	fprintf(out, "%s is not banned", addr_format(a, s, sizeof(s)));
	if (last)
		fprintf(out, "; its last ban (%s, offence %" PRIu32 ") ended %s", last->jail,
			last->offence, timeutil_format_rfc3339(last->until_usec, t, sizeof(t)));
	if (engine_allowlisted(m->engine, m->config, NULL, a))
		fprintf(out, "; it is allowlisted (never banned)");
	return -ENOENT;
}

static int cmd_show(struct manager *m, const struct control_request *req, FILE *out)
{
	uint64_t now = manager_now(m);
	size_t n = 0;

	for (size_t i = 0; i < bans_size(m->bans); i++)
		n += bans_get(m->bans, i)->until_usec > now &&
		     touches(bans_get(m->bans, i), &req->addr);
	if (n == 0)
		return show_none(m, &req->addr, out);
	if (req->json)
		fputc('[', out);
	for (size_t i = 0, k = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		if (b->until_usec <= now || !touches(b, &req->addr))
			continue;
		if (req->json) {
			fputs(k++ ? "," : "", out);
			json_ban(b, now, out);
		} else
			show_one(m, b, &req->addr, now, out);
	}
	if (req->json)
		fprintf(out, "]\n");
	return 0;
}

/* ---- changes ---- */

static int cmd_ban(struct manager *m, const struct control_request *req, FILE *out)
{
	const struct config_jail *j = NULL;
	uint64_t now = manager_now(m);
	char s[ADDR_STRLEN], d[32];
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
	uint64_t len = req->time_usec ? req->time_usec : j ? j->bantime_usec : MANUAL_BANTIME_USEC;
	ban.until_usec = timeutil_add(now, len);
	snprintf(ban.jail, sizeof(ban.jail), "%s", j ? j->name : MANUAL_JAIL);
	/* The admin's word replaces whatever ban there was, shorter or longer. */
	banning_ban_now(m, j, &ban);
	if (ban.until_usec == BAN_FOREVER)
		fprintf(out, "banned %s forever (until unban)\n", s);
	else
		fprintf(out, "banned %s for %s\n", s, timeutil_format_duration(len, d, sizeof(d)));
	return 0;
}

/* unban ADDR lifts every ban that touches ADDR: the network that covers a host (a /64 banned
 * for one of its hosts), or the bans inside a network given. It says what it lifted. */
static int cmd_unban(struct manager *m, const struct control_request *req, FILE *out)
{
	uint64_t now = manager_now(m);
	char s[ADDR_STRLEN], x[ADDR_STRLEN];
	size_t n = 0;

	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		if (b->until_usec <= now || (!req->all && !touches(b, &req->addr)))
			continue;
		if (!req->all) {
			fprintf(out, "unbanned %s (%s", addr_format(&b->addr, s, sizeof(s)),
				b->jail);
			if (!addr_equal(&b->addr, &req->addr))
				fprintf(out, ", %s %s",
					addr_in_net(&req->addr, &b->addr) ? "covers" : "inside",
					addr_format(&req->addr, x, sizeof(x)));
			fprintf(out, ")\n");
		}
		banning_lift(m, b, now, ", by the admin");
		n++;
	}
	actions_flush(m->actions);
	if (!req->all && n == 0)
		return show_none(m, &req->addr, out);
	fprintf(out, "unbanned %zu\n", n);
	return 0;
}

/* The reload happens now, inside the request: the admin gets its outcome. */
static int cmd_reload(struct manager *m, FILE *out)
{
	int r = manager_reload(m);

	if (r < 0) {
		fprintf(out, "reload refused, the running configuration stays: %s",
			m->reload_error[0] ? m->reload_error : strerror(-r));
		return r;
	}
	fprintf(out, "reloaded: %zu jails\n", m->engine->n_jails);
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
		return cmd_reload(m, out);
	case CONTROL_SHOW:
		return cmd_show(m, req, out);
	}
	return -EINVAL;
}
