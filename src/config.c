/* Configuration loading: the files. inih does the INI syntax; a line-counting reader around it
 * gives every key its file:line and tells continuation lines (multi-line values) from repeated
 * keys, and config_keys.c's tables take each key = value. Files are layers: waveguard.local over
 * waveguard.conf, the .local files of conf.d after its .conf files, NAME.local over NAME.conf in
 * filters/ and actions/; a later file sets keys of a section an earlier one defined (a list is
 * replaced whole), conf.d's [DEFAULT] gives every jail the keys it does not set, and each value
 * keeps the file:line it came from. Then filters are compiled and their samples run, and jails are
 * resolved against filters and actions. All errors are collected, so that one check-config run
 * shows every mistake. */
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "config_keys.h"
#include "fleet_entry.h"
#include "log.h"
#include "logline.h"
#include "macro.h"
#include "reaper.h"
#include "state.h"
#include "timeutil.h"
#include "traplist.h"
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
	char origin_section[300]; /* the section's name in struct config_origin */

	/* the jail sections of this file: one twice in a file is an error */
	char file_jails[128][128];
	unsigned file_jail_lines[128];
	size_t n_file_jails;

	struct config_filter *filter;
	struct config_action *action;
	struct config_jail *jail;
	bool filter_has_section;

	/* conf.d's [DEFAULT]: its lines, given to every jail that does not set the key itself */
	bool in_default;
	struct default_line *defaults;
	size_t n_defaults;
};

struct default_line {
	char *key, *value;
	const char *file;
	unsigned line;
	bool cont;
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
#define add_error    config_errors_add
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

/* A jail's built-in values. */
static void jail_init(struct config_jail *j)
{
	j->enabled = true;
	j->maxretry = 5;
	j->findtime_usec = 600 * USEC_PER_SEC;
	j->bantime_usec = 3600 * USEC_PER_SEC;
	j->bantime_factor = 1.0;
	j->max_tracked = 100000;
	j->prefix4 = 32;
	j->prefix6 = 64;
}

/* [NAME] in conf.d: a new jail with the defaults, more keys for a jail an earlier file defined,
 * or [DEFAULT]; an error when the name is bad, belongs to waveguard.conf, or was already used
 * in this same file. */
static void begin_jail(struct parser *p, const char *name)
{
	struct config *c = p->cfg;

	if (!config_keys_valid_name(name)) {
		perr(p, "%s:%u: jail name '%s': expected letters, digits, '-', '_', '.'", p->file,
		     p->lineno, name);
		p->section_ok = false;
		return;
	}
	if (config_keys_section(CONFIG_MAIN, name)) {
		perr(p,
		     "%s:%u: [%s] is a section of waveguard.conf (set its keys in "
		     "waveguard.local), not a jail",
		     p->file, p->lineno, name);
		p->section_ok = false;
		return;
	}
	for (size_t i = 0; i < p->n_file_jails; i++)
		if (strcmp(p->file_jails[i], name) == 0) {
			perr(p, "%s:%u: %s[%s] already defined at %s:%u", p->file, p->lineno,
			     strcmp(name, "DEFAULT") == 0 ? "" : "jail ", name, p->file,
			     p->file_jail_lines[i]);
			p->section_ok = false;
			return;
		}
	if (p->n_file_jails < ELEMENTSOF(p->file_jails)) {
		snprintf(p->file_jails[p->n_file_jails], sizeof(p->file_jails[0]), "%s", name);
		p->file_jail_lines[p->n_file_jails++] = p->lineno;
	}

	if (strcmp(name, "DEFAULT") == 0) {
		if (!c->jail_defaults) {
			struct config_jail *d = calloc(1, sizeof(*d));
			if (!d || !(d->name = strdup(name)) || !(d->file = strdup(p->file))) {
				if (d)
					free(d->name);
				free(d);
				p->failed_alloc = 1;
				p->section_ok = false;
				return;
			}
			d->line = p->lineno;
			jail_init(d);
			c->jail_defaults = d;
		}
		p->jail = c->jail_defaults;
		p->in_default = true;
		return;
	}
	for (size_t i = 0; i < c->n_jails; i++)
		if (strcmp(c->jails[i].name, name) == 0) {
			p->jail = &c->jails[i];
			return;
		}
	struct config_jail *j = ARRAY_GROW(c->jails, c->n_jails);
	if (!j || !(j->name = strdup(name)) || !(j->file = strdup(p->file))) {
		p->failed_alloc = 1;
		p->section_ok = false;
		return;
	}
	j->line = p->lineno;
	jail_init(j);
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
	p->in_default = false;
	if (p->kind == CONFIG_FILTER)
		snprintf(p->origin_section, sizeof(p->origin_section), "filter/%s/%s",
			 p->filter->name, name);
	else if (p->kind == CONFIG_ACTION)
		snprintf(p->origin_section, sizeof(p->origin_section), "action/%s",
			 p->action->name);
	else
		snprintf(p->origin_section, sizeof(p->origin_section), "%s", name);

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

/* Whether key was already set in the current section of this file; remembered if not. */
static bool seen_before(struct parser *p, const char *key)
{
	for (size_t i = 0; i < p->n_seen; i++)
		if (strcmp(p->seen[i], key) == 0)
			return true;
	if (p->n_seen < ELEMENTSOF(p->seen))
		snprintf(p->seen[p->n_seen++], sizeof(p->seen[0]), "%s", key);
	return false;
}

const struct config_origin *config_origin_find(const struct config *c, const char *section,
					       const char *key)
{
	for (size_t i = 0; i < c->n_origins; i++)
		if (strcmp(c->origins[i].key, key) == 0 &&
		    strcmp(c->origins[i].section, section) == 0)
			return &c->origins[i];
	return NULL;
}

/* Remembers that section's key came from file:line. Returns false when out of memory. */
static bool set_origin(struct config *c, const char *section, const char *key, const char *file,
		       unsigned line, bool inherited)
{
	struct config_origin *o = (struct config_origin *)config_origin_find(c, section, key);
	if (!o) {
		char *sec = strdup(section), *k = strdup(key);
		o = sec && k ? ARRAY_GROW(c->origins, c->n_origins) : NULL;
		if (!o) {
			free(sec);
			free(k);
			return false;
		}
		o->section = sec;
		o->key = k;
	}
	o->file = file;
	o->line = line;
	o->inherited = inherited;
	return true;
}

/* The file a key's line came from (for errors found after loading), or fallback. */
static const char *origin_file(const struct config *c, const char *section, const char *key,
			       const char *fallback)
{
	const struct config_origin *o = config_origin_find(c, section, key);
	return o ? o->file : fallback;
}

/* A copy of path in c->files, alive as long as the configuration (origins point to it). */
static const char *keep_file(struct parser *p, const char *path)
{
	char *d = strdup(path);
	char **slot = d ? ARRAY_GROW(p->cfg->files, p->cfg->n_files) : NULL;
	if (!slot) {
		free(d);
		return NULL;
	}
	return *slot = d;
}

/* [DEFAULT]: a key's first line in a file replaces what earlier files gave it. */
static void drop_default_lines(struct parser *p, const char *key)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_defaults; i++)
		if (strcmp(p->defaults[i].key, key) == 0) {
			free(p->defaults[i].key);
			free(p->defaults[i].value);
		} else
			p->defaults[n++] = p->defaults[i];
	p->n_defaults = n;
}

