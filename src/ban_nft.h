/* Kernel side of bans: an nftables table with a set per ban kind and family: single addresses
 * (IPv4 /32, IPv6 /128) in hash sets with timeouts (set4_host, set6_host), networks of a prefix
 * length the jails ban (an IPv6 /64, an IPv4 /24) in hash sets of network addresses named after
 * it (set6_64, set4_24; the rule masks the source address before the lookup), networks of any
 * other width in interval+timeout sets (set4, set6). A hash set's insert stays a few microseconds
 * however full it is; an interval set's transaction costs the kernel time in proportion to the
 * elements it holds (about 5 ms at 90,000). An input chain drops the connection attempts of
 * banned sources to the mail ports (TCP SYN without ACK: a session open when its source is
 * banned can still finish, so that the server's process for it ends; no conntrack needed), or,
 * in all-ports mode, every packet of banned sources, driven over netlink (libnftnl + libmnl,
 * never the nft binary). Those sets and their rules are one port group; jails that close other
 * ports get groups of their own, with sets of their own and their rules in the same chain.
 * Library-like: never logs; returns -errno and reports per-element errors through a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct ban_nft;

/* The names ban_nft_new() uses where the configuration gives none, and the suffix that makes a
 * host set's name from its interval set's. */
#define BAN_NFT_TABLE	    "waveguard"
#define BAN_NFT_SET4	    "ban4"
#define BAN_NFT_SET6	    "ban6"
#define BAN_NFT_CHAIN	    "input"
#define BAN_NFT_HOST_SUFFIX "_host"

/* Port groups at most in one ban_nft (the default one included). */
#define BAN_NFT_GROUPS_MAX 16
/* Prefix sets (ban_nft_group_prefix()) at most in one ban_nft, all groups together. */
#define BAN_NFT_PREFIX_SETS_MAX 64

struct ban_nft_config {
	const char *table; /* family inet; NULL: "waveguard" */
	const char *set4;  /* type ipv4_addr, flags interval,timeout; NULL: "ban4" */
	const char *set6;  /* type ipv6_addr, flags interval,timeout; NULL: "ban6" */
	/* The host sets are set4 "_host" and set6 "_host" (type ipv4_addr / ipv6_addr, flags
	 * timeout). */
	const char *chain; /* type filter hook input priority -10; NULL: "input" */
	/* Destination TCP ports whose connection attempts (SYN set, ACK clear) from banned
	 * sources are dropped; the packets of sessions already open pass. NULL/0: 25, 465, 587 */
	const uint16_t *ports;
	size_t n_ports;
	/* Firewall-style block: drop every packet from banned sources, whatever its protocol,
	 * port or flags, those of open sessions included (ports ignored). */
	bool all_ports;
};

/* Copies the configuration (names at most 255 bytes, set4 and set6 at most 250 so that their
 * host sets' names fit; the four set names distinct; at most 64 ports) and opens the netlink
 * socket. Sends nothing. Returns 0 and sets *ret, or -EINVAL / -ENAMETOOLONG / -ENOMEM / the
 * socket's -errno. */
int ban_nft_new(const struct ban_nft_config *c, struct ban_nft **ret);

/* Closes the sockets; does not touch the kernel's tables (bans outlive the daemon). Accepts
 * NULL; returns NULL. */
struct ban_nft *ban_nft_free(struct ban_nft *b);

/* Ensures, in one atomic batch, the table, the four sets of every port group and its prefix
 * sets, the chain and exactly its own rules, one per set (the chain is flushed and its rules
 * re-added in the same batch, so a second call adds no duplicate and existing set elements are
 * kept; a table of an earlier version gets the sets it lacks and the current form of the rules,
 * e.g. the SYN-only match, and keeps its elements: networks of an earlier version's bans stay in
 * the interval sets, which keep their rules). The sets of a group or prefix length b no longer
 * has (a port list or prefix length changed across a restart) stay, without rules, until their
 * elements expire or ban_nft_cleanup(). Touches nothing outside the table. Returns 0, or the
 * first -errno the kernel reported (e.g. -EEXIST when a set of that name exists with another
 * type or flags; nothing is then changed). */
int ban_nft_setup(struct ban_nft *b);

