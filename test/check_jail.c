/* jail: sliding window, escalation, allowlist, eviction under a flood, with an injected clock. */
#include "jail.h"
#include "testutil.h"
#include "timeutil.h"

#define S (1000000ULL)

static struct addr A(const char *s) {
	struct addr a;
	ck_assert_int_eq(addr_parse(s, strlen(s), &a), 0);
	return a;
}

static struct jail_params
params(void)
{
	return (struct jail_params){
		.maxretry = 3,
		.findtime_usec = 600 * S,
		.bantime_usec = 3600 * S,
		.bantime_factor = 2.0,
		.bantime_max_usec = 4 * 3600 * S,
		.max_tracked = 1000,
		.prefix4 = 32,
		.prefix6 = 64,
	};
}

START_TEST(test_window)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("192.0.2.1");
	uint64_t t = 1700000000 * S;

	ck_assert_int_eq(jail_new(&p, &j), 0);
	ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_COUNTED);
	ck_assert_int_eq(jail_hit(j, &a, t + 300 * S, 0, &ban), JAIL_COUNTED);
	/* third hit 600 s after the first: the first has left the window */
	ck_assert_int_eq(jail_hit(j, &a, t + 600 * S, 0, &ban), JAIL_COUNTED);
	/* hits 2,3,4 lie within 600 s */
	ck_assert_int_eq(jail_hit(j, &a, t + 700 * S, 0, &ban), JAIL_BAN);
	ck_assert_str_eq(addr_format(&ban.addr, (char[ADDR_STRLEN]){ 0 }, ADDR_STRLEN),
			 "192.0.2.1");
	ck_assert_uint_eq(ban.bantime_usec, 3600 * S);
	ck_assert_uint_eq(ban.time_usec, t + 700 * S);
	ck_assert_int_eq(ban.offence, 1);
	/* while banned, more lines (sessions still in flight) decide nothing */
	ck_assert_int_eq(jail_hit(j, &a, t + 800 * S, 0, &ban), JAIL_BANNED);
	ck_assert_uint_eq(jail_get_stats(j)->bans, 1);

	/* other addresses are counted apart */
	struct addr b = A("192.0.2.2");
	ck_assert_int_eq(jail_hit(j, &b, t + 700 * S, 0, &ban), JAIL_COUNTED);
	ck_assert_uint_eq(jail_tracked(j), 2);
}
END_TEST

START_TEST(test_maxretry_one_and_mapped)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("::ffff:198.51.100.7");
	p.maxretry = 1;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	ck_assert_int_eq(jail_hit(j, &a, 10 * S, 0, &ban), JAIL_BAN);
	ck_assert_int_eq(ban.addr.family, AF_INET);
}
END_TEST

START_TEST(test_escalation)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("203.0.113.9");
	uint64_t t = 1000 * S;
	static const uint64_t expect[] = { 3600, 7200, 14400, 14400, 14400 };

	p.maxretry = 1;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
		ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
		ck_assert_uint_eq(ban.bantime_usec, expect[i] * S);
		ck_assert_uint_eq(ban.offence, i + 1);
		t += ban.bantime_usec; /* the ban has run out */
	}
}
END_TEST

START_TEST(test_allowlist)
{
	struct addr allow[2];
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;

	ck_assert_int_eq(addr_parse_cidr("192.0.2.0/24", &allow[0]), 0);
	ck_assert_int_eq(addr_parse_cidr("2001:db8:1:2::25", &allow[1]), 0);
	p.allow = allow;
	p.n_allow = 2;
	p.maxretry = 1;
	ck_assert_int_eq(jail_new(&p, &j), 0);

	struct addr in4 = A("::ffff:192.0.2.77"), out4 = A("198.51.100.1");
	ck_assert_int_eq(jail_hit(j, &in4, S, 0, &ban), JAIL_ALLOWED);
	ck_assert_int_eq(jail_hit(j, &out4, S, 0, &ban), JAIL_BAN);

	/* An offender in the /64 of an allowlisted host: banning the /64 would lock the host
	 * out, so no ban. One in another /64 is banned as its /64. */
	struct addr near = A("2001:db8:1:2::bad"), far = A("2001:db8:1:3::bad");
	ck_assert_int_eq(jail_hit(j, &near, S, 0, &ban), JAIL_ALLOWED);
	ck_assert_int_eq(jail_hit(j, &far, S, 0, &ban), JAIL_BAN);
	ck_assert_str_eq(addr_format(&ban.addr, (char[ADDR_STRLEN]){ 0 }, ADDR_STRLEN),
			 "2001:db8:1:3::/64");
	ck_assert_uint_eq(jail_get_stats(j)->allowed, 2);
}
END_TEST

