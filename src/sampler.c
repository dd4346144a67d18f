/* Connection counter over sock_diag: per sample one NETLINK_SOCK_DIAG dump of all TCP sockets of
 * both families (or one per family), with an inet_diag bytecode filter that lets the kernel send
 * only the sockets whose local port is ours; states and listener queues are summed, remote
 * addresses counted in an addrindex table that is emptied after each sample and only grows.
 * When asked, the dump carries each socket's tcp_info, and one socket can be closed by its exact
 * identity (SOCK_DESTROY) on the same netlink socket. Never logs. */
#include "sampler.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "addrindex.h"
#include "macro.h"

#define RECV_BUF_SIZE (64 * 1024) /* the kernel fills at most ~32 KiB per dump message */
#define TABLE_INITIAL 1024
#define TABLE_MAX     (1u << 30)
/* Per port 8 bytes of comparison plus a 4-byte jump; the request: header, the larger of the two
 * request structures (the old one, 60 bytes, has a 4-byte field more than v2), attribute. */
#define BYTECODE_MAX (SAMPLER_PORTS_MAX * 12)
#define REQ_BUF_SIZE                                                                               \
	(NLMSG_HDRLEN + MAX(sizeof(struct inet_diag_req), sizeof(struct inet_diag_req_v2)) +       \
	 NLA_HDRLEN + BYTECODE_MAX)

static const uint16_t default_ports[] = { 25, 465, 587 };

/* The kernel's TCP states (include/net/tcp_states.h; <netinet/tcp.h> has them too, but it
 * cannot be included with <linux/tcp.h>, whose struct tcp_info has the byte counters). */
enum {
	STATE_ESTABLISHED = 1,
	STATE_SYN_RECV = 3,
	STATE_TIME_WAIT = 6,
	STATE_LISTEN = 10,
};

/* tcp_info up to and including tcpi_bytes_received (Linux 4.1). */
#define TCP_INFO_BYTES_END (offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(uint64_t))

struct sampler {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	bool in_dump; /* a dump was requested and its end not yet read */
	bool broken;  /* the socket may hold stale messages: reopen before the next dump */
	bool kernel_filter;
	bool single_dump;    /* one TCPDIAG_GETSOCK dump of both families */
	bool filter_suspect; /* the filter was dropped for an -EINVAL maybe meant for the request */
	sampler_conn_fn conn_fn; /* non-NULL during sampler_sample_conns(): tcp_info asked */
	void *conn_userdata;

	uint64_t port_map[65536 / 64];
	uint8_t bytecode[BYTECODE_MAX];
	size_t bytecode_len;

	/* Remote addresses of the current sample at positions 0..n-1, indexed by address. */
	struct sampler_top *entries;
	size_t n, cap;
	struct addrindex index;

	struct sample cur; /* the sample being counted */
	int error;	   /* first error while counting (the dump is read to its end anyway) */
	struct sampler_stats stats, last_stats;

	void *rbuf;
	uint8_t req[REQ_BUF_SIZE] __attribute__((aligned(8)));
};

static const struct addr *entry_key(uint32_t pos, const void *ctx)
{
	const struct sampler *s = ctx;
	return &s->entries[pos].addr;
}

static inline bool port_wanted(const struct sampler *s, uint16_t port)
{
	return s->port_map[port >> 6] & (1ULL << (port & 63));
}

/* A program that accepts a socket whose local port is one of the ports. The kernel's auditor
 * walks the "yes" chain only, so every operation must lie on it: each comparison's "yes" goes to
 * the next operation (a jump to the end, i.e. accept) and its "no" skips that jump to the next
 * comparison; the last comparison's "no" lands 4 bytes past the end (reject). Per port
 * (p_i, host order):
 *   S_EQ yes=8 no=12 | (port p_i) | JMP yes=4 no=<to the end>      (the last one without JMP) */
static size_t build_bytecode(const uint16_t *ports, size_t n, uint8_t *buf)
{
	size_t len = n * 12 - 4, off = 0;

	for (size_t i = 0; i < n; i++) {
		struct inet_diag_bc_op op[2] = {
			{ .code = INET_DIAG_BC_S_EQ, .yes = 8, .no = 12 },
			{ .code = INET_DIAG_BC_NOP, .yes = 0, .no = ports[i] },
		};
		memcpy(buf + off, op, sizeof(op));
		off += sizeof(op);
		if (i + 1 < n) {
			struct inet_diag_bc_op jmp = { .code = INET_DIAG_BC_JMP,
						       .yes = 4,
						       .no = (unsigned short)(len - off) };
			memcpy(buf + off, &jmp, sizeof(jmp));
			off += sizeof(jmp);
		}
	}
	return len;
}

