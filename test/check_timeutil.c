/* Tests for timeutil: durations (units, glued terms, bounds), the RFC 3339 parser and formatter on
 * their own, and RFC 3164 stamps with an injected reference time for the year. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "testutil.h"
#include "timeutil.h"

START_TEST(test_parse_duration)
{
	static const struct {
		const char *s;
		uint64_t sec;
	} good[] = {
		{ "90", 90 },
		{ "90s", 90 },
		{ "10m", 600 },
		{ "1h", 3600 },
		{ "7d", 7 * 86400 },
		{ "2w", 14 * 86400 },
		{ "1h 30m", 5400 },
		{ "1h30m", 5400 },
		{ "2d12h", 2 * 86400 + 12 * 3600 },
		{ "1h\t30m 15s", 5415 },
		{ " 5m ", 300 },
		{ "0", 0 },
		{ "3660d", 3660ULL * 86400 }, /* the ten-year ceiling itself */
	};
	static const char *const bad[] = {
		"",
		" ",
		"x",
		"10x",
		"-1",
		"1.5h",
		"h",
		"1hh",
		"10 x",
		"1h30",
		"1h30x",
		"+5m",
		"3661d",		/* beyond ten years */
		"3000d 700d",		/* so is the sum */
		"600000000w",		/* the multiplication would overflow 32 bits */
		"18446744073709551615", /* UINT64_MAX seconds: the usec would overflow */
		"99999999999999999999", /* beyond strtoull */
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		uint64_t v = 12345;
		ck_assert_msg(timeutil_parse_duration(good[i].s, &v) == 0, "'%s' refused",
			      good[i].s);
		ck_assert_msg(v == good[i].sec * USEC_PER_SEC, "'%s' = %llu usec", good[i].s,
			      (unsigned long long)v);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		uint64_t v = 12345;
		int r = timeutil_parse_duration(bad[i], &v);
		/* config.h promises -EINVAL; the code says -ERANGE for the too-long ones. */
		ck_assert_msg(r == -EINVAL || r == -ERANGE, "'%s' gave %d", bad[i], r);
		ck_assert_msg(v == 12345, "'%s' changed the output on failure", bad[i]);
	}
}
END_TEST

/* "forever" only where asked for; everything else as timeutil_parse_duration() says. */
START_TEST(test_parse_forever)
{
	static const char *const bad[] = { "Forever", "forever ", " forever", "forever1",
					   "never",   "inf",	  "",	      "1h forever" };
	uint64_t v = 12345;

	ck_assert_int_eq(timeutil_parse_duration("forever", &v), -EINVAL);
	ck_assert_uint_eq(v, 12345);
	ck_assert_int_eq(timeutil_parse_duration_or_forever("forever", &v), 0);
	ck_assert(v == TIMEUTIL_FOREVER);
	ck_assert_int_eq(timeutil_parse_duration_or_forever("1h30m", &v), 0);
	ck_assert_uint_eq(v, 5400 * USEC_PER_SEC);
	ck_assert_int_eq(timeutil_parse_duration_or_forever("3661d", &v), -ERANGE);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		v = 12345;
		ck_assert_msg(timeutil_parse_duration_or_forever(bad[i], &v) == -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 12345);
	}
}
END_TEST

START_TEST(test_format_duration)
{
	static const struct {
		uint64_t usec;
		const char *text;
	} cases[] = {
		{ 0, "0s" },
		{ 999999, "0s" }, /* a fraction of a second is dropped */
		{ 1 * USEC_PER_SEC, "1s" },
		{ 45 * USEC_PER_SEC + 500000, "45s" },
		{ 59 * USEC_PER_SEC, "59s" },
		{ 60 * USEC_PER_SEC, "1m" },
		{ 90 * USEC_PER_SEC, "1m30s" },
		{ 600 * USEC_PER_SEC, "10m" },
		{ 3600 * USEC_PER_SEC, "1h" },
		{ 5400 * USEC_PER_SEC, "1h30m" },
		{ 3601 * USEC_PER_SEC, "1h1s" },
		{ 86400 * USEC_PER_SEC, "1d" },
		{ 86405 * USEC_PER_SEC, "1d5s" },
		{ (86400 + 2 * 3600) * USEC_PER_SEC, "1d2h" },
		{ (86400 + 3600 + 60 + 1) * USEC_PER_SEC, "1d1h1m1s" },
		{ 7 * 86400 * USEC_PER_SEC, "7d" },
		{ 14 * 86400 * USEC_PER_SEC, "14d" },
		{ 3660ULL * 86400 * USEC_PER_SEC, "3660d" },
		{ TIMEUTIL_FOREVER - 1, "213503982d8h1m49s" },
		{ TIMEUTIL_FOREVER, "forever" },
	};
	char buf[TIMEUTIL_DURATION_MAX];

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		memset(buf, 'x', sizeof(buf));
		ck_assert_ptr_eq(timeutil_format_duration(cases[i].usec, buf, sizeof(buf)), buf);
		ck_assert_msg(strcmp(buf, cases[i].text) == 0, "%llu usec: '%s', expected '%s'",
			      (unsigned long long)cases[i].usec, buf, cases[i].text);
	}

	/* Short buffers are cut, NUL-terminated; size 0 writes nothing. */
	char small[5] = "zzzz";
	timeutil_format_duration(86400 * USEC_PER_SEC + 3599 * USEC_PER_SEC, small, sizeof(small));
	ck_assert_str_eq(small, "1d59");
	timeutil_format_duration(TIMEUTIL_FOREVER, small, sizeof(small));
	ck_assert_str_eq(small, "fore");
	small[0] = 'q';
	timeutil_format_duration(60 * USEC_PER_SEC, small, 0);
	ck_assert_int_eq(small[0], 'q');
}
END_TEST

