/* The reaper's policy: whether an established SMTP connection is an idle holder to close, from
 * the kernel's own facts about it (struct sampler_conn: tcp_info), and which of a pass's
 * candidates are closed under the per-pass cap. Pure: no I/O, no clock, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

/* The defaults (reasons in reaper.c). */
#define REAPER_DEFAULT_IDLE_MS		8000
#define REAPER_DEFAULT_IDLE_FULL_MS	3000
#define REAPER_DEFAULT_FULL_CONNECTIONS 0.75
#define REAPER_DEFAULT_GREETING_BYTES	64
#define REAPER_DEFAULT_MAX_PER_PASS	20

struct reaper_params {
	uint32_t idle_ms;	 /* silence, after the server last spoke, that makes a holder */
	uint32_t idle_full_ms;	 /* the same while the server is nearly full (0: idle_ms) */
	double full_fraction;	 /* established/MAXDAEMONS at or above which it is (0: never) */
	uint64_t greeting_bytes; /* a client that sent more is never a holder */
};

/* The silence that makes a holder with established connections out of max_daemons (0:
 * unknown): idle_full_ms from full_fraction of max_daemons up (when shorter than idle_ms),
 * else idle_ms. */
uint32_t reaper_idle(const struct reaper_params *p, uint32_t established, uint32_t max_daemons);

enum reaper_verdict {
	REAPER_REAP,		 /* an idle holder: close it */
	REAPER_KEEP_NO_INFO,	 /* the kernel gave no tcp_info (or no byte counters) */
	REAPER_KEEP_TALKED,	 /* the client sent more than a greeting's worth */
	REAPER_KEEP_NOT_GREETED, /* the server has said nothing yet (the accept queue, or before
				    its banner): the client is waiting for its turn */
	REAPER_KEEP_UNHEARD,	 /* what the server sent is not all acknowledged: the client may
				    not have it yet (loss, a slow path) */
	REAPER_KEEP_RECENT,	 /* silent for less than idle_ms */
	_REAPER_VERDICT_MAX,
};

/* "reap", "no-info", "talked", "not-greeted", "unheard", "recent"; NULL for other values. */
const char *reaper_verdict_to_string(enum reaper_verdict v);

/* The decision for one connection, idle_ms being the silence that makes a holder now (see
 * reaper_idle()). A holder is a client that got the server's greeting (data sent and all of it
 * acknowledged by the client's TCP), has sent no more than greeting_bytes, and has been silent
 * for idle_ms since the server last spoke (and since its own last data). Anything else is
 * kept; so is every connection when idle_ms is 0. */
enum reaper_verdict reaper_judge(const struct reaper_params *p, uint32_t idle_ms,
				 const struct sampler_conn *c);

/* How long the client has had the turn: the shorter of the time since its last data and the
 * time since the server's last data, in ms (0 without tcp_info). */
uint32_t reaper_silence_ms(const struct sampler_conn *c);

/* A pass's candidates, at most cap, the longest silent kept when there are more. The array
 * belongs to the caller (cap entries); nothing is allocated. */
struct reaper_batch {
	struct sampler_conn *v;
	size_t n, cap;
	size_t over; /* candidates left out for the cap (the next pass may take them) */
};

/* Empties b for a new pass over v (cap entries). */
void reaper_batch_init(struct reaper_batch *b, struct sampler_conn *v, size_t cap);

/* Offers one candidate: kept when there is room, or in place of the least silent one kept when
 * it has been silent longer; either way one of them counts in b->over when b is full. v[0..n-1]
 * stays sorted by silence, longest first. */
void reaper_batch_offer(struct reaper_batch *b, const struct sampler_conn *c);
