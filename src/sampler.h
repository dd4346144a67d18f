/* The connection counter of the watch: a synchronous sock_diag (NETLINK_SOCK_DIAG) dump counts
 * the TCP sockets on the SMTP ports by state, the accept queues of their listeners, the distinct
 * remote addresses and the addresses holding the most connections; on request it also reports
 * each established connection with the kernel's tcp_info, and closes one exactly named
 * (SOCK_DESTROY). Library-like: never logs; returns -errno. */
#pragma once

#include <linux/inet_diag.h>
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

/* One established connection on the ports, as the kernel reports it in the dump: the socket's
 * own identity (family and inet_diag_sockid with its cookie: enough to name exactly this socket
 * again, see sampler_destroy()) and what its tcp_info says about the two sides' data. */
struct sampler_conn {
	uint8_t family;		    /* of the socket: AF_INET, or AF_INET6 (dual-stack too) */
	struct inet_diag_sockid id; /* as dumped: ports in network order, the cookie */
	struct addr peer;	    /* the client; IPv4-mapped peers folded to IPv4 */
	uint16_t local_port, peer_port;
	/* tcp_info (INET_DIAG_INFO). Without it (has_info false) the fields below are 0; a
	 * kernel older than 4.1 sends it without the byte counters (has_bytes false). */
	bool has_info, has_bytes;
	uint32_t unacked;	    /* segments the server sent that are not acknowledged yet */
	uint32_t last_data_recv_ms; /* since the client's last data; since the handshake when it
				       sent none */
	uint32_t last_data_sent_ms; /* since the server's last data (retransmissions too) */
	uint64_t bytes_received;    /* data bytes the client sent */
	uint64_t bytes_acked;	    /* data bytes the server sent that the client acknowledged */
};

/* Called for each established connection during a sample: c is valid during the call only. */
typedef void (*sampler_conn_fn)(const struct sampler_conn *c, void *userdata);

/* sampler_sample() that also asks the kernel for each socket's tcp_info and calls fn (when not
 * NULL) for every established connection on the ports, in dump order, including those still
 * waiting in a listener's accept queue. The same results and errors as sampler_sample(); fn
 * may have been called for connections of a sample that then fails. */
int sampler_sample_conns(struct sampler *s, struct sample *ret, sampler_conn_fn fn, void *userdata);

/* Closes the connection c names from the kernel's side (SOCK_DESTROY, what `ss -K` does): the
 * peer gets a reset and the process holding the socket sees ECONNABORTED. The kernel looks the
 * socket up by c's family, addresses, ports and interface, and refuses it when its cookie is
 * not c's: a socket that closed meanwhile and a new one on the same addresses and ports are
 * never confused. Call outside a sample. Returns 0; -ENOENT when there is no such socket (any
 * more), or one with another cookie (-ESTALE for that on older kernels); -EOPNOTSUPP when the
 * kernel cannot close sockets (built without CONFIG_INET_DIAG_DESTROY), -EPERM without
 * CAP_NET_ADMIN, -EINVAL for a c that is not a connection on the ports, or the socket's
 * -errno. */
int sampler_destroy(struct sampler *s, const struct sampler_conn *c);

/* Whether the kernel can close sockets at all: asks it to close a socket that cannot exist.
 * Returns 1 (it looked for it: -ENOENT), 0 (-EOPNOTSUPP), or another -errno. */
int sampler_destroy_supported(struct sampler *s);

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
