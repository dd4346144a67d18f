/* test-filter and replay: read a log (file or stdin) in large blocks, split lines with the same
 * rule as the file source (longer than max_line: counted and skipped whole), and run one filter
 * or all jails over them. What the daemon has no use for (lines of other programs and their
 * tags, which allowlist entry took a hit, addresses that never reached maxretry) is counted
 * here, beside the hot path, so that a result of nothing comes with its most likely reason. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addrindex.h"
#include "bans.h"
#include "engine.h"
#include "log.h"
#include "offline.h"
#include "source_journal.h"
#include "timeutil.h"

#define READ_BLOCK (1024 * 1024)
/* How often (in the log's time) replay's ban table forgets what offence_memory lets go, as the
 * daemon's does every hour. */
#define REPLAY_MAINTAIN_USEC (3600 * USEC_PER_SEC)

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

static bool ends_with(const char *s, const char *suffix)
{
	size_t l = strlen(s), k = strlen(suffix);
	return l > k && strcmp(s + l - k, suffix) == 0;
}

/* Counts the journal files in dfd (which it closes), and with descend in the directories right
 * under it. */
static int count_journal_files(int dfd, bool descend)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int n = 0;

	if (!d) {
		int e = errno;
		close(dfd);
		return -e;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* "*.journal~": a file journald did not close cleanly, still read by sd-journal. */
		if (ends_with(de->d_name, ".journal") || ends_with(de->d_name, ".journal~")) {
			n++;
			continue;
		}
		if (!descend)
			continue;
		int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int k = sub >= 0 ? count_journal_files(sub, false) : 0;
		n += MAX(k, 0);
	}
	closedir(d);
	return n;
}

int offline_journal_files(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return count_journal_files(fd, true);
}

/* sd_journal_open() opens a journal without files as an empty one: --journal on a host without
 * a journal would say "0 lines" and nothing else. Returns 0, or EX_NOINPUT after saying why. */
static int journal_check(const char *directory)
{
	static const char *const system_dirs[] = { "/var/log/journal", "/run/log/journal" };
	bool any_dir = false;
	int n = 0;

	if (directory) {
		n = offline_journal_files(directory);
		if (n < 0)
			log_error_errno(n, "--journal-directory %s: %m", directory);
		else if (n == 0)
			log_error("--journal-directory %s: no journal files (*.journal) there, nor "
				  "in "
				  "the directories right under it",
				  directory);
		return n > 0 ? 0 : EX_NOINPUT;
	}
	for (size_t i = 0; i < ELEMENTSOF(system_dirs); i++) {
		int k = offline_journal_files(system_dirs[i]);
		/* A directory we may not list may well hold files: sd-journal has the last word. */
		if (k == -EACCES)
			return 0;
		any_dir |= k >= 0;
		n += MAX(k, 0);
	}
	if (n > 0)
		return 0;
	if (!any_dir)
		log_error("this host has no systemd journal (neither /var/log/journal nor "
			  "/run/log/journal exists): read the log file instead, e.g. "
			  "/var/log/mail.log in place of --journal");
	else
		log_error(
			"no journal files in /var/log/journal or /run/log/journal (journald keeps "
			"none on this host): read the log file instead, e.g. /var/log/mail.log in "
			"place of --journal");
	return EX_NOINPUT;
}

