/* libFuzzer target: a stream entry's fields, as another host (or an attacker with the Redis
 * password) could write them. The input is NUL-separated tokens, name and value in turn; when its
 * first byte is odd, the harness signs the fields with the fuzz key first, as the MAC scheme of
 * fleet_entry.c says (label, then "name NUL length(4, big-endian) value" per field in the
 * canonical order), so that the checks behind the MAC are reached too. Oracles: nothing but 0,
 * -EBADMSG or -EKEYREJECTED; an entry that decodes encodes again and decodes to the same. */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "fleet_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const order[] = { "v",    "kind",  "net",   "host",	  "jail",    "origin",
				     "time", "since", "until", "offence", "evidence" };
static const uint8_t key[FLEET_KEY_BYTES] = { 7 };

/* Signs v (when it has the fields of order, each once) into mac_hex and points its mac at it. */
static void sign(struct fleet_field *v, size_t n, char *mac_hex)
{
	crypto_auth_hmacsha512256_state st;
	uint8_t mac[crypto_auth_BYTES], len[4];

	crypto_auth_hmacsha512256_init(&st, key, sizeof(key));
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)"waveguard-fleet-1", 18);
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		const struct fleet_field *f = NULL;
		for (size_t i = 0; i < n; i++)
			if (v[i].name_len == strlen(order[k]) &&
			    !memcmp(v[i].name, order[k], v[i].name_len))
				f = &v[i];
		if (!f)
			return;
		crypto_auth_hmacsha512256_update(&st, (const uint8_t *)order[k],
						 strlen(order[k]) + 1);
		len[0] = (uint8_t)(f->value_len >> 24), len[1] = (uint8_t)(f->value_len >> 16);
		len[2] = (uint8_t)(f->value_len >> 8), len[3] = (uint8_t)f->value_len;
		crypto_auth_hmacsha512256_update(&st, len, 4);
		crypto_auth_hmacsha512256_update(&st, (const uint8_t *)f->value, f->value_len);
	}
	crypto_auth_hmacsha512256_final(&st, mac);
	sodium_bin2hex(mac_hex, 2 * crypto_auth_BYTES + 1, mac, sizeof(mac));
	for (size_t i = 0; i < n; i++)
		if (v[i].name_len == 3 && !memcmp(v[i].name, "mac", 3))
			v[i].value = mac_hex, v[i].value_len = 2 * crypto_auth_BYTES;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet_field v[2 * FLEET_ENTRY_FIELDS];
	char mac_hex[2 * crypto_auth_BYTES + 1];
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	struct fleet_entry e, e2;
	struct fleet_fields ff;
	size_t n = 0;

	if (size < 1 || sodium_init() < 0)
		return 0;
	while (p < end && n < sizeof(v) / sizeof(v[0])) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		const char *name = p;
		size_t nl = (size_t)((z ? z : end) - p);
		p = z ? z + 1 : end;
		z = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		v[n++] = (struct fleet_field){ name, p, nl, (size_t)((z ? z : end) - p) };
		p = z ? z + 1 : end;
	}
	if (data[0] & 1)
		sign(v, n, mac_hex);
	int r = fleet_entry_decode(v, n, key, &e);
	if (r != 0 && r != -EBADMSG && r != -EKEYREJECTED)
		__builtin_trap();
	if (r != 0)
		return 0;
	if (fleet_entry_encode(&e, key, &ff) != 0 || fleet_entry_decode(ff.f, ff.n, key, &e2) != 0)
		__builtin_trap();
	if (!addr_equal(&e.net, &e2.net) || !addr_equal(&e.host, &e2.host) || e.kind != e2.kind ||
	    strcmp(e.jail, e2.jail) || strcmp(e.origin, e2.origin) || e.time_usec != e2.time_usec ||
	    e.since_usec != e2.since_usec || e.until_usec != e2.until_usec ||
	    e.offence != e2.offence || e.evidence_len != e2.evidence_len ||
	    (e.evidence_len && memcmp(e.evidence, e2.evidence, e.evidence_len)))
		__builtin_trap();
	return 0;
}
