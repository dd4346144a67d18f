/* Configuration loading: the files. inih does the INI syntax; a line-counting reader around it
 * gives every key its file:line and tells continuation lines (multi-line values) from repeated
 * keys, and config_keys.c's tables take each key = value. Then filters are compiled and their
 * samples run, and jails are resolved against filters and actions. All errors are collected,
 * so that one check-config run shows every mistake. */
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "config.h"
#include "config_keys.h"
#include "log.h"
#include "logline.h"
#include "macro.h"
#include "state.h"
#include "timeutil.h"
#include "tuner.h"

#define MAX_CONFIG_FILE (1024 * 1024)
#define MAX_CONFIG_LINE 4096

struct parser {
	struct config *cfg;
	struct config_errors *errs;
	enum config_file_kind kind;
	const char *file;
	int failed_alloc;

	/* reader state */
	const char *buf;
	size_t pos, len;
	unsigned lineno;
	bool continuation;	     /* the line just read continues the previous key's value */
	bool prev_key;		     /* a key was set since the last section header */
	unsigned first_syntax_error; /* the line inih will report, already reported by us */

	/* section state */
	char section[128];
	unsigned section_line;
	bool section_ok;
	const struct config_section *keys; /* the section's key table */
	char last_key[128];		   /* for continuation lines */
	char seen[64][64];		   /* keys seen in this section (duplicates are errors) */
	size_t n_seen;

	struct config_filter *filter;
	struct config_action *action;
	struct config_jail *jail;
	bool filter_has_section;
};

void config_errors_add(struct config_errors *e, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	char **p = s ? ARRAY_GROW(e->msgs, e->n) : NULL;
	if (p)
		*p = s;
	else
		free(s);
}

/* The name the loading code has always used (config_keys.c calls config_errors_add()). */
#define add_error config_errors_add
#define perr(p, ...) add_error((p)->errs, __VA_ARGS__)

void config_errors_clear(struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
}

/* ---- sections ---- */

/* [NAME] in conf.d: a new jail with the defaults, unless the name is bad or taken. */
static void begin_jail(struct parser *p, const char *name)
{
	struct config *c = p->cfg;

	if (!config_keys_valid_name(name)) {
		perr(p, "%s:%u: jail name '%s': expected letters, digits, '-', '_', '.'", p->file,
		     p->lineno, name);
		p->section_ok = false;
		return;
	}
	for (size_t i = 0; i < c->n_jails; i++)
		if (strcmp(c->jails[i].name, name) == 0) {
			perr(p, "%s:%u: jail [%s] already defined at %s:%u", p->file, p->lineno,
			     name, c->jails[i].file, c->jails[i].line);
			p->section_ok = false;
			return;
		}
	struct config_jail *j = ARRAY_GROW(c->jails, c->n_jails);
	if (!j || !(j->name = strdup(name)) || !(j->file = strdup(p->file))) {
		p->failed_alloc = 1;
		p->section_ok = false;
		return;
	}
	j->line = p->lineno;
	j->enabled = true;
	j->maxretry = 5;
	j->findtime_usec = 600 * USEC_PER_SEC;
	j->bantime_usec = 3600 * USEC_PER_SEC;
	j->bantime_factor = 1.0;
	j->max_tracked = 100000;
	j->prefix4 = 32;
	j->prefix6 = 64;
	p->jail = j;
}

static void begin_section(struct parser *p, const char *name)
{
	char expected[256];

	snprintf(p->section, sizeof(p->section), "%s", name);
	p->section_line = p->lineno;
	p->section_ok = true;
	p->n_seen = 0;
	p->last_key[0] = '\0';
	p->jail = NULL;

	p->keys = config_keys_section(p->kind, name);
	if (!p->keys) {
		config_keys_sections_expected(p->kind, expected, sizeof(expected));
		perr(p, "%s:%u: unknown section [%s] (expected %s)", p->file, p->lineno, name,
		     expected);
		p->section_ok = false;
	} else if (p->kind == CONFIG_JAILS)
		begin_jail(p, name);
	else if (p->kind == CONFIG_FILTER && strcmp(name, "filter") == 0)
		p->filter_has_section = true;
}

