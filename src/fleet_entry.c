/* The fleet's stream entries as fields, and their MAC. The MAC covers every field but itself, in
 * a fixed order, each as "name NUL length(4 bytes, big-endian) value" after a domain label: no two
 * different entries give the same bytes, whatever their values hold. The entry's own time and
 * its deciding host are MAC'd too, so that a replayed entry is at most what it was: a ban until
 * its original end. Everything read is checked before it is trusted: a MAC proves who wrote it,
 * not that it is well formed. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "fleet_entry.h"

_Static_assert(FLEET_KEY_BYTES == crypto_auth_KEYBYTES, "crypto_auth key size");

#define MAC_LABEL "waveguard-fleet-1"

/* The canonical order of the fields; the MAC is the last one. */
enum field_id {
	F_V,
	F_KIND,
	F_NET,
	F_HOST,
	F_JAIL,
	F_ORIGIN,
	F_TIME,
	F_SINCE,
	F_UNTIL,
	F_OFFENCE,
	F_EVIDENCE,
	F_MAC,
	F_COUNT
};
static const char *const field_names[F_COUNT] = {
	[F_V] = "v",
	[F_KIND] = "kind",
	[F_NET] = "net",
	[F_HOST] = "host",
	[F_JAIL] = "jail",
	[F_ORIGIN] = "origin",
	[F_TIME] = "time",
	[F_SINCE] = "since",
	[F_UNTIL] = "until",
	[F_OFFENCE] = "offence",
	[F_EVIDENCE] = "evidence",
	[F_MAC] = "mac",
};
_Static_assert(F_COUNT == FLEET_ENTRY_FIELDS, "fields");

