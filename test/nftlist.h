/* Test helper: the elements the kernel holds in the sets of a ban_nft table, read back over
 * netlink. Linked into the check binaries that need it (see the Makefile). */
#pragma once

#include <stdint.h>

#include "addr.h"
#include "ban_nft.h"

/* expires_usec: remaining time in microseconds, UINT64_MAX for an element without timeout.
 * a is a network (an element of a host set: prefix 32 or 128); an interval that is no CIDR
 * block (added by hand) is reported as the CIDR blocks that cover it exactly, each with the
 * same expiry. */
typedef void (*nftlist_elem_fn)(const struct addr *a, uint64_t expires_usec, void *userdata);

/* Dumps the sets of the table c describes (NULL, or NULL names: ban_nft_new()'s defaults) on a
 * socket of its own: the four sets, and the prefix sets the table holds for them (set4 or set6,
 * "_" and a prefix length: ban4_24, ban6_64; their elements reported with that prefix). IPv4
 * first, then IPv6, each family's sets merged in ascending order of address, then prefix, and
 * calls fn (may be NULL) for each element. A network in two sets of its family (put in the
 * interval set by an earlier version) is reported twice. Returns the number of elements
 * reported, or -errno (-ENOENT when a set or the table is missing). */
int nftlist_bans(const struct ban_nft_config *c, nftlist_elem_fn fn, void *userdata);

/* nftlist_bans() of port group group of b (its sets, named by ban_nft_group_set()), in the
 * table c describes (NULL as for nftlist_bans()). Returns -EINVAL for a group b does not have. */
int nftlist_group_bans(const struct ban_nft_config *c, const struct ban_nft *b, unsigned group,
		       nftlist_elem_fn fn, void *userdata);
