/* Follows the systemd journal (sd-journal) from the sd-event loop: the journal's inotify fd wakes
 * us, sd_journal_process() digests file changes (rotation, vacuuming, journald restarts show up as
 * SD_JOURNAL_INVALIDATE), bounded batches of matching entries are handed on, and the cursor of the
 * last one is kept so that a reopen (after an error, every SOURCE_JOURNAL_RETRY_USEC) or a restart
 * of the daemon resumes right after it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "journal_match.h"
#include "macro.h"
#include "source_journal.h"

#define MSG_FIELD  "MESSAGE="
#define TAG_FIELD  "SYSLOG_IDENTIFIER="
#define TIME_FIELD "_SOURCE_REALTIME_TIMESTAMP="

struct source_journal {
	sd_event *event;
	char *directory; /* NULL: the local system journal */
	char **matches;
	size_t n_matches;
	source_journal_entry_fn on_entry;
	source_journal_batch_fn on_batch;
	void *userdata;

	sd_journal *journal;	       /* NULL while waiting to retry */
	sd_event_source *io_source;    /* the journal's inotify fd, per open journal */
	sd_event_source *defer_source; /* oneshot: more to read than one batch */
	sd_event_source *wake_source;  /* sd_journal_get_timeout(): journals without inotify */
	sd_event_source *retry_source; /* reopens the journal after an error */
	bool started;
	bool opened_once;
	bool skip_cursor_entry; /* after seeking to cursor: its own entry is not handed on */

	char *cursor;	     /* of the last entry consumed; NULL while none */
	uint64_t since_usec; /* where to start while there is no cursor */
	struct source_journal_stats stats;
	char tag[SOURCE_JOURNAL_MAX_TAG + 1];
};

