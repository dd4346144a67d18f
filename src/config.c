/* Configuration loading. inih does the INI syntax; a line-counting reader around it gives every
 * key its file:line and tells continuation lines (multi-line values) from repeated keys. All
 * errors are collected, so that one check-config run shows every mistake. */
#include <ctype.h>
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
#include "log.h"
#include "logline.h"
#include "macro.h"
#include "state.h"
#include "timeutil.h"
#include "tuner.h"

#define MAX_CONFIG_FILE (1024 * 1024)
#define MAX_CONFIG_LINE 4096

enum file_kind { KIND_MAIN, KIND_FILTER, KIND_ACTION, KIND_JAILS };

struct parser {
	struct config *cfg;
	struct config_errors *errs;
	enum file_kind kind;
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
	char last_key[128]; /* for continuation lines */
	char seen[64][64];  /* keys seen in this section (duplicates are errors) */
	size_t n_seen;

	struct config_filter *filter;
	struct config_action *action;
	struct config_jail *jail;
	bool filter_has_section;
};

static _printf_(2, 3) void add_error(struct config_errors *e, const char *fmt, ...)
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

#define perr(p, ...) add_error((p)->errs, __VA_ARGS__)

void config_errors_clear(struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
}

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

/* Splits a value into words (spaces, tabs, commas) and calls fn for each. */
static void for_words(struct parser *p, const char *value,
		      void (*fn)(struct parser *p, const char *word, void *arg), void *arg)
{
	char word[512];
	const char *s = value;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t n = strcspn(s, " \t,");
		if (n >= sizeof(word)) {
			perr(p, "%s:%u: word too long", p->file, p->lineno);
		} else {
			memcpy(word, s, n);
			word[n] = '\0';
			fn(p, word, arg);
		}
		s += n;
	}
}

struct addr_list {
	struct addr **arr;
	size_t *n;
};

static void add_cidr(struct parser *p, const char *word, void *arg)
{
	struct addr_list *l = arg;
	struct addr a, *slot;
	if (addr_parse_cidr(word, &a) < 0) {
		perr(p, "%s:%u: '%s' is not an address or network (expected e.g. 192.0.2.0/24 or "
			"2001:db8::/32)",
		     p->file, p->lineno, word);
		return;
	}
	slot = ARRAY_GROW(*l->arr, *l->n);
	if (!slot) {
		p->failed_alloc = 1;
		return;
	}
	*slot = a;
}

static bool strv_push(char ***v, size_t *n, const char *s)
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

static void add_source(struct parser *p, const char *word, void *arg)
{
	(void)arg;
	if (word[0] != '/') {
		perr(p, "%s:%u: source '%s': expected an absolute path", p->file, p->lineno, word);
		return;
	}
	if (!strv_push(&p->jail->sources, &p->jail->n_sources, word))
		p->failed_alloc = 1;
}

