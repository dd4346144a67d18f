/* Test helper: reads back what the kernel holds in the sets of one of waveguard's port groups
 * (its four sets and the prefix sets the table's set list shows for it; an element dump per set,
 * on a netlink socket of its own) and reports it as CIDR blocks with their remaining time, so
 * that the tests assert on the kernel's state rather than on what ban_nft meant to send. The
 * daemon never reads its bans back, hence this lives under test/. */
#include "nftlist.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"

#define NAME_MAX_LEN	255
#define HOST_SUFFIX_LEN (sizeof(BAN_NFT_HOST_SUFFIX) - 1)
#define RECV_BUF_SIZE	(64U * 1024U)

/* A prefix set found in the table: set4 or set6, "_" and the prefix length. */
struct pset {
	char name[NAME_MAX_LEN + 1];
	int family;
	unsigned prefix;
};

/* One listing's socket and the names of the sets it reads. */
struct lister {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *buf; /* request and receive buffer */
	const char *table, *set4, *set6;
	char set4h[NAME_MAX_LEN + 1], set6h[NAME_MAX_LEN + 1];
	struct pset psets[BAN_NFT_PREFIX_SETS_MAX];
	size_t n_psets;
};

struct elem {
	uint8_t key[16];
	bool end;
	bool has_timeout;
	uint64_t expires_ms;
};

struct dump {
	struct elem *v;
	size_t n, cap;
	size_t klen;
	int error;
};

static int elem_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	if (type >= 0 && type <= NFTA_SET_ELEM_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int dump_elem(struct dump *d, const struct nlattr *nest)
{
	const struct nlattr *tb[NFTA_SET_ELEM_MAX + 1] = { 0 };
	if (mnl_attr_parse_nested(nest, elem_attr_cb, tb) < 0)
		return -EBADMSG;
	if (!tb[NFTA_SET_ELEM_KEY])
		return 0;
	const struct nlattr *val = NULL, *a;
	mnl_attr_for_each_nested(a, tb[NFTA_SET_ELEM_KEY]) if (mnl_attr_get_type(a) ==
							       NFTA_DATA_VALUE) val = a;
	if (!val || mnl_attr_get_payload_len(val) != d->klen)
		return -EBADMSG;

	if (ARRAY_RESERVE(d->v, d->cap, d->n + 1) < 0)
		return -ENOMEM;
	struct elem *e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->key, mnl_attr_get_payload(val), d->klen);
	if (tb[NFTA_SET_ELEM_FLAGS] && mnl_attr_get_payload_len(tb[NFTA_SET_ELEM_FLAGS]) == 4)
		e->end = ntohl(mnl_attr_get_u32(tb[NFTA_SET_ELEM_FLAGS])) &
			 NFT_SET_ELEM_INTERVAL_END;
	if (tb[NFTA_SET_ELEM_TIMEOUT])
		e->has_timeout = true;
	if (tb[NFTA_SET_ELEM_EXPIRATION] &&
	    mnl_attr_get_payload_len(tb[NFTA_SET_ELEM_EXPIRATION]) == 8) {
		e->has_timeout = true;
		e->expires_ms = be64toh(mnl_attr_get_u64(tb[NFTA_SET_ELEM_EXPIRATION]));
	}
	return 0;
}

static int dump_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		const struct nlattr *e;
		mnl_attr_for_each_nested(e, a)
		{
			if (mnl_attr_get_type(e) != NFTA_LIST_ELEM)
				continue;
			int r = dump_elem(d, e);
			if (r < 0) {
				d->error = r;
				return MNL_CB_ERROR;
			}
		}
	}
	return MNL_CB_OK;
}

/* Called for each message of a dump; returns 0 or a negative errno (the dump is then read to
 * its end without further calls). */
typedef int (*dump_msg_fn)(const struct nlmsghdr *nlh, void *data);

/* Sends the dump request nlh (sequence number seq) and reads the dump, every message to fn.
 * Always reads the dump to its end (a dump left half-read would make the next request on the
 * socket fail with EBUSY). Returns 0, -EINTR when the object changed during the dump (fn then
 * saw a mix), or -errno. */
