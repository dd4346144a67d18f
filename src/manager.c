/* The daemon's manager: wires sources -> filters -> jails -> ban table -> actions on one sd-event
 * loop, answers the control socket, reloads on SIGHUP, and keeps what a restart needs in the
 * state directory: read positions (saved at most once a second while lines flow, and at stop)
 * and the ban table (one appended line per ban). */
#include <errno.h>
#include <unistd.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "actions.h"
#include "bans.h"
#include "control.h"
#include "engine.h"
#include "log.h"
#include "logline.h"
#include "manager.h"
#include "metrics.h"
#include "source_file.h"
#include "source_journal.h"
#include "state.h"
#include "text.h"
#include "timeouts.h"
#include "timeutil.h"
#include "tuner.h"
#include "watch.h"

#define POSITIONS_FILE "positions"
#define BANS_FILE "bans"
#define SAVE_DELAY_USEC (1 * USEC_PER_SEC)
#define STATUS_PERIOD_USEC (5 * USEC_PER_SEC)
#define MAINTAIN_PERIOD_USEC (3600 * USEC_PER_SEC)
#define MANUAL_JAIL "manual"
#define MANUAL_BANTIME_USEC (3600 * USEC_PER_SEC)

struct msource {
	struct manager *m;
	char *path;
	struct source_file *file;
	struct engine_jail **jails; /* the jails reading this source */
	size_t n_jails;
	struct timeutil_clock clock;
	uint64_t lines;
};

/* One journal reader per distinct (directory, matches), shared by the jails that ask for it. */
struct mjournal {
	struct manager *m;
	char *key; /* "journal:DIR-or-system:MATCH,MATCH": its line in the positions file */
	char *directory;
	char **matches;
	size_t n_matches;
	struct source_journal *journal;
	struct engine_jail **jails;
	size_t n_jails;
	uint64_t findtime_usec; /* the longest of its jails: how far back a first start reads */
	uint64_t errors_seen;
	uint64_t lines;
};

struct manager {
	sd_event *event;
	char *config_dir;
	struct config *config;
	struct engine *engine;
	struct msource *sources;
	size_t n_sources;
	struct mjournal *journals;
	size_t n_journals;
	struct bans *bans;
	struct actions *actions;
	struct control *control;
	struct watch *watch;
	struct tuner *tuner;
	struct timeouts *timeouts; /* NULL in dry-run mode: levels are decided, files untouched */
	unsigned max_daemons;
	bool overload_event; /* an address-less event ("maximum active connections") since the last row */
	char tuner_reason[256];
	bool dry_run;
	sd_event_source *sigterm_source, *sigint_source, *sighup_source;
	sd_event_source *save_timer, *status_timer, *maintain_timer, *reload_defer;
	char *positions_path;
	bool positions_dirty;
	uint64_t start_usec;
	uint64_t lines, decisions, events, reloads;
};

static uint64_t realtime_now(struct manager *m)
{
	uint64_t t = 0;
	sd_event_now(m->event, CLOCK_REALTIME, &t);
	return t;
}

/* A ban or unban as a journal event with its fields (journalctl MESSAGE_ID=... lists them). */
static void log_ban_event(const struct ban *ban, bool unban, const char *note)
{
	char s[ADDR_STRLEN], f_jail[96], f_addr[ADDR_STRLEN + 32], f_time[48], f_off[48];
	uint64_t secs = (ban->until_usec - ban->since_usec) / USEC_PER_SEC;

	addr_format(&ban->addr, s, sizeof(s));
	snprintf(f_jail, sizeof(f_jail), "WAVEGUARD_JAIL=%s", ban->jail);
	snprintf(f_addr, sizeof(f_addr), "WAVEGUARD_ADDRESS=%s", s);
	snprintf(f_time, sizeof(f_time), "WAVEGUARD_BANTIME=%llu", (unsigned long long)secs);
	snprintf(f_off, sizeof(f_off), "WAVEGUARD_OFFENCE=%" PRIu32, ban->offence);
	const char *const fields[] = { f_jail, f_addr, f_time, f_off, NULL };
	if (unban)
		log_event(LOG_NOTICE, LOG_MESSAGE_UNBAN, fields, "%s: unban %s%s", ban->jail, s, note);
	else
		log_event(LOG_NOTICE, LOG_MESSAGE_BAN, fields,
			  "%s: ban %s for %llus (offence %" PRIu32 ")%s", ban->jail, s,
			  (unsigned long long)secs, ban->offence, note);
}

static const struct config_jail *find_conf_jail(const struct manager *m, const char *name)
{
	for (size_t i = 0; i < m->config->n_jails; i++)
		if (strcmp(m->config->jails[i].name, name) == 0)
			return &m->config->jails[i];
	return NULL;
}

static struct engine_jail *find_engine_jail(const struct manager *m, const char *name)
{
	for (size_t i = 0; i < m->engine->n_jails; i++)
		if (strcmp(m->engine->jails[i].conf->name, name) == 0)
			return &m->engine->jails[i];
	return NULL;
}

static bool allowed_globally(const struct manager *m, const struct addr *a)
{
	for (size_t i = 0; i < m->config->n_allow; i++)
		if (addr_overlaps(a, &m->config->allow[i]))
			return true;
	return false;
}

/* Records a ban and runs its jail's actions. A network already banned for longer (by another
 * jail) is left as it is. */
static void apply_ban(struct manager *m, const struct config_jail *j, const struct ban *ban)
{
	const struct ban *old = bans_find(m->bans, &ban->addr);
	uint64_t now = realtime_now(m);
	char s[ADDR_STRLEN];
	int r;

	if (ban->until_usec <= now)
		return;
	if (old && old->until_usec >= ban->until_usec)
		return;
	r = bans_add(m->bans, ban);
	if (r < 0)
		log_warning_errno(r, "cannot record the ban of %s in the state directory: %m",
				  addr_format(&ban->addr, s, sizeof(s)));
	m->decisions++;
	if (m->watch)
		watch_note_ban(m->watch);
	log_ban_event(ban, false, m->dry_run ? ", dry run" : "");
	actions_ban(m->actions, j, ban, now, false);
}

