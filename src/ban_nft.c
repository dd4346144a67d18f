/* Kernel side of bans over nf_tables netlink: one inet table with, per port group, two
 * interval+timeout sets (networks of odd widths), two hash sets with timeouts (single
 * addresses) and a hash set with timeouts per prefix length its jails ban (network addresses,
 * looked up masked), an input chain (built with libnftnl), element batches built directly with
 * libmnl into a preallocated buffer, every error mapped back to its address through the message
 * sequence number and the extended-ACK attribute offset. Never logs. */
#include "ban_nft.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/filter.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"

#define NAME_MAX_LEN 255
#define PORTS_MAX    64

/* One transaction (one sendmsg) holds at most this much. */
#define PAGE_SIZE_MAX (1024U * 1024U)
/* nla_len is 16 bits: the elements nest of one message stays below this. */
#define NEST_PAYLOAD_MAX 65000U
/* Bounds the acks one transaction may cause (each error is one datagram in our receive
 * buffer) and the preallocated message table. */
#define MSGS_MAX      1024U
#define SINGLES_MAX   512U
#define RECV_BUF_SIZE (64U * 1024U)
#define RCVBUF_SIZE   (2U * 1024U * 1024U)

/* nft's datatype numbers, so that `nft list` prints the keys as addresses and ports. */
#define NFT_TYPE_IPADDR	      7
#define NFT_TYPE_IP6ADDR      8
#define NFT_TYPE_INET_SERVICE 13

/* Largest element (key of 16 bytes, timeout or flags). */
#define ELEM_SIZE_MAX (4 + 4 + 4 + 16 + 12)

enum op_state {
	OP_PENDING, /* to send, grouped with its neighbours */
	OP_SINGLE,  /* to send in a message of its own (its message failed without telling which) */
	OP_DONE,    /* finished: applied, or a delete of an absent element */
	OP_FAILED,  /* reported through on_error */
};

/* A port group's four sets, as indexes of group.sets[]. */
enum {
	SET_NET4,  /* set4: IPv4 networks, interval,timeout */
	SET_HOST4, /* set4_host: IPv4 addresses (/32), timeout */
	SET_NET6,
	SET_HOST6,
	N_SETS,
};

/* Every set has an index (what an op names, below SETS_MAX): group * N_SETS + its kind for the
 * groups' four, PSET_BASE + its index in ban_nft.psets[] for a prefix set. */
#define PSET_BASE (BAN_NFT_GROUPS_MAX * N_SETS)
#define SETS_MAX  (PSET_BASE + BAN_NFT_PREFIX_SETS_MAX)

struct op {
	struct addr a; /* network, host bits cleared */
	uint64_t timeout_ms;
	uint8_t set; /* the set's index */
	bool del;
	/* A delete queued along with the one ban_nft_del() reports: of a single address or a
	 * prefix set's network from the interval set (an element added by an earlier version, or
	 * by hand), and of the network from the sets of the other port groups (where a ban made
	 * before a reload that changed its jail's ports still is): never reported, never counted.
	 */
	bool shadow;
	uint8_t state;
	/* Where its elements went in the last transaction: message index and byte range. */
	uint32_t msg;
	uint32_t off_lo, off_hi;
};

struct msgrec {
	uint32_t first_op; /* ops[] indexes of its first and last element, inclusive */
	uint32_t last_op;
	uint32_t elems_lo, elems_hi; /* byte range of its elements nest payload */
	bool del;
};

/* A port list and its four sets (group 0: set4, set4 "_host", set6, set6 "_host"; the others
 * set4 "_" tag and so on, see ban_nft.h). */
struct group {
	char sets[N_SETS][NAME_MAX_LEN + 1]; /* by SET_* index */
	uint16_t ports[PORTS_MAX];	     /* ascending, distinct; none in all-ports mode */
	size_t n_ports;
	bool all_ports;
};

/* A hash set of one group's networks of one family and prefix length: network addresses, looked
 * up with the source address masked to the prefix (set4/set6 "_" prefix, see ban_nft.h). */
struct pset {
	char name[NAME_MAX_LEN + 1];
	uint8_t group;
	uint8_t family;
	uint8_t prefix;
};

struct ban_nft {
	char table[NAME_MAX_LEN + 1];
	char chain[NAME_MAX_LEN + 1];
	struct group groups[BAN_NFT_GROUPS_MAX];
	size_t n_groups;
	struct pset psets[BAN_NFT_PREFIX_SETS_MAX];
	size_t n_psets;

	struct mnl_socket *nl;
	struct mnl_socket *mon; /* change monitor, NULL until asked for */
	uint32_t portid;
	uint32_t seq;

	char *buf; /* the batch buffer, page bytes */
	size_t page;
	char *rbuf; /* receive buffer */

	struct op *ops;
	size_t n_ops, cap_ops;
	size_t n_shadow; /* shadow ops among them */

	struct msgrec *msgs;
	uint32_t n_msgs;

	struct ban_nft_stats stats;
};