static void add_default_line(struct parser *p, const char *key, const char *value, bool cont)
{
	char *k = strdup(key), *v = strdup(value);
	struct default_line *d = k && v ? ARRAY_GROW(p->defaults, p->n_defaults) : NULL;
	if (!d) {
		free(k);
		free(v);
		p->failed_alloc = 1;
		return;
	}
	*d = (struct default_line){
		.key = k, .value = v, .file = p->file, .line = p->lineno, .cont = cont
	};
}

static void free_default_lines(struct parser *p)
{
	for (size_t i = 0; i < p->n_defaults; i++) {
		free(p->defaults[i].key);
		free(p->defaults[i].value);
	}
	free(p->defaults);
	p->defaults = NULL;
	p->n_defaults = 0;
}

/* Gives every jail the [DEFAULT] keys it does not set itself, wherever either was written. The
 * values were checked (and their errors reported) when [DEFAULT] was read. */
static void apply_defaults(struct parser *p)
{
	struct config *c = p->cfg;
	const struct config_section *s = config_keys_section(CONFIG_JAILS, "");

	for (size_t i = 0; i < c->n_jails; i++) {
		struct config_jail *j = &c->jails[i];
		for (size_t d = 0; d < p->n_defaults; d++) {
			const struct default_line *e = &p->defaults[d];
			const struct config_key *k = config_keys_find(s, e->key);
			const struct config_origin *o = config_origin_find(c, j->name, e->key);
			struct config_errors scratch = { 0 };

			if (!k || (o && !o->inherited))
				continue;
			if (!o) {
				config_keys_reset(k, j);
				if (!set_origin(c, j->name, e->key, e->file, e->line, true))
					p->failed_alloc = 1;
			}
			struct config_key_ctx x = { .errs = &scratch,
						    .file = e->file,
						    .line = e->line,
						    .section = j->name,
						    .key = e->key,
						    .cont = e->cont };
			config_keys_set(&x, s, j, e->value);
			if (x.failed_alloc)
				p->failed_alloc = 1;
			config_errors_clear(&scratch);
		}
	}
}

