/* Tests for offline (test-filter and replay): what a text is (filter, syslog, journal export),
 * what test-filter's FILTER argument is (a filter, a regex, two arguments swapped), the journal
 * files of a directory, test-filter's summary counts, its reason for a result of nothing, its
 * -v and --missed lines, and replay's per-jail table and allowlist notes. Asserts on the text
 * an admin reads. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sysexits.h>

#include "config.h"
#include "offline.h"
#include "testutil.h"
#include "text.h"
#include "timeutil.h"

/* Lines of the shipped courier-smtp filter's programs and others, one of each kind. */
#define L_550                                                                                      \
	"2026-11-27T06:00:01+00:00 mail courieresmtpd: error,relay=::ffff:192.0.2.11,port=1,"      \
	"from=<a@x.test>,to=<n1@y.test>: 550 User <n1> unknown\n"
#define L_535                                                                                      \
	"2026-11-27T06:00:02+00:00 mail courieresmtpd: error,relay=::ffff:192.0.2.14,port=2,"      \
	"msg=\"535 Authentication failed.\",cmd: AUTH LOGIN user\n"
#define L_IMAP                                                                                     \
	"2026-11-27T06:00:03+00:00 mail imapd: LOGIN FAILED, user=x, ip=[::ffff:192.0.2.5], "      \
	"port=[255]\n"
#define L_BARE                                                                                     \
	"error,relay=::ffff:192.0.2.12,port=1,from=<a@x.test>,to=<v@e.test>: 513 Relaying "        \
	"denied.\n"
#define L_STARTED                                                                                  \
	"2026-11-27T06:00:05+00:00 mail courieresmtpd: started,ip=[::ffff:192.0.2.10],"            \
	"port=[57813]\n"
#define L_511                                                                                      \
	"2026-11-27T06:00:06+00:00 mail courieresmtpd: error,relay=::ffff:192.0.2.2,port=1,"       \
	"from=<a@x.test>,to=<b@y.test>: 511 Listed\n"
#define L_COURIERD "2026-11-27T06:00:07+00:00 mail courierd: Loading STATIC transport\n"

static char *dir;

static void setup(void)
{
	dir = test_mkdtemp();
}

static void teardown(void)
{
	test_rm_rf(dir);
	free(dir);
}

static const char *path_of(const char *name)
{
	static char buf[4][4200];
	static unsigned i;
	char *b = buf[i++ % 4];
	snprintf(b, 4200, "%s/%s", dir, name);
	return b;
}

static struct config_filter *shipped_filter(const char *name)
{
	char path[4200];
	struct config_filter *cf = NULL;
	struct config_errors e = { 0 };

	snprintf(path, sizeof(path), "%s/filters/%s.conf", test_srcdir(), name);
	ck_assert_int_eq(config_load_filter(path, &cf, &e), 0);
	return cf;
}

/* Runs test-filter with filter name over text (written to a file); returns what it printed. */
static char *run_test_filter(const char *name, const char *text, struct test_filter_opts o,
			     int *ret_rc)
{
	struct config_filter *cf = shipped_filter(name);
	struct offline_input in = { .path = path_of("log") };
	char *out = NULL;
	size_t size = 0;

	test_write(dir, "log", "w", text);
	o.out = open_memstream(&out, &size);
	ck_assert_ptr_nonnull(o.out);
	*ret_rc = offline_test_filter(cf, &in, &o);
	ck_assert_int_eq(fclose(o.out), 0);
	config_filter_free(cf);
	return out;
}

static void assert_has(const char *text, const char *want)
{
	ck_assert_msg(strstr(text, want) != NULL, "wanted \"%s\" in:\n%s", want, text);
}