/* Default journal matches: SYSLOG_IDENTIFIER= every tag of the given filters. */
static char **tag_matches(const struct config_filter *const *filters, size_t n, size_t *ret_n)
{
	char **v = NULL;
	size_t nv = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; filters[i] && k < filters[i]->n_tags; k++) {
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

static int read_journal(const struct offline_input *in, const struct config_filter *const *filters,
			size_t n_filters, entry_fn on_entry, void *userdata,
			struct reader_stats *st)
{
	size_t n = in->n_matches;
	char **own = NULL;
	const char *const *matches = in->matches;
	int r = journal_check(in->journal_directory);

	if (r != 0)
		return r;
	if (n == 0) {
		own = tag_matches(filters, n_filters, &n);
		matches = (const char *const *)own;
	}
	r = source_journal_read_all(in->journal_directory, matches, n, 0, on_entry, userdata);
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

/* Reads the input's lines (parsed with clock) or journal entries into fn. Returns 0 or an exit
 * code. */
static int read_input(const struct offline_input *in, const struct config_filter *const *filters,
		      size_t n_filters, size_t max_line, line_fn on_line, entry_fn on_entry,
		      void *userdata, struct reader_stats *st)
{
	if (in->journal)
		return read_journal(in, filters, n_filters, on_entry, userdata, st);
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

/* ---- What an argument is: a filter, a log, a regex ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* "FIELD=value" with a journal field name: capitals, digits, underscores. */
static bool export_field(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len &&
	       (isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
		i++;
	return i > 0 && i < len && s[i] == '=' && !isdigit((unsigned char)s[0]);
}

/* "key = value": a word of the keys' characters, then '=' (a bare message such as
 * "error,relay=..." has a comma in its first word). */
static bool ini_key(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' ||
			   s[i] == '-' || s[i] == '*'))
		i++;
	size_t k = i;
	while (i < len && is_blank(s[i]))
		i++;
	return k > 0 && i < len && s[i] == '=';
}

static enum offline_text sniff_line(const char *s, size_t len)
{
	struct timeutil_clock clock;
	struct logline l;

	if (s[0] == '[' && s[len - 1] == ']')
		return OFFLINE_TEXT_INI;
	if (s[0] == '{')
		return OFFLINE_TEXT_JSON;
	timeutil_clock_init(&clock, timeutil_now(CLOCK_REALTIME));
	logline_parse(&clock, s, len, &l);
	if (l.tag)
		return OFFLINE_TEXT_SYSLOG;
	if (export_field(s, len))
		return OFFLINE_TEXT_EXPORT;
	if (ini_key(s, len))
		return OFFLINE_TEXT_INI;
	return OFFLINE_TEXT_OTHER;
}

enum offline_text offline_sniff(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	bool comments = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *s = p;
		p = nl ? nl + 1 : end;
		while (s < e && is_blank(*s))
			s++;
		while (e > s && is_blank(e[-1]))
			e--;
		if (s == e)
			continue;
		if (*s == '#' || *s == ';') {
			comments = true;
			continue;
		}
		return sniff_line(s, (size_t)(e - s));
	}
	return comments ? OFFLINE_TEXT_INI : OFFLINE_TEXT_EMPTY;
}

/* The kind of text at path, from its first 4 KiB. Anything but a regular file (a pipe, a
 * terminal) is a log: reading its head would eat its lines. Returns 0 or -errno. */
static int sniff_file(const char *path, enum offline_text *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char buf[4096];

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		*ret = OFFLINE_TEXT_OTHER;
		return 0;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	*ret = offline_sniff(buf, (size_t)n);
	return 0;
}

/* A filter name as test-filter takes one. */
static bool name_like(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-@", *s))
			return false;
	return true;
}

/* What only a regex has: <HOST>, or a character no name or path has. */
static bool regex_like(const char *s)
{
	return strstr(s, "<HOST>") || strpbrk(s, " ^$\\()[]{}|*+?");
}

static bool filter_exists(const char *dir, const char *name)
{
	_cleanup_free_ char *path = NULL;
	return asprintf(&path, "%s/filters/%s.conf", dir, name) >= 0 && access(path, F_OK) == 0;
}

/* Whether test-filter's LOG argument is rather a filter (a name of DIR, an INI file) or a
 * regex. */
static bool log_is_filter(const char *dir, const char *log)
{
	enum offline_text t;

	if (!log || strcmp(log, "-") == 0)
		return false;
	int r = sniff_file(log, &t);
	if (r == 0)
		return t == OFFLINE_TEXT_INI;
	if (r != -ENOENT && r != -ENOTDIR)
		return false;
	return (name_like(log) && filter_exists(dir, log)) || regex_like(log);
}

int offline_filter_arg(const char *dir, const char *filter, const char *log, char **ret_path)
{
	_cleanup_free_ char *named = NULL;
	enum offline_text t = OFFLINE_TEXT_OTHER;
	int r = 0;

	/* A plain name is a filter of DIR first, as it always was. */
	if (name_like(filter) && !ends_with(filter, ".conf")) {
		if (asprintf(&named, "%s/filters/%s.conf", dir, filter) < 0)
			return -ENOMEM;
		if (access(named, F_OK) == 0) {
			*ret_path = TAKE_PTR(named);
			return OFFLINE_ARG_FILTER;
		}
	}
	if (strcmp(filter, "-") != 0)
		r = sniff_file(filter, &t);
	if (r == -ENOENT || r == -ENOTDIR) {
		if (regex_like(filter))
			return OFFLINE_ARG_REGEX;
		*ret_path = named ? TAKE_PTR(named) : strdup(filter);
		return *ret_path ? OFFLINE_ARG_MISSING : -ENOMEM;
	}
	/* Unreadable: the filter loader says why. An INI file is a filter, so is an empty file
	 * unless the other argument is clearly the filter. */
	if (r < 0 || t == OFFLINE_TEXT_INI ||
	    (t == OFFLINE_TEXT_EMPTY && !log_is_filter(dir, log))) {
		*ret_path = strdup(filter);
		return *ret_path ? OFFLINE_ARG_FILTER : -ENOMEM;
	}
	return log_is_filter(dir, log) ? OFFLINE_ARG_SWAPPED : OFFLINE_ARG_LOG;
}

/* ---- Counting what the filter never saw ---- */

#define TAGS_MAX 32
#define TAG_LEN	 32

struct tag_count {
	char name[TAG_LEN];
	uint64_t n;
};

/* The programs (syslog tags) of the lines no filter read, with their line counts. */
struct tags_seen {
	struct tag_count v[TAGS_MAX];
	size_t n;
	uint64_t more; /* lines of programs past the first TAGS_MAX */
};

static void tags_note(struct tags_seen *t, const char *tag, size_t len)
{
	char name[TAG_LEN];

	/* Printable, so that a hostile tag cannot write to the admin's terminal. */
	len = MIN(len, sizeof(name) - 1);
	for (size_t i = 0; i < len; i++)
		name[i] = isprint((unsigned char)tag[i]) ? tag[i] : '?';
	name[len] = '\0';
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0) {
			t->v[i].n++;
			return;
		}
	if (t->n == TAGS_MAX) {
		t->more++;
		return;
	}
	memcpy(t->v[t->n].name, name, len + 1);
	t->v[t->n++].n = 1;
}

static int tag_cmp(const void *a, const void *b)
{
	const struct tag_count *x = a, *y = b;
	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->name, y->name);
}

