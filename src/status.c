/* The daemon's counters rendered from one snapshot: text and JSON for `waveguard status`,
 * Prometheus metrics for node_exporter's textfile collector, and the STATUS= line systemctl
 * shows. Every rendering walks the same struct, so the four cannot drift apart. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "status.h"
#include "text.h"
#include "timeutil.h"

void status_write_text(const struct status *st, FILE *out)
{
	fprintf(out,
		"waveguard %s%s, up %" PRIu64 " s, %" PRIu64 " lines, %" PRIu64
		" ban decisions, %zu active bans, %" PRIu64 " reloads\n",
		WAVEGUARD_VERSION, st->dry_run ? " (dry run)" : "", st->uptime_sec, st->lines,
		st->decisions, st->active_bans, st->reloads);
	if (st->server_down) {
		char t[32];
		fprintf(out, "server: DOWN since %s (probe %s); the tuner leaves Courier alone\n",
			timeutil_format_rfc3339(st->down_since_usec, t, sizeof(t)), st->down_why);
	}
	if (st->reload_failed_usec) {
		char t[32];
		fprintf(out, "reload: REFUSED at %s, the running configuration stays: %s\n",
			timeutil_format_rfc3339(st->reload_failed_usec, t, sizeof(t)),
			st->reload_error);
	}
	if (st->bans_evicted)
		fprintf(out, "ban table: %" PRIu64 " bans dropped at max_bans since start\n",
			st->bans_evicted);
	if (st->tuning)
		fprintf(out, "tuner: %s (%s)\n", st->tuner_level, st->tuner_reason);
	if (st->reaper && strcmp(st->reaper, "off") != 0) {
		fprintf(out, "reaper: %s", st->reaper);
		if (strcmp(st->reaper, "unsupported") != 0)
			fprintf(out,
				" from the %s level, %" PRIu64 " idle connection%s %s since start",
				st->reaper_level, st->reaped, st->reaped == 1 ? "" : "s",
				strcmp(st->reaper, "dry-run") == 0 ? "it would have closed"
								   : "closed");
		if (st->row && st->row->reaped)
			fprintf(out, ", %" PRIu32 " at the last sample", st->row->reaped);
		fputc('\n', out);
	}
	if (st->fleet.host)
		fprintf(out,
			"fleet: %s, %s Redis at %s; published %" PRIu64 ", applied %" PRIu64
			", refused %" PRIu64 ", forged %" PRIu64 ", dropped %" PRIu64
			", outbox %" PRIu64 "; %zu remote bans in force\n",
			st->fleet.host, st->fleet.connected ? "connected to" : "NOT connected to",
			st->fleet.redis, st->fleet.published, st->fleet.applied, st->fleet.refused,
			st->fleet.forged, st->fleet.dropped, st->fleet.outbox, st->remote_bans);
	fprintf(out, "%-16s %-16s %9s %7s %9s %9s %8s\n", "JAIL", "FILTER", "TRACKED", "ACTIVE",
		"HITS", "BANS", "ALLOWED");
	for (size_t i = 0; i < st->n_jails; i++) {
		const struct status_jail *j = &st->jails[i];
		fprintf(out,
			"%-16s %-16s %9" PRIu64 " %7" PRIu64 " %9" PRIu64 " %9" PRIu64 " %8" PRIu64
			"\n",
			j->name, j->filter, j->tracked, j->active_bans, j->hits, j->bans,
			j->allowed);
	}
}

void status_write_json(const struct status *st, FILE *out)
{
	fprintf(out,
		"{\"uptime\":%" PRIu64 ",\"dry_run\":%s,\"lines\":%" PRIu64
		",\"decisions\":%" PRIu64 ",\"events\":%" PRIu64 ",\"reloads\":%" PRIu64
		",\"active_bans\":%zu,\"nft_sent\":%" PRIu64 ",\"nft_errors\":%" PRIu64
		",\"bans_evicted\":%" PRIu64 ",\"evidence_bytes\":%" PRIu64
		",\"tuner\":\"%s\",\"reaper\":\"%s\",\"reaped\":%" PRIu64
		",\"server\":\"%s\",\"reload_error\":",
		st->uptime_sec, st->dry_run ? "true" : "false", st->lines, st->decisions,
		st->events, st->reloads, st->active_bans, st->nft_sent, st->nft_errors,
		st->bans_evicted, st->evidence_bytes, st->tuning ? st->tuner_level : "off",
		st->reaper ? st->reaper : "off", st->reaped,
		st->server_down					       ? "down"
		: st->row && strcmp(st->row->probe_status, "off") != 0 ? "up"
								       : "unknown");
	if (st->reload_failed_usec)
		text_json_string(out, st->reload_error);
	else
		fputs("null", out);
	fputs(",\"jails\":[", out);
	for (size_t i = 0; i < st->n_jails; i++) {
		const struct status_jail *j = &st->jails[i];
		fprintf(out, "%s{\"name\":", i ? "," : "");
		text_json_string(out, j->name);
		fprintf(out, ",\"filter\":");
		text_json_string(out, j->filter);
		fprintf(out,
			",\"tracked\":%" PRIu64 ",\"active_bans\":%" PRIu64 ",\"hits\":%" PRIu64
			",\"bans\":%" PRIu64 ",\"allowed\":%" PRIu64 ",\"events\":%" PRIu64
			",\"evictions\":%" PRIu64 "}",
			j->tracked, j->active_bans, j->hits, j->bans, j->allowed, j->events,
			j->evictions);
	}
	fputs("],\"fleet\":", out);
	if (st->fleet.host) {
		const struct status_fleet *f = &st->fleet;
		fputs("{\"host\":", out);
		text_json_string(out, f->host);
		fprintf(out,
			",\"connected\":%s,\"published\":%" PRIu64 ",\"dropped\":%" PRIu64
			",\"failed\":%" PRIu64 ",\"applied\":%" PRIu64 ",\"refused\":%" PRIu64
			",\"ignored\":%" PRIu64 ",\"forged\":%" PRIu64 ",\"malformed\":%" PRIu64
			",\"outbox\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"remote_bans\":%zu}",
			f->connected ? "true" : "false", f->published, f->dropped, f->failed,
			f->applied, f->refused, f->ignored, f->forged, f->malformed, f->outbox,
			f->reconnects, st->remote_bans);
	} else
		fputs("null", out);
	fputs("}\n", out);
}

/* One family with a sample per jail, the value picked by field. */
static void jail_family(struct metrics *x, const struct status *st, const char *name,
			const char *type, const char *help, size_t field)
{
	metrics_family(x, name, type, help);
	for (size_t i = 0; i < st->n_jails; i++) {
		uint64_t v;
		memcpy(&v, (const char *)&st->jails[i] + field, sizeof(v));
		metrics_sample(x, name, "jail", st->jails[i].name, (double)v);
	}
}