static void check_action(struct parser *p, const struct config_action *a)
{
	char sec[300];
	snprintf(sec, sizeof(sec), "action/%s", a->name);
	const char *type_file = p->cfg ? origin_file(p->cfg, sec, "type", a->file) : a->file;

	if (!a->line)
		perr(p, "%s: [action] has no 'type =' (expected log, nft or exec)", a->file);
	else if (a->type == ACTION_EXEC && !a->ban_cmd)
		perr(p,
		     "%s:%u: an exec action needs 'ban = /path/to/program ARGS' (%%ip%%, "
		     "%%jail%%, %%bantime%%)",
		     type_file, a->line);
	else if (a->type != ACTION_EXEC && (a->ban_cmd || a->unban_cmd))
		perr(p, "%s:%u: 'ban =' and 'unban =' belong to exec actions",
		     origin_file(p->cfg, sec, a->ban_cmd ? "ban" : "unban", a->file),
		     a->ban_cmd ? a->ban_line : a->unban_line);
	else if (a->type == ACTION_TIMEOUTS && a->n_files == 0)
		perr(p,
		     "%s:%u: a timeouts action needs at least one 'esmtptimeout... = ELEVATED "
		     "WAVE'",
		     type_file, a->line);
	else if (a->type != ACTION_TIMEOUTS && (a->n_files || a->directory))
		perr(p, "%s:%u: 'directory' and 'esmtptimeout*' belong to timeouts actions",
		     type_file, a->line);
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
		const struct config_key *k = config_keys_find(p->keys, name);
		snprintf(p->last_key, sizeof(p->last_key), "%s", name);
		/* Keys that gather lists may repeat in a file; every other key may be set once. */
		bool again = seen_before(p, name);
		if (again && !config_keys_repeats(k, name)) {
			perr(p, "%s:%u: '%s' is set twice in [%s]", p->file, p->lineno, name,
			     p->section);
			return 1;
		}
		/* The key's first line in this file: it replaces what an earlier file (or the
		 * built-in default) gave, lists whole. */
		if (!again && k) {
			config_keys_reset(k, section_object(p));
			if (p->cfg &&
			    !set_origin(p->cfg, p->origin_section, name, p->file, p->lineno, false))
				p->failed_alloc = 1;
			if (p->in_default)
				drop_default_lines(p, name);
		}
	}
	if (p->in_default)
		add_default_line(p, name, value, cont);

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
		syntax_error(p,
			     "expected [section], key = value, an indented continuation line or a "
			     "# comment");
	return str;
}

bool config_trusted(const char *path, const struct stat *st, bool dir, struct config_errors *errs)
{
	bool ok = true;
	uid_t me = geteuid();

	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && dir) {
		add_error(errs,
			  "%s: directory writable by group or others%s; it holds the configuration "
			  "of a root daemon, so it is refused (chmod go-w %s)",
			  path, st->st_mode & S_ISVTX ? " (sticky)" : "", path);
		ok = false;
	} else if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		add_error(errs,
			  "%s: writable by group or others; it drives a root daemon, so it is "
			  "refused (chmod go-w %s)",
			  path, path);
		ok = false;
	}
	if (st->st_uid != 0 && st->st_uid != me) {
		struct passwd *pw = getpwuid(st->st_uid);
		char owner[128], who[64] = "";
		if (pw)
			snprintf(owner, sizeof(owner), "%s (uid %u)", pw->pw_name,
				 (unsigned)st->st_uid);
		else
			snprintf(owner, sizeof(owner), "uid %u", (unsigned)st->st_uid);
		if (me != 0)
			snprintf(who, sizeof(who), " or the daemon's user (uid %u)", (unsigned)me);
		add_error(
			errs,
			"%s: owned by %s, not by root%s; it drives a root daemon, so it is refused "
			"(chown root %s)",
			path, owner, who, path);
		ok = false;
	}
	return ok;
}

/* config_trusted() for a path of the configuration. A path that does not exist is for the
 * reader to report. */
static bool trusted(struct parser *p, const char *path, bool dir)
{
	struct stat st;

	if (stat(path, &st) < 0 || (dir && !S_ISDIR(st.st_mode)))
		return true;
	return config_trusted(path, &st, dir, p->errs);
}

static int parse_file(struct parser *p, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	p->file = path;
	p->n_file_jails = 0;
	if (!trusted(p, path, false))
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
		perr(p,
		     "%s:%d: syntax error (expected [section], key = value, an indented "
		     "continuation line or a # comment)",
		     path, r);
	else if (r < 0)
		perr(p, "%s: cannot parse (%d)", path, r);
	p->buf = NULL;
	if (p->failed_alloc)
		return -ENOMEM;
	return 0;
}

/* The names in dir that end in ext (".conf", ".local"), hidden ones aside, sorted; a missing
 * directory is an empty list. */
static int list_dir(struct parser *p, const char *dir, const char *ext, char ***ret, size_t *ret_n)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	size_t le = strlen(ext);
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
		if (l > le && strcmp(nm + l - le, ext) == 0 && nm[0] != '.') {
			char *d = strdup(nm);
			char **slot = d ? ARRAY_GROW(v, nv) : NULL;
			if (slot)
				*slot = d;
			else
				free(d);
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
	else if (l > 6 && strcmp(b + l - 6, ".local") == 0)
		l -= 6;
	return strndup(b, l);
}

static void filter_done(struct config_filter *f)
{
	free(f->name);
	free(f->file);
	free(f->local_file);
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
	for (size_t i = 0; i < f->n_samples; i++) {
		free(f->samples[i].line);
		free(f->samples[i].user);
	}
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
		const char *file = s->file ? s->file : cf->file;
		struct logline l;
		struct filter_hit h;
		char want[ADDR_STRLEN], got[ADDR_STRLEN];

		logline_parse(&clock, s->line, strlen(s->line), &l);
		int r = filter_match(f, &l, &h);
		if (!s->match) {
			if (r == FILTER_HIT || r == FILTER_EVENT)
				add_error(errs, "%s:%u: nomatch sample matched failregex %u", file,
					  s->lineno, h.regex + 1);
		} else if (s->event) {
			if (r != FILTER_EVENT)
				add_error(errs,
					  "%s:%u: sample should match as an event, but did not",
					  file, s->lineno);
		} else if (r != FILTER_HIT)
			add_error(errs, "%s:%u: sample should yield %s, but did not match%s", file,
				  s->lineno, addr_format(&s->addr, want, sizeof(want)),
				  r == FILTER_IGNORED ? " (ignoreregex)" : "");
		else if (!addr_equal(&h.addr, &s->addr))
			add_error(errs, "%s:%u: sample should yield %s, but yielded %s", file,
				  s->lineno, addr_format(&s->addr, want, sizeof(want)),
				  addr_format(&h.addr, got, sizeof(got)));
		else if (s->user && (!h.user || h.user_len != strlen(s->user) ||
				     memcmp(h.user, s->user, h.user_len) != 0))
			add_error(errs, "%s:%u: sample should capture <USER> '%s', but %s%.*s%s",
				  file, s->lineno, s->user,
				  h.user ? "captured '" : "captured nothing",
				  h.user ? (int)h.user_len : 0, h.user ? h.user : "",
				  h.user ? "'" : "");
	}
}

