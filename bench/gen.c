/* Deterministic Courier mail log generator for the benchmark: N syslog lines with RFC 3339 stamps
 * advancing at a fixed average rate, about 70% benign traffic (Courier, IMAP, Postfix, kernel)
 * and 30% attack lines for the shipped filters, from a wave of offenders in 198.19.0.0/16
 * (IPv4-mapped, as Courier writes them) and 2001:db8:8000::/33. Same arguments, same bytes.
 * Per-kind counts go to standard error; "expect FILTER N" lines are the lines each filter must
 * match. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ADDR_MAX 48
#define N_BENIGN 20000

/* splitmix64: a fixed-seed PRNG whose output does not depend on the C library. */
static uint64_t rng_state;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd64(void)
{
	return splitmix(&rng_state);
}

/* Uniform in [0, n). */
static uint32_t rnd(uint32_t n)
{
	return (uint32_t)(((rnd64() & 0xffffffffULL) * n) >> 32);
}

static uint64_t hash64(uint64_t x)
{
	return splitmix(&x);
}

enum kind {
	/* benign */
	B_STARTED,
	B_TIMEOUT,
	B_NEWMSG,
	B_CD_STARTED,
	B_DELIVERED,
	B_COMPLETED,
	B_ESMTP_OUT,
	B_IMAP_LOGIN,
	B_IMAP_LOGOUT,
	B_POSTFIX,
	B_KERNEL,
	B_NEAR_MISS,
	B_CRON,
	/* attacks */
	A_DNSBL,
	A_DROPPED,
	A_550,
	A_513,
	A_535,
	A_LOGIN_FAILED,
	A_PERIP,
	A_MAXCONN, /* not drawn: written once a minute of log time during the wave */
	N_KINDS,
};

struct kind_info {
	const char *name;
	const char *filter; /* the shipped filter that matches it, NULL for benign lines */
	unsigned weight;    /* per 10000 */
};

static const struct kind_info kinds[N_KINDS] = {
	[B_STARTED] = { "courieresmtpd started", NULL, 1500 },
	[B_TIMEOUT] = { "courieresmtpd connection timed out", NULL, 300 },
	[B_NEWMSG] = { "courierd newmsg", NULL, 700 },
	[B_CD_STARTED] = { "courierd started (delivery)", NULL, 500 },
	[B_DELIVERED] = { "courierlocal delivered", NULL, 600 },
	[B_COMPLETED] = { "courierd completed", NULL, 500 },
	[B_ESMTP_OUT] = { "courieresmtp outbound 250", NULL, 300 },
	[B_IMAP_LOGIN] = { "imapd/pop3d LOGIN", NULL, 800 },
	[B_IMAP_LOGOUT] = { "imapd/pop3d LOGOUT", NULL, 600 },
	[B_POSTFIX] = { "postfix/smtpd connect/disconnect", NULL, 500 },
	[B_KERNEL] = { "kernel firewall log", NULL, 400 },
	[B_NEAR_MISS] = { "courieresmtpd error,relay= other code", NULL, 200 },
	[B_CRON] = { "CRON", NULL, 100 },
	[A_DNSBL] = { "courieresmtpd 511 DNSBL reject", "courier-dnsbl", 1100 },
	[A_DROPPED] = { "courieresmtpd dropped blocked connection", "courier-dnsbl", 100 },
	[A_550] = { "courieresmtpd 550 unknown user", "courier-smtp", 500 },
	[A_513] = { "courieresmtpd 513 relaying denied", "courier-smtp", 200 },
	[A_535] = { "esmtpd 535 AUTH failure", "courier-smtp", 400 },
	[A_LOGIN_FAILED] = { "imapd/pop3d LOGIN FAILED", "courier-auth", 450 },
	[A_PERIP] = { "courieresmtpd per-IP limit", "courier-perip", 250 },
	[A_MAXCONN] = { "courieresmtpd maximum active connections", "courier-maxconn", 0 },
};