static int copy_name(char *dst, const char *src, const char *def)
{
	if (!src)
		src = def;
	size_t n = strlen(src);
	if (n == 0)
		return -EINVAL;
	if (n > NAME_MAX_LEN)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

static void set_bufsize(int fd, int force_opt, int opt, int size)
{
	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

/* ports[0..n) sorted, without duplicates, into g (n <= PORTS_MAX; none in all-ports mode). */
static void group_ports(struct group *g, const uint16_t *ports, size_t n, bool all_ports)
{
	g->all_ports = all_ports;
	g->n_ports = 0;
	for (size_t i = 0; !all_ports && i < n; i++) {
		size_t k = g->n_ports;
		while (k > 0 && g->ports[k - 1] > ports[i])
			k--;
		if (k > 0 && g->ports[k - 1] == ports[i])
			continue;
		memmove(g->ports + k + 1, g->ports + k, (g->n_ports - k) * sizeof(uint16_t));
		g->ports[k] = ports[i];
		g->n_ports++;
	}
}

static bool group_same_ports(const struct group *x, const struct group *y)
{
	if (x->all_ports || y->all_ports)
		return x->all_ports == y->all_ports;
	return x->n_ports == y->n_ports &&
	       memcmp(x->ports, y->ports, x->n_ports * sizeof(uint16_t)) == 0;
}

/* g's four names: net4 "_" tag (tag NULL: net4 itself) and its "_host" twin, the same for
 * net6. Returns 0 or -ENAMETOOLONG. */
static int group_names(struct group *g, const char *net4, const char *net6, const char *tag)
{
	const char *nets[2] = { net4, net6 };
	for (int f = 0; f < 2; f++) {
		char *net = g->sets[f ? SET_NET6 : SET_NET4];
		char *host = g->sets[f ? SET_HOST6 : SET_HOST4];
		int n = snprintf(net, NAME_MAX_LEN + 1, "%s%s%s", nets[f], tag ? "_" : "",
				 tag ? tag : "");
		if (n < 0 || n + strlen(BAN_NFT_HOST_SUFFIX) > NAME_MAX_LEN)
			return -ENAMETOOLONG;
		memcpy(stpcpy(host, net), BAN_NFT_HOST_SUFFIX, sizeof(BAN_NFT_HOST_SUFFIX));
	}
	return 0;
}

/* Whether name is the name of one of b's sets, other than those of the group skip (may be
 * NULL). */
static bool name_taken(const struct ban_nft *b, const char *name, const struct group *skip)
{
	for (size_t o = 0; o < b->n_groups; o++)
		for (int k = 0; k < N_SETS; k++)
			if (&b->groups[o] != skip && strcmp(name, b->groups[o].sets[k]) == 0)
				return true;
	for (size_t i = 0; i < b->n_psets; i++)
		if (strcmp(name, b->psets[i].name) == 0)
			return true;
	return false;
}

/* Whether one of the sets of g has the name of another set of b's or of g. */
static bool group_names_clash(const struct ban_nft *b, const struct group *g)
{
	for (int i = 0; i < N_SETS; i++) {
		for (int k = i + 1; k < N_SETS; k++)
			if (strcmp(g->sets[i], g->sets[k]) == 0)
				return true;
		if (name_taken(b, g->sets[i], g))
			return true;
	}
	return false;
}

/* The names, the ports and the mode of c (checked by the caller) into b, as group 0. Returns
 * 0, -EINVAL or -ENAMETOOLONG. */
static int config_copy(struct ban_nft *b, const struct ban_nft_config *c)
{
	static const uint16_t default_ports[] = { 25, 465, 587 };
	char set4[NAME_MAX_LEN + 1], set6[NAME_MAX_LEN + 1];
	struct group *g = &b->groups[0];
	int r;

	if ((r = copy_name(b->table, c->table, BAN_NFT_TABLE)) < 0 ||
	    (r = copy_name(set4, c->set4, BAN_NFT_SET4)) < 0 ||
	    (r = copy_name(set6, c->set6, BAN_NFT_SET6)) < 0 ||
	    (r = copy_name(b->chain, c->chain, BAN_NFT_CHAIN)) < 0 ||
	    (r = group_names(g, set4, set6, NULL)) < 0)
		return r;
	if (group_names_clash(b, g))
		return -EINVAL;
	if (c->n_ports > 0)
		group_ports(g, c->ports, c->n_ports, c->all_ports);
	else
		group_ports(g, default_ports, ELEMENTSOF(default_ports), c->all_ports);
	b->n_groups = 1;
	return 0;
}

/* Opens and binds the netlink socket and sizes the batch (b->page) after its send buffer.
 * Returns 0, -ENOBUFS (a send buffer too small for a batch) or the socket's -errno. */
static int socket_open(struct ban_nft *b)
{
	b->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!b->nl)
		return -errno;
	if (mnl_socket_bind(b->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	b->portid = mnl_socket_get_portid(b->nl);

	int fd = mnl_socket_get_fd(b->nl), one = 1;
	/* Errors name the failing attribute and do not echo our (large) messages back. Both are
	 * optional: without them errors fall back to one message per element. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	set_bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF, PAGE_SIZE_MAX);
	set_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF, RCVBUF_SIZE);

	/* netlink_sendmsg() refuses a datagram larger than sk_sndbuf - 32. */
	int sndbuf = 0;
	socklen_t sl = sizeof(sndbuf);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) < 0)
		return -errno;
	b->page = MIN((size_t)PAGE_SIZE_MAX, sndbuf > 1024 ? (size_t)sndbuf - 512 : 0);
	if (b->page < 64 * 1024 + 1024)
		return -ENOBUFS;
	return 0;
}

int ban_nft_new(const struct ban_nft_config *c, struct ban_nft **ret)
{
	static const struct ban_nft_config empty = { 0 };
	struct ban_nft *b;
	int r;

	if (!ret)
		return -EINVAL;
	if (!c)
		c = &empty;
	if (c->n_ports > PORTS_MAX || (c->n_ports > 0 && !c->ports))
		return -EINVAL;
	for (size_t i = 0; i < c->n_ports; i++)
		if (c->ports[i] == 0)
			return -EINVAL;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	r = config_copy(b, c);
	if (r >= 0)
		r = socket_open(b);
	if (r < 0)
		goto fail;

	b->buf = calloc(1, b->page); /* libmnl 1.0.4 leaves attribute padding unwritten */
	b->rbuf = malloc(RECV_BUF_SIZE);
	b->msgs = calloc(MSGS_MAX, sizeof(*b->msgs));
	if (!b->buf || !b->rbuf || !b->msgs) {
		r = -ENOMEM;
		goto fail;
	}
	b->seq = 1;

	*ret = b;
	return 0;
fail:
	ban_nft_free(b);
	return r;
}

struct ban_nft *ban_nft_free(struct ban_nft *b)
{
	if (!b)
		return NULL;
	if (b->nl)
		mnl_socket_close(b->nl);
	if (b->mon)
		mnl_socket_close(b->mon);
	free(b->buf);
	free(b->rbuf);
	free(b->msgs);
	free(b->ops);
	free(b);
	return NULL;
}

/* ---- sending a batch and collecting its acks ---- */

/* Called for each error the kernel reports in a batch: seq of the failed message, the
 * negative errno, the offset of the offending attribute in that message (0 if unknown). */
typedef int (*batch_error_fn)(struct ban_nft *b, uint32_t seq, int error, uint32_t offset,
			      void *userdata);

static int ack_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		*(uint32_t *)data = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

/* Sends buf[0..len) (a batch: begin at seq_begin, the message carrying NLM_F_ACK at seq_ack,
 * end after it) and reads its acks. The kernel processes a batch synchronously inside
 * sendmsg() and queues every error before the final ack, so everything is already in the
 * socket when sendmsg() returns: read without blocking and stop at the final ack. Returns 0
 * (errors, if any, went to fn), or -errno for a failure of the batch as a whole. */
static int batch_talk(struct ban_nft *b, size_t len, uint32_t seq_begin, uint32_t seq_ack,
		      batch_error_fn fn, void *userdata)
{
	int fd = mnl_socket_get_fd(b->nl);
	ssize_t n;

	n = mnl_socket_sendto(b->nl, b->buf, len);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	b->stats.sends++;
	b->stats.bytes += len;

	for (;;) {
		struct sockaddr_nl sa;
		socklen_t salen = sizeof(sa);

		n = recvfrom(fd, b->rbuf, RECV_BUF_SIZE, MSG_DONTWAIT, (struct sockaddr *)&sa,
			     &salen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: no final ack although the batch was processed. */
			return errno == EAGAIN ? -EIO : -errno;
		}
		if (sa.nl_pid != 0)
			continue;

		const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->rbuf;
		int left = (int)n;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr))
				return -EBADMSG;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			uint32_t seq = nlh->nlmsg_seq;
			if (seq < seq_begin || seq > seq_ack)
				continue;     /* left over from an earlier batch */
			if (seq == seq_begin) /* the batch as a whole failed */
				return e->error < 0 ? e->error : -EIO;
			if (e->error < 0) {
				uint32_t offset = 0;
				size_t off = sizeof(*e);
				if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
					off += e->msg.nlmsg_len - NLMSG_HDRLEN;
				if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
				    NLMSG_HDRLEN + off < nlh->nlmsg_len)
					(void)mnl_attr_parse(nlh, (unsigned)off, ack_attr_cb,
							     &offset);
				int r = fn(b, seq, e->error, offset, userdata);
				if (r < 0)
					return r;
			}
			if (seq == seq_ack)
				return 0;
		}
	}
}