/* A jail's decision as a ban record, applied. */
static void apply_jail_ban(struct manager *m, const struct config_jail *j, const struct jail_ban *jb)
{
	struct ban ban = {
		.addr = jb->addr,
		.host = jb->host,
		.since_usec = jb->time_usec,
		.until_usec = jb->time_usec + jb->bantime_usec,
		.offence = jb->offence,
	};
	snprintf(ban.jail, sizeof(ban.jail), "%s", j->name);
	apply_ban(m, j, &ban);
}

/* Offers one line (from a file or the journal) to the jails that read its source. */
static void feed(struct manager *m, struct engine_jail *const *jails, size_t n_jails,
		 const struct logline *l)
{
	uint64_t now = realtime_now(m);
	struct jail_ban jb;

	m->lines++;
	/* A line's own time is the clock of its jail; one from the future (skewed host) counts as
	 * now. */
	uint64_t t = l->time_usec && l->time_usec < now ? l->time_usec : now;

	for (size_t i = 0; i < n_jails; i++) {
		struct engine_jail *ej = jails[i];
		/* Old lines (read again after a long stop, or a first start on an old log) are
		 * outside every window already. */
		if (t + ej->conf->findtime_usec < now)
			continue;
		switch (engine_feed(ej, l, t, &jb)) {
		case ENGINE_BAN:
			apply_jail_ban(m, ej->conf, &jb);
			break;
		case ENGINE_EVENT:
			m->events++;
			m->overload_event = true;
			log_event(LOG_NOTICE, LOG_MESSAGE_EVENT, NULL, "%s: %.*s", ej->conf->name,
				  (int)MIN(l->msg_len, 200), l->msg);
			break;
		}
	}
}

static void on_line(const char *line, size_t len, void *userdata)
{
	struct msource *s = userdata;
	struct logline l;

	s->lines++;
	logline_parse(&s->clock, line, len, &l);
	feed(s->m, s->jails, s->n_jails, &l);
}

static void on_entry(const struct logline *l, void *userdata)
{
	struct mjournal *j = userdata;
	j->lines++;
	feed(j->m, j->jails, j->n_jails, l);
}

static int save_positions(struct manager *m)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_sources; i++) {
		struct source_file_pos pos;
		char text[160];
		source_file_get_pos(m->sources[i].file, &pos);
		if (source_file_pos_format(&pos, text, sizeof(text)) < 0)
			continue;
		fprintf(f, "%s\t%s\n", text, m->sources[i].path);
	}
	for (size_t i = 0; i < m->n_journals; i++) {
		_cleanup_free_ char *cursor = NULL;
		if (source_journal_get_cursor(m->journals[i].journal, &cursor) >= 0)
			fprintf(f, "%s\t%s\n", cursor, m->journals[i].key);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	r = state_write_atomic(m->positions_path, buf, size, 0600);
	free(buf);
	if (r < 0)
		return log_warning_errno(r, "cannot save positions to %s: %m", m->positions_path);
	m->positions_dirty = false;
	return 0;
}

static int on_save_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	/* A failure is logged; the next batch tries again. */
	(void)save_positions(userdata);
	return 0;
}

/* Something was read: positions are saved at most once a second while lines flow; a failed
 * save is retried after the next batch, since the timer is armed whenever it is off. */
static void positions_changed(struct manager *m)
{
	uint64_t now;
	int enabled = SD_EVENT_OFF;

	m->positions_dirty = true;
	sd_event_source_get_enabled(m->save_timer, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;
	if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) >= 0) {
		sd_event_source_set_time(m->save_timer, now + SAVE_DELAY_USEC);
		sd_event_source_set_enabled(m->save_timer, SD_EVENT_ONESHOT);
	}
}

static void on_batch(struct source_file *f, void *userdata)
{
	struct msource *s = userdata;
	(void)f;

	/* The reference for the year of RFC 3164 stamps moves with time (December -> January). */
	timeutil_clock_init(&s->clock, realtime_now(s->m));
	positions_changed(s->m);
}

static void on_journal_batch(struct source_journal *sj, void *userdata)
{
	struct mjournal *j = userdata;
	const struct source_journal_stats *st = source_journal_get_stats(sj);

	/* The reader retries by itself; say so once per new trouble, not per retry. */
	if (st->errors != j->errors_seen) {
		j->errors_seen = st->errors;
		char f_src[300], f_err[32];
		snprintf(f_src, sizeof(f_src), "WAVEGUARD_SOURCE=%s", j->key);
		snprintf(f_err, sizeof(f_err), "ERRNO=%d", -st->last_error);
		const char *const fields[] = { f_src, f_err, NULL };
		log_event(LOG_WARNING, LOG_MESSAGE_SOURCE_ERROR, fields,
			  "journal %s: cannot read (%s), retrying", j->key + strlen("journal:"),
			  strerror(-st->last_error));
	}
	positions_changed(j->m);
}

