/* fleet_entry: encoding and decoding of the stream's entries, the MAC (a wrong key, a changed
 * field, a field moved between names), malformed fields, the evidence bound and the key file. */
#include "fleet_entry.h"
#include "testutil.h"

#define S   (1000000ULL)
#define NOW (1800000000ULL * S)

static const uint8_t key[FLEET_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

static struct fleet_entry sample(void)
{
	static const char ev[] =
		"1799999990000000 courieresmtpd: error,relay=::ffff:192.0.2.7: 511\n"
		"1799999995000000 courieresmtpd: second line\n";
	struct fleet_entry e = {
		.kind = FLEET_BAN,
		.time_usec = NOW,
		.since_usec = NOW - S,
		.until_usec = NOW + 3600 * S,
		.offence = 3,
		.evidence = ev,
		.evidence_len = sizeof(ev) - 1,
	};
	ck_assert_int_eq(addr_parse_cidr("192.0.2.0/24", &e.net), 0);
	ck_assert_int_eq(addr_parse_cidr("192.0.2.7", &e.host), 0);
	snprintf(e.jail, sizeof(e.jail), "courier-dnsbl");
	snprintf(e.origin, sizeof(e.origin), "mx1.example.org");
	return e;
}

static const char *value(const struct fleet_fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->f[i].name, name) == 0)
			return f->f[i].value;
	return NULL;
}

START_TEST(test_roundtrip)
{
	struct fleet_entry e = sample(), d;
	struct fleet_fields f;
	char s[ADDR_STRLEN];

	ck_assert_int_eq(fleet_entry_encode(&e, key, &f), 0);
	ck_assert_uint_eq(f.n, FLEET_ENTRY_FIELDS);
	ck_assert_str_eq(value(&f, "net"), "192.0.2.0/24");
	ck_assert_str_eq(value(&f, "until"), "1800003600000000");
	ck_assert_str_eq(value(&f, "origin"), "mx1.example.org");
	ck_assert_uint_eq(strlen(value(&f, "mac")), 64);
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n, key, &d), 0);
	ck_assert_int_eq(d.kind, FLEET_BAN);
	ck_assert_str_eq(addr_format(&d.net, s, sizeof(s)), "192.0.2.0/24");
	ck_assert_str_eq(addr_format(&d.host, s, sizeof(s)), "192.0.2.7");
	ck_assert_str_eq(d.jail, "courier-dnsbl");
	ck_assert_str_eq(d.origin, "mx1.example.org");
	ck_assert_uint_eq(d.time_usec, NOW);
	ck_assert_uint_eq(d.since_usec, NOW - S);
	ck_assert_uint_eq(d.until_usec, NOW + 3600 * S);
	ck_assert_uint_eq(d.offence, 3);
	ck_assert_uint_eq(d.evidence_len, e.evidence_len);
	ck_assert(memcmp(d.evidence, e.evidence, e.evidence_len) == 0);

	/* forever, an unban, IPv6, no evidence */
	e.kind = FLEET_UNBAN;
	e.until_usec = BAN_FOREVER;
	e.evidence = NULL;
	e.evidence_len = 0;
	ck_assert_int_eq(addr_parse_cidr("2001:db8:1:2::/64", &e.net), 0);
	ck_assert_int_eq(addr_parse_cidr("2001:db8:1:2::9", &e.host), 0);
	ck_assert_int_eq(fleet_entry_encode(&e, key, &f), 0);
	ck_assert_str_eq(value(&f, "until"), "forever");
	ck_assert_str_eq(value(&f, "kind"), "unban");
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n, key, &d), 0);
	ck_assert_int_eq(d.kind, FLEET_UNBAN);
	ck_assert_uint_eq(d.until_usec, BAN_FOREVER);
	ck_assert_ptr_null(d.evidence);
	ck_assert_str_eq(addr_format(&d.net, s, sizeof(s)), "2001:db8:1:2::/64");
}
END_TEST

START_TEST(test_forged)
{
	struct fleet_entry e = sample(), d = { .offence = 77 };
	struct fleet_fields f;
	uint8_t other[FLEET_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12 };

	ck_assert_int_eq(fleet_entry_encode(&e, key, &f), 0);
	/* another key */
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n, other, &d), -EKEYREJECTED);
	ck_assert_uint_eq(d.offence, 77);
	/* one field changed: a longer ban */
	struct fleet_fields g = f;
	for (size_t i = 0; i < g.n; i++)
		g.f[i].value = g.buf + (f.f[i].value - f.buf), g.f[i].name = f.f[i].name;
	for (size_t i = 0; i < g.n; i++)
		if (strcmp(g.f[i].name, "until") == 0)
			g.f[i].value = "1900000000000000";
	ck_assert_int_eq(fleet_entry_decode(g.f, g.n, key, &d), -EKEYREJECTED);
	/* the values of since and time swapped between the names */
	g = f;
	for (size_t i = 0; i < g.n; i++)
		g.f[i].value = g.buf + (f.f[i].value - f.buf);
	size_t t = 0, s = 0;
	for (size_t i = 0; i < g.n; i++) {
		t = strcmp(g.f[i].name, "time") == 0 ? i : t;
		s = strcmp(g.f[i].name, "since") == 0 ? i : s;
	}
	struct fleet_field tmp = g.f[t];
	g.f[t].value = g.f[s].value, g.f[t].value_len = g.f[s].value_len;
	g.f[s].value = tmp.value, g.f[s].value_len = tmp.value_len;
	ck_assert_int_eq(fleet_entry_decode(g.f, g.n, key, &d), -EKEYREJECTED);
	/* fields in another order are the same entry */
	g = f;
	for (size_t i = 0; i < g.n; i++)
		g.f[i] = f.f[g.n - 1 - i];
	ck_assert_int_eq(fleet_entry_decode(g.f, g.n, key, &d), 0);
	ck_assert_uint_eq(d.offence, 3);
}
END_TEST

