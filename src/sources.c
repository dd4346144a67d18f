/* The sources room: one follower per distinct log file and one journal reader per distinct
 * (directory, matches), shared by the jails that read them; every line goes to the one sink.
 * Read positions are saved atomically in the state directory at most once a second while lines
 * flow, and at stop, as "VALUE<TAB>KEY" lines: file positions keyed by path, journal cursors by
 * "journal:DIR-or-system:MATCH,MATCH". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "source_file.h"
#include "source_journal.h"
#include "sources.h"
#include "state.h"

#define POSITIONS_FILE	   "positions"
#define SAVE_DELAY_USEC	   (1 * USEC_PER_SEC)
#define MAX_POSITIONS_FILE (1024 * 1024)

/* What a file and a journal reader share: the jails they feed and their line count. */
struct reader {
	struct sources *s;
	struct engine_jail **jails;
	size_t n_jails;
	uint64_t lines;
};

struct file {
	struct reader r;
	char *path;
	struct source_file *file;
	struct timeutil_clock clock;
};

struct journal {
	struct reader r;
	char *key; /* its line in the positions file */
	char *directory;
	char **matches;
	size_t n_matches;
	struct source_journal *journal;
	uint64_t findtime_usec; /* the longest of its jails: how far back a first start reads */
	uint64_t errors_seen;
};

struct sources {
	sd_event *event;
	sources_sink_fn sink;
	void *userdata;
	size_t max_line;
	struct file *files;
	size_t n_files;
	struct journal *journals;
	size_t n_journals;
	char *positions_path;
	bool dirty;
	bool save_failed; /* said once, until a save works again */
	sd_event_source *save_timer;
};

static uint64_t realtime_now(const struct sources *s)
{
	uint64_t t = 0;
	sd_event_now(s->event, CLOCK_REALTIME, &t);
	return t;
}

static bool add_jail(struct reader *r, struct engine_jail *ej)
{
	struct engine_jail **slot = ARRAY_GROW(r->jails, r->n_jails);
	if (slot)
		*slot = ej;
	return slot;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- positions ---- */

int sources_save(struct sources *s)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	if (!s->dirty)
		return 0;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_files; i++) {
		struct source_file_pos pos;
		char text[160];
		source_file_get_pos(s->files[i].file, &pos);
		if (source_file_pos_format(&pos, text, sizeof(text)) >= 0)
			fprintf(f, "%s\t%s\n", text, s->files[i].path);
	}
	for (size_t i = 0; i < s->n_journals; i++) {
		_cleanup_free_ char *cursor = NULL;
		if (source_journal_get_cursor(s->journals[i].journal, &cursor) >= 0)
			fprintf(f, "%s\t%s\n", cursor, s->journals[i].key);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	r = state_write_atomic(s->positions_path, buf, size, 0600);
	free(buf);
	/* A full disk fails every save: said once, not every second while lines flow. */
	if (r < 0 && !s->save_failed)
		log_warning_errno(r, "cannot save positions to %s: %m; retried while lines come",
				  s->positions_path);
	else if (r >= 0 && s->save_failed)
		log_notice("positions saved to %s again", s->positions_path);
	s->save_failed = r < 0;
	if (r < 0)
		return r;
	s->dirty = false;
	return 0;
}

static int on_save_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
	(void)es;
	(void)usec;
	/* A failure is logged; the next batch tries again. */
	(void)sources_save(userdata);
	return 0;
}

/* Something was read: positions are saved at most once a second while lines flow; a failed
 * save is retried after the next batch, since the timer is armed whenever it is off. */
