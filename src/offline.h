/* The commands that work on a log without the event loop: test-filter (the fail2ban-regex of
 * waveguard) and replay (the jails over a log, with the log's own clock). */
#pragma once

#include <stdbool.h>

#include "config.h"

/* Where the lines come from: a file ("-" for standard input), or the journal. */
struct offline_input {
	const char *path;	       /* NULL when reading the journal */
	const char *journal_directory; /* with journal: NULL = the system journal */
	bool journal;
	const char *const *matches; /* journal matches, OR-ed; none: SYSLOG_IDENTIFIER= the tags */
	size_t n_matches;
};

struct test_filter_opts {
	bool hosts; /* print one address per matched line instead of the summary */
	bool users; /* the same, with a tab and what <USER> captured ("-": nothing) */
};

/* Both return a process exit code (sysexits) and print their own errors. */
int offline_test_filter(const struct config_filter *cf, const struct offline_input *in,
			const struct test_filter_opts *o);
int offline_replay(const struct config *c, const char *only_jail, const struct offline_input *in);
