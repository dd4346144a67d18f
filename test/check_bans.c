/* bans: the ban table and its append-only file: replay, torn lines, lifts, memory, compaction. */
#include "bans.h"
#include "testutil.h"

#define S   (1000000ULL)
#define NOW (1800000000ULL * S)

static struct ban mk(const char *net, const char *jail, uint64_t until, uint32_t offence)
{
	struct ban b = { .since_usec = NOW - 10 * S, .until_usec = until, .offence = offence };
	ck_assert_int_eq(addr_parse_cidr(net, &b.addr), 0);
	b.host = b.addr;
	snprintf(b.jail, sizeof(b.jail), "%s", jail);
	return b;
}

static char *path_in(const char *dir)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/bans", dir), 0);
	return p;
}

START_TEST(test_roundtrip)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	unsigned bad = 99;

	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(bans_size(b), 0);
	struct ban x = mk("192.0.2.1", "courier-dnsbl", NOW + 3600 * S, 1);
	struct ban y = mk("2001:db8:1:2::/64", "courier-smtp", NOW + 7200 * S, 2);
	ck_assert_int_eq(addr_parse_cidr("2001:db8:1:2::77", &y.host), 0);
	ck_assert_int_eq(bans_add(b, &x), 0);
	ck_assert_int_eq(bans_add(b, &y), 0);
	/* a second ban of the same network replaces the record */
	x.until_usec += 60 * S;
	x.offence = 3;
	ck_assert_int_eq(bans_add(b, &x), 0);
	ck_assert_uint_eq(bans_size(b), 2);
	/* no bans_free: the process "dies" here, the file must be complete already */
	struct bans *b2;
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b2, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(bans_size(b2), 2);
	const struct ban *r = bans_find(b2, &x.addr);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->until_usec, NOW + 3660 * S);
	ck_assert_uint_eq(r->offence, 3);
	ck_assert_str_eq(r->jail, "courier-dnsbl");
	r = bans_find(b2, &y.addr);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->addr.prefix, 64);
	char h[ADDR_STRLEN];
	ck_assert_str_eq(addr_format(&r->host, h, sizeof(h)), "2001:db8:1:2::77");
	ck_assert_uint_eq(bans_active(b2, NOW), 2);
	bans_free(b);
	bans_free(b2);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_lift_and_memory)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	struct ban x = mk("198.51.100.1", "j", NOW + 3600 * S, 4);

	ck_assert_int_eq(bans_open(path, NOW, 86400 * S, &b, NULL), 0);
	ck_assert_int_eq(bans_add(b, &x), 0);
	ck_assert_int_eq(bans_lift(b, &x.addr, NOW + 5 * S), 0);
	ck_assert_int_eq(bans_lift(b, &x.addr, NOW + 6 * S), -ENOENT);
	ck_assert_uint_eq(bans_active(b, NOW + 5 * S), 0);
	bans_free(b);

	/* after a restart the lift holds, and the offence count is remembered */
	ck_assert_int_eq(bans_open(path, NOW + 10 * S, 86400 * S, &b, NULL), 0);
	const struct ban *r = bans_find(b, &x.addr);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->until_usec, NOW + 5 * S);
	ck_assert_uint_eq(r->offence, 4);
	bans_free(b);

	/* beyond the memory period, the record is forgotten */
	ck_assert_int_eq(bans_open(path, NOW + 5 * S + 86401 * S, 86400 * S, &b, NULL), 0);
	ck_assert_ptr_null(bans_find(b, &x.addr));
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_torn_and_garbage)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	unsigned bad = 0;
	char line[512];

	snprintf(line, sizeof(line),
		 "B %llu %llu 1 j 192.0.2.5 192.0.2.5\n"
		 "garbage line\n"
		 "B 1 2 x j 192.0.2.6 192.0.2.6\n"
		 "B 1 2 1 j 999.0.2.6 192.0.2.6\n"
		 "L x 192.0.2.5\n"
		 "B %llu %llu 1 j 192.0.2.7 192.0.2.7",
		 (unsigned long long)NOW, (unsigned long long)(NOW + 3600 * S),
		 (unsigned long long)NOW, (unsigned long long)(NOW + 3600 * S));
	test_write(dir, "bans", "w", line);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	/* four unreadable lines and the torn last one (no newline) */
	ck_assert_uint_eq(bad, 5);
	ck_assert_uint_eq(bans_size(b), 1);
	bans_free(b);
	/* compaction rewrote the file: a second open reads it cleanly */
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(bans_size(b), 1);
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

/* A table that has grown large (an append per change; here the same ban a million times over,
 * 67 MiB) is read line by line, whatever its size (past 256 MiB it used to refuse to start),
 * and compacted to what it describes; a line of a megabyte is skipped. */
START_TEST(test_large_file)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	unsigned bad = 0;
	char line[128];
	int len = snprintf(line, sizeof(line), "B %llu %llu 1 j 192.0.2.5 192.0.2.5\n",
			   (unsigned long long)NOW, (unsigned long long)(NOW + 3600 * S));
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 1000000; i++)
		ck_assert_int_eq(fwrite(line, 1, (size_t)len, f), (size_t)len);
	for (int i = 0; i < 1024 * 1024; i++)
		fputc('x', f);
	fputc('\n', f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	ck_assert_uint_eq(bad, 1);
	ck_assert_uint_eq(bans_size(b), 1);
	bans_free(b);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, len);
	test_rm_rf(dir);
}
END_TEST

