/* rbldnsd data files of the bans in force. A change only marks the zone stale; a one-shot timer
 * writes both files at most once a second (a wave of 10,000 bans is one write, not 10,000), and
 * again at the next end of a ban, since rbldnsd knows nothing of expiry. Each file is replaced
 * whole (temporary file, fsync, rename): rbldnsd, which reloads a file when its time stamp
 * changes, never reads half of one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "state.h"
#include "timeutil.h"
#include "zone.h"

#define MIN_INTERVAL_USEC USEC_PER_SEC

struct zone {
	sd_event *event;
	const struct config_dnsbl *conf;
	const struct bans *bans;
	char host[256];
	sd_event_source *timer;
	uint64_t last_write; /* realtime of the last write (0: none yet) */
	uint64_t due;	     /* realtime the timer is set for (BAN_FOREVER: off) */
	bool failed_told;
};

/* conf->txt with its placeholders replaced, into buf. */
static void txt_of(const struct config_dnsbl *conf, const struct ban *ban, const char *host,
		   char *buf, size_t size)
{
	char until[32];
	size_t len = 0;

	if (ban->until_usec == BAN_FOREVER)
		snprintf(until, sizeof(until), "forever");
	else
		timeutil_format_rfc3339(ban->until_usec, until, sizeof(until));
	buf[0] = '\0';
	for (const char *p = conf->txt; *p && len + 1 < size;) {
		const char *val = NULL;
		size_t skip = 1;
		if (strncmp(p, "%host%", 6) == 0)
			val = ban->origin ? ban->origin : host, skip = 6;
		else if (strncmp(p, "%jail%", 6) == 0)
			val = ban->jail, skip = 6;
		else if (strncmp(p, "%until%", 7) == 0)
			val = until, skip = 7;
		if (val)
			len += (size_t)snprintf(buf + len, size - len, "%s", val);
		else
			buf[len++] = *p, buf[len] = '\0';
		len = MIN(len, size - 1);
		p += skip;
	}
}

int zone_format(const struct bans *b, const struct config_dnsbl *conf, const char *host, int family,
		uint64_t now_usec, FILE *out)
{
	char net[ADDR_STRLEN], txt[512], t[32];
	int n = 0;

	fprintf(out,
		"# waveguard on %s: the %s bans in force at %s (%s); written whole on change\n",
		host, family == AF_INET ? "IPv4" : "IPv6",
		timeutil_format_rfc3339(now_usec, t, sizeof(t)),
		family == AF_INET ? "rbldnsd ip4set" : "rbldnsd ip6trie");
	for (size_t i = 0; i < bans_size(b); i++) {
		const struct ban *ban = bans_get(b, i);
		if (ban->until_usec <= now_usec || ban->addr.family != family)
			continue;
		addr_format(&ban->addr, net, sizeof(net));
		/* A host is written with its prefix: rbldnsd reads a bare IPv4 "a.b.c" as a /24. */
		if (!strchr(net, '/'))
			snprintf(net + strlen(net), sizeof(net) - strlen(net), "/%u",
				 ban->addr.prefix);
		txt_of(conf, ban, host, txt, sizeof(txt));
		fprintf(out, "%s :%s:%s\n", net, conf->a, txt);
		n++;
	}
	return fflush(out) == 0 && !ferror(out) ? n : -EIO;
}

/* One file, replaced whole; mode 0644: rbldnsd reads it as its own user. */
static int write_one(struct zone *z, const char *path, int family, uint64_t now)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r;

	if (!f)
		return -ENOMEM;
	r = zone_format(z->bans, z->conf, z->host, family, now, f);
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	return state_write_atomic(path, buf, size, 0644);
}

/* The earliest end after now of a ban in force (BAN_FOREVER: none). */
static uint64_t next_end(const struct bans *b, uint64_t now)
{
	uint64_t t = BAN_FOREVER;
	for (size_t i = 0; i < bans_size(b); i++) {
		uint64_t u = bans_get(b, i)->until_usec;
		if (u > now && u < t)
			t = u;
	}
	return t;
}

static void arm(struct zone *z, uint64_t at)
{
	if (at >= z->due)
		return;
	z->due = at;
	sd_event_source_set_time(z->timer, at);
	sd_event_source_set_enabled(z->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct zone *z = userdata;
	uint64_t now = 0;
	int r = 0;
	(void)s;
	(void)usec;

	sd_event_now(z->event, CLOCK_REALTIME, &now);
	z->due = BAN_FOREVER;
	z->last_write = now;
	if (z->conf->ip4set)
		r = write_one(z, z->conf->ip4set, AF_INET, now);
	if (r >= 0 && z->conf->ip6trie)
		r = write_one(z, z->conf->ip6trie, AF_INET6, now);
	if (r < 0 && !z->failed_told)
		log_warning_errno(r, "dnsbl: cannot write the zone files: %m");
	z->failed_told = r < 0;
	/* A failed write is tried again with the next change, or in a minute. */
	arm(z, r < 0 ? now + 60 * USEC_PER_SEC : next_end(z->bans, now));
	return 0;
}

void zone_touch(struct zone *z)
{
	uint64_t now = 0;

	if (!z)
		return;
	sd_event_now(z->event, CLOCK_REALTIME, &now);
	arm(z, MAX(now, z->last_write + MIN_INTERVAL_USEC));
}

int zone_new(sd_event *e, const struct config_dnsbl *conf, const struct bans *b, const char *host,
	     struct zone **ret)
{
	_cleanup_(zone_freep) struct zone *z = calloc(1, sizeof(*z));
	int r;

	if (!z)
		return log_error_errno(-ENOMEM, "dnsbl: out of memory");
	z->event = sd_event_ref(e);
	z->conf = conf;
	z->bans = b;
	z->due = BAN_FOREVER;
	snprintf(z->host, sizeof(z->host), "%s", host);
	r = sd_event_add_time(e, &z->timer, CLOCK_REALTIME, BAN_FOREVER, 0, on_timer, z);
	if (r < 0)
		return log_error_errno(r, "dnsbl: cannot add the zone's timer: %m");
	sd_event_source_set_description(z->timer, "dnsbl-zone");
	sd_event_source_set_enabled(z->timer, SD_EVENT_OFF);
	zone_touch(z);
	*ret = TAKE_PTR(z);
	return 0;
}

void zone_reconfigure(struct zone *z, const struct config_dnsbl *conf)
{
	if (!z)
		return;
	z->conf = conf;
	zone_touch(z);
}

struct zone *zone_free(struct zone *z)
{
	if (!z)
		return NULL;
	sd_event_source_disable_unref(z->timer);
	sd_event_unref(z->event);
	free(z);
	return NULL;
}