START_TEST(test_sniff)
{
	static const struct {
		const char *text;
		enum offline_text want;
	} cases[] = {
		{ "", OFFLINE_TEXT_EMPTY },
		{ "\n  \n\t\n", OFFLINE_TEXT_EMPTY },
		{ "# only a comment\n", OFFLINE_TEXT_INI },
		{ "# a filter\n\n[filter]\nfailregex = x\n", OFFLINE_TEXT_INI },
		{ "[Definition]\r\n", OFFLINE_TEXT_INI },
		{ "failregex = ^x <HOST>\n", OFFLINE_TEXT_INI },
		{ L_550, OFFLINE_TEXT_SYSLOG },
		{ "Nov 27 06:36:49 mail courieresmtpd[12]: started\n", OFFLINE_TEXT_SYSLOG },
		{ "\n" L_IMAP, OFFLINE_TEXT_SYSLOG },
		{ "__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1\n", OFFLINE_TEXT_EXPORT },
		{ "MESSAGE=error,relay=::ffff:192.0.2.2\n", OFFLINE_TEXT_EXPORT },
		{ "{\"MESSAGE\":\"x\"}\n", OFFLINE_TEXT_JSON },
		/* A bare message: the comma keeps "error,relay=" from being a key. */
		{ L_BARE, OFFLINE_TEXT_OTHER },
		{ "[::ffff:192.0.2.16]: Connection timed out\n", OFFLINE_TEXT_OTHER },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		ck_assert_msg(offline_sniff(cases[i].text, strlen(cases[i].text)) == cases[i].want,
			      "case %zu: %s: got %d, want %d", i, cases[i].text,
			      offline_sniff(cases[i].text, strlen(cases[i].text)), cases[i].want);
}
END_TEST

/* What offline_filter_arg() makes of filter and log in dir (the configuration directory). */
static int arg(const char *filter, const char *log, char **path)
{
	free(*path);
	*path = NULL;
	return offline_filter_arg(dir, filter, log, path);
}

START_TEST(test_filter_arg)
{
	char *path = NULL;
	char cwd[4200];

	ck_assert_int_eq(mkdir(path_of("filters"), 0755), 0);
	test_write(dir, "filters/mine.conf", "w", "[filter]\nfailregex = ^x <HOST>$\n");
	test_write(dir, "mail.log", "w", L_550 L_IMAP);
	test_write(dir, "f2b.conf", "w", "[INCLUDES]\nbefore = common.conf\n[Definition]\n");
	test_write(dir, "empty", "w", "");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);

	/* A name of DIR/filters, a filter file, as always. */
	ck_assert_int_eq(arg("mine", "mail.log", &path), OFFLINE_ARG_FILTER);
	ck_assert_str_eq(path, path_of("filters/mine.conf"));
	ck_assert_int_eq(arg("f2b.conf", "mail.log", &path), OFFLINE_ARG_FILTER);
	ck_assert_str_eq(path, "f2b.conf");
	ck_assert_int_eq(arg("empty", "mail.log", &path), OFFLINE_ARG_FILTER);
	/* fail2ban-regex's order: a log, then a filter (a name, a file) or a regex. */
	ck_assert_int_eq(arg("mail.log", "mine", &path), OFFLINE_ARG_SWAPPED);
	ck_assert_int_eq(arg("mail.log", "f2b.conf", &path), OFFLINE_ARG_SWAPPED);
	ck_assert_int_eq(arg("mail.log", "^error,relay=<HOST>", &path), OFFLINE_ARG_SWAPPED);
	ck_assert_int_eq(arg("-", "mine", &path), OFFLINE_ARG_SWAPPED);
	ck_assert_int_eq(arg("empty", "mine", &path), OFFLINE_ARG_SWAPPED);
	/* A log first and no filter after it (or the journal). */
	ck_assert_int_eq(arg("mail.log", "mail.log", &path), OFFLINE_ARG_LOG);
	ck_assert_int_eq(arg("mail.log", NULL, &path), OFFLINE_ARG_LOG);
	ck_assert_int_eq(arg("mail.log", "nosuch", &path), OFFLINE_ARG_LOG);
	/* Neither a name nor a file: a regex, or a filter that is missing. */
	ck_assert_int_eq(arg("^error,relay=<HOST>,", "mail.log", &path), OFFLINE_ARG_REGEX);
	ck_assert_int_eq(arg("LOGIN FAILED", "mail.log", &path), OFFLINE_ARG_REGEX);
	ck_assert_int_eq(arg("nosuch", "mail.log", &path), OFFLINE_ARG_MISSING);
	ck_assert_str_eq(path, path_of("filters/nosuch.conf"));
	ck_assert_int_eq(arg("./nosuch.conf", "mail.log", &path), OFFLINE_ARG_MISSING);
	ck_assert_str_eq(path, "./nosuch.conf");

	ck_assert_int_eq(chdir(cwd), 0);
	free(path);
}
END_TEST

