/* The connection counter of the watch: a synchronous sock_diag (NETLINK_SOCK_DIAG) dump counts
 * the TCP sockets on the SMTP ports by state, the accept queues of their listeners, the distinct
 * remote addresses and the addresses holding the most connections. Library-like: never logs;
 * returns -errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define SAMPLER_TOP	  10
#define SAMPLER_PORTS_MAX 64

struct sampler;

struct sampler_top {
	struct addr addr; /* IPv4-mapped IPv6 peers (dual-stack listeners) are folded to IPv4 */
	uint32_t count;
};

struct sample {
	/* Non-listening TCP sockets whose LOCAL port is one of the ports (the server side of a
	 * connection; connections waiting unaccepted in a listener's queue are established
	 * too). SYN_RECV covers half-open connections (request sockets); other is every
	 * remaining state: CLOSE_WAIT, FIN_WAIT*, LAST_ACK, CLOSING, TIME_WAIT, ... */
	uint32_t established, syn_recv, other;
	/* Sums over the listening sockets on those ports: connections completed by the kernel
	 * and waiting to be accept()ed, and the configured limits (listen()'s backlog after the
	 * kernel's somaxconn clamp). Linux queues up to backlog_max + 1 per listener. */
	uint32_t backlog;
	uint32_t backlog_max;
	/* Distinct remote addresses among the non-listening sockets counted above past the
	 * handshake: not SYN_RECV (a forged SYN names any address it likes), nor TIME_WAIT (a
	 * closed connection that the kernel remembers for a minute: the server closes first after
	 * QUIT, so each recent delivery of a legitimate sender leaves one). */
	uint32_t distinct;
	/* The addresses with the most of those sockets, most first (ties in any order): the
	 * concurrent connections per address. */
	struct sampler_top top[SAMPLER_TOP];
	size_t n_top;
};

/* Copies the ports (NULL or 0: 25, 465, 587; at most SAMPLER_PORTS_MAX, none 0; duplicates
 * are harmless), opens the NETLINK_SOCK_DIAG socket in the caller's network namespace and
 * preallocates the receive buffer and a counting table for 1,024 remote addresses. Sends
 * nothing. Returns 0 and sets *ret, or -EINVAL / -ENOMEM / the socket's -errno. */
int sampler_new(const uint16_t *ports, size_t n_ports, struct sampler **ret);

/* Closes the socket. Accepts NULL; returns NULL. */
struct sampler *sampler_free(struct sampler *s);

/* Takes one sample. By default one dump of every TCP socket of both families, through the old
 * TCPDIAG_GETSOCK request (the only one the kernel answers for AF_UNSPEC: it walks its socket
 * hash once instead of once per family, a third faster with 10,000 connections); a kernel that
 * refuses it gets one SOCK_DIAG_BY_FAMILY dump per family (AF_INET, AF_INET6) from then on.
 * Either way the kernel filters by local port. Not atomic: the kernel walks its hash tables
 * while connections come and go, so a socket that changes state meanwhile may be missed or seen
 * twice. Does not allocate once the counting table has reached the peak number of distinct
 * remote addresses (it doubles when needed). Returns 0 and fills *ret, or -errno (*ret
 * untouched): -ENOMEM when the table cannot grow, the socket's error otherwise (the next call
 * then opens a fresh socket). */
int sampler_sample(struct sampler *s, struct sample *ret);

/* For measurements and tests; the results are the same either way. By default the dump
 * carries an inet_diag bytecode filter so that the kernel sends only the sockets on our ports;
 * with on = false every TCP socket is sent and filtered here. A kernel that refuses the filter
 * switches it off for good. */
void sampler_set_kernel_filter(struct sampler *s, bool on);
bool sampler_kernel_filter(const struct sampler *s);

/* Likewise: on = false asks for one dump per family instead of one for both. */
void sampler_set_single_dump(struct sampler *s, bool on);

/* Counters of the last successful sampler_sample(). */
struct sampler_stats {
	unsigned dumps;	  /* dump requests answered: 1 (both families) or 2 (per family) */
	unsigned recvs;	  /* recvmsg() calls */
	size_t bytes;	  /* bytes received */
	uint32_t sockets; /* sockets the kernel reported (before our port check) */
	unsigned grows;	  /* times the counting table grew (allocations) */
};
void sampler_last_stats(const struct sampler *s, struct sampler_stats *ret);