/* Finds the value saved for key ("VALUE<TAB>KEY" lines) in the positions file's text. */
static bool find_saved(const char *saved, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	for (const char *line = saved; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *tab = memchr(line, '\t', len);
		if (tab && len - (size_t)(tab + 1 - line) == klen && memcmp(tab + 1, key, klen) == 0) {
			size_t vl = (size_t)(tab - line);
			if (vl < size) {
				memcpy(buf, line, vl);
				buf[vl] = '\0';
				return true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static struct msource *source_for(struct manager *m, const char *path)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (strcmp(m->sources[i].path, path) == 0)
			return &m->sources[i];
	struct msource *s = ARRAY_GROW(m->sources, m->n_sources);
	if (!s)
		return NULL;
	s->path = strdup(path);
	return s->path ? s : NULL;
}

static void stop_sources(struct manager *m)
{
	for (size_t i = 0; i < m->n_sources; i++) {
		source_file_free(m->sources[i].file);
		free(m->sources[i].path);
		free(m->sources[i].jails);
	}
	free(m->sources);
	m->sources = NULL;
	m->n_sources = 0;
	for (size_t i = 0; i < m->n_journals; i++) {
		struct mjournal *j = &m->journals[i];
		source_journal_free(j->journal);
		free(j->key);
		free(j->directory);
		for (size_t k = 0; k < j->n_matches; k++)
			free(j->matches[k]);
		free(j->matches);
		free(j->jails);
	}
	free(m->journals);
	m->journals = NULL;
	m->n_journals = 0;
}

static bool use_journal(const struct config_jail *c)
{
	if (c->backend == BACKEND_AUTO)
		/* The journal when the system has one: journald's socket is there (an empty
		 * /run/systemd/journal left by some tool is not a journal). */
		return access("/run/systemd/journal/socket", F_OK) == 0;
	return c->backend == BACKEND_JOURNAL || c->backend == BACKEND_BOTH;
}

static bool use_files(const struct config_jail *c)
{
	return c->backend == BACKEND_FILES || c->backend == BACKEND_BOTH ||
	       (c->backend == BACKEND_AUTO && !use_journal(c));
}

/* The journal reader for a jail's directory and matches (its own, or the filter's tags as
 * SYSLOG_IDENTIFIER= matches), created on first use. */
static struct mjournal *journal_for(struct manager *m, const struct engine_jail *ej)
{
	const struct config_jail *c = ej->conf;
	char **matches = NULL;
	size_t n = 0;
	char *key = NULL;
	size_t keysize = 0;
	FILE *f;

	for (size_t i = 0; i < c->n_journal_matches; i++) {
		char **slot = ARRAY_GROW(matches, n);
		if (!slot || !(*slot = strdup(c->journal_matches[i])))
			goto oom;
	}
	for (size_t i = 0; c->n_journal_matches == 0 && i < c->filter->n_tags; i++) {
		char **slot = ARRAY_GROW(matches, n);
		if (!slot || asprintf(slot, "SYSLOG_IDENTIFIER=%s", c->filter->tags[i]) < 0)
			goto oom;
	}
	f = open_memstream(&key, &keysize);
	if (!f)
		goto oom;
	fprintf(f, "journal:%s:", c->journal_directory ? c->journal_directory : "system");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", matches[i]);
	if (fclose(f) != 0)
		goto oom;

	for (size_t i = 0; i < m->n_journals; i++)
		if (strcmp(m->journals[i].key, key) == 0) {
			free(key);
			for (size_t k = 0; k < n; k++)
				free(matches[k]);
			free(matches);
			return &m->journals[i];
		}
	struct mjournal *j = ARRAY_GROW(m->journals, m->n_journals);
	if (!j)
		goto oom;
	j->m = m;
	j->key = key;
	j->matches = matches;
	j->n_matches = n;
	if (c->journal_directory && !(j->directory = strdup(c->journal_directory)))
		return NULL;
	return j;
oom:
	free(key);
	for (size_t k = 0; k < n; k++)
		free(matches[k]);
	free(matches);
	return NULL;
}

/* One follower per distinct file, shared by every jail that reads it, resumed at its saved
 * position. */
static int start_sources(struct manager *m)
{
	_cleanup_free_ char *saved = NULL;
	int r;

	r = state_read_file(m->positions_path, 1024 * 1024, &saved, NULL);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "cannot read %s, reading logs from their start: %m",
				  m->positions_path);
	for (size_t i = 0; i < m->engine->n_jails; i++) {
		struct engine_jail *ej = &m->engine->jails[i];
		for (size_t k = 0; use_files(ej->conf) && k < ej->conf->n_sources; k++) {
			struct msource *s = source_for(m, ej->conf->sources[k]);
			struct engine_jail **slot = s ? ARRAY_GROW(s->jails, s->n_jails) : NULL;
			if (!slot)
				return log_error_errno(-ENOMEM, "out of memory");
			*slot = ej;
		}
		if (use_journal(ej->conf)) {
			struct mjournal *j = journal_for(m, ej);
			struct engine_jail **slot = j ? ARRAY_GROW(j->jails, j->n_jails) : NULL;
			if (!slot)
				return log_error_errno(-ENOMEM, "out of memory");
			*slot = ej;
			j->findtime_usec = MAX(j->findtime_usec, ej->conf->findtime_usec);
		}
	}
	for (size_t i = 0; i < m->n_journals; i++) {
		struct mjournal *j = &m->journals[i];
		char cursor[1024];
		bool have = find_saved(saved, j->key, cursor, sizeof(cursor));
		uint64_t now = realtime_now(m);

		r = source_journal_new(m->event, j->directory, (const char *const *)j->matches,
				       j->n_matches, on_entry, on_journal_batch, j, &j->journal);
		if (r < 0)
			return log_error_errno(r, "journal %s: %m", j->key);
		/* Without a cursor: as far back as the longest window, no further. */
		r = source_journal_start(j->journal, have ? cursor : NULL,
					 now > j->findtime_usec ? now - j->findtime_usec : 0);
		if (r < 0)
			return log_error_errno(r, "journal %s: cannot follow: %m", j->key);
		if (r == 1 && have)
			log_warning("journal %s: saved cursor not usable, reading the last %llus",
				    j->key, (unsigned long long)(j->findtime_usec / USEC_PER_SEC));
		log_info("following the journal %s (%zu jails)%s", j->key + strlen("journal:"),
			 j->n_jails, have && r == 0 ? ", resuming at the saved cursor" : "");
	}
	for (size_t i = 0; i < m->n_sources; i++) {
		struct msource *s = &m->sources[i];
		struct source_file_pos pos;
		char text[160];
		bool have = find_saved(saved, s->path, text, sizeof(text)) &&
			    source_file_pos_parse(text, &pos) == 0;

		s->m = m;
		timeutil_clock_init(&s->clock, realtime_now(m));
		r = source_file_new(m->event, s->path, m->config->max_line, on_line, on_batch, s,
				    &s->file);
		if (r < 0)
			return log_error_errno(r, "%s: %m", s->path);
		r = source_file_start(s->file, have ? &pos : NULL);
		if (r < 0)
			return log_error_errno(r, "%s: cannot follow: %m", s->path);
		log_info("following %s (%zu jails)%s", s->path, s->n_jails,
			 have ? ", resuming at the saved position" : "");
	}
	return 0;
}

/* Gives the jails back what the ban table remembers: bans in force and offence counts. */
static void restore_jails(struct manager *m)
{
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		struct engine_jail *ej = find_engine_jail(m, b->jail);
		if (ej)
			jail_restore(ej->jail, &b->host, b->offence, b->until_usec);
	}
}

/* Puts the bans still in force back in the kernel with their remaining time. */
static void restore_kernel(struct manager *m)
{
	uint64_t now = realtime_now(m);
	size_t n = 0;

	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		const struct config_jail *j = find_conf_jail(m, b->jail);
		if (b->until_usec <= now)
			continue;
		/* Manual bans, or bans of a jail since removed, still run their course. */
		if (j)
			actions_ban(m->actions, j, b, now, true);
		else
			actions_ban_kernel(m->actions, b, now, true);
		n++;
	}
	if (n)
		log_info("restored %zu bans still in force", n);
	actions_flush(m->actions);
}

