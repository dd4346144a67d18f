/* The fleet room: an outbox of signed entries sent with XADD on one Redis connection, a blocking
 * XREAD on another, and what comes back checked (MAC, this host's own entries, its own networks,
 * the apply list) before the manager applies it. Replies come in the order of the commands, so
 * the entries in flight are a FIFO: an answer pops the oldest; a lost connection puts the
 * unanswered ones back in front of the outbox, to be sent again (a duplicate is harmless: applying
 * the same ban twice changes nothing). Every wait on Redis has a deadline checked by a one-second
 * tick: a partition that TCP does not report is a connection dropped and made again. */
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include "fleet.h"
#include "log.h"
#include "redis_sdevent.h"
#include "state.h"

#define CURSOR_FILE	   "fleet-cursor"
#define CURSOR_MAX	   48
#define READ_BLOCK_MS	   "5000"
#define READ_COUNT	   "1000"
#define READ_WAIT_USEC	   (5 * USEC_PER_SEC)
#define REPLY_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define BACKOFF_MIN_USEC   (100 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC   (10 * USEC_PER_SEC)
#define TICK_USEC	   USEC_PER_SEC
#define OWN_REFRESH_USEC   (30 * USEC_PER_SEC)
#define WARN_EVERY_USEC	   (60 * USEC_PER_SEC)
#define XADD_ARGS	   6
#define SECRET_FILE_MAX	   4096

/* An entry waiting for Redis: its fields (names are fleet_entry's static strings). */
struct msg {
	struct fleet_field f[FLEET_ENTRY_FIELDS];
	size_t n;
	char data[];
};

/* A FIFO of messages that grows by doubling; both ends move. */
struct ring {
	struct msg **v;
	size_t cap, head, n;
};

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_READY };

struct conn {
	struct fleet *f;
	redisAsyncContext *ac;
	enum conn_state state;
	const char *name;
	uint64_t waiting_since; /* monotonic: an answer is awaited since then (0: none) */
	uint64_t timeout_usec;	/* how long an answer may take */
	uint64_t backoff_usec;
	sd_event_source *retry;
};

struct fleet {
	sd_event *event;
	const struct config_fleet *conf;
	fleet_apply_fn apply;
	void *userdata;
	char *redis, *user, *password, *stream, *cursor_path;
	char host[FLEET_HOST_MAX];
	uint8_t key[FLEET_KEY_BYTES];
	char maxlen[24];
	struct conn pub, sub;
	struct ring unsent, inflight;
	char cursor[CURSOR_MAX];
	bool cursor_dirty;
	bool down_warned; /* the one warning of a loss was given */
	bool was_up;	  /* both connections were ready once */
	struct addr *own; /* this host's addresses */
	size_t n_own;
	uint64_t own_usec;
	uint64_t dropped_told, forged_told, malformed_told, failed_told, told_usec;
	sd_event_source *tick;
	struct fleet_stats stats;
};

/* ---- the outbox's FIFOs ---- */

static int ring_grow(struct ring *r)
{
	if (r->n < r->cap)
		return 0;
	size_t cap = r->cap ? 2 * r->cap : 256;
	struct msg **v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++)
		v[i] = r->v[(r->head + i) % r->cap];
	free(r->v);
	r->v = v, r->cap = cap, r->head = 0;
	return 0;
}

static int ring_push_back(struct ring *r, struct msg *m)
{
	if (ring_grow(r) < 0)
		return -ENOMEM;
	r->v[(r->head + r->n++) % r->cap] = m;
	return 0;
}

static int ring_push_front(struct ring *r, struct msg *m)
{
	if (ring_grow(r) < 0)
		return -ENOMEM;
	r->head = (r->head + r->cap - 1) % r->cap;
	r->v[r->head] = m;
	r->n++;
	return 0;
}

static struct msg *ring_pop_front(struct ring *r)
{
	if (!r->n)
		return NULL;
	struct msg *m = r->v[r->head];
	r->head = (r->head + 1) % r->cap;
	r->n--;
	return m;
}

static struct msg *ring_pop_back(struct ring *r)
{
	if (!r->n)
		return NULL;
	r->n--;
	return r->v[(r->head + r->n) % r->cap];
}

