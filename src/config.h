/* Configuration: waveguard.conf and the *.conf files of filters/, actions/ and conf.d/, each
 * with the admin's *.local layered over it, read with inih into one immutable struct config.
 * Every error names file:line and what was expected; unknown sections and keys are errors;
 * files and directories that someone else than root (or the daemon's user) owns or may write
 * are refused. Every value remembers the file:line it came from (check-config --show). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "addr.h"
#include "filter.h"
#include "macro.h"
#include "tuner.h"

/* Longest line looked at unless [daemon] max_line says otherwise (Courier cuts at 1023). */
#define CONFIG_DEFAULT_MAX_LINE 4096

enum action_type {
	ACTION_LOG,	 /* decisions are printed and logged, nothing is banned */
	ACTION_NFT,	 /* an element in waveguard's nftables sets, with the ban's timeout */
	ACTION_EXEC,	 /* an admin's command, run without a shell (argv template) */
	ACTION_TIMEOUTS, /* the tuner's files: Courier's esmtptimeout* per level */
};

/* A timeout file of an ACTION_TIMEOUTS action: its values at the elevated and wave levels. */
struct config_timeout {
	char *name;
	uint64_t elevated_usec, wave_usec;
};

struct config_action {
	char *name, *file, *description;
	char *local_file; /* NAME.local read over file (NULL: none) */
	unsigned line;
	enum action_type type;
	/* ACTION_EXEC: argv templates with %ip%, %jail%, %bantime% (unban may be NULL) */
	char *ban_cmd, *unban_cmd;
	unsigned ban_line, unban_line;
	uint64_t timeout_usec;
	/* ACTION_TIMEOUTS */
	char *directory;
	uint64_t floor_usec;
	struct config_timeout files[16];
	size_t n_files;
};

/* [nft]: waveguard's own table; it touches nothing else. */
struct config_nft {
	char *table, *set4, *set6, *chain;
	uint16_t ports[32];
	size_t n_ports;
	bool all_ports;
	int priority;
};

/* A [test] sample of a filter file: a line that must (or must not) match. */
struct config_sample {
	char *line;
	const char *file; /* NAME.conf or NAME.local (the filter's own strings) */
	unsigned lineno;
	bool match;
	bool event;	  /* match without address */
	struct addr addr; /* the address it must yield */
	char *user;	  /* match_user: what <USER> must capture (NULL: not checked) */
};

struct config_filter {
	char *name, *file, *description;
	char *local_file; /* NAME.local read over file (NULL: none) */
	char **tags;
	size_t n_tags;
	char **prefilters;
	size_t n_prefilters;
	struct filter_regex_src *fail;
	size_t n_fail;
	struct filter_regex_src *ignore;
	size_t n_ignore;
	struct filter_var *vars;
	size_t n_vars;
	struct config_sample *samples;
	size_t n_samples;
};

enum jail_backend {
	BACKEND_AUTO,	 /* the journal when the system has one, else the files */
	BACKEND_FILES,	 /* the files of source = */
	BACKEND_JOURNAL, /* the systemd journal */
	BACKEND_BOTH,	 /* both */
	BACKEND_BANS,	 /* no log: this host's own bans by the other jails (recidive) */
	BACKEND_REAPER,	 /* no log: the idle holders the reaper closed ([reaper] jail) */
};

struct config_jail {
	char *name, *file;
	unsigned line;
	bool enabled;
	char *filter_name;
	unsigned filter_line;
	struct filter_var *filter_vars; /* jail overrides of the filter's variables */
	unsigned *filter_var_lines;
	size_t n_filter_vars;
	char **sources; /* absolute file paths */
	size_t n_sources;
	enum jail_backend backend;
	/* Groups "FIELD=value+FIELD=value" (journal_match.h), OR-ed; none: SYSLOG_IDENTIFIER= each
	 * filter tag. */
	char **journal_matches;
	size_t n_journal_matches;
	char *journal_directory; /* NULL: the system journal */
	unsigned maxretry;
	uint64_t findtime_usec, bantime_usec, bantime_max_usec;
	double bantime_factor;
	unsigned max_tracked;
	unsigned prefix4, prefix6;
	char **action_names; /* "action = nft-set notify": every action runs for each ban */
	size_t n_actions;
	unsigned action_line;
	struct addr *allow; /* this jail's own networks (the global ones are in struct config) */
	size_t n_allow;
	/* The TCP ports its bans close (all_ports: every packet, as [nft] ports = all); without
	 * a ports line, [nft]'s, set by config_load(). */
	uint16_t ports[32];
	size_t n_ports;
	bool all_ports;
	/* trap_list as written (NULL: none), and the file it names (relative to the
	 * configuration directory unless absolute), set by config_load(): with a trap list, a hit
	 * counts only when what its filter's <USER> captured is in the list. */
	char *trap_list, *trap_path;
	unsigned trap_line;

