/* Helpers shared by the check suites: temporary directories and files, the source tree. */
#pragma once

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