/* "imapd (400), courierd (200), and 3 more programs": the five with the most lines. */
static void tags_print(FILE *f, const struct tags_seen *t)
{
	struct tags_seen s = *t;

	qsort(s.v, s.n, sizeof(s.v[0]), tag_cmp);
	for (size_t i = 0; i < MIN(s.n, (size_t)5); i++)
		fprintf(f, "%s%s (%llu)", i ? ", " : "", s.v[i].name, (unsigned long long)s.v[i].n);
	if (s.n > 5 || s.more)
		fprintf(f, ", and %s%zu more programs", s.more ? "over " : "", s.n - MIN(s.n, 5));
}

static void tags_of_filter(FILE *f, const struct config_filter *cf)
{
	for (size_t i = 0; i < cf->n_tags; i++)
		fprintf(f, "%s%s", i ? ", " : "", cf->tags[i]);
}

static bool tag_accepted(const struct config_filter *cf, const struct logline *l)
{
	if (cf->n_tags == 0)
		return true;
	if (!l->tag)
		return false;
	for (size_t i = 0; i < cf->n_tags; i++)
		if (strlen(cf->tags[i]) == l->tag_len &&
		    memcmp(cf->tags[i], l->tag, l->tag_len) == 0)
			return true;
	return false;
}

/* A line of journalctl -o export or -o json, which has no syslog header. */
static bool journal_like(const char *s, size_t len)
{
	return len > 0 && (s[0] == '{' || export_field(s, len));
}

/* The line as the admin can read it: control characters (from a client, in the journal) as
 * '?', so that no log line writes to the terminal. */
static void put_text(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		fputc(c < 0x20 && c != '\t' ? '?' : c == 0x7f ? '?' : c, f);
	}
}

static const char *why_none_export =
	"the log is a journal export (journalctl -o export or -o json), not syslog lines: read the "
	"journal with --journal, or write syslog lines with `journalctl -o short-iso`";
static const char *why_none_header =
	"no line has a syslog header (TIME HOST TAG: message), so none comes from the filter's "
	"programs: is this a journal export? use --journal or `journalctl -o short-iso`; lines of "
	"bare messages: use --messages";

/* ---- test-filter ---- */

struct tf_ctx {
	const struct config_filter *cf;
	const struct test_filter_opts *o;
	struct filter *f;
	struct timeutil_clock clock;
	FILE *out;
	bool journal, inline_regex;
	uint64_t no_header, export_like, other, accepted, prefiltered, missed;
	uint64_t matched, events, ignored, shown_missed, shown_prefiltered;
	struct tags_seen tags;
};

/* -v and --missed: "TIME<TAB>ADDRESS<TAB>WHAT<TAB>LINE", WHAT the failregex (#1...), ignored,
 * missed (no failregex matched) or prefilter (no prefilter literal in the message). */
static void tf_print_line(struct tf_ctx *c, const struct logline *l, const char *what,
			  const struct addr *a, const char *raw, size_t raw_len)
{
	char t[32], s[ADDR_STRLEN];

	fprintf(c->out, "%s\t%s\t%s\t",
		l->time_usec ? timeutil_format_rfc3339(l->time_usec, t, 32) : "-",
		a ? addr_format(a, s, sizeof(s)) : "-", what);
	if (raw)
		put_text(c->out, raw, raw_len);
	else {
		if (l->tag) {
			put_text(c->out, l->tag, l->tag_len);
			fputs(": ", c->out);
		}
		put_text(c->out, l->msg, l->msg_len);
	}
	fputc('\n', c->out);
}

static bool prefilter_passes(const struct config_filter *cf, const char *msg, size_t len)
{
	for (size_t i = 0; i < cf->n_prefilters; i++)
		if (memmem(msg, len, cf->prefilters[i], strlen(cf->prefilters[i])))
			return true;
	return cf->n_prefilters == 0;
}

static void tf_missed(struct tf_ctx *c, const struct logline *l, const char *raw, size_t raw_len)
{
	bool pre = prefilter_passes(c->cf, l->msg, l->msg_len);

	/* Each kind capped on its own: the dull lines a prefilter drops must not crowd out the
	 * ones a failregex was tried on. */
	uint64_t *shown = pre ? &c->shown_missed : &c->shown_prefiltered;

	if (pre)
		c->missed++;
	else
		c->prefiltered++;
	if (c->o->hosts || *shown >= c->o->missed)
		return;
	(*shown)++;
	tf_print_line(c, l, pre ? "missed" : "prefilter", NULL, raw, raw_len);
}

/* One line (raw: its text as read, NULL for a journal entry). */
static void tf_step(struct tf_ctx *c, const struct logline *l, const char *raw, size_t raw_len)
{
	struct filter_hit h;
	char what[16] = "ignored";
	int r;

	if (!l->tag && raw && !c->o->messages) {
		c->no_header++;
		c->export_like += journal_like(raw, raw_len);
	}
	if (c->o->messages)
		r = filter_match_text(c->f, l->msg, l->msg_len, &h);
	else if (tag_accepted(c->cf, l))
		r = filter_match(c->f, l, &h);
	else {
		if (l->tag) {
			c->other++;
			tags_note(&c->tags, l->tag, l->tag_len);
		}
		return;
	}
	c->accepted++;
	switch (r) {
	case FILTER_HIT:
		c->matched++;
		if (c->o->hosts || c->o->users) {
			char buf[ADDR_STRLEN];
			fprintf(c->out, c->o->users ? "%s\t" : "%s\n",
				addr_format(&h.addr, buf, sizeof(buf)));
		}
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
	default:
		tf_missed(c, l, raw, raw_len);
		return;
	}
	if (!c->o->verbose || c->o->hosts)
		return;
	if (r != FILTER_IGNORED)
		snprintf(what, sizeof(what), "#%u", h.regex + 1);
	tf_print_line(c, l, what, r == FILTER_HIT ? &h.addr : NULL, raw, raw_len);
}

