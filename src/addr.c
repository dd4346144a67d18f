/* Binary addresses: parsing (with IPv4-mapped IPv6 folded to IPv4), canonical formatting,
 * prefix arithmetic and a keyed hash for the jails' tables. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "macro.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void addr_from_bytes(int family, const void *bytes, struct addr *ret)
{
	struct addr a = { 0 };

	if (family == AF_INET) {
		memcpy(a.bytes, bytes, 4);
		a.family = AF_INET;
		a.prefix = 32;
	} else if (memcmp(bytes, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
		memcpy(a.bytes, (const uint8_t *)bytes + 12, 4);
		a.family = AF_INET;
		a.prefix = 32;
	} else {
		memcpy(a.bytes, bytes, 16);
		a.family = AF_INET6;
		a.prefix = 128;
	}
	*ret = a;
}

int addr_parse(const char *s, size_t len, struct addr *ret)
{
	char buf[INET6_ADDRSTRLEN + 1];
	uint8_t bytes[16];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if (inet_pton(AF_INET, buf, bytes) == 1)
		addr_from_bytes(AF_INET, bytes, ret);
	else if (inet_pton(AF_INET6, buf, bytes) == 1)
		addr_from_bytes(AF_INET6, bytes, ret);
	else
		return -EINVAL;
	return 0;
}

int addr_parse_cidr(const char *s, struct addr *ret)
{
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	struct addr a;
	unsigned long prefix;
	char *end;

	if (addr_parse(s, len, &a) < 0)
		return -EINVAL;
	if (slash) {
		/* A mapped address keeps its IPv6 prefix length meaning: ::ffff:0:0/104 is a /8. */
		bool mapped = a.family == AF_INET && strchr(s, ':');
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno || *end || prefix > (mapped ? 128u : a.family == AF_INET ? 32u : 128u))
			return -EINVAL;
		if (mapped) {
			if (prefix < 96)
				return -EINVAL;
			prefix -= 96;
		}
		addr_mask(&a, (unsigned)prefix);
	}
	*ret = a;
	return 0;
}

const char *addr_format(const struct addr *a, char *buf, size_t size)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned full = a->family == AF_INET ? 32 : 128;

	if (!inet_ntop(a->family, a->bytes, tmp, sizeof(tmp)))
		snprintf(tmp, sizeof(tmp), "?");
	if (a->prefix < full)
		snprintf(buf, size, "%s/%u", tmp, a->prefix);
	else
		snprintf(buf, size, "%s", tmp);
	return buf;
}

void addr_mask(struct addr *a, unsigned prefix)
{
	/* Never widens: the bits past the current prefix are gone already. */
	if (prefix > a->prefix)
		prefix = a->prefix;
	a->prefix = (uint8_t)prefix;
	for (unsigned i = 0; i < 16; i++) {
		unsigned bit = i * 8;
		if (bit >= prefix)
			a->bytes[i] = 0;
		else if (bit + 8 > prefix)
			a->bytes[i] &= (uint8_t)(0xff << (8 - (prefix - bit)));
	}
}

static bool prefix_equal(const uint8_t *x, const uint8_t *y, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(x, y, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (x[whole] & mask) == (y[whole] & mask);
}

bool addr_in_net(const struct addr *a, const struct addr *net)
{
	return a->family == net->family && a->prefix >= net->prefix &&
	       prefix_equal(a->bytes, net->bytes, net->prefix);
}

bool addr_overlaps(const struct addr *a, const struct addr *b)
{
	return a->family == b->family &&
	       prefix_equal(a->bytes, b->bytes, MIN(a->prefix, b->prefix));
}

bool addr_overlaps_any(const struct addr *a, const struct addr *nets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (addr_overlaps(a, &nets[i]))
			return true;
	return false;
}

bool addr_too_wide_to_ban(const struct addr *a)
{
	return a->prefix < (a->family == AF_INET ? 8 : 16);
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

static inline uint64_t mix(uint64_t x)
{
	/* The finaliser of splitmix64: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t addr_hash(const struct addr *a, const uint64_t key[2])
{
	uint64_t lo, hi;

	memcpy(&lo, a->bytes, 8);
	memcpy(&hi, a->bytes + 8, 8);
	uint64_t h = mix(lo ^ key[0]);
	h = mix(h ^ hi ^ key[1]);
	return mix(h ^ ((uint64_t)a->family << 8 | a->prefix));
}
