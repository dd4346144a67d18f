/* waveguard: command-line entry. Parses the global options and dispatches to the subcommands;
 * every failure maps to a sysexits code (64 usage, 78 configuration, 73 state directory). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "offline.h"

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
		"  run                           run the daemon in the foreground\n"
		"  check-config                  load the configuration, print a summary, exit 0\n"
		"                                or 78 with every error as file:line\n"
		"  test-filter [--hosts] FILTER LOG|-\n"
		"                                run one filter (name or file) over a log\n"
		"  replay [--jail NAME] LOG|-    run the jails over a log with its own timestamps\n"
		"                                and print each ban decision\n"
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

static int cmd_check_config(const char *dir)
{
	_cleanup_(config_freep) struct config *c = NULL;
	size_t samples = 0, enabled = 0;
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
		printf("  %-16s %s filter=%s action=%s maxretry=%u findtime=%llus bantime=%llus",
		       j->name, j->enabled ? "on " : "off", j->filter_name, j->action_name,
		       j->maxretry, (unsigned long long)(j->findtime_usec / 1000000),
		       (unsigned long long)(j->bantime_usec / 1000000));
		if (j->bantime_factor > 1.0)
			printf(" x%g up to %llus", j->bantime_factor,
			       (unsigned long long)(j->bantime_max_usec / 1000000));
		printf("\n    sources:");
		for (size_t k = 0; k < j->n_sources; k++)
			printf(" %s", j->sources[k]);
		printf("\n");
	}
	printf("Filters: %zu (%zu samples checked)\n", c->n_filters, samples);
	for (size_t i = 0; i < c->n_filters; i++)
		printf("  %-16s %zu failregex, %zu ignoreregex  %s\n", c->filters[i].name,
		       c->filters[i].n_fail, c->filters[i].n_ignore,
		       c->filters[i].description ? c->filters[i].description : "");
	printf("Actions: %zu\n", c->n_actions);
	for (size_t i = 0; i < c->n_actions; i++)
		printf("  %-16s %s\n", c->actions[i].name,
		       c->actions[i].description ? c->actions[i].description : "");
	return EX_OK;
}

static int cmd_test_filter(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hosts", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct test_filter_opts o = { 0 };
	struct config_errors errs = { 0 };
	struct config_filter *cf = NULL;
	_cleanup_free_ char *path = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
		if (c == 'H')
			o.hosts = true;
		else if (c == 'h') {
			help(stdout);
			return EX_OK;
		} else
			return EX_USAGE;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "Usage: waveguard test-filter [--hosts] FILTER LOG|-\n");
		return EX_USAGE;
	}
	const char *name = argv[optind];
	/* A name with a slash or a .conf suffix is a file; anything else a filter of -c DIR. */
	size_t l = strlen(name);
	if (strchr(name, '/') || (l > 5 && strcmp(name + l - 5, ".conf") == 0))
		path = strdup(name);
	else if (asprintf(&path, "%s/filters/%s.conf", dir, name) < 0)
		path = NULL;
	if (!path)
		return EX_OSERR;

	r = config_load_filter(path, &cf, &errs);
	print_errors(&errs);
	if (r < 0)
		return EX_CONFIG;
	r = offline_test_filter(cf, argv[optind + 1], &o);
	config_filter_free(cf);
	return r;
}

static int cmd_replay(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jail", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(config_freep) struct config *cfg = NULL;
	const char *jail = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+j:h", opts, NULL)) >= 0) {
		if (c == 'j')
			jail = optarg;
		else if (c == 'h') {
			help(stdout);
			return EX_OK;
		} else
			return EX_USAGE;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "Usage: waveguard replay [--jail NAME] LOG|-\n");
		return EX_USAGE;
	}
	r = load(dir, &cfg);
	if (r != EX_OK)
		return r;
	return offline_replay(cfg, jail, argv[optind]);
}

static int cmd_run(const char *dir, int argc, char **argv)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct config *cfg = NULL;
	int r;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "Usage: waveguard [-c DIR] run\n");
		return EX_USAGE;
	}
	r = load(dir, &cfg);
	if (r != EX_OK)
		return r;
	r = manager_new(cfg, &m);
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
	if (strcmp(cmd, "run") == 0)
		return cmd_run(dir, argc, argv);
	if (strcmp(cmd, "check-config") == 0) {
		if (argc != 1) {
			fprintf(stderr, "Usage: waveguard [-c DIR] check-config\n");
			return EX_USAGE;
		}
		return cmd_check_config(dir);
	}
	if (strcmp(cmd, "test-filter") == 0)
		return cmd_test_filter(dir, argc, argv);
	if (strcmp(cmd, "replay") == 0)
		return cmd_replay(dir, argc, argv);
	fprintf(stderr, "waveguard: unknown command '%s' (see waveguard --help)\n", cmd);
	return EX_USAGE;
}