static void tf_entry(const struct logline *l, void *userdata)
{
	tf_step(userdata, l, NULL, 0);
}

static void tf_line(const char *line, size_t len, void *userdata)
{
	struct tf_ctx *c = userdata;
	struct logline l = { .msg = line, .msg_len = len };

	if (!c->o->messages)
		logline_parse(&c->clock, line, len, &l);
	tf_step(c, &l, line, len);
}

/* The most likely reason why nothing matched, as one line. */
static void tf_why_none(FILE *f, const struct tf_ctx *c, const struct reader_stats *st,
			const struct filter_stats *fs)
{
	unsigned long long lines = st->lines;

	fprintf(f, "Why 0 matched: ");
	if (lines == 0 && st->too_long > 0)
		fprintf(f, "every line (%llu) is longer than %d bytes: not a syslog file\n",
			(unsigned long long)st->too_long, CONFIG_DEFAULT_MAX_LINE);
	else if (lines == 0 && c->journal)
		fprintf(f,
			"no journal entry matched (by default SYSLOG_IDENTIFIER= each tag of the "
			"filter); the journal shows other users' entries only to root and the "
			"groups systemd-journal and adm\n");
	else if (lines == 0)
		fprintf(f, "the log is empty\n");
	else if (c->no_header == lines && c->cf->n_tags > 0)
		fprintf(f, "%s\n", c->export_like * 2 > lines ? why_none_export : why_none_header);
	else if (c->accepted == 0) {
		if (c->no_header)
			fprintf(f,
				"the %llu lines with a syslog header came from other programs "
				"(%llu more have none): tags seen: ",
				(unsigned long long)c->other, (unsigned long long)c->no_header);
		else
			fprintf(f, "all %llu lines came from other programs: tags seen: ", lines);
		tags_print(f, &c->tags);
		fprintf(f, "; the filter reads ");
		tags_of_filter(f, c->cf);
		fputc('\n', f);
	} else if (c->ignored > 0)
		fprintf(f, "every match (%llu) was ignored by an ignoreregex\n",
			(unsigned long long)c->ignored);
	else if (c->prefiltered == c->accepted) {
		fprintf(f,
			"none of the %llu lines of the filter's programs contains a prefilter "
			"literal:",
			(unsigned long long)c->accepted);
		for (size_t i = 0; i < c->cf->n_prefilters; i++)
			fprintf(f, "%s '%s'", i ? "," : "", c->cf->prefilters[i]);
		fputc('\n', f);
	} else if (fs->bad_addr > 0)
		fprintf(f, "%llu matches had no valid address where <HOST> matched\n",
			(unsigned long long)fs->bad_addr);
	else if (fs->limited > 0)
		fprintf(f,
			"regex searches gave up at the match limit %llu times: the regex "
			"backtracks too much\n",
			(unsigned long long)fs->limited);
	else
		fprintf(f,
			"no failregex matches the %llu lines of the filter's programs: see them "
			"with --missed\n",
			(unsigned long long)c->accepted);
}

static void tf_header(FILE *f, const struct tf_ctx *c)
{
	const struct config_filter *cf = c->cf;

	if (c->inline_regex)
		fprintf(f,
			"Filter:  inline regex (the message of every line is tried: no tags)%s\n",
			filter_jit(c->f) ? "" : " [no JIT]");
	else
		fprintf(f, "Filter:  %s (%s)%s\n", cf->name, cf->file,
			filter_jit(c->f) ? "" : " [no JIT]");
	if (cf->n_tags > 0 && !c->o->messages) {
		fprintf(f, "Tags:    ");
		tags_of_filter(f, cf);
		fputc('\n', f);
	}
}

static void tf_summary(FILE *f, const struct tf_ctx *c, const struct reader_stats *st, double secs)
{
	const struct filter_stats *fs = filter_get_stats(c->f);
	const struct config_filter *cf = c->cf;

	tf_header(f, c);
	fprintf(f,
		"Lines:   %llu read, %llu matched, %llu events, %llu ignored, %llu bad address, "
		"%llu too long\n",
		(unsigned long long)st->lines, (unsigned long long)c->matched,
		(unsigned long long)c->events, (unsigned long long)c->ignored,
		(unsigned long long)fs->bad_addr, (unsigned long long)st->too_long);
	fprintf(f, "Other:   %llu without a syslog header, %llu from other programs\n",
		(unsigned long long)c->no_header, (unsigned long long)c->other);
	fprintf(f,
		"Missed:  %llu rejected by the prefilter, %llu matched no failregex, %llu gave up "
		"at the match limit\n",
		(unsigned long long)c->prefiltered, (unsigned long long)c->missed,
		(unsigned long long)fs->limited);
	fprintf(f, "Failregex hits:\n");
	for (size_t i = 0; i < filter_n_regex(c->f); i++)
		fprintf(f, "  %zu) %10llu  %s%s\n", i + 1, (unsigned long long)fs->per_regex[i],
			cf->fail[i].pattern, filter_regex_has_host(c->f, i) ? "" : "  [event]");
	if (cf->n_ignore > 0)
		fprintf(f, "Ignoreregex (%llu lines ignored):\n", (unsigned long long)c->ignored);
	for (size_t i = 0; i < cf->n_ignore; i++)
		fprintf(f, "  %zu)  %s\n", i + 1, cf->ignore[i].pattern);
	fprintf(f, "Time:    %.3f s, %.0f lines/s\n", secs,
		secs > 0 ? (double)st->lines / secs : 0.0);
	if (c->o->missed > 0 && c->missed + c->prefiltered > c->shown_missed + c->shown_prefiltered)
		fprintf(f,
			"(not shown: %llu more missed, %llu more prefilter lines: --missed=all "
			"shows every one)\n",
			(unsigned long long)(c->missed - c->shown_missed),
			(unsigned long long)(c->prefiltered - c->shown_prefiltered));
	if (c->matched + c->events == 0)
		tf_why_none(f, c, st, fs);
}