/* At max_bans a new network makes room: ended bans go first, then the active ones that end
 * soonest, down to 99% of the cap; the longest bans and the newcomer stay, memory stays at the
 * cap, and the rewritten file replays to the same table. */
START_TEST(test_cap)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	char net[32];

	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, NULL), 0);
	bans_set_max(b, 1000);
	/* 10 ended bans, then 990 active ones ending 1 s, 2 s, ... after NOW + 1 h */
	for (unsigned i = 0; i < 1000; i++) {
		struct ban ban = { .since_usec = NOW - 7200 * S, .offence = 1 };
		snprintf(net, sizeof(net), "10.%u.%u.1", i / 250, i % 250);
		ck_assert_int_eq(addr_parse_cidr(net, &ban.addr), 0);
		ban.host = ban.addr;
		ban.until_usec = i < 10 ? NOW - S : NOW + (3600 + i) * S;
		snprintf(ban.jail, sizeof(ban.jail), "j");
		ck_assert_int_eq(bans_add(b, &ban), 0);
	}
	ck_assert_uint_eq(bans_size(b), 1000);
	ck_assert_uint_eq(bans_evicted(b), 0);

	struct ban late = { .since_usec = NOW, .until_usec = NOW + 86400 * S, .offence = 1 };
	ck_assert_int_eq(addr_parse_cidr("192.0.2.99", &late.addr), 0);
	late.host = late.addr;
	snprintf(late.jail, sizeof(late.jail), "j");
	ck_assert_int_eq(bans_add(b, &late), 0);
	/* The 10 ended bans made room: no active ban went. */
	ck_assert_uint_eq(bans_size(b), 991);
	ck_assert_uint_eq(bans_evicted(b), 0);
	/* Full again with active bans: the next newcomer evicts the 10 that end soonest. */
	for (unsigned i = 0; i < 10; i++) {
		struct ban ban = late;
		snprintf(net, sizeof(net), "192.0.2.%u", i + 1);
		ck_assert_int_eq(addr_parse_cidr(net, &ban.addr), 0);
		ban.host = ban.addr;
		ck_assert_int_eq(bans_add(b, &ban), 0);
	}
	ck_assert_uint_eq(bans_size(b), 991);
	ck_assert_uint_eq(bans_evicted(b), 10);
	struct addr a;
	ck_assert_int_eq(addr_parse_cidr("10.0.10.1", &a), 0); /* i = 10: the soonest active */
	ck_assert_ptr_null(bans_find(b, &a));
	ck_assert_int_eq(addr_parse_cidr("10.3.249.1", &a), 0); /* i = 999: the longest */
	ck_assert_ptr_nonnull(bans_find(b, &a));
	ck_assert_ptr_nonnull(bans_find(b, &late.addr));
	size_t n = bans_size(b);
	bans_free(b);

	unsigned bad = 9;
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(bans_size(b), n);
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_many_and_compaction)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;

	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, NULL), 0);
	for (uint32_t i = 0; i < 10000; i++) {
		struct ban x = { .until_usec = NOW + (i % 2 ? 3600 : 1) * S, .offence = 1 };
		x.addr.family = AF_INET;
		x.addr.prefix = 32;
		x.addr.bytes[0] = 198;
		x.addr.bytes[1] = 18;
		x.addr.bytes[2] = (uint8_t)(i >> 8);
		x.addr.bytes[3] = (uint8_t)i;
		x.host = x.addr;
		snprintf(x.jail, sizeof(x.jail), "j");
		ck_assert_int_eq(bans_add(b, &x), 0);
		ck_assert_int_eq(bans_add(b, &x), 0); /* twice: replaces */
	}
	ck_assert_uint_eq(bans_size(b), 10000);
	ck_assert_uint_eq(bans_active(b, NOW + 2 * S), 5000);
	/* half of them ended long ago (beyond the memory of 1 h): maintenance forgets them and
	 * compacts the file (20000 lines for 5000 records) */
	ck_assert_int_eq(bans_maintain(b, NOW + 3602 * S), 0);
	ck_assert_uint_eq(bans_size(b), 5000);
	for (size_t i = 0; i < bans_size(b); i++)
		ck_assert_ptr_eq(bans_find(b, &bans_get(b, i)->addr), bans_get(b, i));
	bans_free(b);

	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	int lines = 0, c;
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	ck_assert_int_eq(lines, 5000);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_unwritable)
{
	struct bans *b = NULL;
	/* a directory that cannot exist: the error comes back, nothing is half-made */
	ck_assert_int_lt(bans_open("/proc/waveguard-no/bans", NOW, 0, &b, NULL), 0);
	ck_assert_ptr_null(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bans");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_lift_and_memory);
	tcase_add_test(tc, test_torn_and_garbage);
	tcase_add_test(tc, test_large_file);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_many_and_compaction);
	tcase_add_test(tc, test_unwritable);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