static bool valid_journal_match(const char *s)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s)
		return false;
	for (const char *c = s; c < eq; c++)
		if (!(isupper((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_'))
			return false;
	return true;
}

static void add_journal_match(struct parser *p, const char *word, void *arg)
{
	(void)arg;
	if (!valid_journal_match(word)) {
		perr(p, "%s:%u: journal_match '%s': expected FIELD=value (e.g. "
			"SYSLOG_IDENTIFIER=courieresmtpd)",
		     p->file, p->lineno, word);
		return;
	}
	if (!strv_push(&p->jail->journal_matches, &p->jail->n_journal_matches, word))
		p->failed_alloc = 1;
}

static void add_tag(struct parser *p, const char *word, void *arg)
{
	(void)arg;
	if (!strv_push(&p->filter->tags, &p->filter->n_tags, word))
		p->failed_alloc = 1;
}

static bool valid_name(const char *s)
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

/* ---- sections ---- */

static void begin_section(struct parser *p, const char *name)
{
	snprintf(p->section, sizeof(p->section), "%s", name);
	p->section_line = p->lineno;
	p->section_ok = true;
	p->n_seen = 0;
	p->last_key[0] = '\0';
	p->jail = NULL;

	switch (p->kind) {
	case KIND_MAIN:
		if (strcmp(name, "daemon") != 0 && strcmp(name, "nft") != 0 &&
		    strcmp(name, "sampler") != 0 && strcmp(name, "probe") != 0 &&
		    strcmp(name, "tuner") != 0) {
			perr(p, "%s:%u: unknown section [%s] (expected [daemon], [nft], [sampler], "
				"[probe] or [tuner])",
			     p->file, p->lineno, name);
			p->section_ok = false;
		}
		break;
	case KIND_FILTER:
		if (strcmp(name, "filter") == 0)
			p->filter_has_section = true;
		else if (strcmp(name, "vars") != 0 && strcmp(name, "test") != 0) {
			perr(p, "%s:%u: unknown section [%s] (expected [filter], [vars] or [test])",
			     p->file, p->lineno, name);
			p->section_ok = false;
		}
		break;
	case KIND_ACTION:
		if (strcmp(name, "action") != 0) {
			perr(p, "%s:%u: unknown section [%s] (expected [action])", p->file, p->lineno,
			     name);
			p->section_ok = false;
		}
		break;
	case KIND_JAILS: {
		struct config *c = p->cfg;
		if (!valid_name(name)) {
			perr(p, "%s:%u: jail name '%s': expected letters, digits, '-', '_', '.'",
			     p->file, p->lineno, name);
			p->section_ok = false;
			break;
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
		break;
	}
	}
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

static void set_str(struct parser *p, char **dst, const char *value)
{
	char *d = strdup(value);
	if (!d) {
		p->failed_alloc = 1;
		return;
	}
	free(*dst);
	*dst = d;
}

#define BAD_VALUE(p, key, value, expected)                                                         \
	perr(p, "%s:%u: %s = '%s': expected %s", (p)->file, (p)->lineno, key, value, expected)

static void daemon_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config *c = p->cfg;

	if (strcmp(key, "allow") == 0) {
		/* A list, also over several lines; first line replaces the built-in default. */
		if (!cont) {
			free(c->allow);
			c->allow = NULL;
			c->n_allow = 0;
		}
		for_words(p, value, add_cidr, &(struct addr_list){ &c->allow, &c->n_allow });
		return;
	}
	if (cont) {
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
		return;
	}
	if (strcmp(key, "state_dir") == 0 || strcmp(key, "control_socket") == 0 ||
	    strcmp(key, "metrics") == 0) {
		if (value[0] != '/')
			BAD_VALUE(p, key, value, "an absolute path");
		else
			set_str(p, key[0] == 's' ? &c->state_dir
				   : key[0] == 'c' ? &c->control_socket
						   : &c->metrics,
				value);
	} else if (strcmp(key, "offence_memory") == 0) {
		if (timeutil_parse_duration(value, &c->offence_memory_usec) < 0)
			BAD_VALUE(p, key, value, "a duration such as 1d or 4w");
	} else if (strcmp(key, "log_level") == 0) {
		int l = log_level_from_string(value);
		if (l < 0)
			BAD_VALUE(p, key, value, "err, warning, notice, info or debug");
		else
			c->log_level = l;
	} else if (strcmp(key, "max_line") == 0) {
		unsigned v;
		if (parse_uint(value, 256, 65536, &v) < 0)
			BAD_VALUE(p, key, value, "a number of bytes from 256 to 65536");
		else
			c->max_line = v;
	} else
		perr(p, "%s:%u: unknown key '%s' in [daemon] (expected state_dir, control_socket, "
			"metrics, offence_memory, log_level, max_line or allow)",
		     p->file, p->lineno, key);
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

static void add_port(struct parser *p, const char *word, void *arg)
{
	struct config_nft *n = arg;
	unsigned v;

	if (strcmp(word, "all") == 0) {
		n->all_ports = true;
		return;
	}
	if (parse_uint(word, 1, 65535, &v) < 0) {
		perr(p, "%s:%u: ports: '%s': expected port numbers (1-65535) or all", p->file,
		     p->lineno, word);
		return;
	}
	if (n->n_ports >= ELEMENTSOF(n->ports)) {
		perr(p, "%s:%u: ports: at most %zu ports", p->file, p->lineno, ELEMENTSOF(n->ports));
		return;
	}
	n->ports[n->n_ports++] = (uint16_t)v;
}

static void add_sampler_port(struct parser *p, const char *word, void *arg)
{
	struct config_sampler *sm = arg;
	unsigned v;

	if (parse_uint(word, 1, 65535, &v) < 0) {
		perr(p, "%s:%u: ports: '%s': expected port numbers (1-65535)", p->file, p->lineno,
		     word);
		return;
	}
	if (sm->n_ports >= ELEMENTSOF(sm->ports)) {
		perr(p, "%s:%u: ports: at most %zu ports", p->file, p->lineno, ELEMENTSOF(sm->ports));
		return;
	}
	sm->ports[sm->n_ports++] = (uint16_t)v;
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

static void sampler_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config_sampler *sm = &p->cfg->sampler;

	if (strcmp(key, "ports") == 0) {
		if (!cont)
			sm->n_ports = 0;
		for_words(p, value, add_sampler_port, sm);
		return;
	}
	if (cont) {
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
		return;
	}
	if (strcmp(key, "enabled") == 0) {
		if (parse_bool(value, &sm->enabled) < 0)
			BAD_VALUE(p, key, value, "yes or no");
	} else if (strcmp(key, "interval") == 0) {
		if (timeutil_parse_duration(value, &sm->interval_usec) < 0 || sm->interval_usec == 0)
			BAD_VALUE(p, key, value, "a duration such as 5s");
	} else if (strcmp(key, "max_concurrent") == 0) {
		if (parse_uint(value, 0, 100000, &sm->max_concurrent) < 0)
			BAD_VALUE(p, key, value, "a number of connections (0 = off)");
	} else if (strcmp(key, "concurrency_jail") == 0) {
		if (!valid_name(value))
			BAD_VALUE(p, key, value, "a jail name");
		else {
			set_str(p, &sm->concurrency_jail, value);
			sm->concurrency_line = p->lineno;
		}
	} else if (strcmp(key, "history") == 0) {
		if (value[0] != '/')
			BAD_VALUE(p, key, value, "an absolute path");
		else
			set_str(p, &sm->history, value);
	} else if (strcmp(key, "history_max") == 0) {
		if (parse_size(value, &sm->history_max) < 0 || sm->history_max < 4096)
			BAD_VALUE(p, key, value, "a size such as 10M (at least 4K)");
	} else
		perr(p, "%s:%u: unknown key '%s' in [sampler] (expected enabled, interval, ports, "
			"max_concurrent, concurrency_jail, history or history_max)",
		     p->file, p->lineno, key);
}

static void probe_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config_probe *pr = &p->cfg->probe;
	unsigned v;
	struct addr a;

	if (cont)
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
	else if (strcmp(key, "enabled") == 0) {
		if (parse_bool(value, &pr->enabled) < 0)
			BAD_VALUE(p, key, value, "yes or no");
	} else if (strcmp(key, "address") == 0) {
		if (addr_parse(value, strlen(value), &a) < 0)
			BAD_VALUE(p, key, value, "a numeric IPv4 or IPv6 address");
		else
			set_str(p, &pr->address, value);
	} else if (strcmp(key, "port") == 0) {
		if (parse_uint(value, 1, 65535, &v) < 0)
			BAD_VALUE(p, key, value, "a port number");
		else
			pr->port = (uint16_t)v;
	} else if (strcmp(key, "timeout") == 0) {
		if (timeutil_parse_duration(value, &pr->timeout_usec) < 0 || pr->timeout_usec == 0)
			BAD_VALUE(p, key, value, "a duration such as 10s");
	} else
		perr(p, "%s:%u: unknown key '%s' in [probe] (expected enabled, address, port or "
			"timeout)",
		     p->file, p->lineno, key);
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

static void tuner_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config_tuner *t = &p->cfg->tuner;
	static const struct {
		const char *key;
		size_t off;
	} fractions[] = {
		{ "elevated_connections", offsetof(struct config_tuner, elevated_fraction) },
		{ "wave_connections", offsetof(struct config_tuner, wave_fraction) },
		{ "calm_connections", offsetof(struct config_tuner, calm_fraction) },
	}, counts[] = {
		{ "elevated_backlog", offsetof(struct config_tuner, elevated_backlog) },
		{ "wave_backlog", offsetof(struct config_tuner, wave_backlog) },
		{ "elevated_bans", offsetof(struct config_tuner, elevated_bans) },
		{ "wave_bans", offsetof(struct config_tuner, wave_bans) },
		{ "wave_probe_failures", offsetof(struct config_tuner, wave_probe_failures) },
		{ "max_daemons", offsetof(struct config_tuner, max_daemons) },
	};

	if (cont) {
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(fractions); i++)
		if (strcmp(key, fractions[i].key) == 0) {
			if (parse_fraction(value, (double *)((char *)t + fractions[i].off)) < 0)
				BAD_VALUE(p, key, value, "a share of MAXDAEMONS such as 25% (0 = off)");
			return;
		}
	for (size_t i = 0; i < ELEMENTSOF(counts); i++)
		if (strcmp(key, counts[i].key) == 0) {
			if (parse_uint(value, 0, 1000000, (unsigned *)((char *)t + counts[i].off)) < 0)
				BAD_VALUE(p, key, value, "a number (0 = off)");
			return;
		}
	if (strcmp(key, "enabled") == 0 || strcmp(key, "dry_run") == 0) {
		if (parse_bool(value, key[0] == 'e' ? &t->enabled : &t->dry_run) < 0)
			BAD_VALUE(p, key, value, "yes or no");
	} else if (strcmp(key, "calm") == 0) {
		if (timeutil_parse_duration(value, &t->calm_usec) < 0 || t->calm_usec == 0)
			BAD_VALUE(p, key, value, "a duration such as 5m");
	} else if (strcmp(key, "esmtpd") == 0) {
		if (value[0] != '/')
			BAD_VALUE(p, key, value, "an absolute path");
		else
			set_str(p, &t->esmtpd, value);
	} else if (strcmp(key, "action") == 0) {
		if (!valid_name(value))
			BAD_VALUE(p, key, value, "the name of a timeouts action in actions/");
		else {
			set_str(p, &t->action, value);
			t->action_line = p->lineno;
		}
	} else
		perr(p, "%s:%u: unknown key '%s' in [tuner] (expected enabled, dry_run, action, "
			"esmtpd, max_daemons, elevated_connections, wave_connections, "
			"calm_connections, elevated_backlog, wave_backlog, elevated_bans, wave_bans, "
			"wave_probe_failures or calm)",
		     p->file, p->lineno, key);
}

static void nft_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config_nft *n = &p->cfg->nft;

	if (strcmp(key, "ports") == 0) {
		if (!cont) {
			n->n_ports = 0;
			n->all_ports = false;
		}
		for_words(p, value, add_port, n);
		if (n->all_ports && n->n_ports)
			perr(p, "%s:%u: ports: either port numbers or all", p->file, p->lineno);
		return;
	}
	if (cont) {
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
		return;
	}
	char **dst = strcmp(key, "table") == 0	? &n->table
		     : strcmp(key, "set4") == 0 ? &n->set4
		     : strcmp(key, "set6") == 0 ? &n->set6
		     : strcmp(key, "chain") == 0 ? &n->chain
						 : NULL;
	if (dst) {
		if (!valid_nft_name(value))
			BAD_VALUE(p, key, value, "a name of letters, digits, '_' and '-' (at most 63)");
		else
			set_str(p, dst, value);
	} else if (strcmp(key, "priority") == 0) {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || *end || end == value || v < -400 || v > 400)
			BAD_VALUE(p, key, value, "a number from -400 to 400");
		else
			n->priority = (int)v;
	} else
		perr(p, "%s:%u: unknown key '%s' in [nft] (expected table, set4, set6, chain, "
			"ports or priority)",
		     p->file, p->lineno, key);
}

static void add_regex(struct parser *p, struct filter_regex_src **arr, size_t *n,
		      const char *value)
{
	if (!*value)
		return;
	struct filter_regex_src *r = ARRAY_GROW(*arr, *n);
	if (!r || !(r->pattern = strdup(value))) {
		p->failed_alloc = 1;
		return;
	}
	r->file = p->filter->file;
	r->line = p->lineno;
}

static void add_sample(struct parser *p, const char *key, const char *value)
{
	struct config_filter *f = p->filter;
	struct config_sample s = { .lineno = p->lineno, .match = strcmp(key, "match") == 0 };
	const char *line = value;

	if (s.match) {
		size_t n = strcspn(value, " \t");
		if (!value[n]) {
			perr(p, "%s:%u: match = ADDRESS LINE (or - LINE for an event)", p->file,
			     p->lineno);
			return;
		}
		if (n == 1 && value[0] == '-')
			s.event = true;
		else if (addr_parse(value, n, &s.addr) < 0) {
			perr(p, "%s:%u: match: '%.*s' is not an address (expected ADDRESS LINE or - "
				"LINE)",
			     p->file, p->lineno, (int)n, value);
			return;
		}
		line = value + n;
		while (*line == ' ' || *line == '\t')
			line++;
	}
	struct config_sample *slot = ARRAY_GROW(f->samples, f->n_samples);
	if (!slot || !(s.line = strdup(line))) {
		p->failed_alloc = 1;
		return;
	}
	*slot = s;
}

static void filter_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config_filter *f = p->filter;

	if (strcmp(p->section, "vars") == 0) {
		if (cont) {
			perr(p, "%s:%u: variable '%s' takes one line", p->file, p->lineno, key);
			return;
		}
		if (!valid_var_name(key) || strcmp(key, "HOST") == 0) {
			perr(p, "%s:%u: variable name '%s': expected a letter then letters, digits, "
				"'_', '-' (and not HOST)",
			     p->file, p->lineno, key);
			return;
		}
		struct filter_var *v = ARRAY_GROW(f->vars, f->n_vars);
		if (!v || !(v->name = strdup(key)) || !(v->value = strdup(value)))
			p->failed_alloc = 1;
		return;
	}
	if (strcmp(p->section, "test") == 0) {
		if (strcmp(key, "match") == 0 || strcmp(key, "nomatch") == 0)
			add_sample(p, key, value);
		else
			perr(p, "%s:%u: unknown key '%s' in [test] (expected match or nomatch)",
			     p->file, p->lineno, key);
		return;
	}

	if (strcmp(key, "failregex") == 0)
		add_regex(p, &f->fail, &f->n_fail, value);
	else if (strcmp(key, "ignoreregex") == 0)
		add_regex(p, &f->ignore, &f->n_ignore, value);
	else if (strcmp(key, "tag") == 0)
		for_words(p, value, add_tag, NULL);
	else if (strcmp(key, "prefilter") == 0) {
		if (*value && !strv_push(&f->prefilters, &f->n_prefilters, value))
			p->failed_alloc = 1;
	} else if (cont)
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
	else if (strcmp(key, "description") == 0)
		set_str(p, &f->description, value);
	else
		perr(p, "%s:%u: unknown key '%s' in [filter] (expected description, tag, prefilter, "
			"failregex or ignoreregex)",
		     p->file, p->lineno, key);
}

static void action_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config_action *a = p->action;
	if (cont)
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
	else if (strcmp(key, "type") == 0) {
		a->line = p->lineno;
		if (strcmp(value, "log") == 0)
			a->type = ACTION_LOG;
		else if (strcmp(value, "nft") == 0)
			a->type = ACTION_NFT;
		else if (strcmp(value, "exec") == 0)
			a->type = ACTION_EXEC;
		else if (strcmp(value, "timeouts") == 0)
			a->type = ACTION_TIMEOUTS;
		else
			BAD_VALUE(p, key, value, "log, nft, exec or timeouts");
	} else if (strcmp(key, "description") == 0)
		set_str(p, &a->description, value);
	else if (strcmp(key, "ban") == 0 || strcmp(key, "unban") == 0) {
		bool ban = key[0] == 'b';
		if (value[0] != '/')
			BAD_VALUE(p, key, value,
				  "a command line starting with an absolute program path");
		else {
			set_str(p, ban ? &a->ban_cmd : &a->unban_cmd, value);
			*(ban ? &a->ban_line : &a->unban_line) = p->lineno;
		}
	} else if (strcmp(key, "timeout") == 0) {
		if (timeutil_parse_duration(value, &a->timeout_usec) < 0 || a->timeout_usec == 0)
			BAD_VALUE(p, key, value, "a duration such as 10s");
	} else if (strcmp(key, "directory") == 0) {
		if (value[0] != '/')
			BAD_VALUE(p, key, value, "an absolute path");
		else
			set_str(p, &a->directory, value);
	} else if (strcmp(key, "floor") == 0) {
		if (timeutil_parse_duration(value, &a->floor_usec) < 0 || a->floor_usec == 0)
			BAD_VALUE(p, key, value, "a duration such as 10s (never 0)");
	} else if (strncmp(key, "esmtptimeout", 12) == 0 && !strchr(key, '/')) {
		char e[64], w[64];
		struct config_timeout *t = &a->files[a->n_files];
		if (a->n_files >= ELEMENTSOF(a->files))
			perr(p, "%s:%u: at most %zu files", p->file, p->lineno, ELEMENTSOF(a->files));
		else if (sscanf(value, "%63s %63s", e, w) != 2 ||
			 timeutil_parse_duration(e, &t->elevated_usec) < 0 ||
			 timeutil_parse_duration(w, &t->wave_usec) < 0 || t->elevated_usec == 0 ||
			 t->wave_usec == 0)
			BAD_VALUE(p, key, value,
				  "two durations, at the elevated and the wave level (e.g. 60s 10s)");
		else if (!(t->name = strdup(key)))
			p->failed_alloc = 1;
		else
			a->n_files++;
	} else
		perr(p, "%s:%u: unknown key '%s' in [action] (expected type, description, ban, "
			"unban, timeout; directory, floor, esmtptimeout* for timeouts actions)",
		     p->file, p->lineno, key);
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

static void add_action_name(struct parser *p, const char *word, void *arg)
{
	(void)arg;
	if (!valid_name(word))
		perr(p, "%s:%u: action '%s': expected the name of a file in actions/ without .conf",
		     p->file, p->lineno, word);
	else if (!strv_push(&p->jail->action_names, &p->jail->n_actions, word))
		p->failed_alloc = 1;
}

static void jail_key(struct parser *p, const char *key, const char *value, bool cont)
{
	struct config_jail *j = p->jail;

	if (strcmp(key, "source") == 0) {
		for_words(p, value, add_source, NULL);
		return;
	}
	if (strcmp(key, "allow") == 0) {
		for_words(p, value, add_cidr, &(struct addr_list){ &j->allow, &j->n_allow });
		return;
	}
	if (strcmp(key, "journal_match") == 0) {
		for_words(p, value, add_journal_match, NULL);
		return;
	}
	if (cont) {
		perr(p, "%s:%u: '%s' takes one line", p->file, p->lineno, key);
		return;
	}
	if (strcmp(key, "backend") == 0) {
		static const char *const names[] = { "auto", "files", "journal", "both" };
		size_t i;
		for (i = 0; i < ELEMENTSOF(names); i++)
			if (strcmp(value, names[i]) == 0)
				break;
		if (i == ELEMENTSOF(names))
			BAD_VALUE(p, key, value, "auto, files, journal or both");
		else
			j->backend = (enum jail_backend)i;
		return;
	}
	if (strcmp(key, "journal_directory") == 0) {
		if (value[0] != '/')
			BAD_VALUE(p, key, value, "an absolute path");
		else
			set_str(p, &j->journal_directory, value);
		return;
	}
	if (strncmp(key, "filter.", 7) == 0) {
		if (!valid_var_name(key + 7)) {
			perr(p, "%s:%u: '%s': expected filter.VARIABLE", p->file, p->lineno, key);
			return;
		}
		struct filter_var *v = ARRAY_GROW(j->filter_vars, j->n_filter_vars);
		unsigned *l = v ? realloc(j->filter_var_lines, j->n_filter_vars * sizeof(unsigned))
				: NULL;
		if (!l || !(v->name = strdup(key + 7)) || !(v->value = strdup(value))) {
			p->failed_alloc = 1;
			return;
		}
		j->filter_var_lines = l;
		l[j->n_filter_vars - 1] = p->lineno;
		return;
	}

	if (strcmp(key, "enabled") == 0) {
		if (parse_bool(value, &j->enabled) < 0)
			BAD_VALUE(p, key, value, "yes or no");
	} else if (strcmp(key, "filter") == 0) {
		if (!valid_name(value))
			BAD_VALUE(p, key, value, "a filter name (a file in filters/ without .conf)");
		else {
			set_str(p, &j->filter_name, value);
			j->filter_line = p->lineno;
		}
	} else if (strcmp(key, "action") == 0) {
		j->action_line = p->lineno;
		for_words(p, value, add_action_name, NULL);
	} else if (strcmp(key, "maxretry") == 0) {
		if (parse_uint(value, 1, 1000, &j->maxretry) < 0)
			BAD_VALUE(p, key, value, "a number of hits from 1 to 1000");
	} else if (strcmp(key, "findtime") == 0 || strcmp(key, "bantime") == 0 ||
		   strcmp(key, "bantime_max") == 0) {
		uint64_t *dst = key[0] == 'f'	      ? &j->findtime_usec
				: strcmp(key, "bantime") == 0 ? &j->bantime_usec
							      : &j->bantime_max_usec;
		if (timeutil_parse_duration(value, dst) < 0 || *dst == 0)
			BAD_VALUE(p, key, value, "a duration such as 90, 90s, 10m, 1h, 7d");
	} else if (strcmp(key, "bantime_factor") == 0) {
		char *end;
		errno = 0;
		double d = strtod(value, &end);
		if (errno || *end || end == value || !(d >= 1.0 && d <= 100.0))
			BAD_VALUE(p, key, value, "a number from 1 to 100");
		else
			j->bantime_factor = d;
	} else if (strcmp(key, "max_tracked") == 0) {
		if (parse_uint(value, 1, 10000000, &j->max_tracked) < 0)
			BAD_VALUE(p, key, value, "a number of addresses from 1 to 10000000");
	} else if (strcmp(key, "prefix4") == 0) {
		if (parse_uint(value, 8, 32, &j->prefix4) < 0)
			BAD_VALUE(p, key, value, "a prefix length from 8 to 32");
	} else if (strcmp(key, "prefix6") == 0) {
		if (parse_uint(value, 16, 128, &j->prefix6) < 0)
			BAD_VALUE(p, key, value, "a prefix length from 16 to 128");
	} else
		perr(p, "%s:%u: unknown key '%s' in jail [%s] (expected enabled, filter, "
			"filter.VAR, source, backend, journal_match, journal_directory, maxretry, "
			"findtime, bantime, bantime_factor, bantime_max, action, allow, max_tracked, "
			"prefix4 or prefix6)",
		     p->file, p->lineno, key, p->section);
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
		bool list = strcmp(name, "failregex") == 0 || strcmp(name, "ignoreregex") == 0 ||
			    strcmp(name, "match") == 0 || strcmp(name, "nomatch") == 0 ||
			    strcmp(name, "source") == 0 || strcmp(name, "allow") == 0 ||
			    strcmp(name, "journal_match") == 0 ||
			    strcmp(name, "prefilter") == 0;
		if (!list && !first_time(p, name))
			return 1;
	}

	switch (p->kind) {
	case KIND_MAIN:
		if (strcmp(p->section, "nft") == 0)
			nft_key(p, name, value, cont);
		else if (strcmp(p->section, "sampler") == 0)
			sampler_key(p, name, value, cont);
		else if (strcmp(p->section, "probe") == 0)
			probe_key(p, name, value, cont);
		else if (strcmp(p->section, "tuner") == 0)
			tuner_key(p, name, value, cont);
		else
			daemon_key(p, name, value, cont);
		break;
	case KIND_FILTER:
		filter_key(p, name, value, cont);
		break;
	case KIND_ACTION:
		action_key(p, name, value, cont);
		break;
	case KIND_JAILS:
		jail_key(p, name, value, cont);
		break;
	}
	return 1;
}