/* True (and remembered) the first time a key is seen in the current section. */
static bool first_time(struct parser *p, const char *key)
{
	for (size_t i = 0; i < p->n_seen; i++)
		if (strcmp(p->seen[i], key) == 0) {
			perr(p, "%s:%u: '%s' is set twice in [%s]", p->file, p->lineno, key,
			     p->section);
			return false;
		}
	if (p->n_seen < ELEMENTSOF(p->seen))
		snprintf(p->seen[p->n_seen++], sizeof(p->seen[0]), "%s", key);
	return true;
}

static void check_action(struct parser *p, const struct config_action *a)
{
	if (!a->line)
		perr(p, "%s: [action] has no 'type =' (expected log, nft or exec)", a->file);
	else if (a->type == ACTION_EXEC && !a->ban_cmd)
		perr(p, "%s:%u: an exec action needs 'ban = /path/to/program ARGS' (%%ip%%, "
			"%%jail%%, %%bantime%%)",
		     a->file, a->line);
	else if (a->type != ACTION_EXEC && (a->ban_cmd || a->unban_cmd))
		perr(p, "%s:%u: 'ban =' and 'unban =' belong to exec actions", a->file,
		     a->ban_cmd ? a->ban_line : a->unban_line);
	else if (a->type == ACTION_TIMEOUTS && a->n_files == 0)
		perr(p, "%s:%u: a timeouts action needs at least one 'esmtptimeout... = ELEVATED WAVE'",
		     a->file, a->line);
	else if (a->type != ACTION_TIMEOUTS && (a->n_files || a->directory))
		perr(p, "%s:%u: 'directory' and 'esmtptimeout*' belong to timeouts actions", a->file,
		     a->line);
}

/* The struct the current section's keys go to. */
static void *section_object(struct parser *p)
{
	switch (p->kind) {
	case CONFIG_MAIN:
		return (char *)p->cfg + p->keys->offset;
	case CONFIG_FILTER:
		return p->filter;
	case CONFIG_ACTION:
		return p->action;
	case CONFIG_JAILS:
		return p->jail;
	}
	return NULL;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	(void)section;

	bool cont = p->continuation && strcmp(name, p->last_key) == 0;
	if (!p->section[0]) {
		perr(p, "%s:%u: '%s' outside of any section", p->file, p->lineno, name);
		return 1;
	}
	if (!p->section_ok)
		return 1;
	if (!cont) {
		snprintf(p->last_key, sizeof(p->last_key), "%s", name);
		/* Keys that gather lists may repeat; every other key may be set once. */
		if (!config_keys_repeats(config_keys_find(p->keys, name), name) &&
		    !first_time(p, name))
			return 1;
	}

	struct config_key_ctx x = {
		.errs = p->errs,
		.file = p->file,
		.line = p->lineno,
		.section = p->section,
		.key = name,
		.cont = cont,
	};
	config_keys_set(&x, p->keys, section_object(p), value);
	if (x.failed_alloc)
		p->failed_alloc = 1;
	return 1;
}

static void syntax_error(struct parser *p, const char *expected)
{
	perr(p, "%s:%u: syntax error: %s", p->file, p->lineno, expected);
	if (!p->first_syntax_error)
		p->first_syntax_error = p->lineno;
}

/* A "[name]" line from t to e (trimmed): the section begins, or a syntax error. */
static void section_header(struct parser *p, const char *t, const char *e)
{
	const char *close = memchr(t, ']', (size_t)(e - t));
	if (!close) {
		syntax_error(p, "expected ']' to close the section name");
		return;
	}
	char name[128];
	size_t len = (size_t)(close - t - 1);
	const char *a = t + 1;
	while (len && (*a == ' ' || *a == '\t'))
		a++, len--;
	while (len && (a[len - 1] == ' ' || a[len - 1] == '\t'))
		len--;
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, a, len);
	name[len] = '\0';
	begin_section(p, name);
	p->prev_key = false;
}

