/* waveguard: command-line entry. Parses the global options and dispatches to the subcommands;
 * every failure maps to a sysexits code (64 usage, 78 configuration, 73 state directory). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ban_nft.h"
#include "cli.h"
#include "config.h"
#include "config_keys.h"
#include "control.h"
#include "esmtpd.h"
#include "help.h"
#include "history.h"
#include "log.h"
#include "logline.h"
#include "manager.h"
#include "offline.h"
#include "plot.h"
#include "timeutil.h"
#include "wave.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG_DIR SYSCONFDIR "/waveguard"

static void help(FILE *f)
{
	fprintf(f,
		"Usage: waveguard [-c DIR] COMMAND [ARGS]\n"
		"\n"
		"Protects a mail server from spam waves: follows the MTA's logs, recognises abuse\n"
		"with regex filters and decides bans per jail.\n"
		"\n"
		"Commands:\n"
		"  run [--dry-run]               run the daemon in the foreground; --dry-run "
		"decides\n"
		"                                and logs, but touches neither kernel nor "
		"commands\n"
		"  check-config                  load the configuration, print a summary, exit 0\n"
		"                                or 78 with every error as file:line\n"
		"  check-config --keys           list every key of the configuration files:\n"
		"                                'section key type  help'\n"
		"  check-config --show           load the configuration and print it as in "
		"effect:\n"
		"                                every section and key with its value and the\n"
		"                                file:line it came from (or 'default')\n"
		"  test-filter [-v] [--missed[=N]] [--hosts|--users] [--messages] FILTER LOG|-\n"
		"                                run one filter (name, file or a regex with\n"
		"                                <HOST>) over a log and explain the result;\n"
		"                                -v, --verbose: each matched line; --missed:\n"
		"                                the lines of its programs no regex matched;\n"
		"                                --users: each hit's address and <USER> (trap\n"
		"                                list candidates)\n"
		"  replay [--jail NAME] [--no-allowlist] LOG|-\n"
		"                                run the jails over a log with its own "
		"timestamps,\n"
		"                                print each ban decision and a table per jail\n"
		"      test-filter and replay read the journal instead of a log with --journal\n"
		"      [--journal-directory DIR] [--match FIELD=VALUE]... (default matches:\n"
		"      SYSLOG_IDENTIFIER= the filters' tags)\n"
		"  status [--json]               jails, tracked addresses, bans (asks the daemon)\n"
		"  list [JAIL] [--json] [-v]     active bans with remaining time and offence "
		"count\n"
		"                                (-v, --verbose: with the log lines behind each)\n"
		"  show ADDR [--json]            the bans covering ADDR: why, since when, until\n"
		"                                when, the log lines that decided them\n"
		"  ban ADDR [--jail J] [--time T|forever]\n"
		"                                ban an address or network by hand\n"
		"  unban ADDR|--all              lift the bans covering ADDR (the /64 of a host\n"
		"                                too), or all of them\n"
		"  reload                        re-read the configuration and say whether it\n"
		"                                was taken (exit 1 with the reason if refused)\n"
		"  nft-cleanup                   remove waveguard's nftables table (uninstall)\n"
		"  history [--file F] [--since T] [--last N] [--svg OUT] [--max-daemons N]\n"
		"                                the connection history: a table like\n"
		"                                'date  connections', or an SVG chart (with\n"
		"                                Courier's MAXDAEMONS); T is an RFC 3339 time\n"
		"                                or a duration ago (1h)\n"
		"  help [COMMAND]                this overview, or a command's usage, options and\n"
		"                                an example (as COMMAND --help)\n"
		"\n"
		"Options:\n"
		"  -c, --config DIR              configuration directory (default %s)\n"
		"  -h, --help                    show this help\n"
		"  -V, --version                 show the version\n",
		DEFAULT_CONFIG_DIR);
}

static void print_errors(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", errs->msgs[i]);
	config_errors_clear(errs);
}

static int load(const char *dir, struct config **ret)
{
	struct config_errors errs = { 0 };
	int r = config_load(dir, ret, &errs);
	print_errors(&errs);
	if (r < 0) {
		fprintf(stderr, "waveguard: configuration in %s is not valid\n", dir);
		return EX_CONFIG;
	}
	log_max_level = (*ret)->log_level;
	return EX_OK;
}

/* The watch's pace and the reaper, for check-config's summary. */
static void print_watch(const struct config *c)
{
	const struct config_reaper *r = &c->reaper;
	char d1[TIMEUTIL_DURATION_MAX], d2[TIMEUTIL_DURATION_MAX];

	printf("Watch: %s every %s (%s while a wave lasts)\n", c->sampler.enabled ? "on" : "off",
	       timeutil_format_duration(c->sampler.interval_usec, d1, sizeof(d1)),
	       timeutil_format_duration(
		       MIN(c->sampler.wave_interval_usec, c->sampler.interval_usec), d2,
		       sizeof(d2)));
	if (!r->enabled || !c->sampler.enabled || !c->tuner.enabled) {
		printf("Reaper: off%s\n", r->enabled ? " (it needs [sampler] and [tuner])" : "");
		return;
	}
	printf("Reaper: on from the %s level: closes the connections of clients that sent at most "
	       "%llu bytes and then nothing for %s after the server's last reply (%s from %.0f%% "
	       "of MAXDAEMONS), at most %u a sample%s%s\n",
	       tuner_level_to_string(config_reaper_level(r)), (unsigned long long)r->greeting_bytes,
	       timeutil_format_duration(r->idle_usec, d1, sizeof(d1)),
	       timeutil_format_duration(r->idle_full_usec, d2, sizeof(d2)), r->full_fraction * 100,
	       r->max_per_pass, r->jail ? "; hits for " : "", r->jail ? r->jail : "");
}