static void on_nft_lost(struct actions *a, void *userdata)
{
	struct manager *m = userdata;
	if (actions_setup(a) >= 0)
		restore_kernel(m);
}

static void update_status(struct manager *m)
{
	uint64_t now = realtime_now(m);
	const struct history_row *r = m->watch ? watch_last(m->watch) : NULL;
	char sample[128] = "";

	if (r)
		snprintf(sample, sizeof(sample), "%u connections, backlog %u, probe %s, ",
			 r->established, r->backlog, r->probe_status);
	sd_notifyf(0, "STATUS=%s%zu active bans, %zu jails, %zu files, %zu journals, %" PRIu64
		      " lines, %" PRIu64 " ban decisions since start%s",
		   sample, bans_active(m->bans, now), m->engine->n_jails, m->n_sources,
		   m->n_journals, m->lines, m->decisions, m->dry_run ? " (dry run)" : "");
}

/* ---- the watch ---- */

static void on_watch_hit(const struct addr *a, uint32_t connections, void *userdata)
{
	struct manager *m = userdata;
	const char *name = m->config->sampler.concurrency_jail;
	struct engine_jail *ej = name ? find_engine_jail(m, name) : NULL;
	struct jail_ban jb;
	char s[ADDR_STRLEN];

	log_info("%s holds %u connections", addr_format(a, s, sizeof(s)), connections);
	if (ej && jail_hit(ej->jail, a, realtime_now(m), &jb) == JAIL_BAN)
		apply_jail_ban(m, ej->conf, &jb);
}

static size_t on_watch_active_bans(void *userdata)
{
	struct manager *m = userdata;
	return bans_active(m->bans, realtime_now(m));
}

static size_t active_in_jail(const struct manager *m, const char *jail, uint64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		n += b->until_usec > now && strcmp(b->jail, jail) == 0;
	}
	return n;
}

/* The node_exporter textfile, rewritten whole at each sample. */
static void write_metrics(struct manager *m, const struct history_row *r)
{
	struct metrics x;
	uint64_t now = realtime_now(m);
	static const char *const levels[] = { "normal", "elevated", "wave" };

	if (!m->config->metrics || metrics_begin(&x) < 0)
		return;
	metrics_family(&x, "waveguard_lines_total", "counter", "Log lines or journal entries read.");
	for (size_t i = 0; i < m->n_sources; i++)
		metrics_sample(&x, "waveguard_lines_total", "source", m->sources[i].path,
			       (double)m->sources[i].lines);
	for (size_t i = 0; i < m->n_journals; i++)
		metrics_sample(&x, "waveguard_lines_total", "source", m->journals[i].key,
			       (double)m->journals[i].lines);
	metrics_family(&x, "waveguard_hits_total", "counter", "Filter matches counted by a jail.");
	for (size_t i = 0; i < m->engine->n_jails; i++)
		metrics_sample(&x, "waveguard_hits_total", "jail", m->engine->jails[i].conf->name,
			       (double)jail_get_stats(m->engine->jails[i].jail)->hits);
	metrics_family(&x, "waveguard_bans_total", "counter", "Bans decided by a jail.");
	for (size_t i = 0; i < m->engine->n_jails; i++)
		metrics_sample(&x, "waveguard_bans_total", "jail", m->engine->jails[i].conf->name,
			       (double)jail_get_stats(m->engine->jails[i].jail)->bans);
	metrics_family(&x, "waveguard_unbans_total", "counter", "Bans lifted by the admin.");
	for (size_t i = 0; i < m->engine->n_jails; i++)
		metrics_sample(&x, "waveguard_unbans_total", "jail", m->engine->jails[i].conf->name,
			       (double)m->engine->jails[i].unbans);
	metrics_family(&x, "waveguard_active_bans", "gauge", "Bans in force.");
	for (size_t i = 0; i < m->engine->n_jails; i++)
		metrics_sample(&x, "waveguard_active_bans", "jail", m->engine->jails[i].conf->name,
			       (double)active_in_jail(m, m->engine->jails[i].conf->name, now));
	metrics_family(&x, "waveguard_tracked_addresses", "gauge",
		       "Addresses a jail is counting hits for.");
	for (size_t i = 0; i < m->engine->n_jails; i++)
		metrics_sample(&x, "waveguard_tracked_addresses", "jail",
			       m->engine->jails[i].conf->name,
			       (double)jail_tracked(m->engine->jails[i].jail));
	metrics_family(&x, "waveguard_connections", "gauge", "TCP connections on the SMTP ports.");
	metrics_sample(&x, "waveguard_connections", "state", "established", r->established);
	metrics_sample(&x, "waveguard_connections", "state", "syn_recv", r->syn_recv);
	metrics_sample(&x, "waveguard_connections", "state", "other", r->other);
	metrics_family(&x, "waveguard_listen_backlog", "gauge",
		       "Connections waiting unaccepted in the SMTP listeners' queues.");
	metrics_sample(&x, "waveguard_listen_backlog", NULL, NULL, r->backlog);
	metrics_family(&x, "waveguard_probe_up", "gauge", "1 when the last probe got a 220 banner.");
	metrics_sample(&x, "waveguard_probe_up", NULL, NULL, strcmp(r->probe_status, "ok") == 0);
	metrics_family(&x, "waveguard_probe_latency_seconds", "gauge",
		       "Time to the 220 banner in the last probe (NaN when it failed).");
	metrics_sample(&x, "waveguard_probe_latency_seconds", NULL, NULL,
		       r->probe_ms >= 0 ? (double)r->probe_ms / 1000.0 : NAN);
	metrics_family(&x, "waveguard_tuner_level", "gauge", "1 for the tuner's current level.");
	for (size_t i = 0; i < ELEMENTSOF(levels); i++)
		metrics_sample(&x, "waveguard_tuner_level", "level", levels[i],
			       strcmp(r->tuner, levels[i]) == 0);
	int k = metrics_commit(&x, m->config->metrics);
	if (k < 0)
		log_warning_errno(k, "cannot write the metrics to %s: %m", m->config->metrics);
}

