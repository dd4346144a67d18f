/* sampler against the real kernel: real loopback connections in a private network namespace (a
 * fresh one per test), counted through sock_diag: states, listener queues, distinct and top
 * remote addresses, IPv6 and dual-stack listeners, ports that are not ours, and a timing with
 * 10,000 connections; each established connection's tcp_info and the reaper's verdict on it;
 * closing one connection by its exact identity (SOCK_DESTROY), never another one that took its
 * addresses and ports. Needs root (skips with 77 otherwise). */
#include "reaper.h"
#include "sampler.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void lo_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

/* Every test (a forked child) gets its own namespace: no socket of an earlier test, not even
 * one in TIME_WAIT, is seen. */
static void fresh_netns(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s", strerror(errno));
	lo_up();
}

static socklen_t sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	ck_assert_msg(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1, "bad address %s", addr);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	return sizeof(*in6);
}

/* A listener on addr:port; "::" is dual-stack, other IPv6 addresses are IPv6-only. */
static int listener(const char *addr, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(addr, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	if (ss.ss_family == AF_INET6) {
		int v6only = strcmp(addr, "::") != 0;
		ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)),
				 0);
	}
	ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind %s:%u: %s", addr, port,
		      strerror(errno));
	ck_assert_int_eq(listen(fd, backlog), 0);
	return fd;
}

/* A client bound to src (port 0) connected to dst:port; blocking unless nonblock (then the
 * connection may still be in progress). */
static int client(const char *src, const char *dst, uint16_t port, bool nonblock)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(src, 0, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
			0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind %s: %s", src,
		      strerror(errno));
	len = sockaddr_of(dst, port, &ss);
	int r = connect(fd, (struct sockaddr *)&ss, len);
	ck_assert_msg(r == 0 || (nonblock && errno == EINPROGRESS), "connect %s -> %s:%u: %s", src,
		      dst, port, strerror(errno));
	return fd;
}

/* The k-th client address: 127.1.x.y, every one distinct up to 62,500. */
static const char *client_addr(unsigned k)
{
	static char buf[8][INET_ADDRSTRLEN];
	static unsigned i;
	i = (i + 1) % ELEMENTSOF(buf);
	ck_assert_uint_lt(k, 250 * 250);
	snprintf(buf[i], sizeof(buf[i]), "127.1.%u.%u", (k / 250) & 0xff, (k % 250 + 1) & 0xff);
	return buf[i];
}

/* The file descriptors a test opened, closed with a reset (no TIME_WAIT left behind). */
struct conns {
	int *fd;
	size_t n, cap;
};

static void conns_add(struct conns *c, int fd)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->fd = realloc(c->fd, c->cap * sizeof(int));
		ck_assert_ptr_nonnull(c->fd);
	}
	c->fd[c->n++] = fd;
}

static void conns_close(struct conns *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	for (size_t i = 0; i < c->n; i++) {
		(void)setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c->fd[i]);
	}
	free(c->fd);
	*c = (struct conns){ 0 };
}

/* Opens one connection from src to dst:port and accepts it on l; both ends go to c. Returns the
 * server side. */
static int connect_accept(struct conns *c, int l, const char *src, const char *dst, uint16_t port)
{
	conns_add(c, client(src, dst, port, false));
	int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_msg(a >= 0, "accept: %s", strerror(errno));
	conns_add(c, a);
	return a;
}

static struct sampler *new_sampler(const uint16_t *ports, size_t n)
{
	struct sampler *s = NULL;
	int r = sampler_new(ports, n, &s);
	ck_assert_msg(r == 0, "sampler_new: %s", strerror(-r));
	return s;
}

/* The four ways to dump: mode 0 is the default (one dump, kernel filter). */
enum { MODES = 4 };
static void set_mode(struct sampler *s, int mode)
{
	sampler_set_kernel_filter(s, !(mode & 1));
	sampler_set_single_dump(s, !(mode & 2));
}

static const char *mode_name(int mode)
{
	static const char *const names[MODES] = {
		"one dump, kernel filter",
		"one dump, user-space filter",
		"a dump per family, kernel filter",
		"a dump per family, user-space filter",
	};
	return names[mode];
}

/* Checks that the last sample used the mode (nothing fell back). */
static void assert_mode(struct sampler *s, int mode)
{
	struct sampler_stats st;
	sampler_last_stats(s, &st);
	ck_assert_uint_eq(sampler_kernel_filter(s), !(mode & 1));
	ck_assert_uint_eq(st.dumps, (mode & 2) ? 2 : 1);
}

static struct sample take(struct sampler *s)
{
	struct sample smp;
	int r = sampler_sample(s, &smp);
	ck_assert_msg(r == 0, "sampler_sample: %s", strerror(-r));
	return smp;
}

/* Samples until the counter at offset off (a uint32_t of struct sample) equals want, for at most
 * 5 s; returns the last sample. */
static struct sample wait_for(struct sampler *s, size_t off, uint32_t want)
{
	uint64_t deadline = now_usec() + 5 * USEC_PER_SEC;
	struct sample smp;
	uint32_t got;
	for (;;) {
		smp = take(s);
		memcpy(&got, (const char *)&smp + off, sizeof(got));
		if (got == want || now_usec() > deadline)
			break;
		usleep(1000);
	}
	ck_assert_msg(got == want, "counter at %zu: %u after 5 s, want %u", off, got, want);
	return smp;
}