static int test_filter(const struct config_filter *cf, const struct offline_input *in,
		       const struct test_filter_opts *o, bool inline_regex)
{
	_cleanup_(filter_freep) struct filter *f = NULL;
	struct config_errors errs = { 0 };
	struct reader_stats st = { 0 };
	_cleanup_free_ struct tf_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return EX_OSERR;
	if (config_compile_filter(cf, NULL, &f, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_clear(&errs);
		return EX_CONFIG;
	}
	*c = (struct tf_ctx){ .cf = cf, .o = o, .f = f, .out = o->out ? o->out : stdout };
	c->inline_regex = inline_regex;
	c->journal = in->journal;
	timeutil_clock_init(&c->clock, timeutil_now(CLOCK_REALTIME));
	uint64_t t0 = timeutil_now(CLOCK_MONOTONIC);
	r = read_input(in, &cf, 1, CONFIG_DEFAULT_MAX_LINE, tf_line, tf_entry, c, &st);
	uint64_t t1 = timeutil_now(CLOCK_MONOTONIC);
	if (r != EX_OK)
		return r;
	if (!o->hosts && !o->users)
		tf_summary(c->out, c, &st, (double)(t1 - t0) / 1e6);
	return fflush(c->out) == 0 && !ferror(c->out) ? EX_OK : EX_IOERR;
}

int offline_test_filter(const struct config_filter *cf, const struct offline_input *in,
			const struct test_filter_opts *o)
{
	return test_filter(cf, in, o, false);
}

int offline_test_regex(const char *regex, const struct offline_input *in,
		       const struct test_filter_opts *o)
{
	struct filter_regex_src fail = { .pattern = regex, .file = "inline regex", .line = 1 };
	struct config_filter cf = {
		.name = (char *)"inline", .file = (char *)"inline regex", .fail = &fail, .n_fail = 1
	};

	return test_filter(&cf, in, o, true);
}

/* ---- replay ---- */

/* One network a jail counted hits of. */
struct net_stat {
	struct addr net;
	uint32_t hits;
	bool banned;
};

/* What replay learns of a jail beyond its filter's and jail's own counters. */
struct replay_jail {
	struct net_stat *nets; /* each network with counted hits, once */
	size_t n, cap;
	struct addrindex index;
	uint64_t *allow_hits; /* per allowlist entry: the global ones, then the jail's */
	bool oom;	      /* the counts are incomplete */
};

struct replay_ctx {
	const struct config *cfg; /* whose allowlists the engine uses */
	struct engine *e;
	struct bans *table; /* what the daemon's ban table would hold, in memory */
	uint64_t maintained_usec;
	struct replay_jail *rj;
	struct timeutil_clock clock;
	uint64_t first_time, last_time, bans, no_time, no_header, for_none;
	bool journal;
	struct tags_seen tags;
	FILE *out;
};

static const struct addr *net_key(uint32_t pos, const void *ctx)
{
	const struct replay_jail *rj = ctx;
	return &rj->nets[pos].net;
}

static int replay_jail_init(struct replay_jail *rj, size_t n_allow)
{
	rj->cap = 1024;
	rj->nets = calloc(rj->cap, sizeof(*rj->nets));
	rj->allow_hits = calloc(n_allow + 1, sizeof(uint64_t));
	if (!rj->nets || !rj->allow_hits)
		return -ENOMEM;
	return addrindex_init(&rj->index, rj->cap, net_key, rj);
}

static void replay_jail_done(struct replay_jail *rj)
{
	addrindex_done(&rj->index);
	free(rj->nets);
	free(rj->allow_hits);
}

static struct net_stat *net_get(struct replay_jail *rj, const struct addr *net)
{
	uint32_t i = addrindex_find(&rj->index, net);
	if (i != ADDRINDEX_NONE)
		return &rj->nets[i];
	if (rj->n == rj->cap) {
		struct net_stat *v = realloc(rj->nets, 2 * rj->cap * sizeof(*v));
		if (!v)
			return NULL;
		rj->nets = v;
		if (addrindex_resize(&rj->index, 2 * rj->cap, (uint32_t)rj->n) < 0)
			return NULL;
		rj->cap *= 2;
	}
	rj->nets[rj->n] = (struct net_stat){ .net = *net };
	addrindex_insert(&rj->index, net, (uint32_t)rj->n);
	return &rj->nets[rj->n++];
}

/* The network a ban of host would cover in jail j, as jail_hit() counts it. */
static struct addr jail_net(const struct config_jail *j, const struct addr *host)
{
	struct addr n = *host;
	addr_mask(&n, n.family == AF_INET ? j->prefix4 : j->prefix6);
	return n;
}

/* Which allowlist entry took a hit (the first that the network overlaps, as jail_hit()). */
static void note_allowed(struct replay_ctx *c, size_t i, const struct addr *host)
{
	const struct config_jail *cj = c->e->jails[i].conf;
	struct addr net = jail_net(cj, host);
	size_t ng = c->cfg->n_allow;

	for (size_t k = 0; k < ng + cj->n_allow; k++)
		if (addr_overlaps(&net, k < ng ? &c->cfg->allow[k] : &cj->allow[k - ng])) {
			c->rj[i].allow_hits[k]++;
			return;
		}
}

static void note_net(struct replay_ctx *c, size_t i, const struct addr *net, bool banned)
{
	struct net_stat *s = net_get(&c->rj[i], net);

	if (!s) {
		c->rj[i].oom = true;
		return;
	}
	s->hits++;
	s->banned |= banned;
}

static void print_decision(struct replay_ctx *c, size_t i, const struct jail_ban *ban)
{
	char t[32], a[ADDR_STRLEN], secs[32];

	/* Seconds, for scripts, as the daemon's dry run prints them; a permanent ban says so. */
	if (ban->bantime_usec == TIMEUTIL_FOREVER)
		snprintf(secs, sizeof(secs), "forever");
	else
		snprintf(secs, sizeof(secs), "%llu",
			 (unsigned long long)(ban->bantime_usec / USEC_PER_SEC));
	fprintf(c->out, "%s\t%s\t%s\t%s\n", timeutil_format_rfc3339(ban->time_usec, t, sizeof(t)),
		c->e->jails[i].conf->name, addr_format(&ban->addr, a, sizeof(a)), secs);
	c->bans++;
}

/* Whether the daemon's ban room (banning.c, apply_ban) takes jail i's decision: a network
 * banned already until as late or later keeps that ban, and the decision goes to the kernel
 * only when its jail closes ports that the longer ban leaves open. The ban table records it. */
static bool ban_room_takes(struct replay_ctx *c, size_t i, const struct jail_ban *jb)
{
	const struct config_jail *j = c->e->jails[i].conf;
	struct ban ban = engine_ban_record(j, jb);
	const struct ban *old = bans_find(c->table, &ban.addr);

	if (old && old->until_usec >= ban.until_usec)
		return !config_jail_ports_cover(config_find_jail(c->cfg, old->jail), j);
	if (bans_add(c->table, &ban) < 0)
		c->rj[i].oom = true;
	return true;
}

static void replay_ban(struct replay_ctx *c, size_t i, const struct jail_ban *ban)
{
	if (ban_room_takes(c, i, ban))
		print_decision(c, i, ban);
	note_net(c, i, &ban->addr, true);
	/* The recidive jails (backend = bans) count a log jail's ban, as in the daemon. */
	struct engine_jail *rj;
	struct jail_ban rb;
	for (size_t pos = 0; c->e->jails[i].filter &&
			     (rj = engine_count_ban(c->e, &pos, &ban->host, ban->time_usec, &rb));)
		replay_ban(c, (size_t)(rj - c->e->jails), &rb);
}

static uint64_t lines_offered(const struct engine *e)
{
	uint64_t n = 0;
	for (size_t i = 0; i < e->n_jails; i++)
		n += e->jails[i].filter ? filter_get_stats(e->jails[i].filter)->lines : 0;
	return n;
}

static void replay_entry(const struct logline *l, void *userdata)
{
	struct replay_ctx *c = userdata;
	struct jail_ban ban;

	/* A line without a time we understand happened when the one before it did. */
	if (l->time_usec) {
		c->last_time = l->time_usec;
		c->first_time = c->first_time ? c->first_time : l->time_usec;
	}
	c->no_header += !l->tag && !c->journal;
	if (!c->last_time) {
		c->no_time++;
		return;
	}
	if (c->last_time >= c->maintained_usec + REPLAY_MAINTAIN_USEC) {
		(void)bans_maintain(c->table, c->last_time);
		c->maintained_usec = c->last_time;
	}
	uint64_t offered = lines_offered(c->e);
	for (size_t i = 0; i < c->e->n_jails; i++) {
		struct engine_jail *ej = &c->e->jails[i];
		switch (engine_feed(ej, l, c->last_time, &ban)) {
		case ENGINE_BAN:
			replay_ban(c, i, &ban);
			break;
		case ENGINE_COUNTED: {
			struct addr net = jail_net(ej->conf, &ban.host);
			note_net(c, i, &net, false);
			break;
		}
		case ENGINE_ALLOWED:
			note_allowed(c, i, &ban.host);
			break;
		}
	}
	if (lines_offered(c->e) == offered) {
		c->for_none++;
		if (l->tag)
			tags_note(&c->tags, l->tag, l->tag_len);
	}
}

static void replay_line(const char *line, size_t len, void *userdata)
{
	struct replay_ctx *c = userdata;
	struct logline l;

	logline_parse(&c->clock, line, len, &l);
	replay_entry(&l, userdata);
}

/* "1h", or "1h, x2 up to 7d" with escalation. */
static const char *bantime_text(const struct config_jail *j, char *buf, size_t size)
{
	char a[32], b[32];

	timeutil_format_duration(j->bantime_usec, a, sizeof(a));
	if (j->bantime_factor > 1.0)
		snprintf(buf, size, "%s, x%g up to %s", a, j->bantime_factor,
			 timeutil_format_duration(j->bantime_max_usec, b, sizeof(b)));
	else
		snprintf(buf, size, "%s", a);
	return buf;
}

/* Addresses that had counted hits but were never banned; *ret_top the one with most hits. */
static size_t below_maxretry(const struct replay_jail *rj, const struct net_stat **ret_top)
{
	size_t n = 0;

	*ret_top = NULL;
	for (size_t k = 0; k < rj->n; k++) {
		if (rj->nets[k].banned)
			continue;
		n++;
		if (!*ret_top || rj->nets[k].hits > (*ret_top)->hits)
			*ret_top = &rj->nets[k];
	}
	return n;
}

static void replay_table(FILE *f, const struct replay_ctx *c)
{
	const struct net_stat *top;
	char bt[96];

	fprintf(f, "%-18s %9s %9s %7s %12s %15s %7s  %s\n", "jail", "lines", "hits", "events",
		"allowlisted", "below maxretry", "bans", "bantime");
	for (size_t i = 0; i < c->e->n_jails; i++) {
		const struct engine_jail *ej = &c->e->jails[i];
		const struct jail_stats *js = jail_get_stats(ej->jail);
		fprintf(f, "%-18s %9llu %9llu %7llu %12llu %15zu %7llu  %s%s\n", ej->conf->name,
			(unsigned long long)(ej->filter ? filter_get_stats(ej->filter)->lines : 0),
			(unsigned long long)js->hits, (unsigned long long)ej->events,
			(unsigned long long)js->allowed, below_maxretry(&c->rj[i], &top),
			(unsigned long long)js->bans, bantime_text(ej->conf, bt, sizeof(bt)),
			c->rj[i].oom ? " (out of memory: counts incomplete)" : "");
	}
	fprintf(f, "(lines: of the jail's programs; below maxretry: addresses with hits that never "
		   "reached maxretry within findtime)\n");
}

/* "[daemon] allow (./waveguard.conf:20)" or "... (built-in default)". */
static void allow_origin(FILE *f, const struct config *cfg, const char *section, bool global)
{
	const struct config_origin *o = config_origin_find(cfg, section, "allow");

	fprintf(f, "%s allow", global ? "[daemon]" : "the jail's");
	if (!o)
		fprintf(f, " (built-in default)");
	else
		fprintf(f, " (%s:%u%s)", o->file, o->line, o->inherited ? " [DEFAULT]" : "");
}

/* "courier-dnsbl: 214 hits allowlisted: 127.0.0.0/8 (214) of [daemon] allow (file:line)". */
static void replay_allowed_note(FILE *f, const struct replay_ctx *c, size_t i)
{
	const struct engine_jail *ej = &c->e->jails[i];
	const struct config_jail *cj = ej->conf;
	const struct jail_stats *js = jail_get_stats(ej->jail);
	size_t ng = c->cfg->n_allow;
	char a[ADDR_STRLEN];
	bool first = true, global = false;

	fprintf(f, "%s: %llu %s allowlisted:", cj->name, (unsigned long long)js->allowed,
		js->allowed == 1 ? "hit" : "hits");
	for (size_t k = 0; k < ng + cj->n_allow; k++) {
		if (!c->rj[i].allow_hits[k])
			continue;
		global |= k < ng;
		fprintf(f, "%s %s (%llu) of ", first ? "" : ",",
			addr_format(k < ng ? &c->cfg->allow[k] : &cj->allow[k - ng], a, sizeof(a)),
			(unsigned long long)c->rj[i].allow_hits[k]);
		allow_origin(f, c->cfg, k < ng ? "daemon" : cj->name, k < ng);
		first = false;
	}
	fputc('\n', f);
	if (js->bans > 0)
		return;
	fprintf(f,
		"%s: no ban: %s%llu %s allowlisted%s: `waveguard replay --no-allowlist` shows "
		"what the jail would ban without the allowlists\n",
		cj->name, js->allowed == js->hits ? "all " : "", (unsigned long long)js->allowed,
		js->allowed == 1 ? "hit was" : "hits were",
		global ? "; [daemon] allow is 127.0.0.0/8 ::1 unless waveguard.conf says otherwise"
		       : "");
}

/* Why a jail that had hits banned no one. */
static void replay_jail_notes(FILE *f, const struct replay_ctx *c, size_t i)
{
	const struct engine_jail *ej = &c->e->jails[i];
	const struct jail_stats *js = jail_get_stats(ej->jail);
	const struct net_stat *top;
	char a[ADDR_STRLEN], d[32];

	if (js->allowed > 0)
		replay_allowed_note(f, c, i);
	if (js->bans > 0 || js->hits == js->allowed || below_maxretry(&c->rj[i], &top) == 0)
		return;
	fprintf(f,
		"%s: no ban: no address reached maxretry (%u) within findtime (%s); the most "
		"hits: %s with %u\n",
		ej->conf->name, ej->conf->maxretry,
		timeutil_format_duration(ej->conf->findtime_usec, d, sizeof(d)),
		addr_format(&top->net, a, sizeof(a)), top->hits);
}

/* The tags the jails read, each once (most jails share their program). */
static void tags_of_jails(FILE *f, const struct engine *e)
{
	bool first = true;

	for (size_t i = 0; i < e->n_jails; i++) {
		/* A jail of backend = bans (recidive) reads no log: it has no filter. */
		const struct config_filter *cf = e->jails[i].conf->filter;
		for (size_t k = 0; cf && k < cf->n_tags; k++) {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++) {
				const struct config_filter *g = e->jails[j].conf->filter;
				for (size_t m = 0; g && m < g->n_tags && !seen; m++)
					seen = strcmp(g->tags[m], cf->tags[k]) == 0;
			}
			if (seen)
				continue;
			fprintf(f, "%s%s", first ? "" : ", ", cf->tags[k]);
			first = false;
		}
	}
}