/* Whatever it prints parses back to the same whole seconds: every second of the first two
 * days, then a spread of values up to the ten-year ceiling, and forever. */
START_TEST(test_format_duration_round_trip)
{
	char buf[TIMEUTIL_DURATION_MAX];
	uint64_t v, sec = 0, n = 0;

	for (; sec <= 3660ULL * 86400; n++) {
		const char *text = timeutil_format_duration(sec * USEC_PER_SEC, buf, sizeof(buf));

		ck_assert_msg(timeutil_parse_duration(text, &v) == 0, "'%s' refused", text);
		ck_assert_msg(v == sec * USEC_PER_SEC, "%llu s printed as '%s', read as %llu usec",
			      (unsigned long long)sec, text, (unsigned long long)v);
		/* At most the four units, never a space. */
		ck_assert_uint_le(strlen(text), strlen("3660d23h59m59s"));
		ck_assert_ptr_null(strchr(text, ' '));
		sec += sec < 2 * 86400 ? 1 : 1 + sec / 1000 + (sec * 7919) % 997;
	}
	ck_assert_uint_gt(n, 2 * 86400);
	ck_assert_int_eq(timeutil_parse_duration_or_forever(
				 timeutil_format_duration(TIMEUTIL_FOREVER, buf, sizeof(buf)), &v),
			 0);
	ck_assert(v == TIMEUTIL_FOREVER);
}
END_TEST

START_TEST(test_add)
{
	ck_assert_uint_eq(timeutil_add(5, 7), 12);
	ck_assert(timeutil_add(1700000000 * USEC_PER_SEC, TIMEUTIL_FOREVER) == TIMEUTIL_FOREVER);
	ck_assert(timeutil_add(TIMEUTIL_FOREVER, 1) == TIMEUTIL_FOREVER);
	ck_assert(timeutil_add(TIMEUTIL_FOREVER - 10, 10) == TIMEUTIL_FOREVER);
	ck_assert(timeutil_add(TIMEUTIL_FOREVER - 10, 9) == TIMEUTIL_FOREVER - 1);
	ck_assert_uint_eq(timeutil_add(0, 0), 0);
}
END_TEST

START_TEST(test_parse_rfc3339)
{
	static const struct {
		const char *s;
		size_t consumed;
	} good[] = {
		{ "2026-11-27T06:36:49Z", 20 },
		{ "2026-11-27T06:36:49z", 20 },
		{ "2026-11-27 06:36:49Z", 20 },
		{ "2026-11-27T06:36:49Z mail tag: m", 20 },
		{ "2026-11-27T06:36:49+00:00", 25 },
		{ "2026-11-27T06:36:49.573002+00:00 mail", 32 },
		{ "2026-11-27T06:36:49.5-01:00", 27 },
		{ "2024-02-29T00:00:00Z", 20 }, /* leap day */
	};
	static const char *const bad[] = {
		"",
		"2026-11-27T06:36:49",	     /* no zone */
		"2026-11-27T06:36:49.Z",     /* empty fraction */
		"2026-11-27T06:36:49+0100",  /* offset without colon */
		"2026-11-27T06:36:49+01:0",  /* cut offset */
		"2026-11-27T06:36:49+24:00", /* offset hour */
		"2026-11-27T06:36:49+01:60", /* offset minute */
		"2026-11-27T06:36:49 +01:00",
		"2026-11-27X06:36:49Z",
		"2026/11/27T06:36:49Z",
		"2026-11-27T06-36-49Z",
		"2026-02-31T00:00:00Z", /* no such day */
		"2026-02-29T00:00:00Z", /* not a leap year */
		"2026-04-31T00:00:00Z",
		"2026-13-27T06:36:49Z",
		"2026-00-27T06:36:49Z",
		"2026-11-32T06:36:49Z",
		"2026-11-00T06:36:49Z",
		"2026-11-27T24:36:49Z",
		"2026-11-27T06:60:49Z",
		"2026-11-27T06:36:61Z",
		"2026-11-27T06:36:4Z",
		"2O26-11-27T06:36:49Z",
		"1969-12-31T23:59:59Z",	     /* before the epoch */
		"1970-01-01T00:30:00+01:00", /* so is this one, by its offset */
		"Nov 27 06:36:49",
	};
	uint64_t t;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		t = 0;
		ck_assert_msg(timeutil_parse_rfc3339(good[i].s, strlen(good[i].s), &t) ==
				      good[i].consumed,
			      "'%s'", good[i].s);
		ck_assert_uint_ne(t, 0);
	}
	ck_assert_uint_eq(timeutil_parse_rfc3339("1970-01-01T00:00:01Z", 20, &t), 20);
	ck_assert_uint_eq(t, USEC_PER_SEC);
	ck_assert_uint_eq(timeutil_parse_rfc3339("2026-11-27T06:36:49.573002+00:00", 32, &t), 32);
	ck_assert_uint_eq(t, 1795761409ULL * USEC_PER_SEC + 573002);

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		t = 42;
		ck_assert_msg(timeutil_parse_rfc3339(bad[i], strlen(bad[i]), &t) == 0,
			      "'%s' accepted", bad[i]);
		ck_assert_msg(t == 42, "'%s' changed the output", bad[i]);
	}
	/* len is the limit, not the NUL: a valid stamp cut short is not one. */
	const char s[] = "2026-11-27T06:36:49+01:00";
	for (size_t len = 0; len < 20; len++)
		ck_assert_uint_eq(timeutil_parse_rfc3339(s, len, &t), 0);
	ck_assert_uint_eq(timeutil_parse_rfc3339(s, 22, &t), 0);
}
END_TEST