static void ring_free(struct ring *r)
{
	struct msg *m;
	while ((m = ring_pop_front(r)))
		free(m);
	free(r->v);
}

static struct msg *msg_new(const struct fleet_fields *ff)
{
	size_t size = 0;
	for (size_t i = 0; i < ff->n; i++)
		size += ff->f[i].value_len + 1;
	struct msg *m = malloc(sizeof(*m) + size);
	if (!m)
		return NULL;
	m->n = ff->n;
	char *p = m->data;
	for (size_t i = 0; i < ff->n; i++) {
		m->f[i] = ff->f[i];
		memcpy(p, ff->f[i].value, ff->f[i].value_len);
		p[ff->f[i].value_len] = '\0';
		m->f[i].value = p;
		p += ff->f[i].value_len + 1;
	}
	return m;
}

/* ---- time, warnings ---- */

static uint64_t mono(const struct fleet *f)
{
	uint64_t t = 0;
	sd_event_now(f->event, CLOCK_MONOTONIC, &t);
	return t;
}

/* The counters that are told at most once a minute: what grew since the last time. */
static void tell_counts(struct fleet *f)
{
	struct fleet_stats *s = &f->stats;
	uint64_t now = mono(f);

	if (now - f->told_usec < WARN_EVERY_USEC && f->told_usec)
		return;
	if (s->dropped != f->dropped_told)
		log_warning("fleet: outbox full (outbox = %u): %" PRIu64
			    " oldest unsent entries dropped; the bans stay here",
			    f->conf->outbox, s->dropped - f->dropped_told);
	if (s->forged != f->forged_told)
		log_warning("fleet: %" PRIu64
			    " entries of %s failed their MAC (written without the "
			    "fleet key): dropped",
			    s->forged - f->forged_told, f->stream);
	if (s->malformed != f->malformed_told)
		log_warning("fleet: %" PRIu64 " entries of %s could not be read: dropped",
			    s->malformed - f->malformed_told, f->stream);
	if (s->failed != f->failed_told)
		log_warning("fleet: Redis refused %" PRIu64 " entries", s->failed - f->failed_told);
	if (s->dropped != f->dropped_told || s->forged != f->forged_told ||
	    s->malformed != f->malformed_told || s->failed != f->failed_told)
		f->told_usec = now;
	f->dropped_told = s->dropped, f->forged_told = s->forged;
	f->malformed_told = s->malformed, f->failed_told = s->failed;
}

/* ---- connections ---- */

static void pump(struct fleet *f);
static void read_next(struct fleet *f);
static void conn_connect(struct conn *c);

static void update_connected(struct fleet *f)
{
	bool up = f->pub.state == CONN_READY && f->sub.state == CONN_READY;

	if (up && !f->stats.connected) {
		if (f->down_warned)
			log_info("fleet: Redis at %s is back; %" PRIu64 " queued entries are sent",
				 f->redis, (uint64_t)(f->unsent.n + f->inflight.n));
		else
			log_info("fleet: connected to Redis at %s as %s, stream %s", f->redis,
				 f->host, f->stream);
		if (f->was_up)
			f->stats.reconnects++;
		f->was_up = true;
		f->down_warned = false;
	}
	f->stats.connected = up;
}

/* The unanswered entries go back in front of the outbox, oldest first. */
static void requeue(struct fleet *f)
{
	struct msg *m;

	while ((m = ring_pop_back(&f->inflight)))
		if (f->unsent.n + f->inflight.n >= f->conf->outbox ||
		    ring_push_front(&f->unsent, m) < 0) {
			free(m);
			f->stats.dropped++;
		}
}

/* c is down (its context freed or being freed by hiredis): one warning for the whole loss,
 * then a new attempt after the backoff. */
static void conn_lost(struct conn *c, const char *why)
{
	struct fleet *f = c->f;

	c->state = CONN_DOWN;
	c->waiting_since = 0;
	if (c == &f->pub)
		requeue(f);
	f->stats.outbox = f->unsent.n + f->inflight.n;
	if (!f->down_warned) {
		log_warning("fleet: Redis at %s unreachable (%s): local bans go on, entries are "
			    "queued (outbox = %u) and sent when it is back",
			    f->redis, why, f->conf->outbox);
		f->down_warned = true;
	} else
		log_debug("fleet: %s: %s", c->name, why);
	update_connected(f);
	sd_event_source_set_time(c->retry, mono(f) + c->backoff_usec);
	sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
	c->backoff_usec = MIN(2 * c->backoff_usec, BACKOFF_MAX_USEC);
}