	/* Resolved by config_load() for enabled jails. */
	const struct config_filter *filter;
	const struct config_action **actions;
};

/* [sampler]: the 5-second watch of the SMTP connections and its CSV history. */
struct config_sampler {
	bool enabled;
	uint64_t interval_usec;
	uint16_t ports[32];
	size_t n_ports;
	uint64_t wave_interval_usec; /* between samples while a wave lasts (the reaper's level) */
	unsigned max_concurrent;     /* an address holding more at a sample is a hit; 0 = off */
	char *concurrency_jail;	     /* the jail those hits go to */
	unsigned concurrency_line;
	char *history;	      /* NULL: state_dir/history.csv */
	uint64_t history_max; /* bytes before rotation to .1 */
};

/* [probe]: does the server still answer with a 220 banner? */
struct config_probe {
	bool enabled;
	char *address;
	uint16_t port;
	uint64_t timeout_usec;
};

/* [tuner]: shorter Courier timeouts while a wave lasts. */
struct config_tuner {
	bool enabled;
	bool dry_run; /* decide and log levels, write no file */
	char *action; /* the timeouts action (actions/NAME.conf) */
	unsigned action_line;
	char *esmtpd;	      /* where MAXDAEMONS is read */
	unsigned max_daemons; /* 0: read it from esmtpd */
	double elevated_fraction, wave_fraction, calm_fraction;
	unsigned elevated_backlog, wave_backlog, elevated_bans, wave_bans, wave_probe_failures;
	uint64_t calm_usec;
	const struct config_action *timeouts; /* resolved */
};

/* [reaper]: the idle holders' connections closed from the kernel's side while a wave lasts. */
enum config_reaper_at {
	CONFIG_REAPER_AT_ELEVATED, /* from the tuner's elevated level up */
	CONFIG_REAPER_AT_WAVE,	   /* at the wave level only */
};

struct config_reaper {
	bool enabled;
	unsigned at; /* enum config_reaper_at */
	uint64_t idle_usec;
	uint64_t idle_full_usec; /* idle while full_fraction of MAXDAEMONS is taken */
	double full_fraction;
	uint64_t greeting_bytes;
	unsigned max_per_pass;
	char *jail; /* where each reaped address is a hit (NULL: none) */
	unsigned jail_line;
};

/* [fleet]: bans shared with the other MX hosts of the domain through a Redis stream. */
struct config_fleet {
	bool enabled;
	char *redis;	     /* "ADDRESS:PORT" ([v6]:port) or the absolute path of a unix socket */
	char *user;	     /* the Redis ACL user (NULL: the default user) */
	char *password_file; /* its password, first line (NULL: no AUTH); root-only */
	char *key_file;	     /* the fleet key, 64 hex digits; root-only */
	char *stream;	     /* the stream's key in Redis */
	char *host;	     /* this host's name in the fleet (NULL: the hostname) */
	char **publish;	     /* jails whose bans are published (none: all) */
	size_t n_publish;
	char **apply; /* jails whose remote bans are applied here (none: all) */
	size_t n_apply;
	unsigned maxlen; /* the stream is trimmed to about this many entries */
	unsigned outbox; /* entries waiting for Redis at most; the oldest go first */
};

/* [dnsbl]: the bans in force as rbldnsd data files, for MTAs that query a DNSBL. */
struct config_dnsbl {
	bool enabled;
	char *ip4set;  /* rbldnsd ip4set file of the IPv4 bans (NULL: none) */
	char *ip6trie; /* rbldnsd ip6trie file of the IPv6 bans (NULL: none) */
	char *a;       /* the A record of a listed address */
	char *txt;     /* the TXT template: %host%, %jail%, %until% */
};

/* Where a key's value came from: the file and line of its (first) line. A key without one has
 * its built-in default. */
struct config_origin {
	char *section; /* "daemon"..., a jail's name, "DEFAULT", "filter/NAME/vars", "action/NAME"
			*/
	char *key;     /* as written ("filter.codes", a [vars] name, "esmtptimeoutdata") */
	const char *file;
	unsigned line;
	bool inherited; /* a jail's value from [DEFAULT] */
};

