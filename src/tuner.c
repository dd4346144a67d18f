/* The tuner's policy: signal levels from one sample, up at once, down one level per calm period,
 * and the ban rate over a sliding minute kept in a fixed ring (no allocation per sample). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tuner.h"

#define BAN_RING_SIZE	64
#define BAN_WINDOW_USEC (60 * USEC_PER_SEC)

struct ban_slot {
	uint64_t t;
	uint32_t n;
};

struct tuner {
	struct tuner_params p;
	enum tuner_level level;
	bool fed;		 /* at least one sample seen */
	uint64_t last_usec;	 /* time of the last sample */
	bool calm;		 /* calm_since is valid */
	uint64_t calm_since;	 /* first calm sample of the current calm run (or the last step) */
	unsigned probe_failures; /* consecutive */
	uint32_t ban_rate;	 /* bans in the minute before last_usec */
	struct ban_slot ring[BAN_RING_SIZE]; /* oldest at head, count entries, all with n > 0 */
	size_t head, count;
};

static const char *const level_names[_TUNER_LEVEL_MAX] = {
	[TUNER_NORMAL] = "normal",
	[TUNER_ELEVATED] = "elevated",
	[TUNER_WAVE] = "wave",
};

const char *tuner_level_to_string(enum tuner_level l)
{
	if ((unsigned)l >= _TUNER_LEVEL_MAX)
		return NULL;
	return level_names[l];
}

/* Why these numbers (the README quotes this):
 *
 * The reference article's server runs Courier with MAXDAEMONS=300 and normally has under 30 SMTP
 * connections (10%). In a wave it went 8 -> 50 -> 88 -> 101 connections within 15 seconds, 150
 * after 40 s, 200 after 75 s, and hit 300 (dead: "300 maximum active connections.", the banner
 * no longer answered) about 4.5 minutes after the start.
 *
 * - elevated_fraction 25% (75 of 300): two and a half times the article's normal peak, reached 10
 *   seconds into its wave. Elevated only trims the timeouts, so an early false alarm is cheap.
 * - wave_fraction 50% (150 of 300): reached 40 s into the article's wave, about 4 minutes before
 *   the server died. A rewritten timeout only applies to connections opened after the rewrite
 *   (each courieresmtpd reads it at start), so the short values must be in place long before
 *   the limit: the connections opened in those 4 minutes are the ones that will leave early.
 * - calm_fraction 15% (45 of 300): above the normal 10% so the tuner can settle back, well below
 *   the elevated 25% so a count that hovers at the threshold does not count as calm.
 * - Listen backlog 5 / 20: couriertcpd accepts at once until MAXDAEMONS is reached, so a backlog
 *   is normally 0; 5 clients waiting unaccepted means it has stopped keeping up, 20 means the
 *   server is at its limit and looks dead from outside (the article's monitoring alarm).
 * - Bans 10 / 60 per minute: the article's wave brought about 300 connections in 5 minutes, 60 a
 *   minute, nearly all from DNSBL-listed senders, i.e. one ban each; 10 a minute is a sixth of
 *   that and far above a normal day's few bans an hour.
 * - Probe failures 3: probes run every 5 s, so 15 s without a 220 banner; one failure can be a
 *   blip, three in a row is the article's "SMTP service not reachable".
 * - A maximum-connections event goes straight to wave: Courier is at MAXDAEMONS. That is the
 *   trigger of Postfix's stress mode (all smtpd processes busy), where smtpd_timeout drops from
 *   300 s to 10 s.
 * - calm_usec 5 minutes per level: the article's waves rose to the limit in 4.5 minutes and
 *   Courier logs the limit at most once a minute (19:17:23, 19:18:24, then 19:21:14: gaps of up
 *   to 170 s inside one wave), so a shorter calm would step down in the middle of a wave. From
 *   wave back to normal takes at least 10 minutes.
 */
void tuner_default_params(struct tuner_params *p)
{
	*p = (struct tuner_params){
		.elevated_fraction = TUNER_DEFAULT_ELEVATED_FRACTION,
		.wave_fraction = TUNER_DEFAULT_WAVE_FRACTION,
		.calm_fraction = TUNER_DEFAULT_CALM_FRACTION,
		.elevated_backlog = TUNER_DEFAULT_ELEVATED_BACKLOG,
		.wave_backlog = TUNER_DEFAULT_WAVE_BACKLOG,
		.elevated_bans = TUNER_DEFAULT_ELEVATED_BANS,
		.wave_bans = TUNER_DEFAULT_WAVE_BANS,
		.wave_probe_failures = TUNER_DEFAULT_WAVE_PROBE_FAILURES,
		.calm_usec = TUNER_DEFAULT_CALM_USEC,
	};
}

