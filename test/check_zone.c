/* zone: the rbldnsd data files of the bans in force: one family per file, hosts with their
 * prefix, networks, the TXT template's placeholders (a remote ban names its host), ended bans
 * left out; and the writer on a loop: files written whole, again after a change. */
#include <sys/socket.h>

#include "state.h"
#include "testutil.h"
#include "zone.h"

#define S   (1000000ULL)
#define NOW (1800000000ULL * S)

static void add(struct bans *b, const char *net, const char *jail, uint64_t until,
		const char *origin)
{
	struct ban x = {
		.since_usec = NOW - S, .until_usec = until, .offence = 1, .origin = origin
	};
	ck_assert_int_eq(addr_parse_cidr(net, &x.addr), 0);
	x.host = x.addr;
	snprintf(x.jail, sizeof(x.jail), "%s", jail);
	ck_assert_int_eq(bans_add(b, &x), 0);
}

static char *format(const struct bans *b, const struct config_dnsbl *c, int family, int *n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	*n = zone_format(b, c, "mx1", family, NOW, f);
	fclose(f);
	return buf;
}

START_TEST(test_format)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = NULL;
	struct config_dnsbl c = {
		.enabled = true,
		.a = "127.0.0.2",
		.txt = "listed by waveguard on %host%, jail %jail%, until %until% ($)"
	};
	struct bans *b;
	int n;

	ck_assert_int_ge(asprintf(&path, "%s/bans", dir), 0);
	ck_assert_int_eq(bans_open(path, NOW, 3600 * S, &b, NULL), 0);
	add(b, "192.0.2.7", "courier-dnsbl", NOW + 3600 * S, NULL);
	add(b, "198.51.100.0/24", "manual", BAN_FOREVER, NULL);
	add(b, "203.0.113.9", "courier-smtp", NOW + 60 * S, "mx2");
	add(b, "203.0.113.10", "courier-smtp", NOW - S, NULL); /* ended */
	add(b, "2001:db8:1:2::/64", "courier-auth", NOW + 3600 * S, NULL);
	add(b, "2001:db8::9", "courier-dnsbl", NOW + 3600 * S, "mx3");

	char *text = format(b, &c, AF_INET, &n);
	ck_assert_int_eq(n, 3);
	ck_assert_msg(strstr(text, "\n192.0.2.7/32 :127.0.0.2:listed by waveguard on mx1, jail "
				   "courier-dnsbl, until 2027-01-15T09:00:00Z ($)\n"),
		      "%s", text);
	ck_assert_msg(strstr(text, "\n198.51.100.0/24 :127.0.0.2:listed by waveguard on mx1, jail "
				   "manual, until forever ($)\n"),
		      "%s", text);
	ck_assert_msg(strstr(text, "\n203.0.113.9/32 :127.0.0.2:listed by waveguard on mx2, jail "
				   "courier-smtp, until 2027-01-15T08:01:00Z ($)\n"),
		      "%s", text);
	ck_assert_ptr_null(strstr(text, "203.0.113.10"));
	ck_assert_ptr_null(strstr(text, "2001:db8"));
	ck_assert_int_eq(text[0], '#');
	free(text);

	text = format(b, &c, AF_INET6, &n);
	ck_assert_int_eq(n, 2);
	ck_assert_msg(strstr(text, "\n2001:db8:1:2::/64 :127.0.0.2:listed by waveguard on mx1, "
				   "jail courier-auth, until 2027-01-15T09:00:00Z ($)\n"),
		      "%s", text);
	ck_assert_msg(strstr(text, "\n2001:db8::9/128 :127.0.0.2:listed by waveguard on mx3, jail "
				   "courier-dnsbl, until "),
		      "%s", text);
	ck_assert_ptr_null(strstr(text, "192.0.2.7"));
	free(text);
	bans_free(b);
	test_rm_rf(dir);
}
END_TEST

/* Runs the loop for usec of monotonic time. */
static void run_for(sd_event *e, uint64_t usec)
{
	uint64_t now, end;

	ck_assert_int_ge(sd_event_now(e, CLOCK_MONOTONIC, &now), 0);
	for (end = now + usec; now < end; sd_event_now(e, CLOCK_MONOTONIC, &now))
		ck_assert_int_ge(sd_event_run(e, end - now), 0);
}

/* The writer: the files at once, the change within a second, never a partial file. */
START_TEST(test_writer)
{
	_cleanup_free_ char *dir = test_mkdtemp(), *path = NULL, *p4 = NULL, *p6 = NULL;
	struct config_dnsbl c = { .enabled = true, .a = "127.0.0.2", .txt = "%jail%" };
	struct bans *b;
	struct zone *z;
	sd_event *e;
	char *text;
	size_t len;
	uint64_t now;

	ck_assert_int_ge(asprintf(&path, "%s/bans", dir), 0);
	ck_assert_int_ge(asprintf(&p4, "%s/ip4set", dir), 0);
	ck_assert_int_ge(asprintf(&p6, "%s/ip6trie", dir), 0);
	c.ip4set = p4, c.ip6trie = p6;
	ck_assert_int_ge(sd_event_new(&e), 0);
	sd_event_now(e, CLOCK_REALTIME, &now);
	ck_assert_int_eq(bans_open(path, now, 3600 * S, &b, NULL), 0);
	ck_assert_int_eq(zone_new(e, &c, b, "mx1", &z), 0);
	run_for(e, 100000);
	ck_assert_int_eq(state_read_file(p4, 65536, &text, &len), 0);
	ck_assert_ptr_null(strstr(text, "192.0.2.8"));
	free(text);
	ck_assert_int_eq(state_read_file(p6, 65536, &text, &len), 0);
	ck_assert_int_eq(text[0], '#');
	free(text);

	struct ban x = { .since_usec = now, .until_usec = now + 3600 * S, .offence = 1 };
	ck_assert_int_eq(addr_parse_cidr("192.0.2.8", &x.addr), 0);
	x.host = x.addr;
	snprintf(x.jail, sizeof(x.jail), "courier-dnsbl");
	ck_assert_int_eq(bans_add(b, &x), 0);
	zone_touch(z);
	run_for(e, 1200000);
	ck_assert_int_eq(state_read_file(p4, 65536, &text, &len), 0);
	ck_assert_msg(strstr(text, "\n192.0.2.8/32 :127.0.0.2:courier-dnsbl\n"), "%s", text);
	free(text);
	struct stat st;
	ck_assert_int_eq(stat(p4, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);

	zone_free(z);
	bans_free(b);
	sd_event_unref(e);
	test_rm_rf(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("zone");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_writer);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