/* Rotating through the addresses of one /64 is one offender: its hits add up and the /64 is
 * banned; hosts of another /64 count apart. With prefix6 = 128 each host counts alone. */
START_TEST(test_hits_per_network)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	char host[ADDR_STRLEN];

	p.maxretry = 5;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	for (unsigned i = 1; i <= 4; i++) {
		snprintf(host, sizeof(host), "2001:db8:7:1::%x", i);
		struct addr a = A(host);
		ck_assert_int_eq(jail_hit(j, &a, i * S, 0, &ban), JAIL_COUNTED);
	}
	struct addr other = A("2001:db8:7:2::1");
	ck_assert_int_eq(jail_hit(j, &other, 5 * S, 0, &ban), JAIL_COUNTED);
	struct addr fifth = A("2001:db8:7:1::99");
	ck_assert_int_eq(jail_hit(j, &fifth, 6 * S, 0, &ban), JAIL_BAN);
	ck_assert_str_eq(addr_format(&ban.addr, (char[ADDR_STRLEN]){ 0 }, ADDR_STRLEN),
			 "2001:db8:7:1::/64");
	ck_assert_str_eq(addr_format(&ban.host, (char[ADDR_STRLEN]){ 0 }, ADDR_STRLEN),
			 "2001:db8:7:1::99");
	/* Another host of the banned /64 is already banned; lifting by any host of it forgets. */
	struct addr sixth = A("2001:db8:7:1::100");
	ck_assert_int_eq(jail_hit(j, &sixth, 7 * S, 0, &ban), JAIL_BANNED);
	jail_forget_ban(j, &sixth);
	ck_assert_int_eq(jail_hit(j, &sixth, 8 * S, 0, &ban), JAIL_COUNTED);
	j = jail_free(j);

	p.prefix6 = 128;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	for (unsigned i = 1; i <= 10; i++) {
		snprintf(host, sizeof(host), "2001:db8:7:1::%x", i);
		struct addr a = A(host);
		ck_assert_int_eq(jail_hit(j, &a, i * S, 0, &ban), JAIL_COUNTED);
	}
}
END_TEST

/* A flood of one-hit addresses fills the table: the offender four hits into its five is not
 * the one forgotten, and its fifth hit bans. */
START_TEST(test_eviction_spares_offenders)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr offender = A("198.51.100.66");
	char host[ADDR_STRLEN];

	p.max_tracked = 8;
	p.maxretry = 5;
	p.findtime_usec = 3600 * S;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(jail_hit(j, &offender, (i + 1) * S, 0, &ban), JAIL_COUNTED);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(host, sizeof(host), "203.0.113.%u", i + 1);
		struct addr a = A(host);
		ck_assert_int_eq(jail_hit(j, &a, (10 + i) * S, 0, &ban), JAIL_COUNTED);
	}
	ck_assert_uint_eq(jail_tracked(j), 8);
	ck_assert_uint_eq(jail_get_stats(j)->evictions, 100 - 7);
	ck_assert_int_eq(jail_hit(j, &offender, 200 * S, 0, &ban), JAIL_BAN);
}
END_TEST

/* An offence count at its top stays there: a wrap would turn the worst offender's next ban
 * into a first offence's. */
START_TEST(test_offence_saturates)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("198.51.100.77");

	p.maxretry = 1;
	p.bantime_factor = 2;
	p.bantime_max_usec = 7 * 86400 * S;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	ck_assert_int_eq(jail_restore(j, &a, UINT32_MAX, 0), 0);
	ck_assert_int_eq(jail_hit(j, &a, S, 0, &ban), JAIL_BAN);
	ck_assert_uint_eq(ban.offence, UINT32_MAX);
	ck_assert_uint_eq(ban.bantime_usec, 7 * 86400 * S);
}
END_TEST

