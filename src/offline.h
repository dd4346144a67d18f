/* The commands that work on a log without the event loop: test-filter (the fail2ban-regex of
 * waveguard) and replay (the jails over a log, with the log's own clock). */
#pragma once

#include <stdbool.h>

#include "config.h"

struct test_filter_opts {
	bool hosts; /* print one address per matched line instead of the summary */
};

/* Both return a process exit code (sysexits) and print their own errors. input is a path or
 * "-" for standard input. */
int offline_test_filter(const struct config_filter *cf, const char *input,
			const struct test_filter_opts *o);
int offline_replay(const struct config *c, const char *only_jail, const char *input);