static bool fraction_ok(double f, double max)
{
	return isfinite(f) && f >= 0 && f <= max;
}

int tuner_params_check(const struct tuner_params *p)
{
	if (!p)
		return -EINVAL;
	if (!fraction_ok(p->elevated_fraction, 100) || !fraction_ok(p->wave_fraction, 100) ||
	    !fraction_ok(p->calm_fraction, 1))
		return -EINVAL;
	if (p->elevated_fraction > 0 && p->wave_fraction > 0 &&
	    p->elevated_fraction > p->wave_fraction)
		return -EINVAL;
	if (p->elevated_backlog > 0 && p->wave_backlog > 0 && p->elevated_backlog > p->wave_backlog)
		return -EINVAL;
	if (p->elevated_bans > 0 && p->wave_bans > 0 && p->elevated_bans > p->wave_bans)
		return -EINVAL;
	double lowest = p->elevated_fraction > 0 ? p->elevated_fraction : p->wave_fraction;
	if (lowest > 0 && (p->calm_fraction <= 0 || p->calm_fraction > lowest))
		return -EINVAL;
	if (p->calm_usec == 0)
		return -EINVAL;
	return 0;
}

int tuner_new(const struct tuner_params *p, struct tuner **ret)
{
	int r = tuner_params_check(p);
	if (r < 0)
		return r;
	if (!ret)
		return -EINVAL;
	struct tuner *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->p = *p;
	t->level = TUNER_NORMAL;
	*ret = t;
	return 0;
}

struct tuner *tuner_free(struct tuner *t)
{
	free(t);
	return NULL;
}

enum tuner_level tuner_level(const struct tuner *t)
{
	return t->level;
}

uint32_t tuner_ban_rate(const struct tuner *t)
{
	return t->ban_rate;
}

