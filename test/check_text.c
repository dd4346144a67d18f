/* Tests for text: bounded appends (cut, NUL-terminated, the wanted length kept) and JSON quoting
 * of hostile strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "text.h"

START_TEST(test_appendf)
{
	char buf[8];
	size_t len = 0;

	text_appendf(buf, sizeof(buf), &len, "%s", "abc");
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(len, 3);
	text_appendf(buf, sizeof(buf), &len, "%d-%d", 12, 34);
	ck_assert_str_eq(buf, "abc12-3");
	ck_assert_uint_eq(len, 8);
	/* Past the end: nothing written, the buffer stays terminated. */
	text_appendf(buf, sizeof(buf), &len, "more");
	ck_assert_str_eq(buf, "abc12-3");
	ck_assert_uint_ge(len, sizeof(buf));
	len = 0;
	text_appendf(NULL, 0, &len, "x");
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_json_string)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	ck_assert_ptr_nonnull(f);
	text_json_string(f, "a\"b\\c\n\x01z");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(out, "\"a\\\"b\\\\c\\u000a\\u0001z\"");
	free(out);
}
END_TEST

static Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_appendf);
	tcase_add_test(tc, test_json_string);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(text_suite());
}
