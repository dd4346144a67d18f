/* Filters: cheap rejections first (tag, then a literal prefilter with memmem), then JIT-compiled
 * PCRE2 failregexes, then ignoreregexes only for lines that matched. The address comes from the
 * named group that <HOST> expands to and is validated by addr_parse(); <USER>'s group is handed
 * on as it is, a pointer into the line. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "macro.h"

/* IPv4, IPv4-mapped IPv6, or IPv6; loose on purpose, addr_parse() has the last word. */
const char filter_host_regex[] = "(?<host>(?:::[fF]{4}:)?(?:\\d{1,3}\\.){3}\\d{1,3}"
				 "|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})";

/* Bounded, so that a hit's value fits the trap list's lookup buffer; no blank, comma or angle
 * bracket, so that it cannot run on into the next field of a Courier line. */
const char filter_user_regex[] = "(?<user>[^<>,\\s\\x00-\\x1f\\x7f]{1,254})";
_Static_assert(FILTER_USER_MAX == 254, "filter_user_regex's bound is FILTER_USER_MAX");

struct regex {
	char *text;
	pcre2_code *code;
	int host_group; /* capture number of <HOST>, 0 = none */
	int user_group; /* capture number of <USER>, 0 = none */
};

struct filter {
	char *name;
	char **tags;
	size_t *tag_lens;
	size_t n_tags;
	char **prefilters;
	size_t *prefilter_lens;
	size_t n_prefilters;
	struct regex *fail;
	size_t n_fail;
	struct regex *ignore;
	size_t n_ignore;
	pcre2_match_data *md;
	pcre2_match_context *mctx; /* the match and depth limits */
	bool jit;
	struct filter_stats stats;
};

static _printf_(3, 4) void set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;
	if (!err || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

static const char *lookup_var(const char *name, size_t len, const struct filter_var *a, size_t na,
			      const struct filter_var *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (strlen(a[i].name) == len && memcmp(a[i].name, name, len) == 0)
			return a[i].value;
	for (size_t i = 0; i < nb; i++)
		if (strlen(b[i].name) == len && memcmp(b[i].name, name, len) == 0)
			return b[i].value;
	return NULL;
}

static bool is_ident(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '-'));
}

/* How often <HOST> and <USER> occur in a regex. */
struct placeholders {
	int host, user;
};

/* Expands <HOST>, <USER> and <var> (one level: a variable's value may itself use <HOST> and
 * <USER>, but not other variables). Anything else in angle brackets, such as (?<name>, is left
 * alone. */
