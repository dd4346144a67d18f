/* bans: the ban table and its append-only file: replay, torn lines, lifts, memory, compaction,
 * evidence, strikes, permanent bans and the record of ends. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

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

/* The evidence of a record as "TIME|TEXT;" items, for comparisons. */
static char *evidence_str(const struct ban *r)
{
	const char *cur = r->evidence;
	struct bans_evidence_line l;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	while (bans_evidence_next(&cur, &l))
		fprintf(f, "%llu|%.*s;", (unsigned long long)(l.time_usec / S), (int)l.len, l.text);
	fclose(f);
	return buf;
}

START_TEST(test_evidence_strikes_survive)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	struct ban x = mk("192.0.2.7", "courier-smtp", NOW + 3600 * S, 1);
	char ev[] = "1800000001000000 courieresmtpd: error,relay=::ffff:192.0.2.7,port=1: 550 x\n"
		    "1800000002000000 courieresmtpd: two  spaces  kept\n";

	x.evidence = ev;
	x.strikes[0] = 1799990000;
	x.strikes[1] = 1800000000;
	x.n_strikes = 2;
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, NULL), 0);
	ck_assert_int_eq(bans_add(b, &x), 0);
	/* the table keeps its own copy */
	memset(ev, 'z', sizeof(ev) - 1);
	const struct ban *r = bans_find(b, &x.addr);
	_cleanup_free_ char *e1 = evidence_str(r);
	ck_assert_str_eq(e1, "1800000001|courieresmtpd: error,relay=::ffff:192.0.2.7,port=1: 550 x;"
			     "1800000002|courieresmtpd: two  spaces  kept;");
	ck_assert_uint_eq(bans_evidence_bytes(b), strlen(r->evidence));
	/* "killed" without bans_free, reopened: evidence, strikes and ends come back */
	struct bans *b2;
	unsigned bad = 9;
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b2, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	r = bans_find(b2, &x.addr);
	ck_assert_ptr_nonnull(r);
	_cleanup_free_ char *e2 = evidence_str(r);
	ck_assert_str_eq(e2, e1);
	ck_assert_uint_eq(r->n_strikes, 2);
	ck_assert_uint_eq(r->strikes[0], 1799990000);
	ck_assert_uint_eq(r->strikes[1], 1800000000);
	ck_assert(!r->ended);
	/* a second opening after compaction still has them */
	bans_free(b2);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b2, &bad), 0);
	_cleanup_free_ char *e3 = evidence_str(bans_find(b2, &x.addr));
	ck_assert_str_eq(e3, e1);
	bans_free(b);
	bans_free(b2);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_evidence_bounds)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	char big[BAN_EVIDENCE_MAX * 2] = "", line[300];
	size_t len = 0;

	/* 20 lines of 200 bytes: the record keeps whole lines up to BAN_EVIDENCE_MAX */
	memset(line, 'a', 200);
	line[200] = '\0';
	for (int i = 0; i < 20 && len + 230 < sizeof(big); i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len, "%d %s\n", 1800000000 + i,
					line);
	struct ban x = mk("192.0.2.8", "j", NOW + 3600 * S, 1);
	x.evidence = big;
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, NULL), 0);
	ck_assert_int_eq(bans_add(b, &x), 0);
	const struct ban *r = bans_find(b, &x.addr);
	ck_assert_uint_le(strlen(r->evidence), BAN_EVIDENCE_MAX);
	ck_assert_uint_gt(strlen(r->evidence), BAN_EVIDENCE_MAX - 220);
	ck_assert_int_eq(r->evidence[strlen(r->evidence) - 1], '\n');

	/* the whole table: over max_evidence, the bans that end soonest lose theirs first */
	bans_set_max_evidence(b, 3 * BAN_EVIDENCE_MAX);
	for (int i = 0; i < 10; i++) {
		char net[32];
		snprintf(net, sizeof(net), "198.51.100.%d", i);
		struct ban y = mk(net, "j", NOW + (uint64_t)(100 + i) * S, 1);
		y.evidence = big;
		ck_assert_int_eq(bans_add(b, &y), 0);
		ck_assert_uint_le(bans_evidence_bytes(b), 3 * BAN_EVIDENCE_MAX);
	}
	struct addr last, first;
	addr_parse_cidr("198.51.100.9", &last);
	addr_parse_cidr("198.51.100.0", &first);
	ck_assert_ptr_nonnull(bans_find(b, &last)->evidence);
	ck_assert_ptr_null(bans_find(b, &first)->evidence);
	ck_assert_uint_eq(bans_size(b), 11); /* the bans themselves stay */
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_evidence_hostile_file)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	unsigned bad = 0;
	FILE *f = fopen(path, "w");

	/* an E line before its B line, one with a control character, one without a time, one
	 * of an unknown network, and one whose text fakes a second record */
	fprintf(f,
		"E 192.0.2.9 1800000000000000 orphan\n"
		"B %llu %llu 1 j 192.0.2.9 192.0.2.9\n"
		"E 192.0.2.9 1800000001000000 ok line\n"
		"E 192.0.2.9 1800000002000000 bell\a here\n"
		"E 192.0.2.9 notatime text\n"
		"E 203.0.113.1 1800000003000000 nobody's\n"
		"E 192.0.2.9 1800000004000000 x B 0 0 1 j 203.0.113.5 203.0.113.5\n",
		(unsigned long long)(NOW - S), (unsigned long long)(NOW + 3600 * S));
	fclose(f);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	struct addr a;
	addr_parse_cidr("192.0.2.9", &a);
	const struct ban *r = bans_find(b, &a);
	ck_assert_ptr_nonnull(r);
	_cleanup_free_ char *e = evidence_str(r);
	ck_assert_str_eq(e, "1800000001|ok line;1800000004|x B 0 0 1 j 203.0.113.5 203.0.113.5;");
	ck_assert_uint_eq(bad, 2); /* the bell and the bad time */
	ck_assert_uint_eq(bans_size(b), 1);
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_forever_and_ends)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b;
	struct ban x = mk("192.0.2.20", "manual", BAN_FOREVER, 1);
	struct ban y = mk("192.0.2.21", "j", NOW + 10 * S, 1);

	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, NULL), 0);
	ck_assert_int_eq(bans_add(b, &x), 0);
	ck_assert_int_eq(bans_add(b, &y), 0);
	ck_assert_uint_eq(bans_next_end(b), NOW + 10 * S);
	ck_assert_int_eq(bans_mark_ended(b, &y.addr), 0);
	ck_assert_uint_eq(bans_next_end(b), BAN_FOREVER);
	bans_free(b);
	/* years later: the permanent ban is neither forgotten nor ended; the end is remembered */
	uint64_t later = NOW + 10 * 365 * 86400 * S;
	ck_assert_int_eq(bans_open(path, NOW + 20 * S, 3600 * S, &b, NULL), 0);
	ck_assert(bans_find(b, &y.addr)->ended);
	bans_free(b);
	ck_assert_int_eq(bans_open(path, later, 3600 * S, &b, NULL), 0);
	const struct ban *r = bans_find(b, &x.addr);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->until_usec, BAN_FOREVER);
	ck_assert_uint_eq(bans_active(b, later), 1);
	ck_assert_ptr_null(bans_find(b, &y.addr));
	/* unban lifts it, and marks its end */
	ck_assert_int_eq(bans_lift(b, &x.addr, later), 0);
	ck_assert(bans_find(b, &x.addr)->ended);
	ck_assert_uint_eq(bans_active(b, later), 0);
	bans_free(b);
	ck_assert_int_eq(bans_open(path, later + S, 3600 * S, &b, NULL), 0);
	ck_assert(bans_find(b, &x.addr)->ended);
	ck_assert_uint_eq(bans_active(b, later + S), 0);
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