static int dump_run(struct lister *ls, const struct nlmsghdr *nlh, uint32_t seq, dump_msg_fn fn,
		    void *data)
{
	if (mnl_socket_sendto(ls->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	int r = 0;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(ls->nl, ls->buf, RECV_BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		const struct nlmsghdr *m = (const struct nlmsghdr *)ls->buf;
		int left = (int)n;
		for (; mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
			if (m->nlmsg_seq != seq || m->nlmsg_pid != ls->portid)
				continue; /* left over from an earlier exchange */
			if (m->nlmsg_flags & NLM_F_DUMP_INTR)
				r = r ?: -EINTR;
			if (m->nlmsg_type == NLMSG_DONE)
				return r;
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
				if (m->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
					return -EBADMSG;
				return e->error < 0 ? e->error : r; /* the error ends the dump */
			}
			if (r == 0)
				r = fn(m, data);
		}
	}
}

static int elems_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	if (dump_msg_cb(nlh, d) != MNL_CB_OK)
		return d->error < 0 ? d->error : -EBADMSG;
	return 0;
}

/* One dump of a set's elements into d. Returns 0, -EINTR when the set changed during the dump
 * (d then holds a mix), or -errno. */
static int dump_set_once(struct lister *ls, const char *set, struct dump *d)
{
	uint32_t seq = ls->seq++;
	struct nlmsghdr *nlh =
		nftnl_nlmsg_build_hdr(ls->buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, seq);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, ls->table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	return dump_run(ls, nlh, seq, elems_msg, d);
}

static int dump_set(struct lister *ls, const char *set, struct dump *d)
{
	int r;
	for (unsigned tries = 0;; tries++) {
		d->n = 0;
		r = dump_set_once(ls, set, d);
		if (r != -EINTR || tries == 3)
			return r;
	}
}

static int elem_cmp(const void *x, const void *y)
{
	const struct elem *a = x, *b = y;
	int c = memcmp(a->key, b->key, 16);
	if (c)
		return c;
	return (int)b->end - (int)a->end; /* at equal keys, the end of [x, k) before [k, y) */
}

static bool key_is_zero_bits(const uint8_t *k, size_t len, unsigned nbits)
{
	/* The lowest nbits bits of the big-endian number are 0. */
	for (size_t n = 0; n < len && nbits > 0; n++) {
		unsigned take = MIN(nbits, 8u);
		if (k[len - 1 - n] & (uint8_t)((1u << take) - 1))
			return false;
		nbits -= take;
	}
	return true;
}

/* last = k | (2^nbits - 1) */
static void key_fill_bits(const uint8_t *k, uint8_t *last, size_t len, unsigned nbits)
{
	memcpy(last, k, len);
	for (size_t n = 0; n < len && nbits > 0; n++) {
		unsigned take = MIN(nbits, 8u);
		last[len - 1 - n] |= (uint8_t)((1u << take) - 1);
		nbits -= take;
	}
}

/* What one family's two sets hold, as CIDR blocks, before they are sorted and reported. */
struct listed {
	struct addr a;
	uint64_t expires;
};

struct listing {
	struct listed *v;
	size_t n, cap;
};

static int listing_push(struct listing *l, const uint8_t *key, size_t len, int family,
			unsigned prefix, uint64_t expires)
{
	if (ARRAY_RESERVE(l->v, l->cap, l->n + 1) < 0)
		return -ENOMEM;
	struct listed *e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->a.family = (uint8_t)family;
	e->a.prefix = (uint8_t)prefix;
	memcpy(e->a.bytes, key, len);
	e->expires = expires;
	return 0;
}

static int listed_cmp(const void *x, const void *y)
{
	const struct listed *a = x, *b = y;
	int c = memcmp(a->a.bytes, b->a.bytes, sizeof(a->a.bytes));
	if (c)
		return c;
	return (int)a->a.prefix - (int)b->a.prefix;
}

/* Adds [lo, hi] (inclusive) as CIDR blocks. Returns their number or -ENOMEM. */
static int report_range(const uint8_t *lo_in, const uint8_t *hi, size_t len, int family,
			uint64_t expires, struct listing *l)
{
	uint8_t lo[16], last[16];
	unsigned bits = (unsigned)len * 8;
	int count = 0;

	memcpy(lo, lo_in, len);
	for (;;) {
		unsigned host = 0;
		while (host < bits && key_is_zero_bits(lo, len, host + 1)) {
			key_fill_bits(lo, last, len, host + 1);
			if (memcmp(last, hi, len) > 0)
				break;
			host++;
		}
		if (listing_push(l, lo, len, family, bits - host, expires) < 0)
			return -ENOMEM;
		count++;
		key_fill_bits(lo, last, len, host);
		if (memcmp(last, hi, len) >= 0)
			return count;
		/* lo = last + 1 */
		memcpy(lo, last, len);
		for (size_t i = len; i-- > 0;)
			if (++lo[i] != 0)
				break;
	}
}

/* Adds the elements of the interval set to l. Returns their number (in CIDR blocks) or
 * -errno. */
static int list_net_set(struct lister *ls, const char *set, int family, struct listing *l)
{
	struct dump d = { .klen = family == AF_INET ? 4 : 16 };
	int r = dump_set(ls, set, &d), count = 0;
	if (r < 0)
		goto out;

	if (d.n > 1)
		qsort(d.v, d.n, sizeof(*d.v), elem_cmp);
	for (size_t i = 0; i < d.n; i++) {
		const struct elem *s = &d.v[i];
		uint8_t hi[16];
		if (s->end)
			continue; /* an end without a start (e.g. nft's 0.0.0.0 end marker) */
		if (i + 1 < d.n && d.v[i + 1].end) {
			memcpy(hi, d.v[i + 1].key, d.klen);
			for (size_t k = d.klen; k-- > 0;)
				if (hi[k]-- != 0)
					break;
			i++;
		} else
			memset(hi, 0xff, d.klen);
		uint64_t expires = s->has_timeout ? s->expires_ms * USEC_PER_MSEC : UINT64_MAX;
		r = report_range(s->key, hi, d.klen, family, expires, l);
		if (r < 0)
			goto out;
		count += r;
	}
	r = count;
out:
	free(d.v);
	return r;
}

/* Adds the elements of a hash set to l: a host set's (prefix 32 or 128) or a prefix set's (the
 * network addresses of its prefix length). Returns their number or -errno. */
static int list_hash_set(struct lister *ls, const char *set, int family, unsigned prefix,
			 struct listing *l)
{
	struct dump d = { .klen = family == AF_INET ? 4 : 16 };
	int r = dump_set(ls, set, &d), count = 0;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < d.n; i++) {
		const struct elem *e = &d.v[i];
		uint64_t expires = e->has_timeout ? e->expires_ms * USEC_PER_MSEC : UINT64_MAX;
		if (e->end)
			continue;
		r = listing_push(l, e->key, d.klen, family, prefix, expires);
		if (r < 0)
			goto out;
		count++;
	}
	r = count;
out:
	free(d.v);
	return r;
}

