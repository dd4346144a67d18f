/* notifywait: appends to a log in one write(2) and times how long until the resulting bans show
 * up as nftables set elements, seen as the kernel's own change events (a netlink socket of ours
 * subscribed to NFNLGRP_NFTABLES, what `nft monitor` reads). No polling, no dump of the set.
 *
 *	notifywait burst LOG FILE TABLE SET N TIMEOUT_MS
 *		reads FILE into memory, subscribes, takes the time, appends FILE to LOG in ONE
 *		write(2), then counts NEWSETELEM events of TABLE/SET and of its twins TABLE/SET_*
 *		(waveguard puts single addresses in SET_host, networks of a jail's prefix length in
 *		SET_64, SET_24, ...; interval ends not counted; each distinct IPv4 key in
 *		198.18.0.0/15 once, and each IPv6 key in 2001:db8::/32 whose next 32 bits are below
 *		2^17, e.g. 2001:db8:1:86a0::/64 for offender 100,000) until N are seen. Prints
 *		"usec USEC first_usec USEC elements N gens G events E bytes B write_usec W
 *		own_cpu_usec C" (gens: NEWGEN events, i.e. committed nftables transactions, while
 *		waiting; write_usec: CPU time of the write(2) itself; own_cpu_usec: this program's
 *		CPU time while waiting, to judge how much it competed with the daemon).
 *	notifywait single LOG FILE TABLE SET GAP_MS TIMEOUT_MS
 *		FILE has lines "ADDRESS<TAB>log line": for each, appends the log line (one write(2))
 *		and waits for the element ADDRESS (IPv4, or IPv6: the key as the set holds it, e.g.
 *		the network address of a /64) in TABLE/SET or a twin; prints one line
 *		"USEC" per line, then sleeps GAP_MS so that the daemon is idle again before the
 *		next one. Stops at the first line whose element does not come within TIMEOUT_MS.
 * Exit 0 when everything was seen, 1 on timeout or lost events (ENOBUFS), 2 on usage errors. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RCVBUF (256 * 1024 * 1024)
/* Keys counted per family in burst mode. */
#define SEEN_PER_FAMILY (1U << 17)

static uint64_t cpu_usec(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct ctx {
	const char *table, *set;
	/* burst */
	uint8_t *seen; /* one byte per key counted: the IPv4 ones, then the IPv6 ones */
	uint64_t distinct, events, gens;
	/* single */
	uint8_t want[16];
	size_t want_len; /* 4 or 16; 0: burst mode */
	bool found;
};

static int elem_cb(const struct nlattr *elem, struct ctx *c)
{
	const struct nlattr *a;
	uint32_t flags = 0;
	const void *key = NULL;
	uint16_t klen = 0;

	mnl_attr_for_each_nested(a, elem)
	{
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_get_payload_len(a) >= 4)
				flags = ntohl(mnl_attr_get_u32(a));
			break;
		case NFTA_SET_ELEM_KEY: {
			const struct nlattr *v;
			mnl_attr_for_each_nested(v, a) if (mnl_attr_get_type(v) == NFTA_DATA_VALUE)
			{
				key = mnl_attr_get_payload(v);
				klen = mnl_attr_get_payload_len(v);
			}
			break;
		}
		}
	}
	if (!key || (klen != 4 && klen != 16) || (flags & NFT_SET_ELEM_INTERVAL_END))
		return 0;
	c->events++;
	if (c->want_len) {
		if (klen == c->want_len && memcmp(key, c->want, klen) == 0)
			c->found = true;
		return 0;
	}
	uint32_t h, i;
	if (klen == 4) {
		memcpy(&h, key, 4);
		h = ntohl(h);
		if ((h >> 17) != (0xC6120000U >> 17)) /* 198.18.0.0/15 */
			return 0;
		i = h & 0x1FFFF;
	} else {
		static const uint8_t doc[4] = { 0x20, 0x01, 0x0d, 0xb8 }; /* 2001:db8::/32 */
		if (memcmp(key, doc, 4) != 0)
			return 0;
		memcpy(&h, (const uint8_t *)key + 4, 4);
		h = ntohl(h);
		if (h >= SEEN_PER_FAMILY)
			return 0;
		i = SEEN_PER_FAMILY + h;
	}
	if (!c->seen[i]) {
		c->seen[i] = 1;
		c->distinct++;
	}
	return 0;
}