static void tune(struct manager *m, const struct history_row *r)
{
	enum tuner_level level;
	char msg[512];
	int k;

	bool failed = strcmp(r->probe_status, "ok") != 0 && strcmp(r->probe_status, "off") != 0;
	struct tuner_input in = {
		.now_usec = r->time_usec,
		.established = r->established,
		.backlog = r->backlog,
		.max_daemons = m->max_daemons,
		.new_bans = r->new_bans,
		.probe_failed = failed,
		.maxconn_event = m->overload_event,
	};
	m->overload_event = false;
	if (tuner_feed(m->tuner, &in, &level, m->tuner_reason, sizeof(m->tuner_reason)) <= 0) {
		/* While tuned, the admin may edit a file: theirs becomes the value to restore. */
		if (m->timeouts && level != TUNER_NORMAL &&
		    (k = timeouts_check(m->timeouts, msg, sizeof(msg))) > 0)
			log_warning("Courier timeout files edited during the wave, adopted as the "
				    "originals: %s",
				    msg);
		return;
	}
	msg[0] = '\0';
	if (m->timeouts) {
		k = timeouts_apply(m->timeouts, (int)level, msg, sizeof(msg));
		if (k < 0)
			log_error_errno(k, "cannot write Courier's timeout files: %m");
		else if (k > 0)
			log_warning("Courier timeout files edited by the admin, adopted: %s", msg);
	}
	char f_level[48], f_reason[300];
	snprintf(f_level, sizeof(f_level), "WAVEGUARD_LEVEL=%s", tuner_level_to_string(level));
	snprintf(f_reason, sizeof(f_reason), "WAVEGUARD_REASON=%s", m->tuner_reason);
	const char *const fields[] = { f_level, f_reason, NULL };
	log_event(LOG_NOTICE, LOG_MESSAGE_TUNER, fields, "tuner: %s%s%s%s", m->tuner_reason,
		  msg[0] ? " (" : "", msg, msg[0] ? ")" : (m->timeouts ? "" : " (no file written)"));
	if (m->watch)
		watch_set_level(m->watch, tuner_level_to_string(level));
}

static void on_watch_row(const struct history_row *r, void *userdata)
{
	struct manager *m = userdata;
	if (m->tuner)
		tune(m, r);
	write_metrics(m, r);
	update_status(m);
}

/* The tuner and its files. The originals of a crash while tuned come back first of all. */
static int start_tuner(struct manager *m)
{
	const struct config_tuner *t = &m->config->tuner;
	const struct config_action *a = t->timeouts;
	struct timeouts_file files[16];
	_cleanup_free_ char *state = NULL;
	char msg[512];
	int r;

	if (!t->enabled || !a)
		return 0;
	if (asprintf(&state, "%s/tuner", m->config->state_dir) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_files; i++)
		files[i] = (struct timeouts_file){
			.name = a->files[i].name,
			.level_usec = { 0, a->files[i].elevated_usec, a->files[i].wave_usec },
		};
	if (!m->dry_run && !t->dry_run) {
		r = timeouts_new(a->directory ? a->directory : "/etc/courier", state, files,
				 a->n_files, a->floor_usec ? a->floor_usec : 10 * USEC_PER_SEC,
				 &m->timeouts);
		if (r < 0)
			return log_error_errno(r, "tuner: %m");
		r = timeouts_recover(m->timeouts, msg, sizeof(msg));
		if (r < 0)
			return log_error_errno(r, "tuner: cannot restore Courier's timeout files: %m");
		if (r > 0)
			log_warning("tuner: restored the timeout files a previous run left tuned: %s",
				    msg);
	}
	m->max_daemons = t->max_daemons;
	if (!m->max_daemons) {
		r = timeouts_read_maxdaemons(t->esmtpd, &m->max_daemons);
		if (r < 0)
			log_warning_errno(r, "tuner: cannot read MAXDAEMONS from %s (%m); the share of "
					     "connections is not a signal",
					  t->esmtpd);
	}
	struct tuner_params p;
	config_tuner_params(t, &p);
	r = tuner_new(&p, &m->tuner);
	if (r < 0)
		return log_error_errno(r, "tuner: %m");
	snprintf(m->tuner_reason, sizeof(m->tuner_reason), "normal");
	return 0;
}