/* A forever bantime: the ban never ends, however late the next line, and a repeat offence
 * (after an unban by hand) is forever again, never a wrapped-around short ban. */
START_TEST(test_forever)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("198.51.100.80");
	uint64_t t = 1700000000 * S;

	p.maxretry = 1;
	p.bantime_usec = TIMEUTIL_FOREVER;
	p.bantime_max_usec = 0; /* = bantime */
	ck_assert_int_eq(jail_new(&p, &j), 0);
	ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
	ck_assert(ban.bantime_usec == TIMEUTIL_FOREVER);
	ck_assert_int_eq(jail_hit(j, &a, t + 1, 0, &ban), JAIL_BANNED);
	ck_assert_int_eq(jail_hit(j, &a, t + 100ULL * 366 * 86400 * S, 0, &ban), JAIL_BANNED);
	ck_assert_int_eq(jail_hit(j, &a, TIMEUTIL_FOREVER - 1, 0, &ban), JAIL_BANNED);

	jail_forget_ban(j, &a);
	ck_assert_int_eq(jail_hit(j, &a, t + 2 * S, 0, &ban), JAIL_BAN);
	ck_assert_int_eq(ban.offence, 2);
	ck_assert(ban.bantime_usec == TIMEUTIL_FOREVER);
	ck_assert_int_eq(jail_hit(j, &a, t + 3 * S, 0, &ban), JAIL_BANNED);
}
END_TEST

/* Escalation up to forever: finite bans grow by the factor, never wrap, and end at forever. */
START_TEST(test_escalation_to_forever)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("198.51.100.81");
	uint64_t t = 1700000000 * S, prev = 0;

	p.maxretry = 1;
	p.bantime_factor = 100;
	p.bantime_max_usec = TIMEUTIL_FOREVER;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	for (unsigned i = 1; i <= 12; i++) {
		ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
		ck_assert_uint_eq(ban.offence, i);
		ck_assert_msg(ban.bantime_usec >= prev, "offence %u: %llu after %llu", i,
			      (unsigned long long)ban.bantime_usec, (unsigned long long)prev);
		if (i == 2)
			ck_assert_uint_eq(ban.bantime_usec, 360000 * S);
		prev = ban.bantime_usec;
		jail_forget_ban(j, &a);
	}
	/* 3600 s x 100^11 is far beyond 2^64 usec: forever. */
	ck_assert(prev == TIMEUTIL_FOREVER);
	ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
	ck_assert_int_eq(jail_hit(j, &a, TIMEUTIL_FOREVER - 1, 0, &ban), JAIL_BANNED);
}
END_TEST

/* A finite cap holds for every offence, with the largest factor and the longest durations, and
 * a ban decided near the end of time saturates instead of ending at once. */
START_TEST(test_escalation_never_overflows)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("198.51.100.82"), b = A("198.51.100.83");
	const uint64_t ten_years = 3660ULL * 86400 * S;
	uint64_t t = 1700000000 * S;

	p.maxretry = 1;
	p.bantime_factor = 100;
	p.bantime_usec = ten_years;
	p.bantime_max_usec = ten_years;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	for (unsigned i = 1; i <= 300; i++) {
		ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
		ck_assert_uint_eq(ban.bantime_usec, ten_years);
		jail_forget_ban(j, &a);
	}
	ck_assert_int_eq(jail_restore(j, &a, UINT32_MAX - 1, 0), 0);
	ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
	ck_assert_uint_eq(ban.bantime_usec, ten_years);

	ck_assert_int_eq(jail_hit(j, &b, TIMEUTIL_FOREVER - 10 * S, 0, &ban), JAIL_BAN);
	ck_assert_uint_eq(ban.bantime_usec, ten_years);
	ck_assert_int_eq(jail_hit(j, &b, TIMEUTIL_FOREVER - 1, 0, &ban), JAIL_BANNED);
	jail_free(TAKE_PTR(j));

	/* 1 h x 2^(n-1) capped at a week, for every n up to the top of the count. */
	p = params();
	p.maxretry = 1;
	p.bantime_max_usec = 7 * 86400 * S;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	for (unsigned i = 1; i <= 2000; i++) {
		ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
		ck_assert_uint_le(ban.bantime_usec, 7 * 86400 * S);
		ck_assert_uint_ge(ban.bantime_usec, 3600 * S);
		jail_forget_ban(j, &a);
	}
	ck_assert_uint_eq(ban.bantime_usec, 7 * 86400 * S);
}
END_TEST

