/* Tests for filter (with config's filter loading): the [test] samples of every shipped filter,
 * our own fixtures (lines a real Courier logged in test/run-courier-e2e), the external
 * fail2ban/sshguard corpus where ../shared/corpus exists, hostile client text that tries to choose
 * the address, the forms <HOST> accepts, events, ignoreregex and prefilters, garbage input, and the
 * errors of filter_new(). */
#include <errno.h>
#include <glob.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "config.h"
#include "filter.h"
#include "logline.h"
#include "macro.h"
#include "testutil.h"
#include "timeutil.h"

#define N_OF(x) (sizeof(x) / sizeof((x)[0]))

/* 2026-11-27T06:36:49Z: the reference "now" for RFC 3164 stamps. */
#define REF_USEC (1795761409ULL * USEC_PER_SEC)

static const char *fmt_addr(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned i;
	char *b = buf[i++ % 4];
	return addr_format(a, b, ADDR_STRLEN);
}

/* Loads <srcdir>/filters/<name>.conf (running its samples) and compiles it. */
static struct filter *load_shipped(const char *name)
{
	char path[4200];
	struct config_filter *cf = NULL;
	struct config_errors e = { 0 };
	struct filter *f = NULL;

	snprintf(path, sizeof(path), "%s/filters/%s.conf", test_srcdir(), name);
	int r = config_load_filter(path, &cf, &e);
	ck_assert_msg(r == 0, "%s: %d\n%s", path, r, test_errors_text(&e));
	ck_assert_int_eq(config_compile_filter(cf, NULL, &f, &e), 0);
	ck_assert_uint_eq(e.n, 0);
	config_filter_free(cf);
	return f;
}

/* A whole syslog line through logline_parse() and filter_match(). */
static int match_len(struct filter *f, const char *line, size_t len, struct filter_hit *h)
{
	struct timeutil_clock clock;
	struct logline l;

	timeutil_clock_init(&clock, REF_USEC);
	logline_parse(&clock, line, len, &l);
	return filter_match(f, &l, h);
}

static int match(struct filter *f, const char *line, struct filter_hit *h)
{
	return match_len(f, line, strlen(line), h);
}

/* Expects a hit with exactly the address want (canonical text). */
#define assert_hit(f, line, want)                                                                  \
	do {                                                                                       \
		struct filter_hit _h;                                                              \
		int _r = match(f, line, &_h);                                                      \
		ck_assert_msg(_r == FILTER_HIT, "%s: expected a hit (%s), got %d for: %s",         \
			      filter_name(f), want, _r, line);                                     \
		ck_assert_str_eq(fmt_addr(&_h.addr), want);                                        \
	} while (0)

#define assert_result(f, line, want)                                                               \
	do {                                                                                       \
		struct filter_hit _h;                                                              \
		int _r = match(f, line, &_h);                                                      \
		ck_assert_msg(_r == (want), "%s: expected %d, got %d for: %s", filter_name(f),     \
			      (int)(want), _r, line);                                              \
	} while (0)

/* ---- (a) the shipped filters' own samples ---- */

START_TEST(test_shipped_samples)
{
	char pattern[4200];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/filters/*.conf", test_srcdir());
	ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
	ck_assert_uint_ge(g.gl_pathc, 5);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct config_filter *cf = NULL;
		struct config_errors e = { 0 };
		int r = config_load_filter(g.gl_pathv[i], &cf, &e);
		ck_assert_msg(r == 0 && e.n == 0, "%s: %d\n%s", g.gl_pathv[i], r,
			      test_errors_text(&e));
		ck_assert_ptr_nonnull(cf);
		/* A filter without samples would pass vacuously: every shipped one has both kinds.
		 */
		size_t m = 0, nm = 0;
		for (size_t k = 0; k < cf->n_samples; k++)
			cf->samples[k].match ? m++ : nm++;
		ck_assert_msg(m > 0 && nm > 0, "%s: %zu match and %zu nomatch samples",
			      g.gl_pathv[i], m, nm);
		config_filter_free(cf);
	}
	globfree(&g);
}
END_TEST

/* The sample runner itself reports failures (so that (a) can fail): a filter file whose
 * samples are wrong. */
START_TEST(test_sample_runner_reports)
{
	char *dir = test_mkdtemp(), path[4200];
	struct config_filter *cf = NULL;
	struct config_errors e = { 0 };

	test_write(dir, "f.conf", "w",
		   "[filter]\n"
		   "tag = courieresmtpd\n"
		   "failregex = ^Maximum connection limit reached for <HOST>$\n"
		   "[test]\n"
		   "match = 192.0.2.1 Nov 27 06:36:49 mail courieresmtpd: Maximum connection limit "
		   "reached for ::ffff:192.0.2.2\n"
		   "nomatch = Nov 27 06:36:49 mail courieresmtpd: Maximum connection limit reached "
		   "for 192.0.2.3\n");
	snprintf(path, sizeof(path), "%s/f.conf", dir);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(config_load_filter(path, &cf, &e), -EINVAL);
	ck_assert_ptr_null(cf);
	ck_assert_uint_eq(e.n, 2);
	ck_assert_ptr_nonnull(strstr(e.msgs[0], ":5: sample should yield 192.0.2.1, but yielded "
						"192.0.2.2"));
	ck_assert_ptr_nonnull(strstr(e.msgs[1], ":6: nomatch sample matched"));
	config_errors_clear(&e);
	test_rm_rf(dir);
	free(dir);
}
END_TEST

/* ---- (b) our fixtures, and the external corpus where it exists ---- */

