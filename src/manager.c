/* The daemon's manager: wires sources -> filters -> jails -> actions on one sd-event loop and
 * keeps the read positions in the state directory (saved at most once a second while lines
 * flow, and at stop), so that a restart neither rereads nor misses a line. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "engine.h"
#include "log.h"
#include "logline.h"
#include "manager.h"
#include "source_file.h"
#include "state.h"

#define POSITIONS_FILE "positions"
#define SAVE_DELAY_USEC (1 * USEC_PER_SEC)

struct msource {
	struct manager *m;
	char *path;
	struct source_file *file;
	struct engine_jail **jails; /* the jails reading this source */
	size_t n_jails;
	struct logline_clock clock;
};

struct manager {
	sd_event *event;
	struct config *config;
	struct engine *engine;
	struct msource *sources;
	size_t n_sources;
	sd_event_source *sigterm_source, *sigint_source, *save_timer;
	char *positions_path;
	bool positions_dirty;
	uint64_t lines, bans, events;
};

static uint64_t realtime_now(struct manager *m)
{
	uint64_t t = 0;
	sd_event_now(m->event, CLOCK_REALTIME, &t);
	return t;
}

static void ban_decided(struct manager *m, struct engine_jail *ej, const struct jail_ban *ban)
{
	char t[32], a[ADDR_STRLEN];

	m->bans++;
	addr_format(&ban->addr, a, sizeof(a));
	/* The "log" action: the decision on stdout in replay's format, and in the log. */
	printf("%s\t%s\t%s\t%llu\n", logline_format_rfc3339(ban->time_usec, t, sizeof(t)),
	       ej->conf->name, a, (unsigned long long)(ban->bantime_usec / USEC_PER_SEC));
	fflush(stdout);
	log_notice("%s: ban %s for %llus (offence %u, dry run)", ej->conf->name, a,
		   (unsigned long long)(ban->bantime_usec / USEC_PER_SEC), ban->offence);
}

static void on_line(const char *line, size_t len, void *userdata)
{
	struct msource *s = userdata;
	struct manager *m = s->m;
	uint64_t now = realtime_now(m);
	struct logline l;
	struct jail_ban ban;

	m->lines++;
	logline_parse(&s->clock, line, len, &l);
	/* A line's own time is the clock of its jail; one from the future (skewed host) counts as
	 * now. */
	uint64_t t = l.time_usec && l.time_usec < now ? l.time_usec : now;

	for (size_t i = 0; i < s->n_jails; i++) {
		struct engine_jail *ej = s->jails[i];
		/* Old lines (read again after a long stop, or a first start on an old log) are
		 * outside every window already. */
		if (t + ej->conf->findtime_usec < now)
			continue;
		switch (engine_feed(ej, &l, t, &ban)) {
		case ENGINE_BAN:
			ban_decided(m, ej, &ban);
			break;
		case ENGINE_EVENT:
			m->events++;
			log_notice("%s: %.*s", ej->conf->name, (int)MIN(l.msg_len, 200), l.msg);
			break;
		}
	}
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

static void on_batch(struct source_file *f, void *userdata)
{
	struct msource *s = userdata;
	struct manager *m = s->m;
	uint64_t now;
	(void)f;

	/* The reference for the year of RFC 3164 stamps moves with time (December -> January). */
	logline_clock_init(&s->clock, realtime_now(m));
	m->positions_dirty = true;
	/* Saved at most once a second while lines flow; a failed save is retried after the next
	 * batch, since the timer is armed whenever it is off. */
	int enabled = SD_EVENT_OFF;
	sd_event_source_get_enabled(m->save_timer, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;
	if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) >= 0) {
		sd_event_source_set_time(m->save_timer, now + SAVE_DELAY_USEC);
		sd_event_source_set_enabled(m->save_timer, SD_EVENT_ONESHOT);
	}
}

