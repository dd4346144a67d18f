/* addr: parsing, canonical formatting, prefixes, the allowlist overlap rule and the keyed hash. */
#include "addr.h"
#include "testutil.h"

static const char *fmt(const struct addr *a)
{
	static char buf[ADDR_STRLEN];
	return addr_format(a, buf, sizeof(buf));
}

static struct addr parse(const char *s)
{
	struct addr a;
	ck_assert_msg(addr_parse(s, strlen(s), &a) == 0, "cannot parse %s", s);
	return a;
}

START_TEST(test_canonical)
{
	static const char *const cases[][2] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ "::ffff:192.0.2.1", "192.0.2.1" },
		{ "::FFFF:192.0.2.1", "192.0.2.1" },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
		{ "::1", "::1" },
		{ "fe80::0001", "fe80::1" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct addr a = parse(cases[i][0]);
		ck_assert_str_eq(fmt(&a), cases[i][1]);
	}
	struct addr m = parse("::ffff:192.0.2.1");
	ck_assert_int_eq(m.family, AF_INET);
	ck_assert_int_eq(m.prefix, 32);
}
END_TEST

START_TEST(test_reject)
{
	static const char *const bad[] = { "",		"999.1.1.1",	  "1.2.3",
					   "1.2.3.4.5", "2001:db8::1::1", "x",
					   "1.2.3.4 ",	" 1.2.3.4",	  "::ffff:1.2.3.999" };
	struct addr a = { .family = 99 };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ck_assert_int_eq(addr_parse(bad[i], strlen(bad[i]), &a), -EINVAL);
		ck_assert_int_eq(a.family, 99); /* untouched on failure */
	}
	/* length-delimited: the text after len is not looked at */
	ck_assert_int_eq(addr_parse("192.0.2.1,port=1", 9, &a), 0);
	ck_assert_str_eq(fmt(&a), "192.0.2.1");
	/* too long for any address */
	char longs[200];
	memset(longs, '1', sizeof(longs));
	ck_assert_int_eq(addr_parse(longs, sizeof(longs), &a), -EINVAL);
}
END_TEST

