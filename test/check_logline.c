/* Tests for logline: lines with RFC 3339 and RFC 3164 stamps (with an injected reference time for
 * the year, and TZ set by the test), the host/tag/message split, and lines that are not syslog.
 * The stamp parsers on their own are tested in check_timeutil. */
#include <stdint.h>
#include <time.h>

#include "logline.h"
#include "macro.h"
#include "testutil.h"
#include "timeutil.h"

static void parse(struct timeutil_clock *c, const char *line, struct logline *l)
{
	memset(l, 0xa5, sizeof(*l)); /* every field must be written */
	logline_parse(c, line, strlen(line), l);
}

#define assert_tag(l, want)                                                                        \
	do {                                                                                       \
		ck_assert_ptr_nonnull((l)->tag);                                                   \
		ck_assert_uint_eq((l)->tag_len, strlen(want));                                     \
		ck_assert_msg(memcmp((l)->tag, want, strlen(want)) == 0, "tag '%.*s' != '%s'",     \
			      (int)(l)->tag_len, (l)->tag, want);                                  \
	} while (0)

#define assert_msg(l, want)                                                                        \
	do {                                                                                       \
		ck_assert_uint_eq((l)->msg_len, strlen(want));                                     \
		ck_assert_msg(memcmp((l)->msg, want, strlen(want)) == 0, "msg '%.*s' != '%s'",     \
			      (int)(l)->msg_len, (l)->msg, want);                                  \
	} while (0)

/* For a valid line: the stamp's time, the tag, and the message (a pointer into the line). */
static void check_line(struct timeutil_clock *c, const char *line, uint64_t time_usec,
		       const char *tag, const char *msg)
{
	struct logline l;

	parse(c, line, &l);
	ck_assert_msg(l.time_usec == time_usec, "%s: time %llu, expected %llu", line,
		      (unsigned long long)l.time_usec, (unsigned long long)time_usec);
	assert_tag(&l, tag);
	assert_msg(&l, msg);
	ck_assert_ptr_eq(l.msg, line + strlen(line) - strlen(msg));
}

static uint64_t stamp_of(struct timeutil_clock *c, const char *line)
{
	struct logline l;

	parse(c, line, &l);
	ck_assert_msg(l.tag != NULL, "not parsed: %s", line);
	return l.time_usec;
}

/* ---- RFC 3339 ---- */

START_TEST(test_rfc3339_stamps)
{
	struct timeutil_clock c;

	timeutil_clock_init(&c, test_utc(2026, 11, 27, 12, 0, 0));
	check_line(&c,
		   "2026-11-27T06:36:49.573002+00:00 mail courieresmtpd: started,ip=[::ffff:"
		   "192.0.2.10],port=[57813]",
		   test_utc(2026, 11, 27, 6, 36, 49) + 573002, "courieresmtpd",
		   "started,ip=[::ffff:192.0.2.10],port=[57813]");
	check_line(&c, "2026-11-27T06:36:49Z mail courieresmtpd: 300 maximum active connections.",
		   test_utc(2026, 11, 27, 6, 36, 49), "courieresmtpd",
		   "300 maximum active connections.");
	/* Offsets: the time is UTC-correct, also across midnight. */
	check_line(&c, "2026-11-27T06:36:49+01:00 mail imapd: x", test_utc(2026, 11, 27, 5, 36, 49),
		   "imapd", "x");
	check_line(&c, "2026-11-27T06:36:49.25-05:30 mail imapd: x",
		   test_utc(2026, 11, 27, 12, 6, 49) + 250000, "imapd", "x");
	check_line(&c, "2026-11-27T00:30:00+01:00 mail imapd: x", test_utc(2026, 11, 26, 23, 30, 0),
		   "imapd", "x");
	/* Fractions: fewer digits scale up, more than six are cut to microseconds. */
	ck_assert_uint_eq(stamp_of(&c, "2026-11-27T06:36:49.5Z h t: m"),
			  test_utc(2026, 11, 27, 6, 36, 49) + 500000);
	ck_assert_uint_eq(stamp_of(&c, "2026-11-27T06:36:49.1234567Z h t: m"),
			  test_utc(2026, 11, 27, 6, 36, 49) + 123456);
	/* A year far from the reference is taken as written (the stamp says it). */
	ck_assert_uint_eq(stamp_of(&c, "2019-02-28T23:59:59Z h t: m"),
			  test_utc(2019, 2, 28, 23, 59, 59));
	ck_assert_uint_eq(stamp_of(&c, "2028-02-29T12:00:00Z h t: m"),
			  test_utc(2028, 2, 29, 12, 0, 0));
}
END_TEST

START_TEST(test_rfc3339_ignores_tz)
{
	struct timeutil_clock c;

	test_set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	timeutil_clock_init(&c, test_utc(2026, 11, 27, 12, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "2026-07-03T23:07:20+00:00 h t: m"),
			  test_utc(2026, 7, 3, 23, 7, 20));
	ck_assert_uint_eq(stamp_of(&c, "2026-07-03T23:07:20+02:00 h t: m"),
			  test_utc(2026, 7, 3, 21, 7, 20));
	test_set_tz("UTC");
}
END_TEST