/* Reads the saved positions; returns the one for path, if any. */
static bool find_position(const char *saved, const char *path, struct source_file_pos *ret)
{
	for (const char *line = saved; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *tab = memchr(line, '\t', len);
		if (tab && len - (size_t)(tab + 1 - line) == strlen(path) &&
		    memcmp(tab + 1, path, strlen(path)) == 0) {
			char pos[160];
			size_t pl = (size_t)(tab - line);
			if (pl < sizeof(pos)) {
				memcpy(pos, line, pl);
				pos[pl] = '\0';
				if (source_file_pos_parse(pos, ret) == 0)
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

int manager_new(struct config *config, struct manager **ret)
{
	struct manager *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->config = config;
	*ret = m;
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;
	(void)s;

	log_info("received %s, stopping", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(m->event, 0);
}

int manager_start(struct manager *m)
{
	struct config *c = m->config;
	struct config_errors errs = { 0 };
	_cleanup_free_ char *saved = NULL;
	sigset_t mask;
	int r;

	r = state_ensure_dir(c->state_dir);
	if (r < 0)
		return log_error_errno(r, "state directory %s is not usable: %m", c->state_dir);
	if (asprintf(&m->positions_path, "%s/" POSITIONS_FILE, c->state_dir) < 0)
		return -ENOMEM;
	r = state_read_file(m->positions_path, 1024 * 1024, &saved, NULL);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "cannot read %s, reading logs from their start: %m",
				  m->positions_path);

	r = engine_new(c, NULL, &m->engine, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("%s", errs.msgs[i]);
	config_errors_clear(&errs);
	if (r < 0)
		return log_error_errno(r, "cannot build the jails: %m");
	if (m->engine->n_jails == 0)
		log_warning("no enabled jail: nothing to do but wait");

	r = sd_event_new(&m->event);
	if (r < 0)
		return log_error_errno(r, "cannot create the event loop: %m");

	/* One follower per distinct file, shared by every jail that reads it. */
	for (size_t i = 0; i < m->engine->n_jails; i++) {
		struct engine_jail *ej = &m->engine->jails[i];
		for (size_t k = 0; k < ej->conf->n_sources; k++) {
			struct msource *s = source_for(m, ej->conf->sources[k]);
			struct engine_jail **slot = s ? ARRAY_GROW(s->jails, s->n_jails) : NULL;
			if (!slot)
				return log_error_errno(-ENOMEM, "out of memory");
			*slot = ej;
		}
	}
	for (size_t i = 0; i < m->n_sources; i++) {
		struct msource *s = &m->sources[i];
		struct source_file_pos pos;
		bool have = find_position(saved, s->path, &pos);

		s->m = m;
		logline_clock_init(&s->clock, realtime_now(m));
		r = source_file_new(m->event, s->path, c->max_line, on_line, on_batch, s, &s->file);
		if (r < 0)
			return log_error_errno(r, "%s: %m", s->path);
		r = source_file_start(s->file, have ? &pos : NULL);
		if (r < 0)
			return log_error_errno(r, "%s: cannot follow: %m", s->path);
		log_info("following %s (%zu jails)%s", s->path, s->n_jails,
			 have ? ", resuming at the saved position" : "");
	}

	r = sd_event_add_time(m->event, &m->save_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
			      on_save_timer, m);
	if (r < 0)
		return log_error_errno(r, "cannot add timer: %m");
	sd_event_source_set_description(m->save_timer, "save-positions");
	sd_event_source_set_enabled(m->save_timer, SD_EVENT_OFF);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_signal, m)) < 0)
		return log_error_errno(r, "cannot handle signals: %m");
	sd_event_source_set_description(m->sigterm_source, "sigterm");
	sd_event_source_set_description(m->sigint_source, "sigint");
	return 0;
}

int manager_run(struct manager *m)
{
	int r;

	sd_notifyf(0, "READY=1\nSTATUS=following %zu log files for %zu jails", m->n_sources,
		   m->engine->n_jails);
	log_info("ready: %zu jails, %zu log files", m->engine->n_jails, m->n_sources);
	r = sd_event_loop(m->event);
	if (m->positions_dirty)
		save_positions(m);
	log_info("stopped: %llu lines, %llu ban decisions, %llu events",
		 (unsigned long long)m->lines, (unsigned long long)m->bans,
		 (unsigned long long)m->events);
	return r < 0 ? log_error_errno(r, "event loop failed: %m") : 0;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n_sources; i++) {
		source_file_free(m->sources[i].file);
		free(m->sources[i].path);
		free(m->sources[i].jails);
	}
	free(m->sources);
	sd_event_source_unref(m->save_timer);
	sd_event_source_unref(m->sigterm_source);
	sd_event_source_unref(m->sigint_source);
	engine_free(m->engine);
	sd_event_unref(m->event);
	config_free(m->config);
	free(m->positions_path);
	free(m);
	return NULL;
}