/* Where the probe goes, and why there: an admin whose Courier listens elsewhere sees it here. */
static void print_probe(const struct config *c)
{
	char addr[64];
	uint16_t port;
	const char *origin;

	if (!c->probe.enabled) {
		printf("Probe: off\n");
		return;
	}
	int r = wave_probe_target(c, addr, sizeof(addr), &port, &origin);
	printf(strchr(addr, ':') ? "Probe: [%s]:%u" : "Probe: %s:%u", addr, port);
	if (r < 0)
		printf(" (the default: %s cannot tell where Courier listens: %s)\n", origin,
		       strerror(-r));
	else
		printf(" (from %s)\n", origin);
}
/* check-config --show: the effective configuration, each value with its file:line. */
static int cmd_show_config(const char *dir)
{
	_cleanup_(config_freep) struct config *c = NULL;
	int r = load(dir, &c);
	if (r != EX_OK)
		return r;
	return config_show(c, stdout) < 0 ? EX_IOERR : EX_OK;
}

static int cmd_check_config(const char *dir)
{
	_cleanup_(config_freep) struct config *c = NULL;
	size_t samples = 0, enabled = 0;
	char d1[TIMEUTIL_DURATION_MAX], d2[TIMEUTIL_DURATION_MAX];
	int r = load(dir, &c);
	if (r != EX_OK)
		return r;

	for (size_t i = 0; i < c->n_filters; i++)
		samples += c->filters[i].n_samples;
	for (size_t i = 0; i < c->n_jails; i++)
		enabled += c->jails[i].enabled;
	printf("Configuration %s: OK\n", dir);
	printf("State directory: %s\n", c->state_dir);
	printf("Jails: %zu (%zu enabled)\n", c->n_jails, enabled);
	for (size_t i = 0; i < c->n_jails; i++) {
		const struct config_jail *j = &c->jails[i];
		if (j->backend == BACKEND_BANS)
			printf("  %-16s %s counts the bans of the other jails, action=", j->name,
			       j->enabled ? "on " : "off");
		else if (j->backend == BACKEND_REAPER)
			printf("  %-16s %s counts the idle holders the reaper closed, action=",
			       j->name, j->enabled ? "on " : "off");
		else
			printf("  %-16s %s filter=%s action=", j->name, j->enabled ? "on " : "off",
			       j->filter_name);
		for (size_t k = 0; k < j->n_actions; k++)
			printf("%s%s", k ? "," : "", j->action_names[k]);
		printf(" maxretry=%u findtime=%s bantime=%s", j->maxretry,
		       timeutil_format_duration(j->findtime_usec, d1, sizeof(d1)),
		       timeutil_format_duration(j->bantime_usec, d2, sizeof(d2)));
		if (j->bantime_factor > 1.0)
			printf(" x%g up to %s", j->bantime_factor,
			       timeutil_format_duration(j->bantime_max_usec, d1, sizeof(d1)));
		if (config_jail_reads_logs(j)) {
			printf("\n    sources:");
			for (size_t k = 0; k < j->n_sources; k++)
				printf(" %s", j->sources[k]);
		}
		printf("\n");
		if (j->trap_path)
			printf("    trap list: %s\n", j->trap_path);
	}
	for (size_t i = 0; i < c->n_jails; i++) {
		const char *idle = config_jail_idle_action(&c->jails[i]);
		if (idle)
			printf("Warning: jail %s can never ban: filter %s has no failregex with "
			       "<HOST> "
			       "(its matches are events for the tuner), so action %s never runs\n",
			       c->jails[i].name, c->jails[i].filter_name, idle);
	}
	printf("Filters: %zu (%zu samples checked)\n", c->n_filters, samples);
	for (size_t i = 0; i < c->n_filters; i++)
		printf("  %-16s %zu failregex, %zu ignoreregex  %s\n", c->filters[i].name,
		       c->filters[i].n_fail, c->filters[i].n_ignore,
		       c->filters[i].description ? c->filters[i].description : "");
	if (c->tuner.enabled)
		printf("Tuner: on%s, %s in %s, MAXDAEMONS %s%s\n",
		       c->tuner.dry_run ? " (dry run)" : "", c->tuner.action,
		       c->tuner.timeouts->directory ? c->tuner.timeouts->directory : "/etc/courier",
		       c->tuner.max_daemons ? "set to " : "from ",
		       c->tuner.max_daemons ? "max_daemons" : c->tuner.esmtpd);
	else
		printf("Tuner: off\n");
	print_watch(c);
	print_probe(c);
	printf("Actions: %zu\n", c->n_actions);
	for (size_t i = 0; i < c->n_actions; i++)
		printf("  %-16s %s\n", c->actions[i].name,
		       c->actions[i].description ? c->actions[i].description : "");
	return EX_OK;
}