/* At stop the admin's values come back: waveguard's tuning never outlives it. */
static void stop_tuner(struct manager *m)
{
	char msg[512];
	if (!m->timeouts || timeouts_level(m->timeouts) == TUNER_NORMAL)
		return;
	int r = timeouts_apply(m->timeouts, TUNER_NORMAL, msg, sizeof(msg));
	if (r < 0)
		log_error_errno(r, "tuner: cannot restore Courier's timeout files: %m");
	else
		log_notice("tuner: restored Courier's timeout files: %s", msg);
}

static const struct watch_ops watch_ops = {
	.hit = on_watch_hit,
	.active_bans = on_watch_active_bans,
	.row = on_watch_row,
};

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	update_status(m);
	sd_event_source_set_time(s, usec + STATUS_PERIOD_USEC);
	return 0;
}

static int on_maintain_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	int r = bans_maintain(m->bans, realtime_now(m));
	if (r < 0)
		log_warning_errno(r, "cannot compact the ban table: %m");
	sd_event_source_set_time(s, usec + MAINTAIN_PERIOD_USEC);
	return 0;
}

/* Reads the configuration again and swaps it whole; a broken one is refused and the running
 * one stays. Positions are saved first, so the new sources resume exactly there. */
static int reload(struct manager *m)
{
	struct config_errors errs = { 0 };
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_(engine_freep) struct engine *e = NULL;
	int r;

	log_info("reloading the configuration from %s", m->config_dir);
	r = config_load(m->config_dir, &c, &errs);
	if (r >= 0)
		r = engine_new(c, NULL, &e, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("%s", errs.msgs[i]);
	config_errors_clear(&errs);
	if (r < 0)
		return log_error_errno(r, "reload refused, the running configuration stays: %m");
	if (strcmp(c->state_dir, m->config->state_dir) != 0 ||
	    strcmp(c->control_socket, m->config->control_socket) != 0 ||
	    strcmp(c->nft.table, m->config->nft.table) != 0)
		log_warning("state_dir, control_socket and [nft] changes take effect at the next "
			    "start");
	r = actions_reconfigure(m->actions, c);
	if (r < 0)
		return log_error_errno(r, "reload refused, the running configuration stays: %m");

	if (m->positions_dirty)
		save_positions(m);
	stop_sources(m);
	/* The running values that a restart keeps anyway stay too. */
	free(c->state_dir);
	c->state_dir = strdup(m->config->state_dir);
	free(c->control_socket);
	c->control_socket = strdup(m->config->control_socket);
	if (!c->state_dir || !c->control_socket)
		return log_error_errno(-ENOMEM, "out of memory");
	engine_free(m->engine);
	m->engine = TAKE_PTR(e);
	config_free(m->config);
	m->config = TAKE_PTR(c);
	log_max_level = m->config->log_level;
	restore_jails(m);
	r = start_sources(m);
	m->reloads++;
	update_status(m);
	return r;
}

static int on_reload_defer(sd_event_source *s, void *userdata)
{
	(void)s;
	sd_notify(0, "RELOADING=1");
	reload(userdata);
	sd_notify(0, "READY=1");
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;
	(void)s;

	if (si->ssi_signo == SIGHUP) {
		sd_event_source_set_enabled(m->reload_defer, SD_EVENT_ONESHOT);
		return 0;
	}
	log_info("received %s, stopping", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(m->event, 0);
}

/* ---- control socket ---- */

static int cmd_status(struct manager *m, const struct control_request *req, FILE *out)
{
	uint64_t now = realtime_now(m);
	const struct actions_stats *as = actions_get_stats(m->actions);

	if (req->json) {
		fprintf(out,
			"{\"uptime\":%" PRIu64 ",\"dry_run\":%s,\"lines\":%" PRIu64
			",\"decisions\":%" PRIu64 ",\"events\":%" PRIu64 ",\"reloads\":%" PRIu64
			",\"active_bans\":%zu,\"nft_sent\":%" PRIu64 ",\"nft_errors\":%" PRIu64
			",\"tuner\":\"%s\",\"jails\":[",
			(uint64_t)((now - m->start_usec) / USEC_PER_SEC), m->dry_run ? "true" : "false", m->lines,
			m->decisions, m->events, m->reloads, bans_active(m->bans, now), as->nft_sent,
			as->nft_errors, m->tuner ? tuner_level_to_string(tuner_level(m->tuner)) : "off");
		for (size_t i = 0; i < m->engine->n_jails; i++) {
			const struct engine_jail *ej = &m->engine->jails[i];
			const struct jail_stats *js = jail_get_stats(ej->jail);
			fprintf(out, "%s{\"name\":", i ? "," : "");
			text_json_string(out, ej->conf->name);
			fprintf(out,
				",\"filter\":\"%s\",\"tracked\":%zu,\"active_bans\":%zu,\"hits\":%" PRIu64
				",\"bans\":%" PRIu64 ",\"allowed\":%" PRIu64 ",\"events\":%" PRIu64 "}",
				ej->conf->filter_name, jail_tracked(ej->jail),
				active_in_jail(m, ej->conf->name, now), js->hits, js->bans, js->allowed,
				ej->events);
		}
		fprintf(out, "]}\n");
		return 0;
	}
	fprintf(out, "waveguard %s%s, up %" PRIu64 " s, %" PRIu64 " lines, %" PRIu64
		     " ban decisions, %zu active bans, %" PRIu64 " reloads\n",
		WAVEGUARD_VERSION, m->dry_run ? " (dry run)" : "", (uint64_t)((now - m->start_usec) / USEC_PER_SEC),
		m->lines, m->decisions, bans_active(m->bans, now), m->reloads);
	if (m->tuner)
		fprintf(out, "tuner: %s (%s)\n", tuner_level_to_string(tuner_level(m->tuner)),
			m->tuner_reason);
	fprintf(out, "%-16s %-16s %9s %7s %9s %9s %8s\n", "JAIL", "FILTER", "TRACKED", "ACTIVE",
		"HITS", "BANS", "ALLOWED");
	for (size_t i = 0; i < m->engine->n_jails; i++) {
		const struct engine_jail *ej = &m->engine->jails[i];
		const struct jail_stats *js = jail_get_stats(ej->jail);
		fprintf(out, "%-16s %-16s %9zu %7zu %9" PRIu64 " %9" PRIu64 " %8" PRIu64 "\n",
			ej->conf->name, ej->conf->filter_name, jail_tracked(ej->jail),
			active_in_jail(m, ej->conf->name, now), js->hits, js->bans, js->allowed);
	}
	return 0;
}

static int cmd_list(struct manager *m, const struct control_request *req, FILE *out)
{
	uint64_t now = realtime_now(m);
	bool first = true;

	if (req->jail[0] && !find_conf_jail(m, req->jail) && strcmp(req->jail, MANUAL_JAIL) != 0) {
		fprintf(out, "no jail named %s", req->jail);
		return -ENOENT;
	}
	if (req->json)
		fputc('[', out);
	else
		fprintf(out, "%-40s %-16s %10s %7s\n", "ADDRESS", "JAIL", "REMAINING", "OFFENCE");
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		char s[ADDR_STRLEN];
		if (b->until_usec <= now || (req->jail[0] && strcmp(b->jail, req->jail) != 0))
			continue;
		addr_format(&b->addr, s, sizeof(s));
		uint64_t left = (b->until_usec - now + USEC_PER_SEC - 1) / USEC_PER_SEC;
		if (req->json) {
			fprintf(out, "%s{\"address\":\"%s\",\"jail\":", first ? "" : ",", s);
			text_json_string(out, b->jail);
			fprintf(out, ",\"remaining\":%" PRIu64 ",\"offence\":%" PRIu32 "}", left,
				b->offence);
		} else
			fprintf(out, "%-40s %-16s %9" PRIu64 "s %7" PRIu32 "\n", s, b->jail, left,
				b->offence);
		first = false;
	}
	if (req->json)
		fprintf(out, "]\n");
	return 0;
}

static int cmd_ban(struct manager *m, const struct control_request *req, FILE *out)
{
	const struct config_jail *j = NULL;
	uint64_t now = realtime_now(m);
	char s[ADDR_STRLEN];
	struct ban ban = { .addr = req->addr, .host = req->addr, .since_usec = now };

	addr_format(&req->addr, s, sizeof(s));
	/* The same bounds as prefix4/prefix6: nobody means to drop a quarter of the Internet. */
	if (req->addr.prefix < (req->addr.family == AF_INET ? 8 : 16)) {
		fprintf(out, "%s is too wide a network to ban (at least /8 or /16 for IPv6)", s);
		return -EINVAL;
	}
	if (req->jail[0]) {
		j = find_conf_jail(m, req->jail);
		if (!j) {
			fprintf(out, "no jail named %s", req->jail);
			return -ENOENT;
		}
	}
	bool allowed = allowed_globally(m, &req->addr);
	for (size_t i = 0; j && !allowed && i < j->n_allow; i++)
		allowed = addr_overlaps(&req->addr, &j->allow[i]);
	if (allowed) {
		fprintf(out, "%s is allowlisted: not banned", s);
		return -EPERM;
	}
	const struct ban *old = bans_find(m->bans, &req->addr);
	ban.offence = old ? old->offence + 1 : 1;
	ban.until_usec = now + (req->time_usec ? req->time_usec
					       : j ? j->bantime_usec : MANUAL_BANTIME_USEC);
	snprintf(ban.jail, sizeof(ban.jail), "%s", j ? j->name : MANUAL_JAIL);
	/* The admin's word replaces whatever ban there was, shorter or longer. */
	int r = bans_add(m->bans, &ban);
	if (r < 0)
		log_warning_errno(r, "cannot record the ban of %s: %m", s);
	log_ban_event(&ban, false, ", by the admin");
	if (j)
		actions_ban(m->actions, j, &ban, now, false);
	else
		actions_ban_kernel(m->actions, &ban, now, false);
	actions_flush(m->actions);
	fprintf(out, "banned %s for %llus\n", s,
		(unsigned long long)((ban.until_usec - now) / USEC_PER_SEC));
	return 0;
}

static void unban_one(struct manager *m, const struct ban *b, uint64_t now)
{
	struct ban copy = *b;
	struct engine_jail *ej = find_engine_jail(m, b->jail);
	const struct config_jail *j = find_conf_jail(m, b->jail);

	bans_lift(m->bans, &b->addr, now);
	if (ej) {
		jail_forget_ban(ej->jail, &copy.host);
		ej->unbans++;
	}
	actions_unban(m->actions, j, &copy);
	log_ban_event(&copy, true, ", by the admin");
}

static int cmd_unban(struct manager *m, const struct control_request *req, FILE *out)
{
	uint64_t now = realtime_now(m);
	size_t n = 0;

	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		if (b->until_usec <= now)
			continue;
		if (!req->all && !addr_equal(&b->addr, &req->addr))
			continue;
		unban_one(m, b, now);
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

static int on_control(const struct control_request *req, FILE *out, void *userdata)
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
		/* Not from inside the handler: a reload replaces what the handler is using. */
		sd_event_source_set_enabled(m->reload_defer, SD_EVENT_ONESHOT);
		fprintf(out, "reloading\n");
		return 0;
	}
	return -EINVAL;
}

