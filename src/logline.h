/* Splits a syslog file line into its time, host, tag and message, so that filters see the same
 * (tag, message) pair whether the line came from a file or from the journal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timeutil.h"

struct logline {
	uint64_t time_usec; /* 0 when the line carries no time we understand */
	const char *tag;    /* the syslog identifier without "[pid]"; NULL when not found */
	size_t tag_len;
	const char *msg; /* the text after "tag: ", or the whole line when no tag was found */
	size_t msg_len;
};

/* Parses "Nov 27 06:36:49 host tag[pid]: msg" and "2026-11-27T06:36:49.573002+00:00 host tag:
 * msg"; c gives RFC 3164 stamps their year (timeutil_parse_rfc3164). Never fails: a line it
 * cannot split comes back with tag NULL, time 0 and msg the whole line. */
void logline_parse(struct timeutil_clock *c, const char *line, size_t len, struct logline *ret);
