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

/* Dumps the four sets of the table c describes (NULL, or NULL names: ban_nft_new()'s defaults)
 * on a socket of its own: IPv4 first, then IPv6, each family's interval and host sets merged in
 * ascending order of address, then prefix, and calls fn (may be NULL) for each element. An
 * address in both sets of its family (put in the interval set by an earlier version) is
 * reported twice. Returns the number of elements reported, or -errno (-ENOENT when a set is
 * missing). */
int nftlist_bans(const struct ban_nft_config *c, nftlist_elem_fn fn, void *userdata);

/* nftlist_bans() of port group group of b (its sets, named by ban_nft_group_set()), in the
 * table c describes (NULL as for nftlist_bans()). Returns -EINVAL for a group b does not have. */
int nftlist_group_bans(const struct ban_nft_config *c, const struct ban_nft *b, unsigned group,
		       nftlist_elem_fn fn, void *userdata);