static int open_socket(struct sampler *s)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	/* A dump answers within recvmsg() (the next part is built as the previous one is read), so
	 * this never waits in practice; it only bounds the damage of a kernel that stops
	 * answering. */
	struct timeval tv = { .tv_sec = 5 };
	(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	if (s->nl)
		mnl_socket_close(s->nl);
	s->nl = nl;
	s->portid = mnl_socket_get_portid(nl);
	s->in_dump = false;
	s->broken = false;
	return 0;
}

int sampler_new(const uint16_t *ports, size_t n_ports, struct sampler **ret)
{
	uint16_t uniq[SAMPLER_PORTS_MAX];
	size_t n_uniq = 0;
	int r;

	if (!ret || n_ports > SAMPLER_PORTS_MAX || (n_ports > 0 && !ports))
		return -EINVAL;
	if (n_ports == 0) {
		ports = default_ports;
		n_ports = ELEMENTSOF(default_ports);
	}

	struct sampler *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n_ports; i++) {
		if (ports[i] == 0) {
			r = -EINVAL;
			goto fail;
		}
		if (port_wanted(s, ports[i]))
			continue;
		s->port_map[ports[i] >> 6] |= 1ULL << (ports[i] & 63);
		uniq[n_uniq++] = ports[i];
	}
	s->bytecode_len = build_bytecode(uniq, n_uniq, s->bytecode);
	s->kernel_filter = true;
	s->single_dump = true;

	s->cap = TABLE_INITIAL;
	s->entries = calloc(s->cap, sizeof(*s->entries));
	s->rbuf = malloc(RECV_BUF_SIZE);
	if (!s->entries || !s->rbuf) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = addrindex_init(&s->index, s->cap, entry_key, s)) < 0)
		goto fail;
	if ((r = open_socket(s)) < 0)
		goto fail;

	*ret = s;
	return 0;
fail:
	sampler_free(s);
	return r;
}

struct sampler *sampler_free(struct sampler *s)
{
	if (!s)
		return NULL;
	if (s->nl)
		mnl_socket_close(s->nl);
	addrindex_done(&s->index);
	free(s->entries);
	free(s->rbuf);
	free(s);
	return NULL;
}

void sampler_set_kernel_filter(struct sampler *s, bool on)
{
	s->kernel_filter = on;
}

bool sampler_kernel_filter(const struct sampler *s)
{
	return s->kernel_filter;
}

void sampler_set_single_dump(struct sampler *s, bool on)
{
	s->single_dump = on;
}

void sampler_last_stats(const struct sampler *s, struct sampler_stats *ret)
{
	*ret = s->last_stats;
}