static void syntax_error(struct parser *p, const char *expected)
{
	perr(p, "%s:%u: syntax error: %s", p->file, p->lineno, expected);
	if (!p->first_syntax_error)
		p->first_syntax_error = p->lineno;
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
		const char *close = memchr(t, ']', (size_t)(e - t));
		if (!close) {
			syntax_error(p, "expected ']' to close the section name");
			return str;
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
	p->kind = KIND_FILTER;
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
	if (j->n_actions == 0 && !strv_push(&j->action_names, &j->n_actions, "nft-set"))
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

static int load_dir(struct parser *p, const char *sub, enum file_kind kind)
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
		if (kind == KIND_FILTER) {
			struct config_filter *f = ARRAY_GROW(c->filters, c->n_filters);
			r = f ? load_filter_file(p, files[i], f) : -ENOMEM;
			if (r == -EINVAL)
				r = 0;
		} else if (kind == KIND_ACTION) {
			struct config_action *a = ARRAY_GROW(c->actions, c->n_actions);
			if (!a || !(a->name = basename_noext(files[i])) || !(a->file = strdup(files[i])))
				r = -ENOMEM;
			else {
				p->kind = KIND_ACTION;
				p->action = a;
				a->timeout_usec = 10 * USEC_PER_SEC;
				r = parse_file(p, files[i]);
				if (r >= 0)
					check_action(p, a);
			}
		} else {
			p->kind = KIND_JAILS;
			r = parse_file(p, files[i]);
		}
		if (r == -EINVAL)
			r = 0;
	}
	strv_free(files, n);
	return r == -ENOMEM ? r : 0;
}

