/* Binary network addresses and prefixes: the only form an address takes past the filter. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* 32 / 128 for a single host */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	};
};

/* Longest text addr_format() writes: an IPv6 address, '/', three digits, NUL. */
#define ADDR_STRLEN (INET6_ADDRSTRLEN + 4)

/* Parses an IPv4 or IPv6 host address of exactly len bytes (no NUL needed). IPv4-mapped IPv6
 * (::ffff:a.b.c.d) becomes the IPv4 address. Returns 0 and fills *ret, or -EINVAL. */
int addr_parse(const char *s, size_t len, struct addr *ret);

/* A host address from its network-order bytes (4 for AF_INET, 16 for AF_INET6); IPv4-mapped
 * IPv6 becomes the IPv4 address, as in addr_parse(). */
void addr_from_bytes(int family, const void *bytes, struct addr *ret);

/* Parses "a.b.c.d[/n]" or "x::y[/n]" (NUL-terminated). Host bits are cleared. Returns 0 or
 * -EINVAL. */
int addr_parse_cidr(const char *s, struct addr *ret);

/* Canonical text: dotted quad for IPv4, RFC 5952 for IPv6; "/n" only when the prefix is not a
 * whole address. Returns buf. */
const char *addr_format(const struct addr *a, char *buf, size_t size);

/* Clears the bits past prefix and sets a->prefix (never above the current prefix). */
void addr_mask(struct addr *a, unsigned prefix);

/* True when a (whatever its own prefix) lies inside the network net. */
bool addr_in_net(const struct addr *a, const struct addr *net);

/* True when the two networks share at least one address. */
bool addr_overlaps(const struct addr *a, const struct addr *b);

/* True when a shares an address with any of the n networks: the allowlist rule (a ban of a
 * network must not touch an allowlisted host inside it). */
bool addr_overlaps_any(const struct addr *a, const struct addr *nets, size_t n);

bool addr_equal(const struct addr *a, const struct addr *b);

/* Wider than any ban may be (/8, or /16 for IPv6), the bounds of prefix4/prefix6: nobody means
 * to drop a quarter of the Internet. */
bool addr_too_wide_to_ban(const struct addr *a);

/* Keyed hash (the key comes from the caller's random seed, so a flood of chosen addresses
 * cannot collide on purpose). */
uint64_t addr_hash(const struct addr *a, const uint64_t key[2]);