/* Adds this sample's bans to the ring, drops what left the minute, returns the sum. */
static uint32_t ban_rate_update(struct tuner *t, uint64_t now, uint32_t n)
{
	while (t->count > 0 && now - t->ring[t->head].t >= BAN_WINDOW_USEC) {
		t->head = (t->head + 1) % BAN_RING_SIZE;
		t->count--;
	}
	if (n > 0) {
		if (t->count == BAN_RING_SIZE) {
			/* More samples in a minute than slots: fold into the newest one (it is then
			 * remembered a little longer than exact, never forgotten early). */
			struct ban_slot *s = &t->ring[(t->head + t->count - 1) % BAN_RING_SIZE];
			s->t = now;
			s->n = s->n > UINT32_MAX - n ? UINT32_MAX : s->n + n;
		} else {
			t->ring[(t->head + t->count) % BAN_RING_SIZE] = (struct ban_slot){ now, n };
			t->count++;
		}
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < t->count; i++)
		sum += t->ring[(t->head + i) % BAN_RING_SIZE].n;
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

struct signals {
	bool fraction, backlog, bans, probe, maxconn;
};

static bool fraction_at(const struct tuner_input *in, double f)
{
	return f > 0 && in->max_daemons > 0 &&
	       (double)in->established >= f * (double)in->max_daemons;
}

static bool count_at(uint32_t v, uint32_t threshold)
{
	return threshold > 0 && v >= threshold;
}

/* Which signals reach level l (ELEVATED or WAVE) for this sample. */
static struct signals signals_at(const struct tuner *t, const struct tuner_input *in,
				 enum tuner_level l)
{
	const struct tuner_params *p = &t->p;
	struct signals s = {};

	if (l == TUNER_WAVE) {
		s.fraction = fraction_at(in, p->wave_fraction);
		s.backlog = count_at(in->backlog, p->wave_backlog);
		s.bans = count_at(t->ban_rate, p->wave_bans);
		s.probe = p->wave_probe_failures > 0 && t->probe_failures >= p->wave_probe_failures;
		s.maxconn = in->maxconn_event;
	} else {
		s.fraction = fraction_at(in, p->elevated_fraction);
		s.backlog = count_at(in->backlog, p->elevated_backlog);
		s.bans = count_at(t->ban_rate, p->elevated_bans);
	}
	return s;
}

static bool any(const struct signals *s)
{
	return s->fraction || s->backlog || s->bans || s->probe || s->maxconn;
}

/* The calm limit of a count signal: at most half its lowest threshold that is on. */
static bool count_calm(uint32_t v, uint32_t elevated, uint32_t wave)
{
	uint32_t lowest = elevated > 0 ? elevated : wave;
	if (lowest == 0)
		return true;
	return v <= lowest / 2;
}

bool tuner_load_calm(const struct tuner_params *p, uint32_t established, uint32_t backlog,
		     uint32_t max_daemons)
{
	if (max_daemons > 0 && (p->elevated_fraction > 0 || p->wave_fraction > 0) &&
	    (double)established >= p->calm_fraction * (double)max_daemons)
		return false;
	return count_calm(backlog, p->elevated_backlog, p->wave_backlog);
}

static bool is_calm(const struct tuner *t, const struct tuner_input *in)
{
	const struct tuner_params *p = &t->p;

	if (in->probe_failed || in->maxconn_event)
		return false;
	return tuner_load_calm(p, in->established, in->backlog, in->max_daemons) &&
	       count_calm(t->ban_rate, p->elevated_bans, p->wave_bans);
}

static void connections(char *buf, size_t size, size_t *len, const struct tuner_input *in)
{
	if (in->max_daemons > 0)
		text_appendf(buf, size, len, "%u/%u connections", in->established, in->max_daemons);
	else
		text_appendf(buf, size, len, "%u connections (limit unknown)", in->established);
}

static void reason_up(const struct tuner *t, const struct tuner_input *in, enum tuner_level l,
		      const struct signals *s, char *buf, size_t size)
{
	size_t len = 0;
	const char *sep = "";

	text_appendf(buf, size, &len, "%s: ", tuner_level_to_string(l));
	if (s->fraction) {
		connections(buf, size, &len, in);
		sep = ", ";
	}
	if (s->backlog) {
		text_appendf(buf, size, &len, "%sbacklog %u", sep, in->backlog);
		sep = ", ";
	}
	if (s->bans) {
		text_appendf(buf, size, &len, "%s%u bans in the last minute", sep, t->ban_rate);
		sep = ", ";
	}
	if (s->probe) {
		text_appendf(buf, size, &len, "%s%u failed probes in a row", sep,
			     t->probe_failures);
		sep = ", ";
	}
	if (s->maxconn) {
		text_appendf(buf, size, &len, "%sCourier reported maximum active connections", sep);
		sep = ", ";
	}
	if (!s->fraction) {
		text_appendf(buf, size, &len, " (");
		connections(buf, size, &len, in);
		text_appendf(buf, size, &len, ")");
	}
}

static void reason_down(const struct tuner *t, const struct tuner_input *in, enum tuner_level l,
			char *buf, size_t size)
{
	size_t len = 0;
	uint64_t secs = t->p.calm_usec / USEC_PER_SEC;

	text_appendf(buf, size, &len, "%s: calm for %llu s (", tuner_level_to_string(l),
		     (unsigned long long)secs);
	connections(buf, size, &len, in);
	text_appendf(buf, size, &len, ", backlog %u)", in->backlog);
}

int tuner_feed(struct tuner *t, const struct tuner_input *in, enum tuner_level *ret_level,
	       char *reason, size_t reason_size)
{
	if (!t || !in || (!reason && reason_size > 0))
		return -EINVAL;
	if (t->fed && in->now_usec < t->last_usec)
		return -EINVAL;

	t->fed = true;
	t->last_usec = in->now_usec;
	t->ban_rate = ban_rate_update(t, in->now_usec, in->new_bans);
	if (in->probe_failed) {
		if (t->probe_failures < UINT32_MAX)
			t->probe_failures++;
	} else
		t->probe_failures = 0;

	enum tuner_level target = TUNER_NORMAL;
	struct signals s = signals_at(t, in, TUNER_WAVE);
	if (any(&s))
		target = TUNER_WAVE;
	else {
		s = signals_at(t, in, TUNER_ELEVATED);
		if (any(&s))
			target = TUNER_ELEVATED;
	}

	if (target > t->level) {
		t->level = target;
		t->calm = false;
		if (reason_size > 0)
			reason_up(t, in, target, &s, reason, reason_size);
		if (ret_level)
			*ret_level = t->level;
		return 1;
	}

	if (!is_calm(t, in)) {
		t->calm = false;
	} else if (!t->calm) {
		t->calm = true;
		t->calm_since = in->now_usec;
	} else if (t->level > TUNER_NORMAL && in->now_usec - t->calm_since >= t->p.calm_usec) {
		/* One level per calm period: the next step needs a full period of its own. */
		t->level--;
		t->calm_since = in->now_usec;
		if (reason_size > 0)
			reason_down(t, in, t->level, reason, reason_size);
		if (ret_level)
			*ret_level = t->level;
		return 1;
	}

	if (ret_level)
		*ret_level = t->level;
	return 0;
}
