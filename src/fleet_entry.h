/* One entry of the fleet's Redis stream: a ban or an unban decided by one host, as the field/value
 * pairs of an XADD, with a MAC over every field under the fleet key (libsodium's crypto_auth,
 * HMAC-SHA-512-256). Pure: no I/O, no loop; the fleet room sends and reads what this encodes and
 * decodes, and the fuzzer feeds it hostile fields. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bans.h"

#define FLEET_KEY_BYTES 32
/* A host name of the fleet: letters, digits, '.', '_', '-', at most 63 bytes. */
#define FLEET_HOST_MAX 64
/* Fields of an entry (the MAC included). */
#define FLEET_ENTRY_FIELDS 12
/* Bytes of an entry's values at most: the evidence and a few hundred for the rest. */
#define FLEET_ENTRY_MAX (BAN_EVIDENCE_MAX + 768)
/* The version an entry carries; another one is refused (and counted as malformed). */
#define FLEET_ENTRY_VERSION "1"

enum fleet_kind {
	FLEET_BAN,   /* net is banned until until_usec */
	FLEET_UNBAN, /* the ban of net was lifted by its host (an admin's unban) */
};

struct fleet_entry {
	enum fleet_kind kind;
	struct addr net;  /* the banned network */
	struct addr host; /* the offender */
	char jail[BAN_JAIL_MAX];
	char origin[FLEET_HOST_MAX];	 /* the host that decided it */
	uint64_t time_usec;		 /* when it was decided (realtime of origin) */
	uint64_t since_usec, until_usec; /* the ban's; until BAN_FOREVER: permanent */
	uint32_t offence;
	/* "USEC TEXT\n" lines (as struct ban's), or NULL; decode() points into its input. */
	const char *evidence;
	size_t evidence_len;
};

/* One field of a stream entry: name and value with their lengths (not NUL-terminated). */
struct fleet_field {
	const char *name, *value;
	size_t name_len, value_len;
};

/* An encoded entry: the fields in their canonical order, the values in buf. */
struct fleet_fields {
	struct fleet_field f[FLEET_ENTRY_FIELDS];
	size_t n;
	char buf[FLEET_ENTRY_MAX + 2 * 128];
};

/* Reads a key file's text: 64 hexadecimal digits, then optional white space. Returns 0 and fills
 * key, or -EINVAL. */
int fleet_entry_parse_key(const char *text, size_t len, uint8_t key[FLEET_KEY_BYTES]);

/* Letters, digits, '.', '_', '-', 1 to 63 bytes. */
bool fleet_entry_valid_host(const char *s, size_t len);

/* Encodes e with its MAC under key into *ret. Evidence past BAN_EVIDENCE_MAX is cut at a line's
 * end. Returns 0, or -EINVAL when e cannot be sent (a bad jail or host name). */
int fleet_entry_encode(const struct fleet_entry *e, const uint8_t key[FLEET_KEY_BYTES],
		       struct fleet_fields *ret);

/* Decodes the n fields of a stream entry. Returns 0 and fills *ret (its evidence points into
 * the fields), -EBADMSG when a field is missing, repeated, unknown or malformed (or another
 * version), -EKEYREJECTED when the MAC does not match (a forged or altered entry). */
int fleet_entry_decode(const struct fleet_field *v, size_t n, const uint8_t key[FLEET_KEY_BYTES],
		       struct fleet_entry *ret);

/* "ban" or "unban". */
const char *fleet_kind_to_string(enum fleet_kind k);