static void row_families(struct metrics *x, const struct history_row *r)
{
	static const char *const levels[] = { "normal", "elevated", "wave" };

	metrics_family(x, "waveguard_connections", "gauge", "TCP connections on the SMTP ports.");
	metrics_sample(x, "waveguard_connections", "state", "established", r->established);
	metrics_sample(x, "waveguard_connections", "state", "syn_recv", r->syn_recv);
	metrics_sample(x, "waveguard_connections", "state", "other", r->other);
	metrics_family(x, "waveguard_listen_backlog", "gauge",
		       "Connections waiting unaccepted in the SMTP listeners' queues.");
	metrics_sample(x, "waveguard_listen_backlog", NULL, NULL, r->backlog);
	metrics_family(x, "waveguard_probe_up", "gauge", "1 when the last probe got a 220 banner.");
	metrics_sample(x, "waveguard_probe_up", NULL, NULL, strcmp(r->probe_status, "ok") == 0);
	metrics_family(x, "waveguard_probe_latency_seconds", "gauge",
		       "Time to the 220 banner in the last probe (NaN when it failed).");
	metrics_sample(x, "waveguard_probe_latency_seconds", NULL, NULL,
		       r->probe_ms >= 0 ? (double)r->probe_ms / 1000.0 : NAN);
	metrics_family(x, "waveguard_tuner_level", "gauge", "1 for the tuner's current level.");
	for (size_t i = 0; i < ELEMENTSOF(levels); i++)
		metrics_sample(x, "waveguard_tuner_level", "level", levels[i],
			       strcmp(r->tuner, levels[i]) == 0);
}

static void fleet_families(struct metrics *x, const struct status *st)
{
	const struct status_fleet *f = &st->fleet;
	const struct {
		const char *outcome;
		uint64_t n;
	} entries[] = {
		{ "published", f->published }, { "dropped", f->dropped },
		{ "failed", f->failed },       { "applied", f->applied },
		{ "refused", f->refused },     { "ignored", f->ignored },
		{ "forged", f->forged },       { "malformed", f->malformed },
	};

	metrics_family(x, "waveguard_fleet_connected", "gauge",
		       "1 while both connections to the fleet's Redis are up.");
	metrics_sample(x, "waveguard_fleet_connected", NULL, NULL, f->connected);
	metrics_family(x, "waveguard_fleet_entries_total", "counter",
		       "Fleet entries: published (Redis took it), dropped (outbox full), failed "
		       "(Redis refused it); read from the stream: applied, refused (local rule), "
		       "ignored, forged (bad MAC), malformed.");
	for (size_t i = 0; i < ELEMENTSOF(entries); i++)
		metrics_sample(x, "waveguard_fleet_entries_total", "outcome", entries[i].outcome,
			       (double)entries[i].n);
	metrics_family(x, "waveguard_fleet_outbox", "gauge",
		       "Entries waiting for Redis (unsent or unanswered).");
	metrics_sample(x, "waveguard_fleet_outbox", NULL, NULL, (double)f->outbox);
	metrics_family(x, "waveguard_fleet_reconnects_total", "counter",
		       "Connections to Redis made again after a loss.");
	metrics_sample(x, "waveguard_fleet_reconnects_total", NULL, NULL, (double)f->reconnects);
	metrics_family(x, "waveguard_remote_bans", "gauge",
		       "Bans in force that another host of the fleet decided.");
	metrics_sample(x, "waveguard_remote_bans", NULL, NULL, (double)st->remote_bans);
}