static int grow(struct sampler *s)
{
	if (s->cap >= TABLE_MAX)
		return -ENOMEM;
	size_t cap = s->cap * 2;
	struct sampler_top *e = realloc(s->entries, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	s->entries = e;
	int r = addrindex_resize(&s->index, cap, (uint32_t)s->n);
	if (r < 0)
		return r;
	s->cap = cap;
	s->stats.grows++;
	return 0;
}

static void count_peer(struct sampler *s, const struct inet_diag_msg *m)
{
	struct addr a;

	addr_from_bytes(m->idiag_family, m->id.idiag_dst, &a);

	uint32_t pos = addrindex_find(&s->index, &a);
	if (pos != ADDRINDEX_NONE) {
		s->entries[pos].count++;
		return;
	}
	if (s->n == s->cap) {
		int r = grow(s);
		if (r < 0) {
			if (s->error == 0)
				s->error = r;
			return;
		}
	}
	s->entries[s->n] = (struct sampler_top){ .addr = a, .count = 1 };
	addrindex_insert(&s->index, &a, (uint32_t)s->n);
	s->n++;
}

/* The caller's view of an established socket: its identity and its tcp_info, when the kernel
 * sent one (a shorter one from an older kernel is read as far as it goes). */
static void report_conn(struct sampler *s, const struct nlmsghdr *nlh,
			const struct inet_diag_msg *m)
{
	struct sampler_conn c = {
		.family = m->idiag_family,
		.id = m->id,
		.local_port = ntohs(m->id.idiag_sport),
		.peer_port = ntohs(m->id.idiag_dport),
	};
	const struct nlattr *attr;

	addr_from_bytes(m->idiag_family, m->id.idiag_dst, &c.peer);
	mnl_attr_for_each(attr, nlh, sizeof(*m))
	{
		if (mnl_attr_get_type(attr) != INET_DIAG_INFO)
			continue;
		struct tcp_info ti = { 0 };
		size_t len = MIN((size_t)mnl_attr_get_payload_len(attr), sizeof(ti));
		if (len < offsetof(struct tcp_info, tcpi_last_data_recv) + sizeof(uint32_t))
			break;
		memcpy(&ti, mnl_attr_get_payload(attr), len);
		c.has_info = true;
		c.has_bytes = len >= TCP_INFO_BYTES_END;
		c.unacked = ti.tcpi_unacked;
		c.last_data_recv_ms = ti.tcpi_last_data_recv;
		c.last_data_sent_ms = ti.tcpi_last_data_sent;
		c.bytes_received = ti.tcpi_bytes_received;
		c.bytes_acked = ti.tcpi_bytes_acked;
		break;
	}
	s->conn_fn(&c, s->conn_userdata);
}

static int on_sock(const struct nlmsghdr *nlh, void *data)
{
	struct sampler *s = data;
	const struct inet_diag_msg *m;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY && nlh->nlmsg_type != TCPDIAG_GETSOCK)
		return MNL_CB_OK;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m)) {
		if (s->error == 0)
			s->error = -EBADMSG;
		return MNL_CB_OK;
	}
	m = mnl_nlmsg_get_payload(nlh);
	s->stats.sockets++;
	if (!port_wanted(s, ntohs(m->id.idiag_sport)) ||
	    (m->idiag_family != AF_INET && m->idiag_family != AF_INET6))
		return MNL_CB_OK;

	switch (m->idiag_state) {
	case STATE_LISTEN:
		s->cur.backlog += m->idiag_rqueue;
		s->cur.backlog_max += m->idiag_wqueue;
		return MNL_CB_OK;
	case STATE_ESTABLISHED:
		s->cur.established++;
		if (s->conn_fn)
			report_conn(s, nlh, m);
		break;
	case STATE_SYN_RECV: /* request sockets (TCP_NEW_SYN_RECV) are reported as SYN_RECV */
		/* The wave's signature, but no evidence against its peer: a SYN's source address is
		 * forgeable, and only a completed handshake proves it (DESIGN.md §8). */
		s->cur.syn_recv++;
		return MNL_CB_OK;
	case STATE_TIME_WAIT:
		/* Closed, no process: not a concurrent connection of its peer. MTAs close first
		 * after QUIT, so a legitimate sender's recent deliveries linger here for a
		 * minute and would otherwise make it look like a hog. */
		s->cur.other++;
		return MNL_CB_OK;
	default:
		s->cur.other++;
		break;
	}
	count_peer(s, m);
	return MNL_CB_OK;
}

/* The end of a dump; its payload carries the dump's error, if any. */
static int on_done(const struct nlmsghdr *nlh, void *data)
{
	struct sampler *s = data;

	s->in_dump = false;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		int err;
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		if (err < 0) {
			errno = -err;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

/* An error instead of a dump (e.g. a refused filter): nothing else follows. */
static int on_error(const struct nlmsghdr *nlh, void *data)
{
	struct sampler *s = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	s->in_dump = false;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	errno = e->error < 0 ? -e->error : e->error;
	return MNL_CB_ERROR;
}

static int dump(struct sampler *s, uint8_t family)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		/* on the stack: libmnl takes it non-const */
		[NLMSG_ERROR] = on_error,
		[NLMSG_DONE] = on_done,
	};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->req);
	uint32_t seq = ++s->seq;

	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	if (family == AF_UNSPEC) {
		/* The old request: the kernel dumps AF_UNSPEC, i.e. both families in one walk. */
		nlh->nlmsg_type = TCPDIAG_GETSOCK;
		struct inet_diag_req *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
		req->idiag_family = AF_UNSPEC; /* ignored for dumps */
		req->idiag_states = ~0u;
		if (s->conn_fn)
			req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	} else {
		nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
		struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
		req->sdiag_family = family;
		req->sdiag_protocol = IPPROTO_TCP;
		req->idiag_states = ~0u; /* every state, listeners included */
		if (s->conn_fn)
			req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	}
	if (s->kernel_filter)
		mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, s->bytecode_len, s->bytecode);

	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	s->in_dump = true;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, s->rbuf, RECV_BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s->stats.recvs++;
		s->stats.bytes += (size_t)n;
		int r = mnl_cb_run2(s->rbuf, (size_t)n, seq, s->portid, on_sock, s, ctl,
				    ELEMENTSOF(ctl));
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0)
			return errno > 0 ? -errno : -EIO;
		if (!s->in_dump) /* an ack of 0 without a dump: should not happen */
			return 0;
	}
}

/* Fills ret->top with the entries holding the most sockets: one pass, insertion into a short
 * sorted array (most entries fail the first comparison). */