/* A remote ban keeps the fleet host it came from across a restart and a compaction; a record
 * without one (every file written before the fleet) is this host's. */
START_TEST(test_origin)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b, *b2;
	unsigned bad = 0;
	char host[64];

	test_write(dir, "bans", "w",
		   "B 1799999990000000 1800003600000000 1 courier-dnsbl 192.0.2.1 192.0.2.1\n"
		   "B 1799999990000000 1800003600000000 1 courier-dnsbl 192.0.2.9 192.0.2.9 o=a b\n"
		   "B 1799999990000000 1800003600000000 1 courier-dnsbl 192.0.2.8 192.0.2.8 o=\n");
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	ck_assert_uint_eq(bad, 2);
	ck_assert_uint_eq(bans_size(b), 1);
	ck_assert_ptr_null(bans_get(b, 0)->origin);
	struct ban x = mk("198.51.100.7", "courier-smtp", NOW + 600 * S, 2);
	snprintf(host, sizeof(host), "mx2.example.org");
	x.origin = host;
	ck_assert_int_eq(bans_add(b, &x), 0);
	/* the caller's buffer is not the table's */
	snprintf(host, sizeof(host), "changed");
	ck_assert_str_eq(bans_find(b, &x.addr)->origin, "mx2.example.org");
	struct ban y = mk("198.51.100.8", "courier-smtp", NOW + 600 * S, 1);
	y.origin = "mx2.example.org";
	ck_assert_int_eq(bans_add(b, &y), 0);
	ck_assert_ptr_eq(bans_find(b, &x.addr)->origin, bans_find(b, &y.addr)->origin);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b2, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_str_eq(bans_find(b2, &x.addr)->origin, "mx2.example.org");
	ck_assert_ptr_null(bans_find(b2, &bans_get(b, 0)->addr)->origin);
	/* a local ban of the same network replaces the remote one, and says so */
	x.origin = NULL;
	ck_assert_int_eq(bans_add(b2, &x), 0);
	ck_assert_ptr_null(bans_find(b2, &x.addr)->origin);
	bans_free(b2);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b2, &bad), 0);
	ck_assert_ptr_null(bans_find(b2, &x.addr)->origin);
	ck_assert_str_eq(bans_find(b2, &y.addr)->origin, "mx2.example.org");
	bans_free(b2);
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

