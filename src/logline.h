/* Splits a syslog file line into its time, host, tag and message, so that filters see the same
 * (tag, message) pair whether the line came from a file or from the journal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct logline {
	uint64_t time_usec; /* 0 when the line carries no time we understand */
	const char *tag;    /* the syslog identifier without "[pid]"; NULL when not found */
	size_t tag_len;
	const char *msg; /* the text after "tag: ", or the whole line when no tag was found */
	size_t msg_len;
};

/* Remembers the last date it converted: consecutive lines of one log share it, and mktime()
 * with its time zone lookups would otherwise dominate the cost of a line. */
struct logline_clock {
	uint64_t ref_usec; /* "now" for inferring the year of RFC 3164 stamps */
	int ref_year;
	int cached_year, cached_mon, cached_mday, cached_hour;
	int64_t cached_hour_sec; /* epoch second at cached_year-mon-mday cached_hour:00:00, local */
	bool cached;
};

/* Sets the reference time used to infer the year of stamps that have none. */
void logline_clock_init(struct logline_clock *c, uint64_t now_usec);

/* Parses "Nov 27 06:36:49 host tag[pid]: msg" and "2026-11-27T06:36:49.573002+00:00 host tag:
 * msg". The year of an RFC 3164 stamp is the reference year, or the one before when that would
 * put the line more than a day after the reference time. Never fails: a line it cannot split
 * comes back with tag NULL, time 0 and msg the whole line. */
void logline_parse(struct logline_clock *c, const char *line, size_t len, struct logline *ret);

/* Parses an RFC 3339 time at s; returns the bytes consumed (0 when it is not one) and sets
 * *ret_usec. Also used for command-line times. */
size_t logline_parse_rfc3339(const char *s, size_t len, uint64_t *ret_usec);

/* Formats usec as RFC 3339 UTC with seconds ("2026-11-27T06:36:49Z") into buf (>= 32 bytes). */
const char *logline_format_rfc3339(uint64_t usec, char *buf, size_t size);