START_TEST(test_format_rfc3339)
{
	char buf[32];
	uint64_t t;

	ck_assert_str_eq(timeutil_format_rfc3339(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
	ck_assert_ptr_eq(timeutil_format_rfc3339(0, buf, sizeof(buf)), buf);
	ck_assert_str_eq(
		timeutil_format_rfc3339(1795761409ULL * USEC_PER_SEC + 999999, buf, sizeof(buf)),
		"2026-11-27T06:36:49Z");
	ck_assert_str_eq(
		timeutil_format_rfc3339(test_utc(2028, 2, 29, 23, 59, 59), buf, sizeof(buf)),
		"2028-02-29T23:59:59Z");
	/* The formatter's output parses back to the same second, whatever TZ says. */
	test_set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	ck_assert_str_eq(timeutil_format_rfc3339(test_utc(2026, 7, 3, 23, 7, 20), buf, sizeof(buf)),
			 "2026-07-03T23:07:20Z");
	test_set_tz("UTC");
	ck_assert_uint_eq(timeutil_parse_rfc3339(buf, strlen(buf), &t), 20);
	ck_assert_uint_eq(t, test_utc(2026, 7, 3, 23, 7, 20));
}
END_TEST

/* The stamp alone: 15 bytes consumed, the year inferred, garbage refused and *ret untouched. */
START_TEST(test_parse_rfc3164)
{
	struct timeutil_clock c;
	uint64_t t = 7;

	timeutil_clock_init(&c, test_utc(2026, 11, 27, 12, 0, 0));
	ck_assert_uint_eq(timeutil_parse_rfc3164(&c, "Nov 27 06:36:49 host", 20, &t), 15);
	ck_assert_uint_eq(t, test_utc(2026, 11, 27, 6, 36, 49));
	ck_assert_uint_eq(timeutil_parse_rfc3164(&c, "Nov  3 06:36:49", 15, &t), 15);
	ck_assert_uint_eq(t, test_utc(2026, 11, 3, 6, 36, 49));
	/* More than a day after the reference: last year's December. */
	ck_assert_uint_eq(timeutil_parse_rfc3164(&c, "Dec 30 23:59:59", 15, &t), 15);
	ck_assert_uint_eq(t, test_utc(2025, 12, 30, 23, 59, 59));
	t = 7;
	ck_assert_uint_eq(timeutil_parse_rfc3164(&c, "Foo 27 06:36:49", 15, &t), 0);
	ck_assert_uint_eq(timeutil_parse_rfc3164(&c, "Nov 27 24:00:00", 15, &t), 0);
	ck_assert_uint_eq(timeutil_parse_rfc3164(&c, "Nov 27 06:36", 12, &t), 0);
	ck_assert_uint_eq(t, 7);
}
END_TEST

START_TEST(test_now)
{
	uint64_t a = timeutil_now(CLOCK_REALTIME), b = timeutil_now(CLOCK_MONOTONIC);
	ck_assert_uint_gt(a, test_utc(2020, 1, 1, 0, 0, 0));
	ck_assert_uint_le(b, timeutil_now(CLOCK_MONOTONIC));
}
END_TEST

static Suite *timeutil_suite(void)
{
	Suite *s = suite_create("timeutil");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_parse_forever);
	tcase_add_test(tc, test_format_duration);
	tcase_add_test(tc, test_format_duration_round_trip);
	tcase_add_test(tc, test_add);
	tcase_add_test(tc, test_parse_rfc3339);
	tcase_add_test(tc, test_format_rfc3339);
	tcase_add_test(tc, test_parse_rfc3164);
	tcase_add_test(tc, test_now);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* RFC 3164 stamps are local time; every test starts from UTC. */
	test_set_tz("UTC");
	return test_run_suite(timeutil_suite());
}
