/* Kernel side of bans: an nftables table with four sets per ban kind and family: networks in
 * interval+timeout sets (set4, set6), single addresses (IPv4 /32, IPv6 /128) in hash sets with
 * timeouts named after them (set4_host, set6_host: an insert into a hash set stays a few
 * microseconds however full it is, one into an interval set of 10,000 costs about 2 ms), and an
 * input chain that drops the connection attempts of banned sources to the mail ports (TCP SYN
 * without ACK: a session open when its source is banned can still finish, so that the server's
 * process for it ends; no conntrack needed), or, in all-ports mode, every packet of banned
 * sources, driven over netlink (libnftnl + libmnl, never the nft binary). Library-like: never
 * logs; returns -errno and reports per-element errors through a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct ban_nft;

/* The names ban_nft_new() uses where the configuration gives none, and the suffix that makes a
 * host set's name from its interval set's. */
#define BAN_NFT_TABLE       "waveguard"
#define BAN_NFT_SET4        "ban4"
#define BAN_NFT_SET6        "ban6"
#define BAN_NFT_CHAIN       "input"
#define BAN_NFT_HOST_SUFFIX "_host"

struct ban_nft_config {
	const char *table;       /* family inet; NULL: "waveguard" */
	const char *set4;        /* type ipv4_addr, flags interval,timeout; NULL: "ban4" */
	const char *set6;        /* type ipv6_addr, flags interval,timeout; NULL: "ban6" */
	/* The host sets are set4 "_host" and set6 "_host" (type ipv4_addr / ipv6_addr, flags
	 * timeout). */
	const char *chain;       /* type filter hook input priority -10; NULL: "input" */
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

/* Ensures, in one atomic batch, the table, the four sets, the chain and exactly its own rules,
 * one per set (the chain is flushed and its rules re-added in the same batch, so a second call
 * adds no duplicate and existing set elements are kept; a table of an earlier version gets the
 * host sets and the current form of the rules, e.g. the SYN-only match). Touches nothing
 * outside the table. Returns 0, or the first -errno the kernel reported (e.g. -EEXIST when a set
 * of that name exists with another type or flags; nothing is then changed). */
int ban_nft_setup(struct ban_nft *b);

/* Queues a ban of the network a (a->prefix; host bits are ignored) for timeout_usec (rounded
 * up to a millisecond; 0 = no timeout). A single address (prefix 32 or 128) is an element of
 * its family's host set; a shorter prefix, the interval [network, network + size) in the
 * interval set (a host inside a banned network is no conflict: they are in different sets).
 * Re-banning an element already in its set never fails: kernels since 6.12 (verified on 6.18,
 * for both kinds of set) update its timeout; older ones (Debian 12's 6.1) keep the element with
 * its old expiry, so there a caller that wants to extend a ban it knows is still in place
 * queues ban_nft_del() then ban_nft_add() (one flush; a delete of an element that expired
 * meanwhile is no error). Nothing is sent before ban_nft_flush(). Returns 0, -EAFNOSUPPORT,
 * -EINVAL (prefix too long) or -ENOMEM (the queue grows geometrically; no allocation once it
 * has reached its peak size). */
int ban_nft_add(struct ban_nft *b, const struct addr *a, uint64_t timeout_usec);

/* Queues the removal of the network a (the same element ban_nft_add() would create). A single
 * address is also removed from the interval set, where an earlier version of waveguard (or the
 * admin) may have put it; that second removal is never reported or counted. An element that is
 * not in the set (expired meanwhile) is not an error. Returns 0 or -errno as ban_nft_add(). */
int ban_nft_del(struct ban_nft *b, const struct addr *a);

/* Number of queued, not yet flushed operations (as many as ban_nft_add/del calls). */
size_t ban_nft_pending(const struct ban_nft *b);

/* error is a negative errno, e.g. -EEXIST for an interval overlapping an existing one, -ENOENT
 * when the set does not exist, -ERANGE for a timeout the kernel refuses. */
typedef void (*ban_nft_error_fn)(const struct addr *a, int error, void *userdata);

/* Sends every queued operation, in queue order per set, as one netlink batch: one sendmsg()
 * of a few large messages (about 2,300 IPv4 or 1,600 IPv6 single addresses, or 1,150 IPv4 or
 * 850 IPv6 networks each), split into several transactions only beyond the 1 MiB batch
 * buffer. Reads every ack without blocking (the kernel
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
 * someone else deleted our table, one of our four sets, our chain or a rule of our chain, made
 * the table dormant, or deleted elements of our sets (a set flush arrives as element deletions and
 * cannot be told apart from single deletions), and when events were lost because the socket
 * overflowed. The caller then runs ban_nft_setup() again and re-adds its bans. Returns the
 * number of events about our table, or -errno (-EBADF before ban_nft_monitor_fd()). */
int ban_nft_monitor_process(struct ban_nft *b, bool *ret_lost);
