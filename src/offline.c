/* test-filter and replay: read a log (file or stdin) in large blocks, split lines with the same
 * rule as the file source (longer than max_line: counted and skipped whole), and run one filter
 * or all jails over them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "offline.h"
#include "source_journal.h"
#include "timeutil.h"

#define READ_BLOCK (1024 * 1024)

typedef void (*line_fn)(const char *line, size_t len, void *userdata);

struct reader_stats {
	uint64_t lines, too_long;
};

/* Calls fn for every complete line (and a last line without newline). Returns 0 or -errno. */
static int read_lines(int fd, size_t max_line, line_fn fn, void *userdata, struct reader_stats *st)
{
	size_t cap = READ_BLOCK + max_line;
	_cleanup_free_ char *buf = malloc(cap);
	size_t have = 0;
	bool skipping = false;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		have += (size_t)n;

		char *p = buf, *end = buf + have, *nl;
		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			size_t len = (size_t)(nl - p);
			if (skipping)
				skipping = false;
			else if (len > max_line)
				st->too_long++;
			else {
				st->lines++;
				fn(p, len, userdata);
			}
			p = nl + 1;
		}
		have = (size_t)(end - p);
		if (have > max_line) {
			/* The line cannot fit: drop what we have and skip to its newline. */
			if (!skipping)
				st->too_long++;
			skipping = true;
			have = 0;
		} else
			memmove(buf, p, have);
	}
	if (have > 0 && !skipping) {
		st->lines++;
		fn(buf, have, userdata);
	}
	return 0;
}

static int open_input(const char *input)
{
	if (strcmp(input, "-") == 0)
		return STDIN_FILENO;
	int fd = open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(errno, "%s: %m", input);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd;
}

/* Default journal matches: SYSLOG_IDENTIFIER= every tag of the given filters. */
static char **tag_matches(const struct config_filter *const *filters, size_t n, size_t *ret_n)
{
	char **v = NULL;
	size_t nv = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < filters[i]->n_tags; k++) {
			char **slot = ARRAY_GROW(v, nv);
			if (!slot ||
			    asprintf(slot, "SYSLOG_IDENTIFIER=%s", filters[i]->tags[k]) < 0) {
				*ret_n = nv;
				return v;
			}
		}
	*ret_n = nv;
	return v;
}

typedef void (*entry_fn)(const struct logline *l, void *userdata);

/* Reads the input's lines (parsed with clock) or journal entries into fn. Returns 0 or an exit
 * code. */
static int read_input(const struct offline_input *in, const struct config_filter *const *filters,
		      size_t n_filters, size_t max_line, line_fn on_line, entry_fn on_entry,
		      void *userdata, struct reader_stats *st)
{
	if (in->journal) {
		size_t n = in->n_matches;
		char **own = NULL;
		const char *const *matches = in->matches;
		if (n == 0) {
			own = tag_matches(filters, n_filters, &n);
			matches = (const char *const *)own;
		}
		int r = source_journal_read_all(in->journal_directory, matches, n, 0, on_entry,
						userdata);
		for (size_t i = 0; own && i < n; i++)
			free(own[i]);
		free(own);
		if (r < 0) {
			log_error_errno(r, "cannot read the journal%s%s: %m",
					in->journal_directory ? " in " : "",
					in->journal_directory ? in->journal_directory : "");
			return r == -EINVAL ? EX_USAGE : EX_NOINPUT;
		}
		st->lines += (uint64_t)r;
		return EX_OK;
	}
	int fd = open_input(in->path);
	if (fd < 0)
		return EX_NOINPUT;
	int r = read_lines(fd, max_line, on_line, userdata, st);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0) {
		log_error_errno(r, "%s: %m", in->path);
		return EX_IOERR;
	}
	return EX_OK;
}

struct tf_ctx {
	struct filter *f;
	struct timeutil_clock clock;
	const struct test_filter_opts *o;
	uint64_t matched, events, ignored;
	FILE *out;
};

static void tf_entry(const struct logline *l, void *userdata)
{
	struct tf_ctx *c = userdata;
	struct filter_hit h;
	char buf[ADDR_STRLEN];

	switch (filter_match(c->f, l, &h)) {
	case FILTER_HIT:
		c->matched++;
		if (c->o->hosts || c->o->users)
			fprintf(c->out, c->o->users ? "%s\t" : "%s\n",
				addr_format(&h.addr, buf, sizeof(buf)));
		/* <USER> holds no control character: it prints as it is. */
		if (c->o->users)
			fprintf(c->out, "%.*s\n", h.user ? (int)h.user_len : 1,
				h.user ? h.user : "-");
		break;
	case FILTER_EVENT:
		c->events++;
		break;
	case FILTER_IGNORED:
		c->ignored++;
		break;
	}
}