/* SET itself, or SET_host, SET_64, ...: its twins. */
static bool our_set(const struct ctx *c, const char *set)
{
	size_t n = strlen(c->set);
	return strncmp(set, c->set, n) == 0 && (set[n] == '\0' || set[n] == '_');
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctx *c = data;
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return MNL_CB_OK;
	if (type == NFT_MSG_NEWGEN) {
		c->gens++;
		return MNL_CB_OK;
	}
	if (type != NFT_MSG_NEWSETELEM)
		return MNL_CB_OK;

	const struct nlattr *a, *list = NULL;
	const char *table = NULL, *set = NULL;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_LIST_TABLE:
			table = mnl_attr_get_str(a);
			break;
		case NFTA_SET_ELEM_LIST_SET:
			set = mnl_attr_get_str(a);
			break;
		case NFTA_SET_ELEM_LIST_ELEMENTS:
			list = a;
			break;
		}
	}
	if (!list || !table || !set || strcmp(table, c->table) != 0 || !our_set(c, set))
		return MNL_CB_OK;
	const struct nlattr *e;
	mnl_attr_for_each_nested(e, list) if (mnl_attr_get_type(e) == NFTA_LIST_ELEM) elem_cb(e, c);
	return MNL_CB_OK;
}

static struct mnl_socket *subscribe(void)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("notifywait: netlink");
		exit(1);
	}
	int size = RCVBUF, grp = NFNLGRP_NFTABLES;
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		perror("notifywait: NFNLGRP_NFTABLES");
		exit(1);
	}
	return nl;
}

/* Reads what is queued (waiting at most until deadline for the first datagram); 0 on timeout,
 * 1 when something was read, -1 on error (ENOBUFS: events were lost). */
static int pump(struct mnl_socket *nl, struct ctx *c, uint64_t deadline, bool wait)
{
	static char buf[1 << 20];
	int fd = mnl_socket_get_fd(nl);
	int got = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				fprintf(stderr, "notifywait: recv: %s\n", strerror(errno));
				return -1;
			}
			if (got || !wait)
				return got;
			uint64_t now = now_usec();
			if (now >= deadline)
				return 0;
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int ms = (int)((deadline - now + 999) / 1000);
			if (poll(&p, 1, ms) < 0 && errno != EINTR) {
				perror("notifywait: poll");
				return -1;
			}
			continue;
		}
		got = 1;
		if (mnl_cb_run(buf, (size_t)n, 0, 0, msg_cb, c) < 0) {
			perror("notifywait: event");
			return -1;
		}
	}
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "notifywait: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	char *p = malloc((size_t)st.st_size + 1);
	size_t off = 0;
	while (p && off < (size_t)st.st_size) {
		ssize_t n = read(fd, p + off, (size_t)st.st_size - off);
		if (n <= 0) {
			fprintf(stderr, "notifywait: read %s failed\n", path);
			exit(1);
		}
		off += (size_t)n;
	}
	if (!p) {
		fprintf(stderr, "notifywait: out of memory\n");
		exit(1);
	}
	p[off] = '\0';
	close(fd);
	*len = off;
	return p;
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "notifywait: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* One write(2) of the whole buffer: a short write is an error here, not something to finish. */
static void write_once(int fd, const char *p, size_t len)
{
	ssize_t n = write(fd, p, len);
	if (n < 0 || (size_t)n != len) {
		fprintf(stderr, "notifywait: write of %zu bytes wrote %zd (%s)\n", len, n,
			n < 0 ? strerror(errno) : "short write");
		exit(1);
	}
}

