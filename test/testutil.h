/* Helpers shared by the check suites: temporary directories and files, the source tree. */
#pragma once

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-event.h>
#include <time.h>

#include "config.h"
#include "macro.h"

/* The repository root (set by the Makefile; "." when run by hand from there). */
static inline const char *test_srcdir(void)
{
	const char *d = getenv("WAVEGUARD_SRCDIR");
	return d ? d : ".";
}

/* Creates a fresh directory under /tmp and returns its path (static storage per call site is
 * the caller's business: the string is malloc'ed). */
static inline char *test_mkdtemp(void)
{
	char *d = strdup("/tmp/waveguard-test.XXXXXX");
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static inline void test_rm_rf(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Writes (mode "w") or appends ("a") text to dir/name, creates parents of nothing. */
static inline void test_write(const char *dir, const char *name, const char *mode, const char *text)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, mode);
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	ck_assert_int_eq(fclose(f), 0);
}

static inline int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Dispatches everything already pending in e (inotify events are queued by the time write()
 * returns), without waiting. */
static inline void test_settle(sd_event *e)
{
	for (int i = 0; i < 100000; i++) {
		int r = sd_event_run(e, 0);

		ck_assert_int_ge(r, 0);
		if (r == 0)
			return;
	}
	ck_abort_msg("event loop never goes idle");
}

/* Seconds since the epoch of a UTC date, computed with timegm() (independently of the
 * project's own date code). */
static inline uint64_t test_utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = mi,
			 .tm_sec = s };
	time_t t = timegm(&tm);
	ck_assert_int_ge(t, 0);
	return (uint64_t)t * USEC_PER_SEC;
}

static inline void test_set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* Writes printf-style text to path (created or truncated), failing the test on error. */
static inline _printf_(2, 3) void test_printf(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	ck_assert_msg(f != NULL, "cannot write %s", path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
}

/* The errors of a configuration load as one text, for a failed assertion's message. */
static inline const char *test_errors_text(const struct config_errors *e)
{
	static char buf[16384];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < e->n && off < sizeof(buf) - 1; i++) {
		int n = snprintf(buf + off, sizeof(buf) - off, "  [%zu] %s\n", i, e->msgs[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (e->n == 0)
		snprintf(buf, sizeof(buf), "  (no errors)\n");
	return buf;
}