START_TEST(test_flood_bounded)
{
	/* A million distinct offenders (IPv6 /64s: hits count per network a ban covers) through a
	 * jail tracking 100000: the table never holds more, evicts the least recently seen, and
	 * an address that keeps coming back survives. */
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr keep = A("198.51.100.200");
	uint64_t t = 1700000000 * S;

	p.max_tracked = 100000;
	p.maxretry = 3;
	p.findtime_usec = 3600 * S;
	ck_assert_int_eq(jail_new(&p, &j), 0);

	ck_assert_int_eq(jail_hit(j, &keep, t, 0, &ban), JAIL_COUNTED);
	for (uint32_t i = 0; i < 1000000; i++) {
		struct addr a = { .family = AF_INET6, .prefix = 128 };
		a.bytes[0] = 0x20;
		a.bytes[1] = 0x01;
		a.bytes[2] = 0x0d;
		a.bytes[3] = 0xb8;
		memcpy(a.bytes + 4, &i, 4);
		ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_COUNTED);
		if (i % 50000 == 0)
			ck_assert_int_eq(jail_hit(j, &keep, t, 0, &ban), i == 0 ? JAIL_COUNTED
									 : i == 50000
										 ? JAIL_BAN
										 : JAIL_BANNED);
		ck_assert_uint_le(jail_tracked(j), 100000);
	}
	ck_assert_uint_eq(jail_tracked(j), 100000);
	ck_assert_uint_eq(jail_get_stats(j)->evictions, 1000001 - 100000);
	/* keep came back often enough never to be the least recently seen: still known banned */
	ck_assert_int_eq(jail_hit(j, &keep, t, 0, &ban), JAIL_BANNED);

	/* the first flood addresses were evicted: their counts start again */
	struct addr first = { .family = AF_INET6, .prefix = 128 };
	first.bytes[0] = 0x20;
	first.bytes[1] = 0x01;
	first.bytes[2] = 0x0d;
	first.bytes[3] = 0xb8;
	ck_assert_int_eq(jail_hit(j, &first, t, 0, &ban), JAIL_COUNTED);
	ck_assert_int_eq(jail_hit(j, &first, t, 0, &ban), JAIL_COUNTED);
	ck_assert_int_eq(jail_hit(j, &first, t, 0, &ban), JAIL_BAN);
}
END_TEST

START_TEST(test_eviction_keeps_lookups_right)
{
	/* Small table, heavy churn: every address still found with its own count after many
	 * deletions (backward-shift deletion must not lose entries in probe runs). */
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;

	p.max_tracked = 7;
	p.maxretry = 2;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	/* Round robin over 11 addresses with room for 7: every hit is a miss and an eviction. */
	for (uint32_t round = 0; round < 2000; round++) {
		struct addr a = { .family = AF_INET, .prefix = 32 };
		uint32_t v = round % 11 + 1;
		memcpy(a.bytes, &v, 4);
		ck_assert_int_eq(jail_hit(j, &a, S, 0, &ban), JAIL_COUNTED);
		ck_assert_uint_le(jail_tracked(j), 7);
	}
	/* The 7 most recent (rounds 1993..1999) are found with their one hit: a second bans. */
	for (uint32_t round = 1993; round < 2000; round++) {
		struct addr a = { .family = AF_INET, .prefix = 32 };
		uint32_t v = round % 11 + 1;
		memcpy(a.bytes, &v, 4);
		ck_assert_int_eq(jail_hit(j, &a, S, 0, &ban), JAIL_BAN);
	}
	ck_assert_uint_eq(jail_tracked(j), 7);
}
END_TEST

