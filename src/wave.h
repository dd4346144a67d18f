/* The wave room: at every interval a connection sample (sampler), a liveness probe (probe) and
 * one history row; the row goes to the tuner, whose level change rewrites Courier's timeout
 * files (timeouts). Courier's "maximum active connections" event comes here directly.
 * Addresses holding too many connections are reported to the owner as hits. While a wave lasts
 * the samples come faster ([sampler] wave_interval) and the reaper closes the idle holders'
 * connections (reaper), each reported to the owner. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "addr.h"
#include "config.h"
#include "history.h"
#include "sampler.h"
#include "tuner.h"

struct wave_ops {
	/* An address held more than max_concurrent connections at a sample. */
	void (*hit)(const struct addr *a, uint32_t connections, void *userdata);
	/* Active bans now, for the history row. */
	size_t (*active_bans)(void *userdata);
	/* A row was completed and the tuner has seen it (for STATUS= and the metrics). */
	void (*row)(const struct history_row *r, void *userdata);
	/* Whether the reaper must leave a as it is (allowlisted); NULL: no one is. */
	bool (*allowed)(const struct addr *a, void *userdata);
	/* An idle holder the reaper is about to close (in dry-run mode: would close): its hit.
	 * Called before the connection is closed, and flush after the pass's hits, so that a ban
	 * they decide is in the kernel before the client can connect again. */
	void (*reaped)(const struct sampler_conn *c, void *userdata);
	/* Sends what the owner has queued for the kernel (the bans), now. */
	void (*flush)(void *userdata);
};

/* Longest probe target text, "[address]:port". */
#define WAVE_TARGET_MAX 72

struct wave;

/* Builds the tuner and, unless dry_run or [tuner] dry_run, its Courier files: the originals a
 * crash left tuned come back first of all. No timer yet. In dry_run mode the reaper decides and
 * logs but closes nothing. Returns 0 or -errno (logged). */
int wave_new(sd_event *e, const struct config *c, bool dry_run, struct wave **ret);

/* Opens the sampler's netlink socket, the history file and the probe, as the configuration
 * asks, checks once whether the kernel can close sockets for the reaper (and says so when it
 * cannot), and starts the interval timer. Returns 0 or -errno (logged). */
int wave_start(struct wave *w, const struct config *c, const struct wave_ops *ops, void *userdata);

/* Counts a new ban for the current interval's row. */
void wave_note_ban(struct wave *w);

/* Courier said its connection limit was reached: a wave signal for the next row. */
void wave_note_overload(struct wave *w);

/* One completed row: the tuner decides, the files follow, the owner hears of it. The timer
 * calls it; tests call it with rows of their own. */
void wave_feed_row(struct wave *w, const struct history_row *r);

/* The last completed row, or NULL before the first. */
const struct history_row *wave_last(const struct wave *w);

/* Whether a tuner runs, its level and the reason of its last change ("normal" at start). */
bool wave_tuning(const struct wave *w);
enum tuner_level wave_level(const struct wave *w);
const char *wave_reason(const struct wave *w);

/* Whether the last rows found the mail server down (refused, unreachable, or silent while
 * nothing else says it is busy), since when and why. */
bool wave_server_down(const struct wave *w, uint64_t *ret_since_usec, const char **ret_why);

/* What the reaper does: "off" ([reaper] enabled = no, or no sampler or tuner), "unsupported"
 * (the kernel cannot close sockets, or waveguard may not), "dry-run" (decides and logs only),
 * "on". */
const char *wave_reaper_state(const struct wave *w);

/* Connections the reaper closed since start (in dry-run mode: would have). */
uint64_t wave_reaped_total(const struct wave *w);

/* The probe's target: [probe] address and port where given, else where Courier's esmtpd file
 * ([tuner] esmtpd) says it listens, 127.0.0.1 port 25 when that cannot be read (then returns
 * -errno, with the target still set). *ret_origin names where it came from. */
int wave_probe_target(const struct config *c, char *addr, size_t size, uint16_t *ret_port,
		      const char **ret_origin);

/* Gives Courier the admin's values back: waveguard's tuning never outlives it. */
void wave_stop(struct wave *w);

struct wave *wave_free(struct wave *w);
DEFINE_FREE_FUNC(struct wave, wave_free)