/* The input options test-filter and replay share. Returns 0, or EX_USAGE (printed). */
struct input_opts {
	struct offline_input in;
	const char *matches[32];
};

static int input_option(int c, struct input_opts *o)
{
	switch (c) {
	case 'J':
		o->in.journal = true;
		return 0;
	case 'D':
		o->in.journal = true;
		o->in.journal_directory = optarg;
		return 0;
	case 'M':
		if (o->in.n_matches >= ELEMENTSOF(o->matches)) {
			fprintf(stderr, "waveguard: at most %zu --match\n", ELEMENTSOF(o->matches));
			return EX_USAGE;
		}
		o->matches[o->in.n_matches++] = optarg;
		o->in.journal = true;
		return 0;
	}
	return EX_USAGE;
}

#define INPUT_OPTIONS                                                                              \
	{ "journal", no_argument, NULL, 'J' },                                                     \
		{ "journal-directory", required_argument, NULL, 'D' },                             \
	{                                                                                          \
		"match", required_argument, NULL, 'M'                                              \
	}

/* A word as the shell reads it back: quoted unless it is plain. */
static void put_shell_word(FILE *f, const char *s)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789_./@%+=:,-";

	if (*s && strspn(s, plain) == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

/* The filters of dir, for the message about one that does not exist. */
static void list_filters(FILE *f, const char *dir)
{
	_cleanup_free_ char *pattern = NULL;
	glob_t g;

	if (asprintf(&pattern, "%s/filters/*.conf", dir) < 0 || glob(pattern, 0, NULL, &g) != 0) {
		fprintf(f, "none");
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *name = strrchr(g.gl_pathv[i], '/') + 1;
		fprintf(f, "%s%.*s", i ? ", " : "", (int)(strlen(name) - 5), name);
	}
	globfree(&g);
}

/* The exit code for a FILTER argument that is no filter, after saying what to type. */
static int test_filter_misused(const char *dir, int kind, const char *filter, const char *log,
			       const char *path)
{
	switch (kind) {
	case OFFLINE_ARG_SWAPPED:
		fprintf(stderr, "waveguard: FILTER and LOG look swapped: waveguard ");
		if (strcmp(dir, DEFAULT_CONFIG_DIR) != 0) {
			fprintf(stderr, "-c ");
			put_shell_word(stderr, dir);
			fputc(' ', stderr);
		}
		fprintf(stderr, "test-filter ");
		put_shell_word(stderr, log);
		fputc(' ', stderr);
		put_shell_word(stderr, filter);
		fputc('\n', stderr);
		return EX_USAGE;
	case OFFLINE_ARG_LOG:
		fprintf(stderr,
			"waveguard: %s is a log, not a filter: the filter comes first "
			"(waveguard test-filter FILTER LOG)\n",
			filter);
		return EX_USAGE;
	case OFFLINE_ARG_MISSING:
		fprintf(stderr,
			"waveguard: no filter %s: %s does not exist (a regex in its place needs "
			"<HOST>); the filters in %s/filters: ",
			filter, path, dir);
		list_filters(stderr, dir);
		fputc('\n', stderr);
		return EX_CONFIG;
	}
	return EX_OSERR;
}

/* --missed[=N|all]. Returns 0 or -EINVAL. */
static int parse_missed(const char *s, size_t *ret)
{
	char *end;

	if (!s) {
		*ret = OFFLINE_MISSED_DEFAULT;
		return 0;
	}
	if (strcmp(s, "all") == 0) {
		*ret = SIZE_MAX;
		return 0;
	}
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || *end || end == s || n == 0 || s[0] == '-')
		return -EINVAL;
	*ret = (size_t)n;
	return 0;
}