static struct nlmsghdr *put_batch_begin(struct ban_nft *b, size_t *len, uint32_t *seq)
{
	/* Sequence numbers of a batch are consecutive and compared as a range: never wrap
	 * inside one. */
	if (b->seq > UINT32_MAX - 2 * MSGS_MAX - 64)
		b->seq = 1;
	*seq = b->seq++;
	struct nlmsghdr *nlh = nftnl_batch_begin(b->buf + *len, *seq);
	*len += NLMSG_ALIGN(nlh->nlmsg_len);
	return nlh;
}

static void put_batch_end(struct ban_nft *b, size_t *len)
{
	struct nlmsghdr *nlh = nftnl_batch_end(b->buf + *len, b->seq++);
	*len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Sets NLM_F_ACK on the last message in b->buf[0..len) and returns its seq: the kernel answers
 * it after every other message of the batch. */
static uint32_t ack_last(struct ban_nft *b, size_t len)
{
	struct nlmsghdr *last = NULL;

	for (size_t off = 0; off < len; off += NLMSG_ALIGN(last->nlmsg_len))
		last = (struct nlmsghdr *)(b->buf + off);
	last->nlmsg_flags |= NLM_F_ACK;
	return last->nlmsg_seq;
}

/* ---- elements ---- */

static size_t key_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

/* The exclusive end of the network a in *end; false when it wraps past the top of the address
 * space (then the interval is open-ended: no end element). */
static bool net_end(const struct addr *a, uint8_t end[16])
{
	size_t len = key_len(a);
	unsigned bits = (unsigned)len * 8, host = bits - a->prefix;

	memcpy(end, a->bytes, len);
	/* Add 1 << host in big endian. */
	size_t i = len - 1 - host / 8;
	unsigned carry = 1u << (host % 8);
	if (host == bits)
		return false;
	for (;;) {
		unsigned v = end[i] + carry;
		end[i] = (uint8_t)v;
		carry = v >> 8;
		if (!carry)
			return true;
		if (i == 0)
			return false;
		i--;
	}
}

static bool set_is_interval(unsigned set)
{
	return set < PSET_BASE && (set % N_SETS == SET_NET4 || set % N_SETS == SET_NET6);
}

static const char *set_name(const struct ban_nft *b, unsigned set)
{
	if (set >= PSET_BASE)
		return b->psets[set - PSET_BASE].name;
	return b->groups[set / N_SETS].sets[set % N_SETS];
}

/* The set of the element of network a (host bits cleared) in group g: its family's host set for a
 * single address, the group's prefix set of its width if there is one, else the interval set. */
static unsigned set_of(const struct ban_nft *b, unsigned g, const struct addr *a)
{
	bool v6 = a->family == AF_INET6;
	if (a->prefix == key_len(a) * 8)
		return g * N_SETS + (v6 ? SET_HOST6 : SET_HOST4);
	for (size_t i = 0; i < b->n_psets; i++) {
		const struct pset *p = &b->psets[i];
		if (p->group == g && p->family == a->family && p->prefix == a->prefix)
			return PSET_BASE + (unsigned)i;
	}
	return g * N_SETS + (v6 ? SET_NET6 : SET_NET4);
}

/* The interval end of op o's element, if it has one (only an interval set's element has). */
static bool op_end(const struct op *o, uint8_t end[16])
{
	return set_is_interval(o->set) && net_end(&o->a, end);
}

static size_t op_size(const struct op *o)
{
	uint8_t end[16];
	size_t k = 4 + 4 + 4 + key_len(&o->a);
	size_t s = k + (!o->del && o->timeout_ms ? 12 : 0);
	if (op_end(o, end))
		s += k + 8;
	return s;
}

static size_t attr_str_size(const char *s)
{
	return MNL_ALIGN(MNL_ATTR_HDRLEN + strlen(s) + 1);
}

static const char *op_set(const struct ban_nft *b, const struct op *o)
{
	return set_name(b, o->set);
}

static size_t msg_overhead(const struct ban_nft *b, const char *set)
{
	return NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)) + attr_str_size(b->table) +
	       attr_str_size(set) + MNL_ATTR_HDRLEN;
}

static void put_elem(struct nlmsghdr *nlh, const uint8_t *key, size_t len, uint64_t timeout_ms,
		     bool end)
{
	struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	struct nlattr *k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, key);
	mnl_attr_nest_end(nlh, k);
	if (end)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	else if (timeout_ms)
		mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(timeout_ms));
	mnl_attr_nest_end(nlh, e);
}

/* Message builder state for one set while a transaction is filled; the count that precedes the
 * build follows the same runs without building. */
struct run {
	struct nlmsghdr *nlh; /* the message being built (the build only) */
	struct nlattr *nest;
	bool open; /* a message is under way */
	bool del;
	bool single;
	size_t nest_used; /* bytes of elements in it */
};

/* Offset of the end of nlh's payload from its start. */
static uint32_t tail_off(const struct nlmsghdr *nlh)
{
	return (uint32_t)((const char *)mnl_nlmsg_get_payload_tail(nlh) - (const char *)nlh);
}

/* A new message of r starts with op o. */
static void run_begin(struct run *r, const struct op *o)
{
	r->open = true;
	r->del = o->del;
	r->single = o->state == OP_SINGLE;
	r->nest_used = 0;
}

static void run_close(struct ban_nft *b, struct run *r, size_t *len)
{
	if (!r->nlh)
		return;
	struct msgrec *m = &b->msgs[b->n_msgs - 1];
	m->elems_hi = tail_off(r->nlh);
	mnl_attr_nest_end(r->nlh, r->nest);
	*len += NLMSG_ALIGN(r->nlh->nlmsg_len);
	r->nlh = NULL;
}

