/* The tuner's policy: from one sample at a time (connections, listen backlog, maximum-connection
 * events, probe failures, bans) it decides the level Courier's timeouts are tuned for: normal,
 * elevated or wave. Up as soon as a threshold is crossed, down one level at a time after a calm
 * period. Pure: no I/O, no logging, no clock (each sample carries its time). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

enum tuner_level {
	TUNER_NORMAL,
	TUNER_ELEVATED,
	TUNER_WAVE,
	_TUNER_LEVEL_MAX,
};

/* "normal", "elevated", "wave"; NULL for other values. */
const char *tuner_level_to_string(enum tuner_level l);

/* Thresholds. A threshold of 0 switches that signal off for that level (fractions included).
 * The calm conditions (all must hold for a sample to count as calm):
 *   - established/max_daemons < calm_fraction (skipped while max_daemons is 0, i.e. unknown),
 *   - backlog <= elevated_backlog / 2 (backlog 0 when elevated_backlog is 0 or 1; always when
 *     both backlog thresholds are off),
 *   - bans in the last minute <= elevated_bans / 2 (same rule),
 *   - the probe did not fail and no maximum-connections event came with the sample. */
struct tuner_params {
	double elevated_fraction, wave_fraction; /* established/max_daemons at or above: go up */
	double calm_fraction; /* below this (and the other calm conditions): calm */
	uint32_t elevated_backlog, wave_backlog; /* listen backlog at or above: go up */
	uint32_t elevated_bans, wave_bans; /* new bans in the last minute at or above: go up */
	unsigned wave_probe_failures;	   /* consecutive failed probes that mean wave */
	uint64_t calm_usec;		   /* calm this long before going down ONE level */
};

/* The defaults (reasons in tuner.c): elevated at 25% of MAXDAEMONS, wave at 50%, calm below 15%;
 * backlog 5 / 20; bans 10 / 60 per minute; wave after 3 failed probes; 5 minutes of calm per
 * level down. */
#define TUNER_DEFAULT_ELEVATED_FRACTION	  0.25
#define TUNER_DEFAULT_WAVE_FRACTION	  0.50
#define TUNER_DEFAULT_CALM_FRACTION	  0.15
#define TUNER_DEFAULT_ELEVATED_BACKLOG	  5
#define TUNER_DEFAULT_WAVE_BACKLOG	  20
#define TUNER_DEFAULT_ELEVATED_BANS	  10
#define TUNER_DEFAULT_WAVE_BANS		  60
#define TUNER_DEFAULT_WAVE_PROBE_FAILURES 3
#define TUNER_DEFAULT_CALM_USEC		  (300 * USEC_PER_SEC)

void tuner_default_params(struct tuner_params *p);

/* Returns 0 when p is usable, -EINVAL when not: a fraction negative, NaN or above 1 (calm) /
 * 100 (up); an elevated threshold above the wave one (both on); calm_fraction 0 while a fraction
 * threshold is on, or above the lowest fraction threshold that is on; calm_usec 0. */
int tuner_params_check(const struct tuner_params *p);

struct tuner_input {
	uint64_t now_usec; /* monotonic; never smaller than the previous sample's */
	uint32_t established, backlog;
	uint32_t max_daemons; /* 0: unknown (the fraction signals are off) */
	uint32_t new_bans;    /* bans since the previous input */
	bool probe_failed;
	bool maxconn_event; /* "N maximum active connections." seen since the previous input */
};

struct tuner;

/* Builds a tuner at TUNER_NORMAL with a copy of *p. Returns 0, -EINVAL (see tuner_params_check)
 * or -ENOMEM. */
int tuner_new(const struct tuner_params *p, struct tuner **ret);

/* Feeds one sample. Returns 1 when the level changed (*ret_level set, reason written, e.g.
 * "wave: 287/300 connections, backlog 41" or "elevated: calm for 300 s (40/300 connections,
 * backlog 0)"), 0 when not (*ret_level set to the current level, reason untouched), -EINVAL for
 * bad input (NULL, time going backwards; nothing recorded). reason may be NULL when
 * reason_size is 0; it is truncated to fit. Never allocates. */
int tuner_feed(struct tuner *t, const struct tuner_input *in, enum tuner_level *ret_level,
	       char *reason, size_t reason_size);

/* The calm rule of the connection counts alone: established under calm_fraction of
 * max_daemons (not judged while max_daemons is 0 or the fraction signals are off) and the
 * backlog at most half its lowest threshold. */
bool tuner_load_calm(const struct tuner_params *p, uint32_t established, uint32_t backlog,
		     uint32_t max_daemons);

enum tuner_level tuner_level(const struct tuner *t);

/* New bans in the minute before the last sample fed (what the ban thresholds compare). */
uint32_t tuner_ban_rate(const struct tuner *t);

struct tuner *tuner_free(struct tuner *t);
DEFINE_FREE_FUNC(struct tuner, tuner_free)