static int expand(const char *pat, const struct filter_var *ov, size_t nov,
		  const struct filter_var *vars, size_t nvars, bool allow_vars,
		  struct placeholders *n, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;

	for (const char *p = pat; *p;) {
		if (*p == '<' && is_ident(p[1], true) &&
		    !(p > pat && (p[-1] == '?' || p[-1] == 'k' || p[-1] == 'P'))) {
			const char *q = p + 1;
			while (is_ident(*q, false))
				q++;
			if (*q == '>') {
				size_t len = (size_t)(q - p - 1);
				const char *v;
				if (len == 4 && memcmp(p + 1, "HOST", 4) == 0) {
					fputs(filter_host_regex, f);
					n->host++;
					p = q + 1;
					continue;
				}
				if (len == 4 && memcmp(p + 1, "USER", 4) == 0) {
					fputs(filter_user_regex, f);
					n->user++;
					p = q + 1;
					continue;
				}
				if (allow_vars &&
				    (v = lookup_var(p + 1, len, ov, nov, vars, nvars))) {
					_cleanup_free_ char *sub = NULL;
					int r = expand(v, NULL, 0, NULL, 0, false, n, &sub);
					if (r < 0) {
						fclose(f);
						free(buf);
						return r;
					}
					fputs(sub, f);
					p = q + 1;
					continue;
				}
			}
		}
		fputc(*p++, f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

/* The capture number of a placeholder's group; -1 when the admin's regex has a group of that
 * name too (PCRE2 then refuses the pattern or numbers them alike: either way, ambiguous). */
static int group_of(const pcre2_code *code, const char *name)
{
	int g = pcre2_substring_number_from_name(code, (PCRE2_SPTR)name);
	return g > 0 ? g : -1;
}

static int compile_one(struct filter *flt, const struct filter_regex_src *src,
		       const struct filter_spec *spec, const struct filter_var *ov, size_t nov,
		       struct regex *ret, char *err, size_t errsize)
{
	struct placeholders n = { 0 };
	int errcode, r;
	PCRE2_SIZE erroff;
	_cleanup_free_ char *text = NULL;

	r = expand(src->pattern, ov, nov, spec->vars, spec->n_vars, true, &n, &text);
	if (r < 0)
		return r;
	if (n.host > 1 || n.user > 1) {
		set_err(err, errsize, "%s:%u: more than one <%s> in one regex", src->file,
			src->line, n.host > 1 ? "HOST" : "USER");
		return -EINVAL;
	}

	/* No PCRE2_UTF: log lines are bytes, and invalid UTF-8 from a client must not make a
	 * match fail with an error. */
	pcre2_code *code =
		pcre2_compile((PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		set_err(err, errsize, "%s:%u: bad regex at offset %zu (after substitution): %s",
			src->file, src->line, (size_t)erroff, (const char *)msg);
		return -EINVAL;
	}
	if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0)
		flt->jit = false;

	ret->host_group = n.host ? group_of(code, "host") : 0;
	ret->user_group = n.user ? group_of(code, "user") : 0;
	if (ret->host_group < 0 || ret->user_group < 0) {
		pcre2_code_free(code);
		set_err(err, errsize, "%s:%u: a group named '%s' clashes with <%s>", src->file,
			src->line, ret->host_group < 0 ? "host" : "user",
			ret->host_group < 0 ? "HOST" : "USER");
		return -EINVAL;
	}
	ret->code = code;
	ret->text = TAKE_PTR(text);
	return 0;
}

/* The match data for the largest capture count, and the limits of every search. */
static int match_setup(struct filter *f, uint32_t max_pairs)
{
	f->md = pcre2_match_data_create(max_pairs, NULL);
	f->mctx = pcre2_match_context_create(NULL);
	if (!f->md || !f->mctx)
		return -ENOMEM;
	/* Admin-written regexes meet client-written text: a pattern that backtracks badly must
	 * cost a bounded time per line, not stall the loop. */
	pcre2_set_match_limit(f->mctx, FILTER_MATCH_LIMIT);
	pcre2_set_depth_limit(f->mctx, FILTER_DEPTH_LIMIT);
	return 0;
}

int filter_new(const struct filter_spec *spec, const struct filter_var *overrides,
	       size_t n_overrides, struct filter **ret, char *err, size_t errsize)
{
	struct filter *f;
	uint32_t max_pairs = 1;
	int r;

	if (spec->n_fail == 0) {
		set_err(err, errsize, "filter %s: no failregex", spec->name);
		return -EINVAL;
	}

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->jit = true;
	f->name = strdup(spec->name);
	f->tags = calloc(spec->n_tags + 1, sizeof(char *));
	f->tag_lens = calloc(spec->n_tags + 1, sizeof(size_t));
	f->fail = calloc(spec->n_fail, sizeof(struct regex));
	f->ignore = calloc(spec->n_ignore + 1, sizeof(struct regex));
	f->prefilters = calloc(spec->n_prefilters + 1, sizeof(char *));
	f->prefilter_lens = calloc(spec->n_prefilters + 1, sizeof(size_t));
	f->stats.per_regex = calloc(spec->n_fail, sizeof(uint64_t));
	if (!f->name || !f->tags || !f->tag_lens || !f->fail || !f->ignore || !f->prefilters ||
	    !f->prefilter_lens || !f->stats.per_regex) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < spec->n_tags; i++) {
		f->tags[i] = strdup(spec->tags[i]);
		if (!f->tags[i]) {
			r = -ENOMEM;
			goto fail;
		}
		f->tag_lens[i] = strlen(f->tags[i]);
		f->n_tags++;
	}
	for (size_t i = 0; i < spec->n_prefilters; i++) {
		f->prefilters[i] = strdup(spec->prefilters[i]);
		if (!f->prefilters[i]) {
			r = -ENOMEM;
			goto fail;
		}
		f->prefilter_lens[i] = strlen(f->prefilters[i]);
		f->n_prefilters++;
	}
	for (size_t i = 0; i < spec->n_fail; i++) {
		r = compile_one(f, &spec->fail[i], spec, overrides, n_overrides, &f->fail[i], err,
				errsize);
		if (r < 0)
			goto fail;
		f->n_fail++;
	}
	for (size_t i = 0; i < spec->n_ignore; i++) {
		r = compile_one(f, &spec->ignore[i], spec, overrides, n_overrides, &f->ignore[i],
				err, errsize);
		if (r < 0)
			goto fail;
		f->n_ignore++;
	}
	for (size_t i = 0; i < f->n_fail; i++) {
		uint32_t c = 0;
		pcre2_pattern_info(f->fail[i].code, PCRE2_INFO_CAPTURECOUNT, &c);
		max_pairs = MAX(max_pairs, c + 1);
	}
	r = match_setup(f, max_pairs);
	if (r < 0)
		goto fail;
	*ret = f;
	return 0;
fail:
	if (r == -ENOMEM)
		set_err(err, errsize, "filter %s: out of memory", spec->name);
	filter_free(f);
	return r;
}

/* >= 0 on a match; a search cut short by the limits counts as no match (and is counted). */
static inline int run(struct filter *f, const struct regex *re, const char *s, size_t len)
{
	int r = f->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, f->md, f->mctx)
		       : pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, f->md, f->mctx);
	if (r == PCRE2_ERROR_MATCHLIMIT || r == PCRE2_ERROR_DEPTHLIMIT ||
	    r == PCRE2_ERROR_HEAPLIMIT)
		f->stats.limited++;
	return r;
}