/* Drops c's connection from our side (no answer in time, an error reply). */
static void conn_drop(struct conn *c, const char *why)
{
	redisAsyncContext *ac = c->ac;

	c->ac = NULL;
	conn_lost(c, why);
	/* Deferred by hiredis when called from inside one of its callbacks; the pending
	 * callbacks and the disconnect callback then see a context that is no longer c's. */
	if (ac)
		redisAsyncFree(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;

	if (status == REDIS_OK || c->ac != ac)
		return;
	c->ac = NULL; /* hiredis frees it on return */
	conn_lost(c, ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;
	(void)status;

	if (c->ac != ac)
		return;
	c->ac = NULL;
	conn_lost(c, ac->err ? ac->errstr : "connection closed");
}

static void on_handshake(redisAsyncContext *ac, void *r, void *priv)
{
	struct conn *c = ac->data;
	redisReply *reply = r;
	char why[160];
	(void)priv;

	if (c->ac != ac || !reply)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s refused: %s", c->f->password ? "AUTH" : "PING",
			 reply->str);
		conn_drop(c, why);
		return;
	}
	c->state = CONN_READY;
	c->waiting_since = 0;
	c->backoff_usec = BACKOFF_MIN_USEC;
	update_connected(c->f);
	if (c == &c->f->pub)
		pump(c->f);
	else
		read_next(c->f);
}

/* The first command of a connection: AUTH [user] password, or PING without a password. Its
 * answer makes the connection ready. */
static void handshake(struct conn *c)
{
	struct fleet *f = c->f;
	const char *argv[3];
	size_t len[3], n = 0;

	if (f->password) {
		argv[n++] = "AUTH";
		if (f->user)
			argv[n++] = f->user;
		argv[n++] = f->password;
	} else
		argv[n++] = "PING";
	for (size_t i = 0; i < n; i++)
		len[i] = strlen(argv[i]);
	redisAsyncCommandArgv(c->ac, on_handshake, NULL, (int)n, argv, len);
}