/* Queues a ban of the network a in the default group (group 0: the ports of ban_nft_config;
 * ban_nft_add_group() for another) for timeout_usec (rounded
 * up to a millisecond; 0 = no timeout). A single address (prefix 32 or 128) is an element of
 * its family's host set; a network of a prefix length the group has a prefix set for, its
 * network address in that set; any other network, the interval [network, network + size) in
 * the interval set (a host inside a banned network is no conflict: they are in different sets).
 * Re-banning an element already in its set never fails: kernels since 6.12 (verified on 6.18,
 * for both kinds of set) update its timeout; older ones (Debian 12's 6.1) keep the element with
 * its old expiry, so there a caller that wants to extend a ban it knows is still in place
 * queues ban_nft_del() then ban_nft_add() (one flush; a delete of an element that expired
 * meanwhile is no error). Nothing is sent before ban_nft_flush(). Returns 0, -EAFNOSUPPORT,
 * -EINVAL (prefix too long) or -ENOMEM (the queue grows geometrically; no allocation once it
 * has reached its peak size). */
int ban_nft_add(struct ban_nft *b, const struct addr *a, uint64_t timeout_usec);

/* ban_nft_add() into the sets of port group group (from ban_nft_group()); -EINVAL for a group
 * b does not have. */
int ban_nft_add_group(struct ban_nft *b, unsigned group, const struct addr *a,
		      uint64_t timeout_usec);

/* Queues the removal of the network a (the same element ban_nft_add() would create) from the
 * sets of every port group: a ban made before a reload that changed its jail's ports is in the
 * sets of its old group, and an address banned by jails of two groups is in both. A single
 * address, and a network of a prefix set, is also removed from the interval sets, where an
 * earlier version of waveguard (or the admin) may have put it. Only one of these removals is
 * reported and counted. An element that is not in the set (expired meanwhile) is not an error.
 * Returns 0 or -errno as ban_nft_add(). */
int ban_nft_del(struct ban_nft *b, const struct addr *a);

/* Number of queued, not yet flushed operations (as many as ban_nft_add/del calls). */
size_t ban_nft_pending(const struct ban_nft *b);

/* Port groups. Group 0 is made by ban_nft_new() from the configuration: the sets set4, set6 and
 * their host twins, closing ports (or all). ban_nft_group() finds the group of a port list, or
 * adds one: ports compare as sets (order and duplicates do not matter; all_ports ignores ports
 * and matches only all-ports groups), so jails that close the same ports share a group. A new
 * group's sets are named after group 0's: set4 "_p" and the 8 hex digits of a hash of its
 * ports (set4 "_all" for all ports), e.g. ban4_p1a2b3c4d, ban4_p1a2b3c4d_host, ban6_p1a2b3c4d,
 * ban6_p1a2b3c4d_host: the same ports give the same names at every start, so a restart finds
 * its elements in place. A new group exists in the kernel after the next ban_nft_setup().
 * Returns 0 and sets *ret, -EINVAL (no ports, a port 0, more than 64), -ENOSPC (already
 * BAN_NFT_GROUPS_MAX groups), -ENAMETOOLONG, or -EEXIST (its names are another group's: two
 * port lists with the same hash). */
int ban_nft_group(struct ban_nft *b, const uint16_t *ports, size_t n_ports, bool all_ports,
		  unsigned *ret);

/* The index of the group of that port list, -ENOENT when b has none, or -EINVAL. Adds
 * nothing. */
int ban_nft_group_find(const struct ban_nft *b, const uint16_t *ports, size_t n_ports,
		       bool all_ports);

/* The number of groups (at least 1). */
size_t ban_nft_groups(const struct ban_nft *b);

/* Gives port group group a prefix set for family's networks of prefix length prefix (what its
 * jails' prefix4 or prefix6 is): a hash set with timeouts (flags timeout) of network addresses,
 * named after the group's interval set with "_" and the length (ban6_64, ban4_24,
 * ban6_p1a2b3c4d_64), and a rule that looks up the source address masked to that length in it.
 * Bans of that width then go there instead of to the interval set. It exists in the kernel after
 * the next ban_nft_setup(). Returns 1 when it was added, 0 when there is nothing to add (the
 * group has it, or prefix is the host's: single addresses have their host sets), -EINVAL (no
 * such group or family, prefix 0 or too long), -ENOSPC (already BAN_NFT_PREFIX_SETS_MAX),
 * -ENAMETOOLONG, or -EEXIST (the name is another set's). */