static char **read_lines(const char *path, size_t *ret_n)
{
	FILE *f = fopen(path, "re");
	char **v = NULL, *line = NULL;
	size_t n = 0, cap = 0;
	ssize_t l;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	while ((l = getline(&line, &cap, f)) >= 0) {
		if (l > 0 && line[l - 1] == '\n')
			line[--l] = '\0';
		v = realloc(v, (n + 1) * sizeof(*v));
		ck_assert_ptr_nonnull(v);
		v[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	*ret_n = n;
	return v;
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* test/fixtures/courier/<base>.log: every line a real Courier logged in the end-to-end test
 * (test/fixtures/courier/README), through all shipped filters at once. The address filters
 * together must yield exactly <base>.expected, in order (every other line, "started,ip=[...]"
 * included, yields nothing), no line may hit two of them, and courier-maxconn must see every
 * "N maximum active connections." line as an event. want_hits lists the filters that must hit
 * at least once in this file. */
static void check_fixture(const char *base, const char *const *want_hits, size_t n_want)
{
	static const char *const names[] = { "courier-smtp", "courier-dnsbl", "courier-auth",
					     "courier-perip" };
	struct filter *f[N_OF(names)];
	_cleanup_(filter_freep) struct filter *maxconn = load_shipped("courier-maxconn");
	char path[4200];
	size_t n_log, n_exp, next = 0, n_maxconn = 0;

	for (size_t k = 0; k < N_OF(names); k++)
		f[k] = load_shipped(names[k]);
	snprintf(path, sizeof(path), "%s/test/fixtures/courier/%s.log", test_srcdir(), base);
	char **log = read_lines(path, &n_log);
	snprintf(path, sizeof(path), "%s/test/fixtures/courier/%s.expected", test_srcdir(), base);
	char **exp = read_lines(path, &n_exp);

	ck_assert_uint_gt(n_log, 0);
	ck_assert_uint_gt(n_exp, 0);
	for (size_t i = 0; i < n_log; i++) {
		const char *by = NULL;
		for (size_t k = 0; k < N_OF(names); k++) {
			struct filter_hit h;
			int r = match(f[k], log[i], &h);
			if (r != FILTER_HIT)
				continue;
			ck_assert_msg(by == NULL, "%s.log:%zu: both %s and %s hit: %s", base, i + 1,
				      by, names[k], log[i]);
			by = names[k];
			ck_assert_msg(next < n_exp,
				      "%s.log:%zu: %s yields %s, beyond the %zu expected", base,
				      i + 1, names[k], fmt_addr(&h.addr), n_exp);
			ck_assert_msg(strcmp(fmt_addr(&h.addr), exp[next]) == 0,
				      "%s.log:%zu: %s yields %s, expected %s (.expected:%zu)", base,
				      i + 1, names[k], fmt_addr(&h.addr), exp[next], next + 1);
			next++;
		}
		struct filter_hit h;
		int r = match(maxconn, log[i], &h);
		bool is_maxconn = strstr(log[i], " maximum active connections.") != NULL;
		ck_assert_msg((r == FILTER_EVENT) == is_maxconn,
			      "%s.log:%zu: courier-maxconn gave %d: %s", base, i + 1, r, log[i]);
		n_maxconn += is_maxconn;
	}
	ck_assert_msg(next == n_exp, "%s: %zu of the %zu expected addresses yielded", base, next,
		      n_exp);
	ck_assert_uint_eq(filter_get_stats(maxconn)->events, n_maxconn);
	for (size_t w = 0; w < n_want; w++) {
		uint64_t hits = 0;
		if (strcmp(want_hits[w], "courier-maxconn") == 0)
			hits = filter_get_stats(maxconn)->events;
		for (size_t k = 0; k < N_OF(names); k++)
			if (strcmp(want_hits[w], names[k]) == 0)
				hits = filter_get_stats(f[k])->hits;
		ck_assert_msg(hits > 0, "%s: no line for %s", base, want_hits[w]);
	}
	for (size_t k = 0; k < N_OF(names); k++)
		filter_free(f[k]);
	free_lines(log, n_log);
	free_lines(exp, n_exp);
}

START_TEST(test_fixture_smtp)
{
	static const char *const want[] = { "courier-smtp", "courier-dnsbl", "courier-perip" };
	check_fixture("courier-smtp", want, N_OF(want));
}
END_TEST

START_TEST(test_fixture_smtp_journal)
{
	static const char *const want[] = { "courier-smtp", "courier-dnsbl", "courier-maxconn" };
	check_fixture("courier-smtp-journal", want, N_OF(want));
}
END_TEST

/* The external corpus (third-party lines, GPL: never copied into this repository) lives beside
 * the checkout, in ../shared/corpus/, where there is one (CI); a fresh clone has none. */
static bool corpus_present(void)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/../shared/corpus/fail2ban-courier", test_srcdir());
	if (access(path, R_OK | X_OK) == 0)
		return true;
	printf("skipped: no ../shared/corpus (%s)\n", path);
	fflush(stdout);
	return false;
}

static void check_corpus(const char *base, const char *filter)
{
	char path[4200];
	size_t n_log, n_exp;

	if (!corpus_present())
		return;
	_cleanup_(filter_freep) struct filter *f = load_shipped(filter);
	snprintf(path, sizeof(path), "%s/../shared/corpus/fail2ban-courier/%s.log", test_srcdir(),
		 base);
	char **log = read_lines(path, &n_log);
	snprintf(path, sizeof(path), "%s/../shared/corpus/fail2ban-courier/%s.expected",
		 test_srcdir(), base);
	char **exp = read_lines(path, &n_exp);

	ck_assert_uint_gt(n_log, 0);
	ck_assert_uint_eq(n_log, n_exp);
	for (size_t i = 0; i < n_log; i++) {
		struct filter_hit h;
		int r = match(f, log[i], &h);
		ck_assert_msg(r == FILTER_HIT, "%s.log:%zu: %s gave %d, expected %s", base, i + 1,
			      filter, r, exp[i]);
		ck_assert_msg(strcmp(fmt_addr(&h.addr), exp[i]) == 0, "%s.log:%zu: %s, expected %s",
			      base, i + 1, fmt_addr(&h.addr), exp[i]);
		free(log[i]);
		free(exp[i]);
	}
	ck_assert_uint_eq(filter_get_stats(f)->hits, n_log);
	free(log);
	free(exp);
}

START_TEST(test_corpus_smtp)
{
	check_corpus("fail2ban-courier-smtp", "courier-smtp");
}
END_TEST

START_TEST(test_corpus_auth)
{
	check_corpus("fail2ban-courier-auth", "courier-auth");
}
END_TEST

/* ---- (c) hostile client text ---- */

static const char *const addr_filters[] = { "courier-smtp", "courier-dnsbl", "courier-auth",
					    "courier-perip", "courier-trap" };

/* Whatever the filter makes of line, it never yields an address of 203.0.113.0/24 (the range
 * the attacker writes); when it yields one, it is real. */
static void assert_never_fake(struct filter *f, const char *line, size_t len, const char *real)
{
	struct filter_hit h;
	int r = match_len(f, line, len, &h);

	ck_assert_msg(r == FILTER_NONE || r == FILTER_HIT || r == FILTER_IGNORED,
		      "%s: result %d for: %.*s", filter_name(f), r, (int)len, line);
	if (r == FILTER_HIT)
		ck_assert_msg(strcmp(fmt_addr(&h.addr), real) == 0,
			      "%s yielded %s (not the real %s) for: %.*s", filter_name(f),
			      fmt_addr(&h.addr), real, (int)len, line);
}

static const struct {
	const char *line, *real;
	const char *filter; /* the filter that must hit it (with the real address), or NULL */
} hostile[] = {
	/* to=<> carries a second reject with another relay. */
	{ "Nov 27 06:36:49 mail courieresmtpd: "
	  "error,relay=::ffff:192.0.2.20,port=4000,from=<a@x.test>,"
	  "to=<x>: 511 relay=::ffff:203.0.113.9,port=1,from=<a>,to=<b>: 550 User unknown>: 550 "
	  "User "
	  "<x> unknown",
	  "192.0.2.20", "courier-smtp" },
	{ "Nov 27 06:36:49 mail courieresmtpd: "
	  "error,relay=::ffff:192.0.2.21,port=4001,from=<a@x.test>,"
	  "to=<error,relay=::ffff:203.0.113.9,from=<a>,to=<b>: 511 listed>: 513 Relaying denied.",
	  "192.0.2.21", "courier-smtp" },
	/* from=<> pretends the reject was a DNSBL one: the relay is still the real one. */
	{ "Nov 27 06:36:49 mail courieresmtpd: "
	  "error,relay=::ffff:192.0.2.22,port=4002,from=<x>,to=<>:"
	  " 511 y>,to=<b@y.test>: 550 User unknown",
	  "192.0.2.22", "courier-smtp" },
	{ "Nov 27 06:36:49 mail courieresmtpd: "
	  "error,relay=::ffff:192.0.2.22,port=4002,from=<,relay=::"
	  "ffff:203.0.113.9,from=<>,to=<>: 511 >,to=<b@y.test>: 550 User unknown",
	  "192.0.2.22", "courier-smtp" },
	/* ident= is the client's (RFC 1413) text. */
	{ "Nov 27 06:36:49 mail courieresmtpd: "
	  "error,relay=::ffff:192.0.2.23,port=4003,ident=relay=::"
	  "ffff:203.0.113.9,from=<a@x.test>,to=<b@y.test>: 550 User unknown",
	  "192.0.2.23", "courier-smtp" },
	/* cmd: is the client's command line. */
	{ "Nov 27 06:36:49 mail courieresmtpd: error,relay=::ffff:192.0.2.14,port=53089,msg=\"535 "
	  "Authentication failed.\",cmd: AUTH "
	  "error,relay=::ffff:203.0.113.9,port=1,from=<a>,to=<b>: "
	  "511 listed",
	  "192.0.2.14", "courier-smtp" },
	{ "Nov 27 06:36:49 mail courieresmtpd: error,relay=::ffff:192.0.2.24,port=4004,msg=\"535 "
	  "Authentication failed.\",cmd: AUTH LOGIN dropped blocked connection from "
	  "::ffff:203.0.113.9",
	  "192.0.2.24", "courier-smtp" },
	/* IMAP user= with ip=[...] pieces; the real one is last, with or without the port. */
	{ "Nov 27 06:36:49 mail imapd: LOGIN FAILED, user=a, ip=[::ffff:203.0.113.66], "
	  "ip=[::ffff:192.0.2.41]",
	  "192.0.2.41", "courier-auth" },
	{ "Nov 27 06:36:49 mail imapd: LOGIN FAILED, user=a, ip=[::ffff:203.0.113.66], port=[143], "
	  "ip=[::ffff:192.0.2.42], port=[143]",
	  "192.0.2.42", "courier-auth" },
	{ "Nov 27 06:36:49 mail imapd-ssl: LOGIN FAILED, user=x], ip=[::ffff:203.0.113.66, "
	  "ip=[::ffff:192.0.2.43], port=[993]",
	  "192.0.2.43", "courier-auth" },
	{ "Nov 27 06:36:49 mail pop3d: LOGIN FAILED, user=ip=[2001:db8::bad], ip=[2001:db8::43], "
	  "port=[110]",
	  "2001:db8::43", "courier-auth" },
	/* A user= that ends the line in a fake address is followed by Courier's own ip=[]: a fake
	 * "ip=[...] trailing" must not be taken for the end of the line. */
	{ "Nov 27 06:36:49 mail imapd: LOGIN FAILED, user=x, ip=[::ffff:203.0.113.66] x, "
	  "ip=[::ffff:192.0.2.44]",
	  "192.0.2.44", "courier-auth" },
	/* Lines Courier writes with addresses that are not offences. */
	{ "Nov 27 06:36:49 mail courieresmtpd: started,ip=[::ffff:203.0.113.5],port=[57813]",
	  "none", NULL },
	{ "Nov 27 06:36:49 mail courieresmtpd: [::ffff:203.0.113.16]: Connection timed out", "none",
	  NULL },
};

START_TEST(test_hostile_fields)
{
	struct filter *f[ELEMENTSOF(addr_filters)];

	for (size_t k = 0; k < ELEMENTSOF(addr_filters); k++)
		f[k] = load_shipped(addr_filters[k]);
	for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
		size_t len = strlen(hostile[i].line);
		for (size_t k = 0; k < ELEMENTSOF(addr_filters); k++) {
			assert_never_fake(f[k], hostile[i].line, len, hostile[i].real);
			if (hostile[i].filter && strcmp(hostile[i].filter, addr_filters[k]) == 0)
				assert_hit(f[k], hostile[i].line, hostile[i].real);
		}
	}
	/* The cmd: injection does not turn an AUTH failure into a DNSBL reject. */
	assert_result(f[1], hostile[5].line, FILTER_NONE);
	for (size_t k = 0; k < ELEMENTSOF(addr_filters); k++)
		filter_free(f[k]);
}
END_TEST

/* Appends fake pieces to buf until it holds about len bytes. */
static void fill_fakes(char *buf, size_t size, size_t len, const char *sep)
{
	unsigned n = 0;

	while (strlen(buf) < len) {
		char piece[96];
		snprintf(piece, sizeof(piece), "ip=[::ffff:203.0.113.%u]%s", n++ % 250 + 1, sep);
		strncat(buf, piece, size - strlen(buf) - 1);
	}
}

/* Courier cuts a line at 1023 bytes. A to=<> full of fake pieces up to that length, and every
 * cut of it: the relay is at the start, so each prefix yields the real address or nothing. */
START_TEST(test_hostile_near_cap_smtp)
{
	char line[1100] = "Nov 27 06:36:49 mail courieresmtpd: error,relay=::ffff:192.0.2.60,"
			  "port=4060,from=<a@x.test>,to=<";
	const char tail[] = ">: 550 User unknown";
	size_t head = strlen("Nov 27 06:36:49 mail courieresmtpd: ");
	struct filter *f[ELEMENTSOF(addr_filters)];

	fill_fakes(line, sizeof(line), head + 1023 - strlen(tail) - 50,
		   ",relay=::ffff:203.0.113.9,");
	strcat(line, tail);
	ck_assert_uint_le(strlen(line) - head, 1023);
	ck_assert_uint_ge(strlen(line) - head, 900);

	for (size_t k = 0; k < ELEMENTSOF(addr_filters); k++)
		f[k] = load_shipped(addr_filters[k]);
	assert_hit(f[0], line, "192.0.2.60");
	for (size_t cut = head; cut <= strlen(line); cut++)
		for (size_t k = 0; k < ELEMENTSOF(addr_filters); k++)
			assert_never_fake(f[k], line, cut, "192.0.2.60");
	for (size_t k = 0; k < ELEMENTSOF(addr_filters); k++)
		filter_free(f[k]);
}
END_TEST

/* A LOGIN FAILED line near the cap with a ~900-byte user= of fake ip=[...] pieces. Courier cuts
 * a message at 1,024 bytes and its logger reads in 511-byte pieces: a piece can end right after
 * a fake "ip=[...]" and look whole. A message of 500 bytes or more is never trusted, whole or
 * cut; a shorter one yields Courier's own (last) address. */
START_TEST(test_hostile_near_cap_auth)
{
	char line[1100] = "Nov 27 06:36:49 mail imapd: LOGIN FAILED, user=";
	const char tail[] = ", ip=[::ffff:192.0.2.61], port=[143]";
	size_t head = strlen("Nov 27 06:36:49 mail imapd: ");
	_cleanup_(filter_freep) struct filter *f = load_shipped("courier-auth");
	struct filter_hit h;

	fill_fakes(line, sizeof(line), head + 1023 - strlen(tail) - 40, ", port=[143], ");
	strcat(line, tail);
	ck_assert_uint_le(strlen(line) - head, 1023);
	ck_assert_uint_ge(strlen(line) - head, 900);
	ck_assert_int_eq(match_len(f, line, strlen(line), &h), FILTER_NONE);

	/* Every cut Courier can make (its pieces are 511 and 1,024 bytes; a shorter message is a
	 * whole one, or a line's last piece, which ends with Courier's own address): nothing at
	 * 500 bytes and beyond, a fake "]" at the end included. */
	for (size_t cut = head + 500; cut <= strlen(line); cut++)
		ck_assert_msg(match_len(f, line, cut, &h) == FILTER_NONE,
			      "a %zu-byte message matched", cut - head);

	/* The attack as Courier's logger would cut it: a 511-byte piece ending in "ip=[VICTIM]". */
	char piece[600] = "Nov 27 06:36:49 mail imapd: LOGIN FAILED, user=";
	const char forged[] = ", ip=[::ffff:203.0.113.66]";
	while (strlen(piece) - head < 511 - strlen(forged))
		strcat(piece, "x");
	strcat(piece, forged);
	ck_assert_uint_eq(strlen(piece) - head, 511);
	ck_assert_int_eq(match_len(f, piece, strlen(piece), &h), FILTER_NONE);
	/* ...while a real failed login with a long user name (499 bytes) still counts. */
	piece[head + 499 - strlen(forged)] = '\0';
	strcat(piece, forged);
	ck_assert_uint_eq(strlen(piece) - head, 499);
	assert_hit(f, piece, "203.0.113.66");
}
END_TEST

START_TEST(test_other_tags)
{
	_cleanup_(filter_freep) struct filter *smtp = load_shipped("courier-smtp");
	_cleanup_(filter_freep) struct filter *dnsbl = load_shipped("courier-dnsbl");
	_cleanup_(filter_freep) struct filter *auth = load_shipped("courier-auth");
	_cleanup_(filter_freep) struct filter *perip = load_shipped("courier-perip");
	const char smtp_msg[] =
		"error,relay=::ffff:192.0.2.13,port=1,from=<a@x.test>,to=<b@y.test>:"
		" 550 User unknown";
	const char dnsbl_msg[] =
		"error,relay=::ffff:192.0.2.13,port=1,from=<a@x.test>,to=<b@y.test>:"
		" 511 listed";
	char line[512];

	/* The same messages hit under the right tag (the control)... */
	snprintf(line, sizeof(line), "Nov 27 06:36:49 mail courieresmtpd[1]: %s", smtp_msg);
	assert_hit(smtp, line, "192.0.2.13");
	snprintf(line, sizeof(line), "Nov 27 06:36:49 mail esmtpd-ssl: %s", dnsbl_msg);
	assert_hit(dnsbl, line, "192.0.2.13");

	/* ...and never under another one, even one that shares a prefix. */
	static const char *const tags[] = { "postfix/smtpd[4242]",
					    "courieresmtpdx",
					    "courieresmtp",
					    "esmtpd",
					    "sshd[1]",
					    "imapd" };
	for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
		snprintf(line, sizeof(line), "Nov 27 06:36:49 mail %s: %s", tags[i], smtp_msg);
		assert_result(smtp, line, FILTER_NONE);
		snprintf(line, sizeof(line), "Nov 27 06:36:49 mail %s: %s", tags[i], dnsbl_msg);
		assert_result(dnsbl, line, FILTER_NONE);
	}
	assert_result(auth,
		      "Nov 27 06:36:49 mail sshd[1]: LOGIN FAILED, user=x, ip=[::ffff:192.0.2.5]",
		      FILTER_NONE);
	assert_result(
		auth,
		"Nov 27 06:36:49 mail courieresmtpd: LOGIN FAILED, user=x, ip=[::ffff:192.0.2.5]",
		FILTER_NONE);
	assert_result(perip,
		      "Nov 27 06:36:49 mail imapd: Maximum connection limit reached for 192.0.2.30",
		      FILTER_NONE);
	/* A bare message (no syslog header, so no tag) is not for tagged filters. */
	assert_result(smtp, smtp_msg, FILTER_NONE);
	/* filter_match_text() takes the tag as accepted. */
	struct filter_hit h;
	ck_assert_int_eq(filter_match_text(smtp, smtp_msg, strlen(smtp_msg), &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.13");
}
END_TEST

/* ---- (d) the forms of <HOST> ---- */

static struct filter *new_filter(const char *fail, const char *ignore, const char *prefilter)
{
	const char *const prefilters[] = { prefilter };
	struct filter_regex_src f_src = { .pattern = fail, .file = "test.conf", .line = 3 };
	struct filter_regex_src i_src = { .pattern = ignore, .file = "test.conf", .line = 4 };
	struct filter_spec spec = {
		.name = "test",
		.prefilters = prefilters,
		.n_prefilters = prefilter ? 1 : 0,
		.fail = &f_src,
		.n_fail = 1,
		.ignore = &i_src,
		.n_ignore = ignore ? 1 : 0,
	};
	char err[256] = "";
	struct filter *f = NULL;

	ck_assert_msg(filter_new(&spec, NULL, 0, &f, err, sizeof(err)) == 0, "%s", err);
	return f;
}

static int match_text(struct filter *f, const char *s, struct filter_hit *h)
{
	return filter_match_text(f, s, strlen(s), h);
}

START_TEST(test_host_forms)
{
	_cleanup_(filter_freep) struct filter *f = new_filter("^client <HOST> done$", NULL, NULL);
	static const struct {
		const char *text, *want;
		int family;
	} good[] = {
		{ "192.0.2.1", "192.0.2.1", AF_INET },
		{ "::ffff:192.0.2.1", "192.0.2.1", AF_INET },
		{ "::FFFF:192.0.2.1", "192.0.2.1", AF_INET },
		{ "2001:db8::1", "2001:db8::1", AF_INET6 },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1", AF_INET6 },
		{ "2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329", AF_INET6 },
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", AF_INET6 },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6", AF_INET6 },
		{ "fe80::", "fe80::", AF_INET6 },
		{ "::1", "::1", AF_INET6 },
	};
	char line[128];
	struct filter_hit h;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		snprintf(line, sizeof(line), "client %s done", good[i].text);
		ck_assert_msg(match_text(f, line, &h) == FILTER_HIT, "no hit for %s", good[i].text);
		ck_assert_str_eq(fmt_addr(&h.addr), good[i].want);
		ck_assert_int_eq(h.addr.family, good[i].family);
		ck_assert_uint_eq(h.addr.prefix, good[i].family == AF_INET ? 32 : 128);
		ck_assert_uint_eq(h.regex, 0);
	}
	ck_assert_uint_eq(filter_get_stats(f)->hits, ELEMENTSOF(good));
	ck_assert_uint_eq(filter_get_stats(f)->bad_addr, 0);

	/* Text that the loose <HOST> regex takes but that is no address: counted, not a hit. */
	static const char *const bad[] = { "999.1.1.1", "192.0.2.256", "::ffff:300.0.2.1",
					   "2001:db8::1::2", ":::" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(line, sizeof(line), "client %s done", bad[i]);
		ck_assert_msg(match_text(f, line, &h) == FILTER_NONE, "%s gave a result", bad[i]);
	}
	ck_assert_uint_eq(filter_get_stats(f)->hits, ELEMENTSOF(good));
	ck_assert_uint_eq(filter_get_stats(f)->bad_addr, ELEMENTSOF(bad));

	/* 999.1.1.1 in particular is exactly one bad_addr. */
	uint64_t before = filter_get_stats(f)->bad_addr;
	ck_assert_int_eq(match_text(f, "client 999.1.1.1 done", &h), FILTER_NONE);
	ck_assert_uint_eq(filter_get_stats(f)->bad_addr, before + 1);

	/* Not even address-like: no match at all, so not counted. */
	before = filter_get_stats(f)->bad_addr;
	ck_assert_int_eq(match_text(f, "client mail.example.test done", &h), FILTER_NONE);
	ck_assert_int_eq(match_text(f, "client 192.0.2 done", &h), FILTER_NONE);
	ck_assert_uint_eq(filter_get_stats(f)->bad_addr, before);
}
END_TEST