static void conn_connect(struct conn *c)
{
	struct fleet *f = c->f;
	redisAsyncContext *ac;

	if (f->redis[0] == '/')
		ac = redisAsyncConnectUnix(f->redis);
	else {
		char host[64];
		const char *colon = strrchr(f->redis, ':');
		bool v6 = f->redis[0] == '[';
		snprintf(host, sizeof(host), "%.*s", (int)(colon - f->redis - 2 * v6),
			 f->redis + v6);
		ac = redisAsyncConnect(host, atoi(colon + 1));
	}
	if (!ac || ac->err) {
		char why[128];
		snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		conn_lost(c, why);
		return;
	}
	ac->data = c;
	if (redis_sdevent_attach(ac, f->event, c->name) < 0) {
		redisAsyncFree(ac);
		conn_lost(c, "cannot watch the connection");
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (f->redis[0] != '/')
		redisEnableKeepAlive(&ac->c);
	c->ac = ac;
	c->state = CONN_CONNECTING;
	c->waiting_since = mono(f);
	handshake(c);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;
	(void)s;
	(void)usec;

	if (c->state == CONN_DOWN)
		conn_connect(c);
	return 0;
}

/* ---- publishing ---- */

static void on_xadd(redisAsyncContext *ac, void *r, void *priv)
{
	struct conn *c = ac->data;
	struct fleet *f = c->f;
	redisReply *reply = r;
	(void)priv;

	if (c->ac != ac || !reply)
		return; /* a lost connection: conn_lost() requeued what was in flight */
	free(ring_pop_front(&f->inflight));
	if (reply->type == REDIS_REPLY_ERROR) {
		f->stats.failed++;
		log_debug("fleet: XADD refused: %s", reply->str);
	} else
		f->stats.published++;
	c->waiting_since = f->inflight.n ? mono(f) : 0;
	f->stats.outbox = f->unsent.n + f->inflight.n;
}

/* Sends what the outbox holds, in order, while the connection is ready. */
static void pump(struct fleet *f)
{
	const char *argv[XADD_ARGS + 2 * FLEET_ENTRY_FIELDS];
	size_t len[XADD_ARGS + 2 * FLEET_ENTRY_FIELDS];
	struct msg *m;

	argv[0] = "XADD", argv[1] = f->stream, argv[2] = "MAXLEN", argv[3] = "~";
	argv[4] = f->maxlen, argv[5] = "*";
	for (size_t i = 0; i < XADD_ARGS; i++)
		len[i] = strlen(argv[i]);
	/* Room in flight first: the entry moves from one FIFO to the other without a failure. */
	while (f->pub.state == CONN_READY && f->unsent.n && ring_grow(&f->inflight) >= 0) {
		m = ring_pop_front(&f->unsent);
		ring_push_back(&f->inflight, m);
		for (size_t i = 0; i < m->n; i++) {
			argv[XADD_ARGS + 2 * i] = m->f[i].name;
			len[XADD_ARGS + 2 * i] = m->f[i].name_len;
			argv[XADD_ARGS + 2 * i + 1] = m->f[i].value;
			len[XADD_ARGS + 2 * i + 1] = m->f[i].value_len;
		}
		if (redisAsyncCommandArgv(f->pub.ac, on_xadd, NULL, (int)(XADD_ARGS + 2 * m->n),
					  argv, len) != REDIS_OK) {
			/* Out of memory, or the context is going: the entry waits in front. */
			ring_push_front(&f->unsent, ring_pop_back(&f->inflight));
			break;
		}
		if (!f->pub.waiting_since)
			f->pub.waiting_since = mono(f);
	}
	f->stats.outbox = f->unsent.n + f->inflight.n;
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void fleet_publish(struct fleet *f, enum fleet_kind kind, const struct ban *b, uint64_t now_usec)
{
	struct fleet_entry e = {
		.kind = kind,
		.net = b->addr,
		.host = b->host,
		.time_usec = now_usec,
		.since_usec = b->since_usec,
		.until_usec = b->until_usec,
		.offence = b->offence,
		.evidence = b->evidence,
		.evidence_len = b->evidence ? strlen(b->evidence) : 0,
	};
	struct fleet_fields ff;
	struct msg *m;

	if (!f || !in_list(f->conf->publish, f->conf->n_publish, b->jail))
		return;
	snprintf(e.jail, sizeof(e.jail), "%s", b->jail);
	snprintf(e.origin, sizeof(e.origin), "%s", f->host);
	if (fleet_entry_encode(&e, f->key, &ff) < 0 || !(m = msg_new(&ff))) {
		f->stats.dropped++;
		return;
	}
	/* At the bound the oldest unsent entry makes room; with none unsent (all in flight),
	 * this one is dropped. The ban itself is in force here either way. */
	if (f->unsent.n + f->inflight.n >= f->conf->outbox) {
		f->stats.dropped++;
		struct msg *old = ring_pop_front(&f->unsent);
		if (!old) {
			free(m);
			return;
		}
		free(old);
	}
	if (ring_push_back(&f->unsent, m) < 0) {
		free(m);
		f->stats.dropped++;
		return;
	}
	pump(f);
}

/* ---- reading ---- */

/* This host's addresses (getifaddrs), again every OWN_REFRESH_USEC: a remote ban never covers
 * them. */
static void refresh_own(struct fleet *f)
{
	struct ifaddrs *ifa = NULL;
	struct addr *v = NULL;
	size_t n = 0;

	f->own_usec = mono(f);
	if (getifaddrs(&ifa) < 0) {
		log_debug("fleet: getifaddrs: %m");
		return;
	}
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		struct addr *a;
		if (!i->ifa_addr ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (!(a = ARRAY_GROW(v, n)))
			break;
		if (i->ifa_addr->sa_family == AF_INET)
			addr_from_bytes(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a);
		else
			addr_from_bytes(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
					a);
	}
	freeifaddrs(ifa);
	free(f->own);
	f->own = v, f->n_own = n;
}

static bool valid_id(const char *s, size_t len)
{
	size_t dash = 0;

	if (len == 0 || len >= CURSOR_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-' && !dash && i > 0)
			dash = i;
		else if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return dash && dash + 1 < len;
}

/* One entry of the stream: checked, then applied through the manager. */
static void handle_entry(struct fleet *f, const redisReply *fields)
{
	struct fleet_field v[FLEET_ENTRY_FIELDS];
	struct fleet_entry e;
	size_t n = 0;

	f->stats.received++;
	if (!fields || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 ||
	    fields->elements > 2 * FLEET_ENTRY_FIELDS) {
		f->stats.malformed++;
		return;
	}
	for (size_t i = 0; i < fields->elements; i += 2, n++) {
		const redisReply *k = fields->element[i], *val = fields->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING) {
			f->stats.malformed++;
			return;
		}
		v[n] = (struct fleet_field){ k->str, val->str, (size_t)k->len, (size_t)val->len };
	}
	int r = fleet_entry_decode(v, n, f->key, &e);
	if (r == -EKEYREJECTED) {
		f->stats.forged++;
		return;
	}
	if (r < 0) {
		f->stats.malformed++;
		return;
	}
	if (strcmp(e.origin, f->host) == 0)
		return; /* applied here when it was decided */
	if (!in_list(f->conf->apply, f->conf->n_apply, e.jail)) {
		f->stats.not_applied++;
		return;
	}
	if (e.kind == FLEET_BAN) {
		if (mono(f) - f->own_usec > OWN_REFRESH_USEC)
			refresh_own(f);
		if (addr_overlaps_any(&e.net, f->own, f->n_own)) {
			char s[ADDR_STRLEN];
			log_notice("fleet: ban of %s from %s refused: it covers an address of this "
				   "host",
				   addr_format(&e.net, s, sizeof(s)), e.origin);
			f->stats.own_network++;
			f->stats.refused++;
			return;
		}
	}
	switch (f->apply(&e, f->userdata)) {
	case FLEET_APPLIED:
		f->stats.applied++;
		break;
	case FLEET_REFUSED:
		f->stats.refused++;
		break;
	case FLEET_IGNORED:
		f->stats.ignored++;
		break;
	}
}

/* An XREAD answer: [[stream, [[id, [field, value, ...]], ...]]]. */
static void handle_read(struct fleet *f, const redisReply *reply)
{
	if (reply->elements < 1 || reply->element[0]->type != REDIS_REPLY_ARRAY ||
	    reply->element[0]->elements != 2 ||
	    reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
		return;
	const redisReply *entries = reply->element[0]->element[1];
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *en = entries->element[i];
		if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
		    en->element[0]->type != REDIS_REPLY_STRING ||
		    !valid_id(en->element[0]->str, (size_t)en->element[0]->len)) {
			f->stats.malformed++;
			continue;
		}
		handle_entry(f, en->element[1]);
		memcpy(f->cursor, en->element[0]->str, (size_t)en->element[0]->len + 1);
		f->cursor_dirty = true;
	}
}

static void on_xread(redisAsyncContext *ac, void *r, void *priv)
{
	struct conn *c = ac->data;
	struct fleet *f = c->f;
	redisReply *reply = r;
	char why[160];
	(void)priv;

	if (c->ac != ac || !reply)
		return;
	c->waiting_since = 0;
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "XREAD refused: %s", reply->str);
		conn_drop(c, why);
		return;
	}
	if (reply->type == REDIS_REPLY_ARRAY)
		handle_read(f, reply);
	read_next(f);
}

