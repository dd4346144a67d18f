/* evidence: the ring of hit lines a ban takes its evidence from: tags, overwriting, cutting and
 * cleaning of hostile text. */
#include "evidence.h"
#include "testutil.h"

START_TEST(test_put_get)
{
	_cleanup_(evidence_freep) struct evidence *e = NULL;
	const char msg[] = "error,relay=::ffff:192.0.2.1,port=1: 550 User unknown";

	ck_assert_int_eq(evidence_new(4, &e), 0);
	uint32_t t1 = evidence_put(e, 111, "courieresmtpd", 13, msg, strlen(msg));
	ck_assert_uint_ne(t1, 0);
	const struct evidence_line *l = evidence_get(e, t1);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(l->time_usec, 111);
	ck_assert_str_eq(l->text,
			 "courieresmtpd: error,relay=::ffff:192.0.2.1,port=1: 550 User unknown");
	ck_assert_uint_eq(l->len, strlen(l->text));
	ck_assert_ptr_null(evidence_get(e, 0));
	/* four more lines overwrite the first: its tag finds nothing, not another line */
	uint32_t last = 0;
	for (int i = 0; i < 4; i++)
		last = evidence_put(e, 200 + (uint64_t)i, NULL, 0, "x", 1);
	ck_assert_ptr_null(evidence_get(e, t1));
	ck_assert_ptr_nonnull(evidence_get(e, last));
	ck_assert_str_eq(evidence_get(e, last)->text, "x");
	ck_assert_int_eq(evidence_new(0, &e), -EINVAL);
}
END_TEST

START_TEST(test_clip_hostile)
{
	char out[EVIDENCE_TEXT_MAX + 1], big[4000];

	/* control characters (a newline would forge a second evidence line) become '?' */
	ck_assert_uint_eq(evidence_clip(out, "tag", 3, "a\nb\rc\x1b[31m\x7f", 11), 16);
	ck_assert_str_eq(out, "tag: a?b?c?[31m?");
	/* a long line keeps its start and its end: where Courier writes the address */
	memset(big, 'u', sizeof(big));
	memcpy(big, "error,relay=::ffff:192.0.2.1,", 29);
	memcpy(big + sizeof(big) - 27, ", ip=[::ffff:198.51.100.7]", 26);
	big[sizeof(big) - 1] = ']';
	size_t n = evidence_clip(out, NULL, 0, big, sizeof(big));
	ck_assert_uint_eq(n, EVIDENCE_TEXT_MAX);
	ck_assert_uint_eq(strlen(out), EVIDENCE_TEXT_MAX);
	ck_assert(strncmp(out, "error,relay=::ffff:192.0.2.1,", 29) == 0);
	ck_assert_ptr_nonnull(strstr(out, "..."));
	ck_assert_ptr_nonnull(strstr(out, "ip=[::ffff:198.51.100.7]"));
	/* a huge tag cannot push the message out */
	n = evidence_clip(out, big, sizeof(big), "msg", 3);
	ck_assert_uint_le(n, EVIDENCE_TEXT_MAX);
	ck_assert_str_eq(out + n - 5, ": msg");
}
END_TEST

START_TEST(test_tags_wrap)
{
	_cleanup_(evidence_freep) struct evidence *e = NULL;
	uint32_t t = 0;

	ck_assert_int_eq(evidence_new(3, &e), 0);
	/* a tag is never 0, also past 2^32 lines */
	for (uint64_t i = 0; i < 10; i++)
		ck_assert_uint_ne(evidence_put(e, i, NULL, 0, "y", 1), 0);
	t = evidence_put(e, 1, NULL, 0, "z", 1);
	ck_assert_ptr_nonnull(evidence_get(e, t));
	ck_assert_ptr_null(evidence_get(e, t + 1));
	ck_assert_ptr_null(evidence_get(e, t - 3));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("evidence");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_clip_hostile);
	tcase_add_test(tc, test_tags_wrap);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