/* A filter from NAME.conf, NAME.local over it, or either alone (conf or local may be NULL). */
static int load_filter_files(struct parser *p, const char *conf, const char *local,
			     struct config_filter *f)
{
	int r;

	f->name = basename_noext(conf ? conf : local);
	f->file = strdup(conf ? conf : local);
	f->local_file = conf && local ? strdup(local) : NULL;
	if (!f->name || !f->file || (conf && local && !f->local_file))
		return -ENOMEM;
	p->kind = CONFIG_FILTER;
	p->filter = f;
	p->filter_has_section = false;
	size_t before = p->errs->n;
	if (p->cfg && (!keep_file(p, f->file) || (f->local_file && !keep_file(p, f->local_file))))
		return -ENOMEM;
	r = parse_file(p, f->file);
	if (r >= 0 && f->local_file)
		r = parse_file(p, f->local_file);
	if (r < 0)
		return r;
	if (!p->filter_has_section)
		perr(p, "%s: no [filter] section", f->file);
	else if (f->n_fail == 0)
		perr(p, "%s: [filter] has no failregex", f->local_file ? f->local_file : f->file);
	if (p->errs->n == before)
		check_filter(f, p->errs);
	return p->errs->n == before ? 0 : -EINVAL;
}

int config_load_filter(const char *path, struct config_filter **ret, struct config_errors *errs)
{
	struct parser p = { .errs = errs };
	_cleanup_free_ char *local = NULL;
	size_t l = strlen(path);
	struct config_filter *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	/* NAME.local, when there is one beside NAME.conf, is read over it as by config_load(). */
	if (l > 5 && strcmp(path + l - 5, ".conf") == 0 &&
	    asprintf(&local, "%.*s.local", (int)(l - 5), path) >= 0 && access(local, F_OK) < 0) {
		free(local);
		local = NULL;
	}
	int r = load_filter_files(&p, path, local, f);
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

const struct config_jail *config_find_jail(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_jails; i++)
		if (strcmp(c->jails[i].name, name) == 0)
			return &c->jails[i];
	return NULL;
}

bool config_jail_reads_logs(const struct config_jail *j)
{
	return j->backend != BACKEND_BANS && j->backend != BACKEND_REAPER;
}

enum tuner_level config_reaper_level(const struct config_reaper *r)
{
	return r->at == CONFIG_REAPER_AT_ELEVATED ? TUNER_ELEVATED : TUNER_WAVE;
}

static const struct config_action *find_action(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_actions; i++)
		if (strcmp(c->actions[i].name, name) == 0)
			return &c->actions[i];
	return NULL;
}

/* The jail's actions by name (nft-set when it names none and can ban). False when out of
 * memory. */
static bool resolve_actions(struct config *c, struct config_jail *j, bool can_ban,
			    struct config_errors *errs)
{
	if (j->n_actions == 0 && can_ban &&
	    !config_keys_strv_push(&j->action_names, &j->n_actions, "nft-set"))
		return false;
	j->actions = calloc(j->n_actions ? j->n_actions : 1, sizeof(*j->actions));
	if (!j->actions)
		return false;
	for (size_t i = 0; i < j->n_actions; i++) {
		j->actions[i] = find_action(c, j->action_names[i]);
		if (!j->actions[i])
			add_error(errs,
				  "%s:%u: unknown action '%s' (expected the name of a file in "
				  "%s/actions/)",
				  j->action_line ? origin_file(c, j->name, "action", j->file)
						 : j->file,
				  j->action_line ? j->action_line : j->line, j->action_names[i],
				  c->dir);
	}
	return true;
}

/* A jail of backend = bans or reaper reads no log: its hits are the bans of the other jails, or
 * the reaper's. */
static void resolve_bans_jail(struct config *c, struct config_jail *j, struct config_errors *errs)
{
	if (j->filter_name)
		add_error(errs,
			  "%s:%u: jail [%s] has backend = %s: it reads no log, remove 'filter ='",
			  origin_file(c, j->name, "filter", j->file), j->filter_line, j->name,
			  j->backend == BACKEND_BANS ? "bans" : "reaper");
	/* source = and journal_match = may come from [DEFAULT]: they are simply not read. */
	if (j->bantime_max_usec && j->bantime_max_usec < j->bantime_usec)
		add_error(errs, "%s:%u: jail [%s]: bantime_max is shorter than bantime", j->file,
			  j->line, j->name);
	resolve_actions(c, j, true, errs);
}

/* The trap list's file, relative to the configuration directory unless absolute, checked as
 * the daemon will load it: always for an enabled jail, and for a disabled one when it exists
 * (the shipped example list of a jail the admin has yet to enable). */