/* Reports the elements of one family's interval, host and prefix sets, in ascending order. */
static int list_family(struct lister *ls, const char *net_set, const char *host_set, int family,
		       nftlist_elem_fn fn, void *userdata)
{
	struct listing l = { 0 };
	unsigned bits = family == AF_INET ? 32 : 128;
	int r = list_net_set(ls, net_set, family, &l);
	if (r >= 0)
		r = list_hash_set(ls, host_set, family, bits, &l);
	for (size_t i = 0; r >= 0 && i < ls->n_psets; i++)
		if (ls->psets[i].family == family)
			r = list_hash_set(ls, ls->psets[i].name, family, ls->psets[i].prefix, &l);
	if (r >= 0) {
		if (l.n > 1)
			qsort(l.v, l.n, sizeof(*l.v), listed_cmp);
		for (size_t i = 0; fn && i < l.n; i++)
			fn(&l.v[i].a, l.v[i].expires, userdata);
		r = (int)MIN(l.n, (size_t)INT32_MAX);
	}
	free(l.v);
	return r;
}

/* The prefix length when name is base "_" and a prefix length of a network (1 to bits - 1, no
 * leading zero), else 0. */
static unsigned prefix_of(const char *name, const char *base, unsigned bits)
{
	size_t n = strlen(base);
	if (strncmp(name, base, n) != 0 || name[n] != '_' || name[n + 1] < '1' || name[n + 1] > '9')
		return 0;
	unsigned v = 0;
	for (const char *p = name + n + 1; *p; p++) {
		if (*p < '0' || *p > '9' || v > bits)
			return 0;
		v = v * 10 + (unsigned)(*p - '0');
	}
	return v < bits ? v : 0;
}