/* ---- life cycle ---- */

int manager_new(const char *config_dir, struct config *config, bool dry_run,
		struct manager **ret)
{
	struct manager *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->config_dir = strdup(config_dir);
	if (!m->config_dir) {
		free(m);
		return -ENOMEM;
	}
	m->config = config;
	m->dry_run = dry_run;
	*ret = m;
	return 0;
}

static int add_timer(struct manager *m, sd_event_source **s, uint64_t usec,
		     sd_event_time_handler_t fn, const char *name, bool on)
{
	uint64_t now = 0;
	sd_event_now(m->event, CLOCK_MONOTONIC, &now);
	int r = sd_event_add_time(m->event, s, CLOCK_MONOTONIC, on ? now + usec : UINT64_MAX, 0,
				  fn, m);
	if (r < 0)
		return log_error_errno(r, "cannot add the %s timer: %m", name);
	sd_event_source_set_description(*s, name);
	sd_event_source_set_enabled(*s, on ? SD_EVENT_ON : SD_EVENT_OFF);
	return 0;
}

int manager_start(struct manager *m)
{
	struct config *c = m->config;
	struct config_errors errs = { 0 };
	_cleanup_free_ char *bans_path = NULL;
	unsigned bad = 0;
	sigset_t mask;
	int r;

	r = state_ensure_dir(c->state_dir);
	if (r < 0)
		return log_error_errno(r, "state directory %s is not usable: %m", c->state_dir);
	if (asprintf(&m->positions_path, "%s/" POSITIONS_FILE, c->state_dir) < 0 ||
	    asprintf(&bans_path, "%s/" BANS_FILE, c->state_dir) < 0)
		return -ENOMEM;

	r = sd_event_new(&m->event);
	if (r < 0)
		return log_error_errno(r, "cannot create the event loop: %m");
	m->start_usec = realtime_now(m);

	r = start_tuner(m);
	if (r < 0)
		return r;

	r = engine_new(c, NULL, &m->engine, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("%s", errs.msgs[i]);
	config_errors_clear(&errs);
	if (r < 0)
		return log_error_errno(r, "cannot build the jails: %m");
	if (m->engine->n_jails == 0)
		log_warning("no enabled jail: nothing to do but wait");

	r = bans_open(bans_path, m->start_usec, c->offence_memory_usec, &m->bans, &bad);
	if (r < 0)
		return log_error_errno(r, "cannot open the ban table %s: %m", bans_path);
	if (bad)
		log_warning("%s: %u unreadable lines skipped", bans_path, bad);

	r = actions_new(m->event, c, m->dry_run, stdout, &m->actions);
	if (r < 0)
		return r;
	actions_set_lost_handler(m->actions, on_nft_lost, m);
	r = actions_setup(m->actions);
	if (r < 0)
		return r;
	restore_jails(m);
	restore_kernel(m);

	r = start_sources(m);
	if (r < 0)
		return r;

	r = watch_new(m->event, c, &watch_ops, m, &m->watch);
	if (r < 0)
		return r;

	r = control_new(m->event, c->control_socket, on_control, m, &m->control);
	if (r < 0)
		return log_error_errno(r, "control socket %s: %m", c->control_socket);

	if ((r = add_timer(m, &m->save_timer, SAVE_DELAY_USEC, on_save_timer, "save-positions",
			   false)) < 0 ||
	    (r = add_timer(m, &m->status_timer, STATUS_PERIOD_USEC, on_status_timer, "status",
			   true)) < 0 ||
	    (r = add_timer(m, &m->maintain_timer, MAINTAIN_PERIOD_USEC, on_maintain_timer,
			   "maintain-bans", true)) < 0)
		return r;
	r = sd_event_add_defer(m->event, &m->reload_defer, on_reload_defer, m);
	if (r < 0)
		return log_error_errno(r, "cannot add the reload source: %m");
	sd_event_source_set_description(m->reload_defer, "reload");
	sd_event_source_set_enabled(m->reload_defer, SD_EVENT_OFF);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_signal, m)) < 0)
		return log_error_errno(r, "cannot handle signals: %m");
	sd_event_source_set_description(m->sigterm_source, "sigterm");
	sd_event_source_set_description(m->sigint_source, "sigint");
	sd_event_source_set_description(m->sighup_source, "sighup");

	/* WATCHDOG=1 from the loop itself when WATCHDOG_USEC is set: a hung loop stops it. */
	r = sd_event_set_watchdog(m->event, true);
	if (r < 0)
		log_warning_errno(r, "cannot enable the watchdog: %m");
	return 0;
}