static int burst(char **argv)
{
	struct ctx c = { .table = argv[2], .set = argv[3] };
	uint64_t want = strtoull(argv[4], NULL, 10), timeout = strtoull(argv[5], NULL, 10) * 1000;
	size_t len;
	char *data = slurp(argv[1], &len);
	int fd = open_log(argv[0]);
	struct mnl_socket *nl = subscribe();
	uint64_t first = 0;

	c.seen = calloc(2, SEEN_PER_FAMILY);
	if (!c.seen)
		return 1;
	pump(nl, &c, 0, false); /* anything from before */
	c.distinct = c.events = c.gens = 0;

	uint64_t c0 = cpu_usec();
	uint64_t t0 = now_usec();
	write_once(fd, data, len);
	uint64_t c1 = cpu_usec();
	uint64_t deadline = t0 + timeout;
	while (c.distinct < want) {
		int r = pump(nl, &c, deadline, true);
		if (r < 0)
			return 1;
		if (r == 0)
			break;
		if (!first && c.events)
			first = now_usec();
	}
	uint64_t t1 = now_usec();
	printf("usec %llu first_usec %llu elements %llu gens %llu events %llu bytes %zu "
	       "write_usec %llu own_cpu_usec %llu\n",
	       (unsigned long long)(t1 - t0), (unsigned long long)(first ? first - t0 : 0),
	       (unsigned long long)c.distinct, (unsigned long long)c.gens,
	       (unsigned long long)c.events, len, (unsigned long long)(c1 - c0),
	       (unsigned long long)(cpu_usec() - c1));
	return c.distinct >= want ? 0 : 1;
}

static int single(char **argv)
{
	struct ctx c = { .table = argv[2], .set = argv[3] };
	uint64_t gap = strtoull(argv[4], NULL, 10) * 1000,
		 timeout = strtoull(argv[5], NULL, 10) * 1000;
	size_t len;
	char *data = slurp(argv[1], &len);
	int fd = open_log(argv[0]);
	struct mnl_socket *nl = subscribe();
	for (char *l = data, *nx; l < data + len && *l; l = nx) {
		char *eol = strchr(l, '\n');
		nx = eol ? eol + 1 : data + len;
		char *tab = memchr(l, '\t', (size_t)(nx - l));
		if (!tab || !eol) {
			fprintf(stderr, "notifywait: bad line in %s\n", argv[1]);
			return 2;
		}
		*tab = '\0';
		if (pump(nl, &c, 0, false) < 0)
			return 1;
		if (inet_pton(AF_INET, l, c.want) == 1)
			c.want_len = 4;
		else if (inet_pton(AF_INET6, l, c.want) == 1)
			c.want_len = 16;
		else {
			fprintf(stderr, "notifywait: bad address '%s'\n", l);
			return 2;
		}
		c.found = false;

		uint64_t t0 = now_usec();
		write_once(fd, tab + 1, (size_t)(nx - (tab + 1)));
		uint64_t deadline = t0 + timeout;
		while (!c.found) {
			int r = pump(nl, &c, deadline, true);
			if (r <= 0)
				break;
		}
		uint64_t t1 = now_usec();
		if (!c.found) {
			fprintf(stderr, "notifywait: %s not seen within %llu ms\n", l,
				(unsigned long long)(timeout / 1000));
			printf("timeout\n");
			return 1; /* the daemon is not banning: no point waiting for the others */
		} else
			printf("%llu\n", (unsigned long long)(t1 - t0));
		fflush(stdout);
		struct timespec ts = { .tv_sec = (time_t)(gap / 1000000),
				       .tv_nsec = (long)(gap % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "burst") == 0)
		return burst(argv + 2);
	if (argc == 8 && strcmp(argv[1], "single") == 0)
		return single(argv + 2);
	fprintf(stderr, "Usage: notifywait burst LOG FILE TABLE SET N TIMEOUT_MS\n"
			"       notifywait single LOG FILE TABLE SET GAP_MS TIMEOUT_MS\n");
	return 2;
}