/* Parses test-filter's options. Returns -1 to go on, else the exit code (usage, --help). */
static int test_filter_options(int argc, char **argv, struct test_filter_opts *o,
			       struct input_opts *io)
{
	static const struct option opts[] = {
		{ "hosts", no_argument, NULL, 'H' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "missed", optional_argument, NULL, 'm' },
		{ "messages", no_argument, NULL, 'g' },
		{ "users", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		INPUT_OPTIONS,
		{},
	};
	int c;

	/* 0, not 1: glibc re-reads the option string (main's "+" stops at the command). */
	optind = 0;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) >= 0) {
		switch (c) {
		case 'H':
			o->hosts = true;
			break;
		case 'U':
			o->users = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'g':
			o->messages = true;
			break;
		case 'm':
			if (parse_missed(optarg, &o->missed) == 0)
				break;
			fprintf(stderr, "waveguard: --missed=%s: expected a number or 'all'\n",
				optarg);
			return EX_USAGE;
		case 'h':
			help_command(stdout, "test-filter");
			return EX_OK;
		default:
			if (input_option(c, io) != 0)
				return EX_USAGE;
		}
	}
	if (argc - optind != (io->in.journal ? 1 : 2)) {
		fprintf(stderr, "Usage: waveguard test-filter [OPTIONS] FILTER LOG|-\n"
				"       waveguard test-filter [OPTIONS] FILTER --journal "
				"[--journal-directory DIR] [--match FIELD=VALUE]...\n"
				"(waveguard test-filter --help says more)\n");
		return EX_USAGE;
	}
	return -1;
}

static int cmd_test_filter(const char *dir, int argc, char **argv)
{
	struct test_filter_opts o = { 0 };
	struct input_opts io = { .in.matches = io.matches };
	struct config_errors errs = { 0 };
	struct config_filter *cf = NULL;
	_cleanup_free_ char *path = NULL;
	int r;

	r = test_filter_options(argc, argv, &o, &io);
	if (r >= 0)
		return r;
	io.in.path = io.in.journal ? NULL : argv[optind + 1];
	const char *filter = argv[optind];
	r = offline_filter_arg(dir, filter, io.in.path, &path);
	if (r < 0)
		return EX_OSERR;
	if (r == OFFLINE_ARG_REGEX)
		return offline_test_regex(filter, &io.in, &o);
	if (r != OFFLINE_ARG_FILTER)
		return test_filter_misused(dir, r, filter, io.in.path, path);

	r = config_load_filter(path, &cf, &errs);
	print_errors(&errs);
	if (r < 0)
		return EX_CONFIG;
	r = offline_test_filter(cf, &io.in, &o);
	config_filter_free(cf);
	return r;
}

