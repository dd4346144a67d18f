/* The configuration keys as data: the value setters by type, the few setters of their own, and
 * one table per section. config.c reads the files and hands each key = value here; the tables
 * also give the "expected ..." lists of its errors and `check-config --keys`. Every error names
 * file:line and what was expected. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config_keys.h"
#include "exec_template.h"
#include "journal_match.h"
#include "log.h"
#include "macro.h"
#include "timeutil.h"

#define perr(x, ...) config_errors_add((x)->errs, __VA_ARGS__)

/* The field of obj a key's offset points at. */
#define FIELD(obj, off) ((void *)((char *)(obj) + (off)))

static void append(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static const char *sep(size_t i, size_t n, bool or_last);

/* "%s = '%s': expected ..." with the key's words, or its type's ("yes or no", the choices). */
static void bad_value(struct config_key_ctx *x, const struct config_key *k, const char *value)
{
	char choices[256] = "";
	const char *expected = k->expected;

	if (!expected && k->type == CONFIG_CHOICE) {
		size_t n = 0;
		while (k->choices[n])
			n++;
		for (size_t i = 0; i < n; i++)
			append(choices, sizeof(choices), "%s%s", sep(i, n, true), k->choices[i]);
		expected = choices;
	} else if (!expected)
		expected = k->type == CONFIG_BOOL ? "yes or no" : "an absolute path";
	perr(x, "%s:%u: %s = '%s': expected %s", x->file, x->line, x->key, value, expected);
}

/* The key's line, for errors found later (resolution), when the key has a place for it. */
static void note_line(struct config_key_ctx *x, const struct config_key *k, void *obj)
{
	if (k->line_offset)
		*(unsigned *)FIELD(obj, k->line_offset - 1) = x->line;
}

/* ---- parsing ---- */

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned *ret)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return *ret = true, 0;
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (strcasecmp(s, no[i]) == 0)
			return *ret = false, 0;
	return -EINVAL;
}

static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M')
		mult = 1024 * 1024, end++;
	else if (*end == 'G')
		mult = 1024 * 1024 * 1024, end++;
	if (errno || *end || v > (1ULL << 40) / mult)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

/* "25%" or "0.25": a fraction from 0 to 1. */
static int parse_fraction(const char *s, double *ret)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	if (*end == '%') {
		d /= 100.0;
		end++;
	}
	if (*end || !(d >= 0.0 && d <= 1.0))
		return -EINVAL;
	*ret = d;
	return 0;
}

/* Stores v in an unsigned field of the key's width (uint16_t ports, size_t max_line, enums). */
static void store_unsigned(void *dst, size_t size, unsigned v)
{
	if (size == sizeof(uint16_t))
		*(uint16_t *)dst = (uint16_t)v;
	else if (size == sizeof(uint64_t))
		*(uint64_t *)dst = v;
	else
		*(unsigned *)dst = v;
}

/* ---- validators ---- */

