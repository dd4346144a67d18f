/* The 5-second watch: at every interval a connection sample (sampler), a liveness probe
 * (probe) and one history line; addresses holding too many connections are reported as hits.
 * The row of an interval is written when its probe has answered, or at the next interval if it
 * is still waiting (then its probe status is "pending"). */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "addr.h"
#include "config.h"
#include "history.h"

struct watch_ops {
	/* An address held more than max_concurrent connections at a sample. */
	void (*hit)(const struct addr *a, uint32_t connections, void *userdata);
	/* Active bans now, for the history row. */
	size_t (*active_bans)(void *userdata);
	/* A row was completed (for STATUS= and the tuner). */
	void (*row)(const struct history_row *r, void *userdata);
};

struct watch;

/* Opens the sampler's netlink socket, the history file and the probe, as the configuration
 * asks; starts the interval timer. Returns 0 or -errno (logged). */
int watch_new(sd_event *e, const struct config *c, const struct watch_ops *ops, void *userdata,
	      struct watch **ret);

/* Counts a new ban for the current interval's row. */
void watch_note_ban(struct watch *w);

/* The tuner's level for the rows from now on ("normal" until a tuner sets it). */
void watch_set_level(struct watch *w, const char *level);

/* The last completed row, or NULL before the first. */
const struct history_row *watch_last(const struct watch *w);

struct watch *watch_free(struct watch *w);
DEFINE_FREE_FUNC(struct watch, watch_free)