static void run_open(struct ban_nft *b, struct run *r, size_t *len, const struct op *o,
		     uint32_t idx)
{
	uint16_t type = o->del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM;
	uint16_t flags = o->del ? 0 : NLM_F_CREATE;
	uint32_t seq = b->seq++;

	r->nlh = nftnl_nlmsg_build_hdr(b->buf + *len, type, NFPROTO_INET, flags, seq);
	mnl_attr_put_strz(r->nlh, NFTA_SET_ELEM_LIST_TABLE, b->table);
	mnl_attr_put_strz(r->nlh, NFTA_SET_ELEM_LIST_SET, op_set(b, o));
	r->nest = mnl_attr_nest_start(r->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	run_begin(r, o);

	struct msgrec *m = &b->msgs[b->n_msgs++];
	m->first_op = m->last_op = idx;
	m->elems_lo = tail_off(r->nlh);
	m->del = o->del;
}

/* Whether op o starts a new message after the run r. */
static bool run_breaks(const struct run *r, const struct op *o, size_t osize)
{
	return !r->open || r->single || o->state == OP_SINGLE || r->del != o->del ||
	       r->nest_used + osize > NEST_PAYLOAD_MAX;
}

/* The index past the last op from ops[from] on that fits in one transaction: the page, the
 * message table and the singles bound (the same runs as the build, all sets at once).
 * used[set] tells (true) the sets those ops go to. */
static size_t ops_fitting(const struct ban_nft *b, size_t from, bool used[SETS_MAX])
{
	const size_t end_size = NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	struct run st[SETS_MAX];
	size_t to, budget = end_size * 2, singles = 0, msgs = 0;

	memset(used, 0, SETS_MAX * sizeof(bool));
	for (to = from; to < b->n_ops; to++) {
		const struct op *o = &b->ops[to];
		if (o->state == OP_DONE || o->state == OP_FAILED)
			continue;
		unsigned f = o->set;
		struct run *r = &st[f];
		if (!used[f]) /* a set's run starts closed */
			memset(r, 0, sizeof(*r));
		size_t osize = op_size(o), need = osize;
		bool brk = run_breaks(r, o, osize);
		if (brk)
			need += msg_overhead(b, op_set(b, o)) + 3; /* + nest alignment */
		if (budget + need > b->page || (brk && msgs + 1 > MSGS_MAX) ||
		    (o->state == OP_SINGLE && singles + 1 > SINGLES_MAX))
			break;
		budget += need;
		used[f] = true;
		if (brk) {
			msgs++;
			run_begin(r, o);
			singles += o->state == OP_SINGLE;
		}
		r->nest_used += osize;
	}
	return to;
}

/* Appends op o's element (and its interval end) to r's message and records where it went. */
static void put_op(struct ban_nft *b, struct run *r, struct op *o, uint32_t idx)
{
	size_t klen = key_len(&o->a);
	uint8_t endkey[16];

	o->msg = b->n_msgs - 1;
	o->off_lo = tail_off(r->nlh);
	put_elem(r->nlh, o->a.bytes, klen, o->del ? 0 : o->timeout_ms, false);
	if (op_end(o, endkey))
		put_elem(r->nlh, endkey, klen, 0, true);
	o->off_hi = tail_off(r->nlh);
	b->msgs[o->msg].last_op = idx;
}

/* Appends the messages of set f's ops among ops[from..to), in queue order. */
static void build_set(struct ban_nft *b, unsigned f, size_t from, size_t to, size_t *len)
{
	struct run r = { 0 };

	for (size_t i = from; i < to; i++) {
		struct op *o = &b->ops[i];
		if (o->state == OP_DONE || o->state == OP_FAILED || o->set != f)
			continue;
		size_t osize = op_size(o);
		if (run_breaks(&r, o, osize)) {
			run_close(b, &r, len);
			run_open(b, &r, len, o, (uint32_t)i);
		}
		put_op(b, &r, o, (uint32_t)i);
		r.nest_used += osize;
	}
	run_close(b, &r, len);
}

/* Fills b->buf with one transaction: begin, then the ops of ops[from..] set by set (group by
 * group: IPv4 networks, IPv4 hosts, IPv6 networks, IPv6 hosts; then the prefix sets; each set's
 * in queue order: order matters only between operations on the same set), end.
 * Stops at the first op that would not fit. Returns the index past the last op included;
 * *ret_len, *ret_seq_begin and *ret_seq_ack describe the batch (seq_ack = 0: no message). */
static size_t build_elements(struct ban_nft *b, size_t from, size_t *ret_len,
			     uint32_t *ret_seq_begin, uint32_t *ret_seq_ack)
{
	bool used[SETS_MAX];
	size_t len = 0, to = ops_fitting(b, from, used);
	uint32_t seq_begin;

	put_batch_begin(b, &len, &seq_begin);
	b->n_msgs = 0;
	/* Only the sets that get something: each build scans the ops. */
	for (unsigned f = 0; f < SETS_MAX; f++)
		if (used[f])
			build_set(b, f, from, to, &len);

	/* Only the last message asks for an ack: errors are reported anyway, and its ack tells
	 * that the kernel is through with the batch. */
	*ret_seq_ack = b->n_msgs > 0 ? ack_last(b, len) : 0;
	put_batch_end(b, &len);
	b->stats.messages += b->n_msgs;

	*ret_len = len;
	*ret_seq_begin = seq_begin;
	return to;
}

struct flush_ctx {
	ban_nft_error_fn on_error;
	void *userdata;
	uint32_t seq_first_msg; /* seq of msgs[0] */
	size_t from, to;
	bool changed;
	size_t done; /* deletes of absent elements, counted as applied */
};

static void op_fail(struct ban_nft *b, struct flush_ctx *c, struct op *o, int error)
{
	c->changed = true;
	if (o->del && error == -ENOENT) {
		o->state = OP_DONE;
		c->done += !o->shadow;
		return;
	}
	o->state = OP_FAILED;
	if (c->on_error && !o->shadow)
		c->on_error(&o->a, error, c->userdata);
	(void)b;
}

static int flush_error(struct ban_nft *b, uint32_t seq, int error, uint32_t offset, void *userdata)
{
	struct flush_ctx *c = userdata;
	uint32_t mi = seq - c->seq_first_msg;

	if (seq < c->seq_first_msg || mi >= b->n_msgs)
		return error; /* not an element message: the batch itself is wrong */

	const struct msgrec *m = &b->msgs[mi];
	bool in_elems = offset >= m->elems_lo && offset < m->elems_hi;
	bool single = m->first_op == m->last_op;

	if (offset != 0 && !in_elems && offset < m->elems_lo) {
		/* The message itself (table, set name): every element in it fails alike. */
		for (uint32_t i = m->first_op; i <= m->last_op; i++) {
			struct op *o = &b->ops[i];
			if (o->msg == mi && (o->state == OP_PENDING || o->state == OP_SINGLE))
				op_fail(b, c, o, error);
		}
		return 0;
	}

	struct op *culprit = NULL;
	if (in_elems)
		for (uint32_t i = m->first_op; i <= m->last_op; i++) {
			struct op *o = &b->ops[i];
			if (o->msg == mi && (o->state == OP_PENDING || o->state == OP_SINGLE) &&
			    offset >= o->off_lo && offset < o->off_hi) {
				culprit = o;
				break;
			}
		}
	if (!culprit && single)
		culprit = &b->ops[m->first_op];
	if (culprit) {
		op_fail(b, c, culprit, error);
		/* The kernel stopped at the culprit: the ones after it were not tried. Send them
		 * one per message next time, so that a single round finds all the bad ones. */
		for (struct op *o = culprit + 1; o <= &b->ops[m->last_op]; o++)
			if (o->msg == mi && o->state == OP_PENDING)
				o->state = OP_SINGLE;
		return 0;
	}
	/* No way to tell which element: try each on its own. */
	for (uint32_t i = m->first_op; i <= m->last_op; i++) {
		struct op *o = &b->ops[i];
		if (o->msg == mi && o->state == OP_PENDING) {
			o->state = OP_SINGLE;
			c->changed = true;
		}
	}
	return 0;
}

int ban_nft_flush(struct ban_nft *b, ban_nft_error_fn on_error, void *userdata)
{
	struct flush_ctx c = { .on_error = on_error, .userdata = userdata };
	size_t applied = 0;
	int r = 0;

	memset(&b->stats, 0, sizeof(b->stats));
	for (size_t from = 0; from < b->n_ops;) {
		size_t len;
		uint32_t seq_begin, seq_ack;
		size_t to = build_elements(b, from, &len, &seq_begin, &seq_ack);

		if (seq_ack == 0) {
			/* Nothing left to send from here (all done or failed). */
			if (to == from)
				to = from + 1;
			from = to;
			continue;
		}
		c.seq_first_msg = seq_begin + 1;
		c.from = from;
		c.to = to;
		c.changed = false;

		/* Every element error changes the state of some op: c.changed tells. */
		r = batch_talk(b, len, seq_begin, seq_ack, flush_error, &c);
		if (r < 0)
			goto out;
		/* Rolled back by the kernel: send again without the bad ones. */
		if (c.changed)
			continue;

		for (size_t i = from; i < to; i++)
			if (b->ops[i].state == OP_PENDING || b->ops[i].state == OP_SINGLE) {
				b->ops[i].state = OP_DONE;
				applied += !b->ops[i].shadow;
			}
		from = to;
	}
	r = (int)MIN(applied + c.done, (size_t)INT32_MAX);
out:
	b->n_ops = 0;
	b->n_shadow = 0;
	return r;
}

void ban_nft_last_stats(const struct ban_nft *b, struct ban_nft_stats *ret)
{
	*ret = b->stats;
}

/* Appends a copy of o for set (the ops array has room). */
static void push_op(struct ban_nft *b, const struct op *o, unsigned set, bool shadow)
{
	struct op *n = &b->ops[b->n_ops++];
	*n = *o;
	n->set = (uint8_t)set;
	n->shadow = shadow;
	b->n_shadow += shadow;
}

static int queue(struct ban_nft *b, unsigned group, const struct addr *a, uint64_t timeout_usec,
		 bool del)
{
	if (!b || !a || group >= b->n_groups)
		return -EINVAL;
	if (a->family != AF_INET && a->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (a->prefix > key_len(a) * 8)
		return -EINVAL;
	/* A delete goes to every group (a ban made before a reload that changed its jail's ports
	 * is in the sets of the old ones), and where the element's set is a hash set (a single
	 * address, a prefix set's network), to the interval set too (where an earlier version, the
	 * admin, or a configuration without that prefix set may have put it). */
	size_t need = del ? 2 * b->n_groups : 1;
	while (b->n_ops + need > b->cap_ops) {
		size_t cap = b->cap_ops ? b->cap_ops * 2 : 256;
		struct op *n = realloc(b->ops, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		b->ops = n;
		b->cap_ops = cap;
	}
	struct op o = { .a = *a };
	addr_mask(&o.a, a->prefix);
	if (o.a.family == AF_INET)
		memset(o.a.bytes + 4, 0, 12);
	o.timeout_ms = timeout_usec / USEC_PER_MSEC + (timeout_usec % USEC_PER_MSEC != 0);
	o.del = del;
	o.state = OP_PENDING;
	for (size_t i = 0; i < (del ? b->n_groups : 1); i++) {
		unsigned g = (unsigned)((group + i) % b->n_groups);
		unsigned set = set_of(b, g, &o.a);
		unsigned net = g * N_SETS + (o.a.family == AF_INET6 ? SET_NET6 : SET_NET4);
		push_op(b, &o, set, i > 0);
		if (del && set != net)
			push_op(b, &o, net, true);
	}
	return 0;
}

int ban_nft_add(struct ban_nft *b, const struct addr *a, uint64_t timeout_usec)
{
	return queue(b, 0, a, timeout_usec, false);
}

int ban_nft_add_group(struct ban_nft *b, unsigned group, const struct addr *a,
		      uint64_t timeout_usec)
{
	return queue(b, group, a, timeout_usec, false);
}

int ban_nft_del(struct ban_nft *b, const struct addr *a)
{
	return queue(b, 0, a, 0, true);
}

size_t ban_nft_pending(const struct ban_nft *b)
{
	return b->n_ops - b->n_shadow;
}

/* ---- port groups ---- */

/* The group of the port list, as ban_nft_group() would make it, in *ret (names unset).
 * Returns 0 or -EINVAL. */
static int group_of_ports(const uint16_t *ports, size_t n_ports, bool all_ports, struct group *ret)
{
	if (!all_ports && (n_ports == 0 || !ports))
		return -EINVAL;
	if (!all_ports && n_ports > PORTS_MAX)
		return -EINVAL;
	for (size_t i = 0; !all_ports && i < n_ports; i++)
		if (ports[i] == 0)
			return -EINVAL;
	group_ports(ret, ports, n_ports, all_ports);
	return 0;
}

static int group_lookup(const struct ban_nft *b, const struct group *want)
{
	for (size_t i = 0; i < b->n_groups; i++)
		if (group_same_ports(&b->groups[i], want))
			return (int)i;
	return -ENOENT;
}

int ban_nft_group_find(const struct ban_nft *b, const uint16_t *ports, size_t n_ports,
		       bool all_ports)
{
	struct group want;
	int r = group_of_ports(ports, n_ports, all_ports, &want);
	return r < 0 ? r : group_lookup(b, &want);
}

/* FNV-1a over the ports in network byte order: a name that is the same for the same list at
 * every start, and on every machine. */
static uint32_t ports_hash(const struct group *g)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < g->n_ports; i++) {
		uint8_t bytes[2] = { (uint8_t)(g->ports[i] >> 8), (uint8_t)g->ports[i] };
		for (int k = 0; k < 2; k++)
			h = (h ^ bytes[k]) * 16777619u;
	}
	return h;
}

int ban_nft_group(struct ban_nft *b, const uint16_t *ports, size_t n_ports, bool all_ports,
		  unsigned *ret)
{
	struct group *g;
	char tag[16];
	int r;

	if (!b || !ret)
		return -EINVAL;
	if (b->n_groups >= BAN_NFT_GROUPS_MAX) {
		struct group want;
		r = group_of_ports(ports, n_ports, all_ports, &want);
		if (r >= 0 && (r = group_lookup(b, &want)) >= 0)
			*ret = (unsigned)r;
		return r == -ENOENT ? -ENOSPC : r < 0 ? r : 0;
	}
	g = &b->groups[b->n_groups];
	if ((r = group_of_ports(ports, n_ports, all_ports, g)) < 0)
		return r;
	if ((r = group_lookup(b, g)) >= 0) {
		*ret = (unsigned)r;
		return 0;
	}
	if (g->all_ports)
		snprintf(tag, sizeof(tag), "all");
	else
		snprintf(tag, sizeof(tag), "p%08x", (unsigned)ports_hash(g));
	/* Group 0's names are the configured ones: the others derive from them. */
	char net4[NAME_MAX_LEN + 1], net6[NAME_MAX_LEN + 1];
	memcpy(net4, b->groups[0].sets[SET_NET4], sizeof(net4));
	memcpy(net6, b->groups[0].sets[SET_NET6], sizeof(net6));
	if ((r = group_names(g, net4, net6, tag)) < 0)
		return r;
	if (group_names_clash(b, g))
		return -EEXIST;
	*ret = (unsigned)b->n_groups++;
	return 0;
}

size_t ban_nft_groups(const struct ban_nft *b)
{
	return b->n_groups;
}

int ban_nft_group_prefix(struct ban_nft *b, unsigned group, int family, unsigned prefix)
{
	if (!b || group >= b->n_groups || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	unsigned bits = family == AF_INET ? 32 : 128;
	if (prefix == 0 || prefix > bits)
		return -EINVAL;
	if (prefix == bits || ban_nft_group_prefix_set(b, group, family, prefix))
		return 0;
	if (b->n_psets >= BAN_NFT_PREFIX_SETS_MAX)
		return -ENOSPC;

	char name[NAME_MAX_LEN + 1];
	const char *net = b->groups[group].sets[family == AF_INET ? SET_NET4 : SET_NET6];
	int n = snprintf(name, sizeof(name), "%s_%u", net, prefix);
	if (n < 0 || n > NAME_MAX_LEN)
		return -ENAMETOOLONG;
	if (name_taken(b, name, NULL))
		return -EEXIST;
	struct pset *p = &b->psets[b->n_psets];
	memcpy(p->name, name, (size_t)n + 1);
	p->group = (uint8_t)group;
	p->family = (uint8_t)family;
	p->prefix = (uint8_t)prefix;
	b->n_psets++;
	return 1;
}

size_t ban_nft_prefix_sets(const struct ban_nft *b)
{
	return b->n_psets;
}

void ban_nft_trim(struct ban_nft *b, size_t groups, size_t prefix_sets)
{
	if (groups >= 1 && groups < b->n_groups)
		b->n_groups = groups;
	if (prefix_sets < b->n_psets)
		b->n_psets = prefix_sets;
	/* Those of the forgotten groups (nothing is queued: the indexes may move). */
	size_t k = 0;
	for (size_t i = 0; i < b->n_psets; i++)
		if (b->psets[i].group < b->n_groups)
			b->psets[k++] = b->psets[i];
	b->n_psets = k;
}

const char *ban_nft_group_set(const struct ban_nft *b, unsigned group, int family)
{
	if (group >= b->n_groups || (family != AF_INET && family != AF_INET6))
		return NULL;
	return b->groups[group].sets[family == AF_INET ? SET_NET4 : SET_NET6];
}

const char *ban_nft_group_prefix_set(const struct ban_nft *b, unsigned group, int family,
				     unsigned prefix)
{
	for (size_t i = 0; i < b->n_psets; i++) {
		const struct pset *p = &b->psets[i];
		if (p->group == group && p->family == family && p->prefix == prefix)
			return p->name;
	}
	return NULL;
}

/* ---- setup and cleanup ---- */

struct first_error {
	int error;
	uint32_t seq; /* of the first failed message */
};

static int record_first_error(struct ban_nft *b, uint32_t seq, int error, uint32_t offset,
			      void *userdata)
{
	struct first_error *fe = userdata;
	(void)b;
	(void)offset;
	if (fe->error == 0) {
		fe->error = error;
		fe->seq = seq;
	}
	return 0;
}

/* Appends one libnftnl object message; returns its header. */
static struct nlmsghdr *put_msg(struct ban_nft *b, size_t *len, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(b->buf + *len, type, NFPROTO_INET, flags, b->seq++);
}

static void msg_done(size_t *len, const struct nlmsghdr *nlh)
{
	*len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static struct nftnl_expr *expr_meta(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *expr_cmp_eq(const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *expr_payload(uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	return e;
}

/* reg1 = reg1 & mask (len bytes; xor 0: the plain AND nft emits for `x & mask`). */
static struct nftnl_expr *expr_and(const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return e;
}

static struct nftnl_expr *expr_lookup(const char *set, uint32_t set_id)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		if (set_id)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	}
	return e;
}

static struct nftnl_expr *expr_drop(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
	}
	return e;
}

static int put_set(struct ban_nft *b, size_t *len, const char *name, uint32_t flags,
		   uint32_t key_type, uint32_t key_len, uint32_t id, size_t size)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, b->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id); /* the kernel requires one */
	if (flags & NFT_SET_ANONYMOUS)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, (uint32_t)size);
	struct nlmsghdr *nlh = put_msg(b, len, NFT_MSG_NEWSET, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	msg_done(len, nlh);
	nftnl_set_free(s);
	return 0;
}