static int cmd_replay(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jail", required_argument, NULL, 'j' },
		{ "no-allowlist", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		INPUT_OPTIONS,
		{},
	};
	_cleanup_(config_freep) struct config *cfg = NULL;
	struct input_opts io = { .in.matches = io.matches };
	struct replay_opts ro = { 0 };
	int c, r;

	/* 0, not 1: glibc re-reads the option string (main's "+" stops at the command). */
	optind = 0;
	while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) >= 0) {
		if (c == 'j')
			ro.jail = optarg;
		else if (c == 'A')
			ro.no_allowlist = true;
		else if (c == 'h') {
			help_command(stdout, "replay");
			return EX_OK;
		} else if (input_option(c, &io) != 0)
			return EX_USAGE;
	}
	if (argc - optind != (io.in.journal ? 0 : 1)) {
		fprintf(stderr, "Usage: waveguard replay [--jail NAME] [--no-allowlist] LOG|-\n"
				"       waveguard replay [--jail NAME] [--no-allowlist] --journal "
				"[--journal-directory DIR] [--match FIELD=VALUE]...\n");
		return EX_USAGE;
	}
	io.in.path = io.in.journal ? NULL : argv[optind];
	r = load(dir, &cfg);
	if (r != EX_OK)
		return r;
	return offline_replay(cfg, &ro, &io.in);
}

static int cmd_run(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct config *cfg = NULL;
	bool dry_run = false;
	int c, r;

	/* 0, not 1: glibc re-reads the option string (main's "+" stops at the command). */
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'n')
			dry_run = true;
		else if (c == 'h') {
			help_command(stdout, "run");
			return EX_OK;
		} else
			return EX_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "Usage: waveguard [-c DIR] run [--dry-run]\n");
		return EX_USAGE;
	}
	r = load(dir, &cfg);
	if (r != EX_OK)
		return r;
	r = manager_new(dir, cfg, dry_run, &m);
	if (r < 0) {
		config_free(cfg);
		return EX_OSERR;
	}
	r = manager_start(m);
	if (r < 0)
		return r == -EACCES || r == -EROFS || r == -ENOTDIR || r == -EPERM ? EX_CANTCREAT
										   : EX_OSERR;
	return manager_run(m) < 0 ? EX_SOFTWARE : EX_OK;
}

/* The control socket's path comes from waveguard.conf alone: a broken jail or filter file must
 * not keep the admin from asking the running daemon (or from reloading it once fixed). */
static int cmd_client(const char *dir, int argc, char **argv)
{
	_cleanup_(config_freep) struct config *cfg = NULL;
	struct config_errors errs = { 0 };
	const char *path = "/run/waveguard/control";

	if (config_load_main(dir, &cfg, &errs) >= 0)
		path = cfg->control_socket;
	config_errors_clear(&errs);
	return cli_control(path, argc, argv);
}

static int cmd_nft_cleanup(const char *dir, int argc)
{
	_cleanup_(config_freep) struct config *cfg = NULL;
	struct ban_nft *b = NULL;
	int r;

	if (argc != 1) {
		fprintf(stderr, "Usage: waveguard [-c DIR] nft-cleanup\n");
		return EX_USAGE;
	}
	struct config_errors errs = { 0 };
	r = config_load_main(dir, &cfg, &errs);
	print_errors(&errs);
	if (r < 0)
		return EX_CONFIG;
	/* A running daemon would put its table back within a second: say so instead. */
	if (control_alive(cfg->control_socket) > 0) {
		log_error("waveguard is running (%s answers): stop it first (systemctl stop "
			  "waveguard), or lift its bans with `waveguard unban --all`",
			  cfg->control_socket);
		return EX_TEMPFAIL;
	}
	struct ban_nft_config nc = { .table = cfg->nft.table };
	r = ban_nft_new(&nc, &b);
	if (r >= 0)
		r = ban_nft_cleanup(b);
	ban_nft_free(b);
	if (r < 0) {
		log_error_errno(r, "cannot remove table inet %s: %m", cfg->nft.table);
		return EX_OSERR;
	}
	printf("removed table inet %s\n", cfg->nft.table);
	return EX_OK;
}

struct rows {
	struct history_row *v;
	size_t n;
};

static int collect_row(const struct history_row *r, void *userdata)
{
	struct rows *rows = userdata;
	struct history_row *slot = ARRAY_GROW(rows->v, rows->n);
	if (!slot)
		return -ENOMEM;
	*slot = *r;
	return 0;
}