/* What the owner remembers (the ban table): the bans this test's recall gives back. */
struct memory {
	struct addr net[4];
	unsigned offences[4];
	uint64_t until[4];
	size_t n, asked;
};

static bool recall_memory(const struct addr *net, void *userdata, unsigned *ret_offences,
			  uint64_t *ret_until_usec)
{
	struct memory *m = userdata;

	m->asked++;
	for (size_t k = 0; k < m->n; k++)
		if (addr_equal(&m->net[k], net)) {
			*ret_offences = m->offences[k];
			*ret_until_usec = m->until[k];
			return true;
		}
	return false;
}

/* A flood past max_tracked makes the jail forget a banned offender: with a recall it is still
 * banned when it comes back (no second decision), and its next ban escalates. */
START_TEST(test_recall_after_eviction)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct memory mem = { 0 };
	struct jail_ban ban;
	struct addr a = A("192.0.2.1");

	p.maxretry = 1;
	p.max_tracked = 4;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	jail_set_recall(j, recall_memory, &mem);
	ck_assert_int_eq(jail_hit(j, &a, 100 * S, 0, &ban), JAIL_BAN);
	mem.net[0] = ban.addr, mem.offences[0] = ban.offence;
	mem.until[0] = ban.time_usec + ban.bantime_usec, mem.n = 1;
	for (uint32_t k = 1; k <= 10; k++) {
		struct addr o = { .family = AF_INET, .prefix = 32 };
		uint32_t v = htonl(0xc6336400 + k); /* 198.51.100.k */
		memcpy(o.bytes, &v, 4);
		ck_assert_int_eq(jail_hit(j, &o, 200 * S, 0, &ban), JAIL_BAN);
	}
	ck_assert_uint_ge(jail_get_stats(j)->evictions, 1);
	ck_assert_int_eq(jail_hit(j, &a, 300 * S, 0, &ban), JAIL_BANNED);
	ck_assert_uint_eq(jail_get_stats(j)->bans, 11);
	/* After the ban: the second offence, twice as long. */
	ck_assert_int_eq(jail_hit(j, &a, 3700 * S, 0, &ban), JAIL_BAN);
	ck_assert_int_eq(ban.offence, 2);
	ck_assert_uint_eq(ban.bantime_usec, 7200 * S);
	/* Asked for new networks only: the offender twice (first seen, back after its eviction)
	 * and the 10 others once. */
	ck_assert_uint_eq(mem.asked, 12);
}
END_TEST

START_TEST(test_bad_params)
{
	struct jail_params p = params();
	struct jail *j = NULL;
	p.maxretry = 0;
	ck_assert_int_eq(jail_new(&p, &j), -EINVAL);
	p = params();
	p.max_tracked = 0;
	ck_assert_int_eq(jail_new(&p, &j), -EINVAL);
	p = params();
	p.bantime_factor = 0.5;
	ck_assert_int_eq(jail_new(&p, &j), -EINVAL);
	ck_assert_ptr_null(j);
}
END_TEST

START_TEST(test_restore)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("192.0.2.50");

	p.maxretry = 1;
	ck_assert_int_eq(jail_new(&p, &j), 0);
	ck_assert_int_eq(jail_restore(j, &a, 2, 5000 * S), 0);
	ck_assert_int_eq(jail_hit(j, &a, 4000 * S, 0, &ban), JAIL_BANNED);
	ck_assert_int_eq(jail_hit(j, &a, 5000 * S, 0, &ban), JAIL_BAN);
	ck_assert_int_eq(ban.offence, 3);
	ck_assert_uint_eq(ban.bantime_usec, 4 * 3600 * S);
}
END_TEST