bool config_keys_valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static bool valid_var_name(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static bool valid_nft_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !isalpha((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static bool valid_address(const char *s)
{
	struct addr a;
	return addr_parse(s, strlen(s), &a) >= 0;
}

/* A unix socket's absolute path, or a numeric address and a port ("[v6]:port" for IPv6): the
 * daemon connects without a DNS look-up that could stall its loop. */
static bool valid_redis(const char *s)
{
	const char *colon = strrchr(s, ':');
	struct addr a;
	char *end;

	if (s[0] == '/')
		return true;
	if (!colon || colon == s)
		return false;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port == 0 || port > 65535)
		return false;
	if (s[0] == '[')
		return colon[-1] == ']' && addr_parse(s + 1, (size_t)(colon - s - 2), &a) >= 0 &&
		       a.family == AF_INET6;
	return addr_parse(s, (size_t)(colon - s), &a) >= 0 && a.family == AF_INET;
}

/* A fleet host's name: letters, digits, '.', '_', '-', at most 63. */
static bool valid_fleet_host(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* A Redis key or ACL user name: printable, no space (they travel as one argument). */
static bool valid_redis_name(const char *s)
{
	if (!*s || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

static bool valid_ipv4(const char *s)
{
	struct addr a;
	return addr_parse(s, strlen(s), &a) >= 0 && a.family == AF_INET;
}

/* Text that rbldnsd takes as a TXT template on one line: printable, no ':' first. */
static bool valid_txt(const char *s)
{
	if (s[0] == ':' || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			return false;
	return true;
}

static bool valid_absolute(const char *s)
{
	return s[0] == '/';
}

static bool valid_nonempty(const char *s)
{
	return s[0] != '\0';
}

/* ---- setters by type ---- */

static void set_str(struct config_key_ctx *x, char **dst, const char *value)
{
	char *d = strdup(value);
	if (!d) {
		x->failed_alloc = true;
		return;
	}
	free(*dst);
	*dst = d;
}

static void set_string(struct config_key_ctx *x, const struct config_key *k, void *obj,
		       const char *value)
{
	bool ok = k->type == CONFIG_PATH ? valid_absolute(value) : !k->valid || k->valid(value);
	if (!ok) {
		bad_value(x, k, value);
		return;
	}
	set_str(x, FIELD(obj, k->offset), value);
	note_line(x, k, obj);
}

static void set_bool(struct config_key_ctx *x, const struct config_key *k, void *obj,
		     const char *value)
{
	if (parse_bool(value, FIELD(obj, k->offset)) < 0)
		bad_value(x, k, value);
}

static void set_unsigned(struct config_key_ctx *x, const struct config_key *k, void *obj,
			 const char *value)
{
	unsigned v;
	if (parse_uint(value, (unsigned long)k->min, (unsigned long)k->max, &v) < 0)
		bad_value(x, k, value);
	else
		store_unsigned(FIELD(obj, k->offset), k->size, v);
}

static void set_integer(struct config_key_ctx *x, const struct config_key *k, void *obj,
			const char *value)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || *end || end == value || v < k->min || v > k->max)
		bad_value(x, k, value);
	else
		*(int *)FIELD(obj, k->offset) = (int)v;
}

static void set_number(struct config_key_ctx *x, const struct config_key *k, void *obj,
		       const char *value)
{
	char *end;
	errno = 0;
	double d = strtod(value, &end);
	if (errno || *end || end == value || !(d >= (double)k->min && d <= (double)k->max))
		bad_value(x, k, value);
	else
		*(double *)FIELD(obj, k->offset) = d;
}

static void set_duration(struct config_key_ctx *x, const struct config_key *k, void *obj,
			 const char *value)
{
	/* A value under min is kept, then refused: the checks after the file see it. */
	uint64_t *v = FIELD(obj, k->offset);
	if (timeutil_parse_duration(value, v) < 0 || *v < (uint64_t)k->min)
		bad_value(x, k, value);
}

/* A ban's length: a duration, or forever. */
static void set_ban_duration(struct config_key_ctx *x, const struct config_key *k, void *obj,
			     const char *value)
{
	uint64_t *v = FIELD(obj, k->offset);
	if (timeutil_parse_duration_or_forever(value, v) < 0 || *v < (uint64_t)k->min)
		bad_value(x, k, value);
}

static void set_fraction(struct config_key_ctx *x, const struct config_key *k, void *obj,
			 const char *value)
{
	if (parse_fraction(value, FIELD(obj, k->offset)) < 0)
		bad_value(x, k, value);
}

static void set_size(struct config_key_ctx *x, const struct config_key *k, void *obj,
		     const char *value)
{
	uint64_t *v = FIELD(obj, k->offset);
	if (parse_size(value, v) < 0 || *v < (uint64_t)k->min)
		bad_value(x, k, value);
}

static void set_choice(struct config_key_ctx *x, const struct config_key *k, void *obj,
		       const char *value)
{
	for (unsigned i = 0; k->choices[i]; i++)
		if (strcmp(value, k->choices[i]) == 0) {
			store_unsigned(FIELD(obj, k->offset), k->size, i);
			return;
		}
	bad_value(x, k, value);
}

/* The default adder of a word list: checks the word, then appends it to a string list. */
static void add_string(struct config_key_ctx *x, const struct config_key *k, void *obj,
		       const char *word)
{
	if (k->valid && !k->valid(word))
		perr(x, "%s:%u: %s '%s': expected %s", x->file, x->line, x->key, word, k->expected);
	else if (!config_keys_strv_push(FIELD(obj, k->offset), FIELD(obj, k->count_offset), word))
		x->failed_alloc = true;
}

/* Splits a value into words (spaces, tabs, commas) and adds each. */
static void set_words(struct config_key_ctx *x, const struct config_key *k, void *obj,
		      const char *value)
{
	config_key_fn *add = k->add ? k->add : add_string;
	char word[512];
	const char *s = value;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t n = strcspn(s, " \t,");
		if (n >= sizeof(word)) {
			perr(x, "%s:%u: word too long", x->file, x->line);
		} else {
			memcpy(word, s, n);
			word[n] = '\0';
			add(x, k, obj, word);
		}
		s += n;
	}
}

/* Each line one item; empty lines add nothing. */
static void set_lines(struct config_key_ctx *x, const struct config_key *k, void *obj,
		      const char *value)
{
	if (*value &&
	    !config_keys_strv_push(FIELD(obj, k->offset), FIELD(obj, k->count_offset), value))
		x->failed_alloc = true;
}

static config_key_fn *const type_setters[] = {
	[CONFIG_STRING] = set_string,	  [CONFIG_PATH] = set_string,
	[CONFIG_BOOL] = set_bool,	  [CONFIG_UNSIGNED] = set_unsigned,
	[CONFIG_INTEGER] = set_integer,	  [CONFIG_NUMBER] = set_number,
	[CONFIG_DURATION] = set_duration, [CONFIG_FRACTION] = set_fraction,
	[CONFIG_SIZE] = set_size,	  [CONFIG_CHOICE] = set_choice,
	[CONFIG_WORDS] = set_words,	  [CONFIG_LINES] = set_lines,
};

static const char *const type_names[] = {
	[CONFIG_STRING] = "string",	[CONFIG_PATH] = "path",		[CONFIG_BOOL] = "bool",
	[CONFIG_UNSIGNED] = "unsigned", [CONFIG_INTEGER] = "integer",	[CONFIG_NUMBER] = "number",
	[CONFIG_DURATION] = "duration", [CONFIG_FRACTION] = "fraction", [CONFIG_SIZE] = "size",
	[CONFIG_CHOICE] = "choice",	[CONFIG_WORDS] = "words",	[CONFIG_LINES] = "lines",
};

bool config_keys_strv_push(char ***v, size_t *n, const char *s)
{
	char *d = strdup(s);
	char **slot = d ? ARRAY_GROW(*v, *n) : NULL;
	if (!slot) {
		free(d);
		return false;
	}
	*slot = d;
	return true;
}

/* ---- setters of their own ---- */

/* A network of an allow list (struct addr array at offset, count at count_offset). */
static void add_cidr(struct config_key_ctx *x, const struct config_key *k, void *obj,
		     const char *word)
{
	struct addr **arr = FIELD(obj, k->offset), a, *slot;
	size_t *n = FIELD(obj, k->count_offset);

	if (addr_parse_cidr(word, &a) < 0) {
		perr(x,
		     "%s:%u: '%s' is not an address or network (expected e.g. 192.0.2.0/24 or "
		     "2001:db8::/32)",
		     x->file, x->line, word);
		return;
	}
	slot = ARRAY_GROW(*arr, *n);
	if (!slot) {
		x->failed_alloc = true;
		return;
	}
	*slot = a;
}

/* A port of a fixed uint16_t array (size bytes at offset, count at count_offset). */
static void add_port(struct config_key_ctx *x, const struct config_key *k, void *obj,
		     const char *word)
{
	uint16_t *ports = FIELD(obj, k->offset);
	size_t *n = FIELD(obj, k->count_offset), max = k->size / sizeof(uint16_t);
	unsigned v;

	if (parse_uint(word, 1, 65535, &v) < 0)
		perr(x, "%s:%u: %s: '%s': expected %s", x->file, x->line, x->key, word,
		     k->expected);
	else if (*n >= max)
		perr(x, "%s:%u: %s: at most %zu ports", x->file, x->line, x->key, max);
	else
		ports[(*n)++] = (uint16_t)v;
}

/* A port, or "all" (sets *all). */
static void add_port_or_all(struct config_key_ctx *x, const struct config_key *k, void *obj,
			    const char *word, bool *all)
{
	if (strcmp(word, "all") == 0)
		*all = true;
	else
		add_port(x, k, obj, word);
}

static void add_nft_port(struct config_key_ctx *x, const struct config_key *k, void *obj,
			 const char *word)
{
	add_port_or_all(x, k, obj, word, &((struct config_nft *)obj)->all_ports);
}

static void add_jail_port(struct config_key_ctx *x, const struct config_key *k, void *obj,
			  const char *word)
{
	add_port_or_all(x, k, obj, word, &((struct config_jail *)obj)->all_ports);
}

/* Port lists: the first line replaces the default ports, continuation lines add. */
static void set_ports(struct config_key_ctx *x, const struct config_key *k, void *obj,
		      const char *value)
{
	if (!x->cont)
		*(size_t *)FIELD(obj, k->count_offset) = 0;
	set_words(x, k, obj, value);
}

/* Port lists that may say all instead: the first line replaces the ports and the all flag. */
static void set_ports_or_all(struct config_key_ctx *x, const struct config_key *k, void *obj,
			     const char *value, bool *all)
{
	if (!x->cont)
		*all = false;
	set_ports(x, k, obj, value);
	if (*all && *(size_t *)FIELD(obj, k->count_offset))
		perr(x, "%s:%u: %s: either port numbers or all", x->file, x->line, x->key);
}

static void set_nft_ports(struct config_key_ctx *x, const struct config_key *k, void *obj,
			  const char *value)
{
	set_ports_or_all(x, k, obj, value, &((struct config_nft *)obj)->all_ports);
}

static void set_jail_ports(struct config_key_ctx *x, const struct config_key *k, void *obj,
			   const char *value)
{
	set_ports_or_all(x, k, obj, value, &((struct config_jail *)obj)->all_ports);
}

static void set_log_level(struct config_key_ctx *x, const struct config_key *k, void *obj,
			  const char *value)
{
	int l = log_level_from_string(value);
	if (l < 0)
		bad_value(x, k, value);
	else
		*(int *)FIELD(obj, k->offset) = l;
}

/* An action's type; its line is kept even when the type is bad, so that check_action() does
 * not add "has no 'type ='" to the error already given. */
static void set_action_type(struct config_key_ctx *x, const struct config_key *k, void *obj,
			    const char *value)
{
	note_line(x, k, obj);
	set_choice(x, k, obj, value);
}

/* An exec action's ban or unban command: split and checked now, so that check-config and a
 * reload refuse it with its file:line. Kept even when refused, so that check_action() does not
 * add "needs 'ban ='" to the error already given. */
static void set_command(struct config_key_ctx *x, const struct config_key *k, void *obj,
			const char *value)
{
	char err[512], **argv = NULL;
	size_t n;
	int r = exec_template_parse(value, &argv, &n, err, sizeof(err));

	if (r == -ENOMEM)
		x->failed_alloc = true;
	else if (r < 0)
		perr(x, "%s:%u: %s: %s", x->file, x->line, x->key, err);
	free(argv);
	set_str(x, FIELD(obj, k->offset), value);
	note_line(x, k, obj);
}

/* esmtptimeoutFOO = ELEVATED WAVE: a file the tuner writes, with its two values. */
static void set_timeout_file(struct config_key_ctx *x, const struct config_key *k, void *obj,
			     const char *value)
{
	struct config_action *a = obj;
	struct config_timeout *t = &a->files[a->n_files];
	char e[64], w[64];

	/* A later file (NAME.local) sets the values of a file an earlier one named. */
	for (size_t i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i].name, x->key) == 0) {
			struct config_timeout v;
			if (sscanf(value, "%63s %63s", e, w) != 2 ||
			    timeutil_parse_duration(e, &v.elevated_usec) < 0 ||
			    timeutil_parse_duration(w, &v.wave_usec) < 0 || v.elevated_usec == 0 ||
			    v.wave_usec == 0)
				bad_value(x, k, value);
			else {
				a->files[i].elevated_usec = v.elevated_usec;
				a->files[i].wave_usec = v.wave_usec;
			}
			return;
		}
	if (a->n_files >= ELEMENTSOF(a->files))
		perr(x, "%s:%u: at most %zu files", x->file, x->line, ELEMENTSOF(a->files));
	else if (sscanf(value, "%63s %63s", e, w) != 2 ||
		 timeutil_parse_duration(e, &t->elevated_usec) < 0 ||
		 timeutil_parse_duration(w, &t->wave_usec) < 0 || t->elevated_usec == 0 ||
		 t->wave_usec == 0)
		bad_value(x, k, value);
	else if (!(t->name = strdup(x->key)))
		x->failed_alloc = true;
	else
		a->n_files++;
}

static bool match_timeout_file(const char *name)
{
	return strncmp(name, "esmtptimeout", 12) == 0 && !strchr(name, '/');
}

/* A jail's action list; its line is kept for "unknown action" even when a name is bad. */
static void set_jail_action(struct config_key_ctx *x, const struct config_key *k, void *obj,
			    const char *value)
{
	note_line(x, k, obj);
	set_words(x, k, obj, value);
}

/* filter.VAR = value: a jail's override of a filter variable, with its line for resolution. */
static void set_filter_var(struct config_key_ctx *x, const struct config_key *k, void *obj,
			   const char *value)
{
	struct config_jail *j = obj;
	const char *name = x->key + strlen("filter.");
	(void)k;

	if (!valid_var_name(name)) {
		perr(x, "%s:%u: '%s': expected filter.VARIABLE", x->file, x->line, x->key);
		return;
	}
	/* A later file's value replaces an earlier one's. */
	for (size_t i = 0; i < j->n_filter_vars; i++)
		if (strcmp(j->filter_vars[i].name, name) == 0) {
			char *d = strdup(value);
			if (!d) {
				x->failed_alloc = true;
				return;
			}
			free((char *)j->filter_vars[i].value);
			j->filter_vars[i].value = d;
			j->filter_var_lines[i] = x->line;
			return;
		}
	struct filter_var *v = ARRAY_GROW(j->filter_vars, j->n_filter_vars);
	unsigned *l = v ? realloc(j->filter_var_lines, j->n_filter_vars * sizeof(unsigned)) : NULL;
	if (!l || !(v->name = strdup(name)) || !(v->value = strdup(value))) {
		x->failed_alloc = true;
		return;
	}
	j->filter_var_lines = l;
	l[j->n_filter_vars - 1] = x->line;
}

static bool match_filter_var(const char *name)
{
	return strncmp(name, "filter.", 7) == 0;
}

/* [vars] NAME = value: a variable of the filter's regexes. */
static void set_var(struct config_key_ctx *x, const struct config_key *k, void *obj,
		    const char *value)
{
	struct config_filter *f = obj;
	(void)k;

	if (x->cont) {
		perr(x, "%s:%u: variable '%s' takes one line", x->file, x->line, x->key);
		return;
	}
	if (!valid_var_name(x->key) || strcmp(x->key, "HOST") == 0) {
		perr(x,
		     "%s:%u: variable name '%s': expected a letter then letters, digits, '_', "
		     "'-' (and not HOST)",
		     x->file, x->line, x->key);
		return;
	}
	/* A later file (NAME.local) replaces the value of an earlier one. */
	for (size_t i = 0; i < f->n_vars; i++)
		if (strcmp(f->vars[i].name, x->key) == 0) {
			char *d = strdup(value);
			if (!d) {
				x->failed_alloc = true;
				return;
			}
			free((char *)f->vars[i].value);
			f->vars[i].value = d;
			return;
		}
	struct filter_var *v = ARRAY_GROW(f->vars, f->n_vars);
	if (!v || !(v->name = strdup(x->key)) || !(v->value = strdup(value)))
		x->failed_alloc = true;
}

static bool match_any(const char *name)
{
	(void)name;
	return true;
}

/* failregex, ignoreregex: each line a regex, remembered with its file:line. */
static void set_regex(struct config_key_ctx *x, const struct config_key *k, void *obj,
		      const char *value)
{
	struct filter_regex_src **arr = FIELD(obj, k->offset);
	size_t *n = FIELD(obj, k->count_offset);

	if (!*value)
		return;
	struct filter_regex_src *r = ARRAY_GROW(*arr, *n);
	if (!r || !(r->pattern = strdup(value))) {
		x->failed_alloc = true;
		return;
	}
	r->file = x->file; /* the loader's copy, alive as long as the filter */
	r->line = x->line;
}

/* "ADDRESS LINE" or "- LINE" of a match sample: the address (or event) and where LINE starts.
 * Returns NULL after reporting the error. */
static const char *parse_match(struct config_key_ctx *x, const char *value, struct config_sample *s)
{
	size_t n = strcspn(value, " \t");
	if (!value[n]) {
		perr(x, "%s:%u: match = ADDRESS LINE (or - LINE for an event)", x->file, x->line);
		return NULL;
	}
	if (n == 1 && value[0] == '-')
		s->event = true;
	else if (addr_parse(value, n, &s->addr) < 0) {
		perr(x, "%s:%u: match: '%.*s' is not an address (expected ADDRESS LINE or - LINE)",
		     x->file, x->line, (int)n, value);
		return NULL;
	}
	const char *line = value + n;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* "USER LINE" of a match_user sample, after its address: what <USER> must capture. Returns
 * where LINE starts, or NULL after reporting the error. */
static const char *parse_user(struct config_key_ctx *x, const char *value, struct config_sample *s)
{
	size_t n = strcspn(value, " \t");
	if (!value[n]) {
		perr(x, "%s:%u: match_user = ADDRESS USER LINE", x->file, x->line);
		return NULL;
	}
	if (!(s->user = strndup(value, n))) {
		x->failed_alloc = true;
		return NULL;
	}
	const char *line = value + n;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* match, match_user, nomatch: each line a [test] sample. */
static void set_sample(struct config_key_ctx *x, const struct config_key *k, void *obj,
		       const char *value)
{
	struct config_filter *f = obj;
	struct config_sample s = { .file = x->file,
				   .lineno = x->line,
				   .match = strcmp(k->name, "nomatch") != 0 };
	const char *line = s.match ? parse_match(x, value, &s) : value;

	if (line && strcmp(k->name, "match_user") == 0) {
		line = s.event ? NULL : parse_user(x, line, &s);
		if (s.event)
			perr(x,
			     "%s:%u: match_user: expected an address, not - (an event has no "
			     "<USER>)",
			     x->file, x->line);
	}
	if (!line) {
		free(s.user);
		return;
	}
	struct config_sample *slot = ARRAY_GROW(f->samples, f->n_samples);
	if (!slot || !(s.line = strdup(line))) {
		free(s.user);
		x->failed_alloc = true;
		return;
	}
	*slot = s;
}

/* Which key a sample came from. */
static bool sample_of(const struct config_sample *s, const struct config_key *k)
{
	if (strcmp(k->name, "nomatch") == 0)
		return !s->match;
	return s->match && (s->user == NULL) == (strcmp(k->name, "match") == 0);
}

/* ---- the tables ---- */

/* The field of a section's struct a key sets, and the count beside a list. */
#define AT(type, field)		 .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)
#define LIST(type, field, count) AT(type, field), .count_offset = offsetof(type, count)
#define LINE_AT(type, field)	 .line_offset = offsetof(type, field) + 1
#define RANGE(lo, hi)		 .min = (lo), .max = (hi)
#define LISTS			 (CONFIG_KEY_MULTILINE | CONFIG_KEY_REPEAT)

#define S struct config
static const struct config_key daemon_keys[] = {
	{ "state_dir", CONFIG_PATH, AT(S, state_dir),
	  .help = "where bans, offences and the journal cursor are kept" },
	{ "control_socket", CONFIG_PATH, AT(S, control_socket),
	  .help = "the socket of status, list, ban, unban and reload" },
	{ "metrics", CONFIG_PATH, AT(S, metrics),
	  .help = "a node_exporter textfile written at each sample" },
	{ "offence_memory", CONFIG_DURATION, AT(S, offence_memory_usec),
	  .expected = "a duration such as 1d or 4w",
	  .help = "how long an ended ban still counts for escalation" },
	{ "log_level", CONFIG_CHOICE, AT(S, log_level), .set = set_log_level,
	  .expected = "err, warning, notice, info or debug",
	  .help = "the least important message logged" },
	{ "max_line", CONFIG_UNSIGNED, AT(S, max_line), RANGE(256, 65536),
	  .expected = "a number of bytes from 256 to 65536",
	  .help = "the longest log line looked at, in bytes" },
	{ "max_bans", CONFIG_UNSIGNED, AT(S, max_bans), RANGE(1000, 100000000),
	  .expected = "a number of bans from 1000 to 100000000",
	  .help = "the most networks the ban table keeps (the shortest bans leave first)" },
	{ "max_evidence", CONFIG_SIZE, AT(S, max_evidence), .min = 65536,
	  .expected = "a size such as 32M (at least 64K)",
	  .help = "bytes of log lines kept as the bans' evidence (the shortest bans lose theirs "
		  "first)" },
	{ "allow", CONFIG_WORDS, LIST(S, allow, n_allow), .flags = LISTS, .add = add_cidr,
	  .help = "addresses and networks never banned, of every jail" },
};
#undef S

#define S struct config_nft
#define NFT_NAME                                                                                   \
	.valid = valid_nft_name, .expected = "a name of letters, digits, '_' and '-' (at most 63)"
static const struct config_key nft_keys[] = {
	{ "table", CONFIG_STRING, AT(S, table), NFT_NAME, .help = "waveguard's own inet table" },
	{ "set4", CONFIG_STRING, AT(S, set4), NFT_NAME, .help = "the set of banned IPv4 networks" },
	{ "set6", CONFIG_STRING, AT(S, set6), NFT_NAME, .help = "the set of banned IPv6 networks" },
	{ "chain", CONFIG_STRING, AT(S, chain), NFT_NAME, .help = "the chain that drops them" },
	{ "ports", CONFIG_WORDS, LIST(S, ports, n_ports), .flags = CONFIG_KEY_MULTILINE,
	  .add = add_nft_port, .set = set_nft_ports, .expected = "port numbers (1-65535) or all",
	  .help = "the TCP ports closed to banned addresses, or all" },
	{ "priority", CONFIG_INTEGER, AT(S, priority), RANGE(-400, 400),
	  .expected = "a number from -400 to 400", .help = "the chain's priority (input hook)" },
};
#undef NFT_NAME
#undef S

#define S struct config_sampler
static const struct config_key sampler_keys[] = {
	{ "enabled", CONFIG_BOOL, AT(S, enabled), .help = "watch the SMTP connections" },
	{ "interval", CONFIG_DURATION, AT(S, interval_usec), .min = 1,
	  .expected = "a duration such as 5s", .help = "time between two samples" },
	{ "wave_interval", CONFIG_DURATION, AT(S, wave_interval_usec), .min = 1,
	  .expected = "a duration such as 1s",
	  .help = "time between two samples while a wave lasts (the reaper's level)" },
	{ "ports", CONFIG_WORDS, LIST(S, ports, n_ports), .flags = CONFIG_KEY_MULTILINE,
	  .add = add_port, .set = set_ports, .expected = "port numbers (1-65535)",
	  .help = "the local ports whose connections are counted" },
	{ "max_concurrent", CONFIG_UNSIGNED, AT(S, max_concurrent), RANGE(0, 100000),
	  .expected = "a number of connections (0 = off)",
	  .help = "connections of one address at a sample that make a hit (0 = off)" },
	{ "concurrency_jail", CONFIG_STRING, AT(S, concurrency_jail), LINE_AT(S, concurrency_line),
	  .valid = config_keys_valid_name, .expected = "a jail name",
	  .help = "the jail those hits go to" },
	{ "history", CONFIG_PATH, AT(S, history),
	  .help = "the CSV of the samples (default state_dir/history.csv)" },
	{ "history_max", CONFIG_SIZE, AT(S, history_max), .min = 4096,
	  .expected = "a size such as 10M (at least 4K)",
	  .help = "the history's size before it is rotated to .1" },
};
#undef S

#define S struct config_probe
static const struct config_key probe_keys[] = {
	{ "enabled", CONFIG_BOOL, AT(S, enabled), .help = "check that the server still answers" },
	{ "address", CONFIG_STRING, AT(S, address), .valid = valid_address,
	  .expected = "a numeric IPv4 or IPv6 address", .help = "the address probed" },
	{ "port", CONFIG_UNSIGNED, AT(S, port), RANGE(1, 65535), .expected = "a port number",
	  .help = "the port probed" },
	{ "timeout", CONFIG_DURATION, AT(S, timeout_usec), .min = 1,
	  .expected = "a duration such as 10s", .help = "how long to wait for the 220 banner" },
};
#undef S

#define S struct config_tuner
#define SHARE(key, field, what)                                                                    \
	{                                                                                          \
		key, CONFIG_FRACTION, AT(S, field),                                                \
			.expected = "a share of MAXDAEMONS such as 25% (0 = off)", .help = what    \
	}
#define COUNT(key, field, what)                                                                    \
	{                                                                                          \
		key, CONFIG_UNSIGNED, AT(S, field), RANGE(0, 1000000),                             \
			.expected = "a number (0 = off)", .help = what                             \
	}
static const struct config_key tuner_keys[] = {
	{ "enabled", CONFIG_BOOL, AT(S, enabled), .help = "shorten Courier's timeouts in a wave" },
	{ "dry_run", CONFIG_BOOL, AT(S, dry_run),
	  .help = "decide and log the levels, write no file" },
	{ "action", CONFIG_STRING, AT(S, action), LINE_AT(S, action_line),
	  .valid = config_keys_valid_name, .expected = "the name of a timeouts action in actions/",
	  .help = "the timeouts action that writes the files" },
	{ "esmtpd", CONFIG_PATH, AT(S, esmtpd),
	  .help = "Courier's esmtpd, where MAXDAEMONS is read" },
	COUNT("max_daemons", max_daemons, "MAXDAEMONS (0: read it from esmtpd)"),
	SHARE("elevated_connections", elevated_fraction, "connections that make it elevated"),
	SHARE("wave_connections", wave_fraction, "connections that make it a wave"),
	SHARE("calm_connections", calm_fraction, "connections under which it is calm again"),
	COUNT("elevated_backlog", elevated_backlog, "a listen backlog that makes it elevated"),
	COUNT("wave_backlog", wave_backlog, "a listen backlog that makes it a wave"),
	COUNT("elevated_bans", elevated_bans, "bans per minute that make it elevated"),
	COUNT("wave_bans", wave_bans, "bans per minute that make it a wave"),
	COUNT("wave_probe_failures", wave_probe_failures, "failed probes in a row for a wave"),
	{ "calm", CONFIG_DURATION, AT(S, calm_usec), .min = 1, .expected = "a duration such as 5m",
	  .help = "how long it must be calm before the timeouts go back" },
};
#undef COUNT
#undef SHARE
#undef S

#define S struct config_reaper
static const struct config_key reaper_keys[] = {
	{ "enabled", CONFIG_BOOL, AT(S, enabled),
	  .help = "close idle holders' connections while a wave lasts" },
	{ "at", CONFIG_CHOICE, AT(S, at),
	  .choices = (const char *const[]){ "elevated", "wave", NULL },
	  .help = "the tuner level from which it works: wave, or elevated" },
	{ "idle", CONFIG_DURATION, AT(S, idle_usec), .min = 1, .expected = "a duration such as 8s",
	  .help = "the client's silence, after the server's last reply, that makes an idle "
		  "holder" },
	{ "full_connections", CONFIG_FRACTION, AT(S, full_fraction),
	  .expected = "a share of MAXDAEMONS such as 75% (0 = never)",
	  .help = "established connections from which idle_full applies" },
	{ "idle_full", CONFIG_DURATION, AT(S, idle_full_usec), .min = 1,
	  .expected = "a duration such as 3s",
	  .help = "the silence that makes an idle holder from full_connections up" },
	{ "greeting_bytes", CONFIG_UNSIGNED, AT(S, greeting_bytes), RANGE(0, 65536),
	  .expected = "a number of bytes from 0 to 65536",
	  .help = "a client that sent more (its greeting and beyond) is never reaped" },
	{ "max_per_pass", CONFIG_UNSIGNED, AT(S, max_per_pass), RANGE(1, 100000),
	  .expected = "a number of connections from 1 to 100000",
	  .help = "connections closed at most per sample" },
	{ "jail", CONFIG_STRING, AT(S, jail), LINE_AT(S, jail_line),
	  .valid = config_keys_valid_name, .expected = "a jail name",
	  .help = "the jail each reaped address is a hit for" },
};
#undef S

#define S struct config_fleet
static const struct config_key fleet_keys[] = {
	{ "enabled", CONFIG_BOOL, AT(S, enabled), .help = "share bans with the other hosts" },
	{ "redis", CONFIG_STRING, AT(S, redis), .valid = valid_redis,
	  .expected = "ADDRESS:PORT (numeric, [v6]:port) or the absolute path of a unix socket",
	  .help = "where Redis listens" },
	{ "user", CONFIG_STRING, AT(S, user), .valid = valid_redis_name,
	  .expected = "a Redis ACL user name", .help = "the Redis ACL user (default: default)" },
	{ "password_file", CONFIG_PATH, AT(S, password_file),
	  .help = "the Redis password, first line; readable by root only" },
	{ "key_file", CONFIG_PATH, AT(S, key_file),
	  .help = "the fleet key (64 hex digits) that signs every entry; readable by root only" },
	{ "stream", CONFIG_STRING, AT(S, stream), .valid = valid_redis_name,
	  .expected = "a Redis key name", .help = "the stream the hosts share" },
	{ "host", CONFIG_STRING, AT(S, host), .valid = valid_fleet_host,
	  .expected = "letters, digits, '.', '_' and '-' (at most 63)",
	  .help = "this host's name in the fleet (default: the hostname)" },
	{ "publish", CONFIG_WORDS, LIST(S, publish, n_publish), .flags = LISTS,
	  .valid = config_keys_valid_name, .expected = "jail names",
	  .help = "the jails whose bans are published (default: all)" },
	{ "apply", CONFIG_WORDS, LIST(S, apply, n_apply), .flags = LISTS,
	  .valid = config_keys_valid_name, .expected = "jail names",
	  .help = "the jails whose remote bans are applied here (default: all)" },
	{ "maxlen", CONFIG_UNSIGNED, AT(S, maxlen), RANGE(1000, 100000000),
	  .expected = "a number of entries from 1000 to 100000000",
	  .help = "the stream is trimmed to about this many entries (MAXLEN ~)" },
	{ "outbox", CONFIG_UNSIGNED, AT(S, outbox), RANGE(100, 10000000),
	  .expected = "a number of entries from 100 to 10000000",
	  .help = "entries kept while Redis is away; past it the oldest unsent go" },
};
#undef S

#define S struct config_dnsbl
static const struct config_key dnsbl_keys[] = {
	{ "enabled", CONFIG_BOOL, AT(S, enabled), .help = "write the bans as rbldnsd data files" },
	{ "ip4set", CONFIG_PATH, AT(S, ip4set),
	  .help = "the rbldnsd ip4set file of the IPv4 bans" },
	{ "ip6trie", CONFIG_PATH, AT(S, ip6trie),
	  .help = "the rbldnsd ip6trie file of the IPv6 bans" },
	{ "a", CONFIG_STRING, AT(S, a), .valid = valid_ipv4, .expected = "an IPv4 address",
	  .help = "the A record of a listed address (e.g. 127.0.0.2)" },
	{ "txt", CONFIG_STRING, AT(S, txt), .valid = valid_txt,
	  .expected = "printable text (with %host%, %jail%, %until%)",
	  .help = "the TXT record of a listed address" },
};
#undef S

#define S struct config_filter
static const struct config_key filter_keys[] = {
	{ "description", CONFIG_STRING, AT(S, description), .help = "one line about the filter" },
	{ "tag", CONFIG_WORDS, LIST(S, tags, n_tags), .flags = CONFIG_KEY_MULTILINE,
	  .help = "the programs (syslog identifiers) whose lines it reads" },
	{ "prefilter", CONFIG_LINES, LIST(S, prefilters, n_prefilters), .flags = LISTS,
	  .help = "literal text a line must contain before the regexes run" },
	{ "failregex", CONFIG_LINES, LIST(S, fail, n_fail), .flags = LISTS, .set = set_regex,
	  .help = "regexes with <HOST>, one per line: a match is a hit" },
	{ "ignoreregex", CONFIG_LINES, LIST(S, ignore, n_ignore), .flags = LISTS, .set = set_regex,
	  .help = "regexes, one per line: a line matching one is no hit" },
};

static const struct config_key vars_keys[] = {
	{ "NAME", CONFIG_STRING, .flags = CONFIG_KEY_MULTILINE, .set = set_var, .match = match_any,
	  .help = "a variable whose value replaces <NAME> in the regexes" },
};

static const struct config_key test_keys[] = {
	{ "match", CONFIG_LINES, .flags = LISTS, .set = set_sample,
	  .help = "ADDRESS LINE (or - LINE): a line that must match and yield the address" },
	{ "match_user", CONFIG_LINES, .flags = LISTS, .set = set_sample,
	  .help = "ADDRESS USER LINE: a line that must match, yield the address and capture USER "
		  "as <USER>" },
	{ "nomatch", CONFIG_LINES, .flags = LISTS, .set = set_sample,
	  .help = "a line that must not match" },
};
#undef S

#define S struct config_action
static const struct config_key action_keys[] = {
	{ "type", CONFIG_CHOICE, AT(S, type), LINE_AT(S, line), .set = set_action_type,
	  .choices = (const char *const[]){ "log", "nft", "exec", "timeouts", NULL },
	  .help = "what the action does" },
	{ "description", CONFIG_STRING, AT(S, description), .help = "one line about the action" },
	{ "ban", CONFIG_STRING, AT(S, ban_cmd), LINE_AT(S, ban_line), .set = set_command,
	  .help = "exec: the command run for a ban (%ip%, %jail%, %bantime%; quotes, no shell)" },
	{ "unban", CONFIG_STRING, AT(S, unban_cmd), LINE_AT(S, unban_line), .set = set_command,
	  .help = "exec: the command run when a ban ends" },
	{ "timeout", CONFIG_DURATION, AT(S, timeout_usec), .min = 1,
	  .expected = "a duration such as 10s", .help = "how long a command may run" },
	{ "directory", CONFIG_PATH, AT(S, directory), .only = "timeouts actions",
	  .help = "where Courier's timeout files are" },
	{ "floor", CONFIG_DURATION, AT(S, floor_usec), .min = 1, .only = "timeouts actions",
	  .expected = "a duration such as 10s (never 0)", .help = "the shortest timeout written" },
	{ "esmtptimeout*", CONFIG_DURATION, .set = set_timeout_file, .match = match_timeout_file,
	  .only = "timeouts actions",
	  .expected = "two durations, at the elevated and the wave level (e.g. 60s 10s)",
	  .help = "a timeout file and its values at the elevated and the wave level" },
};
#undef S

#define S struct config_jail
#define DURATION(key, field, what)                                                                 \
	{                                                                                          \
		key, CONFIG_DURATION, AT(S, field),                                                \
			.min = 1, .expected = "a duration such as 90, 90s, 10m, 1h, 7d",           \
			.help = what                                                               \
	}
static const struct config_key jail_keys[] = {
	{ "enabled", CONFIG_BOOL, AT(S, enabled), .help = "whether the jail runs" },
	{ "filter", CONFIG_STRING, AT(S, filter_name), LINE_AT(S, filter_line),
	  .valid = config_keys_valid_name,
	  .expected = "a filter name (a file in filters/ without .conf)",
	  .help = "the filter of filters/ that finds the hits" },
	{ "filter.VAR", CONFIG_STRING, .set = set_filter_var, .match = match_filter_var,
	  .help = "this jail's value of a variable of the filter's [vars]" },
	{ "source", CONFIG_WORDS, LIST(S, sources, n_sources), .flags = LISTS,
	  .valid = valid_absolute, .expected = "an absolute path", .help = "the log files read" },
	{ "backend", CONFIG_CHOICE, AT(S, backend),
	  .choices = (const char *const[]){ "auto", "files", "journal", "both", "bans", "reaper",
					    NULL },
	  .help = "where the hits come from (bans: the other jails' bans, for recidive; "
		  "reaper: the idle holders the reaper closed)" },
	{ "journal_match", CONFIG_WORDS, LIST(S, journal_matches, n_journal_matches),
	  .flags = LISTS, .valid = journal_match_valid,
	  .expected = "FIELD=value, or FIELD=value+FIELD=value... that an entry must all have "
		      "(e.g. SYSLOG_IDENTIFIER=courieresmtpd+_UID=102)",
	  .help = "journal entries read: any of the groups, all terms of a group "
		  "(default: SYSLOG_IDENTIFIER= each filter tag)" },
	{ "journal_directory", CONFIG_PATH, AT(S, journal_directory),
	  .help = "a journal directory instead of the system journal" },
	{ "maxretry", CONFIG_UNSIGNED, AT(S, maxretry), RANGE(1, 1000),
	  .expected = "a number of hits from 1 to 1000", .help = "hits within findtime that ban" },
	DURATION("findtime", findtime_usec, "the window in which hits are counted"),
	{ "bantime", CONFIG_DURATION, AT(S, bantime_usec), .min = 1, .set = set_ban_duration,
	  .expected = "a duration such as 90, 90s, 10m, 1h, 7d, or forever",
	  .help = "how long the first ban lasts (or forever)" },
	{ "bantime_factor", CONFIG_NUMBER, AT(S, bantime_factor), RANGE(1, 100),
	  .expected = "a number from 1 to 100",
	  .help = "each repeated offence multiplies the ban by it" },
	{ "bantime_max", CONFIG_DURATION, AT(S, bantime_max_usec), .min = 1,
	  .set = set_ban_duration,
	  .expected = "a duration such as 90, 90s, 10m, 1h, 7d, or forever",
	  .help = "the longest ban escalation gives (or forever)" },
	{ "action", CONFIG_WORDS, LIST(S, action_names, n_actions), LINE_AT(S, action_line),
	  .set = set_jail_action, .valid = config_keys_valid_name,
	  .expected = "the name of a file in actions/ without .conf",
	  .help = "the actions of actions/ run for each ban (default nft-set)" },
	{ "allow", CONFIG_WORDS, LIST(S, allow, n_allow), .flags = LISTS, .add = add_cidr,
	  .help = "addresses and networks this jail never bans" },
	{ "max_tracked", CONFIG_UNSIGNED, AT(S, max_tracked), RANGE(1, 10000000),
	  .expected = "a number of addresses from 1 to 10000000",
	  .help = "addresses with hits remembered at most" },
	{ "prefix4", CONFIG_UNSIGNED, AT(S, prefix4), RANGE(8, 32),
	  .expected = "a prefix length from 8 to 32", .help = "IPv4 hits count for this network" },
	{ "prefix6", CONFIG_UNSIGNED, AT(S, prefix6), RANGE(16, 128),
	  .expected = "a prefix length from 16 to 128",
	  .help = "IPv6 hits count for this network" },
	{ "ports", CONFIG_WORDS, LIST(S, ports, n_ports), .flags = CONFIG_KEY_MULTILINE,
	  .add = add_jail_port, .set = set_jail_ports, .expected = "port numbers (1-65535) or all",
	  .help = "the TCP ports its bans close, or all (default: [nft] ports)" },
	{ "trap_list", CONFIG_STRING, AT(S, trap_list), LINE_AT(S, trap_line),
	  .valid = valid_nonempty,
	  .expected = "a file of trap entries (relative to the configuration directory unless "
		      "absolute)",
	  .help = "a hit counts only when its <USER> is in this file (reloaded when it changes)" },
};
#undef DURATION
#undef S

#define SECTION(nm, k, keys_, ...)                                                                 \
	{                                                                                          \
		.name = nm, .kind = k, .keys = keys_, .n_keys = ELEMENTSOF(keys_), __VA_ARGS__     \
	}
const struct config_section config_keys_sections[] = {
	SECTION("daemon", CONFIG_MAIN, daemon_keys),
	SECTION("nft", CONFIG_MAIN, nft_keys, .offset = offsetof(struct config, nft)),
	SECTION("sampler", CONFIG_MAIN, sampler_keys, .offset = offsetof(struct config, sampler)),
	SECTION("probe", CONFIG_MAIN, probe_keys, .offset = offsetof(struct config, probe)),
	SECTION("tuner", CONFIG_MAIN, tuner_keys, .offset = offsetof(struct config, tuner)),
	SECTION("reaper", CONFIG_MAIN, reaper_keys, .offset = offsetof(struct config, reaper)),
	SECTION("fleet", CONFIG_MAIN, fleet_keys, .offset = offsetof(struct config, fleet)),
	SECTION("dnsbl", CONFIG_MAIN, dnsbl_keys, .offset = offsetof(struct config, dnsbl)),
	SECTION("filter", CONFIG_FILTER, filter_keys),
	SECTION("vars", CONFIG_FILTER, vars_keys),
	SECTION("test", CONFIG_FILTER, test_keys, .unknown_every_line = true),
	SECTION("action", CONFIG_ACTION, action_keys),
	SECTION("jail", CONFIG_JAILS, jail_keys),
};
const size_t config_keys_n_sections = ELEMENTSOF(config_keys_sections);
#undef SECTION

/* ---- lookup, dispatch, listings ---- */

const struct config_section *config_keys_section(enum config_file_kind kind, const char *name)
{
	for (size_t i = 0; i < config_keys_n_sections; i++) {
		const struct config_section *s = &config_keys_sections[i];
		if (s->kind == kind && (kind == CONFIG_JAILS || strcmp(s->name, name) == 0))
			return s;
	}
	return NULL;
}

const struct config_key *config_keys_find(const struct config_section *s, const char *name)
{
	for (size_t i = 0; i < s->n_keys; i++)
		if (!s->keys[i].match && strcmp(s->keys[i].name, name) == 0)
			return &s->keys[i];
	for (size_t i = 0; i < s->n_keys; i++)
		if (s->keys[i].match && s->keys[i].match(name))
			return &s->keys[i];
	return NULL;
}

bool config_keys_repeats(const struct config_key *k, const char *name)
{
	if (k && !k->match)
		return k->flags & CONFIG_KEY_REPEAT;
	for (size_t i = 0; i < config_keys_n_sections; i++) {
		const struct config_section *s = &config_keys_sections[i];
		for (size_t j = 0; j < s->n_keys; j++)
			if (!s->keys[j].match && strcmp(s->keys[j].name, name) == 0 &&
			    (s->keys[j].flags & CONFIG_KEY_REPEAT))
				return true;
	}
	return false;
}

void config_keys_set(struct config_key_ctx *x, const struct config_section *s, void *obj,
		     const char *value)
{
	const struct config_key *k = config_keys_find(s, x->key);
	char expected[1024];

	if (x->cont && (k ? !(k->flags & CONFIG_KEY_MULTILINE) : !s->unknown_every_line)) {
		perr(x, "%s:%u: '%s' takes one line", x->file, x->line, x->key);
	} else if (!k) {
		config_keys_expected(s, expected, sizeof(expected));
		perr(x, "%s:%u: unknown key '%s' in %s[%s] (expected %s)", x->file, x->line, x->key,
		     s->kind == CONFIG_JAILS ? "jail " : "", x->section, expected);
	} else
		(k->set ? k->set : type_setters[k->type])(x, k, obj, value);
}

/* Appends to a string that stays terminated when the buffer is too short. */
static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strnlen(buf, size);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* The separator before item i of n: ", ", or " or " before the last one when or_last. */
static const char *sep(size_t i, size_t n, bool or_last)
{
	return i == 0 ? "" : or_last && i == n - 1 ? " or " : ", ";
}

void config_keys_expected(const struct config_section *s, char *buf, size_t size)
{
	size_t n_all = 0, n_only = 0, i = 0, j = 0;
	const char *only = NULL;

	for (size_t k = 0; k < s->n_keys; k++)
		if (s->keys[k].only)
			only = s->keys[k].only, n_only++;
	n_all = s->n_keys - n_only;
	buf[0] = '\0';
	for (size_t k = 0; k < s->n_keys; k++)
		if (!s->keys[k].only)
			append(buf, size, "%s%s", sep(i++, n_all, n_only == 0), s->keys[k].name);
	if (only)
		append(buf, size, "; ");
	for (size_t k = 0; k < s->n_keys; k++)
		if (s->keys[k].only)
			append(buf, size, "%s%s", sep(j++, n_only, false), s->keys[k].name);
	if (only)
		append(buf, size, " for %s", only);
}

void config_keys_sections_expected(enum config_file_kind kind, char *buf, size_t size)
{
	size_t n = 0, i = 0;

	for (size_t k = 0; k < config_keys_n_sections; k++)
		n += config_keys_sections[k].kind == kind;
	buf[0] = '\0';
	for (size_t k = 0; k < config_keys_n_sections; k++)
		if (config_keys_sections[k].kind == kind)
			append(buf, size, "%s[%s]", sep(i++, n, true),
			       config_keys_sections[k].name);
}

int config_keys_print(FILE *f)
{
	for (size_t i = 0; i < config_keys_n_sections; i++) {
		const struct config_section *s = &config_keys_sections[i];
		for (size_t k = 0; k < s->n_keys; k++)
			fprintf(f, "%s %s %s  %s\n", s->name, s->keys[k].name,
				type_names[s->keys[k].type], s->keys[k].help);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* ---- layers: a later file's list replaces; the effective values as text ---- */

/* A list of ports: a fixed uint16_t array in the section's struct (not a pointer to one). */
static bool is_port_list(const struct config_key *k)
{
	return k->type == CONFIG_WORDS && k->count_offset && k->size != sizeof(void *);
}

/* The "all" flag beside a port list that may say all, or NULL. (A port list of another
 * section that takes all adds its adder here.) */
static bool *port_list_all(const struct config_key *k, void *obj)
{
	if (k->add == add_nft_port)
		return &((struct config_nft *)obj)->all_ports;
	if (k->add == add_jail_port)
		return &((struct config_jail *)obj)->all_ports;
	return NULL;
}

void config_keys_reset(const struct config_key *k, void *obj)
{
	if (k->set == set_sample) {
		struct config_filter *f = obj;
		size_t n = 0;
		for (size_t i = 0; i < f->n_samples; i++)
			if (sample_of(&f->samples[i], k)) {
				free(f->samples[i].line);
				free(f->samples[i].user);
			} else
				f->samples[n++] = f->samples[i];
		f->n_samples = n;
		return;
	}
	if ((k->type != CONFIG_WORDS && k->type != CONFIG_LINES) || !k->count_offset)
		return;
	size_t *n = FIELD(obj, k->count_offset);
	if (is_port_list(k)) {
		bool *all = port_list_all(k, obj);
		if (all)
			*all = false;
		*n = 0;
		return;
	}
	if (k->set == set_regex) {
		struct filter_regex_src **arr = FIELD(obj, k->offset);
		for (size_t i = 0; i < *n; i++)
			free((char *)(*arr)[i].pattern);
		free(*arr);
		*arr = NULL;
	} else if (k->add == add_cidr) {
		struct addr **arr = FIELD(obj, k->offset);
		free(*arr);
		*arr = NULL;
	} else {
		char ***arr = FIELD(obj, k->offset);
		for (size_t i = 0; i < *n; i++)
			free((*arr)[i]);
		free(*arr);
		*arr = NULL;
	}
	*n = 0;
}

void config_keys_format_duration(FILE *f, uint64_t usec)
{
	char buf[TIMEUTIL_DURATION_MAX];

	fputs(timeutil_format_duration(usec, buf, sizeof(buf)), f);
}

static unsigned long long load_unsigned(const void *src, size_t size)
{
	if (size == sizeof(uint16_t))
		return *(const uint16_t *)src;
	if (size == sizeof(uint64_t))
		return *(const uint64_t *)src;
	return *(const unsigned *)src;
}

static const char *const log_level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

static void format_size(FILE *f, uint64_t b)
{
	if (b && b % (1024 * 1024 * 1024) == 0)
		fprintf(f, "%lluG", (unsigned long long)(b >> 30));
	else if (b && b % (1024 * 1024) == 0)
		fprintf(f, "%lluM", (unsigned long long)(b >> 20));
	else if (b && b % 1024 == 0)
		fprintf(f, "%lluK", (unsigned long long)(b >> 10));
	else
		fprintf(f, "%llu", (unsigned long long)b);
}

/* A list of words on one line: ports (or all), networks, strings. */
static void format_words(FILE *f, const struct config_key *k, const void *obj, const void *v,
			 size_t n)
{
	char abuf[ADDR_STRLEN];

	if (is_port_list(k)) {
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%u", i ? " " : "", ((const uint16_t *)v)[i]);
		const bool *all = port_list_all(k, (void *)obj);
		if (all && *all)
			fputs("all", f);
	} else if (k->add == add_cidr) {
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%s", i ? " " : "",
				addr_format(&(*(struct addr *const *)v)[i], abuf, sizeof(abuf)));
	} else
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%s", i ? " " : "", (*(char **const *)v)[i]);
}

/* A list of lines: samples ("ADDRESS LINE" or "- LINE" for match), regexes, strings. */
static void format_lines(FILE *f, const struct config_key *k, const void *obj, const void *v,
			 size_t n)
{
	char abuf[ADDR_STRLEN];

	if (k->set == set_sample) {
		const struct config_filter *flt = obj;
		bool first = true;
		for (size_t i = 0; i < flt->n_samples; i++) {
			const struct config_sample *s = &flt->samples[i];
			if (!sample_of(s, k))
				continue;
			fputs(first ? "" : "\n", f);
			first = false;
			if (s->match)
				fprintf(f, "%s ",
					s->event ? "-" : addr_format(&s->addr, abuf, sizeof(abuf)));
			if (s->user)
				fprintf(f, "%s ", s->user);
			fputs(s->line, f);
		}
	} else if (k->set == set_regex)
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%s", i ? "\n" : "",
				(*(struct filter_regex_src *const *)v)[i].pattern);
	else
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%s", i ? "\n" : "", (*(char **const *)v)[i]);
}

int config_keys_format(const struct config_key *k, const void *obj, char **ret)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const void *v = (const char *)obj + k->offset;
	const size_t n =
		k->count_offset ? *(const size_t *)((const char *)obj + k->count_offset) : 0;

	if (!f)
		return -ENOMEM;
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		if (*(char *const *)v)
			fputs(*(char *const *)v, f);
		break;
	case CONFIG_BOOL:
		fputs(*(const bool *)v ? "yes" : "no", f);
		break;
	case CONFIG_UNSIGNED:
		fprintf(f, "%llu", load_unsigned(v, k->size));
		break;
	case CONFIG_INTEGER:
		fprintf(f, "%d", *(const int *)v);
		break;
	case CONFIG_NUMBER:
		fprintf(f, "%g", *(const double *)v);
		break;
	case CONFIG_DURATION:
		config_keys_format_duration(f, *(const uint64_t *)v);
		break;
	case CONFIG_FRACTION:
		fprintf(f, "%g%%", *(const double *)v * 100.0);
		break;
	case CONFIG_SIZE:
		format_size(f, *(const uint64_t *)v);
		break;
	case CONFIG_CHOICE:
		if (k->set == set_log_level) {
			int l = *(const int *)v;
			fputs(l >= 0 && l < (int)ELEMENTSOF(log_level_names) ? log_level_names[l]
									     : "?",
			      f);
		} else
			fputs(k->choices[load_unsigned(v, k->size)], f);
		break;
	case CONFIG_WORDS:
		format_words(f, k, obj, v, n);
		break;
	case CONFIG_LINES:
		format_lines(f, k, obj, v, n);
		break;
	}
	if (fclose(f) != 0 || !out) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}