START_TEST(test_journal_files)
{
	ck_assert_int_eq(offline_journal_files(path_of("nosuch")), -ENOENT);
	ck_assert_int_eq(offline_journal_files(dir), 0);
	ck_assert_int_eq(mkdir(path_of("0123abcd"), 0755), 0);
	test_write(dir, "0123abcd/notes.txt", "w", "x");
	ck_assert_int_eq(offline_journal_files(dir), 0);
	test_write(dir, "0123abcd/system.journal", "w", "");
	test_write(dir, "0123abcd/user-1000@0005-1.journal~", "w", "");
	test_write(dir, "top.journal", "w", "");
	ck_assert_int_eq(offline_journal_files(dir), 3);
}
END_TEST

START_TEST(test_summary_counts)
{
	int rc;
	char *out = run_test_filter("courier-smtp", L_550 L_535 L_IMAP L_BARE L_STARTED L_511,
				    (struct test_filter_opts){ 0 }, &rc);

	ck_assert_int_eq(rc, EX_OK);
	assert_has(out, "\nTags:    courieresmtpd, esmtpd-ssl, esmtpd-msa\n");
	assert_has(out, "\nLines:   6 read, 2 matched, 0 events, 0 ignored, 0 bad address, 0 too "
			"long\n");
	assert_has(out, "\nOther:   1 without a syslog header, 1 from other programs\n");
	assert_has(out, "\nMissed:  1 rejected by the prefilter, 1 matched no failregex, 0 gave up "
			"at the match limit\n");
	assert_has(out, "\n  1)          1  ^error,relay=<HOST>");
	assert_has(out, "\n  2)          0  ^error,relay=<HOST>");
	assert_has(out, "\n  3)          1  ^error,relay=<HOST>");
	ck_assert_ptr_null(strstr(out, "Why"));
	/* Nothing asked for per line: the summary alone. */
	ck_assert_ptr_null(strstr(out, "\t"));
	free(out);
}
END_TEST

START_TEST(test_why_none)
{
	static const struct {
		const char *filter, *text, *why;
	} cases[] = {
		{ "courier-smtp", L_IMAP L_IMAP L_COURIERD,
		  "Why 0 matched: all 3 lines came from other programs: tags seen: imapd (2), "
		  "courierd (1); the filter reads courieresmtpd, esmtpd-ssl, esmtpd-msa\n" },
		{ "courier-smtp", L_BARE L_BARE,
		  "Why 0 matched: no line has a syslog header (TIME HOST TAG: message), so none "
		  "comes from the filter's programs: is this a journal export? use --journal or "
		  "`journalctl -o short-iso`; lines of bare messages: use --messages\n" },
		{ "courier-smtp", "__CURSOR=s=1\nMESSAGE=" L_BARE "\n__CURSOR=s=2\nMESSAGE=x\n",
		  "Why 0 matched: the log is a journal export (journalctl -o export or -o json)" },
		{ "courier-smtp", "", "Why 0 matched: the log is empty\n" },
		{ "courier-smtp", L_STARTED L_STARTED,
		  "Why 0 matched: none of the 2 lines of the filter's programs contains a "
		  "prefilter literal: 'error,relay='\n" },
		{ "courier-smtp", L_IMAP L_BARE L_COURIERD,
		  "Why 0 matched: the 2 lines with a syslog header came from other programs (1 "
		  "more have none): tags seen: courierd (1), imapd (1); the filter reads" },
		{ "courier-smtp", L_STARTED L_511,
		  "Why 0 matched: no failregex matches the 2 lines of the filter's programs: see "
		  "them with --missed\n" },
	};
	int rc;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *out = run_test_filter(cases[i].filter, cases[i].text,
					    (struct test_filter_opts){ 0 }, &rc);
		ck_assert_int_eq(rc, EX_OK);
		assert_has(out, cases[i].why);
		free(out);
	}
}
END_TEST

START_TEST(test_verbose_and_missed)
{
	struct test_filter_opts o = { .verbose = true, .missed = 1 };
	int rc;
	char *out = run_test_filter("courier-smtp",
				    L_550 L_STARTED L_511 L_535 L_STARTED L_511 L_IMAP, o, &rc);

	ck_assert_int_eq(rc, EX_OK);
	/* In the log's order: each matched line with its time, address and regex; the first
	 * missed line of each kind; no line of another program. */
	const char *want = "2026-11-27T06:00:01Z\t192.0.2.11\t#1\t" L_550
			   "2026-11-27T06:00:05Z\t-\tprefilter\t" L_STARTED
			   "2026-11-27T06:00:06Z\t-\tmissed\t" L_511
			   "2026-11-27T06:00:02Z\t192.0.2.14\t#3\t" L_535 "Filter:  courier-smtp (";
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "got:\n%s", out);
	assert_has(out, "\n(not shown: 1 more missed, 1 more prefilter lines: --missed=all shows "
			"every one)\n");
	free(out);

	/* --hosts: the addresses alone, whatever else was asked. */
	o.hosts = true;
	out = run_test_filter("courier-smtp", L_550 L_STARTED L_535, o, &rc);
	ck_assert_str_eq(out, "192.0.2.11\n192.0.2.14\n");
	free(out);
}
END_TEST