static const char *const users[] = {
	"alice",  "bob",    "carol",   "dave",	"erin",	   "frank",  "grace",	  "heidi",
	"ivan",	  "judy",   "mallory", "oscar", "peggy",   "rupert", "sybil",	  "trent",
	"victor", "walter", "info",    "sales", "support", "admin",  "webmaster", "office",
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static const char *const domains[] = {
	"example.com", "example.net", "example.org", "mail.example.test", "lists.example.test",
};
#define N_DOMAINS (sizeof(domains) / sizeof(domains[0]))

static const char *const local_domains[] = { "example.com", "example.org" };

struct gen {
	uint64_t n;
	uint64_t start_usec;
	double rate; /* lines per second of log time */
	uint32_t n_off;
	char (*off)[ADDR_MAX];	  /* offender addresses as Courier writes them */
	char (*off_v4)[16];	  /* plain dotted quad (for the DNSBL URL), "" for IPv6 */
	char (*benign)[ADDR_MAX]; /* benign clients */
	char (*benign_v4)[16];
	uint8_t *off_seen;
	uint64_t counts[N_KINDS];
	uint64_t hostile, allowlisted, off_distinct;
	/* current time and its formatted second */
	uint64_t now_usec;
	time_t stamp_sec;
	char stamp[32];
	int64_t last_minute;
};

/* 16-bit bijection, so that the ids of a pool map to distinct low halves of an address. */
static uint32_t perm16(uint32_t x, uint32_t salt)
{
	x = (x * 0x9e37u + salt) & 0xffff;
	x ^= x >> 7;
	x = (x * 0x5bd1u) & 0xffff;
	x ^= x >> 9;
	return x;
}

static void make_v6(char *buf, uint64_t h, bool offender)
{
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint64_t h2 = hash64(h ^ 0xabcdef);

	/* offenders in 2001:db8:8000::/33, benign clients in 2001:db8::/33 */
	a[4] = (uint8_t)(((h >> 8) & 0x7f) | (offender ? 0x80 : 0));
	a[5] = (uint8_t)h;
	a[6] = (uint8_t)(h >> 16);
	a[7] = (uint8_t)(h >> 24);
	if ((h >> 32) % 3 == 0) {
		/* a short host part, as servers have: 2001:db8:x:y::1b */
		a[14] = (uint8_t)(h2 >> 8 & 0x0f);
		a[15] = (uint8_t)h2;
	} else
		memcpy(a + 8, &h2, 8);
	inet_ntop(AF_INET6, a, buf, ADDR_MAX);
}

static int setup_pools(struct gen *g)
{
	g->off = calloc(g->n_off, sizeof(*g->off));
	g->off_v4 = calloc(g->n_off, sizeof(*g->off_v4));
	g->off_seen = calloc(g->n_off, 1);
	g->benign = calloc(N_BENIGN, sizeof(*g->benign));
	g->benign_v4 = calloc(N_BENIGN, sizeof(*g->benign_v4));
	if (!g->off || !g->off_v4 || !g->off_seen || !g->benign || !g->benign_v4)
		return -ENOMEM;

	/* Offenders: 4 in 5 IPv4 (198.19.0.0/16, written ::ffff:198.19.x.y), 1 in 5 IPv6. */
	for (uint32_t i = 0, v4 = 0; i < g->n_off; i++) {
		if (i % 5 == 4 || v4 >= 65536)
			make_v6(g->off[i], hash64(i + 0x1000000ULL), true);
		else {
			uint32_t p = perm16(v4++, 0x1234);
			snprintf(g->off_v4[i], sizeof(g->off_v4[i]), "198.19.%u.%u", p >> 8,
				 p & 255);
			snprintf(g->off[i], ADDR_MAX, "::ffff:%s", g->off_v4[i]);
		}
	}
	/* Benign clients: 9 in 10 IPv4 (198.18.0.0/16), 1 in 10 IPv6. */
	for (uint32_t i = 0, v4 = 0; i < N_BENIGN; i++) {
		if (i % 10 == 9)
			make_v6(g->benign[i], hash64(i + 0x2000000ULL), false);
		else {
			uint32_t p = perm16(v4++, 0x4321);
			snprintf(g->benign_v4[i], sizeof(g->benign_v4[i]), "198.18.%u.%u", p >> 8,
				 p & 255);
			snprintf(g->benign[i], ADDR_MAX, "::ffff:%s", g->benign_v4[i]);
		}
	}
	return 0;
}

/* The wave: offenders join over the first two thirds of the log; one in 25 of them (the first
 * ones) are repeat offenders that send a quarter of all attack lines. */
static uint32_t pick_offender(struct gen *g, uint64_t i)
{
	uint32_t hot = g->n_off / 25 ? g->n_off / 25 : 1;
	uint32_t id;

	if (rnd(4) == 0)
		id = rnd(hot);
	else {
		double frac = 1.5 * (double)i / (double)g->n;
		uint32_t active = frac >= 1.0 ? g->n_off : (uint32_t)(g->n_off * frac);
		if (active < hot)
			active = hot;
		id = rnd(active);
	}
	if (!g->off_seen[id]) {
		g->off_seen[id] = 1;
		g->off_distinct++;
	}
	return id;
}

static const char *benign_addr(struct gen *g)
{
	return g->benign[rnd(N_BENIGN)];
}

static const char *benign_v4(struct gen *g)
{
	uint32_t i;
	do
		i = rnd(N_BENIGN);
	while (!g->benign_v4[i][0]);
	return g->benign_v4[i];
}

/* The dotted quad of an IPv4 offender of the wave, for logs that write plain IPv4. */
static const char *offender_v4(struct gen *g, uint64_t i)
{
	for (int tries = 0; tries < 8; tries++) {
		uint32_t o = pick_offender(g, i);
		if (g->off_v4[o][0])
			return g->off_v4[o];
	}
	return benign_v4(g);
}

static void update_stamp(struct gen *g)
{
	time_t s = (time_t)(g->now_usec / 1000000);
	if (s != g->stamp_sec || !g->stamp[0]) {
		struct tm tm;
		gmtime_r(&s, &tm);
		strftime(g->stamp, sizeof(g->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		g->stamp_sec = s;
	}
}

static void msg_id(char *buf, size_t size)
{
	uint64_t a = rnd64() & 0xfffffffffULL;
	uint32_t b = (uint32_t)rnd64();
	uint32_t c = rnd(0x10000);
	snprintf(buf, size, "%016" PRIX64 ".%08" PRIX32 ".%08" PRIX32, a, b, c);
}

static const char *user(void)
{
	return users[rnd(N_USERS)];
}

static const char *domain(void)
{
	return domains[rnd(N_DOMAINS)];
}

static const char *local_domain(void)
{
	return local_domains[rnd(2)];
}

static unsigned port(void)
{
	return 1024 + rnd(64512);
}

/* A random-looking recipient local part of a dictionary attack. */
static void probe_user(char *buf, size_t size)
{
	static const char *const stems[] = {
		"info",	   "admin", "test", "sales",   "user", "mail",
		"contact", "hr",    "jobs", "noreply", "root", "abuse"
	};
	unsigned v = rnd(3);
	const char *stem = stems[rnd(12)];
	if (v == 0)
		snprintf(buf, size, "%s", stem);
	else
		snprintf(buf, size, "%s%u", stem, rnd(1000));
}

static enum kind draw_kind(void)
{
	unsigned x = rnd(10000);
	for (int k = 0; k < N_KINDS; k++) {
		if (x < kinds[k].weight)
			return (enum kind)k;
		x -= kinds[k].weight;
	}
	return B_STARTED;
}

/* Writes the message part (after "host tag: ") and returns the tag. Every random draw is its
 * own statement: the order in which a compiler evaluates function arguments is unspecified, and
 * the log must not depend on the compiler. */
static const char *line(struct gen *g, enum kind k, uint64_t i, char *m, size_t size)
{
	char id[48], pu[32];
	const char *a, *u, *d, *u2, *d2, *tag;
	unsigned p, v, n;
	uint32_t o;

	switch (k) {
	case B_STARTED:
		/* Attackers connect too: one in three connections is from the wave. */
		a = rnd(3) == 0 ? g->off[pick_offender(g, i)] : benign_addr(g);
		p = port();
		snprintf(m, size, "started,ip=[%s],port=[%u]", a, p);
		return "courieresmtpd";
	case B_TIMEOUT:
		a = rnd(2) ? g->off[pick_offender(g, i)] : benign_addr(g);
		snprintf(m, size, "[%s]: Connection timed out", a);
		return "courieresmtpd";
	case B_NEWMSG:
		msg_id(id, sizeof(id));
		n = rnd(10);
		d = domain();
		a = benign_addr(g);
		snprintf(m, size, "newmsg,id=%s: dns; mx%u.%s ([%s])", id, n, d, a);
		return "courierd";
	case B_CD_STARTED:
		msg_id(id, sizeof(id));
		u = user();
		d = local_domain();
		u2 = user();
		d2 = domain();
		snprintf(m, size, "started,id=%s,from=<%s@%s>,module=local,host=%s@%s,addr=<%s@%s>",
			 id, u2, d2, u, d, u, d);
		return "courierd";
	case B_DELIVERED:
		msg_id(id, sizeof(id));
		u = user();
		d = local_domain();
		u2 = user();
		d2 = domain();
		n = 800 + rnd(200000);
		snprintf(m, size,
			 "id=%s,from=<%s@%s>,addr=<%s@%s>,size=%u,success: Message delivered.", id,
			 u2, d2, u, d, n);
		return "courierlocal";
	case B_COMPLETED:
		msg_id(id, sizeof(id));
		snprintf(m, size, "completed,id=%s", id);
		return "courierd";
	case B_ESMTP_OUT:
		msg_id(id, sizeof(id));
		u = user();
		d = local_domain();
		u2 = user();
		d2 = domain();
		n = 800 + rnd(200000);
		v = (uint32_t)rnd64();
		snprintf(m, size,
			 "id=%s,from=<%s@%s>,addr=<%s@%s>,size=%u: 250 2.0.0 Ok: queued as %08X",
			 id, u, d, u2, d2, n, v);
		return "courieresmtp";
	case B_IMAP_LOGIN:
		u = user();
		d = local_domain();
		a = benign_addr(g);
		p = port();
		v = rnd(4);
		snprintf(m, size, "LOGIN, user=%s@%s, ip=[%s], port=[%u], protocol=%s", u, d, a, p,
			 v ? "IMAP" : "POP3");
		return v ? (rnd(2) ? "imapd-ssl" : "imapd") : (rnd(2) ? "pop3d-ssl" : "pop3d");
	case B_IMAP_LOGOUT: {
		unsigned hd, bd, rc, sn, tm;
		u = user();
		d = local_domain();
		a = benign_addr(g);
		hd = rnd(5000);
		bd = rnd(500000);
		rc = rnd(5000);
		sn = rnd(900000);
		tm = rnd(3600);
		snprintf(m, size,
			 "LOGOUT, user=%s@%s, ip=[%s], headers=%u, body=%u, rcvd=%u, sent=%u, "
			 "time=%u",
			 u, d, a, hd, bd, rc, sn, tm);
		return rnd(2) ? "imapd-ssl" : "imapd";
	}
	case B_POSTFIX:
		a = benign_v4(g);
		if (rnd(2))
			snprintf(m, size, "connect from unknown[%s]", a);
		else {
			n = rnd(3);
			snprintf(m, size,
				 "disconnect from unknown[%s] ehlo=1 mail=1 rcpt=%u data=1 quit=1 "
				 "commands=%u",
				 a, 1 + n, 5 + n);
		}
		return rnd(2) ? "postfix/smtpd[2317]" : "postfix/smtpd[2419]";
	case B_KERNEL: {
		uint64_t up = g->now_usec - g->start_usec + 86400ULL * 1000000;
		unsigned ttl, ipid, sport;
		a = rnd(2) ? benign_v4(g) : offender_v4(g, i);
		ttl = 40 + rnd(24);
		ipid = rnd(65536);
		sport = port();
		p = rnd(4) ? 25 : 587;
		snprintf(m, size,
			 "[%" PRIu64
			 ".%06u] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 "
			 "SRC=%s DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=%u ID=%u DF PROTO=TCP "
			 "SPT=%u DPT=%u WINDOW=64240 RES=0x00 SYN URGP=0",
			 up / 1000000, (unsigned)(up % 1000000), a, ttl, ipid, sport, p);
		return "kernel";
	}
	case B_NEAR_MISS:
		/* "error,relay=" lines (the prefilter of two filters) that neither filter bans. */
		probe_user(pu, sizeof(pu));
		a = benign_addr(g);
		p = port();
		u = user();
		d = domain();
		d2 = local_domain();
		if (rnd(2)) {
			const char *d3 = domain();
			snprintf(m, size,
				 "error,relay=%s,port=%u,from=<%s@%s>,to=<%s@%s>: 517 SPF fail "
				 "validation: %s",
				 a, p, u, d, pu, d2, d3);
		} else
			snprintf(m, size,
				 "error,relay=%s,port=%u,from=<%s@%s>,to=<%s@%s>: 432 Mail "
				 "temporarily "
				 "rejected, try again later.",
				 a, p, u, d, pu, d2);
		return "courieresmtpd";
	case B_CRON:
		snprintf(m, size,
			 "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)");
		return "CRON[4711]";
	case A_DNSBL:
		o = pick_offender(g, i);
		p = port();
		u = user();
		d = domain();
		u2 = user();
		d2 = local_domain();
		if (rnd(50) == 0) {
			const char *ident = user();
			snprintf(m, size,
				 "error,relay=%s,port=%u,ident=%s,from=<%s@%s>,to=<%s@%s>: 511 "
				 "Listed in zen.example.test",
				 g->off[o], p, ident, u, d, u2, d2);
		} else {
			n = rnd(100);
			snprintf(m, size,
				 "error,relay=%s,port=%u,from=<%s%u@%s>,to=<%s@%s>: 511 Listed in "
				 "zen.example.test, see http://www.example.test/query/ip/%s",
				 g->off[o], p, u, n, d, u2, d2,
				 g->off_v4[o][0] ? g->off_v4[o] : g->off[o]);
		}
		return "courieresmtpd";
	case A_DROPPED:
		snprintf(m, size, "dropped blocked connection from %s",
			 g->off[pick_offender(g, i)]);
		return "courieresmtpd";
	case A_550:
		o = pick_offender(g, i);
		probe_user(pu, sizeof(pu));
		p = port();
		d2 = local_domain();
		v = rnd(100);
		if (v == 0) {
			/* Client text naming another address: the relay= one is the offender. */
			g->hostile++;
			d = domain();
			snprintf(
				m, size,
				"error,relay=%s,port=%u,from=<error,relay=::ffff:203.0.113.9@%s>,"
				"to=<::ffff:203.0.113.9@%s>: 550 User <::ffff:203.0.113.9> unknown",
				g->off[o], p, d, d2);
		} else if (v < 25)
			snprintf(m, size,
				 "error,relay=%s,port=%u,from=<>,to=<%s@%s>: 550 User unknown.",
				 g->off[o], p, pu, d2);
		else {
			u = user();
			d = domain();
			snprintf(m, size,
				 "error,relay=%s,port=%u,from=<%s@%s>,to=<%s@%s>: 550 User <%s> "
				 "unknown",
				 g->off[o], p, u, d, pu, d2, pu);
		}
		return "courieresmtpd";
	case A_513:
		o = pick_offender(g, i);
		probe_user(pu, sizeof(pu));
		p = port();
		u = user();
		d = domain();
		d2 = domain();
		snprintf(m, size,
			 "error,relay=%s,port=%u,from=<%s@%s>,to=<%s@%s>: 513 Relaying denied.",
			 g->off[o], p, u, d, pu, d2);
		return "courieresmtpd";
	case A_535: {
		static const char *const cmds[] = { "AUTH LOGIN", "AUTH PLAIN AGFkbWluAHBhc3N3b3Jk",
						    "YWRtaW4=", "cGFzc3dvcmQ=" };
		o = pick_offender(g, i);
		p = port();
		n = rnd(4);
		v = rnd(10);
		snprintf(m, size,
			 "error,relay=%s,port=%u,msg=\"535 Authentication failed.\",cmd: %s",
			 g->off[o], p, cmds[n]);
		/* SMTP AUTH also comes in on the submission ports. */
		return v < 7 ? "courieresmtpd" : v < 9 ? "esmtpd-msa" : "esmtpd-ssl";
	}
	case A_LOGIN_FAILED: {
		static const char *const tags[] = { "imapd", "imapd-ssl", "pop3d", "pop3d-ssl" };
		tag = tags[rnd(4)];
		v = rnd(100);
		if (v == 0) {
			/* A webmail on the host itself: matched, but allowlisted. */
			g->allowlisted++;
			u = user();
			d = local_domain();
			p = port();
			snprintf(m, size,
				 "LOGIN FAILED, user=%s@%s, ip=[::ffff:127.0.0.1], port=[%u]", u, d,
				 p);
		} else if (v == 1) {
			/* user= is the client's text: the last ip=[...] is Courier's. */
			g->hostile++;
			o = pick_offender(g, i);
			p = port();
			snprintf(m, size,
				 "LOGIN FAILED, user=x, ip=[::ffff:203.0.113.66], port=[1], "
				 "ip=[%s], "
				 "port=[%u]",
				 g->off[o], p);
		} else if (v < 20) {
			o = pick_offender(g, i);
			snprintf(m, size, "LOGIN FAILED, method=PLAIN, ip=[%s]", g->off[o]);
		} else {
			u = user();
			d = local_domain();
			o = pick_offender(g, i);
			p = port();
			snprintf(m, size, "LOGIN FAILED, user=%s@%s, ip=[%s], port=[%u]", u, d,
				 g->off[o], p);
		}
		return tag;
	}
	case A_PERIP:
		/* A few hammering clients at Courier's MAXPERIP, logged on every refusal. */
		o = rnd(20 < g->n_off ? 20 : g->n_off);
		if (!g->off_seen[o]) {
			g->off_seen[o] = 1;
			g->off_distinct++;
		}
		snprintf(m, size, "Maximum connection limit reached for %s", g->off[o]);
		return "courieresmtpd";
	case A_MAXCONN:
		snprintf(m, size, "300 maximum active connections.");
		return "courieresmtpd";
	case N_KINDS:
		break;
	}
	m[0] = '\0';
	return "courieresmtpd";
}

static int parse_time(const char *s, uint64_t *ret)
{
	struct tm tm = { 0 };
	char *end;
	int n = 0;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!errno && end != s && !*end) {
		*ret = (uint64_t)v * 1000000;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -EINVAL;
	if (s[n] && strcmp(s + n, "Z") != 0 && strcmp(s + n, "+00:00") != 0)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*ret = (uint64_t)t * 1000000;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: gen [-s START] [-r LINES_PER_SEC] [-S SEED] [-o OFFENDERS] [N]\n"
		   "  N          lines to write (default 1000000)\n"
		   "  -s START   first stamp, UTC: 2026-11-27T06:00:00Z or epoch seconds\n"
		   "  -r RATE    average lines per second of log time (default 1000)\n"
		   "  -S SEED    PRNG seed (default 1)\n"
		   "  -o N       distinct offenders in the wave (default 5000)\n");
}

int main(int argc, char **argv)
{
	struct gen g = { .n = 1000000, .rate = 1000, .n_off = 5000, .last_minute = -1 };
	uint64_t seed = 1;
	static char out[1 << 20];
	int c;

	if (parse_time("2026-11-27T06:00:00Z", &g.start_usec) < 0)
		return 2;
	while ((c = getopt(argc, argv, "s:r:S:o:h")) >= 0) {
		switch (c) {
		case 's':
			if (parse_time(optarg, &g.start_usec) < 0) {
				fprintf(stderr, "gen: bad start time '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			g.rate = strtod(optarg, NULL);
			if (!(g.rate > 0 && g.rate <= 1e7)) {
				fprintf(stderr, "gen: bad rate '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			g.n_off = (uint32_t)strtoul(optarg, NULL, 10);
			if (g.n_off < 1 || g.n_off > 1000000) {
				fprintf(stderr, "gen: bad offender count '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		g.n = strtoull(argv[optind++], NULL, 10);
	if (optind != argc || g.n == 0) {
		usage(stderr);
		return 2;
	}
	if (setup_pools(&g) < 0) {
		fprintf(stderr, "gen: out of memory\n");
		return 1;
	}
	rng_state = seed;
	setvbuf(stdout, out, _IOFBF, sizeof(out));

	/* Gaps are uniform in [0, 2/rate) (kept in ns): the mean is the rate, the stamps never go
	 * back. */
	uint64_t gap2_ns = (uint64_t)(2e9 / g.rate);
	uint64_t now_ns = g.start_usec * 1000;
	g.now_usec = g.start_usec;
	for (uint64_t i = 0; i < g.n; i++) {
		char m[1100];
		enum kind k = draw_kind();
		int64_t minute = (int64_t)(g.now_usec / 60000000);

		/* Courier logs "maximum active connections" at most once a minute; while the wave
		 * runs (after its first tenth) it does so every minute. */
		if (minute != g.last_minute && i > g.n / 10) {
			k = A_MAXCONN;
			g.last_minute = minute;
		}
		const char *tag = line(&g, k, i, m, sizeof(m));
		g.counts[k]++;
		update_stamp(&g);
		printf("%s.%06u+00:00 mail %s: %s\n", g.stamp, (unsigned)(g.now_usec % 1000000),
		       tag, m);

		now_ns += gap2_ns ? rnd64() % gap2_ns : 0;
		g.now_usec = now_ns / 1000;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("gen: write");
		return 1;
	}

	uint64_t benign = 0, attack = 0;
	fprintf(stderr,
		"gen: %" PRIu64 " lines, seed %" PRIu64 ", %.0f lines/s of log time, "
		"%.0f s of log\n",
		g.n, seed, g.rate, (double)(g.now_usec - g.start_usec) / 1e6);
	for (int k = 0; k < N_KINDS; k++) {
		fprintf(stderr, "  %-42s %-16s %9" PRIu64 "\n", kinds[k].name,
			kinds[k].filter ? kinds[k].filter : "-", g.counts[k]);
		if (kinds[k].filter)
			attack += g.counts[k];
		else
			benign += g.counts[k];
	}
	fprintf(stderr, "  benign %" PRIu64 " (%.1f%%), attack %" PRIu64 " (%.1f%%)\n", benign,
		100.0 * (double)benign / (double)g.n, attack, 100.0 * (double)attack / (double)g.n);
	fprintf(stderr,
		"  distinct offenders %" PRIu64 " of %" PRIu32 " (1 in 25 repeat offenders), "
		"%" PRIu64 " attack lines with spoofed addresses in client text, %" PRIu64
		" from allowlisted 127.0.0.1\n",
		g.off_distinct, g.n_off, g.hostile, g.allowlisted);
	static const char *const filters[] = { "courier-dnsbl", "courier-smtp", "courier-auth",
					       "courier-perip", "courier-maxconn" };
	for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
		uint64_t n = 0;
		for (int k = 0; k < N_KINDS; k++)
			if (kinds[k].filter && strcmp(kinds[k].filter, filters[f]) == 0)
				n += g.counts[k];
		fprintf(stderr, "expect %s %" PRIu64 "\n", filters[f], n);
	}
	return 0;
}