static void pick_top(const struct sampler *s, struct sample *ret)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		uint32_t c = s->entries[i].count;
		if (n == SAMPLER_TOP && c <= ret->top[n - 1].count)
			continue;
		size_t j = n < SAMPLER_TOP ? n++ : n - 1;
		while (j > 0 && ret->top[j - 1].count < c) {
			ret->top[j] = ret->top[j - 1];
			j--;
		}
		ret->top[j] = s->entries[i];
	}
	ret->n_top = n;
}

static void clear_table(struct sampler *s)
{
	for (size_t i = 0; i < s->n; i++)
		addrindex_remove(&s->index, &s->entries[i].addr);
	s->n = 0;
}

/* One attempt: the dumps, counted into s->cur and the table. */
static int sample_once(struct sampler *s)
{
	static const uint8_t per_family[] = { AF_INET, AF_INET6 };
	static const uint8_t unspec[] = { AF_UNSPEC };
	const uint8_t *families = s->single_dump ? unspec : per_family;
	size_t n = s->single_dump ? 1 : 2;
	int r = 0;

	clear_table(s);
	s->cur = (struct sample){ 0 };
	s->error = 0;
	s->stats = (struct sampler_stats){ 0 };
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = dump(s, families[i]);
		s->stats.dumps++;
		if (s->in_dump)
			s->broken = true;
	}
	return r < 0 ? r : s->error;
}

int sampler_sample(struct sampler *s, struct sample *ret)
{
	return sampler_sample_conns(s, ret, NULL, NULL);
}

int sampler_sample_conns(struct sampler *s, struct sample *ret, sampler_conn_fn fn, void *userdata)
{
	int r;

	if (!s || !ret)
		return -EINVAL;
	s->conn_fn = fn;
	s->conn_userdata = userdata;
	for (;;) {
		if (s->broken && (r = open_socket(s)) < 0)
			return r;
		r = sample_once(s);
		/* A refusal comes before any socket, so the sample can be taken again. The old
		 * request may be gone (-EOPNOTSUPP, or -EINVAL for an unknown type) and the filter
		 * refused (-EINVAL without INET_DIAG_BC_S_EQ): without the filter first, then one
		 * dump per family with it, then without. */
		if (s->broken || (r != -EINVAL && r != -EOPNOTSUPP))
			break;
		if (r == -EOPNOTSUPP && s->single_dump) {
			s->single_dump = false;
		} else if (r == -EINVAL && s->kernel_filter) {
			s->kernel_filter = false;
			s->filter_suspect = s->single_dump;
		} else if (r == -EINVAL && s->single_dump) {
			s->single_dump = false;
			s->kernel_filter = s->filter_suspect;
			s->filter_suspect = false;
		} else
			break;
	}
	if (r >= 0) {
		s->cur.distinct = (uint32_t)s->n;
		pick_top(s, &s->cur);
		s->last_stats = s->stats;
		*ret = s->cur;
	}
	clear_table(s);
	s->conn_fn = NULL;
	s->conn_userdata = NULL;
	return r < 0 ? r : 0;
}

/* One SOCK_DESTROY request for (family, id) and its acknowledgement. */
static int destroy_request(struct sampler *s, uint8_t family, const struct inet_diag_sockid *id)
{
	struct nlmsghdr *nlh;
	uint32_t seq;
	int r;

	if (s->broken && (r = open_socket(s)) < 0)
		return r;
	nlh = mnl_nlmsg_put_header(s->req);
	seq = ++s->seq;
	nlh->nlmsg_type = SOCK_DESTROY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0u;
	req->id = *id;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, s->rbuf, RECV_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->broken = true;
			return -errno;
		}
		r = mnl_cb_run(s->rbuf, (size_t)n, seq, s->portid, NULL, NULL);
		if (r >= 0)
			return 0;
		if (errno == ESRCH || errno == EPROTO) /* not our answer: start afresh next time */
			s->broken = true;
		return -errno;
	}
}

int sampler_destroy(struct sampler *s, const struct sampler_conn *c)
{
	if (!s || !c || (c->family != AF_INET && c->family != AF_INET6) ||
	    !port_wanted(s, ntohs(c->id.idiag_sport)))
		return -EINVAL;
	return destroy_request(s, c->family, &c->id);
}

int sampler_destroy_supported(struct sampler *s)
{
	/* Port 0 to port 0 from and to 0.0.0.0: no socket has that identity. A kernel that can
	 * close sockets looks for it (-ENOENT); one that cannot says so first (-EOPNOTSUPP). */
	struct inet_diag_sockid none = { .idiag_cookie = { INET_DIAG_NOCOOKIE,
							   INET_DIAG_NOCOOKIE } };
	int r;

	if (!s)
		return -EINVAL;
	r = destroy_request(s, AF_INET, &none);
	if (r == -ENOENT)
		return 1;
	if (r == -EOPNOTSUPP)
		return 0;
	return r < 0 ? r : 1;
}