/* ---- RFC 3164 ---- */

START_TEST(test_rfc3164_stamps)
{
	struct timeutil_clock c;

	timeutil_clock_init(&c, test_utc(2026, 11, 27, 12, 0, 0));
	ck_assert_int_eq(c.ref_year, 2026);
	check_line(&c, "Nov 27 06:36:49 mail courieresmtpd: error,relay=::ffff:192.0.2.2,port=1",
		   test_utc(2026, 11, 27, 6, 36, 49), "courieresmtpd",
		   "error,relay=::ffff:192.0.2.2,port=1");
	/* A space-padded day. */
	check_line(&c, "Jul  3 23:07:20 szerver courieresmtpd: error,relay=::ffff:1.2.3.4",
		   test_utc(2026, 7, 3, 23, 7, 20), "courieresmtpd", "error,relay=::ffff:1.2.3.4");
	check_line(&c, "Jan  1 00:00:00 h t: m", test_utc(2026, 1, 1, 0, 0, 0), "t", "m");
	/* Consecutive lines of one hour, and the step to the next hour (the cache). */
	ck_assert_uint_eq(stamp_of(&c, "Nov 27 06:59:59 h t: m"),
			  test_utc(2026, 11, 27, 6, 59, 59));
	ck_assert_uint_eq(stamp_of(&c, "Nov 27 07:00:00 h t: m"), test_utc(2026, 11, 27, 7, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Nov 27 06:00:01 h t: m"), test_utc(2026, 11, 27, 6, 0, 1));
	ck_assert_uint_eq(stamp_of(&c, "Mar 15 06:00:01 h t: m"), test_utc(2026, 3, 15, 6, 0, 1));

	/* Another reference year, another year for the same text. */
	timeutil_clock_init(&c, test_utc(2019, 8, 14, 13, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Aug 14 12:51:04 h t: m"), test_utc(2019, 8, 14, 12, 51, 4));
}
END_TEST

START_TEST(test_rfc3164_year_rollover)
{
	struct timeutil_clock c;

	/* A December log read on January 2: last year... */
	timeutil_clock_init(&c, test_utc(2027, 1, 2, 0, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Dec 31 23:59:59 h t: m"),
			  test_utc(2026, 12, 31, 23, 59, 59));
	ck_assert_uint_eq(stamp_of(&c, "Dec  1 08:00:00 h t: m"), test_utc(2026, 12, 1, 8, 0, 0));
	/* ...while January lines are this year's, also right after a December one (cache). */
	ck_assert_uint_eq(stamp_of(&c, "Jan  1 10:00:00 h t: m"), test_utc(2027, 1, 1, 10, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Dec 31 23:59:59 h t: m"),
			  test_utc(2026, 12, 31, 23, 59, 59));
	/* Up to one day after the reference stays this year (clocks and time zones differ)... */
	ck_assert_uint_eq(stamp_of(&c, "Jan  2 23:00:00 h t: m"), test_utc(2027, 1, 2, 23, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Jan  3 00:00:00 h t: m"), test_utc(2027, 1, 3, 0, 0, 0));
	/* ...one second more and it is last year's. */
	ck_assert_uint_eq(stamp_of(&c, "Jan  3 00:00:01 h t: m"), test_utc(2026, 1, 3, 0, 0, 1));

	timeutil_clock_init(&c, test_utc(2026, 11, 27, 6, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Nov 27 20:00:00 h t: m"), test_utc(2026, 11, 27, 20, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Nov 28 05:59:59 h t: m"),
			  test_utc(2026, 11, 28, 5, 59, 59));
	ck_assert_uint_eq(stamp_of(&c, "Nov 28 06:00:01 h t: m"), test_utc(2025, 11, 28, 6, 0, 1));
	ck_assert_uint_eq(stamp_of(&c, "Nov 26 06:00:00 h t: m"), test_utc(2026, 11, 26, 6, 0, 0));
}
END_TEST

START_TEST(test_rfc3164_local_time)
{
	struct timeutil_clock c;

	/* RFC 3164 stamps are local time: a POSIX TZ (no tz database needed) with DST rules. */
	test_set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	timeutil_clock_init(&c, test_utc(2026, 11, 27, 12, 0, 0));
	ck_assert_uint_eq(stamp_of(&c, "Nov 27 06:36:49 h t: m"),
			  test_utc(2026, 11, 27, 5, 36, 49));
	ck_assert_uint_eq(stamp_of(&c, "Jul  3 23:07:20 h t: m"), test_utc(2026, 7, 3, 21, 7, 20));
	test_set_tz("UTC");
}
END_TEST

/* ---- host and tag ---- */

START_TEST(test_host_tag_split)
{
	struct timeutil_clock c;
	uint64_t t = test_utc(2026, 8, 14, 12, 51, 4);
	struct logline l;

	timeutil_clock_init(&c, test_utc(2026, 11, 27, 12, 0, 0));
	check_line(&c,
		   "Aug 14 12:51:04 mail.server courieresmtpd[26762]: error,relay=::ffff:1.2.3.4",
		   t, "courieresmtpd", "error,relay=::ffff:1.2.3.4");
	check_line(&c, "Aug 14 12:51:04 mail postfix/smtpd[123]: NOQUEUE: reject", t,
		   "postfix/smtpd", "NOQUEUE: reject");
	check_line(&c, "Aug 14 12:51:04 mail imapd-ssl: LOGIN FAILED, user=a: b, ip=[::1]", t,
		   "imapd-ssl", "LOGIN FAILED, user=a: b, ip=[::1]");
	/* The message is what follows "tag: " (one space); no space is fine too. */
	check_line(&c, "Aug 14 12:51:04 mail courieresmtpd:  two spaces", t, "courieresmtpd",
		   " two spaces");
	check_line(&c, "Aug 14 12:51:04 mail courieresmtpd:msg", t, "courieresmtpd", "msg");
	check_line(&c, "Aug 14 12:51:04 mail courieresmtpd:", t, "courieresmtpd", "");
	check_line(&c,
		   "Aug 14 12:51:04 mail courieresmtpd[1]: [::ffff:192.0.2.16]: Connection "
		   "timed out",
		   t, "courieresmtpd", "[::ffff:192.0.2.16]: Connection timed out");

	/* Only len bytes count: the same buffer, cut short. */
	const char buf[] =
		"Aug 14 12:51:04 mail courieresmtpd: error,relay=::ffff:1.2.3.4 and more";
	logline_parse(&c, buf, strlen(buf) - 9, &l);
	assert_tag(&l, "courieresmtpd");
	assert_msg(&l, "error,relay=::ffff:1.2.3.4");
}
END_TEST

/* ---- not syslog ---- */

START_TEST(test_not_syslog)
{
	static const char *const lines[] = {
		"",
		"garbage",
		"error,relay=::ffff:192.0.2.2,port=1: 511 listed",
		"Nov 27 06:36:49",
		"Nov 27 06:36:49 ",
		"Nov 27 06:36:49 mail",
		"Nov 27 06:36:49 mail ",
		"Nov 27 06:36:49 mail message without a colon",
		"Nov 27 06:36:49 mail two words: colon after a space",
		"Nov 27 06:36:49 mail : empty tag",
		"Nov 27 06:36:49 mail [1]: no name before the pid",
		"Nov 27 06:36:49  mail tag: two spaces before the host",
		"2026-11-27T06:36:49Z",
		"2026-11-27T06:36:49.573002+00:00",
		"2026-11-27T06:36:49 mail tag: no zone",
		"2026-11-27T06:36:49+0000 mail tag: zone without colon",
		"Foo 27 06:36:49 mail tag: m",
		"nov 27 06:36:49 mail tag: m",
		"Nov 32 06:36:49 mail tag: m",
		"Nov 00 06:36:49 mail tag: m",
		"Nov 27 24:36:49 mail tag: m",
		"Nov 27 06:60:49 mail tag: m",
		"Nov 27 06:36:61 mail tag: m",
		"Nov 27 6:36:49 mail tag: m",
		"Nov 2x 06:36:49 mail tag: m",
		" Nov 27 06:36:49 mail tag: m",
		"12345 mail tag: m",
		"N",
	};
	struct timeutil_clock c;
	struct logline l;

	timeutil_clock_init(&c, test_utc(2026, 11, 27, 12, 0, 0));
	for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
		parse(&c, lines[i], &l);
		ck_assert_msg(l.tag == NULL, "'%s': tag '%.*s'", lines[i], (int)l.tag_len, l.tag);
		ck_assert_msg(l.time_usec == 0, "'%s': time %llu", lines[i],
			      (unsigned long long)l.time_usec);
		ck_assert_ptr_eq(l.msg, lines[i]);
		ck_assert_uint_eq(l.msg_len, strlen(lines[i]));
	}

	/* Binary bytes with NULs, and a stamp followed by NULs. */
	char bin[256];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 37 + 11);
	bin[3] = bin[100] = '\0';
	logline_parse(&c, bin, sizeof(bin), &l);
	ck_assert_ptr_null(l.tag);
	ck_assert_ptr_eq(l.msg, bin);
	ck_assert_uint_eq(l.msg_len, sizeof(bin));
	const char nul[] = "Nov 27 06:36:49 mail\0tag: m";
	logline_parse(&c, nul, sizeof(nul) - 1, &l);
	ck_assert_ptr_null(l.tag);
	ck_assert_uint_eq(l.msg_len, sizeof(nul) - 1);
}
END_TEST

/* ---- the RFC 3339 parser and formatter on their own ---- */

static Suite *logline_suite(void)
{
	Suite *s = suite_create("logline");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rfc3339_stamps);
	tcase_add_test(tc, test_rfc3339_ignores_tz);
	tcase_add_test(tc, test_rfc3164_stamps);
	tcase_add_test(tc, test_rfc3164_year_rollover);
	tcase_add_test(tc, test_rfc3164_local_time);
	tcase_add_test(tc, test_host_tag_split);
	tcase_add_test(tc, test_not_syslog);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* RFC 3164 stamps are local time; every test starts from UTC. */
	test_set_tz("UTC");
	return test_run_suite(logline_suite());
}
