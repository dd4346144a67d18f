/* libFuzzer target: log lines through the shipped filters (the enabled jails', and courier-trap,
 * off as shipped). Oracle: a hit's address is the one Courier writes itself (relay= right after
 * "error,", the last ip=[...] of a LOGIN FAILED line, the address ending a "dropped blocked
 * connection" or per-IP limit line), never one elsewhere in the client's text; a <USER> lies
 * within the message, bounded, without blanks or control characters. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "logline.h"

static struct config *cfg;
static struct engine *eng;
static struct filter *trap;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config_errors errs = { 0 };
	(void)argc;
	(void)argv;
	if (config_load(WAVEGUARD_SRCDIR, &cfg, &errs) < 0 ||
	    engine_new(cfg, NULL, &eng, &errs) < 0 ||
	    config_compile_filter(config_find_filter(cfg, "courier-trap"), NULL, &trap, &errs) <
		    0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		abort();
	}
	return 0;
}

/* The address Courier wrote in msg, by the shapes of its own lines; 0 when none. */
static int courier_address(const char *msg, size_t len, struct addr *ret)
{
	static const char relay[] = "error,relay=", dropped[] = "dropped blocked connection from ",
			  limit[] = "Maximum connection limit reached for ";
	const char *end = msg + len;

	if (len > sizeof(relay) - 1 && memcmp(msg, relay, sizeof(relay) - 1) == 0) {
		const char *a = msg + sizeof(relay) - 1, *c = memchr(a, ',', (size_t)(end - a));
		return c && addr_parse(a, (size_t)(c - a), ret) == 0;
	}
	if (len > sizeof(dropped) - 1 && memcmp(msg, dropped, sizeof(dropped) - 1) == 0)
		return addr_parse(msg + sizeof(dropped) - 1, len - (sizeof(dropped) - 1), ret) == 0;
	if (len > sizeof(limit) - 1 && memcmp(msg, limit, sizeof(limit) - 1) == 0)
		return addr_parse(msg + sizeof(limit) - 1, len - (sizeof(limit) - 1), ret) == 0;
	if (memmem(msg, len, "LOGIN FAILED,", 13)) {
		const char *ip = NULL;
		for (const char *p = msg; (p = memmem(p, (size_t)(end - p), "ip=[", 4)); p += 4)
			ip = p + 4;
		const char *close = ip ? memchr(ip, ']', (size_t)(end - ip)) : NULL;
		return close && addr_parse(ip, (size_t)(close - ip), ret) == 0;
	}
	return 0;
}

static void check_hit(struct filter *f, const struct logline *l, const char *line, size_t len)
{
	struct filter_hit h;
	struct addr want;

	if (filter_match(f, l, &h) != FILTER_HIT)
		return;
	if (!courier_address(l->msg, l->msg_len, &want) || !addr_equal(&want, &h.addr)) {
		fprintf(stderr, "filter %s took an address Courier did not write: %.*s\n",
			filter_name(f), (int)len, line);
		abort();
	}
	if (!h.user)
		return;
	bool ok = h.user >= l->msg && h.user + h.user_len <= l->msg + l->msg_len &&
		  h.user_len >= 1 && h.user_len <= FILTER_USER_MAX;
	for (size_t i = 0; ok && i < h.user_len; i++)
		ok = (unsigned char)h.user[i] > ' ' && h.user[i] != 0x7f && h.user[i] != ',' &&
		     h.user[i] != '<' && h.user[i] != '>';
	if (!ok) {
		fprintf(stderr, "filter %s captured a bad <USER>: %.*s\n", filter_name(f), (int)len,
			line);
		abort();
	}
}

static void one_line(const char *line, size_t len)
{
	struct timeutil_clock clock;
	struct logline l;

	timeutil_clock_init(&clock, 1795761409ULL * 1000000);
	logline_parse(&clock, line, len, &l);
	/* recidive (backend = bans) reads no log: it has no filter. */
	for (size_t i = 0; i < eng->n_jails; i++)
		if (eng->jails[i].filter)
			check_hit(eng->jails[i].filter, &l, line, len);
	check_hit(trap, &l, line, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* The daemon never matches lines past max_line: neither does this. */
		if (len <= cfg->max_line)
			one_line(p, len);
		p += len + 1;
	}
	return 0;
}