static void positions_changed(struct sources *s)
{
	uint64_t now;
	int enabled = SD_EVENT_OFF;

	s->dirty = true;
	sd_event_source_get_enabled(s->save_timer, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;
	if (sd_event_now(s->event, CLOCK_MONOTONIC, &now) >= 0) {
		sd_event_source_set_time(s->save_timer, now + SAVE_DELAY_USEC);
		sd_event_source_set_enabled(s->save_timer, SD_EVENT_ONESHOT);
	}
}

bool sources_find_saved(const char *saved, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	for (const char *line = saved; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *tab = memchr(line, '\t', len);
		if (tab && len - (size_t)(tab + 1 - line) == klen &&
		    memcmp(tab + 1, key, klen) == 0) {
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

/* ---- the readers' callbacks ---- */

static void on_line(const char *line, size_t len, void *userdata)
{
	struct file *f = userdata;
	struct logline l;

	f->r.lines++;
	logline_parse(&f->clock, line, len, &l);
	f->r.s->sink(f->r.jails, f->r.n_jails, &l, f->r.s->userdata);
}

static void on_entry(const struct logline *l, void *userdata)
{
	struct journal *j = userdata;

	j->r.lines++;
	j->r.s->sink(j->r.jails, j->r.n_jails, l, j->r.s->userdata);
}

static void on_batch(struct source_file *sf, void *userdata)
{
	struct file *f = userdata;
	(void)sf;

	/* The reference for the year of RFC 3164 stamps moves with time (December -> January). */
	timeutil_clock_init(&f->clock, realtime_now(f->r.s));
	positions_changed(f->r.s);
}

static void on_journal_batch(struct source_journal *sj, void *userdata)
{
	struct journal *j = userdata;
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
	positions_changed(j->r.s);
}

/* ---- which sources the jails ask for ---- */

static bool use_journal(const struct config_jail *c)
{
	if (!config_jail_reads_logs(c))
		return false;
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

static struct file *file_for(struct sources *s, const char *path)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	struct file *f = ARRAY_GROW(s->files, s->n_files);
	if (!f)
		return NULL;
	f->r.s = s;
	f->path = strdup(path);
	return f->path ? f : NULL;
}

/* A jail's journal matches: its own, or the filter's tags as SYSLOG_IDENTIFIER= matches (none
 * for a filter without tags: then every entry). Returns 0, or -ENOMEM with nothing kept. */
static int journal_matches(const struct config_jail *c, char ***ret, size_t *ret_n)
{
	char **matches = NULL;
	size_t n = 0;

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
	*ret = matches;
	*ret_n = n;
	return 0;
oom:
	strv_free(matches, n);
	return -ENOMEM;
}

static char *journal_key(const char *directory, char *const *matches, size_t n)
{
	char *key = NULL;
	size_t keysize = 0;
	FILE *f = open_memstream(&key, &keysize);

	if (!f)
		return NULL;
	fprintf(f, "journal:%s:", directory ? directory : "system");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", matches[i]);
	if (fclose(f) != 0) {
		free(key);
		return NULL;
	}
	return key;
}

/* The journal reader for a jail's directory and matches, created on first use. */
static struct journal *journal_for(struct sources *s, const struct config_jail *c)
{
	char **matches = NULL, *key = NULL;
	size_t n = 0;
	struct journal *j = NULL;

	if (journal_matches(c, &matches, &n) < 0 ||
	    !(key = journal_key(c->journal_directory, matches, n)))
		goto out;
	for (size_t i = 0; i < s->n_journals; i++)
		if (strcmp(s->journals[i].key, key) == 0) {
			j = &s->journals[i]; /* shared: this jail's copies are not needed */
			goto out;
		}
	j = ARRAY_GROW(s->journals, s->n_journals);
	if (!j)
		goto out;
	j->r.s = s;
	j->key = TAKE_PTR(key);
	j->matches = TAKE_PTR(matches);
	j->n_matches = n;
	if (c->journal_directory && !(j->directory = strdup(c->journal_directory)))
		return NULL;
	return j;
out:
	free(key);
	strv_free(matches, n);
	return j;
}

/* ---- start and stop ---- */

static int start_journal(struct journal *j, const char *saved)
{
	struct sources *s = j->r.s;
	char cursor[1024];
	bool have = sources_find_saved(saved, j->key, cursor, sizeof(cursor));
	uint64_t now = realtime_now(s);
	int r;

	r = source_journal_new(s->event, j->directory, (const char *const *)j->matches,
			       j->n_matches, on_entry, on_journal_batch, j, &j->journal);
	if (r < 0)
		return log_error_errno(r, "journal %s: %m", j->key);
	/* Without a cursor: as far back as the longest window, no further. */
	r = source_journal_start(j->journal, have ? cursor : NULL,
				 now > j->findtime_usec ? now - j->findtime_usec : 0);
	if (r < 0)
		return log_error_errno(r, "journal %s: cannot follow: %m", j->key);
	if (r == 1 && have)
		log_warning("journal %s: saved cursor not usable, reading the last %llus", j->key,
			    (unsigned long long)(j->findtime_usec / USEC_PER_SEC));
	log_info("following the journal %s (%zu jails)%s", j->key + strlen("journal:"),
		 j->r.n_jails, have && r == 0 ? ", resuming at the saved cursor" : "");
	return 0;
}

static int start_file(struct file *f, const char *saved)
{
	struct sources *s = f->r.s;
	struct source_file_pos pos;
	char text[160];
	bool have = sources_find_saved(saved, f->path, text, sizeof(text)) &&
		    source_file_pos_parse(text, &pos) == 0;
	int r;

	timeutil_clock_init(&f->clock, realtime_now(s));
	r = source_file_new(s->event, f->path, s->max_line, on_line, on_batch, f, &f->file);
	if (r < 0)
		return log_error_errno(r, "%s: %m", f->path);
	r = source_file_start(f->file, have ? &pos : NULL);
	if (r < 0)
		return log_error_errno(r, "%s: cannot follow: %m", f->path);
	log_info("following %s (%zu jails)%s", f->path, f->r.n_jails,
		 have ? ", resuming at the saved position" : "");
	return 0;
}

/* Each jail joins the readers of its files and of its journal matches. */
static int assign_jail(struct sources *s, struct engine_jail *ej)
{
	const struct config_jail *c = ej->conf;

	for (size_t k = 0; use_files(c) && k < c->n_sources; k++) {
		struct file *f = file_for(s, c->sources[k]);
		if (!f || !add_jail(&f->r, ej))
			return -ENOMEM;
	}
	if (use_journal(c)) {
		struct journal *j = journal_for(s, c);
		if (!j || !add_jail(&j->r, ej))
			return -ENOMEM;
		j->findtime_usec = MAX(j->findtime_usec, c->findtime_usec);
	}
	return 0;
}

int sources_start(struct sources *s, const struct config *c, struct engine *engine)
{
	_cleanup_free_ char *saved = NULL;
	int r;

	s->max_line = c->max_line;
	r = state_read_file(s->positions_path, MAX_POSITIONS_FILE, &saved, NULL);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "cannot read %s, reading logs from their start: %m",
				  s->positions_path);
	for (size_t i = 0; i < engine->n_jails; i++)
		if (assign_jail(s, &engine->jails[i]) < 0)
			return log_error_errno(-ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n_journals; i++)
		if ((r = start_journal(&s->journals[i], saved)) < 0)
			return r;
	for (size_t i = 0; i < s->n_files; i++)
		if ((r = start_file(&s->files[i], saved)) < 0)
			return r;
	return 0;
}

void sources_stop(struct sources *s)
{
	(void)sources_save(s);
	for (size_t i = 0; i < s->n_files; i++) {
		source_file_free(s->files[i].file);
		free(s->files[i].path);
		free(s->files[i].r.jails);
	}
	free(s->files);
	s->files = NULL;
	s->n_files = 0;
	for (size_t i = 0; i < s->n_journals; i++) {
		struct journal *j = &s->journals[i];
		source_journal_free(j->journal);
		free(j->key);
		free(j->directory);
		strv_free(j->matches, j->n_matches);
		free(j->r.jails);
	}
	free(s->journals);
	s->journals = NULL;
	s->n_journals = 0;
}

int sources_new(sd_event *e, const char *state_dir, sources_sink_fn sink, void *userdata,
		struct sources **ret)
{
	_cleanup_(sources_freep) struct sources *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->event = sd_event_ref(e);
	s->sink = sink;
	s->userdata = userdata;
	if (asprintf(&s->positions_path, "%s/" POSITIONS_FILE, state_dir) < 0) {
		s->positions_path = NULL;
		return -ENOMEM;
	}
	r = sd_event_add_time(e, &s->save_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_save_timer, s);
	if (r < 0)
		return log_error_errno(r, "cannot add the save-positions timer: %m");
	sd_event_source_set_description(s->save_timer, "save-positions");
	sd_event_source_set_enabled(s->save_timer, SD_EVENT_OFF);
	*ret = TAKE_PTR(s);
	return 0;
}

size_t sources_n_files(const struct sources *s)
{
	return s->n_files;
}

size_t sources_n_journals(const struct sources *s)
{
	return s->n_journals;
}

struct sources_stat sources_get_stat(const struct sources *s, size_t i)
{
	if (i < s->n_files)
		return (struct sources_stat){ s->files[i].path, s->files[i].r.lines };
	i -= s->n_files;
	return (struct sources_stat){ s->journals[i].key, s->journals[i].r.lines };
}

struct sources *sources_free(struct sources *s)
{
	if (!s)
		return NULL;
	sources_stop(s);
	sd_event_source_disable_unref(s->save_timer);
	sd_event_unref(s->event);
	free(s->positions_path);
	free(s);
	return NULL;
}