/* Why no jail saw a single hit or event. */
static void replay_why_none(FILE *f, const struct replay_ctx *c, uint64_t lines)
{
	if (lines == 0) {
		fprintf(f, "replay: nothing to replay: %s\n",
			c->journal ? "no journal entry matched" : "the log is empty");
		return;
	}
	if (c->no_header == lines) {
		fprintf(f, "replay: %s\n", why_none_header);
		return;
	}
	if (c->for_none + c->no_time < lines)
		return;
	fprintf(f, "replay: no jail reads any of these lines: tags seen: ");
	tags_print(f, &c->tags);
	fprintf(f, "; the jails read ");
	tags_of_jails(f, c->e);
	fputc('\n', f);
}

static void replay_report(FILE *f, const struct replay_ctx *c, const struct reader_stats *st,
			  bool no_allowlist)
{
	char a[32], b[32];
	uint64_t hits = 0;

	fprintf(f, "replay: %llu lines read (%llu too long, %llu without a syslog header",
		(unsigned long long)st->lines, (unsigned long long)st->too_long,
		(unsigned long long)c->no_header);
	if (c->no_time)
		fprintf(f, ", %llu before the first time stamp: skipped",
			(unsigned long long)c->no_time);
	fprintf(f, ")");
	if (c->first_time)
		fprintf(f, ", %s to %s", timeutil_format_rfc3339(c->first_time, a, sizeof(a)),
			timeutil_format_rfc3339(c->last_time, b, sizeof(b)));
	fprintf(f, ", %llu ban decisions%s\n", (unsigned long long)c->bans,
		no_allowlist ? " (allowlists ignored: --no-allowlist)" : "");
	replay_table(f, c);
	for (size_t i = 0; i < c->e->n_jails; i++) {
		hits += jail_get_stats(c->e->jails[i].jail)->hits + c->e->jails[i].events;
		replay_jail_notes(f, c, i);
	}
	if (hits == 0)
		replay_why_none(f, c, st->lines);
}