static void resolve_trap_list(struct config *c, struct config_jail *j, struct config_errors *errs)
{
	_cleanup_(traplist_freep) struct traplist *t = NULL;
	const char *file = origin_file(c, j->name, "trap_list", j->file);

	if (!j->trap_list)
		return;
	if (j->trap_list[0] == '/' ? !(j->trap_path = strdup(j->trap_list))
				   : asprintf(&j->trap_path, "%s/%s", c->dir, j->trap_list) < 0) {
		j->trap_path = NULL;
		add_error(errs, "%s:%u: out of memory", file, j->trap_line);
		return;
	}
	if (j->enabled && !config_filter_captures_user(j->filter))
		add_error(errs,
			  "%s:%u: jail [%s] has a trap_list, but filter %s has no failregex with "
			  "<HOST> and <USER>: none of its hits would ever count",
			  file, j->trap_line, j->name, j->filter_name);
	if (!j->enabled && access(j->trap_path, F_OK) < 0)
		return;
	size_t before = errs->n;
	if (traplist_load(j->trap_path, &t, errs) < 0 && errs->n > before)
		add_error(errs, "%s:%u: jail [%s]: trap_list %s is refused", file, j->trap_line,
			  j->name, j->trap_path);
}

static void resolve_jail(struct config *c, struct config_jail *j, struct config_errors *errs)
{
	if (j->n_ports == 0 && !j->all_ports) {
		memcpy(j->ports, c->nft.ports, sizeof(j->ports));
		j->n_ports = c->nft.n_ports;
		j->all_ports = c->nft.all_ports;
	}
	if (!config_jail_reads_logs(j)) {
		resolve_bans_jail(c, j, errs);
		return;
	}
	if (!j->filter_name) {
		add_error(errs, "%s:%u: jail [%s] has no 'filter ='", j->file, j->line, j->name);
		return;
	}
	j->filter = config_find_filter(c, j->filter_name);
	if (!j->filter) {
		add_error(errs,
			  "%s:%u: unknown filter '%s' (expected the name of a file in %s/filters/)",
			  origin_file(c, j->name, "filter", j->file), j->filter_line,
			  j->filter_name, c->dir);
		return;
	}
	for (size_t i = 0; i < j->n_filter_vars; i++) {
		bool found = false;
		for (size_t k = 0; k < j->filter->n_vars; k++)
			if (strcmp(j->filter->vars[k].name, j->filter_vars[i].name) == 0)
				found = true;
		if (!found) {
			char key[300];
			snprintf(key, sizeof(key), "filter.%s", j->filter_vars[i].name);
			add_error(errs, "%s:%u: filter %s has no variable '%s' (see its [vars])",
				  origin_file(c, j->name, key, j->file), j->filter_var_lines[i],
				  j->filter_name, j->filter_vars[i].name);
		}
	}
	/* A jail whose filter only reports events has nothing to ban: no default action. */
	if (!resolve_actions(c, j, config_filter_can_ban(j->filter), errs))
		return;
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

	resolve_trap_list(c, j, errs);

	/* Without overrides the filter compiled on its own already (and reported its errors). */
	if (j->n_filter_vars) {
		_cleanup_(filter_freep) struct filter *f = NULL;
		config_compile_filter(j->filter, j, &f, errs);
	}
}

