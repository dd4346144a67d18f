/* The reaper's policy over the kernel's facts about one connection. SMTP is a dialogue in which
 * the server speaks first and then waits for the client at every step; a legitimate client
 * answers each reply at once. So the only silence that tells an idle holder from a slow sender
 * is the client's, when it has the turn: after the server's last data, all of which its TCP has
 * acknowledged (so a lost or delayed banner never counts against the client), and while it has
 * sent no more than a greeting (EHLO or HELO): a client that ever went further is never
 * reaped, whatever its pauses.
 *
 * The defaults: idle 8 s (legitimate clients answer a reply within a second; Courier's own
 * timeout at the wave level is 10 s, so the reaper only ever acts before Courier would); 3 s
 * once 75% of MAXDAEMONS are taken (holders arriving at r a second hold r * idle slots: at 8 s,
 * three a second fill a MAXDAEMONS of 30 before their first is reaped, and then every queued
 * client waits; a client that got its greeting 3 s ago and said nothing is still no mail
 * server); greeting_bytes 64 (an "EHLO name\r\n" line with a name of up to 57 characters: what real
 * clients send, e.g. 37 bytes from the end-to-end test's clients; a holder that sends more
 * escapes the reaper and meets Courier's timeout); 20 per pass (at one pass a second during a
 * wave, more than a wave opens connections per second on the article's server). */
#include <string.h>

#include "macro.h"
#include "reaper.h"

static const char *const verdicts[_REAPER_VERDICT_MAX] = {
	[REAPER_REAP] = "reap",
	[REAPER_KEEP_NO_INFO] = "no-info",
	[REAPER_KEEP_TALKED] = "talked",
	[REAPER_KEEP_NOT_GREETED] = "not-greeted",
	[REAPER_KEEP_UNHEARD] = "unheard",
	[REAPER_KEEP_RECENT] = "recent",
};

const char *reaper_verdict_to_string(enum reaper_verdict v)
{
	return (unsigned)v < ELEMENTSOF(verdicts) ? verdicts[v] : NULL;
}

uint32_t reaper_silence_ms(const struct sampler_conn *c)
{
	if (!c->has_info)
		return 0;
	return MIN(c->last_data_recv_ms, c->last_data_sent_ms);
}

uint32_t reaper_idle(const struct reaper_params *p, uint32_t established, uint32_t max_daemons)
{
	if (max_daemons && p->full_fraction > 0 && p->idle_full_ms &&
	    p->idle_full_ms < p->idle_ms && (double)established >= p->full_fraction * max_daemons)
		return p->idle_full_ms;
	return p->idle_ms;
}

enum reaper_verdict reaper_judge(const struct reaper_params *p, uint32_t idle_ms,
				 const struct sampler_conn *c)
{
	if (!c->has_info || !c->has_bytes)
		return REAPER_KEEP_NO_INFO;
	if (c->bytes_received > p->greeting_bytes)
		return REAPER_KEEP_TALKED;
	if (c->bytes_acked == 0)
		return REAPER_KEEP_NOT_GREETED;
	if (c->unacked > 0)
		return REAPER_KEEP_UNHEARD;
	if (idle_ms == 0 || reaper_silence_ms(c) < idle_ms)
		return REAPER_KEEP_RECENT;
	return REAPER_REAP;
}

void reaper_batch_init(struct reaper_batch *b, struct sampler_conn *v, size_t cap)
{
	*b = (struct reaper_batch){ .v = v, .cap = cap };
}

void reaper_batch_offer(struct reaper_batch *b, const struct sampler_conn *c)
{
	uint32_t silence = reaper_silence_ms(c);
	size_t i;

	if (b->n == b->cap) {
		b->over++;
		if (b->cap == 0 || reaper_silence_ms(&b->v[b->cap - 1]) >= silence)
			return;
		i = b->cap - 1; /* the least silent one makes room */
	} else
		i = b->n++;
	while (i > 0 && reaper_silence_ms(&b->v[i - 1]) < silence) {
		b->v[i] = b->v[i - 1];
		i--;
	}
	b->v[i] = *c;
}