int status_write_metrics(const struct status *st, const char *path)
{
	struct metrics x;
	int r = metrics_begin(&x);

	if (r < 0)
		return r;
	metrics_family(&x, "waveguard_lines_total", "counter",
		       "Log lines or journal entries read.");
	for (size_t i = 0; i < st->n_sources; i++)
		metrics_sample(&x, "waveguard_lines_total", "source", st->sources[i].name,
			       (double)st->sources[i].lines);
	jail_family(&x, st, "waveguard_hits_total", "counter", "Filter matches counted by a jail.",
		    offsetof(struct status_jail, hits));
	jail_family(&x, st, "waveguard_bans_total", "counter", "Bans decided by a jail.",
		    offsetof(struct status_jail, bans));
	jail_family(&x, st, "waveguard_unbans_total", "counter", "Bans lifted by the admin.",
		    offsetof(struct status_jail, unbans));
	jail_family(&x, st, "waveguard_active_bans", "gauge", "Bans in force.",
		    offsetof(struct status_jail, active_bans));
	jail_family(&x, st, "waveguard_tracked_addresses", "gauge",
		    "Addresses a jail is counting hits for.",
		    offsetof(struct status_jail, tracked));
	jail_family(&x, st, "waveguard_evictions_total", "counter",
		    "Addresses a jail forgot at its max_tracked cap (memory pressure).",
		    offsetof(struct status_jail, evictions));
	if (st->row)
		row_families(&x, st->row);
	metrics_family(&x, "waveguard_reaped_total", "counter",
		       "Idle holders' connections the reaper closed (in a dry run: would have).");
	metrics_sample(&x, "waveguard_reaped_total", NULL, NULL, (double)st->reaped);
	metrics_family(&x, "waveguard_server_down", "gauge",
		       "1 while the probe finds the mail server down (refused, or silent while not "
		       "busy).");
	metrics_sample(&x, "waveguard_server_down", NULL, NULL, st->server_down);
	metrics_family(&x, "waveguard_reload_failed", "gauge",
		       "1 when the last reload was refused (the running configuration stays).");
	metrics_sample(&x, "waveguard_reload_failed", NULL, NULL, st->reload_failed_usec != 0);
	metrics_family(&x, "waveguard_ban_table_evicted_total", "counter",
		       "Active bans dropped from the ban table at max_bans.");
	metrics_sample(&x, "waveguard_ban_table_evicted_total", NULL, NULL,
		       (double)st->bans_evicted);
	metrics_family(&x, "waveguard_evidence_bytes", "gauge",
		       "Bytes of log lines the ban table keeps as evidence.");
	metrics_sample(&x, "waveguard_evidence_bytes", NULL, NULL, (double)st->evidence_bytes);
	if (st->fleet.host)
		fleet_families(&x, st);
	return metrics_commit(&x, path);
}

void status_format_line(const struct status *st, char *buf, size_t size)
{
	const struct history_row *r = st->row;
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	if (st->server_down)
		text_appendf(buf, size, &len, "MAIL SERVER DOWN (probe %s), ", st->down_why);
	if (r)
		text_appendf(buf, size, &len, "%u connections, backlog %u, probe %s, ",
			     r->established, r->backlog, r->probe_status);
	if (st->reaped)
		text_appendf(buf, size, &len, "%" PRIu64 " idle connections reaped, ", st->reaped);
	text_appendf(buf, size, &len,
		     "%zu active bans, %zu jails, %zu files, %zu journals, %" PRIu64
		     " lines, %" PRIu64 " ban decisions since start%s",
		     st->active_bans, st->n_jails, st->n_files, st->n_journals, st->lines,
		     st->decisions, st->dry_run ? " (dry run)" : "");
}

void status_clear(struct status *st)
{
	free(st->jails);
	free(st->sources);
	st->jails = NULL;
	st->sources = NULL;
	st->n_jails = st->n_sources = 0;
}