/* What `waveguard history` was asked for. */
struct history_args {
	const char *file, *svg;
	uint64_t since; /* microseconds since the epoch; 0: from the start */
	unsigned long last;
	long max_daemons; /* the chart's MAXDAEMONS line; -1: from the configuration */
};

/* --since: an RFC 3339 time, or a duration back from now. */
static bool parse_since(const char *s, uint64_t *ret)
{
	uint64_t d;

	if (timeutil_parse_rfc3339(s, strlen(s), ret) == strlen(s))
		return true;
	if (timeutil_parse_duration(s, &d) < 0)
		return false;
	*ret = (uint64_t)time(NULL) * 1000000ULL - d;
	return true;
}

/* Parses the options into *a. Returns -1 to go on, else the exit code (usage error, --help). */
static int history_options(int argc, char **argv, struct history_args *a)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 's' },
		{ "last", required_argument, NULL, 'n' },
		{ "svg", required_argument, NULL, 'g' },
		{ "max-daemons", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'f':
			a->file = optarg;
			break;
		case 's':
			if (parse_since(optarg, &a->since))
				break;
			fprintf(stderr,
				"waveguard: --since %s: expected an RFC 3339 time or a "
				"duration such as 1h\n",
				optarg);
			return EX_USAGE;
		case 'n': {
			char *end;
			a->last = strtoul(optarg, &end, 10);
			if (*end || end == optarg) {
				fprintf(stderr, "waveguard: --last %s: expected a number\n",
					optarg);
				return EX_USAGE;
			}
			break;
		}
		case 'g':
			a->svg = optarg;
			break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v > 1000000) {
				fprintf(stderr, "waveguard: --max-daemons %s: expected a number\n",
					optarg);
				return EX_USAGE;
			}
			a->max_daemons = (long)v;
			break;
		}
		case 'h':
			help_command(stdout, "history");
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
			"Usage: waveguard history [--file F] [--since T] [--last N] [--svg OUT] "
			"[--max-daemons N]\n");
		return EX_USAGE;
	}
	return -1;
}

/* The history file the configuration in dir names (malloc'ed in *ret). Returns -1 to go on,
 * else the exit code. */
static int history_default_path(const char *dir, char **ret)
{
	_cleanup_(config_freep) struct config *cfg = NULL;
	struct config_errors errs = { 0 };
	char *path = NULL;

	if (config_load_main(dir, &cfg, &errs) < 0) {
		print_errors(&errs);
		return EX_CONFIG;
	}
	if (cfg->sampler.history)
		path = strdup(cfg->sampler.history);
	else if (asprintf(&path, "%s/history.csv", cfg->state_dir) < 0)
		path = NULL;
	if (!path)
		return EX_OSERR;
	*ret = path;
	return -1;
}

/* A file the chart is written to: created or truncated, never through a symlink, only a regular
 * file (a root command writing where a planted link points would overwrite anything). NULL
 * with errno set on failure. */