int filter_match_text(struct filter *f, const char *msg, size_t len, struct filter_hit *ret)
{
	f->stats.lines++;
	if (f->n_prefilters > 0) {
		size_t i;
		for (i = 0; i < f->n_prefilters; i++)
			if (memmem(msg, len, f->prefilters[i], f->prefilter_lens[i]))
				break;
		if (i == f->n_prefilters)
			return FILTER_NONE;
	}

	for (size_t i = 0; i < f->n_fail; i++) {
		const struct regex *re = &f->fail[i];
		struct filter_hit h = { .regex = (unsigned)i };

		if (run(f, re, msg, len) < 0)
			continue;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(f->md);
		if (re->host_group) {
			PCRE2_SIZE s = ov[2 * re->host_group], e = ov[2 * re->host_group + 1];
			if (s == PCRE2_UNSET || addr_parse(msg + s, e - s, &h.addr) < 0) {
				f->stats.bad_addr++;
				continue;
			}
		}
		if (re->user_group && ov[2 * re->user_group] != PCRE2_UNSET) {
			h.user = msg + ov[2 * re->user_group];
			h.user_len = ov[2 * re->user_group + 1] - ov[2 * re->user_group];
		}
		for (size_t k = 0; k < f->n_ignore; k++)
			if (run(f, &f->ignore[k], msg, len) >= 0) {
				f->stats.ignored++;
				return FILTER_IGNORED;
			}
		f->stats.per_regex[i]++;
		*ret = h;
		if (re->host_group) {
			f->stats.hits++;
			return FILTER_HIT;
		}
		f->stats.events++;
		return FILTER_EVENT;
	}
	return FILTER_NONE;
}

int filter_match(struct filter *f, const struct logline *l, struct filter_hit *ret)
{
	if (f->n_tags > 0) {
		size_t i;
		if (!l->tag)
			return FILTER_NONE;
		for (i = 0; i < f->n_tags; i++)
			if (f->tag_lens[i] == l->tag_len &&
			    memcmp(f->tags[i], l->tag, l->tag_len) == 0)
				break;
		if (i == f->n_tags)
			return FILTER_NONE;
	}
	return filter_match_text(f, l->msg, l->msg_len, ret);
}

const char *filter_name(const struct filter *f)
{
	return f->name;
}

size_t filter_n_regex(const struct filter *f)
{
	return f->n_fail;
}

const char *filter_regex_text(const struct filter *f, size_t i)
{
	return i < f->n_fail ? f->fail[i].text : NULL;
}

bool filter_regex_has_host(const struct filter *f, size_t i)
{
	return i < f->n_fail && f->fail[i].host_group > 0;
}

bool filter_has_host(const struct filter *f)
{
	for (size_t i = 0; i < f->n_fail; i++)
		if (f->fail[i].host_group > 0)
			return true;
	return false;
}

bool filter_has_user(const struct filter *f)
{
	for (size_t i = 0; i < f->n_fail; i++)
		if (f->fail[i].host_group > 0 && f->fail[i].user_group > 0)
			return true;
	return false;
}

const struct filter_stats *filter_get_stats(const struct filter *f)
{
	return &f->stats;
}

bool filter_jit(const struct filter *f)
{
	return f->jit;
}

static void regex_done(struct regex *re)
{
	pcre2_code_free(re->code);
	free(re->text);
}

struct filter *filter_free(struct filter *f)
{
	if (!f)
		return NULL;
	for (size_t i = 0; i < f->n_fail; i++)
		regex_done(&f->fail[i]);
	for (size_t i = 0; i < f->n_ignore; i++)
		regex_done(&f->ignore[i]);
	for (size_t i = 0; i < f->n_tags; i++)
		free(f->tags[i]);
	pcre2_match_data_free(f->md);
	pcre2_match_context_free(f->mctx);
	free(f->fail);
	free(f->ignore);
	free(f->tags);
	free(f->tag_lens);
	for (size_t i = 0; i < f->n_prefilters; i++)
		free(f->prefilters[i]);
	free(f->prefilters);
	free(f->prefilter_lens);
	free(f->name);
	free(f->stats.per_regex);
	free(f);
	return NULL;
}
