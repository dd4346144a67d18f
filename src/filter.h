/* A compiled filter: tag list, literal prefilter, fail and ignore regexes (PCRE2, JIT) with the
 * <HOST> placeholder (and <USER>, a second value a jail's trap list looks up). Turns one log
 * message into a hit (an address), an event (a match without address) or nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "logline.h"
#include "macro.h"

/* One regex as written in a filter file, with where it was written (for error messages). */
struct filter_regex_src {
	const char *pattern;
	const char *file;
	unsigned line;
};

/* A "<name>" substitution: filter defaults, overridden by a jail's filter.<name> keys. */
struct filter_var {
	const char *name;
	const char *value;
};

struct filter_spec {
	const char *name;
	const char *const *tags; /* syslog identifiers the filter reads; n_tags 0 = any */
	size_t n_tags;
	const char *const *prefilters; /* literals, one of which must occur in the message */
	size_t n_prefilters;	       /* 0 = no prefilter */
	const struct filter_regex_src *fail;
	size_t n_fail;
	const struct filter_regex_src *ignore;
	size_t n_ignore;
	const struct filter_var *vars;
	size_t n_vars;
};

enum filter_result {
	FILTER_NONE = 0, /* not for this filter */
	FILTER_HIT = 1,	 /* a failregex with <HOST> matched: hit->addr is the offender */
	FILTER_EVENT =
		2, /* a failregex without <HOST> matched (e.g. "maximum active connections") */
	FILTER_IGNORED = 3, /* a failregex matched but an ignoreregex too */
};

struct filter_hit {
	struct addr addr; /* FILTER_HIT only */
	unsigned regex;	  /* index of the failregex that matched */
	/* What <USER> captured (a recipient, a login name): a pointer into the matched message,
	 * valid as long as the message is, at most FILTER_USER_MAX bytes; NULL when the regex has
	 * no <USER> or it matched nothing. */
	const char *user;
	size_t user_len;
};

/* The longest <USER> (an address: RFC 5321's 256-byte path less its angle brackets). */
#define FILTER_USER_MAX 254

/* Bounds on one regex search (pcre2_set_match_limit, pcre2_set_depth_limit): the shipped
 * filters need a few hundred steps per line; a pattern that backtracks catastrophically on a
 * hostile line gives up after about a millisecond and the line does not match. */
#define FILTER_MATCH_LIMIT 100000
#define FILTER_DEPTH_LIMIT 10000

struct filter_stats {
	uint64_t lines;	   /* messages offered (tag accepted) */
	uint64_t hits;	   /* FILTER_HIT */
	uint64_t events;   /* FILTER_EVENT */
	uint64_t ignored;  /* FILTER_IGNORED */
	uint64_t bad_addr; /* matched, but the <HOST> text is no address */
	uint64_t limited;  /* a regex gave up at FILTER_MATCH_LIMIT / FILTER_DEPTH_LIMIT */
	uint64_t *per_regex;
};

struct filter;

/* The regex text <HOST> expands to. */
extern const char filter_host_regex[];
/* The regex text <USER> expands to: 1 to FILTER_USER_MAX bytes without blanks, control
 * characters, commas or angle brackets (none can be part of a recipient or login name that a
 * trap list holds; they can be the client's way into the next field). */
extern const char filter_user_regex[];

/* Compiles spec, substituting <name> with overrides first, then spec->vars. On failure returns
 * -EINVAL and writes "file:line: message" (the regex's own place) into err. */
int filter_new(const struct filter_spec *spec, const struct filter_var *overrides,
	       size_t n_overrides, struct filter **ret, char *err, size_t errsize);

/* Matches one message. Returns an enum filter_result; fills *ret for FILTER_HIT/FILTER_EVENT.
 * Never allocates. */
int filter_match(struct filter *f, const struct logline *l, struct filter_hit *ret);

/* Matches raw text as a message with an accepted tag (test-filter on bare messages). */
int filter_match_text(struct filter *f, const char *msg, size_t len, struct filter_hit *ret);

const char *filter_name(const struct filter *f);
size_t filter_n_regex(const struct filter *f);
/* The failregex after substitution, for reports. */
const char *filter_regex_text(const struct filter *f, size_t i);
bool filter_regex_has_host(const struct filter *f, size_t i);
bool filter_has_host(const struct filter *f);
/* Whether a failregex that can be a hit (it has <HOST>) captures <USER>. */
bool filter_has_user(const struct filter *f);
const struct filter_stats *filter_get_stats(const struct filter *f);
/* False when PCRE2's JIT was unavailable and the interpreter is used. */
bool filter_jit(const struct filter *f);

struct filter *filter_free(struct filter *f);

DEFINE_FREE_FUNC(struct filter, filter_free)
