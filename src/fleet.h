/* The fleet room: the bans this host decides go to a Redis stream shared by the domain's MX hosts,
 * and the other hosts' bans come back from it. Two hiredis connections on the loop: one adds
 * entries (XADD, trimmed with MAXLEN ~) from a bounded outbox, one reads the stream with a
 * blocking XREAD from the last id applied (kept in the state directory). Local banning never
 * waits on Redis: an entry is queued and the ban goes on; Redis away, the outbox holds the entries
 * (the oldest unsent go first at its bound) and a reconnection with backoff sends them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "bans.h"
#include "config.h"
#include "fleet_entry.h"
#include "macro.h"

/* What an entry read from the stream came to (the apply callback's answer). */
enum fleet_outcome {
	FLEET_APPLIED, /* banned (or lifted) here */
	FLEET_REFUSED, /* refused by a local rule: allowlisted, this host's own network, too wide */
	FLEET_IGNORED, /* nothing to do: ended already, a longer ban here, nothing to lift */
};

/* Totals since start. */
struct fleet_stats {
	uint64_t published; /* entries Redis took */
	uint64_t dropped;   /* unsent entries dropped at the outbox's bound */
	uint64_t failed;    /* entries Redis answered with an error */
	uint64_t received;  /* entries read from the stream, this host's own included */
	uint64_t applied, refused, ignored; /* remote entries, by outcome */
	uint64_t forged;		    /* entries whose MAC failed: dropped */
	uint64_t malformed;		    /* entries that could not be read: dropped */
	uint64_t own_network;		    /* remote bans of this host's own addresses: refused */
	uint64_t not_applied; /* remote entries of jails that [fleet] apply leaves out */
	uint64_t reconnects;  /* connections to Redis made again after a loss */
	uint64_t outbox;      /* entries waiting now (unsent or unanswered) */
	bool connected;	      /* both connections are up */
};

struct fleet;

/* Applies a remote entry (checked: MAC, not this host's own, not an own network, in the apply
 * list); returns an outcome. */
typedef enum fleet_outcome (*fleet_apply_fn)(const struct fleet_entry *e, void *userdata);

/* Reads the key (and the password) files, loads the cursor from state_dir, and starts
 * connecting. conf must outlive the fleet until fleet_reconfigure() gives another one. Returns
 * 0, or -errno with the reason logged (a key that cannot be read: a configuration error). */
int fleet_new(sd_event *e, const struct config_fleet *conf, const char *state_dir,
	      fleet_apply_fn apply, void *userdata, struct fleet **ret);

/* A reload's [fleet]: publish, apply and maxlen take effect at once; where Redis is, the user,
 * the stream and the host at the next start (said in a warning). */
void fleet_reconfigure(struct fleet *f, const struct config_fleet *conf);

/* Queues a ban (FLEET_BAN) or an unban (FLEET_UNBAN) this host decided, when its jail is one
 * that publishes. Never blocks. now_usec: the decision's time. */
void fleet_publish(struct fleet *f, enum fleet_kind kind, const struct ban *b, uint64_t now_usec);

/* This host's name in the fleet. */
const char *fleet_host(const struct fleet *f);

/* Where Redis is, as configured. */
const char *fleet_redis(const struct fleet *f);

const struct fleet_stats *fleet_get_stats(const struct fleet *f);

/* Saves the cursor now (at a stop). */
void fleet_save(struct fleet *f);

struct fleet *fleet_free(struct fleet *f);
DEFINE_FREE_FUNC(struct fleet, fleet_free)