int manager_run(struct manager *m)
{
	int r;

	sd_notify(0, "READY=1");
	update_status(m);
	log_info("ready: %zu jails, %zu log files, %zu active bans%s", m->engine->n_jails,
		 m->n_sources, bans_active(m->bans, realtime_now(m)),
		 m->dry_run ? ", dry run" : "");
	r = sd_event_loop(m->event);
	if (m->positions_dirty)
		save_positions(m);
	actions_flush(m->actions);
	stop_tuner(m);
	log_info("stopped: %" PRIu64 " lines, %" PRIu64 " ban decisions, %" PRIu64 " events",
		 m->lines, m->decisions, m->events);
	return r < 0 ? log_error_errno(r, "event loop failed: %m") : 0;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	stop_sources(m);
	control_free(m->control);
	watch_free(m->watch);
	tuner_free(m->tuner);
	timeouts_free(m->timeouts);
	sd_event_source_disable_unref(m->save_timer);
	sd_event_source_disable_unref(m->status_timer);
	sd_event_source_disable_unref(m->maintain_timer);
	sd_event_source_disable_unref(m->reload_defer);
	sd_event_source_disable_unref(m->sigterm_source);
	sd_event_source_disable_unref(m->sigint_source);
	sd_event_source_disable_unref(m->sighup_source);
	actions_free(m->actions);
	bans_free(m->bans);
	engine_free(m->engine);
	sd_event_unref(m->event);
	config_free(m->config);
	free(m->positions_path);
	free(m->config_dir);
	free(m);
	return NULL;
}