START_TEST(test_cidr)
{
	struct addr n, a;
	ck_assert_int_eq(addr_parse_cidr("192.0.2.77/24", &n), 0);
	ck_assert_str_eq(fmt(&n), "192.0.2.0/24");
	a = parse("192.0.2.200");
	ck_assert(addr_in_net(&a, &n));
	a = parse("192.0.3.1");
	ck_assert(!addr_in_net(&a, &n));
	a = parse("::ffff:192.0.2.9");
	ck_assert(addr_in_net(&a, &n));

	ck_assert_int_eq(addr_parse_cidr("2001:db8::/32", &n), 0);
	a = parse("2001:db8:ffff::1");
	ck_assert(addr_in_net(&a, &n));
	a = parse("2001:db9::1");
	ck_assert(!addr_in_net(&a, &n));
	a = parse("192.0.2.1");
	ck_assert(!addr_in_net(&a, &n)); /* other family */

	ck_assert_int_eq(addr_parse_cidr("::ffff:10.0.0.0/104", &n), 0);
	ck_assert_str_eq(fmt(&n), "10.0.0.0/8");
	ck_assert_int_eq(addr_parse_cidr("0.0.0.0/0", &n), 0);
	a = parse("203.0.113.5");
	ck_assert(addr_in_net(&a, &n));

	static const char *const bad[] = { "192.0.2.0/33",     "2001:db8::/129", "192.0.2.0/",
					   "192.0.2.0/x",      "192.0.2.0/24x",	 "/24",
					   "::ffff:1.2.3.4/95" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_msg(addr_parse_cidr(bad[i], &n) == -EINVAL, "%s accepted", bad[i]);
}
END_TEST

START_TEST(test_overlap_and_mask)
{
	struct addr net64 = parse("2001:db8:1:2:3:4:5:6"), allowed;
	addr_mask(&net64, 64);
	ck_assert_str_eq(fmt(&net64), "2001:db8:1:2::/64");
	ck_assert_int_eq(addr_parse_cidr("2001:db8:1:2::25/128", &allowed), 0);
	/* A /64 that contains an allowlisted host overlaps it; one beside it does not. */
	ck_assert(addr_overlaps(&net64, &allowed));
	ck_assert_int_eq(addr_parse_cidr("2001:db8:1:3::25", &allowed), 0);
	ck_assert(!addr_overlaps(&net64, &allowed));

	struct addr v4 = parse("192.0.2.255");
	addr_mask(&v4, 25);
	ck_assert_str_eq(fmt(&v4), "192.0.2.128/25");
	addr_mask(&v4, 99);
	ck_assert_int_eq(v4.prefix, 25); /* never widened back */
}
END_TEST

START_TEST(test_overlaps_any)
{
	struct addr nets[3], a;

	ck_assert_int_eq(addr_parse_cidr("192.0.2.0/24", &nets[0]), 0);
	ck_assert_int_eq(addr_parse_cidr("198.51.100.7", &nets[1]), 0);
	ck_assert_int_eq(addr_parse_cidr("2001:db8::/32", &nets[2]), 0);

	/* An empty allowlist holds nothing, not even with a list pointer behind it. */
	a = parse("192.0.2.1");
	ck_assert(!addr_overlaps_any(&a, NULL, 0));
	ck_assert(!addr_overlaps_any(&a, nets, 0));

	/* A host inside a listed /24, also written IPv4-mapped. */
	ck_assert(addr_overlaps_any(&a, nets, ELEMENTSOF(nets)));
	a = parse("::ffff:192.0.2.200");
	ck_assert(addr_overlaps_any(&a, nets, ELEMENTSOF(nets)));
	a = parse("192.0.3.1");
	ck_assert(!addr_overlaps_any(&a, nets, ELEMENTSOF(nets)));

	/* A /16 that contains a listed host (the last one of the list is looked at too). */
	ck_assert_int_eq(addr_parse_cidr("198.51.0.0/16", &a), 0);
	ck_assert(addr_overlaps_any(&a, nets, ELEMENTSOF(nets)));
	ck_assert(!addr_overlaps_any(&a, nets, 1));
	ck_assert_int_eq(addr_parse_cidr("198.52.0.0/16", &a), 0);
	ck_assert(!addr_overlaps_any(&a, nets, ELEMENTSOF(nets)));
	ck_assert_int_eq(addr_parse_cidr("2001:db8:5::/48", &a), 0);
	ck_assert(addr_overlaps_any(&a, nets, ELEMENTSOF(nets)));

	/* Different families never overlap, whatever the bytes or the prefix. */
	ck_assert_int_eq(addr_parse_cidr("::/0", &a), 0);
	ck_assert(!addr_overlaps_any(&a, nets, 2));
	ck_assert_int_eq(addr_parse_cidr("0.0.0.0/0", &a), 0);
	ck_assert(!addr_overlaps_any(&a, &nets[2], 1));
	ck_assert(addr_overlaps_any(&a, nets, 1));
	a = parse("c000:0201::1"); /* 192.0.2.1's bytes at the head of an IPv6 address */
	ck_assert(!addr_overlaps_any(&a, nets, 2));
}
END_TEST

START_TEST(test_hash_equal)
{
	const uint64_t k1[2] = { 1, 2 }, k2[2] = { 3, 4 };
	struct addr a = parse("192.0.2.1"), b = parse("::ffff:192.0.2.1"), c = parse("192.0.2.2");
	ck_assert(addr_equal(&a, &b));
	ck_assert(!addr_equal(&a, &c));
	ck_assert_uint_eq(addr_hash(&a, k1), addr_hash(&b, k1));
	ck_assert_uint_ne(addr_hash(&a, k1), addr_hash(&c, k1));
	/* The key changes the hash: chosen addresses cannot be made to collide blindly. */
	ck_assert_uint_ne(addr_hash(&a, k1), addr_hash(&a, k2));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_canonical);
	tcase_add_test(tc, test_reject);
	tcase_add_test(tc, test_cidr);
	tcase_add_test(tc, test_overlap_and_mask);
	tcase_add_test(tc, test_overlaps_any);
	tcase_add_test(tc, test_hash_equal);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