const char *fleet_kind_to_string(enum fleet_kind k)
{
	return k == FLEET_UNBAN ? "unban" : "ban";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fleet_entry_parse_key(const char *text, size_t len, uint8_t key[FLEET_KEY_BYTES])
{
	uint8_t k[FLEET_KEY_BYTES];

	if (len < 2 * FLEET_KEY_BYTES)
		return -EINVAL;
	for (size_t i = 0; i < FLEET_KEY_BYTES; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		k[i] = (uint8_t)(hi << 4 | lo);
	}
	for (size_t i = 2 * FLEET_KEY_BYTES; i < len; i++)
		if (!strchr(" \t\r\n", text[i]))
			return -EINVAL;
	memcpy(key, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool valid_name(const char *s, size_t len, size_t max)
{
	if (len == 0 || len >= max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

bool fleet_entry_valid_host(const char *s, size_t len)
{
	return valid_name(s, len, FLEET_HOST_MAX);
}

/* The MAC under key of the fields before F_MAC of v (indexed by field id), into out. */
static void mac_of(const struct fleet_field *const *v, const uint8_t *key,
		   uint8_t out[crypto_auth_BYTES])
{
	crypto_auth_hmacsha512256_state st;
	uint8_t len[4];

	crypto_auth_hmacsha512256_init(&st, key, FLEET_KEY_BYTES);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)MAC_LABEL, sizeof(MAC_LABEL));
	for (size_t i = 0; i < F_MAC; i++) {
		size_t l = v[i]->value_len;
		crypto_auth_hmacsha512256_update(&st, (const uint8_t *)field_names[i],
						 strlen(field_names[i]) + 1);
		len[0] = (uint8_t)(l >> 24), len[1] = (uint8_t)(l >> 16);
		len[2] = (uint8_t)(l >> 8), len[3] = (uint8_t)l;
		crypto_auth_hmacsha512256_update(&st, len, sizeof(len));
		crypto_auth_hmacsha512256_update(&st, (const uint8_t *)v[i]->value, l);
	}
	crypto_auth_hmacsha512256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Evidence to send: whole lines, at most BAN_EVIDENCE_MAX bytes. */
static size_t evidence_cut(const char *ev, size_t len)
{
	while (len > BAN_EVIDENCE_MAX) {
		const char *nl = memrchr(ev, '\n', len - 1);
		len = nl ? (size_t)(nl - ev) + 1 : 0;
	}
	return len;
}

/* Appends a value to ret->buf as field id. Returns false when it does not fit. */
static bool put(struct fleet_fields *ret, size_t *used, enum field_id id, const char *val,
		size_t len)
{
	if (*used + len + 1 > sizeof(ret->buf))
		return false;
	memcpy(ret->buf + *used, val, len);
	ret->buf[*used + len] = '\0';
	ret->f[id] = (struct fleet_field){ field_names[id], ret->buf + *used,
					   strlen(field_names[id]), len };
	*used += len + 1;
	return true;
}

static bool putf(struct fleet_fields *ret, size_t *used, enum field_id id, const char *fmt,
		 uint64_t v)
{
	char s[32];
	int n = snprintf(s, sizeof(s), fmt, v);
	return put(ret, used, id, s, (size_t)n);
}

int fleet_entry_encode(const struct fleet_entry *e, const uint8_t key[FLEET_KEY_BYTES],
		       struct fleet_fields *ret)
{
	char net[ADDR_STRLEN], host[ADDR_STRLEN], hex[2 * crypto_auth_BYTES + 1];
	const struct fleet_field *order[F_COUNT];
	uint8_t mac[crypto_auth_BYTES];
	size_t used = 0, evlen = e->evidence ? evidence_cut(e->evidence, e->evidence_len) : 0;
	const char *kind = fleet_kind_to_string(e->kind);

	if (sodium_init() < 0 || !valid_name(e->jail, strlen(e->jail), BAN_JAIL_MAX) ||
	    !fleet_entry_valid_host(e->origin, strlen(e->origin)))
		return -EINVAL;
	addr_format(&e->net, net, sizeof(net));
	addr_format(&e->host, host, sizeof(host));
	if (!put(ret, &used, F_V, FLEET_ENTRY_VERSION, strlen(FLEET_ENTRY_VERSION)) ||
	    !put(ret, &used, F_KIND, kind, strlen(kind)) ||
	    !put(ret, &used, F_NET, net, strlen(net)) ||
	    !put(ret, &used, F_HOST, host, strlen(host)) ||
	    !put(ret, &used, F_JAIL, e->jail, strlen(e->jail)) ||
	    !put(ret, &used, F_ORIGIN, e->origin, strlen(e->origin)) ||
	    !putf(ret, &used, F_TIME, "%" PRIu64, e->time_usec) ||
	    !putf(ret, &used, F_SINCE, "%" PRIu64, e->since_usec) ||
	    !(e->until_usec == BAN_FOREVER
		      ? put(ret, &used, F_UNTIL, "forever", 7)
		      : putf(ret, &used, F_UNTIL, "%" PRIu64, e->until_usec)) ||
	    !putf(ret, &used, F_OFFENCE, "%" PRIu64, e->offence) ||
	    !put(ret, &used, F_EVIDENCE, evlen ? e->evidence : "", evlen))
		return -EINVAL;
	for (size_t i = 0; i < F_COUNT; i++)
		order[i] = &ret->f[i];
	mac_of(order, key, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	if (!put(ret, &used, F_MAC, hex, 2 * crypto_auth_BYTES))
		return -EINVAL;
	ret->n = F_COUNT;
	return 0;
}

/* ---- decoding ---- */

static bool parse_u64(const struct fleet_field *f, uint64_t *ret)
{
	uint64_t v = 0;

	if (f->value_len == 0 || f->value_len > 20)
		return false;
	for (size_t i = 0; i < f->value_len; i++) {
		char c = f->value[i];
		if (c < '0' || c > '9' || v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*ret = v;
	return true;
}

static bool is(const struct fleet_field *f, const char *s)
{
	return f->value_len == strlen(s) && memcmp(f->value, s, f->value_len) == 0;
}

static bool parse_addr(const struct fleet_field *f, struct addr *ret)
{
	char s[ADDR_STRLEN];

	if (f->value_len == 0 || f->value_len >= sizeof(s) || memchr(f->value, '\0', f->value_len))
		return false;
	memcpy(s, f->value, f->value_len);
	s[f->value_len] = '\0';
	return addr_parse_cidr(s, ret) >= 0;
}

/* "USEC TEXT\n" lines, printable, as the ban table keeps them. */
static bool valid_evidence(const char *s, size_t len)
{
	if (len == 0)
		return true;
	if (len > BAN_EVIDENCE_MAX || s[len - 1] != '\n')
		return false;
	for (size_t i = 0, start = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			const char *sp = memchr(s + start, ' ', i - start);
			if (!sp || sp == s + start)
				return false;
			for (const char *d = s + start; d < sp; d++)
				if (*d < '0' || *d > '9')
					return false;
			start = i + 1;
		} else if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Puts each known field of v at its place in by_id; false on an unknown or repeated one. */
static bool sort_fields(const struct fleet_field *v, size_t n, const struct fleet_field **by_id)
{
	for (size_t i = 0; i < F_COUNT; i++)
		by_id[i] = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t id = 0;
		while (id < F_COUNT && (strlen(field_names[id]) != v[i].name_len ||
					memcmp(field_names[id], v[i].name, v[i].name_len) != 0))
			id++;
		if (id == F_COUNT || by_id[id])
			return false;
		by_id[id] = &v[i];
	}
	for (size_t i = 0; i < F_COUNT; i++)
		if (!by_id[i])
			return false;
	return true;
}

/* The fields' values into e, checked; false when one is malformed. */
static bool fill(const struct fleet_field *const *f, struct fleet_entry *e)
{
	uint64_t off;

	if (!is(f[F_V], FLEET_ENTRY_VERSION))
		return false;
	if (is(f[F_KIND], "ban"))
		e->kind = FLEET_BAN;
	else if (is(f[F_KIND], "unban"))
		e->kind = FLEET_UNBAN;
	else
		return false;
	if (!parse_addr(f[F_NET], &e->net) || !parse_addr(f[F_HOST], &e->host) ||
	    e->host.family != e->net.family || !addr_in_net(&e->host, &e->net))
		return false;
	if (!valid_name(f[F_JAIL]->value, f[F_JAIL]->value_len, BAN_JAIL_MAX) ||
	    !fleet_entry_valid_host(f[F_ORIGIN]->value, f[F_ORIGIN]->value_len))
		return false;
	memcpy(e->jail, f[F_JAIL]->value, f[F_JAIL]->value_len);
	e->jail[f[F_JAIL]->value_len] = '\0';
	memcpy(e->origin, f[F_ORIGIN]->value, f[F_ORIGIN]->value_len);
	e->origin[f[F_ORIGIN]->value_len] = '\0';
	if (!parse_u64(f[F_TIME], &e->time_usec) || !parse_u64(f[F_SINCE], &e->since_usec) ||
	    !parse_u64(f[F_OFFENCE], &off) || off > UINT32_MAX)
		return false;
	e->offence = (uint32_t)off;
	if (is(f[F_UNTIL], "forever"))
		e->until_usec = BAN_FOREVER;
	else if (!parse_u64(f[F_UNTIL], &e->until_usec) || e->until_usec == BAN_FOREVER)
		return false;
	if (!valid_evidence(f[F_EVIDENCE]->value, f[F_EVIDENCE]->value_len))
		return false;
	e->evidence = f[F_EVIDENCE]->value_len ? f[F_EVIDENCE]->value : NULL;
	e->evidence_len = f[F_EVIDENCE]->value_len;
	return true;
}

int fleet_entry_decode(const struct fleet_field *v, size_t n, const uint8_t key[FLEET_KEY_BYTES],
		       struct fleet_entry *ret)
{
	const struct fleet_field *by_id[F_COUNT];
	uint8_t mac[crypto_auth_BYTES], want[crypto_auth_BYTES];
	struct fleet_entry e = { 0 };

	if (sodium_init() < 0 || !sort_fields(v, n, by_id))
		return -EBADMSG;
	if (by_id[F_MAC]->value_len != 2 * crypto_auth_BYTES ||
	    sodium_hex2bin(mac, sizeof(mac), by_id[F_MAC]->value, by_id[F_MAC]->value_len, NULL,
			   NULL, NULL) != 0)
		return -EBADMSG;
	/* The MAC first: nothing of a forged entry is looked at further. */
	mac_of(by_id, key, want);
	if (sodium_memcmp(mac, want, sizeof(mac)) != 0)
		return -EKEYREJECTED;
	if (!fill(by_id, &e))
		return -EBADMSG;
	*ret = e;
	return 0;
}