START_TEST(test_messages)
{
	int rc;
	char *out = run_test_filter("courier-smtp", L_BARE,
				    (struct test_filter_opts){ .messages = true }, &rc);

	assert_has(out, "\nLines:   1 read, 1 matched,");
	free(out);
}
END_TEST

START_TEST(test_inline_regex)
{
	struct offline_input in = { .path = path_of("log") };
	char *out = NULL;
	size_t size = 0;
	struct test_filter_opts o = { .out = open_memstream(&out, &size) };

	test_write(dir, "log", "w", L_550 L_IMAP L_BARE);
	ck_assert_int_eq(offline_test_regex("relay=<HOST>,port", &in, &o), EX_OK);
	ck_assert_int_eq(fclose(o.out), 0);
	assert_has(out, "Filter:  inline regex (the message of every line is tried: no tags)\n");
	assert_has(out, "\nLines:   3 read, 2 matched,");
	assert_has(out, "\n  1)          2  relay=<HOST>,port\n");
	free(out);
}
END_TEST

/* Runs replay over text with the shipped configuration, changed by tweak (NULL: as shipped);
 * returns the decisions and the report. */
static void run_replay_with(const char *text, bool no_allowlist, void (*tweak)(struct config *),
			    char **ret_out, char **ret_report)
{
	struct config *c = NULL;
	struct config_errors e = { 0 };
	struct offline_input in = { .path = path_of("log") };
	size_t s1 = 0, s2 = 0;
	struct replay_opts o = { .no_allowlist = no_allowlist };

	ck_assert_int_eq(config_load(test_srcdir(), &c, &e), 0);
	if (tweak)
		tweak(c);
	test_write(dir, "log", "w", text);
	o.out = open_memstream(ret_out, &s1);
	o.report = open_memstream(ret_report, &s2);
	ck_assert_int_eq(offline_replay(c, &o, &in), EX_OK);
	ck_assert_int_eq(fclose(o.out), 0);
	ck_assert_int_eq(fclose(o.report), 0);
	config_free(c);
}

static void run_replay(const char *text, bool no_allowlist, char **ret_out, char **ret_report)
{
	run_replay_with(text, no_allowlist, NULL, ret_out, ret_report);
}

#define DNSBL(t, a)                                                                                \
	"2026-11-27T06:00:0" t "+00:00 mail courieresmtpd: error,relay=::ffff:" a ",port=1,"       \
	"from=<a@x.test>,to=<b@y.test>: 511 Listed\n"
#define DNSBL_AT(t, a)                                                                             \
	"2026-11-27T" t "+00:00 mail courieresmtpd: error,relay=::ffff:" a ",port=1,"              \
	"from=<a@x.test>,to=<b@y.test>: 511 Listed\n"
#define UNKNOWN(t, a)                                                                              \
	"2026-11-27T06:00:0" t "+00:00 mail courieresmtpd: error,relay=::ffff:" a ",port=1,"       \
	"from=<a@x.test>,to=<n@y.test>: 550 User <n> unknown\n"

START_TEST(test_replay_table)
{
	char *out, *report;

	run_replay(DNSBL("1", "127.0.0.5") DNSBL("2", "127.0.0.6") DNSBL("3", "192.0.2.2")
			   UNKNOWN("4", "198.51.100.1") UNKNOWN("5", "198.51.100.1")
				   UNKNOWN("6", "198.51.100.2"),
		   false, &out, &report);
	ck_assert_str_eq(out, "2026-11-27T06:00:03Z\tcourier-dnsbl\t192.0.2.2\t3600\n");
	assert_has(report, "replay: 6 lines read (0 too long, 0 without a syslog header), "
			   "2026-11-27T06:00:01Z to 2026-11-27T06:00:06Z, 1 ban decisions\n");
	assert_has(report, "\njail                   lines      hits  events  allowlisted  below "
			   "maxretry    bans  bantime\n");
	assert_has(report, "\ncourier-dnsbl              6         3       0            2       "
			   "        0       1  1h, x2 up to 7d\n");
	assert_has(report, "\ncourier-smtp               6         3       0            0       "
			   "        2       0  1h, x2 up to 7d\n");
	assert_has(report, "\ncourier-perip              6         0       0            0       "
			   "        0       0  10m, x2 up to 1d\n");
	assert_has(report,
		   "\ncourier-dnsbl: 2 hits allowlisted: 127.0.0.0/8 (2) of [daemon] allow (");
	/* A jail that banned someone needs no excuse for the allowlisted rest. */
	ck_assert_ptr_null(strstr(report, "courier-dnsbl: no ban"));
	assert_has(report,
		   "\ncourier-smtp: no ban: no address reached maxretry (5) within findtime "
		   "(10m); the most hits: 198.51.100.1 with 2\n");
	free(out);
	free(report);
}
END_TEST