/* The configuration without any allowlist, for --no-allowlist: a shallow copy whose jails array
 * (*ret_jails, to free) the engine points into. */
static struct config *config_without_allowlists(const struct config *cfg, struct config *copy,
						struct config_jail **ret_jails)
{
	struct config_jail *jails = calloc(cfg->n_jails + 1, sizeof(*jails));

	if (!jails)
		return NULL;
	*copy = *cfg;
	copy->n_allow = 0;
	for (size_t i = 0; i < cfg->n_jails; i++) {
		jails[i] = cfg->jails[i];
		jails[i].n_allow = 0;
	}
	copy->jails = jails;
	*ret_jails = jails;
	return copy;
}

static int replay_run(struct replay_ctx *c, const struct config *cfg, const struct replay_opts *o,
		      const struct offline_input *in)
{
	struct reader_stats st = { 0 };
	struct engine *e = c->e;
	int r;

	c->rj = calloc(e->n_jails + 1, sizeof(*c->rj));
	_cleanup_free_ const struct config_filter **filters =
		calloc(e->n_jails + 1, sizeof(*filters));
	if (!c->rj || !filters)
		return EX_OSERR;
	for (size_t i = 0; i < e->n_jails; i++) {
		filters[i] = e->jails[i].conf->filter;
		if (replay_jail_init(&c->rj[i], cfg->n_allow + e->jails[i].conf->n_allow) < 0)
			return EX_OSERR;
	}
	c->journal = in->journal;
	timeutil_clock_init(&c->clock, timeutil_now(CLOCK_REALTIME));
	r = read_input(in, filters, e->n_jails, cfg->max_line, replay_line, replay_entry, c, &st);
	if (r != EX_OK)
		return r;
	if (fflush(c->out) != 0 || ferror(c->out))
		return EX_IOERR;
	replay_report(o->report ? o->report : stderr, c, &st, o->no_allowlist);
	return EX_OK;
}