static int set_name_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == NFTA_SET_NAME &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		*(const char **)data = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

static int sets_msg(const struct nlmsghdr *nlh, void *data)
{
	struct lister *ls = data;
	const char *name = NULL;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), set_name_cb, &name) < 0 || !name)
		return 0;
	unsigned p4 = prefix_of(name, ls->set4, 32), p6 = prefix_of(name, ls->set6, 128);
	if ((!p4 && !p6) || strlen(name) > NAME_MAX_LEN)
		return 0;
	if (ls->n_psets >= BAN_NFT_PREFIX_SETS_MAX)
		return -ENOSPC;
	struct pset *p = &ls->psets[ls->n_psets++];
	strcpy(p->name, name);
	p->family = p4 ? AF_INET : AF_INET6;
	p->prefix = p4 ? p4 : p6;
	return 0;
}

/* The prefix sets of set4 and set6 among the table's sets into ls->psets. Returns 0 or -errno
 * (-ENOENT: no table). */
static int find_psets(struct lister *ls)
{
	int r;
	for (unsigned tries = 0;; tries++) {
		uint32_t seq = ls->seq++;
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(ls->buf, NFT_MSG_GETSET, NFPROTO_INET,
							     NLM_F_DUMP, seq);
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, ls->table);
		ls->n_psets = 0;
		r = dump_run(ls, nlh, seq, sets_msg, ls);
		if (r != -EINTR || tries == 3)
			return r;
	}
}

/* The names as ban_nft_new() completes them, and a socket of our own. */
static int lister_open(struct lister *ls, const struct ban_nft_config *c)
{
	ls->table = c && c->table ? c->table : BAN_NFT_TABLE;
	ls->set4 = c && c->set4 ? c->set4 : BAN_NFT_SET4;
	ls->set6 = c && c->set6 ? c->set6 : BAN_NFT_SET6;
	if (strlen(ls->table) > NAME_MAX_LEN || strlen(ls->set4) > NAME_MAX_LEN - HOST_SUFFIX_LEN ||
	    strlen(ls->set6) > NAME_MAX_LEN - HOST_SUFFIX_LEN)
		return -ENAMETOOLONG;
	snprintf(ls->set4h, sizeof(ls->set4h), "%s%s", ls->set4, BAN_NFT_HOST_SUFFIX);
	snprintf(ls->set6h, sizeof(ls->set6h), "%s%s", ls->set6, BAN_NFT_HOST_SUFFIX);

	ls->buf = malloc(RECV_BUF_SIZE);
	if (!ls->buf)
		return -ENOMEM;
	ls->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!ls->nl)
		return -errno;
	if (mnl_socket_bind(ls->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	ls->portid = mnl_socket_get_portid(ls->nl);
	ls->seq = 1;
	return 0;
}

static void lister_close(struct lister *ls)
{
	if (ls->nl)
		mnl_socket_close(ls->nl);
	free(ls->buf);
}

int nftlist_bans(const struct ban_nft_config *c, nftlist_elem_fn fn, void *userdata)
{
	struct lister ls = { 0 };
	int r = lister_open(&ls, c);
	if (r >= 0)
		r = find_psets(&ls);
	if (r >= 0)
		r = list_family(&ls, ls.set4, ls.set4h, AF_INET, fn, userdata);
	if (r >= 0) {
		int r6 = list_family(&ls, ls.set6, ls.set6h, AF_INET6, fn, userdata);
		r = r6 < 0 ? r6 : r + r6;
	}
	lister_close(&ls);
	return r;
}

int nftlist_group_bans(const struct ban_nft_config *c, const struct ban_nft *b, unsigned group,
		       nftlist_elem_fn fn, void *userdata)
{
	struct ban_nft_config g = c ? *c : (struct ban_nft_config){ 0 };
	g.set4 = ban_nft_group_set(b, group, AF_INET);
	g.set6 = ban_nft_group_set(b, group, AF_INET6);
	if (!g.set4 || !g.set6)
		return -EINVAL;
	return nftlist_bans(&g, fn, userdata);
}