START_TEST(test_replay_allowlisted)
{
	char *out, *report;
	const char *log = DNSBL("1", "127.0.0.5") DNSBL("2", "127.0.0.6") DNSBL("3", "127.1.2.3");

	run_replay(log, false, &out, &report);
	ck_assert_str_eq(out, "");
	assert_has(report, "\ncourier-dnsbl: 3 hits allowlisted: 127.0.0.0/8 (3) of [daemon] allow "
			   "(");
	assert_has(report, "/waveguard.conf:20)\n");
	assert_has(report,
		   "\ncourier-dnsbl: no ban: all 3 hits were allowlisted; [daemon] allow is "
		   "127.0.0.0/8 ::1 unless waveguard.conf says otherwise: `waveguard replay "
		   "--no-allowlist` shows what the jail would ban without the allowlists\n");
	free(out);
	free(report);

	run_replay(log, true, &out, &report);
	ck_assert_str_eq(out, "2026-11-27T06:00:01Z\tcourier-dnsbl\t127.0.0.5\t3600\n"
			      "2026-11-27T06:00:02Z\tcourier-dnsbl\t127.0.0.6\t3600\n"
			      "2026-11-27T06:00:03Z\tcourier-dnsbl\t127.1.2.3\t3600\n");
	assert_has(report, ", 3 ban decisions (allowlists ignored: --no-allowlist)\n");
	ck_assert_ptr_null(strstr(report, "allowlisted:"));
	free(out);
	free(report);
}
END_TEST

START_TEST(test_replay_why_none)
{
	char *out, *report;

	run_replay(L_COURIERD L_COURIERD, false, &out, &report);
	/* Each program the jails read named once, though four jails read courieresmtpd. */
	assert_has(report,
		   "\nreplay: no jail reads any of these lines: tags seen: courierd (2); the "
		   "jails read courieresmtpd, esmtpd-ssl, esmtpd-msa, imapd, imapd-ssl, "
		   "pop3d, pop3d-ssl, courierpop3login, courierimaplogin\n");
	free(out);
	free(report);
	run_replay(L_BARE, false, &out, &report);
	assert_has(report, "\nreplay: no line has a syslog header");
	free(out);
	free(report);
}
END_TEST

/* courier-dnsbl banning for a day. */
static void dnsbl_day(struct config *c)
{
	((struct config_jail *)config_find_jail(c, "courier-dnsbl"))->bantime_usec =
		86400 * USEC_PER_SEC;
}

/* The decisions the daemon's ban room takes: a network banned already until later keeps its
 * ban. courier-perip's 10m within courier-dnsbl's day, on the same ports, is no decision (but
 * a strike for recidive); courier-auth's hour still closes the IMAP ports that courier-dnsbl's
 * day leaves open; courier-dnsbl's second ban within recidive's week, which closes every port
 * of courier-dnsbl's, adds nothing. */
