/* Time in one room: the clock, durations ("1h30m"), and RFC 3339 / RFC 3164 stamps. Times are
 * microseconds (uint64_t): since the epoch for CLOCK_REALTIME, since boot for CLOCK_MONOTONIC. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The current time of clock in microseconds. */
uint64_t timeutil_now(clockid_t clock);

/* The longest finite duration: ten years. Anything longer a configuration, a command or the
 * ban table says is refused, or (an escalated ban) forever. */
#define TIMEUTIL_LONGEST_USEC (10ULL * 366 * 86400 * 1000000ULL)

/* A duration that never ends: a permanent ban. Sums with it saturate (timeutil_add()). */
#define TIMEUTIL_FOREVER UINT64_MAX

/* The longest text timeutil_format_duration() writes, NUL included ("213503982d23h59m59s"). */
#define TIMEUTIL_DURATION_MAX 32

/* "90", "90s", "10m", "1h 30m", "1h30m", "7d", "2w": returns 0 and sets *ret_usec, -EINVAL for
 * text that is no duration ("forever" included), -ERANGE beyond ten years. */
int timeutil_parse_duration(const char *s, uint64_t *ret_usec);

/* timeutil_parse_duration(), and "forever" for TIMEUTIL_FOREVER: for the few values that may
 * be endless (a ban's length), not for windows or timeouts. */
int timeutil_parse_duration_or_forever(const char *s, uint64_t *ret_usec);

/* Formats usec for people, in a form timeutil_parse_duration_or_forever() reads back: days,
 * hours, minutes and seconds, largest first, each unit that is not zero and no other, no
 * spaces ("0s", "45s", "10m", "1h30m", "1d5s", "7d", "365d"); no weeks, so that "14d" is not
 * "2w". Exact to the second: a fraction of a second is dropped, whole seconds parse back to
 * the same value. TIMEUTIL_FOREVER is "forever". Writes at most size bytes (NUL included;
 * TIMEUTIL_DURATION_MAX is always enough) and returns buf. */
const char *timeutil_format_duration(uint64_t usec, char *buf, size_t size);

/* t + d, or TIMEUTIL_FOREVER when it would not fit: the end of a forever ban is forever. */
static inline uint64_t timeutil_add(uint64_t t, uint64_t d)
{
	return d > TIMEUTIL_FOREVER - t ? TIMEUTIL_FOREVER : t + d;
}

/* Parses an RFC 3339 time at s ("2026-11-27T06:36:49[.frac](Z|+hh:mm)"); returns the bytes
 * consumed (0 when it is not one) and sets *ret_usec. */
size_t timeutil_parse_rfc3339(const char *s, size_t len, uint64_t *ret_usec);

/* Formats usec as RFC 3339 UTC with seconds ("2026-11-27T06:36:49Z") into buf (>= 32 bytes). */
const char *timeutil_format_rfc3339(uint64_t usec, char *buf, size_t size);

/* The reference for RFC 3164 stamps, which carry no year. It remembers the last hour it
 * converted: consecutive lines of one log share it, and mktime() with its time zone lookups
 * would otherwise dominate the cost of a line. */
struct timeutil_clock {
	uint64_t ref_usec; /* "now" for inferring the year of RFC 3164 stamps */
	int ref_year;
	int cached_year, cached_mon, cached_mday, cached_hour;
	int64_t cached_hour_sec; /* epoch second at cached_year-mon-mday cached_hour:00:00, local */
	bool cached;
};

/* Sets the reference time used to infer the year of stamps that have none. */
void timeutil_clock_init(struct timeutil_clock *c, uint64_t now_usec);

/* Parses "Nov 27 06:36:49" (local time, day may be space-padded) at s; returns 15 and sets
 * *ret_usec, or 0 when it is not one. The year is the reference year, or the one before when
 * that would put the stamp more than a day after the reference time. */
size_t timeutil_parse_rfc3164(struct timeutil_clock *c, const char *s, size_t len,
			      uint64_t *ret_usec);