static FILE *open_output(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK,
		      0644);
	struct stat st;

	if (fd < 0)
		return NULL;
	int e = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
	if (e == 0 && ftruncate(fd, 0) < 0)
		e = errno;
	if (e) {
		close(fd);
		errno = e;
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

/* The chart to a->svg ("-": standard output), or else the table of the last rows. Returns an
 * exit code. */
static int history_output(const struct history_args *a, const struct rows *rows)
{
	int r;

	if (a->svg) {
		FILE *f = strcmp(a->svg, "-") == 0 ? stdout : open_output(a->svg);
		if (!f) {
			log_error_errno(errno, "%s: %m", a->svg);
			return EX_CANTCREAT;
		}
		r = plot_svg(f, rows->v, rows->n, "waveguard: open SMTP connections",
			     (uint32_t)MAX(a->max_daemons, 0));
		if (f != stdout && fclose(f) != 0 && r >= 0)
			r = -errno;
		if (r >= 0 && f != stdout)
			fprintf(stderr, "waveguard: %zu samples drawn in %s\n", rows->n, a->svg);
	} else
		r = history_print_table(stdout, rows->v, rows->n, a->last);
	if (r < 0) {
		log_error_errno(r, "cannot write: %m");
		return EX_IOERR;
	}
	return EX_OK;
}

/* Courier's MAXDAEMONS for the chart's line: [tuner] max_daemons, else the esmtpd file the
 * configuration names; 0 (no line) when neither can be read. */
static long config_max_daemons(const char *dir)
{
	_cleanup_(config_freep) struct config *c = NULL;
	struct config_errors errs = { 0 };
	unsigned n = 0;

	if (config_load_main(dir, &c, &errs) < 0) {
		config_errors_clear(&errs);
		return 0;
	}
	if (c->tuner.max_daemons)
		return c->tuner.max_daemons;
	return esmtpd_read_maxdaemons(c->tuner.esmtpd, &n) < 0 ? 0 : (long)n;
}

static int cmd_history(const char *dir, int argc, char **argv)
{
	_cleanup_free_ char *path = NULL;
	struct history_args a = { .last = 60, .max_daemons = -1 };
	struct rows rows = { 0 };
	unsigned bad = 0;
	int r;

	r = history_options(argc, argv, &a);
	if (r < 0 && !a.file) {
		r = history_default_path(dir, &path);
		a.file = path;
	}
	if (r >= 0)
		return r;
	r = history_read(a.file, a.since, collect_row, &rows, &bad);
	if (r < 0) {
		free(rows.v);
		log_error_errno(r, "%s: %m", a.file);
		return r == -ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	if (bad)
		log_warning("%s: %u unreadable lines skipped", a.file, bad);
	if (a.svg && a.max_daemons < 0)
		a.max_daemons = config_max_daemons(dir);
	r = history_output(&a, &rows);
	free(rows.v);
	return r;
}

/* `waveguard help [COMMAND]`. */
static int cmd_help(int argc, char **argv)
{
	if (argc == 1) {
		help(stdout);
		return EX_OK;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		argv[1] = (char *)"help";
	if (argc == 2 && help_command(stdout, argv[1]) == 0)
		return EX_OK;
	fprintf(stderr,
		"waveguard: help %s: expected one command of: ", argc == 2 ? argv[1] : "...");
	help_list(stderr);
	fputc('\n', stderr);
	return EX_USAGE;
}

/* -h or --help among the arguments of a command that parses none of its own with getopt. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *dir = DEFAULT_CONFIG_DIR;
	int c;

	/* '+': options after the command belong to the command. */
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			dir = optarg;
			break;
		case 'h':
			help(stdout);
			return EX_OK;
		case 'V':
			printf("waveguard %s\n", WAVEGUARD_VERSION);
			return EX_OK;
		default:
			help(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		help(stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[optind];
	argc -= optind;
	argv += optind;
	static const char *const client_cmds[] = { "status", "list",  "show",
						   "ban",    "unban", "reload" };
	if (strcmp(cmd, "help") == 0)
		return cmd_help(argc, argv);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(dir, argc, argv);
	/* The commands that parse their own options answer --help themselves. */
	if (strcmp(cmd, "test-filter") != 0 && strcmp(cmd, "replay") != 0 &&
	    strcmp(cmd, "history") != 0 && wants_help(argc, argv) && help_command(stdout, cmd) == 0)
		return EX_OK;
	if (strcmp(cmd, "check-config") == 0) {
		if (argc == 2 && strcmp(argv[1], "--keys") == 0)
			return config_keys_print(stdout) < 0 ? EX_IOERR : EX_OK;
		if (argc == 2 && strcmp(argv[1], "--show") == 0)
			return cmd_show_config(dir);
		if (argc != 1) {
			fprintf(stderr, "Usage: waveguard [-c DIR] check-config [--keys|--show]\n");
			return EX_USAGE;
		}
		return cmd_check_config(dir);
	}
	if (strcmp(cmd, "test-filter") == 0)
		return cmd_test_filter(dir, argc, argv);
	if (strcmp(cmd, "replay") == 0)
		return cmd_replay(dir, argc, argv);
	if (strcmp(cmd, "nft-cleanup") == 0)
		return cmd_nft_cleanup(dir, argc);
	if (strcmp(cmd, "history") == 0)
		return cmd_history(dir, argc, argv);
	for (size_t i = 0; i < ELEMENTSOF(client_cmds); i++)
		if (strcmp(cmd, client_cmds[i]) == 0)
			return cmd_client(dir, argc, argv);
	fprintf(stderr, "waveguard: unknown command '%s' (see waveguard --help)\n", cmd);
	return EX_USAGE;
}