/* A filter or an action: NAME.conf, then NAME.local over it (either may be missing). */
static int load_item(struct parser *p, enum config_file_kind kind, const char *conf,
		     const char *local)
{
	struct config *c = p->cfg;
	int r;

	if (kind == CONFIG_FILTER) {
		struct config_filter *f = ARRAY_GROW(c->filters, c->n_filters);
		r = f ? load_filter_files(p, conf, local, f) : -ENOMEM;
		return r == -ENOMEM ? r : 0;
	}
	struct config_action *a = ARRAY_GROW(c->actions, c->n_actions);
	if (!a || !(a->name = basename_noext(conf ? conf : local)) ||
	    !(a->file = strdup(conf ? conf : local)) ||
	    (conf && local && !(a->local_file = strdup(local))))
		return -ENOMEM;
	if (!keep_file(p, a->file) || (a->local_file && !keep_file(p, a->local_file)))
		return -ENOMEM;
	p->kind = CONFIG_ACTION;
	p->action = a;
	a->timeout_usec = 10 * USEC_PER_SEC;
	r = parse_file(p, a->file);
	if (r >= 0 && a->local_file)
		r = parse_file(p, a->local_file);
	if (r >= 0)
		check_action(p, a);
	return r == -ENOMEM ? r : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* conf.d/: every *.conf in lexical order, then every *.local, then [DEFAULT] for every jail.
 * filters/, actions/: for each NAME in lexical order, NAME.conf then NAME.local. */
static int load_dir(struct parser *p, const char *sub, enum config_file_kind kind)
{
	char **confs = NULL, **locals = NULL, **names = NULL;
	size_t n_confs = 0, n_locals = 0, n_names = 0;
	_cleanup_free_ char *dir = NULL;
	struct config *c = p->cfg;
	int r;

	if (asprintf(&dir, "%s/%s", c->dir, sub) < 0)
		return -ENOMEM;
	trusted(p, dir, true);
	r = list_dir(p, dir, ".conf", &confs, &n_confs);
	if (r >= 0)
		r = list_dir(p, dir, ".local", &locals, &n_locals);
	if (r < 0)
		goto out;
	if (kind == CONFIG_JAILS) {
		for (size_t i = 0; i < n_confs + n_locals && r >= 0; i++) {
			const char *nm = i < n_confs ? confs[i] : locals[i - n_confs];
			_cleanup_free_ char *path = NULL;
			const char *kept;
			if (asprintf(&path, "%s/%s", dir, nm) < 0 || !(kept = keep_file(p, path))) {
				r = -ENOMEM;
				break;
			}
			p->kind = CONFIG_JAILS;
			r = parse_file(p, kept);
			if (r == -EINVAL)
				r = 0;
		}
		if (r >= 0)
			apply_defaults(p);
		goto out;
	}

	/* The names of both lists, each once, in lexical order. */
	for (size_t i = 0; i < n_confs + n_locals; i++) {
		char *stem = basename_noext(i < n_confs ? confs[i] : locals[i - n_confs]);
		bool dup = false;
		for (size_t k = 0; stem && k < n_names; k++)
			dup |= strcmp(names[k], stem) == 0;
		char **slot = stem && !dup ? ARRAY_GROW(names, n_names) : NULL;
		if (slot)
			*slot = stem;
		else
			free(stem);
		if (!stem || (!dup && !slot)) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (n_names)
		qsort(names, n_names, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n_names && r >= 0; i++) {
		_cleanup_free_ char *conf = NULL, *local = NULL;
		if (asprintf(&conf, "%s/%s.conf", dir, names[i]) < 0 ||
		    asprintf(&local, "%s/%s.local", dir, names[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		bool has_conf = false, has_local = false;
		for (size_t k = 0; k < n_confs; k++)
			has_conf |= strcmp(conf + strlen(dir) + 1, confs[k]) == 0;
		for (size_t k = 0; k < n_locals; k++)
			has_local |= strcmp(local + strlen(dir) + 1, locals[k]) == 0;
		r = load_item(p, kind, has_conf ? conf : NULL, has_local ? local : NULL);
	}
out:
	strv_free(confs, n_confs);
	strv_free(locals, n_locals);
	strv_free(names, n_names);
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
	c->sampler.wave_interval_usec = USEC_PER_SEC;
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
	c->reaper.enabled = true;
	c->reaper.at = CONFIG_REAPER_AT_WAVE;
	c->reaper.idle_usec = REAPER_DEFAULT_IDLE_MS * 1000ULL;
	c->reaper.idle_full_usec = REAPER_DEFAULT_IDLE_FULL_MS * 1000ULL;
	c->reaper.full_fraction = REAPER_DEFAULT_FULL_CONNECTIONS;
	c->reaper.greeting_bytes = REAPER_DEFAULT_GREETING_BYTES;
	c->reaper.max_per_pass = REAPER_DEFAULT_MAX_PER_PASS;
	c->fleet.stream = strdup("waveguard:bans");
	c->fleet.maxlen = 100000;
	c->fleet.outbox = 100000;
	c->dnsbl.a = strdup("127.0.0.2");
	c->dnsbl.txt = strdup("listed by waveguard on %host%, jail %jail%, until %until%");
	c->log_level = LOG_INFO;
	c->max_line = CONFIG_DEFAULT_MAX_LINE;
	c->max_bans = 500000;
	c->max_evidence = 32 * 1024 * 1024;
	if (!c->dir || !c->state_dir || !c->control_socket || !c->nft.table || !c->nft.set4 ||
	    !c->nft.set6 || !c->nft.chain || !c->tuner.action || !c->tuner.esmtpd ||
	    !c->fleet.stream || !c->dnsbl.a || !c->dnsbl.txt)
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

/* Defaults, then waveguard.conf, then waveguard.local when there is one. */
static int load_main(const char *dir, struct parser *p, struct config **ret)
{
	_cleanup_(config_freep) struct config *c = calloc(1, sizeof(*c));
	_cleanup_free_ char *main_path = NULL, *local_path = NULL;
	const char *kept;
	int r;

	if (!c)
		return -ENOMEM;
	r = main_defaults(c, dir);
	if (r < 0)
		return r;
	p->cfg = c;
	trusted(p, dir, true);
	if (asprintf(&main_path, "%s/waveguard.conf", dir) < 0 ||
	    asprintf(&local_path, "%s/waveguard.local", dir) < 0 ||
	    !(kept = keep_file(p, main_path)))
		return -ENOMEM;
	p->kind = CONFIG_MAIN;
	r = parse_file(p, kept);
	if (r == -ENOMEM)
		return r;
	if (access(local_path, F_OK) == 0) {
		if (!(kept = keep_file(p, local_path)))
			return -ENOMEM;
		r = parse_file(p, kept);
		if (r == -ENOMEM)
			return r;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

bool config_secret_trusted(const char *path, struct config_errors *errs)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		add_error(errs, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		add_error(errs, "%s: not a regular file", path);
		return false;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		add_error(errs,
			  "%s: a secret readable or writable by group or others is refused "
			  "(chmod 600 %s)",
			  path, path);
		return false;
	}
	return config_trusted(path, &st, false, errs);
}

/* The fleet key's file holds a key (the daemon reads it again at start). */
static void check_key(const char *path, struct config_errors *errs)
{
	_cleanup_free_ char *text = NULL;
	uint8_t key[FLEET_KEY_BYTES];
	size_t len = 0;
	int r = state_read_file(path, 4096, &text, &len);

	if (r < 0)
		add_error(errs, "%s: %s", path, strerror(-r));
	else if (fleet_entry_parse_key(text, len, key) < 0)
		add_error(errs, "%s: expected 64 hexadecimal digits (the fleet key)", path);
	explicit_bzero(key, sizeof(key));
	if (text)
		explicit_bzero(text, len);
}

/* [fleet] when enabled: where Redis is, the key, and secrets that only root can read. */
static void check_fleet(const struct config *c, struct config_errors *errs)
{
	const struct config_fleet *f = &c->fleet;
	const char *file = origin_file(c, "fleet", "enabled", c->files[0]);

	if (!f->enabled)
		return;
	/* A value that was written but refused has its error already. */
	if (!f->redis && !config_origin_find(c, "fleet", "redis"))
		add_error(errs, "%s: [fleet] redis: expected where Redis listens", file);
	if (!f->key_file && !config_origin_find(c, "fleet", "key_file"))
		add_error(errs,
			  "%s: [fleet] key_file: expected the fleet key's file (every entry is "
			  "signed with it)",
			  file);
	else if (f->key_file && config_secret_trusted(f->key_file, errs))
		check_key(f->key_file, errs);
	if (f->password_file)
		config_secret_trusted(f->password_file, errs);
}

/* [dnsbl] when enabled: at least one file. */
static void check_dnsbl(const struct config *c, struct config_errors *errs)
{
	if (c->dnsbl.enabled && !c->dnsbl.ip4set && !c->dnsbl.ip6trie)
		add_error(errs, "%s: [dnsbl] enabled: expected ip4set, ip6trie or both",
			  origin_file(c, "dnsbl", "enabled", c->files[0]));
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
	r = load_dir(&p, "filters", CONFIG_FILTER);
	if (r >= 0)
		r = load_dir(&p, "actions", CONFIG_ACTION);
	if (r >= 0)
		r = load_dir(&p, "conf.d", CONFIG_JAILS);
	free_default_lines(&p);
	if (r < 0)
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
				  "%s:%u: [tuner] action: expected the name of a "
				  "timeouts action in %s/actions/ (type = timeouts)",
				  origin_file(c, "tuner", "action", c->files[0]),
				  c->tuner.action_line, dir);
		struct tuner_params tp;
		config_tuner_params(&c->tuner, &tp);
		if (tuner_params_check(&tp) < 0)
			add_error(errs,
				  "%s/waveguard.conf: [tuner]: thresholds must rise from calm to "
				  "elevated to wave",
				  dir);
	}
	if (c->sampler.concurrency_jail && !config_find_jail(c, c->sampler.concurrency_jail))
		add_error(errs, "%s:%u: concurrency_jail: no jail named %s",
			  origin_file(c, "sampler", "concurrency_jail", c->files[0]),
			  c->sampler.concurrency_line, c->sampler.concurrency_jail);
	if (c->reaper.jail && !config_find_jail(c, c->reaper.jail))
		add_error(errs, "%s:%u: [reaper] jail: no jail named %s",
			  origin_file(c, "reaper", "jail", c->files[0]), c->reaper.jail_line,
			  c->reaper.jail);

	check_fleet(c, errs);
	check_dnsbl(c, errs);

	if (errs->n != before)
		return -EINVAL;
	*ret = TAKE_PTR(c);
	return 0;
}

static void action_done(struct config_action *a)
{
	free(a->name);
	free(a->file);
	free(a->local_file);
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
	free(j->trap_list);
	free(j->trap_path);
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
	if (c->jail_defaults)
		jail_done(c->jail_defaults);
	free(c->jail_defaults);
	for (size_t i = 0; i < c->n_origins; i++) {
		free(c->origins[i].section);
		free(c->origins[i].key);
	}
	free(c->origins);
	strv_free(c->files, c->n_files);
	free(c->allow);
	free(c->state_dir);
	free(c->control_socket);
	free(c->metrics);
	free(c->nft.table);
	free(c->nft.set4);
	free(c->nft.set6);
	free(c->nft.chain);
	free(c->sampler.concurrency_jail);
	free(c->reaper.jail);
	free(c->sampler.history);
	free(c->probe.address);
	free(c->tuner.action);
	free(c->tuner.esmtpd);
	free(c->fleet.redis);
	free(c->fleet.user);
	free(c->fleet.password_file);
	free(c->fleet.key_file);
	free(c->fleet.stream);
	free(c->fleet.host);
	strv_free(c->fleet.publish, c->fleet.n_publish);
	strv_free(c->fleet.apply, c->fleet.n_apply);
	free(c->dnsbl.ip4set);
	free(c->dnsbl.ip6trie);
	free(c->dnsbl.a);
	free(c->dnsbl.txt);
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

bool config_filter_captures_user(const struct config_filter *f)
{
	for (size_t i = 0; f && i < f->n_fail; i++)
		if (strstr(f->fail[i].pattern, "<HOST>") && strstr(f->fail[i].pattern, "<USER>"))
			return true;
	return false;
}

const char *config_jail_idle_action(const struct config_jail *j)
{
	if (!j->enabled || !j->filter || config_filter_can_ban(j->filter))
		return NULL;
	for (size_t i = 0; i < j->n_actions; i++)
		if (j->actions[i] &&
		    (j->actions[i]->type == ACTION_NFT || j->actions[i]->type == ACTION_EXEC))
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

bool config_jail_ports_cover(const struct config_jail *outer, const struct config_jail *inner)
{
	if (!outer || !inner)
		return false;
	if (outer->all_ports || inner->all_ports)
		return outer->all_ports;
	return ports_within(inner, outer);
}

/* ---- check-config --show ---- */

/* "key = value", the value's origin after it; the further lines of a list of lines below. */
static void show_key(FILE *f, const struct config *c, const char *section, const char *key,
		     const char *value)
{
	const struct config_origin *o = config_origin_find(c, section, key);
	const char *nl = strchr(value, '\n');
	int n = fprintf(f, "%s = %.*s", key, nl ? (int)(nl - value) : (int)strlen(value), value);

	fprintf(f, "%*s# ", n < 40 ? 40 - n : 1, "");
	if (!o)
		fputs("default\n", f);
	else
		fprintf(f, "%s:%u%s\n", o->file, o->line, o->inherited ? " [DEFAULT]" : "");
	while (nl) {
		const char *line = nl + 1;
		nl = strchr(line, '\n');
		fprintf(f, "        %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
	}
}

/* The keys of a section's table (pattern keys are the caller's); only those with an origin
 * when set_only. */
static int show_keys(FILE *f, const struct config *c, const struct config_section *s,
		     const void *obj, const char *section, bool set_only)
{
	for (size_t i = 0; i < s->n_keys; i++) {
		const struct config_key *k = &s->keys[i];
		_cleanup_free_ char *v = NULL;
		if (k->match || (set_only && !config_origin_find(c, section, k->name)))
			continue;
		if (config_keys_format(k, obj, &v) < 0)
			return -ENOMEM;
		show_key(f, c, section, k->name, v);
	}
	return 0;
}

static int show_jail(FILE *f, const struct config *c, const struct config_jail *j, bool set_only)
{
	const struct config_section *s = config_keys_section(CONFIG_JAILS, j->name);
	char key[300];

	fprintf(f, "\n[%s]\n", j->name);
	if (show_keys(f, c, s, j, j->name, set_only) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < j->n_filter_vars; i++) {
		snprintf(key, sizeof(key), "filter.%s", j->filter_vars[i].name);
		show_key(f, c, j->name, key, j->filter_vars[i].value);
	}
	return 0;
}

int config_show(const struct config *c, FILE *f)
{
	char section[300];
	int r = 0;

	fprintf(f,
		"# The effective configuration of %s; after each value, the file:line it came "
		"from,\n# or \"default\" for a built-in value. Files read, in this order:\n",
		c->dir);
	for (size_t i = 0; i < c->n_files; i++)
		fprintf(f, "#   %s\n", c->files[i]);
	for (size_t i = 0; i < config_keys_n_sections && r >= 0; i++) {
		const struct config_section *s = &config_keys_sections[i];
		if (s->kind != CONFIG_MAIN)
			continue;
		fprintf(f, "\n[%s]\n", s->name);
		r = show_keys(f, c, s, (const char *)c + s->offset, s->name, false);
	}
	if (c->jail_defaults && r >= 0)
		r = show_jail(f, c, c->jail_defaults, true);
	for (size_t i = 0; i < c->n_jails && r >= 0; i++)
		r = show_jail(f, c, &c->jails[i], false);
	for (size_t i = 0; i < c->n_filters && r >= 0; i++) {
		const struct config_filter *flt = &c->filters[i];
		fprintf(f, "\n# filter %s: %s%s%s\n", flt->name, flt->file,
			flt->local_file ? ", " : "", flt->local_file ? flt->local_file : "");
		static const char *const parts[] = { "filter", "vars", "test" };
		for (size_t k = 0; k < ELEMENTSOF(parts) && r >= 0; k++) {
			const struct config_section *s =
				config_keys_section(CONFIG_FILTER, parts[k]);
			snprintf(section, sizeof(section), "filter/%s/%s", flt->name, parts[k]);
			fprintf(f, "[%s]\n", parts[k]);
			r = show_keys(f, c, s, flt, section, false);
			if (strcmp(parts[k], "vars") == 0)
				for (size_t v = 0; v < flt->n_vars; v++)
					show_key(f, c, section, flt->vars[v].name,
						 flt->vars[v].value);
		}
	}
	for (size_t i = 0; i < c->n_actions && r >= 0; i++) {
		const struct config_action *a = &c->actions[i];
		const struct config_section *s = config_keys_section(CONFIG_ACTION, "action");
		fprintf(f, "\n# action %s: %s%s%s\n[action]\n", a->name, a->file,
			a->local_file ? ", " : "", a->local_file ? a->local_file : "");
		snprintf(section, sizeof(section), "action/%s", a->name);
		r = show_keys(f, c, s, a, section, false);
		for (size_t k = 0; k < a->n_files && r >= 0; k++) {
			_cleanup_free_ char *v = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&v, &len);
			if (!m)
				return -ENOMEM;
			config_keys_format_duration(m, a->files[k].elevated_usec);
			fputc(' ', m);
			config_keys_format_duration(m, a->files[k].wave_usec);
			if (fclose(m) != 0)
				return -ENOMEM;
			show_key(f, c, section, a->files[k].name, v);
		}
	}
	if (r < 0)
		return r;
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