/* The anonymous set of group g's destination ports for one rule (each rule binds its own). */
static int put_port_set(struct ban_nft *b, size_t *len, const struct group *g, uint32_t id)
{
	int r = put_set(b, len, "__set%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT,
			NFT_TYPE_INET_SERVICE, sizeof(uint16_t), id, g->n_ports);
	if (r < 0)
		return r;

	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, b->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, "__set%d");
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	for (size_t i = 0; i < g->n_ports; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		if (!e) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		uint16_t port = htons(g->ports[i]);
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &port, sizeof(port));
		nftnl_set_elem_add(s, e);
	}
	struct nlmsghdr *nlh = put_msg(b, len, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	msg_done(len, nlh);
	nftnl_set_free(s);
	return 0;
}

/* Offset of the flags byte in the TCP header, and the two flags tested there. */
#define TCP_FLAGS_OFFSET 13
#define TCP_FLAG_SYN	 0x02
#define TCP_FLAG_ACK	 0x10

/* Ports mode: tcp dport <ports> tcp flags & (syn | ack) == syn ip[6] saddr @set counter drop
 * All ports: ip[6] saddr @set counter drop
 * A prefix set's rule masks the address first: ip6 saddr & ffff:ffff:ffff:ffff:: @set.
 *
 * In ports mode only connection attempts are dropped (SYN set, ACK clear; no conntrack
 * needed). A source is banned while a session of it may still be open (Courier logs a DNSBL
 * 511 reject before the client's QUIT): that session must be able to finish, or its QUIT and
 * FIN would be dropped and Courier would keep its process until the session timed out, the very
 * resource waveguard exists to free. The banned host cannot open a new session: its SYN goes
 * unanswered. All-ports mode is a firewall-style block of the source: every packet is dropped,
 * those of open sessions included. */