int offline_replay(const struct config *cfg, const struct replay_opts *o,
		   const struct offline_input *in)
{
	_cleanup_(engine_freep) struct engine *e = NULL;
	_cleanup_(bans_freep) struct bans *bans = NULL;
	_cleanup_free_ struct config_jail *jails = NULL;
	struct config_errors errs = { 0 };
	struct config copy;
	_cleanup_free_ struct replay_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c || (o->no_allowlist && !(cfg = config_without_allowlists(cfg, &copy, &jails))))
		return EX_OSERR;
	r = engine_new(cfg, o->jail, &e, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	config_errors_clear(&errs);
	if (r == -ENOENT) {
		log_error("no jail named '%s'", o->jail);
		return EX_USAGE;
	}
	if (r < 0)
		return EX_CONFIG;
	if (bans_open(NULL, 0, cfg->offence_memory_usec, &bans, NULL) < 0)
		return EX_OSERR;
	bans_set_max(bans, cfg->max_bans);
	engine_recall_from(e, bans);
	*c = (struct replay_ctx){
		.cfg = cfg, .e = e, .table = bans, .out = o->out ? o->out : stdout
	};
	r = replay_run(c, cfg, o, in);
	for (size_t i = 0; c->rj && i < e->n_jails; i++)
		replay_jail_done(&c->rj[i]);
	free(c->rj);
	return r;
}
