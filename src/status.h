/* One snapshot of the daemon's counters, filled once, rendered four ways: the `status` reply as
 * text and as JSON, the Prometheus textfile, and systemd's STATUS= line. The renderers only
 * read the snapshot; the manager fills it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "history.h"

struct status_jail {
	const char *name, *filter;
	/* All counters are uint64_t, so that the metrics can pick any by its offset. */
	uint64_t tracked, active_bans, hits, bans, allowed, events, unbans, evictions;
};

struct status_source {
	const char *name; /* a file's path, or "journal:DIR-or-system:MATCHES" */
	uint64_t lines;
};

/* The fleet room's counters (status_fleet.host NULL: no [fleet]). */
struct status_fleet {
	const char *host, *redis;
	bool connected;
	uint64_t published, dropped, failed, applied, refused, ignored, forged, malformed;
	uint64_t outbox, reconnects;
};

struct status {
	uint64_t uptime_sec;
	bool dry_run;
	uint64_t lines, decisions, events, reloads;
	size_t active_bans;
	uint64_t bans_evicted;	     /* active bans dropped at max_bans */
	uint64_t evidence_bytes;     /* evidence the ban table keeps */
	uint64_t reload_failed_usec; /* the last reload was refused then (0: it was not) */
	const char *reload_error;    /* and why */
	uint64_t nft_sent, nft_errors;
	bool tuning;		  /* a tuner runs */
	const char *tuner_level;  /* "normal", "elevated", "wave" */
	const char *tuner_reason; /* the reason of its last change */
	bool server_down;	  /* the probe found the mail server down */
	uint64_t down_since_usec; /* realtime */
	const char *down_why;	  /* the probe's outcome, "refused", ... */
	const char *reaper;	  /* "on", "off", "unsupported", "dry-run" */
	const char *reaper_level; /* the tuner level it works from: "wave", "elevated" */
	uint64_t reaped;	  /* idle connections closed since start */
	size_t n_files, n_journals;
	const struct history_row *row; /* the last sample; NULL before the first */
	struct status_jail *jails;
	size_t n_jails;
	struct status_source *sources;
	size_t n_sources;
	struct status_fleet fleet;
	size_t remote_bans; /* bans in force that another host of the fleet decided */
};

/* The `status` reply: a summary line, the tuner, a table of the jails. */
void status_write_text(const struct status *st, FILE *out);

/* The same as one JSON object and a newline. */
void status_write_json(const struct status *st, FILE *out);

/* The node_exporter textfile, replaced atomically at path. Returns 0 or -errno. */
int status_write_metrics(const struct status *st, const char *path);

/* systemd's STATUS= text (without "STATUS=") into buf. */
void status_format_line(const struct status *st, char *buf, size_t size);

/* Frees the arrays of a filled snapshot (the strings are borrowed). */
void status_clear(struct status *st);