/* fgets() over the file's bytes that also counts lines, spots section headers and tells
 * continuation lines apart. Lines too long for inih are reported and replaced by blank ones. */
static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	if (p->pos >= p->len)
		return NULL;

	const char *s = p->buf + p->pos;
	const char *nl = memchr(s, '\n', p->len - p->pos);
	size_t n = nl ? (size_t)(nl - s) + 1 : p->len - p->pos;
	p->pos += n;
	p->lineno++;

	if (n + 1 > (size_t)num) {
		perr(p, "%s:%u: line longer than %d bytes", p->file, p->lineno, num - 2);
		str[0] = '\n';
		str[1] = '\0';
		p->continuation = false;
		return str;
	}
	if (memchr(s, '\0', n)) {
		perr(p, "%s:%u: NUL byte in line", p->file, p->lineno);
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	memcpy(str, s, n);
	str[n] = '\0';

	/* Classify the line as inih will (comment, continuation, section, key), so that every
	 * syntax error is reported, not only the first one inih returns. */
	bool indented = n > 0 && (s[0] == ' ' || s[0] == '\t');
	const char *t = s, *e = s + n;
	while (t < e && (*t == ' ' || *t == '\t'))
		t++;
	while (e > t && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	p->continuation = false;
	if (t == e || *t == ';' || *t == '#')
		return str;
	if (indented && p->prev_key) {
		p->continuation = true;
		return str;
	}
	if (*t == '[') {
		section_header(p, t, e);
		return str;
	}
	if (memchr(t, '=', (size_t)(e - t)) || memchr(t, ':', (size_t)(e - t)))
		p->prev_key = true;
	else
		syntax_error(p, "expected [section], key = value, an indented continuation line or a "
				"# comment");
	return str;
}

static bool group_or_world_writable(struct parser *p, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		perr(p, "%s: writable by group or others; it drives a root daemon, so it is refused "
			"(chmod go-w %s)",
		     path, path);
		return true;
	}
	return false;
}