struct config {
	char *dir;
	char **files; /* every file read, in the order read (origins point here) */
	size_t n_files;
	struct config_origin *origins;
	size_t n_origins;
	struct config_jail *jail_defaults; /* conf.d's [DEFAULT] (NULL: none), already applied */
	char *state_dir;
	char *control_socket;
	char *metrics; /* node_exporter textfile written at each sample; NULL: none */
	uint64_t offence_memory_usec; /* how long an ended ban still counts for escalation */
	int log_level;
	size_t max_line;
	size_t max_bans; /* records in the ban table at most (bounded memory, about 190 B each) */
	uint64_t max_evidence; /* bytes of evidence lines the ban table keeps at most */
	struct addr *allow;    /* global allowlist */
	size_t n_allow;
	struct config_nft nft;
	struct config_sampler sampler;
	struct config_probe probe;
	struct config_tuner tuner;
	struct config_reaper reaper;
	struct config_fleet fleet;
	struct config_dnsbl dnsbl;
	struct config_filter *filters;
	size_t n_filters;
	struct config_action *actions;
	size_t n_actions;
	struct config_jail *jails;
	size_t n_jails;
};

struct config_errors {
	char **msgs;
	size_t n;
};

/* Loads the configuration directory. Returns 0, or -EINVAL with every problem in errs (which
 * the caller clears), or -errno for a system failure (also described in errs). */
int config_load(const char *dir, struct config **ret, struct config_errors *errs);

/* The tuner module's parameters from [tuner]. */
void config_tuner_params(const struct config_tuner *t, struct tuner_params *ret);

/* Loads waveguard.conf alone (for the control client and nft-cleanup, which must work while
 * a jail or filter file is broken). Returns 0 or -EINVAL with errs. */
int config_load_main(const char *dir, struct config **ret, struct config_errors *errs);

/* Loads one filter file on its own (for test-filter). Returns 0 or -EINVAL with errs. */
int config_load_filter(const char *path, struct config_filter **ret, struct config_errors *errs);

/* Where section's key got its value (NULL: the built-in default). Sections as in struct
 * config_origin. */
const struct config_origin *config_origin_find(const struct config *c, const char *section,
					       const char *key);

/* Prints the effective configuration for check-config --show: every section and key with its
 * value and the file:line it came from ("default" when built in), in a stable order: the files
 * read, waveguard.conf's sections, [DEFAULT], the jails, the filters, the actions.
 * Returns 0 or -EIO. */
int config_show(const struct config *c, FILE *f);

/* Finds a filter by name (NULL when absent). */
const struct config_filter *config_find_filter(const struct config *c, const char *name);

/* Finds a jail (enabled or not) by name (NULL when absent). */
const struct config_jail *config_find_jail(const struct config *c, const char *name);

/* The filter_spec view of a parsed filter, for filter_new(). tags_out must hold n_tags. */
struct filter_spec config_filter_spec(const struct config_filter *f);

/* Compiles f with a jail's overrides. On failure the error is added to errs. */
int config_compile_filter(const struct config_filter *f, const struct config_jail *j,
			  struct filter **ret, struct config_errors *errs);

/* Adds a formatted message to e (dropped when out of memory). */
void config_errors_add(struct config_errors *e, const char *fmt, ...) _printf_(2, 3);

/* Whether a file or directory of the configuration, as stat()ed at path, may drive a root
 * daemon: owned by root or by the daemon's own user, and writable by nobody else (a directory
 * writable by others lets them add or replace files, sticky bit or not). Adds what is wrong to
 * errs and returns false otherwise. */
bool config_trusted(const char *path, const struct stat *st, bool dir, struct config_errors *errs);

/* Whether a secret of the configuration (the fleet key, the Redis password) at path is a
 * regular file that only its owner, root or the daemon's user, may read or write. Adds what is
 * wrong to errs and returns false otherwise. */
bool config_secret_trusted(const char *path, struct config_errors *errs);

/* True when a failregex of f has both <HOST> and <USER>: a jail with a trap list can count its
 * hits. */
bool config_filter_captures_user(const struct config_filter *f);

/* True when a failregex of f has <HOST>: its matches can be hits, and a jail on it can ban. */
bool config_filter_can_ban(const struct config_filter *f);

/* For an enabled jail whose filter only reports events (no <HOST>: "maximum active
 * connections"), the name of a banning action (nft, exec) it was given anyway, which can never
 * run; NULL when there is none or the jail can ban. */
const char *config_jail_idle_action(const struct config_jail *j);

/* Whether the jail reads log lines (through a filter), not the bans of other jails or the
 * reaper's hits. */
bool config_jail_reads_logs(const struct config_jail *j);

/* The tuner level from which the reaper works. */
enum tuner_level config_reaper_level(const struct config_reaper *r);

/* Whether two jails close the same ports (in any order): then their bans share the kernel's
 * sets. NULL (a jail no longer configured) is never the same. */
bool config_jail_same_ports(const struct config_jail *a, const struct config_jail *b);
/* Whether a ban of jail outer closes every port that one of jail inner closes. */
bool config_jail_ports_cover(const struct config_jail *outer, const struct config_jail *inner);

void config_errors_clear(struct config_errors *e);
void config_filter_free(struct config_filter *f);
struct config *config_free(struct config *c);

DEFINE_FREE_FUNC(struct config, config_free)