static int put_rule(struct ban_nft *b, size_t *len, const struct group *g, const char *set,
		    int family, unsigned prefix, uint32_t port_set_id)
{
	bool v6 = family == AF_INET6;
	uint32_t klen = v6 ? 16 : 4;
	uint8_t mask[16] = { 0 };
	struct nftnl_rule *rule = nftnl_rule_alloc();
	uint8_t nfproto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, tcp = IPPROTO_TCP;
	uint8_t syn_ack = TCP_FLAG_SYN | TCP_FLAG_ACK, syn = TCP_FLAG_SYN;
	int r;

	if (!rule)
		return -ENOMEM;
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, b->chain);
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);

	if ((r = add_expr(rule, expr_meta(NFT_META_NFPROTO))) < 0 ||
	    (r = add_expr(rule, expr_cmp_eq(&nfproto, 1))) < 0)
		goto out;
	if (!g->all_ports) {
		if ((r = add_expr(rule, expr_meta(NFT_META_L4PROTO))) < 0 ||
		    (r = add_expr(rule, expr_cmp_eq(&tcp, 1))) < 0 ||
		    (r = add_expr(rule, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2))) < 0)
			goto out;
		if (g->n_ports == 1) {
			uint16_t port = htons(g->ports[0]);
			r = add_expr(rule, expr_cmp_eq(&port, sizeof(port)));
		} else
			r = add_expr(rule, expr_lookup("__set%d", port_set_id));
		if (r < 0 ||
		    (r = add_expr(rule, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, TCP_FLAGS_OFFSET,
						     1))) < 0 ||
		    (r = add_expr(rule, expr_and(&syn_ack, 1))) < 0 ||
		    (r = add_expr(rule, expr_cmp_eq(&syn, 1))) < 0)
			goto out;
	}
	if ((r = add_expr(rule, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, v6 ? 8 : 12, klen))) < 0)
		goto out;
	if (prefix < klen * 8) {
		for (unsigned i = 0; i < prefix; i++)
			mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		if ((r = add_expr(rule, expr_and(mask, klen))) < 0)
			goto out;
	}
	if ((r = add_expr(rule, expr_lookup(set, 0))) < 0 ||
	    (r = add_expr(rule, nftnl_expr_alloc("counter"))) < 0 ||
	    (r = add_expr(rule, expr_drop())) < 0)
		goto out;

	struct nlmsghdr *nlh = put_msg(b, len, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	msg_done(len, nlh);
out:
	nftnl_rule_free(rule);
	return r;
}