/* Decimal microseconds, digits only, no overflow. */
static bool parse_usec(const char *p, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return false;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

static void arm_timer(struct source_journal *s, sd_event_source *src, uint64_t usec)
{
	uint64_t now;

	if (sd_event_now(s->event, CLOCK_MONOTONIC, &now) < 0)
		return;
	(void)sd_event_source_set_time(src, now + usec);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static void journal_close(struct source_journal *s)
{
	s->io_source = sd_event_source_disable_unref(s->io_source);
	if (s->wake_source)
		(void)sd_event_source_set_enabled(s->wake_source, SD_EVENT_OFF);
	if (s->defer_source)
		(void)sd_event_source_set_enabled(s->defer_source, SD_EVENT_OFF);
	if (s->journal) {
		sd_journal_close(s->journal);
		s->journal = NULL;
	}
}

/* Something failed: close everything and try again later. */
static void journal_fail(struct source_journal *s, int error)
{
	s->stats.errors++;
	s->stats.last_error = error;
	journal_close(s);
	arm_timer(s, s->retry_source, SOURCE_JOURNAL_RETRY_USEC);
}

/* Journals on file systems without inotify need a periodic look; local ones do not. */
static void arm_wake(struct source_journal *s)
{
	uint64_t t = UINT64_MAX;

	if (sd_journal_get_timeout(s->journal, &t) < 0 || t == UINT64_MAX) {
		(void)sd_event_source_set_enabled(s->wake_source, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(s->wake_source, t);
	(void)sd_event_source_set_enabled(s->wake_source, SD_EVENT_ONESHOT);
}

/* No journal file at all (e.g. the system journal before journald created its directories,
 * which sd-journal then never watches): look again later, without counting an error. */
static void check_files(struct source_journal *s)
{
	uint64_t bytes = 0;
	int enabled = SD_EVENT_OFF;

	if (sd_journal_get_usage(s->journal, &bytes) < 0 || bytes > 0)
		return;
	s->stats.no_files++;
	(void)sd_event_source_get_enabled(s->retry_source, &enabled);
	if (enabled == SD_EVENT_OFF)
		arm_timer(s, s->retry_source, SOURCE_JOURNAL_RETRY_USEC);
}

/* Positions a freshly opened journal right after s->cursor, or at s->since_usec when there is
 * no cursor or it is not a valid one (then returns 1). */
static int journal_seek(struct source_journal *s)
{
	int r;

	s->skip_cursor_entry = false;
	if (s->cursor) {
		r = sd_journal_seek_cursor(s->journal, s->cursor);
		if (r >= 0) {
			s->skip_cursor_entry = true;
			return 0;
		}
		if (r != -EINVAL)
			return r;
		free(s->cursor);
		s->cursor = NULL;
		s->stats.cursor_rejected++;
		r = sd_journal_seek_realtime_usec(s->journal, s->since_usec);
		return r < 0 ? r : 1;
	}
	r = sd_journal_seek_realtime_usec(s->journal, s->since_usec);
	return r < 0 ? r : 0;
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata);

/* Opens the journal, adds the matches, watches its fd and seeks. Returns what journal_seek()
 * returns, or -errno with everything closed. */
static int add_matches(sd_journal *j, const char *const *matches, size_t n);

static int journal_open(struct source_journal *s)
{
	int r, fd, events;

	if (s->directory)
		r = sd_journal_open_directory(&s->journal, s->directory, 0);
	else
		r = sd_journal_open(&s->journal, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0) {
		s->journal = NULL;
		return r;
	}
	/* Before anything else, so that no file change after the open goes unnoticed. */
	fd = sd_journal_get_fd(s->journal);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	/* Compressed fields are only inflated this far: one byte more than we hand on is enough to
	 * tell that a message is too long. */
	r = sd_journal_set_data_threshold(s->journal,
					  strlen(MSG_FIELD) + SOURCE_JOURNAL_MAX_MSG + 1);
	if (r < 0)
		goto fail;
	r = add_matches(s->journal, (const char *const *)s->matches, s->n_matches);
	if (r < 0)
		goto fail;
	events = sd_journal_get_events(s->journal);
	if (events < 0) {
		r = events;
		goto fail;
	}
	r = sd_event_add_io(s->event, &s->io_source, fd, (uint32_t)events, on_io, s);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(s->io_source, "source-journal-io");
	r = journal_seek(s);
	if (r < 0)
		goto fail;
	if (s->opened_once)
		s->stats.reopens++;
	s->opened_once = true;
	check_files(s);
	arm_wake(s);
	/* Whatever is already there is read from the loop. */
	(void)sd_event_source_set_enabled(s->defer_source, SD_EVENT_ONESHOT);
	return r;

fail:
	journal_close(s);
	return r;
}

/* Turns the current entry into a logline (tag copied into tag, which holds
 * SOURCE_JOURNAL_MAX_TAG + 1 bytes; msg valid until the next sd_journal call). Returns 0,
 * -ENODATA without MESSAGE, -E2BIG for an over-long tag or message. */
static int entry_to_logline(sd_journal *j, char *tag, struct logline *l)
{
	const void *d;
	size_t len;
	int r;

	*l = (struct logline){ 0 };
	r = sd_journal_get_data(j, "SYSLOG_IDENTIFIER", &d, &len);
	if (r >= 0 && len >= strlen(TAG_FIELD)) {
		len -= strlen(TAG_FIELD);
		if (len > SOURCE_JOURNAL_MAX_TAG)
			return -E2BIG;
		/* Copied: the next sd_journal_get_data() may invalidate d. */
		memcpy(tag, (const char *)d + strlen(TAG_FIELD), len);
		tag[len] = '\0';
		l->tag = tag;
		l->tag_len = len;
	}

	r = sd_journal_get_data(j, "_SOURCE_REALTIME_TIMESTAMP", &d, &len);
	if (r < 0 || len < strlen(TIME_FIELD) ||
	    !parse_usec((const char *)d + strlen(TIME_FIELD), len - strlen(TIME_FIELD),
			&l->time_usec))
		if (sd_journal_get_realtime_usec(j, &l->time_usec) < 0)
			l->time_usec = 0;

	/* Last: its pointer has to stay valid during the callback. */
	r = sd_journal_get_data(j, "MESSAGE", &d, &len);
	if (r < 0 || len < strlen(MSG_FIELD))
		return -ENODATA;
	len -= strlen(MSG_FIELD);
	if (len > SOURCE_JOURNAL_MAX_MSG)
		return -E2BIG;
	l->msg = (const char *)d + strlen(MSG_FIELD);
	l->msg_len = len;
	return 0;
}

/* Hands on the current entry, or counts why not. */
static void hand_on(struct source_journal *s)
{
	struct logline l;

	switch (entry_to_logline(s->journal, s->tag, &l)) {
	case 0:
		s->stats.entries++;
		s->on_entry(&l, s->userdata);
		break;
	case -ENODATA:
		s->stats.no_message++;
		break;
	default:
		s->stats.too_long++;
		break;
	}
}

/* Each group's terms are AND-ed (the same field's OR-ed, sd-journal's rule), the groups OR-ed. */
static int add_matches(sd_journal *j, const char *const *matches, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *cur = matches[i], *t;
		size_t len;
		int r;
		if (i > 0 && (r = sd_journal_add_disjunction(j)) < 0)
			return r;
		while (journal_match_next(&cur, &t, &len))
			if ((r = sd_journal_add_match(j, t, len)) < 0)
				return r;
	}
	return 0;
}

int source_journal_read_all(const char *directory, const char *const *matches, size_t n_matches,
			    uint64_t since_usec, source_journal_entry_fn on_entry, void *userdata)
{
	sd_journal *j = NULL;
	char tag[SOURCE_JOURNAL_MAX_TAG + 1];
	struct logline l;
	int r, n = 0;

	for (size_t i = 0; i < n_matches; i++)
		if (!journal_match_valid(matches[i]))
			return -EINVAL;
	r = directory ? sd_journal_open_directory(&j, directory, 0)
		      : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0)
		return r;
	r = sd_journal_set_data_threshold(j, strlen(MSG_FIELD) + SOURCE_JOURNAL_MAX_MSG + 1);
	if (r >= 0)
		r = add_matches(j, matches, n_matches);
	if (r >= 0)
		r = since_usec ? sd_journal_seek_realtime_usec(j, since_usec)
			       : sd_journal_seek_head(j);
	while (r >= 0 && (r = sd_journal_next(j)) > 0) {
		if (entry_to_logline(j, tag, &l) < 0)
			continue;
		on_entry(&l, userdata);
		n++;
	}
	sd_journal_close(j);
	return r < 0 ? r : n;
}

/* Reads one bounded batch into *consumed entries (handed on or skipped); *more is set when the
 * batch was full. The cursor is saved before returning, errors included, so that whatever was
 * handed on is never handed on again. Returns 0 or -errno. */
static int read_batch(struct source_journal *s, unsigned *consumed, bool *more)
{
	unsigned n = 0;
	int r = 0;

	*more = false;
	while (n < SOURCE_JOURNAL_BATCH) {
		r = sd_journal_next(s->journal);
		if (r <= 0)
			break;
		n++;
		if (s->skip_cursor_entry) {
			s->skip_cursor_entry = false;
			if (sd_journal_test_cursor(s->journal, s->cursor) > 0)
				continue;
		}
		hand_on(s);
	}
	*consumed = n;
	if (n > 0) {
		char *c = NULL;
		int k = sd_journal_get_cursor(s->journal, &c);

		if (k < 0) {
			if (r >= 0)
				r = k;
		} else {
			free(s->cursor);
			s->cursor = c;
		}
		s->stats.batches++;
	}
	if (r < 0)
		return r;
	*more = n == SOURCE_JOURNAL_BATCH;
	return 0;
}

/* Reads a batch and arranges for the rest. */
static void run(struct source_journal *s)
{
	unsigned n;
	bool more;
	int r = read_batch(s, &n, &more);

	if (r < 0) {
		journal_fail(s, r);
	} else {
		arm_wake(s);
		if (more)
			(void)sd_event_source_set_enabled(s->defer_source, SD_EVENT_ONESHOT);
	}
	/* After the cursor was saved (also on error: the entries before it were handed on). */
	if (n > 0 && s->on_batch)
		s->on_batch(s, s->userdata);
}

/* sd_journal_process() must see every wake-up of the fd, and also runs on the wake timer. */
static void process(struct source_journal *s)
{
	int r = sd_journal_process(s->journal);

	if (r < 0) {
		journal_fail(s, r);
		return;
	}
	if (r == SD_JOURNAL_INVALIDATE) {
		s->stats.invalidations++;
		check_files(s);
	}
	run(s);
}

static int on_io(sd_event_source *es _unused_, int fd _unused_, uint32_t revents _unused_,
		 void *userdata)
{
	process(userdata);
	return 0;
}

static int on_wake(sd_event_source *es _unused_, uint64_t usec _unused_, void *userdata)
{
	struct source_journal *s = userdata;

	if (s->journal)
		process(s);
	return 0;
}

static int on_defer(sd_event_source *es _unused_, void *userdata)
{
	struct source_journal *s = userdata;

	if (s->journal)
		process(s);
	return 0;
}

/* After an error, or while there are no journal files: (re)open and resume at the cursor. */
static int on_retry(sd_event_source *es _unused_, uint64_t usec _unused_, void *userdata)
{
	struct source_journal *s = userdata;
	uint64_t bytes = 0;
	int r;

	if (s->journal && sd_journal_get_usage(s->journal, &bytes) >= 0 && bytes > 0)
		return 0; /* files showed up in watched directories meanwhile */
	journal_close(s);
	r = journal_open(s);
	if (r < 0)
		journal_fail(s, r);
	return 0;
}

int source_journal_new(sd_event *e, const char *directory, const char *const *matches,
		       size_t n_matches, source_journal_entry_fn on_entry,
		       source_journal_batch_fn on_batch, void *userdata,
		       struct source_journal **ret)
{
	struct source_journal *s;
	int r = -ENOMEM;

	if (!e || !on_entry || !ret || (n_matches > 0 && !matches) ||
	    (directory && directory[0] == '\0'))
		return -EINVAL;
	for (size_t i = 0; i < n_matches; i++)
		if (!matches[i] || !journal_match_valid(matches[i]))
			return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->event = sd_event_ref(e);
	s->on_entry = on_entry;
	s->on_batch = on_batch;
	s->userdata = userdata;
	if (directory) {
		s->directory = strdup(directory);
		if (!s->directory)
			goto fail;
	}
	if (n_matches > 0) {
		s->matches = calloc(n_matches, sizeof(*s->matches));
		if (!s->matches)
			goto fail;
		s->n_matches = n_matches;
		for (size_t i = 0; i < n_matches; i++) {
			s->matches[i] = strdup(matches[i]);
			if (!s->matches[i])
				goto fail;
		}
	}

	r = sd_event_add_defer(e, &s->defer_source, on_defer, s);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(s->defer_source, "source-journal-more");
	r = sd_event_source_set_enabled(s->defer_source, SD_EVENT_OFF);
	if (r < 0)
		goto fail;
	r = sd_event_add_time(e, &s->wake_source, CLOCK_MONOTONIC, 0, 0, on_wake, s);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(s->wake_source, "source-journal-wake");
	r = sd_event_source_set_enabled(s->wake_source, SD_EVENT_OFF);
	if (r < 0)
		goto fail;
	r = sd_event_add_time(e, &s->retry_source, CLOCK_MONOTONIC, 0, 0, on_retry, s);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(s->retry_source, "source-journal-retry");
	r = sd_event_source_set_enabled(s->retry_source, SD_EVENT_OFF);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;

fail:
	source_journal_free(s);
	return r;
}

int source_journal_start(struct source_journal *s, const char *cursor, uint64_t since_usec)
{
	int r;

	if (!s)
		return -EINVAL;
	if (s->started)
		return -EBUSY;
	if (cursor && cursor[0] != '\0') {
		s->cursor = strdup(cursor);
		if (!s->cursor)
			return -ENOMEM;
	}
	s->since_usec = since_usec;
	s->started = true;
	r = journal_open(s);
	if (r < 0) {
		journal_fail(s, r);
		return 0;
	}
	return r;
}

int source_journal_get_cursor(const struct source_journal *s, char **ret)
{
	char *c;

	if (!s->cursor)
		return -ENODATA;
	c = strdup(s->cursor);
	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

const struct source_journal_stats *source_journal_get_stats(const struct source_journal *s)
{
	return &s->stats;
}

bool source_journal_is_open(const struct source_journal *s)
{
	return s->journal != NULL;
}

struct source_journal *source_journal_free(struct source_journal *s)
{
	if (!s)
		return NULL;
	journal_close(s);
	s->defer_source = sd_event_source_disable_unref(s->defer_source);
	s->wake_source = sd_event_source_disable_unref(s->wake_source);
	s->retry_source = sd_event_source_disable_unref(s->retry_source);
	for (size_t i = 0; i < s->n_matches; i++)
		free(s->matches[i]);
	free(s->matches);
	free(s->directory);
	free(s->cursor);
	sd_event_unref(s->event);
	free(s);
	return NULL;
}