/* A blocking read of what follows the cursor; its answer comes at the latest after the block
 * time (an empty one). */
static void read_next(struct fleet *f)
{
	const char *argv[] = { "XREAD",	      "COUNT",	 READ_COUNT, "BLOCK",
			       READ_BLOCK_MS, "STREAMS", f->stream,  f->cursor };
	size_t len[ELEMENTSOF(argv)];

	for (size_t i = 0; i < ELEMENTSOF(argv); i++)
		len[i] = strlen(argv[i]);
	if (redisAsyncCommandArgv(f->sub.ac, on_xread, NULL, (int)ELEMENTSOF(argv), argv, len) !=
	    REDIS_OK) {
		conn_drop(&f->sub, "cannot send XREAD");
		return;
	}
	f->sub.waiting_since = mono(f);
}

/* ---- the cursor, the tick ---- */

void fleet_save(struct fleet *f)
{
	char buf[CURSOR_MAX + 1];

	if (!f || !f->cursor_dirty)
		return;
	int n = snprintf(buf, sizeof(buf), "%s\n", f->cursor);
	int r = state_write_atomic(f->cursor_path, buf, (size_t)n, 0600);
	if (r < 0)
		log_warning_errno(r, "fleet: cannot save the stream's position in %s: %m",
				  f->cursor_path);
	else
		f->cursor_dirty = false;
}

