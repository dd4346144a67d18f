/* The commands that work on a log without the event loop: test-filter (the fail2ban-regex of
 * waveguard) and replay (the jails over a log, with the log's own clock). Both explain a result
 * of nothing: which lines were not for the filter and why, which hits were allowlisted. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

/* Where the lines come from: a file ("-" for standard input), or the journal. */
struct offline_input {
	const char *path;	       /* NULL when reading the journal */
	const char *journal_directory; /* with journal: NULL = the system journal */
	bool journal;
	const char *const *matches; /* journal matches, OR-ed; none: SYSLOG_IDENTIFIER= the tags */
	size_t n_matches;
};

/* How many missed lines --missed prints without a count. */
#define OFFLINE_MISSED_DEFAULT 100

struct test_filter_opts {
	bool hosts;    /* print one address per matched line instead of the summary */
	bool users;    /* the same, with a tab and what <USER> captured ("-": nothing) */
	bool verbose;  /* print each matched line: time, address, regex number, line */
	bool messages; /* every line is a bare message of the filter's programs */
	size_t missed; /* print at most this many missed lines (0: none, SIZE_MAX: all) */
	FILE *out;     /* NULL: standard output */
};

struct replay_opts {
	const char *jail;  /* only this jail (enabled or not); NULL: every enabled jail */
	bool no_allowlist; /* ignore [daemon] allow and the jails' allow */
	FILE *out;	   /* the ban decisions; NULL: standard output */
	FILE *report;	   /* the per-jail summary; NULL: standard error */
};

/* Both return a process exit code (sysexits) and print their own errors. */
int offline_test_filter(const struct config_filter *cf, const struct offline_input *in,
			const struct test_filter_opts *o);
int offline_replay(const struct config *c, const struct replay_opts *o,
		   const struct offline_input *in);
/* test-filter with one failregex given on the command line instead of a filter: no tags, so
 * the message of every line is tried. */
int offline_test_regex(const char *regex, const struct offline_input *in,
		       const struct test_filter_opts *o);

/* What a text is, judged by its first line that is neither blank nor an INI comment. */
enum offline_text {
	OFFLINE_TEXT_EMPTY,  /* nothing else */
	OFFLINE_TEXT_INI,    /* "[section]" or "key = value": a filter file */
	OFFLINE_TEXT_SYSLOG, /* "TIME HOST TAG: message" */
	OFFLINE_TEXT_EXPORT, /* "FIELD=value" (journalctl -o export) */
	OFFLINE_TEXT_JSON,   /* "{" (journalctl -o json) */
	OFFLINE_TEXT_OTHER,  /* other text: bare messages, most likely */
};
enum offline_text offline_sniff(const char *text, size_t len);

/* What test-filter's FILTER argument is. */
enum offline_filter_arg {
	OFFLINE_ARG_FILTER,  /* a filter file (a name's DIR/filters/NAME.conf, or a path) */
	OFFLINE_ARG_REGEX,   /* neither a name nor a file: a failregex, as fail2ban-regex takes */
	OFFLINE_ARG_MISSING, /* a filter name or file that does not exist */
	OFFLINE_ARG_SWAPPED, /* a log, and LOG a filter or a regex: fail2ban-regex's order */
	OFFLINE_ARG_LOG,     /* a log, and LOG no filter either */
};

/* Tells what filter is, looking at log (NULL when reading the journal) to tell two swapped
 * arguments. Sets *ret_path (malloc'ed) to the filter file for OFFLINE_ARG_FILTER and
 * OFFLINE_ARG_MISSING. Returns an enum offline_filter_arg or -ENOMEM. */
int offline_filter_arg(const char *dir, const char *filter, const char *log, char **ret_path);

/* The journal files (*.journal) in dir and the directories right under it (where journald keeps
 * them, one per machine id). Returns their number, or -errno when dir cannot be read. */
int offline_journal_files(const char *dir);