/* Without a path the table lives in memory only (replay's): the same records, lifts, ends and
 * cap, and no file anywhere. */
START_TEST(test_memory_only)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	struct bans *b;
	char cwd[4096];

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(bans_open(NULL, NOW, 3600 * S, &b, NULL), 0);
	bans_set_max(b, 1000);
	for (unsigned k = 0; k < 1500; k++) {
		char net[32];
		snprintf(net, sizeof(net), "10.%u.%u.1", k / 250, k % 250);
		struct ban x = mk(net, "courier-dnsbl", NOW + (k + 1) * S, 1);
		ck_assert_int_eq(bans_add(b, &x), 0);
	}
	ck_assert_uint_le(bans_size(b), 1000);
	ck_assert_uint_ge(bans_evicted(b), 500);
	struct ban y = mk("192.0.2.1", "courier-smtp", NOW + 7200 * S, 2);
	ck_assert_int_eq(bans_add(b, &y), 0);
	ck_assert_int_eq(bans_lift(b, &y.addr, NOW), 0);
	ck_assert_int_eq(bans_mark_ended(b, &y.addr), 0);
	const struct ban *r = bans_find(b, &y.addr);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->until_usec, NOW);
	ck_assert_uint_eq(r->offence, 2);
	ck_assert_int_eq(bans_maintain(b, NOW + 7200 * S), 0);
	ck_assert_ptr_null(bans_find(b, &y.addr));
	bans_free(b);
	ck_assert_int_eq(chdir(cwd), 0);
	/* Nothing was written, not even in the working directory. */
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Limits the size of files this process writes (a full disk, as write() sees it): cur bytes,
 * or no limit. */