/* "0-0" (the whole stream, for a first start) unless a cursor was saved. */
static void load_cursor(struct fleet *f)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	snprintf(f->cursor, sizeof(f->cursor), "0-0");
	if (state_read_file(f->cursor_path, CURSOR_MAX, &text, &len) < 0)
		return;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	if (valid_id(text, len)) {
		memcpy(f->cursor, text, len);
		f->cursor[len] = '\0';
	} else
		log_warning("fleet: %s is not a stream id: the stream is read from its start",
			    f->cursor_path);
}

/* A connection that waits for an answer past its deadline is taken for lost. */
static void check_deadline(struct conn *c, uint64_t now)
{
	uint64_t limit =
		c->timeout_usec + (c->state == CONN_READY && c == &c->f->sub ? READ_WAIT_USEC : 0);
	if (c->state != CONN_DOWN && c->waiting_since && now - c->waiting_since > limit)
		conn_drop(c, c->state == CONN_CONNECTING ? "no answer to the connection"
							 : "no answer in time");
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct fleet *f = userdata;
	uint64_t now = mono(f);

	check_deadline(&f->pub, now);
	check_deadline(&f->sub, now);
	fleet_save(f);
	tell_counts(f);
	sd_event_source_set_time(s, usec + TICK_USEC);
	return 0;
}

/* ---- life cycle ---- */

/* A secret's first line (the password), or the key; the file passes the trust checks again. */
static int read_secret(const char *path, char **ret, size_t *ret_len)
{
	struct config_errors errs = { 0 };
	bool ok = config_secret_trusted(path, &errs);

	for (size_t i = 0; i < errs.n; i++)
		log_error("%s", errs.msgs[i]);
	config_errors_clear(&errs);
	if (!ok)
		return -EPERM;
	int r = state_read_file(path, SECRET_FILE_MAX, ret, ret_len);
	if (r < 0)
		return log_error_errno(r, "fleet: cannot read %s: %m", path);
	return 0;
}

static int load_secrets(struct fleet *f)
{
	_cleanup_free_ char *key = NULL;
	size_t len;
	int r = read_secret(f->conf->key_file, &key, &len);

	if (r < 0)
		return r;
	r = fleet_entry_parse_key(key, len, f->key);
	sodium_memzero(key, len);
	if (r < 0)
		return log_error_errno(r,
				       "fleet: %s: expected 64 hexadecimal digits (the fleet key)",
				       f->conf->key_file);
	if (!f->conf->password_file)
		return 0;
	r = read_secret(f->conf->password_file, &f->password, &len);
	if (r < 0)
		return r;
	f->password[strcspn(f->password, "\r\n")] = '\0';
	return 0;
}

static int set_host(struct fleet *f)
{
	char h[256] = "";

	if (f->conf->host)
		snprintf(h, sizeof(h), "%s", f->conf->host);
	else if (gethostname(h, sizeof(h) - 1) < 0)
		return log_error_errno(-errno, "fleet: gethostname: %m");
	if (!fleet_entry_valid_host(h, strlen(h)))
		return log_error_errno(
			-EINVAL,
			"fleet: the host name '%s' cannot name this host in the fleet "
			"(letters, digits, '.', '_', '-', at most 63): set [fleet] host",
			h);
	memcpy(f->host, h, strlen(h) + 1); /* valid: shorter than FLEET_HOST_MAX */
	return 0;
}