int ban_nft_group_prefix(struct ban_nft *b, unsigned group, int family, unsigned prefix);

/* The number of prefix sets, all groups together. */
size_t ban_nft_prefix_sets(const struct ban_nft *b);

/* Forgets the groups from index groups on (groups >= 1) and the prefix sets from the
 * prefix_sets-th on (those added after ban_nft_groups() and ban_nft_prefix_sets() said so), and
 * the prefix sets of forgotten groups: undoes ban_nft_group() and ban_nft_group_prefix() calls
 * whose ban_nft_setup() failed. Nothing may be queued (flush first). Their sets stay in the
 * kernel. */
void ban_nft_trim(struct ban_nft *b, size_t groups, size_t prefix_sets);

/* The name of group group's interval set of family (AF_INET, AF_INET6; its host set is the name
 * and BAN_NFT_HOST_SUFFIX), or NULL for a group or family b does not have. */
const char *ban_nft_group_set(const struct ban_nft *b, unsigned group, int family);

/* The name of group group's prefix set of family and prefix, or NULL when it has none. */
const char *ban_nft_group_prefix_set(const struct ban_nft *b, unsigned group, int family,
				     unsigned prefix);

/* error is a negative errno, e.g. -EEXIST for an interval overlapping an existing one, -ENOENT
 * when the set does not exist, -ERANGE for a timeout the kernel refuses. */
typedef void (*ban_nft_error_fn)(const struct addr *a, int error, void *userdata);

/* Sends every queued operation, in queue order per set, as one netlink batch: one sendmsg()
 * of a few large messages (about 2,300 IPv4 or 1,600 IPv6 single addresses or prefix sets'
 * networks, or 1,150 IPv4 or 850 IPv6 interval set networks each), split into several
 * transactions only beyond the 1 MiB batch buffer. Reads every ack without blocking (the kernel
 * answers within sendmsg()). A transaction is atomic in the kernel, so one bad element would
 * undo all the others: each failing element is reported once through on_error (may be NULL)
 * with the address it was queued with, and the transaction is re-sent without it (errors are
 * located through the extended-ACK attribute offset; where the kernel gives none, the elements
 * of the failed message are retried one per message). A delete of an absent element is
 * success. on_error must not call back into b. The queue is empty afterwards, whatever the
 * outcome. Returns the number of operations whose outcome is as requested (>= 0), or -errno
 * when the socket failed (then some operations may not have been applied and were not
 * reported). */
int ban_nft_flush(struct ban_nft *b, ban_nft_error_fn on_error, void *userdata);

/* Counters of the last ban_nft_flush(): transactions (batches sent with one sendmsg each,
 * including re-sends after element errors), netlink messages in them (element messages, not
 * counting batch begin/end) and bytes sent. */
struct ban_nft_stats {
	unsigned sends;
	unsigned messages;
	size_t bytes;
};
void ban_nft_last_stats(const struct ban_nft *b, struct ban_nft_stats *ret);

/* Deletes the whole table with its sets, chain and bans. A missing table is success. Returns 0
 * or -errno. */
int ban_nft_cleanup(struct ban_nft *b);

/* Change monitor. Opens (on first call) a second, non-blocking netlink socket subscribed to the
 * nf_tables change events, with a socket filter that drops the events our own socket caused (so
 * a 10,000-ban burst does not flood it). Returns the fd to poll for input (owned by b), or
 * -errno. */
int ban_nft_monitor_fd(struct ban_nft *b);

/* Reads every pending event without blocking. Sets *ret_lost = true (never resets it) when
 * someone else deleted our table, one of our sets (a group's or a prefix set), our chain or a
 * rule of our chain, made the table dormant, or deleted elements of our sets (a set flush
 * arrives as element deletions and cannot be told apart from single deletions), and when events
 * were lost because the socket overflowed. The caller then runs ban_nft_setup() again and re-adds
 * its bans. Returns the number of events about our table, or -errno (-EBADF before
 * ban_nft_monitor_fd()). */
int ban_nft_monitor_process(struct ban_nft *b, bool *ret_lost);