/* A ban carries the tags of the hits that decided it, oldest first, at most JAIL_TAGS_MAX. */
START_TEST(test_tags)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2");
	uint64_t t = 1700000000 * S;

	ck_assert_int_eq(jail_new(&p, &j), 0);
	ck_assert_int_eq(jail_hit(j, &a, t, 11, &ban), JAIL_COUNTED);
	ck_assert_int_eq(jail_hit(j, &b, t, 99, &ban), JAIL_COUNTED);
	ck_assert_int_eq(jail_hit(j, &a, t + S, 12, &ban), JAIL_COUNTED);
	ck_assert_int_eq(jail_hit(j, &a, t + 2 * S, 13, &ban), JAIL_BAN);
	ck_assert_uint_eq(ban.n_tags, 3);
	ck_assert_uint_eq(ban.tags[0], 11);
	ck_assert_uint_eq(ban.tags[1], 12);
	ck_assert_uint_eq(ban.tags[2], 13);

	/* maxretry 12: the newest 8 of the 12, the ring wrapped around first */
	_cleanup_(jail_freep) struct jail *k = NULL;
	p.maxretry = 12;
	ck_assert_int_eq(jail_new(&p, &k), 0);
	for (uint32_t i = 1; i <= 15; i++) {
		int r = jail_hit(k, &a, t + i * 10 * S, i, &ban);
		ck_assert_int_eq(r, i < 12 ? JAIL_COUNTED : i == 12 ? JAIL_BAN : JAIL_BANNED);
		if (r == JAIL_BAN)
			break;
	}
	ck_assert_uint_eq(ban.n_tags, JAIL_TAGS_MAX);
	for (unsigned i = 0; i < JAIL_TAGS_MAX; i++)
		ck_assert_uint_eq(ban.tags[i], 12 - JAIL_TAGS_MAX + 1 + i);
	/* untagged hits (0) carry nothing */
	ck_assert_int_eq(jail_hit(k, &b, t, 0, &ban), JAIL_COUNTED);
}
END_TEST

/* Restored hits count toward the next ban but never decide one themselves. */
START_TEST(test_restore_hits)
{
	struct jail_params p = params();
	_cleanup_(jail_freep) struct jail *j = NULL;
	struct jail_ban ban;
	struct addr a = A("192.0.2.1");
	uint64_t t = 1700000000 * S, times[] = { t - 300 * S, t - 200 * S, t - 100 * S };

	ck_assert_int_eq(jail_new(&p, &j), 0);
	jail_restore_hits(j, &a, times, 3);
	/* maxretry 3: two of the three come back, so the next hit within findtime bans */
	ck_assert_int_eq(jail_hit(j, &a, t, 0, &ban), JAIL_BAN);
	/* another address: a single restored hit needs two more */
	struct addr b = A("192.0.2.2");
	jail_restore_hits(j, &b, times + 2, 1);
	ck_assert_int_eq(jail_hit(j, &b, t, 0, &ban), JAIL_COUNTED);
	ck_assert_int_eq(jail_hit(j, &b, t + S, 0, &ban), JAIL_BAN);
	/* restored hits older than findtime do not count */
	struct addr c = A("192.0.2.3");
	uint64_t old[] = { t - 2000 * S, t - 1900 * S };
	jail_restore_hits(j, &c, old, 2);
	ck_assert_int_eq(jail_hit(j, &c, t, 0, &ban), JAIL_COUNTED);
	/* never for an allowlisted network */
	struct addr allow = A("192.0.2.4");
	p.allow = &allow;
	p.n_allow = 1;
	_cleanup_(jail_freep) struct jail *k = NULL;
	ck_assert_int_eq(jail_new(&p, &k), 0);
	jail_restore_hits(k, &allow, times, 3);
	ck_assert_uint_eq(jail_tracked(k), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jail");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_maxretry_one_and_mapped);
	tcase_add_test(tc, test_escalation);
	tcase_add_test(tc, test_allowlist);
	tcase_add_test(tc, test_hits_per_network);
	tcase_add_test(tc, test_eviction_spares_offenders);
	tcase_add_test(tc, test_offence_saturates);
	tcase_add_test(tc, test_forever);
	tcase_add_test(tc, test_escalation_to_forever);
	tcase_add_test(tc, test_escalation_never_overflows);
	tcase_add_test(tc, test_flood_bounded);
	tcase_add_test(tc, test_eviction_keeps_lookups_right);
	tcase_add_test(tc, test_bad_params);
	tcase_add_test(tc, test_recall_after_eviction);
	tcase_add_test(tc, test_restore);
	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_restore_hits);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