static int conn_init(struct fleet *f, struct conn *c, const char *name, uint64_t timeout)
{
	c->f = f;
	c->name = name;
	c->timeout_usec = timeout;
	c->backoff_usec = BACKOFF_MIN_USEC;
	int r = sd_event_add_time(f->event, &c->retry, CLOCK_MONOTONIC, 0, 0, on_retry, c);
	if (r < 0)
		return log_error_errno(r, "fleet: cannot add a timer: %m");
	sd_event_source_set_description(c->retry, name);
	sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);
	return 0;
}

int fleet_new(sd_event *e, const struct config_fleet *conf, const char *state_dir,
	      fleet_apply_fn apply, void *userdata, struct fleet **ret)
{
	_cleanup_(fleet_freep) struct fleet *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return log_error_errno(-ENOMEM, "fleet: out of memory");
	f->event = sd_event_ref(e);
	f->conf = conf;
	f->apply = apply;
	f->userdata = userdata;
	f->redis = strdup(conf->redis);
	f->stream = strdup(conf->stream);
	f->user = conf->user ? strdup(conf->user) : NULL;
	if (!f->redis || !f->stream || (conf->user && !f->user) ||
	    asprintf(&f->cursor_path, "%s/" CURSOR_FILE, state_dir) < 0)
		return log_error_errno(-ENOMEM, "fleet: out of memory");
	snprintf(f->maxlen, sizeof(f->maxlen), "%u", conf->maxlen);
	if ((r = set_host(f)) < 0 || (r = load_secrets(f)) < 0)
		return r;
	load_cursor(f);
	refresh_own(f);
	if ((r = conn_init(f, &f->pub, "fleet-publish", REPLY_TIMEOUT_USEC)) < 0 ||
	    (r = conn_init(f, &f->sub, "fleet-read", REPLY_TIMEOUT_USEC)) < 0)
		return r;
	r = sd_event_add_time_relative(e, &f->tick, CLOCK_MONOTONIC, TICK_USEC, 0, on_tick, f);
	if (r < 0)
		return log_error_errno(r, "fleet: cannot add a timer: %m");
	sd_event_source_set_description(f->tick, "fleet-tick");
	sd_event_source_set_enabled(f->tick, SD_EVENT_ON);
	conn_connect(&f->pub);
	conn_connect(&f->sub);
	*ret = TAKE_PTR(f);
	return 0;
}

void fleet_reconfigure(struct fleet *f, const struct config_fleet *conf)
{
	if (!f)
		return;
	if (!conf->enabled || strcmp(conf->redis ? conf->redis : "", f->redis) != 0 ||
	    strcmp(conf->stream, f->stream) != 0 ||
	    strcmp(conf->user ? conf->user : "", f->user ? f->user : "") != 0 ||
	    (conf->host && strcmp(conf->host, f->host) != 0))
		log_warning(
			"fleet: enabled, redis, user, stream and host changes take effect at the "
			"next start");
	/* A disabled [fleet] keeps its running values until then; only the lists change. */
	f->conf = conf;
	snprintf(f->maxlen, sizeof(f->maxlen), "%u", conf->maxlen);
}

const char *fleet_host(const struct fleet *f)
{
	return f->host;
}

const char *fleet_redis(const struct fleet *f)
{
	return f->redis;
}

const struct fleet_stats *fleet_get_stats(const struct fleet *f)
{
	return &f->stats;
}

static void conn_done(struct conn *c)
{
	redisAsyncContext *ac = c->ac;

	c->ac = NULL;
	if (ac)
		redisAsyncFree(ac);
	sd_event_source_disable_unref(c->retry);
}

struct fleet *fleet_free(struct fleet *f)
{
	if (!f)
		return NULL;
	conn_done(&f->pub);
	conn_done(&f->sub);
	sd_event_source_disable_unref(f->tick);
	ring_free(&f->unsent);
	ring_free(&f->inflight);
	if (f->password)
		sodium_memzero(f->password, strlen(f->password));
	sodium_memzero(f->key, sizeof(f->key));
	free(f->password);
	free(f->redis);
	free(f->user);
	free(f->stream);
	free(f->cursor_path);
	free(f->own);
	sd_event_unref(f->event);
	free(f);
	return NULL;
}