static int parse_file(struct parser *p, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	p->file = path;
	if (group_or_world_writable(p, path))
		return -EINVAL;
	r = state_read_file(path, MAX_CONFIG_FILE, &buf, &len);
	if (r < 0) {
		perr(p, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	p->buf = buf;
	p->len = len;
	p->pos = 0;
	p->lineno = 0;
	p->section[0] = '\0';
	p->section_ok = false;
	p->last_key[0] = '\0';
	p->n_seen = 0;
	p->prev_key = false;
	p->first_syntax_error = 0;

	/* Regexes contain ';' and '#': only whole-line comments. Long regexes need long lines. */
	ini_allow_inline_comments = false;
	ini_max_line = MAX_CONFIG_LINE;
	ini_allow_multiline = true;
	r = ini_parse_stream(reader, p, handler, p);
	if (r > 0 && (unsigned)r != p->first_syntax_error)
		perr(p, "%s:%d: syntax error (expected [section], key = value, an indented "
			"continuation line or a # comment)",
		     path, r);
	else if (r < 0)
		perr(p, "%s: cannot parse (%d)", path, r);
	p->buf = NULL;
	if (p->failed_alloc)
		return -ENOMEM;
	return 0;
}

/* Sorted *.conf names in dir; a missing directory is an empty list. */
static int list_confs(struct parser *p, const char *dir, char ***ret, size_t *ret_n)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	char **v = NULL;
	size_t nv = 0;

	*ret = NULL;
	*ret_n = 0;
	if (n < 0) {
		if (errno == ENOENT)
			return 0;
		perr(p, "%s: cannot list: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);
		if (l > 5 && strcmp(nm + l - 5, ".conf") == 0 && nm[0] != '.') {
			char *path;
			if (asprintf(&path, "%s/%s", dir, nm) >= 0) {
				char **slot = ARRAY_GROW(v, nv);
				if (slot)
					*slot = path;
				else
					free(path);
			}
		}
		free(names[i]);
	}
	free(names);
	*ret = v;
	*ret_n = nv;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *basename_noext(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t l = strlen(b);
	if (l > 5 && strcmp(b + l - 5, ".conf") == 0)
		l -= 5;
	return strndup(b, l);
}

static void filter_done(struct config_filter *f)
{
	free(f->name);
	free(f->file);
	free(f->description);
	strv_free(f->tags, f->n_tags);
	strv_free(f->prefilters, f->n_prefilters);
	for (size_t i = 0; i < f->n_fail; i++)
		free((char *)f->fail[i].pattern);
	free(f->fail);
	for (size_t i = 0; i < f->n_ignore; i++)
		free((char *)f->ignore[i].pattern);
	free(f->ignore);
	for (size_t i = 0; i < f->n_vars; i++) {
		free((char *)f->vars[i].name);
		free((char *)f->vars[i].value);
	}
	free(f->vars);
	for (size_t i = 0; i < f->n_samples; i++)
		free(f->samples[i].line);
	free(f->samples);
}

void config_filter_free(struct config_filter *f)
{
	if (!f)
		return;
	filter_done(f);
	free(f);
}

struct filter_spec config_filter_spec(const struct config_filter *f)
{
	return (struct filter_spec){
		.name = f->name,
		.tags = (const char *const *)f->tags,
		.n_tags = f->n_tags,
		.prefilters = (const char *const *)f->prefilters,
		.n_prefilters = f->n_prefilters,
		.fail = f->fail,
		.n_fail = f->n_fail,
		.ignore = f->ignore,
		.n_ignore = f->n_ignore,
		.vars = f->vars,
		.n_vars = f->n_vars,
	};
}

int config_compile_filter(const struct config_filter *f, const struct config_jail *j,
			  struct filter **ret, struct config_errors *errs)
{
	struct filter_spec spec = config_filter_spec(f);
	char err[512];
	int r = filter_new(&spec, j ? j->filter_vars : NULL, j ? j->n_filter_vars : 0, ret, err,
			   sizeof(err));
	if (r < 0 && j)
		add_error(errs, "%s (with the filter variables of jail [%s], %s:%u)", err, j->name,
			  j->file, j->line);
	else if (r < 0)
		add_error(errs, "%s", err);
	return r;
}

/* Compiles a filter with its own variables (a broken regex is an error even in a filter no
 * jail uses yet) and runs its [test] samples; each failure is an error at the sample's line. */
static void check_filter(const struct config_filter *cf, struct config_errors *errs)
{
	_cleanup_(filter_freep) struct filter *f = NULL;
	struct timeutil_clock clock;

	if (config_compile_filter(cf, NULL, &f, errs) < 0)
		return;
	/* RFC 3164 samples get the current year, as live lines would. */
	timeutil_clock_init(&clock, (uint64_t)time(NULL) * USEC_PER_SEC);
	for (size_t i = 0; i < cf->n_samples; i++) {
		const struct config_sample *s = &cf->samples[i];
		struct logline l;
		struct filter_hit h;
		char want[ADDR_STRLEN], got[ADDR_STRLEN];

		logline_parse(&clock, s->line, strlen(s->line), &l);
		int r = filter_match(f, &l, &h);
		if (!s->match) {
			if (r == FILTER_HIT || r == FILTER_EVENT)
				add_error(errs, "%s:%u: nomatch sample matched failregex %u",
					  cf->file, s->lineno, h.regex + 1);
		} else if (s->event) {
			if (r != FILTER_EVENT)
				add_error(errs, "%s:%u: sample should match as an event, but did not",
					  cf->file, s->lineno);
		} else if (r != FILTER_HIT)
			add_error(errs, "%s:%u: sample should yield %s, but did not match%s",
				  cf->file, s->lineno, addr_format(&s->addr, want, sizeof(want)),
				  r == FILTER_IGNORED ? " (ignoreregex)" : "");
		else if (!addr_equal(&h.addr, &s->addr))
			add_error(errs, "%s:%u: sample should yield %s, but yielded %s", cf->file,
				  s->lineno, addr_format(&s->addr, want, sizeof(want)),
				  addr_format(&h.addr, got, sizeof(got)));
	}
}

static int load_filter_file(struct parser *p, const char *path, struct config_filter *f)
{
	int r;

	f->name = basename_noext(path);
	f->file = strdup(path);
	if (!f->name || !f->file)
		return -ENOMEM;
	p->kind = CONFIG_FILTER;
	p->filter = f;
	p->filter_has_section = false;
	size_t before = p->errs->n;
	r = parse_file(p, path);
	if (r < 0)
		return r;
	if (!p->filter_has_section)
		perr(p, "%s: no [filter] section", path);
	else if (f->n_fail == 0)
		perr(p, "%s: [filter] has no failregex", path);
	if (p->errs->n == before)
		check_filter(f, p->errs);
	return p->errs->n == before ? 0 : -EINVAL;
}

int config_load_filter(const char *path, struct config_filter **ret, struct config_errors *errs)
{
	struct parser p = { .errs = errs };
	struct config_filter *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	int r = load_filter_file(&p, path, f);
	if (r < 0) {
		config_filter_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

const struct config_filter *config_find_filter(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_filters; i++)
		if (strcmp(c->filters[i].name, name) == 0)
			return &c->filters[i];
	return NULL;
}

static const struct config_action *find_action(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_actions; i++)
		if (strcmp(c->actions[i].name, name) == 0)
			return &c->actions[i];
	return NULL;
}

static void resolve_jail(struct config *c, struct config_jail *j, struct config_errors *errs)
{
	if (j->n_ports == 0 && !j->all_ports) {
		memcpy(j->ports, c->nft.ports, sizeof(j->ports));
		j->n_ports = c->nft.n_ports;
		j->all_ports = c->nft.all_ports;
	}
	if (!j->filter_name) {
		add_error(errs, "%s:%u: jail [%s] has no 'filter ='", j->file, j->line, j->name);
		return;
	}
	j->filter = config_find_filter(c, j->filter_name);
	if (!j->filter) {
		add_error(errs, "%s:%u: unknown filter '%s' (expected the name of a file in %s/filters/)",
			  j->file, j->filter_line, j->filter_name, c->dir);
		return;
	}
	for (size_t i = 0; i < j->n_filter_vars; i++) {
		bool found = false;
		for (size_t k = 0; k < j->filter->n_vars; k++)
			if (strcmp(j->filter->vars[k].name, j->filter_vars[i].name) == 0)
				found = true;
		if (!found)
			add_error(errs, "%s:%u: filter %s has no variable '%s' (see its [vars])",
				  j->file, j->filter_var_lines[i], j->filter_name,
				  j->filter_vars[i].name);
	}
	/* A jail whose filter only reports events has nothing to ban: no default action. */
	if (j->n_actions == 0 && config_filter_can_ban(j->filter) &&
	    !config_keys_strv_push(&j->action_names, &j->n_actions, "nft-set"))
		return;
	j->actions = calloc(j->n_actions, sizeof(*j->actions));
	if (!j->actions)
		return;
	for (size_t i = 0; i < j->n_actions; i++) {
		j->actions[i] = find_action(c, j->action_names[i]);
		if (!j->actions[i])
			add_error(errs,
				  "%s:%u: unknown action '%s' (expected the name of a file in "
				  "%s/actions/)",
				  j->file, j->action_line ? j->action_line : j->line,
				  j->action_names[i], c->dir);
	}
	if (j->enabled && j->backend != BACKEND_JOURNAL && j->n_sources == 0)
		add_error(errs,
			  "%s:%u: jail [%s] has no 'source =' (expected one or more log files, or "
			  "backend = journal)",
			  j->file, j->line, j->name);
	/* Without matches every journal entry would go through the regexes (fail2ban's slow
	 * path); the filter's tags make the default matches. */
	if (j->enabled && j->backend != BACKEND_FILES && j->n_journal_matches == 0 &&
	    j->filter->n_tags == 0)
		add_error(errs,
			  "%s:%u: jail [%s] reads the journal but has no 'journal_match =' and its "
			  "filter no 'tag ='",
			  j->file, j->line, j->name);
	if (j->bantime_max_usec && j->bantime_max_usec < j->bantime_usec)
		add_error(errs, "%s:%u: jail [%s]: bantime_max is shorter than bantime", j->file,
			  j->line, j->name);

	/* Without overrides the filter compiled on its own already (and reported its errors). */
	if (j->n_filter_vars) {
		_cleanup_(filter_freep) struct filter *f = NULL;
		config_compile_filter(j->filter, j, &f, errs);
	}
}

static int load_dir(struct parser *p, const char *sub, enum config_file_kind kind)
{
	char **files;
	size_t n;
	_cleanup_free_ char *dir = NULL;
	struct config *c = p->cfg;
	int r;

	if (asprintf(&dir, "%s/%s", c->dir, sub) < 0)
		return -ENOMEM;
	r = list_confs(p, dir, &files, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (kind == CONFIG_FILTER) {
			struct config_filter *f = ARRAY_GROW(c->filters, c->n_filters);
			r = f ? load_filter_file(p, files[i], f) : -ENOMEM;
			if (r == -EINVAL)
				r = 0;
		} else if (kind == CONFIG_ACTION) {
			struct config_action *a = ARRAY_GROW(c->actions, c->n_actions);
			if (!a || !(a->name = basename_noext(files[i])) || !(a->file = strdup(files[i])))
				r = -ENOMEM;
			else {
				p->kind = CONFIG_ACTION;
				p->action = a;
				a->timeout_usec = 10 * USEC_PER_SEC;
				r = parse_file(p, files[i]);
				if (r >= 0)
					check_action(p, a);
			}
		} else {
			p->kind = CONFIG_JAILS;
			r = parse_file(p, files[i]);
		}
		if (r == -EINVAL)
			r = 0;
	}
	strv_free(files, n);
	return r == -ENOMEM ? r : 0;
}

/* The built-in values of waveguard.conf's keys. Returns 0 or -ENOMEM. */
static int main_defaults(struct config *c, const char *dir)
{
	c->dir = strdup(dir);
	c->state_dir = strdup("/var/lib/waveguard");
	c->control_socket = strdup("/run/waveguard/control");
	c->offence_memory_usec = 30ULL * 86400 * USEC_PER_SEC;
	c->nft.table = strdup("waveguard");
	c->nft.set4 = strdup("ban4");
	c->nft.set6 = strdup("ban6");
	c->nft.chain = strdup("input");
	c->nft.ports[0] = 25;
	c->nft.ports[1] = 465;
	c->nft.ports[2] = 587;
	c->nft.n_ports = 3;
	c->nft.priority = -10;
	c->sampler.enabled = true;
	c->sampler.interval_usec = 5 * USEC_PER_SEC;
	memcpy(c->sampler.ports, c->nft.ports, 3 * sizeof(uint16_t));
	c->sampler.n_ports = 3;
	c->sampler.max_concurrent = 20;
	c->sampler.history_max = 10 * 1024 * 1024;
	c->probe.enabled = true;
	/* No address and port: where Courier's esmtpd file says it listens (wave_probe_target). */
	c->probe.timeout_usec = 10 * USEC_PER_SEC;
	c->tuner.enabled = true;
	c->tuner.action = strdup("courier-timeouts");
	c->tuner.esmtpd = strdup("/etc/courier/esmtpd");
	c->tuner.elevated_fraction = TUNER_DEFAULT_ELEVATED_FRACTION;
	c->tuner.wave_fraction = TUNER_DEFAULT_WAVE_FRACTION;
	c->tuner.calm_fraction = TUNER_DEFAULT_CALM_FRACTION;
	c->tuner.elevated_backlog = TUNER_DEFAULT_ELEVATED_BACKLOG;
	c->tuner.wave_backlog = TUNER_DEFAULT_WAVE_BACKLOG;
	c->tuner.elevated_bans = TUNER_DEFAULT_ELEVATED_BANS;
	c->tuner.wave_bans = TUNER_DEFAULT_WAVE_BANS;
	c->tuner.wave_probe_failures = TUNER_DEFAULT_WAVE_PROBE_FAILURES;
	c->tuner.calm_usec = TUNER_DEFAULT_CALM_USEC;
	c->log_level = LOG_INFO;
	c->max_line = CONFIG_DEFAULT_MAX_LINE;
	if (!c->dir || !c->state_dir || !c->control_socket || !c->nft.table || !c->nft.set4 ||
	    !c->nft.set6 || !c->nft.chain || !c->tuner.action ||
	    !c->tuner.esmtpd)
		return -ENOMEM;
	/* Loopback is allowlisted unless the admin says otherwise. */
	static const char *const default_allow[] = { "127.0.0.0/8", "::1" };
	for (size_t i = 0; i < ELEMENTSOF(default_allow); i++) {
		struct addr *a = ARRAY_GROW(c->allow, c->n_allow);
		if (!a)
			return -ENOMEM;
		int r = addr_parse_cidr(default_allow[i], a);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Defaults, then waveguard.conf. */
static int load_main(const char *dir, struct parser *p, struct config **ret)
{
	_cleanup_(config_freep) struct config *c = calloc(1, sizeof(*c));
	_cleanup_free_ char *main_path = NULL;
	int r;

	if (!c)
		return -ENOMEM;
	r = main_defaults(c, dir);
	if (r < 0)
		return r;
	p->cfg = c;
	if (asprintf(&main_path, "%s/waveguard.conf", dir) < 0)
		return -ENOMEM;
	p->kind = CONFIG_MAIN;
	r = parse_file(p, main_path);
	if (r == -ENOMEM)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

void config_tuner_params(const struct config_tuner *t, struct tuner_params *ret)
{
	*ret = (struct tuner_params){
		.elevated_fraction = t->elevated_fraction,
		.wave_fraction = t->wave_fraction,
		.calm_fraction = t->calm_fraction,
		.elevated_backlog = t->elevated_backlog,
		.wave_backlog = t->wave_backlog,
		.elevated_bans = t->elevated_bans,
		.wave_bans = t->wave_bans,
		.wave_probe_failures = t->wave_probe_failures,
		.calm_usec = t->calm_usec,
	};
}

int config_load_main(const char *dir, struct config **ret, struct config_errors *errs)
{
	struct parser p = { .errs = errs };
	size_t before = errs->n;
	struct config *c = NULL;
	int r = load_main(dir, &p, &c);
	if (r < 0)
		return r;
	if (errs->n != before) {
		config_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int config_load(const char *dir, struct config **ret, struct config_errors *errs)
{
	_cleanup_(config_freep) struct config *c = NULL;
	struct parser p = { .errs = errs };
	size_t before = errs->n;
	int r;

	r = load_main(dir, &p, &c);
	if (r < 0)
		return r;
	if ((r = load_dir(&p, "filters", CONFIG_FILTER)) < 0 ||
	    (r = load_dir(&p, "actions", CONFIG_ACTION)) < 0 ||
	    (r = load_dir(&p, "conf.d", CONFIG_JAILS)) < 0)
		return r;

	for (size_t i = 0; i < c->n_jails; i++)
		resolve_jail(c, &c->jails[i], errs);
	if (c->tuner.enabled) {
		c->tuner.timeouts = find_action(c, c->tuner.action);
		/* Without a [tuner] action line and without the default action file, there is
		 * simply nothing to tune (a configuration for a server that is not Courier). */
		if (!c->tuner.timeouts && c->tuner.action_line == 0)
			c->tuner.enabled = false;
		else if (!c->tuner.timeouts || c->tuner.timeouts->type != ACTION_TIMEOUTS)
			add_error(errs,
				  "%s/waveguard.conf:%u: [tuner] action: expected the name of a "
				  "timeouts action in %s/actions/ (type = timeouts)",
				  dir, c->tuner.action_line, dir);
		struct tuner_params tp;
		config_tuner_params(&c->tuner, &tp);
		if (tuner_params_check(&tp) < 0)
			add_error(errs,
				  "%s/waveguard.conf: [tuner]: thresholds must rise from calm to "
				  "elevated to wave",
				  dir);
	}
	if (c->sampler.concurrency_jail) {
		bool found = false;
		for (size_t i = 0; i < c->n_jails; i++)
			found |= strcmp(c->jails[i].name, c->sampler.concurrency_jail) == 0;
		if (!found)
			add_error(errs, "%s/waveguard.conf:%u: concurrency_jail: no jail named %s",
				  dir, c->sampler.concurrency_line, c->sampler.concurrency_jail);
	}

	if (errs->n != before)
		return -EINVAL;
	*ret = TAKE_PTR(c);
	return 0;
}

static void action_done(struct config_action *a)
{
	free(a->name);
	free(a->file);
	free(a->description);
	free(a->ban_cmd);
	free(a->unban_cmd);
	free(a->directory);
	for (size_t k = 0; k < a->n_files; k++)
		free(a->files[k].name);
}

static void jail_done(struct config_jail *j)
{
	free(j->name);
	free(j->file);
	free(j->filter_name);
	for (size_t k = 0; k < j->n_filter_vars; k++) {
		free((char *)j->filter_vars[k].name);
		free((char *)j->filter_vars[k].value);
	}
	free(j->filter_vars);
	free(j->filter_var_lines);
	strv_free(j->sources, j->n_sources);
	strv_free(j->journal_matches, j->n_journal_matches);
	free(j->journal_directory);
	strv_free(j->action_names, j->n_actions);
	free(j->actions);
	free(j->allow);
}

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_filters; i++)
		filter_done(&c->filters[i]);
	free(c->filters);
	for (size_t i = 0; i < c->n_actions; i++)
		action_done(&c->actions[i]);
	free(c->actions);
	for (size_t i = 0; i < c->n_jails; i++)
		jail_done(&c->jails[i]);
	free(c->jails);
	free(c->allow);
	free(c->state_dir);
	free(c->control_socket);
	free(c->metrics);
	free(c->nft.table);
	free(c->nft.set4);
	free(c->nft.set6);
	free(c->nft.chain);
	free(c->sampler.concurrency_jail);
	free(c->sampler.history);
	free(c->probe.address);
	free(c->tuner.action);
	free(c->tuner.esmtpd);
	free(c->dir);
	free(c);
	return NULL;
}

bool config_filter_can_ban(const struct config_filter *f)
{
	for (size_t i = 0; f && i < f->n_fail; i++)
		if (strstr(f->fail[i].pattern, "<HOST>"))
			return true;
	return false;
}

const char *config_jail_idle_action(const struct config_jail *j)
{
	if (!j->enabled || !j->filter || config_filter_can_ban(j->filter))
		return NULL;
	for (size_t i = 0; i < j->n_actions; i++)
		if (j->actions[i] && (j->actions[i]->type == ACTION_NFT || j->actions[i]->type == ACTION_EXEC))
			return j->actions[i]->name;
	return NULL;
}

static bool ports_within(const struct config_jail *a, const struct config_jail *b)
{
	for (size_t i = 0; i < a->n_ports; i++) {
		size_t k = 0;
		while (k < b->n_ports && b->ports[k] != a->ports[i])
			k++;
		if (k == b->n_ports)
			return false;
	}
	return true;
}

bool config_jail_same_ports(const struct config_jail *a, const struct config_jail *b)
{
	if (!a || !b)
		return false;
	if (a->all_ports || b->all_ports)
		return a->all_ports == b->all_ports;
	return ports_within(a, b) && ports_within(b, a);
}