START_TEST(test_malformed)
{
	struct fleet_entry e = sample(), d;
	struct fleet_fields f;

	ck_assert_int_eq(fleet_entry_encode(&e, key, &f), 0);
	/* a missing field, a repeated one, an unknown one */
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n - 1, key, &d), -EBADMSG);
	struct fleet_field v[FLEET_ENTRY_FIELDS + 1];
	memcpy(v, f.f, sizeof(f.f));
	v[f.n] = f.f[0];
	ck_assert_int_eq(fleet_entry_decode(v, f.n + 1, key, &d), -EBADMSG);
	v[f.n] = (struct fleet_field){ "extra", "1", 5, 1 };
	ck_assert_int_eq(fleet_entry_decode(v, f.n + 1, key, &d), -EBADMSG);
	/* a MAC that is no hex */
	memcpy(v, f.f, sizeof(f.f));
	for (size_t i = 0; i < f.n; i++)
		if (strcmp(v[i].name, "mac") == 0)
			v[i].value = "zz";
	ck_assert_int_eq(fleet_entry_decode(v, f.n, key, &d), -EBADMSG);

	/* Validly MAC'd but malformed: an offender outside the network, a bad jail name, a
	 * control character in the evidence, evidence without a time. */
	struct fleet_entry bad = sample();
	ck_assert_int_eq(addr_parse_cidr("198.51.100.1", &bad.host), 0);
	ck_assert_int_eq(fleet_entry_encode(&bad, key, &f), 0);
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n, key, &d), -EBADMSG);
	bad = sample();
	bad.evidence = "1 a\x1b[2Jb\n";
	bad.evidence_len = strlen(bad.evidence);
	ck_assert_int_eq(fleet_entry_encode(&bad, key, &f), 0);
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n, key, &d), -EBADMSG);
	bad.evidence = "no time\n";
	bad.evidence_len = strlen(bad.evidence);
	ck_assert_int_eq(fleet_entry_encode(&bad, key, &f), 0);
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n, key, &d), -EBADMSG);
	/* names that cannot be sent */
	bad = sample();
	snprintf(bad.jail, sizeof(bad.jail), "a b");
	ck_assert_int_eq(fleet_entry_encode(&bad, key, &f), -EINVAL);
	bad = sample();
	snprintf(bad.origin, sizeof(bad.origin), "mx1;rm");
	ck_assert_int_eq(fleet_entry_encode(&bad, key, &f), -EINVAL);
}
END_TEST

START_TEST(test_evidence_cut)
{
	struct fleet_entry e = sample(), d;
	struct fleet_fields f;
	char ev[3 * BAN_EVIDENCE_MAX];
	size_t len = 0;

	while (len + 100 < sizeof(ev)) {
		len += (size_t)snprintf(ev + len, sizeof(ev) - len, "1799999990000000 %080zu\n",
					len);
	}
	e.evidence = ev;
	e.evidence_len = len;
	ck_assert_int_eq(fleet_entry_encode(&e, key, &f), 0);
	ck_assert_int_eq(fleet_entry_decode(f.f, f.n, key, &d), 0);
	ck_assert_uint_le(d.evidence_len, BAN_EVIDENCE_MAX);
	ck_assert_uint_gt(d.evidence_len, BAN_EVIDENCE_MAX - 100);
	ck_assert_int_eq(d.evidence[d.evidence_len - 1], '\n');
}
END_TEST

START_TEST(test_key)
{
	uint8_t k[FLEET_KEY_BYTES] = { 0 };
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";

	ck_assert_int_eq(fleet_entry_parse_key(hex, strlen(hex), k), 0);
	ck_assert_uint_eq(k[0x1f], 0x1f);
	ck_assert_uint_eq(k[0x0a], 0x0a);
	char withnl[80];
	snprintf(withnl, sizeof(withnl), "%s\n", hex);
	ck_assert_int_eq(fleet_entry_parse_key(withnl, strlen(withnl), k), 0);
	ck_assert_int_eq(fleet_entry_parse_key(hex, 63, k), -EINVAL);
	snprintf(withnl, sizeof(withnl), "%sx", hex);
	ck_assert_int_eq(fleet_entry_parse_key(withnl, strlen(withnl), k), -EINVAL);
	ck_assert_int_eq(fleet_entry_parse_key("g0", 2, k), -EINVAL);
	ck_assert(fleet_entry_valid_host("mx1.example-1_b", 15));
	ck_assert(!fleet_entry_valid_host("", 0));
	ck_assert(!fleet_entry_valid_host("a b", 3));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fleet_entry");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_forged);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_evidence_cut);
	tcase_add_test(tc, test_key);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