/* Sends the object messages in b->buf[0..len) (after a batch begin at seq_begin) and returns
 * the first error. */
static int finish_and_talk(struct ban_nft *b, size_t len, uint32_t seq_begin,
			   uint32_t *ret_failed_seq)
{
	struct first_error fe = { 0 };
	uint32_t seq_ack = ack_last(b, len);

	put_batch_end(b, &len);

	int r = batch_talk(b, len, seq_begin, seq_ack, record_first_error, &fe);
	if (ret_failed_seq)
		*ret_failed_seq = fe.seq;
	return r < 0 ? r : fe.error;
}

/* Appends the messages that delete the rules of our chain (recreate: and the chain itself). */
static int put_chain_flush(struct ban_nft *b, size_t *len, bool delete_chain)
{
	struct nftnl_rule *flush = nftnl_rule_alloc();
	if (!flush)
		return -ENOMEM;
	nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(flush, NFTNL_RULE_CHAIN, b->chain);
	nftnl_rule_set_u32(flush, NFTNL_RULE_FAMILY, NFPROTO_INET);
	struct nlmsghdr *nlh = put_msg(b, len, NFT_MSG_DELRULE, 0);
	nftnl_rule_nlmsg_build_payload(nlh, flush);
	msg_done(len, nlh);
	nftnl_rule_free(flush);
	if (!delete_chain)
		return 0;

	struct nftnl_chain *ch = nftnl_chain_alloc();
	if (!ch)
		return -ENOMEM;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, b->chain);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nlh = put_msg(b, len, NFT_MSG_DELCHAIN, 0);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	msg_done(len, nlh);
	nftnl_chain_free(ch);
	return 0;
}