START_TEST(test_replay_ban_room)
{
	char log[4096], *out, *report;
	size_t len = 0;
	const char *perip = "mail courieresmtpd: Maximum connection limit reached for "
			    "::ffff:192.0.2.7\n";

	for (int k = 0; k < 9; k++)
		text_appendf(log, sizeof(log), &len, "2026-11-27T06:00:0%d+00:00 %s", k, perip);
	text_appendf(log, sizeof(log), &len, "%s", DNSBL_AT("06:00:09", "192.0.2.7"));
	text_appendf(log, sizeof(log), &len, "2026-11-27T06:00:10+00:00 %s", perip);
	for (int k = 0; k < 5; k++)
		text_appendf(log, sizeof(log), &len,
			     "2026-11-27T06:01:0%d+00:00 mail imapd: LOGIN FAILED, user=x, "
			     "ip=[::ffff:192.0.2.7], port=[255]\n",
			     k);
	text_appendf(log, sizeof(log), &len,
		     "2026-11-28T07:00:00+00:00 mail courieresmtpd: error,relay=::ffff:192.0.2.7,"
		     "port=1,from=<a@x.test>,to=<b@y.test>: 511 Listed\n");
	run_replay_with(log, false, dnsbl_day, &out, &report);
	ck_assert_str_eq(out, "2026-11-27T06:00:09Z\tcourier-dnsbl\t192.0.2.7\t86400\n"
			      "2026-11-27T06:01:04Z\tcourier-auth\t192.0.2.7\t3600\n"
			      "2026-11-27T06:01:04Z\trecidive\t192.0.2.7\t604800\n");
	assert_has(report, ", 3 ban decisions\n");
	/* Each jail decided: the ban room took three of the five. */
	assert_has(report, "\ncourier-dnsbl             12         2       0            0       "
			   "        0       2  1d, x2 up to 7d\n");
	free(out);
	free(report);
}
END_TEST

/* courier-dnsbl tracking 10 networks at most, banning for a minute (x2 each time). */
static void small_dnsbl(struct config *c)
{
	struct config_jail *j = (struct config_jail *)config_find_jail(c, "courier-dnsbl");
	j->max_tracked = 10;
	j->bantime_usec = 60 * USEC_PER_SEC;
}

/* A flood of others past max_tracked makes the jail forget the offender: it is still banned
 * (no second decision within its ban), its next ban still escalates, and once recidive bans it
 * on every port for a week, courier-dnsbl has nothing to add. */
START_TEST(test_replay_flood)
{
	char *log = NULL, *out, *report;
	size_t size = 0;
	FILE *f = open_memstream(&log, &size);
	unsigned n = 0;

	for (unsigned s = 0; s < 600; s += 20) {
		fprintf(f,
			"2026-11-27T06:%02u:%02u+00:00 mail courieresmtpd: error,relay=::ffff:%s,"
			"port=1,from=<a@x.test>,to=<b@y.test>: 511 Listed\n",
			s / 60, s % 60, "192.0.2.1");
		for (unsigned k = 0; k < 20; k++, n++)
			fprintf(f,
				"2026-11-27T06:%02u:%02u+00:00 mail courieresmtpd: error,relay="
				"::ffff:198.51.%u.%u,port=1,from=<a@x.test>,to=<b@y.test>: 511 "
				"Listed\n",
				s / 60, s % 60, 100 + n / 250, 1 + n % 250);
	}
	ck_assert_int_eq(fclose(f), 0);
	run_replay_with(log, false, small_dnsbl, &out, &report);
	const char *want[] = { "2026-11-27T06:00:00Z\tcourier-dnsbl\t192.0.2.1\t60\n",
			       "2026-11-27T06:01:00Z\tcourier-dnsbl\t192.0.2.1\t120\n",
			       "2026-11-27T06:03:00Z\tcourier-dnsbl\t192.0.2.1\t240\n",
			       "2026-11-27T06:03:00Z\trecidive\t192.0.2.1\t604800\n" };
	unsigned found = 0;
	for (const char *p = out; (p = strstr(p, "\t192.0.2.1\t")); p++, found++)
		;
	ck_assert_uint_eq(found, ELEMENTSOF(want));
	for (size_t k = 0; k < ELEMENTSOF(want); k++)
		assert_has(out, want[k]);
	assert_has(report, ", 604 ban decisions\n");
	ck_assert_uint_eq(n, 600);
	free(log);
	free(out);
	free(report);
}
END_TEST

static Suite *offline_suite(void)
{
	Suite *s = suite_create("offline");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sniff);
	tcase_add_test(tc, test_filter_arg);
	tcase_add_test(tc, test_journal_files);
	tcase_add_test(tc, test_summary_counts);
	tcase_add_test(tc, test_why_none);
	tcase_add_test(tc, test_verbose_and_missed);
	tcase_add_test(tc, test_messages);
	tcase_add_test(tc, test_inline_regex);
	tcase_add_test(tc, test_replay_table);
	tcase_add_test(tc, test_replay_allowlisted);
	tcase_add_test(tc, test_replay_ban_room);
	tcase_add_test(tc, test_replay_flood);
	tcase_add_test(tc, test_replay_why_none);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return test_run_suite(offline_suite());
}