/* ---- (e) events ---- */

START_TEST(test_event_filter)
{
	_cleanup_(filter_freep) struct filter *f = load_shipped("courier-maxconn");
	struct filter_hit h = { .regex = 99 };

	ck_assert(!filter_has_host(f));
	ck_assert(!filter_regex_has_host(f, 0));
	ck_assert_int_eq(match(f,
			       "Nov 27 06:36:49 mail courieresmtpd: 300 maximum active "
			       "connections.",
			       &h),
			 FILTER_EVENT);
	ck_assert_uint_eq(h.regex, 0);
	ck_assert_int_eq(match(f,
			       "2026-11-27T06:36:49.5+00:00 mail esmtpd-ssl: 40 maximum active "
			       "connections.",
			       &h),
			 FILTER_EVENT);
	ck_assert_int_eq(match(f,
			       "Nov 27 06:36:49 mail courieresmtpd: Maximum connection limit "
			       "reached for ::ffff:192.0.2.30",
			       &h),
			 FILTER_NONE);
	ck_assert_uint_eq(filter_get_stats(f)->events, 2);
	ck_assert_uint_eq(filter_get_stats(f)->hits, 0);
	ck_assert_uint_eq(filter_get_stats(f)->per_regex[0], 2);
}
END_TEST

/* ---- (f) ignoreregex and prefilters ---- */