static void tf_line(const char *line, size_t len, void *userdata)
{
	struct tf_ctx *c = userdata;
	struct logline l;

	logline_parse(&c->clock, line, len, &l);
	tf_entry(&l, userdata);
}

int offline_test_filter(const struct config_filter *cf, const struct offline_input *in,
			const struct test_filter_opts *o)
{
	_cleanup_(filter_freep) struct filter *f = NULL;
	struct config_errors errs = { 0 };
	struct reader_stats st = { 0 };
	struct tf_ctx c = { .o = o, .out = stdout };
	int r;

	if (config_compile_filter(cf, NULL, &f, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_clear(&errs);
		return EX_CONFIG;
	}
	c.f = f;
	timeutil_clock_init(&c.clock, timeutil_now(CLOCK_REALTIME));
	uint64_t t0 = timeutil_now(CLOCK_MONOTONIC);
	r = read_input(in, &cf, 1, CONFIG_DEFAULT_MAX_LINE, tf_line, tf_entry, &c, &st);
	uint64_t t1 = timeutil_now(CLOCK_MONOTONIC);
	if (r != EX_OK)
		return r;
	if (o->hosts || o->users)
		return fflush(stdout) == 0 ? EX_OK : EX_IOERR;

	const struct filter_stats *fs = filter_get_stats(f);
	double secs = (double)(t1 - t0) / 1e6;
	printf("Filter:  %s (%s)%s\n", cf->name, cf->file, filter_jit(f) ? "" : " [no JIT]");
	printf("Lines:   %llu read, %llu matched, %llu events, %llu ignored, %llu bad address, "
	       "%llu too long\n",
	       (unsigned long long)st.lines, (unsigned long long)c.matched,
	       (unsigned long long)c.events, (unsigned long long)c.ignored,
	       (unsigned long long)fs->bad_addr, (unsigned long long)st.too_long);
	printf("Failregex hits:\n");
	for (size_t i = 0; i < filter_n_regex(f); i++)
		printf("  %zu) %10llu  %s%s\n", i + 1, (unsigned long long)fs->per_regex[i],
		       cf->fail[i].pattern, filter_regex_has_host(f, i) ? "" : "  [event]");
	printf("Time:    %.3f s, %.0f lines/s\n", secs, secs > 0 ? (double)st.lines / secs : 0.0);
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}

struct replay_ctx {
	struct engine *e;
	struct timeutil_clock clock;
	uint64_t last_time;
	uint64_t bans;
	FILE *out;
};

static void replay_entry(const struct logline *l, void *userdata)
{
	struct replay_ctx *c = userdata;
	struct jail_ban ban;

	/* A line without a time we understand happened when the one before it did. */
	if (l->time_usec)
		c->last_time = l->time_usec;
	if (!c->last_time)
		return;
	for (size_t i = 0; i < c->e->n_jails; i++) {
		struct engine_jail *ej = &c->e->jails[i];
		if (engine_feed(ej, l, c->last_time, &ban) != ENGINE_BAN)
			continue;
		char t[32], a[ADDR_STRLEN];
		fprintf(c->out, "%s\t%s\t%s\t%llu\n",
			timeutil_format_rfc3339(ban.time_usec, t, sizeof(t)), ej->conf->name,
			addr_format(&ban.addr, a, sizeof(a)),
			(unsigned long long)(ban.bantime_usec / USEC_PER_SEC));
		c->bans++;
	}
}

static void replay_line(const char *line, size_t len, void *userdata)
{
	struct replay_ctx *c = userdata;
	struct logline l;

	logline_parse(&c->clock, line, len, &l);
	replay_entry(&l, userdata);
}

int offline_replay(const struct config *cfg, const char *only_jail, const struct offline_input *in)
{
	_cleanup_(engine_freep) struct engine *e = NULL;
	struct config_errors errs = { 0 };
	struct reader_stats st = { 0 };
	struct replay_ctx c = { .out = stdout };
	int r;

	r = engine_new(cfg, only_jail, &e, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	config_errors_clear(&errs);
	if (r == -ENOENT) {
		log_error("no jail named '%s'", only_jail);
		return EX_USAGE;
	}
	if (r < 0)
		return EX_CONFIG;
	c.e = e;
	timeutil_clock_init(&c.clock, timeutil_now(CLOCK_REALTIME));
	const struct config_filter **filters = calloc(e->n_jails + 1, sizeof(*filters));
	if (!filters)
		return EX_OSERR;
	for (size_t i = 0; i < e->n_jails; i++)
		filters[i] = e->jails[i].conf->filter;
	r = read_input(in, filters, e->n_jails, cfg->max_line, replay_line, replay_entry, &c, &st);
	free(filters);
	if (r != EX_OK)
		return r;
	log_info("replay: %llu lines, %llu too long, %llu ban decisions",
		 (unsigned long long)st.lines, (unsigned long long)st.too_long,
		 (unsigned long long)c.bans);
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}