/* Index of addr (text) in smp->top, or -1. */
static int top_find(const struct sample *smp, const char *addr)
{
	struct addr a;
	ck_assert_int_eq(addr_parse(addr, strlen(addr), &a), 0);
	for (size_t i = 0; i < smp->n_top; i++)
		if (addr_equal(&smp->top[i].addr, &a))
			return (int)i;
	return -1;
}

static const char *fmt(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned i;
	i = (i + 1) % 4;
	return addr_format(a, buf[i], sizeof(buf[i]));
}

static void assert_top_sorted(const struct sample *smp)
{
	for (size_t i = 1; i < smp->n_top; i++)
		ck_assert_uint_ge(smp->top[i - 1].count, smp->top[i].count);
}

START_TEST(test_new_args)
{
	static const uint16_t zero[] = { 25, 0 };
	uint16_t many[SAMPLER_PORTS_MAX + 1];
	struct sampler *s = NULL;

	for (size_t i = 0; i < ELEMENTSOF(many); i++)
		many[i] = (uint16_t)(1000 + i % 40); /* 65 entries: too many, duplicates or not */
	ck_assert_int_eq(sampler_new(NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(sampler_new(zero, ELEMENTSOF(zero), &s), -EINVAL);
	ck_assert_int_eq(sampler_new(NULL, 1, &s), -EINVAL);
	ck_assert_int_eq(sampler_new(many, ELEMENTSOF(many), &s), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_ptr_null(sampler_free(NULL));

	/* 64 distinct ports: the longest program the kernel must accept. Connections on the
	 * first port (1000: the first comparison), the last one (1063: the one without a jump)
	 * and one in the middle, none on a port just outside. */
	for (size_t i = 0; i < SAMPLER_PORTS_MAX; i++)
		many[i] = (uint16_t)(1000 + i);
	static const uint16_t on[] = { 1000, 1031, 1063, 999, 1064 };
	static const unsigned conns_on[] = { 1, 2, 3, 4, 5 };
	struct conns c = { 0 };
	unsigned k = 0;
	for (size_t p = 0; p < ELEMENTSOF(on); p++) {
		int l = listener("127.0.0.1", on[p], 16);
		conns_add(&c, l);
		for (unsigned i = 0; i < conns_on[p]; i++)
			connect_accept(&c, l, client_addr(k++), "127.0.0.1", on[p]);
	}
	s = new_sampler(many, SAMPLER_PORTS_MAX);
	struct sample smp = take(s);
	assert_mode(s, 0);
	ck_assert_uint_eq(smp.established, 1 + 2 + 3);
	ck_assert_uint_eq(smp.backlog_max, 3 * 16);
	struct sampler_stats st;
	sampler_last_stats(s, &st);
	ck_assert_uint_eq(st.sockets, 3 + 6); /* nothing else left the kernel */
	ck_assert_ptr_null(sampler_free(s));

	/* One port (a program without jumps), given twice. */
	static const uint16_t one[] = { 1063, 1063 };
	s = new_sampler(one, ELEMENTSOF(one));
	smp = take(s);
	assert_mode(s, 0);
	ck_assert_uint_eq(smp.established, 3);
	ck_assert_uint_eq(smp.distinct, 3);
	sampler_last_stats(s, &st);
	ck_assert_uint_eq(st.sockets, 1 + 3);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

static const unsigned counts_n[] = { 0, 1, 37, 300 };

START_TEST(test_counts)
{
	unsigned n = counts_n[_i];
	struct conns c = { 0 };
	int l = listener("127.0.0.1", 25, 128), l6 = listener("::1", 25, 64);
	conns_add(&c, l);
	conns_add(&c, l6);
	for (unsigned i = 0; i < n; i++)
		connect_accept(&c, l, client_addr(i), "127.0.0.1", 25);

	struct sampler *s = new_sampler(NULL, 0);
	for (int mode = 0; mode < MODES; mode++) {
		set_mode(s, mode);
		struct sample smp = take(s);
		assert_mode(s, mode);
		ck_assert_uint_eq(smp.established, n);
		ck_assert_uint_eq(smp.syn_recv, 0);
		ck_assert_uint_eq(smp.other, 0);
		ck_assert_uint_eq(smp.backlog, 0);
		ck_assert_uint_eq(smp.backlog_max, 128 + 64);
		ck_assert_uint_eq(smp.distinct, n);
		ck_assert_uint_eq(smp.n_top, MIN(n, SAMPLER_TOP));
		for (size_t i = 0; i < smp.n_top; i++) {
			const struct addr *a = &smp.top[i].addr;
			ck_assert_uint_eq(smp.top[i].count, 1);
			ck_assert_msg(a->family == AF_INET && a->prefix == 32 &&
					      a->bytes[0] == 127 && a->bytes[1] == 1,
				      "not a client: %s", fmt(a));
		}
		/* With the kernel filter only the server sides and the listeners arrive; without
		 * it the client sides too (local port ephemeral, remote port 25). */
		struct sampler_stats st;
		sampler_last_stats(s, &st);
		ck_assert_uint_eq(st.sockets, (mode & 1) ? 2 * n + 2 : n + 2);
		ck_assert_uint_eq(st.grows, 0);
	}
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_top)
{
	struct conns c = { 0 };
	int l = listener("127.0.0.1", 25, 128);
	conns_add(&c, l);
	for (unsigned i = 0; i < 25; i++)
		connect_accept(&c, l, "127.0.0.77", "127.0.0.1", 25);
	for (unsigned i = 0; i < 3; i++)
		connect_accept(&c, l, "127.0.0.78", "127.0.0.1", 25);
	for (unsigned i = 0; i < 12; i++)
		connect_accept(&c, l, client_addr(i), "127.0.0.1", 25);

	struct sampler *s = new_sampler(NULL, 0);
	struct sample smp = take(s);
	ck_assert_uint_eq(smp.established, 40);
	ck_assert_uint_eq(smp.distinct, 14);
	ck_assert_uint_eq(smp.n_top, SAMPLER_TOP);
	ck_assert_int_eq(top_find(&smp, "127.0.0.77"), 0);
	ck_assert_uint_eq(smp.top[0].count, 25);
	ck_assert_int_eq(top_find(&smp, "127.0.0.78"), 1);
	ck_assert_uint_eq(smp.top[1].count, 3);
	for (size_t i = 2; i < smp.n_top; i++)
		ck_assert_uint_eq(smp.top[i].count, 1);

	/* The same with the counts reversed in arrival order: the order of the dump is not the
	 * order of the result. */
	for (unsigned i = 0; i < 30; i++)
		connect_accept(&c, l, "127.0.0.79", "127.0.0.1", 25);
	smp = take(s);
	ck_assert_uint_eq(smp.established, 70);
	ck_assert_uint_eq(smp.distinct, 15);
	ck_assert_int_eq(top_find(&smp, "127.0.0.79"), 0);
	ck_assert_uint_eq(smp.top[0].count, 30);
	ck_assert_int_eq(top_find(&smp, "127.0.0.77"), 1);
	ck_assert_int_eq(top_find(&smp, "127.0.0.78"), 2);
	assert_top_sorted(&smp);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_ipv6)
{
	struct conns c = { 0 };
	ck_assert_int_eq(system("ip -6 addr add 2001:db8::10/128 dev lo nodad"), 0);
	int l6 = listener("::1", 25, 128), l = listener("127.0.0.1", 25, 128);
	conns_add(&c, l6);
	conns_add(&c, l);
	for (unsigned i = 0; i < 5; i++)
		connect_accept(&c, l6, "::1", "::1", 25);
	for (unsigned i = 0; i < 2; i++)
		connect_accept(&c, l6, "2001:db8::10", "::1", 25);
	connect_accept(&c, l, "127.0.0.9", "127.0.0.1", 25);

	struct sampler *s = new_sampler(NULL, 0);
	struct sample smp = take(s);
	ck_assert_uint_eq(smp.established, 8);
	ck_assert_uint_eq(smp.distinct, 3);
	ck_assert_uint_eq(smp.n_top, 3);
	ck_assert_int_eq(top_find(&smp, "::1"), 0);
	ck_assert_uint_eq(smp.top[0].count, 5);
	ck_assert_uint_eq(smp.top[0].addr.family, AF_INET6);
	ck_assert_uint_eq(smp.top[0].addr.prefix, 128);
	ck_assert_int_eq(top_find(&smp, "2001:db8::10"), 1);
	ck_assert_uint_eq(smp.top[1].count, 2);
	ck_assert_int_eq(top_find(&smp, "127.0.0.9"), 2);
	ck_assert_uint_eq(smp.backlog_max, 256);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_dual_stack_mapped)
{
	struct conns c = { 0 };
	int l = listener("::", 25, 100);
	conns_add(&c, l);
	connect_accept(&c, l, "127.0.0.5", "127.0.0.1", 25);
	connect_accept(&c, l, "127.0.0.5", "127.0.0.1", 25);
	connect_accept(&c, l, "::1", "::1", 25);

	struct sampler *s = new_sampler(NULL, 0);
	for (int mode = 0; mode < MODES; mode++) {
		set_mode(s, mode);
		struct sample smp = take(s);
		assert_mode(s, mode);
		ck_assert_uint_eq(smp.established, 3);
		ck_assert_uint_eq(smp.distinct, 2);
		ck_assert_uint_eq(smp.backlog_max, 100);
		/* ::ffff:127.0.0.5 on the IPv6 sockets is the IPv4 address. */
		ck_assert_int_eq(top_find(&smp, "127.0.0.5"), 0);
		ck_assert_uint_eq(smp.top[0].addr.family, AF_INET);
		ck_assert_uint_eq(smp.top[0].addr.prefix, 32);
		ck_assert_uint_eq(smp.top[0].count, 2);
		ck_assert_int_eq(top_find(&smp, "::1"), 1);
		if (!(mode & 1)) {
			/* All server sides are AF_INET6 sockets (the listener's and the accepted
			 * ones): only they arrive. */
			struct sampler_stats st;
			sampler_last_stats(s, &st);
			ck_assert_uint_eq(st.sockets, 4);
		}
	}
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_backlog)
{
	struct conns c = { 0 };
	int l = listener("127.0.0.1", 25, 128);
	conns_add(&c, l);
	/* Connected by the kernel, never accepted: what clients see when Courier is at
	 * MAXDAEMONS. The queued connections are established sockets too. */
	for (unsigned i = 0; i < 20; i++)
		conns_add(&c, client(client_addr(i), "127.0.0.1", 25, false));

	struct sampler *s = new_sampler(NULL, 0);
	struct sample smp = take(s);
	ck_assert_uint_eq(smp.backlog, 20);
	ck_assert_uint_eq(smp.backlog_max, 128);
	ck_assert_uint_eq(smp.established, 20);
	ck_assert_uint_eq(smp.distinct, 20);

	for (unsigned i = 0; i < 5; i++) {
		int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ck_assert_int_ge(a, 0);
		conns_add(&c, a);
	}
	smp = take(s);
	ck_assert_uint_eq(smp.backlog, 15);
	ck_assert_uint_eq(smp.established, 20);

	/* The limit reported is listen()'s argument after the kernel's clamp to somaxconn. */
	unsigned somaxconn = 0;
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%u", &somaxconn), 1);
	fclose(f);
	conns_add(&c, listener("::1", 465, 1 << 20));
	smp = take(s);
	ck_assert_uint_eq(smp.backlog_max, 128 + somaxconn);
	printf("listen(fd, 1048576): backlog_max %u (somaxconn %u)\n", smp.backlog_max - 128,
	       somaxconn);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_backlog_full)
{
	struct conns c = { 0 };
	int l = listener("127.0.0.1", 587, 2);
	conns_add(&c, l);
	/* Linux queues up to backlog + 1 completed connections; later SYNs are dropped (those
	 * clients stay in SYN_SENT on their side and are not ours to count). */
	for (unsigned i = 0; i < 6; i++)
		conns_add(&c, client(client_addr(i), "127.0.0.1", 587, true));

	struct sampler *s = new_sampler(NULL, 0);
	struct sample smp = wait_for(s, offsetof(struct sample, backlog), 3);
	ck_assert_uint_eq(smp.backlog_max, 2);
	ck_assert_uint_eq(smp.established, 3);
	ck_assert_uint_eq(smp.syn_recv, 0);
	ck_assert_uint_eq(smp.other, 0);
	printf("listen(fd, 2): %u connections queued, backlog_max %u\n", smp.backlog,
	       smp.backlog_max);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_syn_recv)
{
	/* With TCP_DEFER_ACCEPT the listener drops the client's bare final ACK: the connection
	 * stays a request socket (SYN_RECV) until the client sends data, although the client
	 * already sees it established. */
	struct conns c = { 0 };
	int l = listener("127.0.0.1", 25, 128), secs = 30;
	conns_add(&c, l);
	ck_assert_int_eq(setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)), 0);
	int first = -1;
	for (unsigned i = 0; i < 4; i++) {
		int fd = client(client_addr(i), "127.0.0.1", 25, false);
		if (i == 0)
			first = fd;
		conns_add(&c, fd);
	}

	struct sampler *s = new_sampler(NULL, 0);
	struct sample smp = take(s);
	ck_assert_uint_eq(smp.syn_recv, 4);
	ck_assert_uint_eq(smp.established, 0);
	ck_assert_uint_eq(smp.backlog, 0);
	/* Half-open sockets count toward the wave, never toward an address: a SYN's source is
	 * forgeable, so they would let anyone get any address banned as a connection hog. */
	ck_assert_uint_eq(smp.distinct, 0);
	ck_assert_uint_eq(smp.n_top, 0);
	ck_assert_int_lt(top_find(&smp, client_addr(3)), 0);

	/* Data completes the handshake: an established connection in the accept queue, and its
	 * peer is now a proven address. */
	ck_assert_int_eq(write(first, "EHLO x\r\n", 8), 8);
	smp = wait_for(s, offsetof(struct sample, established), 1);
	ck_assert_uint_eq(smp.syn_recv, 3);
	ck_assert_uint_eq(smp.backlog, 1);
	ck_assert_uint_eq(smp.distinct, 1);
	ck_assert_int_ge(top_find(&smp, client_addr(0)), 0);
	ck_assert_int_lt(top_find(&smp, client_addr(3)), 0);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_other_states)
{
	struct conns c = { 0 }, cl = { 0 };
	int l = listener("127.0.0.1", 25, 128);
	int srv[7];
	conns_add(&c, l);
	for (unsigned i = 0; i < 7; i++) {
		int fd = client(client_addr(i), "127.0.0.1", 25, false);
		conns_add(&cl, fd);
		srv[i] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ck_assert_int_ge(srv[i], 0);
	}
	struct sampler *s = new_sampler(NULL, 0);
	ck_assert_uint_eq(take(s).established, 7);

	/* Clients hang up first: the server sides wait in CLOSE_WAIT (the clients' FIN_WAIT2
	 * sockets have an ephemeral local port and are not counted). */
	for (size_t i = 0; i < cl.n; i++)
		close(cl.fd[i]);
	free(cl.fd);
	struct sample smp = wait_for(s, offsetof(struct sample, other), 7);
	ck_assert_uint_eq(smp.established, 0);
	ck_assert_uint_eq(smp.distinct, 7);

	/* The server closes 3 of them: LAST_ACK, then gone (the clients hold the TIME_WAIT). */
	for (unsigned i = 0; i < 3; i++)
		close(srv[i]);
	smp = wait_for(s, offsetof(struct sample, other), 4);
	ck_assert_uint_eq(smp.distinct, 4);
	for (unsigned i = 3; i < 7; i++)
		conns_add(&c, srv[i]);

	/* The server hangs up first: after the client's close its side is in TIME_WAIT, a
	 * kernel-only socket with local port 25, counted as other but not as a connection of its
	 * peer. */
	int a = connect_accept(&c, l, "127.0.0.99", "127.0.0.1", 25);
	int cfd = c.fd[c.n - 2];
	c.n -= 2;
	close(a);
	close(cfd);
	smp = wait_for(s, offsetof(struct sample, other), 5);
	ck_assert_uint_eq(smp.established, 0);
	ck_assert_uint_eq(smp.distinct, 4);
	ck_assert_int_eq(top_find(&smp, "127.0.0.99"), -1);

	/* Many recent deliveries of one sender: TIME_WAIT sockets, never a top address. Each from
	 * its own source port: an ephemeral port picked again would make the new SYN take over
	 * the old TIME_WAIT socket, and the count would depend on the kernel's choice. */
	for (unsigned i = 0; i < 30; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sockaddr_of("127.0.0.98", (uint16_t)(41000 + i), &ss);
		cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(cfd, 0);
		ck_assert_int_eq(
			setsockopt(cfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)), 0);
		ck_assert_msg(bind(cfd, (struct sockaddr *)&ss, len) == 0, "bind: %s",
			      strerror(errno));
		len = sockaddr_of("127.0.0.1", 25, &ss);
		ck_assert_int_eq(connect(cfd, (struct sockaddr *)&ss, len), 0);
		a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ck_assert_int_ge(a, 0);
		close(a);
		close(cfd);
	}
	smp = wait_for(s, offsetof(struct sample, other), 35);
	ck_assert_uint_eq(smp.distinct, 4);
	ck_assert_int_eq(top_find(&smp, "127.0.0.98"), -1);
	ck_assert_uint_eq(smp.top[0].count, 1);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

START_TEST(test_other_ports_ignored)
{
	static const uint16_t ports[] = { 25, 465, 587, 2525, 2587 };
	static const unsigned conns_per_port[] = { 2, 1, 1, 10, 0 };
	static const uint16_t only_2525[] = { 2525 };
	struct conns c = { 0 };
	unsigned k = 0;

	for (size_t p = 0; p < ELEMENTSOF(ports); p++) {
		int l = listener("127.0.0.1", ports[p], 128);
		conns_add(&c, l);
		for (unsigned i = 0; i < conns_per_port[p]; i++)
			connect_accept(&c, l, client_addr(k++), "127.0.0.1", ports[p]);
	}
	struct sampler *s = new_sampler(NULL, 0);
	for (int mode = 0; mode < MODES; mode++) {
		set_mode(s, mode);
		struct sample smp = take(s);
		assert_mode(s, mode);
		ck_assert_uint_eq(smp.established, 4);
		ck_assert_uint_eq(smp.backlog_max, 3 * 128);
		ck_assert_uint_eq(smp.distinct, 4);
	}
	sampler_free(s);

	s = new_sampler(only_2525, ELEMENTSOF(only_2525));
	struct sample smp = take(s);
	ck_assert_uint_eq(smp.established, 10);
	ck_assert_uint_eq(smp.backlog_max, 128);
	ck_assert_uint_eq(smp.distinct, 10);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

/* Raises the soft limit of open files to n (the hard limit is not ours to raise: without
 * CAP_SYS_RESOURCE, as in some containers, it is fixed). */
static void raise_nofile(rlim_t n)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur >= n)
		return;
	ck_assert_msg(rl.rlim_max >= n, "RLIMIT_NOFILE hard limit %llu < %llu",
		      (unsigned long long)rl.rlim_max, (unsigned long long)n);
	rl.rlim_cur = n;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* A helper process that holds the n client sides (each process has its own RLIMIT_NOFILE, so
 * 10,000 connections fit a hard limit of 20,000): connects from client_addr(0..n-1) to
 * 127.0.0.1:port, writes one byte to *ret_ready_fd when done (or closes it on failure), and
 * exits (closing them all) when *ret_quit_fd is closed. Returns its pid. */
static pid_t spawn_clients(unsigned n, uint16_t port, int *ret_ready_fd, int *ret_quit_fd)
{
	int ready[2], quit[2];
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(quit, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		close(quit[1]);
		struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (unsigned i = 0; i < n; i++) {
			struct sockaddr_in src = { .sin_family = AF_INET };
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			if (fd < 0 || inet_pton(AF_INET, client_addr(i), &src.sin_addr) != 1 ||
			    bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
			    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
				fprintf(stderr, "client %u: %s\n", i, strerror(errno));
				_exit(1);
			}
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		char b;
		while (read(quit[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(quit[0]);
	*ret_ready_fd = ready[0];
	*ret_quit_fd = quit[1];
	return pid;
}

/* Best of 5 samples, in milliseconds. */
static double best_of_5(struct sampler *s, uint32_t want)
{
	double best = 1e9;
	for (int i = 0; i < 5; i++) {
		struct sample smp;
		uint64_t t0 = now_usec();
		ck_assert_int_eq(sampler_sample(s, &smp), 0);
		double ms = (double)(now_usec() - t0) / 1000.0;
		ck_assert_uint_eq(smp.established, want);
		best = ms < best ? ms : best;
	}
	return best;
}

START_TEST(test_10000)
{
	enum { N = 10000 };
	struct conns c = { 0 };
	int ready, quit;
	raise_nofile(N + 100);
	int l = listener("127.0.0.1", 25, 4096);
	conns_add(&c, l);
	/* The fixed cost: the kernel walks its whole established hash (sized by RAM, shared by all
	 * namespaces) even when it is empty. */
	struct sampler *s = new_sampler(NULL, 0);
	printf("sample of 0 connections: %.2f ms (best of 5)\n", best_of_5(s, 0));

	uint64_t t0 = now_usec();
	pid_t pid = spawn_clients(N, 25, &ready, &quit);
	for (unsigned i = 0; i < N; i++) {
		int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ck_assert_msg(a >= 0, "accept %u: %s", i, strerror(errno));
		conns_add(&c, a);
	}
	char b;
	ck_assert_msg(read(ready, &b, 1) == 1, "the client process failed");
	printf("opened %u loopback connections in %.0f ms\n", N,
	       (double)(now_usec() - t0) / 1000.0);

	struct sampler_stats st;
	struct sample smp = take(s);
	ck_assert_uint_eq(smp.established, N);
	ck_assert_uint_eq(smp.distinct, N);
	ck_assert_uint_eq(smp.n_top, SAMPLER_TOP);
	ck_assert_uint_eq(smp.top[0].count, 1);
	sampler_last_stats(s, &st);
	ck_assert_uint_gt(st.grows, 0); /* 1,024 -> 16,384 addresses */
	/* Once grown, no more allocation. */
	smp = take(s);
	sampler_last_stats(s, &st);
	ck_assert_uint_eq(st.grows, 0);
	ck_assert_uint_eq(smp.distinct, N);

	for (int mode = 0; mode < MODES; mode++) {
		set_mode(s, mode);
		double ms = best_of_5(s, N);
		assert_mode(s, mode);
		sampler_last_stats(s, &st);
		printf("sample of %u connections: %.2f ms (best of 5; %s: %u sockets in %u reads, "
		       "%zu bytes)\n",
		       N, ms, mode_name(mode), st.sockets, st.recvs, st.bytes);
	}
	sampler_free(s);

	close(quit);
	close(ready);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	conns_close(&c);
}
END_TEST

/* ---- tcp_info and SOCK_DESTROY ---- */

struct seen {
	struct sampler_conn v[16];
	size_t n;
};

static void collect(const struct sampler_conn *c, void *userdata)
{
	struct seen *seen = userdata;
	ck_assert_uint_lt(seen->n, ELEMENTSOF(seen->v));
	seen->v[seen->n++] = *c;
}

static struct seen take_conns(struct sampler *s, struct sample *ret)
{
	struct seen seen = { 0 };
	struct sample smp;
	int r = sampler_sample_conns(s, &smp, collect, &seen);
	ck_assert_msg(r == 0, "sampler_sample_conns: %s", strerror(-r));
	if (ret)
		*ret = smp;
	return seen;
}

static const struct sampler_conn *seen_find(const struct seen *seen, const char *addr)
{
	struct addr a;
	ck_assert_int_eq(addr_parse(addr, strlen(addr), &a), 0);
	for (size_t i = 0; i < seen->n; i++)
		if (addr_equal(&seen->v[i].peer, &a))
			return &seen->v[i];
	ck_abort_msg("no connection of %s reported", addr);
	return NULL;
}

static void send_all(int fd, const char *text)
{
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Reads exactly n bytes (the other side sent them). */
static void read_n(int fd, size_t n)
{
	char buf[256];
	ck_assert_uint_le(n, sizeof(buf));
	for (size_t got = 0; got < n;) {
		ssize_t k = read(fd, buf + got, n - got);
		ck_assert_msg(k > 0, "read: %s", k < 0 ? strerror(errno) : "EOF");
		got += (size_t)k;
	}
}

/* A greeted, silent client (A), one that sent its EHLO (B), one still in the accept queue (C):
 * what tcp_info says of each, in every dump mode, and the reaper's verdict. */
START_TEST(test_conn_info)
{
	struct conns c = { 0 };
	int l = listener("127.0.0.1", 25, 16);
	conns_add(&c, l);
	int a_cl = client("127.1.0.1", "127.0.0.1", 25, false);
	conns_add(&c, a_cl);
	int a_srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	conns_add(&c, a_srv);
	int b_cl = client("127.1.0.2", "127.0.0.1", 25, false);
	conns_add(&c, b_cl);
	int b_srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	conns_add(&c, b_srv);
	conns_add(&c, client("127.1.0.3", "127.0.0.1", 25, false)); /* never accepted */
	send_all(a_srv, "220 mx ESMTP\r\n");
	read_n(a_cl, 14);
	send_all(b_srv, "220 mx ESMTP\r\n");
	read_n(b_cl, 14);
	send_all(b_cl, "EHLO client.example\r\n");
	read_n(b_srv, 21);
	usleep(300 * 1000);

	struct sampler *s = new_sampler(NULL, 0);
	struct reaper_params p = { .idle_ms = 250, .greeting_bytes = 64 };
	const uint32_t idle = p.idle_ms;
	for (int mode = 0; mode < MODES; mode++) {
		set_mode(s, mode);
		struct sample smp;
		struct seen seen = take_conns(s, &smp);
		assert_mode(s, mode);
		ck_assert_uint_eq(smp.established, 3);
		ck_assert_uint_eq(seen.n, 3); /* the server sides only, the queued one too */
		const struct sampler_conn *a = seen_find(&seen, "127.1.0.1");
		const struct sampler_conn *b = seen_find(&seen, "127.1.0.2");
		const struct sampler_conn *q = seen_find(&seen, "127.1.0.3");
		ck_assert(a->has_info && a->has_bytes && b->has_info && q->has_info);
		ck_assert_uint_eq(a->family, AF_INET);
		ck_assert_uint_eq(a->local_port, 25);
		ck_assert_uint_eq(a->bytes_received, 0);
		ck_assert_uint_eq(a->bytes_acked, 14);
		ck_assert_uint_eq(a->unacked, 0);
		/* Nothing from the client: the time since the handshake. */
		ck_assert_uint_ge(a->last_data_recv_ms, 250);
		ck_assert_uint_ge(a->last_data_sent_ms, 250);
		ck_assert_uint_eq(b->bytes_received, 21);
		ck_assert_uint_eq(q->bytes_acked, 0);
		ck_assert_uint_eq(q->bytes_received, 0);
		ck_assert_int_eq(reaper_judge(&p, idle, a), REAPER_REAP);
		ck_assert_int_eq(reaper_judge(&p, idle, b),
				 REAPER_REAP); /* an EHLO is a greeting */
		ck_assert_int_eq(reaper_judge(&p, idle, q), REAPER_KEEP_NOT_GREETED);
		p.greeting_bytes = 20;
		ck_assert_int_eq(reaper_judge(&p, idle, b), REAPER_KEEP_TALKED);
		p.greeting_bytes = 64;
	}
	/* The plain sample asks for no tcp_info. */
	struct sample smp;
	ck_assert_int_eq(sampler_sample_conns(s, &smp, NULL, NULL), 0);
	ck_assert_uint_eq(smp.established, 3);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

static void run_nft(const char *cmd)
{
	char line[512];
	snprintf(line, sizeof(line), "nft '%s'", cmd);
	ck_assert_msg(system(line) == 0, "%s failed (is nft installed?)", line);
}

/* A slowed or lossy path: after the banner and the client's EHLO, the client's packets are
 * dropped (as an attacker between it and the server could), so the server's reply is never
 * acknowledged. However long the silence, the client is not judged idle: it may not have had
 * the reply; once the path heals, it is heard again. */
START_TEST(test_conn_unheard)
{
	struct conns c = { 0 };
	struct reaper_params p = { .idle_ms = 200, .greeting_bytes = 64 };
	int l = listener("127.0.0.1", 25, 16);
	conns_add(&c, l);
	int cl = client("127.1.0.9", "127.0.0.1", 25, false);
	int srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	conns_add(&c, cl);
	conns_add(&c, srv);
	send_all(srv, "220 mx ESMTP\r\n");
	read_n(cl, 14);
	send_all(cl, "EHLO client.example\r\n");
	read_n(srv, 21);
	run_nft("add table inet slow");
	run_nft("add chain inet slow in { type filter hook input priority 0; }");
	run_nft("add rule inet slow in ip saddr 127.1.0.9 tcp dport 25 drop");
	send_all(srv, "250 mx\r\n");
	read_n(cl, 8); /* the client has it; the server does not know */
	usleep(600 * 1000);

	struct sampler *s = new_sampler(NULL, 0);
	struct seen seen = take_conns(s, NULL);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_gt(seen.v[0].unacked, 0);
	ck_assert_uint_eq(seen.v[0].bytes_acked, 14);
	ck_assert_uint_eq(seen.v[0].bytes_received, 21);
	ck_assert_uint_ge(seen.v[0].last_data_recv_ms, 600);
	ck_assert_int_eq(reaper_judge(&p, p.idle_ms, &seen.v[0]), REAPER_KEEP_UNHEARD);

	run_nft("delete table inet slow");
	uint64_t deadline = now_usec() + 5 * USEC_PER_SEC;
	do {
		usleep(50 * 1000);
		seen = take_conns(s, NULL);
	} while (seen.v[0].unacked > 0 && now_usec() < deadline);
	ck_assert_uint_eq(seen.v[0].unacked, 0);
	ck_assert_uint_eq(seen.v[0].bytes_acked, 14 + 8);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

/* Half-open connections (forgeable SYNs) are never reported: nothing to reap, no address. */
START_TEST(test_conn_syn_recv)
{
	struct conns c = { 0 };
	int l = listener("127.0.0.1", 25, 128), secs = 30;
	conns_add(&c, l);
	ck_assert_int_eq(setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)), 0);
	for (unsigned i = 0; i < 3; i++)
		conns_add(&c, client(client_addr(i), "127.0.0.1", 25, false));
	struct sampler *s = new_sampler(NULL, 0);
	struct sample smp;
	struct seen seen = take_conns(s, &smp);
	ck_assert_uint_eq(smp.syn_recv, 3);
	ck_assert_uint_eq(seen.n, 0);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

/* Expects the server side to see the connection aborted and the client a reset. */
static void assert_destroyed(int srv, int cl)
{
	char buf[8];
	ck_assert_int_eq(read(srv, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ECONNABORTED);
	ck_assert_int_eq(read(cl, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ECONNRESET);
}

static const char *const destroy_listen[] = { "127.0.0.1", "::" };

START_TEST(test_destroy)
{
	struct conns c = { 0 };
	int l = listener(destroy_listen[_i], 25, 16);
	conns_add(&c, l);
	int a_cl = client("127.1.0.1", "127.0.0.1", 25, false);
	int a_srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	int b_cl = client("127.1.0.2", "127.0.0.1", 25, false);
	int b_srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	conns_add(&c, a_cl);
	conns_add(&c, a_srv);
	conns_add(&c, b_cl);
	conns_add(&c, b_srv);

	struct sampler *s = new_sampler(NULL, 0);
	ck_assert_int_eq(sampler_destroy_supported(s), 1);
	struct seen seen = take_conns(s, NULL);
	ck_assert_uint_eq(seen.n, 2);
	struct sampler_conn a = *seen_find(&seen, "127.1.0.1");
	ck_assert_uint_eq(a.family, _i == 0 ? AF_INET : AF_INET6);
	ck_assert_int_eq(sampler_destroy(s, &a), 0);
	assert_destroyed(a_srv, a_cl);
	/* Only that one: the other connection still carries data both ways. */
	send_all(b_srv, "220 mx\r\n");
	read_n(b_cl, 8);
	send_all(b_cl, "QUIT\r\n");
	read_n(b_srv, 6);
	struct sample smp;
	seen = take_conns(s, &smp);
	ck_assert_uint_eq(smp.established, 1);
	ck_assert_uint_eq(seen.n, 1);
	/* Gone: nothing to close any more. */
	ck_assert_int_eq(sampler_destroy(s, &a), -ENOENT);
	/* Not a connection on our ports: refused before the kernel is asked. */
	a.id.idiag_sport = htons(2525);
	ck_assert_int_eq(sampler_destroy(s, &a), -EINVAL);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

/* A connection closed and a new one on the very same addresses and ports: the old identity
 * names the old socket only (its cookie), so the new one is never closed in its place. */
START_TEST(test_destroy_stale)
{
	struct conns c = { 0 };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int l = listener("127.0.0.1", 25, 16), one = 1;
	conns_add(&c, l);
	int cl = client("127.1.0.1", "127.0.0.1", 25, false);
	int srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_eq(getsockname(cl, (struct sockaddr *)&ss, &len), 0);

	struct sampler *s = new_sampler(NULL, 0);
	struct seen seen = take_conns(s, NULL);
	ck_assert_uint_eq(seen.n, 1);
	struct sampler_conn old = seen.v[0];
	/* Reset both ends (no TIME_WAIT), then the same client port again. */
	ck_assert_int_eq(setsockopt(cl, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(cl);
	close(srv);
	int cl2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(setsockopt(cl2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_msg(bind(cl2, (struct sockaddr *)&ss, len) == 0, "bind: %s", strerror(errno));
	struct sockaddr_storage dst;
	socklen_t dlen = sockaddr_of("127.0.0.1", 25, &dst);
	ck_assert_int_eq(connect(cl2, (struct sockaddr *)&dst, dlen), 0);
	int srv2 = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	conns_add(&c, cl2);
	conns_add(&c, srv2);
	seen = take_conns(s, NULL);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(seen.v[0].id.idiag_dport, old.id.idiag_dport);
	ck_assert(memcmp(seen.v[0].id.idiag_cookie, old.id.idiag_cookie,
			 sizeof(old.id.idiag_cookie)) != 0);

	/* The kernel finds the new socket by the addresses and ports, sees another cookie and
	 * refuses (-ENOENT since Linux 4.x's rework, -ESTALE before). */
	int r = sampler_destroy(s, &old);
	ck_assert_msg(r == -ENOENT || r == -ESTALE, "sampler_destroy: %d", r);
	send_all(srv2, "220 mx\r\n");
	read_n(cl2, 8);
	ck_assert_int_eq(sampler_destroy(s, &seen.v[0]), 0);
	assert_destroyed(srv2, cl2);
	sampler_free(s);
	conns_close(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sampler");
	TCase *tc = tcase_create("kernel");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, fresh_netns, NULL);
	tcase_add_test(tc, test_new_args);
	tcase_add_loop_test(tc, test_counts, 0, ELEMENTSOF(counts_n));
	tcase_add_test(tc, test_top);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_dual_stack_mapped);
	tcase_add_test(tc, test_backlog);
	tcase_add_test(tc, test_backlog_full);
	tcase_add_test(tc, test_syn_recv);
	tcase_add_test(tc, test_other_states);
	tcase_add_test(tc, test_other_ports_ignored);
	tcase_add_test(tc, test_conn_info);
	tcase_add_test(tc, test_conn_syn_recv);
	tcase_add_test(tc, test_conn_unheard);
	tcase_add_loop_test(tc, test_destroy, 0, ELEMENTSOF(destroy_listen));
	tcase_add_test(tc, test_destroy_stale);
	tcase_add_test(tc, test_10000);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("check_sampler: skipping: needs root (connections in a private network "
		       "namespace)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "check_sampler: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	if (system("ip link set lo up") != 0) {
		fprintf(stderr, "check_sampler: cannot bring lo up\n");
		return EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return test_run_suite(suite());
}