START_TEST(test_ignoreregex)
{
	_cleanup_(filter_freep) struct filter *f =
		new_filter("^reject <HOST>(?: .*)?$", " via backup-mx$", NULL);
	struct filter_hit h;

	ck_assert_int_eq(match_text(f, "reject 192.0.2.1", &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.1");
	ck_assert_int_eq(match_text(f, "reject 192.0.2.2 via backup-mx", &h), FILTER_IGNORED);
	ck_assert_int_eq(match_text(f, "reject 192.0.2.3 via primary", &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.3");
	/* An ignoreregex alone matches nothing. */
	ck_assert_int_eq(match_text(f, "accept 192.0.2.4 via backup-mx", &h), FILTER_NONE);

	const struct filter_stats *st = filter_get_stats(f);
	ck_assert_uint_eq(st->lines, 4);
	ck_assert_uint_eq(st->hits, 2);
	ck_assert_uint_eq(st->ignored, 1);
	ck_assert_uint_eq(st->per_regex[0], 2);
}
END_TEST

/* An admin's regex that backtracks catastrophically meets a hostile line: the search gives up
 * at the match limit (counted), the line does not match, and the next line is matched as
 * usual. Unbounded, (a+)+ on 40 a's and a b would run for days. */
START_TEST(test_match_limit)
{
	_cleanup_(filter_freep) struct filter *f = new_filter("^x <HOST> (a+)+$", NULL, NULL);
	char line[128];
	struct filter_hit h;

	snprintf(line, sizeof(line), "x 192.0.2.1 %s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
	ck_assert_int_eq(match_text(f, line, &h), FILTER_NONE);
	ck_assert_uint_eq(filter_get_stats(f)->limited, 1);
	ck_assert_int_eq(match_text(f, "x 192.0.2.2 aaaa", &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.2");
	ck_assert_uint_eq(filter_get_stats(f)->limited, 1);
}
END_TEST

START_TEST(test_prefilter)
{
	_cleanup_(filter_freep) struct filter *plain = new_filter("^reject <HOST>", NULL, NULL);
	_cleanup_(filter_freep) struct filter *pre = new_filter("^reject <HOST>", NULL, "refused");
	const char line[] = "reject 192.0.2.1 now";
	struct filter_hit h;

	/* The regex matches the line (control)... */
	ck_assert_int_eq(match_text(plain, line, &h), FILTER_HIT);
	/* ...but the prefilter literal is absent, so the regex never runs. */
	ck_assert_int_eq(match_text(pre, line, &h), FILTER_NONE);
	ck_assert_uint_eq(filter_get_stats(pre)->bad_addr, 0);
	ck_assert_uint_eq(filter_get_stats(pre)->lines, 1);
	/* With the literal anywhere in the message, the regex decides. */
	ck_assert_int_eq(match_text(pre, "reject 192.0.2.5 refused", &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.5");
	ck_assert_int_eq(match_text(pre, "refused: reject 192.0.2.6", &h), FILTER_NONE);

	/* Several prefilters: any one will do. */
	const char *const pf[] = { "nothere", "now" };
	struct filter_regex_src src = { .pattern = "^reject <HOST>", .file = "t.conf", .line = 1 };
	struct filter_spec spec = {
		.name = "multi", .prefilters = pf, .n_prefilters = 2, .fail = &src, .n_fail = 1
	};
	_cleanup_(filter_freep) struct filter *multi = NULL;
	char err[256];
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &multi, err, sizeof(err)), 0);
	ck_assert_int_eq(match_text(multi, line, &h), FILTER_HIT);
	ck_assert_int_eq(match_text(multi, "reject 192.0.2.1 later", &h), FILTER_NONE);
}
END_TEST

START_TEST(test_variables)
{
	const struct filter_var vars[] = { { "codes", "511" }, { "who", "relay=<HOST>" } };
	const struct filter_var over[] = { { "codes", "554|555" } };
	struct filter_regex_src src = { .pattern = "^error,<who>,x=<.*>: (?:<codes>) <unknown>",
					.file = "t.conf",
					.line = 9 };
	struct filter_spec spec = {
		.name = "vars", .fail = &src, .n_fail = 1, .vars = vars, .n_vars = 2
	};
	_cleanup_(filter_freep) struct filter *def = NULL, *ov = NULL;
	struct filter_hit h;
	char err[256];

	ck_assert_int_eq(filter_new(&spec, NULL, 0, &def, err, sizeof(err)), 0);
	ck_assert_int_eq(filter_new(&spec, over, 1, &ov, err, sizeof(err)), 0);
	/* A variable may hold <HOST>; unknown names and "<.*>" stay literal. */
	ck_assert(filter_has_host(def));
	ck_assert_int_eq(match_text(def, "error,relay=192.0.2.1,x=<a>: 511 <unknown>", &h),
			 FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.1");
	ck_assert_int_eq(match_text(def, "error,relay=192.0.2.1,x=<a>: 554 <unknown>", &h),
			 FILTER_NONE);
	ck_assert_int_eq(match_text(ov, "error,relay=192.0.2.2,x=<a>: 555 <unknown>", &h),
			 FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.2");
	ck_assert_int_eq(match_text(ov, "error,relay=192.0.2.2,x=<a>: 511 <unknown>", &h),
			 FILTER_NONE);
	ck_assert_ptr_nonnull(strstr(filter_regex_text(ov, 0), "(?:554|555)"));
	ck_assert_ptr_null(filter_regex_text(ov, 1));
}
END_TEST

/* What <USER> captured, as text ("-" when nothing). */
static const char *user_of(const struct filter_hit *h)
{
	static char buf[300];
	if (!h->user)
		return "-";
	snprintf(buf, sizeof(buf), "%.*s", (int)h->user_len, h->user);
	return buf;
}

/* <USER>: a pointer into the line, bounded, NULL where the regex has none or it took no part
 * in the match; the placeholder's errors. */
START_TEST(test_user_capture)
{
	_cleanup_(filter_freep) struct filter *trap = load_shipped("courier-trap");
	_cleanup_(filter_freep) struct filter *smtp = load_shipped("courier-smtp");
	const char *line = "Nov 27 06:36:49 mail courieresmtpd: error,relay=::ffff:192.0.2.90,"
			   "port=1,from=<a@x.test>,to=<Old@Y.test>: 550 User <Old> unknown";
	struct filter_hit h;

	ck_assert(filter_has_user(trap));
	ck_assert(!filter_has_user(smtp));
	ck_assert_int_eq(match(trap, line, &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.90");
	ck_assert_ptr_eq(h.user, strstr(line, "Old@Y.test"));
	ck_assert_uint_eq(h.user_len, strlen("Old@Y.test"));
	ck_assert_int_eq(match(smtp, line, &h), FILTER_HIT);
	ck_assert_ptr_null(h.user);
	ck_assert_int_eq(match(trap,
			       "Nov 27 06:36:49 mail imapd: LOGIN FAILED, user=guest, "
			       "ip=[::ffff:192.0.2.91], port=[143]",
			       &h),
			 FILTER_HIT);
	ck_assert_str_eq(user_of(&h), "guest");
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.91");

	/* An optional <USER>, a variable holding it, and its bound of 254 bytes. */
	const struct filter_var vars[] = { { "who", "y=<USER>" } };
	struct filter_regex_src src = { .pattern = "^<HOST> (?:x|<who>)$", .file = "u.conf" };
	struct filter_spec spec = {
		.name = "u", .fail = &src, .n_fail = 1, .vars = vars, .n_vars = 1
	};
	_cleanup_(filter_freep) struct filter *f = NULL;
	char err[256], text[400];
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, err, sizeof(err)), 0);
	ck_assert(filter_has_user(f));
	ck_assert_int_eq(match_text(f, "192.0.2.1 x", &h), FILTER_HIT);
	ck_assert_ptr_null(h.user);
	ck_assert_int_eq(match_text(f, "192.0.2.1 y=bob@x.test", &h), FILTER_HIT);
	ck_assert_str_eq(user_of(&h), "bob@x.test");
	snprintf(text, sizeof(text), "192.0.2.1 y=%0254d", 0);
	ck_assert_int_eq(match_text(f, text, &h), FILTER_HIT);
	ck_assert_uint_eq(h.user_len, FILTER_USER_MAX);
	snprintf(text, sizeof(text), "192.0.2.1 y=%0255d", 0);
	ck_assert_int_eq(match_text(f, text, &h), FILTER_NONE);
	ck_assert_int_eq(match_text(f, "192.0.2.1 y=a b", &h), FILTER_NONE);
	ck_assert_int_eq(match_text(f, "192.0.2.1 y=a,b", &h), FILTER_NONE);
	ck_assert_int_eq(match_text(f, "192.0.2.1 y=<a>", &h), FILTER_NONE);
	ck_assert_int_eq(match_text(f, "192.0.2.1 y=a\x1b[2Jb", &h), FILTER_NONE);
	ck_assert_int_eq(match_text(f, "192.0.2.1 y=a\x7f", &h), FILTER_NONE);
	ck_assert_int_eq(match_text(f, "192.0.2.1 y=caf\xc3\xa9", &h), FILTER_HIT);

	/* Without <HOST> a match is an event, and has nothing for a trap list. */
	struct filter_regex_src ev = { .pattern = "^only <USER>$", .file = "u.conf" };
	_cleanup_(filter_freep) struct filter *fe = NULL;
	spec = (struct filter_spec){ .name = "u", .fail = &ev, .n_fail = 1 };
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &fe, err, sizeof(err)), 0);
	ck_assert(!filter_has_user(fe));
	ck_assert_int_eq(match_text(fe, "only bob", &h), FILTER_EVENT);

	/* Two <USER>, or a group of its own named user: refused at the regex's place. */
	struct filter_regex_src bad[] = {
		{ .pattern = "<HOST> <USER> <USER>", .file = "u.conf", .line = 3 },
		{ .pattern = "<HOST> (?<user>x) <USER>", .file = "u.conf", .line = 4 },
	};
	spec = (struct filter_spec){ .name = "u", .fail = &bad[0], .n_fail = 1 };
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &fe, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "u.conf:3: more than one <USER> in one regex");
	spec.fail = &bad[1];
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &fe, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strncmp(err, "u.conf:4: ", 10) == 0, "%s", err);
}
END_TEST

/* match_user samples: the address and what <USER> captured, each error at its line. */
START_TEST(test_user_samples)
{
	char *dir = test_mkdtemp(), path[4200];
	struct config_filter *cf = NULL;
	struct config_errors e = { 0 };

	test_write(dir, "f.conf", "w",
		   "[filter]\n"
		   "failregex = ^<HOST> to=<USER>$\n"
		   "\t^<HOST> none$\n"
		   "[test]\n"
		   "match_user = 192.0.2.1 Bob 192.0.2.1 to=Bob\n"
		   "\t192.0.2.2 bob 192.0.2.2 to=Bobby\n"
		   "\t192.0.2.3 bob 192.0.2.3 none\n"
		   "\t192.0.2.9 bob 192.0.2.6 to=bob\n"
		   "match = 192.0.2.7 192.0.2.7 to=anyone\n");
	snprintf(path, sizeof(path), "%s/f.conf", dir);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(config_load_filter(path, &cf, &e), -EINVAL);
	ck_assert_ptr_null(cf);
	ck_assert_msg(e.n == 3, "%s", test_errors_text(&e));
	ck_assert_ptr_nonnull(
		strstr(e.msgs[0], ":6: sample should capture <USER> 'bob', but captured 'Bobby'"));
	ck_assert_ptr_nonnull(
		strstr(e.msgs[1], ":7: sample should capture <USER> 'bob', but captured nothing"));
	ck_assert_ptr_nonnull(strstr(e.msgs[2], ":8: sample should yield 192.0.2.9, but yielded "
						"192.0.2.6"));
	config_errors_clear(&e);

	/* The line's own form: an address (not -), the value, the line. */
	test_write(dir, "f.conf", "w",
		   "[filter]\n"
		   "failregex = ^<HOST> to=<USER>$\n"
		   "[test]\n"
		   "match_user = 192.0.2.4 bob\n"
		   "\t- bob 192.0.2.5 none\n");
	ck_assert_int_eq(config_load_filter(path, &cf, &e), -EINVAL);
	ck_assert_msg(e.n == 2, "%s", test_errors_text(&e));
	ck_assert_ptr_nonnull(strstr(e.msgs[0], ":4: match_user = ADDRESS USER LINE"));
	ck_assert_ptr_nonnull(strstr(e.msgs[1], ":5: match_user: expected an address, not -"));
	config_errors_clear(&e);
	test_rm_rf(dir);
	free(dir);
}
END_TEST

/* ---- (g) garbage ---- */

START_TEST(test_garbage)
{
	static const char *const names[] = { "courier-smtp",  "courier-dnsbl",	 "courier-auth",
					     "courier-perip", "courier-maxconn", "courier-trap" };
	struct filter *f[ELEMENTSOF(names)];
	const size_t big = 64 * 1024;
	char *huge = malloc(big + 1);
	struct filter_hit h;
	unsigned seed = 12345;

	ck_assert_ptr_nonnull(huge);
	for (size_t k = 0; k < ELEMENTSOF(names); k++)
		f[k] = load_shipped(names[k]);

	/* Binary bytes with NULs, after a valid header and as a whole line. */
	char bin[600];
	size_t hl = (size_t)snprintf(bin, sizeof(bin), "Nov 27 06:36:49 mail courieresmtpd: ");
	for (size_t i = hl; i < sizeof(bin); i++) {
		seed = seed * 1103515245 + 12345;
		bin[i] = (char)(seed >> 16);
		if (i % 7 == 0)
			bin[i] = '\0';
	}
	/* Invalid UTF-8: lone continuation bytes, overlong forms, truncated sequences. */
	const char bad_utf8[] =
		"Nov 27 06:36:49 mail courieresmtpd: \x80\xbf\xc0\xaf\xe0\x80 error,"
		"relay=\xff\xfe::ffff:192.0.2.1\xc3(,port=1: 550 \xed\xa0\x80 User unknown";
	for (size_t k = 0; k < ELEMENTSOF(names); k++) {
		ck_assert_int_eq(match_len(f[k], bin, sizeof(bin), &h), FILTER_NONE);
		ck_assert_int_eq(filter_match_text(f[k], bin, sizeof(bin), &h), FILTER_NONE);
		ck_assert_int_eq(filter_match_text(f[k], bin + hl, sizeof(bin) - hl, &h),
				 FILTER_NONE);
		ck_assert_int_eq(match(f[k], bad_utf8, &h), FILTER_NONE);
		ck_assert_int_eq(filter_match_text(f[k], "", 0, &h), FILTER_NONE);
	}

	/* Invalid UTF-8 in client text does not stop a real line from matching. */
	assert_hit(f[0],
		   "Nov 27 06:36:49 mail courieresmtpd: "
		   "error,relay=::ffff:192.0.2.70,port=1,from=<\xff"
		   "\xfe\xc3(>,to=<\xed\xa0\x80@y.test>: 550 User unknown",
		   "192.0.2.70");

	/* 64 KiB lines: one uniform, and ones built to make the regexes backtrack. */
	static const char *const fills[] = { "a", ">,to=<", "ip=[::ffff:203.0.113.1], ",
					     "error,relay=::ffff:203.0.113.1," };
	static const char *const heads[] = {
		"Nov 27 06:36:49 mail courieresmtpd: error,relay=::ffff:"
		"192.0.2.80,port=1,from=<",
		"Nov 27 06:36:49 mail imapd: LOGIN FAILED, user=",
		"Nov 27 06:36:49 mail courieresmtpd: error,relay=::ffff:"
		"192.0.2.80,msg=\"535 Authentication failed.\""
	};
	for (size_t hd = 0; hd < ELEMENTSOF(heads); hd++)
		for (size_t fi = 0; fi < ELEMENTSOF(fills); fi++) {
			size_t n = strlen(heads[hd]), fl = strlen(fills[fi]);
			memcpy(huge, heads[hd], n);
			for (size_t i = n; i < big; i++)
				huge[i] = fills[fi][(i - n) % fl];
			huge[big] = '\0';
			for (size_t k = 0; k < ELEMENTSOF(names); k++)
				ck_assert_msg(match_len(f[k], huge, big, &h) == FILTER_NONE,
					      "%s matched 64 KiB of '%s' after '%s'", names[k],
					      fills[fi], heads[hd]);
		}
	for (size_t k = 0; k < ELEMENTSOF(names); k++)
		filter_free(f[k]);
	free(huge);
}
END_TEST

/* ---- (h) filter_new() errors ---- */

START_TEST(test_filter_new_errors)
{
	struct filter_regex_src fail[] = {
		{ .pattern = "^ok <HOST>$", .file = "/etc/waveguard/filters/x.conf", .line = 11 },
		{ .pattern = "^broken (<HOST>$",
		  .file = "/etc/waveguard/filters/x.conf",
		  .line = 12 },
	};
	struct filter_regex_src ign = { .pattern = "[unclosed", .file = "y.conf", .line = 20 };
	struct filter_regex_src two = { .pattern = "<HOST> and <HOST>",
					.file = "z.conf",
					.line = 7 };
	const struct filter_var vars[] = { { "bad", "(?<" } };
	struct filter_regex_src via_var = { .pattern = "^x <bad>", .file = "v.conf", .line = 5 };
	struct filter_spec spec = { .name = "e", .fail = fail, .n_fail = 2 };
	struct filter *f = NULL;
	char err[256];

	/* The second failregex is broken: the error is at its own place. */
	err[0] = '\0';
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_msg(strncmp(err, "/etc/waveguard/filters/x.conf:12: bad regex", 43) == 0, "%s",
		      err);

	/* A broken ignoreregex. */
	spec.n_fail = 1;
	spec.ignore = &ign;
	spec.n_ignore = 1;
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_msg(strncmp(err, "y.conf:20: bad regex", 20) == 0, "%s", err);

	/* Two <HOST> in one regex. */
	spec = (struct filter_spec){ .name = "e", .fail = &two, .n_fail = 1 };
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_str_eq(err, "z.conf:7: more than one <HOST> in one regex");

	/* A broken variable value: the error is at the regex that uses it. */
	spec = (struct filter_spec){
		.name = "e", .fail = &via_var, .n_fail = 1, .vars = vars, .n_vars = 1
	};
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_msg(strncmp(err, "v.conf:5: bad regex", 19) == 0, "%s", err);

	/* No failregex at all. */
	spec = (struct filter_spec){ .name = "empty" };
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_ptr_nonnull(strstr(err, "no failregex"));

	/* Errors never overflow a small buffer. */
	char small[8];
	spec = (struct filter_spec){ .name = "e", .fail = &fail[1], .n_fail = 1 };
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, small, sizeof(small)), -EINVAL);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(filter_new(&spec, NULL, 0, &f, NULL, 0), -EINVAL);
	ck_assert_ptr_null(filter_free(NULL));
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("shipped");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_shipped_samples);
	tcase_add_test(tc, test_sample_runner_reports);
	tcase_add_test(tc, test_fixture_smtp);
	tcase_add_test(tc, test_fixture_smtp_journal);
	tcase_add_test(tc, test_corpus_smtp);
	tcase_add_test(tc, test_corpus_auth);
	tcase_add_test(tc, test_hostile_fields);
	tcase_add_test(tc, test_hostile_near_cap_smtp);
	tcase_add_test(tc, test_hostile_near_cap_auth);
	tcase_add_test(tc, test_other_tags);
	tcase_add_test(tc, test_event_filter);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("spec");
	tcase_add_test(tc, test_host_forms);
	tcase_add_test(tc, test_ignoreregex);
	tcase_add_test(tc, test_match_limit);
	tcase_add_test(tc, test_prefilter);
	tcase_add_test(tc, test_variables);
	tcase_add_test(tc, test_user_capture);
	tcase_add_test(tc, test_user_samples);
	tcase_add_test(tc, test_filter_new_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return test_run_suite(filter_suite());
}
