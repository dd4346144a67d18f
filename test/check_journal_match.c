/* Tests for journal_match: a group split into its terms at the '+' that starts a field (never at
 * a '+' inside a value), and the terms sd_journal_add_match() would refuse. */
#include <stdio.h>
#include <string.h>

#include "journal_match.h"
#include "testutil.h"

/* The terms of group, each followed by '|'. */
static const char *terms(const char *group)
{
	static char buf[512];
	const char *cur = group, *t;
	size_t len, off = 0;

	buf[0] = '\0';
	while (journal_match_next(&cur, &t, &len))
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%.*s|", (int)len, t);
	return buf;
}

START_TEST(test_split)
{
	ck_assert_str_eq(terms("SYSLOG_IDENTIFIER=courieresmtpd"),
			 "SYSLOG_IDENTIFIER=courieresmtpd|");
	ck_assert_str_eq(terms("SYSLOG_IDENTIFIER=courieresmtpd+_UID=102"),
			 "SYSLOG_IDENTIFIER=courieresmtpd|_UID=102|");
	ck_assert_str_eq(terms("A=1+A=2+B=3"), "A=1|A=2|B=3|");
	/* A '+' that no field name and '=' follow belongs to the value. */
	ck_assert_str_eq(terms("_EXE=/opt/c++/bin/x+_UID=0"), "_EXE=/opt/c++/bin/x|_UID=0|");
	ck_assert_str_eq(terms("MESSAGE=a+b+"), "MESSAGE=a+b+|");
	ck_assert_str_eq(terms("MESSAGE=1+1=2"), "MESSAGE=1+1=2|");
	/* A lower-case field after '+' still starts a term: journal_match_valid() refuses it. */
	ck_assert_str_eq(terms("A=1+_comm=x"), "A=1|_comm=x|");
	ck_assert_str_eq(terms("A=+B="), "A=|B=|");
	ck_assert_str_eq(terms(""), "");
}
END_TEST

START_TEST(test_valid)
{
	ck_assert(journal_match_valid("SYSLOG_IDENTIFIER=courieresmtpd"));
	ck_assert(journal_match_valid("SYSLOG_IDENTIFIER=courieresmtpd+_UID=102+_COMM=x"));
	ck_assert(journal_match_valid("A="));
	ck_assert(journal_match_valid("_EXE=/opt/c++/bin/x"));
	ck_assert(!journal_match_valid(""));
	ck_assert(!journal_match_valid("=x"));
	ck_assert(!journal_match_valid("noequals"));
	ck_assert(!journal_match_valid("lower=x"));
	ck_assert(!journal_match_valid("1ABC=x"));
	ck_assert(!journal_match_valid("A=1+_comm=x"));
	ck_assert(!journal_match_valid("+A=1"));
	/* No field starts with a digit: "+2B=x" is the value's. */
	ck_assert(journal_match_valid("A=1+2B=x"));
	ck_assert_str_eq(terms("A=1+2B=x"), "A=1+2B=x|");
	char longf[80];
	memset(longf, 'F', 65);
	strcpy(longf + 65, "=x");
	ck_assert(!journal_match_valid(longf));
	longf[64] = '=';
	longf[65] = '\0';
	ck_assert(journal_match_valid(longf));
}
END_TEST

static Suite *journal_match_suite(void)
{
	Suite *s = suite_create("journal_match");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_valid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(journal_match_suite());
}