static void limit_file_size(rlim_t cur)
{
	struct rlimit rl;

	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = cur;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static off_t file_size(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/* A full disk: the bans are kept in memory and said unsaved; the first write that works again
 * rewrites the file with every change it missed, the torn line included. */
START_TEST(test_full_disk)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = path_in(dir);
	struct bans *b, *b2;
	unsigned bad = 99;
	char net[32];

	char ev[2048];
	size_t len = 0;

	/* Evidence makes the file larger than what check(1) writes for itself meanwhile, which
	 * the same limit caps. */
	while (len < sizeof(ev) - 100)
		len += (size_t)snprintf(
			ev + len, sizeof(ev) - len,
			"1799999990000000 courieresmtpd: error,relay=::ffff:192.0.2.1,"
			"port=1: 511 Listed\n");
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, &bad), 0);
	for (unsigned k = 1; k <= 3; k++) {
		snprintf(net, sizeof(net), "192.0.2.%u", k);
		struct ban x = mk(net, "courier-dnsbl", NOW + 3600 * S, k);
		x.evidence = ev;
		ck_assert_int_eq(bans_add(b, &x), 0);
	}
	ck_assert_int_eq(bans_unsaved(b), 0);
	/* Room for part of the next record only: a torn line, then nothing. */
	limit_file_size((rlim_t)file_size(path) + 20);
	for (unsigned k = 4; k <= 6; k++) {
		snprintf(net, sizeof(net), "192.0.2.%u", k);
		struct ban x = mk(net, "courier-dnsbl", NOW + 3600 * S, k);
		ck_assert_int_lt(bans_add(b, &x), 0);
	}
	ck_assert_int_ne(bans_unsaved(b), 0);
	ck_assert_uint_eq(bans_size(b), 6);
	struct ban lifted = mk("192.0.2.2", "courier-dnsbl", 0, 0);
	ck_assert_int_lt(bans_lift(b, &lifted.addr, NOW), 0);
	/* A start on the full disk: the file cannot be rewritten, the table opens all the same. */
	limit_file_size((rlim_t)file_size(path) / 2);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b2, &bad), 0);
	ck_assert_int_ne(bans_unsaved(b2), 0);
	ck_assert_uint_eq(bans_size(b2), 3);
	ck_assert_uint_eq(bad, 1);
	bans_free(b2);
	/* Space again: the next change rewrites everything. */
	limit_file_size(RLIM_INFINITY);
	struct ban x = mk("192.0.2.7", "courier-smtp", NOW + 3600 * S, 7);
	ck_assert_int_eq(bans_add(b, &x), 0);
	ck_assert_int_eq(bans_unsaved(b), 0);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b2, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(bans_size(b2), 7);
	for (unsigned k = 1; k <= 7; k++) {
		snprintf(net, sizeof(net), "192.0.2.%u", k);
		struct addr a;
		ck_assert_int_eq(addr_parse_cidr(net, &a), 0);
		const struct ban *r = bans_find(b2, &a);
		ck_assert_ptr_nonnull(r);
		ck_assert_uint_eq(r->offence, k);
		ck_assert_uint_eq(r->until_usec, k == 2 ? NOW : NOW + 3600 * S);
	}
	bans_free(b2);
	bans_free(b);
	test_rm_rf(dir);
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
	tcase_add_test(tc, test_evidence_strikes_survive);
	tcase_add_test(tc, test_evidence_bounds);
	tcase_add_test(tc, test_evidence_hostile_file);
	tcase_add_test(tc, test_forever_and_ends);
	tcase_add_test(tc, test_origin);
	tcase_add_test(tc, test_memory_only);
	tcase_add_test(tc, test_full_disk);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