/* Defaults, then waveguard.conf. */
static int load_main(const char *dir, struct parser *p, struct config **ret)
{
	_cleanup_(config_freep) struct config *c = calloc(1, sizeof(*c));
	_cleanup_free_ char *main_path = NULL;
	int r;

	if (!c)
		return -ENOMEM;
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
	c->probe.address = strdup("127.0.0.1");
	c->probe.port = 25;
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
	    !c->nft.set6 || !c->nft.chain || !c->probe.address || !c->tuner.action ||
	    !c->tuner.esmtpd)
		return -ENOMEM;
	/* Loopback is allowlisted unless the admin says otherwise. */
	static const char *const default_allow[] = { "127.0.0.0/8", "::1" };
	for (size_t i = 0; i < ELEMENTSOF(default_allow); i++) {
		struct addr *a = ARRAY_GROW(c->allow, c->n_allow);
		if (!a)
			return -ENOMEM;
		r = addr_parse_cidr(default_allow[i], a);
		if (r < 0)
			return r;
	}
	p->cfg = c;
	if (asprintf(&main_path, "%s/waveguard.conf", dir) < 0)
		return -ENOMEM;
	p->kind = KIND_MAIN;
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
	if ((r = load_dir(&p, "filters", KIND_FILTER)) < 0 ||
	    (r = load_dir(&p, "actions", KIND_ACTION)) < 0 ||
	    (r = load_dir(&p, "conf.d", KIND_JAILS)) < 0)
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

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_filters; i++)
		filter_done(&c->filters[i]);
	free(c->filters);
	for (size_t i = 0; i < c->n_actions; i++) {
		free(c->actions[i].name);
		free(c->actions[i].file);
		free(c->actions[i].description);
		free(c->actions[i].ban_cmd);
		free(c->actions[i].unban_cmd);
		free(c->actions[i].directory);
		for (size_t k = 0; k < c->actions[i].n_files; k++)
			free(c->actions[i].files[k].name);
	}
	free(c->actions);
	for (size_t i = 0; i < c->n_jails; i++) {
		struct config_jail *j = &c->jails[i];
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