/* Appends the named sets: four per port group, then the prefix sets. */
static int put_sets(struct ban_nft *b, size_t *len)
{
	int r;

	/* Networks in interval sets; single addresses in hash sets, whose inserts stay cheap
	 * however many elements they hold (an interval set's transaction costs the kernel time
	 * in proportion to its elements). Four per port group. Set ids: the set's index + 1. */
	for (size_t gi = 0; gi < b->n_groups; gi++) {
		const struct group *g = &b->groups[gi];
		uint32_t id = (uint32_t)gi * N_SETS + 1;
		if ((r = put_set(b, len, g->sets[SET_NET4], NFT_SET_INTERVAL | NFT_SET_TIMEOUT,
				 NFT_TYPE_IPADDR, 4, id + SET_NET4, 0)) < 0 ||
		    (r = put_set(b, len, g->sets[SET_HOST4], NFT_SET_TIMEOUT, NFT_TYPE_IPADDR, 4,
				 id + SET_HOST4, 0)) < 0 ||
		    (r = put_set(b, len, g->sets[SET_NET6], NFT_SET_INTERVAL | NFT_SET_TIMEOUT,
				 NFT_TYPE_IP6ADDR, 16, id + SET_NET6, 0)) < 0 ||
		    (r = put_set(b, len, g->sets[SET_HOST6], NFT_SET_TIMEOUT, NFT_TYPE_IP6ADDR, 16,
				 id + SET_HOST6, 0)) < 0)
			return r;
	}
	/* The networks of the widths the jails ban: hash sets too, of network addresses. */
	for (size_t i = 0; i < b->n_psets; i++) {
		const struct pset *p = &b->psets[i];
		bool v6 = p->family == AF_INET6;
		r = put_set(b, len, p->name, NFT_SET_TIMEOUT,
			    v6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR, v6 ? 16 : 4,
			    (uint32_t)(PSET_BASE + i + 1), 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Appends one rule (and its anonymous port set, ids from *port_set_id on) for the set of group
 * g. */
static int put_group_rule(struct ban_nft *b, size_t *len, const struct group *g, const char *set,
			  int family, unsigned prefix, uint32_t *port_set_id)
{
	uint32_t id = 0;
	int r;

	if (!g->all_ports && g->n_ports > 1) {
		id = (*port_set_id)++;
		if ((r = put_port_set(b, len, g, id)) < 0)
			return r;
	}
	return put_rule(b, len, g, set, family, prefix, id);
}

/* Appends the rules, one per set, group by group: set4, set4_host, set6, set6_host, then the
 * group's prefix sets. A packet is looked up in a group's sets only when it is for one of the
 * group's ports. */
static int put_rules(struct ban_nft *b, size_t *len)
{
	static const int families[N_SETS] = { AF_INET, AF_INET, AF_INET6, AF_INET6 };
	static const unsigned prefixes[N_SETS] = { 32, 32, 128, 128 }; /* no mask */
	uint32_t port_set_id = SETS_MAX + 1;			       /* after every named set's */
	int r;

	for (size_t gi = 0; gi < b->n_groups; gi++) {
		const struct group *g = &b->groups[gi];
		for (int i = 0; i < N_SETS; i++)
			if ((r = put_group_rule(b, len, g, g->sets[i], families[i], prefixes[i],
						&port_set_id)) < 0)
				return r;
		for (size_t i = 0; i < b->n_psets; i++) {
			const struct pset *p = &b->psets[i];
			if (p->group == gi && (r = put_group_rule(b, len, g, p->name, p->family,
								  p->prefix, &port_set_id)) < 0)
				return r;
		}
	}
	return 0;
}

/* One setup transaction. recreate: our chain exists with another type, hook or priority (it
 * cannot be changed in place): delete it first, in the same transaction. *ret_chain_seq gets
 * the sequence number of the chain message. */
static int setup_once(struct ban_nft *b, bool recreate, uint32_t *ret_failed_seq,
		      uint32_t *ret_chain_seq)
{
	size_t len = 0;
	uint32_t seq_begin;
	struct nlmsghdr *nlh;
	int r;

	put_batch_begin(b, &len, &seq_begin);

	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0); /* wakes it up if someone made it dormant */
	nlh = put_msg(b, &len, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	msg_done(&len, nlh);
	nftnl_table_free(t);

	if ((r = put_sets(b, &len)) < 0)
		return r;
	if (recreate && (r = put_chain_flush(b, &len, true)) < 0)
		return r;

	struct nftnl_chain *ch = nftnl_chain_alloc();
	if (!ch)
		return -ENOMEM;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, b->chain);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, -10);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT); /* never a drop policy of ours */
	nlh = put_msg(b, &len, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	*ret_chain_seq = nlh->nlmsg_seq;
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	msg_done(&len, nlh);
	nftnl_chain_free(ch);

	/* Flush the chain (ours alone) and re-add its rules: no duplicates on a second start. */
	if (!recreate && (r = put_chain_flush(b, &len, false)) < 0)
		return r;
	if ((r = put_rules(b, &len)) < 0)
		return r;

	return finish_and_talk(b, len, seq_begin, ret_failed_seq);
}

int ban_nft_setup(struct ban_nft *b)
{
	uint32_t failed_seq = 0, chain_seq = 0;
	int r = setup_once(b, false, &failed_seq, &chain_seq);

	/* Our chain exists with another type, hook or priority (an older version, a hand edit):
	 * nothing was changed; replace the chain, keeping the sets and their bans. */
	if (r < 0 && r != -ENOMEM && failed_seq != 0 && failed_seq == chain_seq)
		r = setup_once(b, true, &failed_seq, &chain_seq);
	return r;
}

int ban_nft_cleanup(struct ban_nft *b)
{
	size_t len = 0;
	uint32_t seq_begin;

	put_batch_begin(b, &len, &seq_begin);
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	struct nlmsghdr *nlh = put_msg(b, &len, NFT_MSG_DELTABLE, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	msg_done(&len, nlh);
	nftnl_table_free(t);

	int r = finish_and_talk(b, len, seq_begin, NULL);
	return r == -ENOENT ? 0 : r;
}

/* ---- change monitor ---- */

#define MONITOR_RCVBUF (4 * 1024 * 1024)

int ban_nft_monitor_fd(struct ban_nft *b)
{
	if (b->mon)
		return mnl_socket_get_fd(b->mon);

	struct mnl_socket *m = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m)
		return -errno;
	int fd = mnl_socket_get_fd(m), r;

	/* Drop every event whose first message our main socket caused (nf_tables puts the
	 * requester's port id in nlmsg_pid and sends one transaction's events together). The
	 * filter reads the field as a big-endian word, hence ntohl(). */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(b->portid), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = { .len = ELEMENTSOF(code), .filter = code };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		goto fail;
	set_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF, MONITOR_RCVBUF);
	if (mnl_socket_bind(m, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	int grp = NFNLGRP_NFTABLES;
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0)
		goto fail;
	b->mon = m;
	return fd;
fail:
	r = -errno;
	mnl_socket_close(m);
	return r;
}

struct mon_attrs {
	const struct nlattr *tb[8];
};

static int mon_attr_cb(const struct nlattr *attr, void *data)
{
	struct mon_attrs *a = data;
	int type = mnl_attr_get_type(attr);
	if (type >= 0 && (size_t)type < ELEMENTSOF(a->tb))
		a->tb[type] = attr;
	return MNL_CB_OK;
}

static bool attr_is(const struct nlattr *a, const char *s)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return false;
	return strcmp(mnl_attr_get_str(a), s) == 0;
}

/* Returns 1 when the event concerns our table (and sets *lost when it damages it), else 0. */
static int mon_event(struct ban_nft *b, const struct nlmsghdr *nlh, bool *lost)
{
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg))
		return 0;
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	if (g->nfgen_family != NFPROTO_INET)
		return 0;

	struct mon_attrs a = { 0 };
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), mon_attr_cb, &a) < 0)
		return 0;
	/* Attribute 1 is the table's name in every object's message. */
	if (!attr_is(a.tb[1], b->table))
		return 0;

	bool ours_set = false;
	for (size_t gi = 0; gi < b->n_groups && !ours_set; gi++)
		for (int i = 0; i < N_SETS; i++)
			ours_set = ours_set || attr_is(a.tb[2], b->groups[gi].sets[i]);
	for (size_t i = 0; i < b->n_psets && !ours_set; i++)
		ours_set = attr_is(a.tb[2], b->psets[i].name);
	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case NFT_MSG_DELTABLE:
		*lost = true;
		break;
	case NFT_MSG_NEWTABLE: {
		const struct nlattr *f = a.tb[NFTA_TABLE_FLAGS];
		if (f && mnl_attr_validate(f, MNL_TYPE_U32) >= 0 &&
		    (ntohl(mnl_attr_get_u32(f)) & NFT_TABLE_F_DORMANT))
			*lost = true;
		break;
	}
	case NFT_MSG_DELSET:	 /* NFTA_SET_NAME */
	case NFT_MSG_DELSETELEM: /* NFTA_SET_ELEM_LIST_SET */
		if (ours_set)
			*lost = true;
		break;
	case NFT_MSG_DELCHAIN:
		if (attr_is(a.tb[NFTA_CHAIN_NAME], b->chain))
			*lost = true;
		break;
	case NFT_MSG_DELRULE:
		if (attr_is(a.tb[NFTA_RULE_CHAIN], b->chain))
			*lost = true;
		break;
	default:
		break;
	}
	return 1;
}

int ban_nft_monitor_process(struct ban_nft *b, bool *ret_lost)
{
	int fd, count = 0;

	if (!b->mon)
		return -EBADF;
	fd = mnl_socket_get_fd(b->mon);
	for (;;) {
		struct sockaddr_nl sa;
		socklen_t salen = sizeof(sa);
		ssize_t n = recvfrom(fd, b->rbuf, RECV_BUF_SIZE, MSG_DONTWAIT,
				     (struct sockaddr *)&sa, &salen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return count;
			if (errno == ENOBUFS) { /* events were dropped: assume the worst */
				*ret_lost = true;
				continue;
			}
			return -errno;
		}
		if (sa.nl_pid != 0)
			continue;
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->rbuf;
		int left = (int)n;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			if (nlh->nlmsg_pid != b->portid)
				count += mon_event(b, nlh, ret_lost);
	}
}
