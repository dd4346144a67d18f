/* Tests for config: config_load() on the fixture directories of test/fixtures/config/ (each a
 * complete config dir, copied to a temporary directory and made go-w first, since a checkout may
 * carry any umask), one per class of invalid config with the exact "file:line:" of the error;
 * the shipped configuration; multi-line values; jail overrides of filter variables; durations;
 * the key tables (the "expected" lists and check-config --keys come from them). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <syslog.h>
#include <time.h>

#include "addr.h"
#include "config.h"
#include "config_keys.h"
#include "filter.h"
#include "logline.h"
#include "macro.h"
#include "testutil.h"
#include "timeutil.h"

struct fx {
	char *dir; /* the temporary copy */
	struct config *c;
	struct config_errors e;
	int r;
};

static void run_cmd(const char *fmt, ...) _printf_(1, 2);
static void run_cmd(const char *fmt, ...)
{
	char cmd[8400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

/* Copies test/fixtures/config/<name>/ into a fresh temporary directory. */
static void fx_copy(struct fx *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->dir = test_mkdtemp();
	run_cmd("cp -r '%s/test/fixtures/config/%s/.' '%s/'", test_srcdir(), name, f->dir);
}

/* Config files that are group/world-writable are refused: undo whatever the umask did. */
static void fx_seal(struct fx *f)
{
	run_cmd("chmod -R go-w '%s'", f->dir);
}

static void fx_load_copy(struct fx *f)
{
	f->c = NULL;
	f->r = config_load(f->dir, &f->c, &f->e);
}

static void fx_load(struct fx *f, const char *name)
{
	fx_copy(f, name);
	fx_seal(f);
	fx_load_copy(f);
}

static void fx_done(struct fx *f)
{
	config_errors_clear(&f->e);
	f->c = config_free(f->c);
	test_rm_rf(f->dir);
	free(f->dir);
	f->dir = NULL;
}

/* Index of the first error that starts with "<dir>/<rel>" and contains needle, or -1. */
static int find_error(const struct fx *f, const char *rel, const char *needle)
{
	char prefix[4400];

	snprintf(prefix, sizeof(prefix), "%s/%s", f->dir, rel);
	for (size_t i = 0; i < f->e.n; i++)
		if (strncmp(f->e.msgs[i], prefix, strlen(prefix)) == 0 &&
		    (!needle || strstr(f->e.msgs[i] + strlen(prefix), needle)))
			return (int)i;
	return -1;
}

#define assert_error(f, rel, needle)                                                               \
	ck_assert_msg(find_error(f, rel, needle) >= 0,                                             \
		      "expected an error starting with '%s/%s' and containing '%s'; got:\n%s",     \
		      (f)->dir, rel, needle, test_errors_text(&(f)->e))

/* An invalid fixture: -EINVAL, no config returned, and exactly n_errors errors. */
#define assert_invalid(f, n_errors)                                                                \
	do {                                                                                       \
		ck_assert_msg((f)->r == -EINVAL, "config_load returned %d, errors:\n%s", (f)->r,   \
			      test_errors_text(&(f)->e));                                          \
		ck_assert_ptr_null((f)->c);                                                        \
		ck_assert_msg((f)->e.n == (n_errors), "expected %d error(s), got %zu:\n%s",        \
			      (int)(n_errors), (f)->e.n, test_errors_text(&(f)->e));               \
	} while (0)

static const char *fmt_addr(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned i;
	char *b = buf[i++ % 4];
	return addr_format(a, b, ADDR_STRLEN);
}

static const struct config_jail *find_jail(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_jails; i++)
		if (strcmp(c->jails[i].name, name) == 0)
			return &c->jails[i];
	return NULL;
}

/* ---- invalid configurations: one class each ---- */

START_TEST(test_unknown_section)
{
	struct fx f;

	fx_load(&f, "unknown-section");
	assert_invalid(&f, 1);
	assert_error(&f, "waveguard.conf:4: ", "unknown section [deamon]");
	fx_done(&f);
}
END_TEST

START_TEST(test_unknown_daemon_key)
{
	struct fx f;

	fx_load(&f, "unknown-daemon-key");
	assert_invalid(&f, 1);
	assert_error(&f, "waveguard.conf:3: ", "unknown key 'loglevel' in [daemon]");
	fx_done(&f);
}
END_TEST

START_TEST(test_unknown_jail_key)
{
	struct fx f;

	fx_load(&f, "unknown-jail-key");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:4: ", "unknown key 'max_retry' in jail [mini]");
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_duration)
{
	struct fx f;

	fx_load(&f, "bad-duration");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:4: ", "findtime = '10x': expected a duration");
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_number)
{
	struct fx f;

	fx_load(&f, "bad-number");
	assert_invalid(&f, 2);
	assert_error(&f, "conf.d/jails.conf:4: ", "maxretry = '0': expected a number");
	assert_error(&f, "conf.d/jails.conf:9: ", "maxretry = 'abc': expected a number");
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_bool)
{
	struct fx f;

	fx_load(&f, "bad-bool");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:2: ", "enabled = 'maybe': expected yes or no");
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_cidr)
{
	struct fx f;

	/* The bad network is on the continuation line of a multi-line allow list. */
	fx_load(&f, "bad-cidr");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:5: ", "'198.51.100.0/33' is not an address or network");
	fx_done(&f);
}
END_TEST

START_TEST(test_relative_source)
{
	struct fx f;

	fx_load(&f, "relative-source");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:3: ",
		     "source 'var/log/mail.err': expected an absolute path");
	fx_done(&f);
}
END_TEST

START_TEST(test_unknown_filter)
{
	struct fx f;

	/* The error is at the "filter =" line (3), not at the jail's header. */
	fx_load(&f, "unknown-filter");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:3: ", "unknown filter 'courier-smtp'");
	fx_done(&f);
}
END_TEST

START_TEST(test_unknown_action)
{
	struct fx f;

	fx_load(&f, "unknown-action");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:4: ", "unknown action 'nosuch'");
	fx_done(&f);
}
END_TEST

START_TEST(test_unknown_filter_var)
{
	struct fx f;

	/* filter.codes (line 3) exists; filter.code (line 4) does not. */
	fx_load(&f, "unknown-filter-var");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:4: ", "filter mini has no variable 'code'");
	fx_done(&f);
}
END_TEST

START_TEST(test_duplicate_key)
{
	struct fx f;

	fx_load(&f, "duplicate-key");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:6: ", "'maxretry' is set twice in [mini]");
	fx_done(&f);
}
END_TEST

/* A jail in two files used to be refused ("already defined"); files are layers now: b.conf's
 * [mini] sets keys of a.conf's (its source list replaces a.conf's). Twice in one file it is
 * still an error, that names the first place in the file. */
START_TEST(test_jail_defined_twice)
{
	struct fx f;
	char want[4400];

	fx_load(&f, "jail-twice");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	ck_assert_uint_eq(f.c->n_jails, 2);
	const struct config_jail *j = find_jail(f.c, "mini");
	ck_assert_ptr_nonnull(j);
	snprintf(want, sizeof(want), "%s/conf.d/a.conf", f.dir);
	ck_assert_str_eq(j->file, want);
	ck_assert_uint_eq(j->line, 2);
	ck_assert_uint_eq(j->n_sources, 1);
	ck_assert_str_eq(j->sources[0], "/var/log/mail.err");
	fx_done(&f);

	fx_load(&f, "jail-twice-one-file");
	assert_invalid(&f, 1);
	snprintf(want, sizeof(want), "jail [mini] already defined at %s/conf.d/jails.conf:1",
		 f.dir);
	assert_error(&f, "conf.d/jails.conf:5: ", want);
	fx_done(&f);
}
END_TEST

START_TEST(test_syntax_error)
{
	struct fx f;

	fx_load(&f, "syntax-error");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:4: ", "syntax error");
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_regex)
{
	struct fx f;

	/* The broken regex is the continuation line 4 of a two-line failregex (used by a jail):
	 * the error is at the regex's own place, once. */
	fx_load(&f, "bad-regex");
	assert_invalid(&f, 1);
	assert_error(&f, "filters/broken.conf:4: ", "bad regex");
	fx_done(&f);
}
END_TEST

START_TEST(test_filter_var_breaks_regex)
{
	struct fx f;
	char want[4400];

	/* A jail's filter.codes that breaks the filter's regex: the error is at the regex that
	 * uses the variable (mini.conf:7) and names the jail and where it is. */
	fx_copy(&f, "valid");
	test_write(f.dir, "conf.d/zz.conf", "w",
		   "[broken-codes]\nfilter = mini\nfilter.codes = 511|(\nsource = /var/log/x\n");
	fx_seal(&f);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	snprintf(want, sizeof(want), "jail [broken-codes], %s/conf.d/zz.conf:1", f.dir);
	assert_error(&f, "filters/mini.conf:7: ", "bad regex");
	assert_error(&f, "filters/mini.conf:7: ", want);
	fx_done(&f);
}
END_TEST

/* trap_list: a path relative to the configuration directory, checked as the daemon loads it;
 * each problem at its own place, and the jail's line that names the file. */
START_TEST(test_trap_list)
{
	static const char filter[] = "[filter]\ntag = courieresmtpd\n"
				     "failregex = ^error,relay=<HOST>,to=<<USER>>: 550\n"
				     "[test]\n"
				     "match_user = 192.0.2.1 a@b.test Nov 27 06:36:49 mail "
				     "courieresmtpd: error,relay=192.0.2.1,to=<a@b.test>: 550\n"
				     "nomatch = Nov 27 06:36:49 mail courieresmtpd: "
				     "error,relay=192.0.2.1,to=<a b>: 550\n";
	static const char jails[] = "[trap]\nfilter = trapf\nsource = /var/log/x\n"
				    "trap_list = lists/trap\nmaxretry = 1\n"
				    "[off]\nenabled = no\nfilter = trapf\nsource = /var/log/x\n"
				    "trap_list = /nonexistent/trap\n";
	char path[4400], want[4500];
	struct fx f;

	fx_copy(&f, "valid");
	test_write(f.dir, "filters/trapf.conf", "w", filter);
	test_write(f.dir, "conf.d/zz.conf", "w", jails);
	run_cmd("mkdir '%s/lists' && printf 'a@b.test\n' >'%s/lists/trap'", f.dir, f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "%s", test_errors_text(&f.e));
	const struct config_jail *j = find_jail(f.c, "trap");
	snprintf(path, sizeof(path), "%s/lists/trap", f.dir);
	ck_assert_str_eq(j->trap_list, "lists/trap");
	ck_assert_str_eq(j->trap_path, path);
	ck_assert_uint_eq(j->trap_line, 4);
	/* A disabled jail's missing list is no error; an absolute path stays as it is. */
	ck_assert_str_eq(find_jail(f.c, "off")->trap_path, "/nonexistent/trap");
	f.c = config_free(f.c);

	/* Missing for an enabled jail; writable by others; a filter without <USER>. */
	run_cmd("rm '%s/lists/trap'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 2);
	assert_error(&f, "lists/trap: cannot open: ", "No such file or directory");
	snprintf(want, sizeof(want), "jail [trap]: trap_list %s is refused", path);
	assert_error(&f, "conf.d/zz.conf:4: ", want);
	config_errors_clear(&f.e);
	run_cmd("printf 'a@b.test\n' >'%s' && chmod 0666 '%s'", path, path);
	fx_load_copy(&f);
	assert_invalid(&f, 2);
	assert_error(&f, "lists/trap: ", "writable by group or others");
	config_errors_clear(&f.e);
	run_cmd("chmod 0644 '%s' && sed -i 's/^filter = trapf$/filter = mini/' '%s/conf.d/zz.conf'",
		path, f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(
		&f, "conf.d/zz.conf:4: ",
		"jail [trap] has a trap_list, but filter mini has no failregex with <HOST> and "
		"<USER>");
	fx_done(&f);
}
END_TEST

START_TEST(test_two_hosts)
{
	struct fx f;

	fx_load(&f, "two-hosts");
	assert_invalid(&f, 1);
	assert_error(&f, "filters/twohosts.conf:4: ", "more than one <HOST> in one regex");
	fx_done(&f);
}
END_TEST

START_TEST(test_no_filter_section)
{
	struct fx f;

	fx_load(&f, "no-filter-section");
	assert_invalid(&f, 1);
	assert_error(&f, "filters/nosection.conf: ", "no [filter] section");
	fx_done(&f);
}
END_TEST

START_TEST(test_no_failregex)
{
	struct fx f;

	fx_load(&f, "no-failregex");
	assert_invalid(&f, 1);
	assert_error(&f, "filters/noregex.conf: ", "[filter] has no failregex");
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_sample)
{
	struct fx f;

	/* Line 11 is a good sample; 12 yields another address, 13 does not match, 14 is a
	 * nomatch that matches. Each error is at the sample's own line. */
	fx_load(&f, "bad-sample");
	assert_invalid(&f, 3);
	ck_assert_int_lt(find_error(&f, "filters/mini.conf:11:", NULL), 0);
	assert_error(&f, "filters/mini.conf:12: ", "should yield 192.0.2.9, but yielded 192.0.2.3");
	assert_error(&f, "filters/mini.conf:13: ", "should yield 192.0.2.4, but did not match");
	assert_error(&f, "filters/mini.conf:14: ", "nomatch sample matched failregex 1");
	fx_done(&f);
}
END_TEST

START_TEST(test_group_writable)
{
	struct fx f;

	fx_copy(&f, "valid");
	fx_seal(&f);
	run_cmd("chmod g+w '%s/conf.d/jails.conf'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf: ", "writable by group or others");
	fx_done(&f);

	/* World-writable, on the main file. */
	fx_copy(&f, "valid");
	fx_seal(&f);
	run_cmd("chmod o+w '%s/waveguard.conf'", f.dir);
	fx_load_copy(&f);
	ck_assert_int_eq(f.r, -EINVAL);
	ck_assert_ptr_null(f.c);
	assert_error(&f, "waveguard.conf: ", "writable by group or others");
	fx_done(&f);
}
END_TEST

static void append_comment_line(struct fx *f, const char *rel, size_t len)
{
	char *line = malloc(len + 2);

	ck_assert_ptr_nonnull(line);
	memset(line, 'x', len);
	line[0] = '#';
	line[1] = ' ';
	line[len] = '\n';
	line[len + 1] = '\0';
	test_write(f->dir, rel, "a", line);
	free(line);
}

START_TEST(test_long_line)
{
	struct fx f;

	/* conf.d/jails.conf of the valid fixture has 19 lines: the long one is line 20. */
	fx_copy(&f, "valid");
	append_comment_line(&f, "conf.d/jails.conf", 5000);
	fx_seal(&f);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:20: ", "line longer than");
	fx_done(&f);

	/* Long regexes need long lines: 4000 bytes are fine. */
	fx_copy(&f, "valid");
	append_comment_line(&f, "conf.d/jails.conf", 4000);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	fx_done(&f);
}
END_TEST

START_TEST(test_missing_main)
{
	struct fx f;

	fx_load(&f, "missing-main");
	assert_invalid(&f, 1);
	assert_error(&f, "waveguard.conf: ", "cannot read");
	fx_done(&f);
}
END_TEST

START_TEST(test_many_errors)
{
	struct fx f;

	/* Mistakes in two files, of five kinds: every one is reported, in one load. The sixth
	 * error follows from the refused relative source (the jail is left without one). */
	fx_load(&f, "many-errors");
	assert_invalid(&f, 6);
	assert_error(&f, "waveguard.conf:3: ", "unknown key 'colour' in [daemon]");
	assert_error(&f, "conf.d/jails.conf:3: ", "source 'mail.log': expected an absolute path");
	assert_error(&f, "conf.d/jails.conf:4: ", "findtime = 'soon'");
	assert_error(&f, "conf.d/jails.conf:5: ", "enabled = 'perhaps'");
	assert_error(&f, "conf.d/jails.conf:6: ", "unknown action 'ban'");
	assert_error(&f, "conf.d/jails.conf:1: ", "jail [mini] has no 'source ='");
	fx_done(&f);
}
END_TEST

/* ---- valid configurations ---- */

START_TEST(test_shipped_config)
{
	_cleanup_(config_freep) struct config *c = NULL;
	struct config_errors e = { 0 };
	static const struct {
		const char *name;
		unsigned maxretry;
		uint64_t findtime, bantime, bantime_max;
	} want[] = {
		{ "courier-dnsbl", 1, 600, 3600, 7 * 86400 },
		{ "courier-smtp", 5, 600, 3600, 7 * 86400 },
		{ "courier-auth", 5, 600, 3600, 7 * 86400 },
		{ "courier-perip", 10, 60, 600, 86400 },
	};

	int r = config_load(test_srcdir(), &c, &e);
	ck_assert_msg(r == 0, "config_load(%s) = %d:\n%s", test_srcdir(), r, test_errors_text(&e));
	ck_assert_uint_eq(e.n, 0);
	ck_assert_ptr_nonnull(c);

	ck_assert_str_eq(c->state_dir, "/var/lib/waveguard");
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_uint_eq(c->max_line, 4096);
	ck_assert_uint_eq(c->n_allow, 2);
	ck_assert_str_eq(fmt_addr(&c->allow[0]), "127.0.0.0/8");
	ck_assert_str_eq(fmt_addr(&c->allow[1]), "::1");
	ck_assert_ptr_nonnull(config_find_filter(c, "courier-maxconn"));
	ck_assert_ptr_null(config_find_filter(c, "nosuch"));

	/* The four banning jails, courier-maxconn whose events feed the tuner, courier-trap, off
	 * until its list has entries, idle-holder, fed by the reaper, and recidive, which counts
	 * their bans: 3 within a day ban for a week on every mail port. */
	ck_assert_uint_eq(c->n_jails, ELEMENTSOF(want) + 4);
	const struct config_jail *ih = find_jail(c, "idle-holder");
	ck_assert_ptr_nonnull(ih);
	ck_assert(ih->enabled);
	ck_assert_int_eq(ih->backend, BACKEND_REAPER);
	ck_assert(!config_jail_reads_logs(ih));
	ck_assert_ptr_null(ih->filter);
	ck_assert_uint_eq(ih->n_sources, 0);
	ck_assert_uint_eq(ih->maxretry, 1);
	ck_assert_uint_eq(ih->bantime_usec, 600 * USEC_PER_SEC);
	ck_assert_str_eq(ih->actions[0]->name, "nft-set");
	/* The reaper: at the wave level, 8 s of silence (3 s from 75% of MAXDAEMONS), a greeting
	 * of at most 64 bytes, 20 a sample, hits for idle-holder; a sample a second meanwhile. */
	ck_assert(c->reaper.enabled);
	ck_assert_int_eq(config_reaper_level(&c->reaper), TUNER_WAVE);
	ck_assert_uint_eq(c->reaper.idle_usec, 8 * USEC_PER_SEC);
	ck_assert_uint_eq(c->reaper.idle_full_usec, 3 * USEC_PER_SEC);
	ck_assert_double_eq(c->reaper.full_fraction, 0.75);
	ck_assert_uint_eq(c->reaper.greeting_bytes, 64);
	ck_assert_uint_eq(c->reaper.max_per_pass, 20);
	ck_assert_str_eq(c->reaper.jail, "idle-holder");
	ck_assert_uint_eq(c->sampler.interval_usec, 5 * USEC_PER_SEC);
	ck_assert_uint_eq(c->sampler.wave_interval_usec, USEC_PER_SEC);
	const struct config_jail *rc = find_jail(c, "recidive");
	ck_assert_ptr_nonnull(rc);
	ck_assert(rc->enabled);
	ck_assert_int_eq(rc->backend, BACKEND_BANS);
	ck_assert_ptr_null(rc->filter);
	ck_assert_uint_eq(rc->maxretry, 3);
	ck_assert_uint_eq(rc->findtime_usec, 86400 * USEC_PER_SEC);
	ck_assert_uint_eq(rc->bantime_usec, 7 * 86400 * USEC_PER_SEC);
	ck_assert_uint_eq(rc->n_ports, 7);
	ck_assert_uint_eq(rc->n_actions, 1);
	ck_assert_str_eq(rc->actions[0]->name, "nft-set");
	const struct config_jail *trap = find_jail(c, "courier-trap");
	char trap_path[4200];
	snprintf(trap_path, sizeof(trap_path), "%s/trap-recipients", test_srcdir());
	ck_assert_ptr_nonnull(trap);
	ck_assert(!trap->enabled);
	ck_assert_uint_eq(trap->maxretry, 1);
	ck_assert_str_eq(trap->trap_list, "trap-recipients");
	ck_assert_str_eq(trap->trap_path, trap_path);
	ck_assert(config_filter_captures_user(trap->filter));
	ck_assert(!config_filter_captures_user(find_jail(c, "courier-smtp")->filter));
	const struct config_jail *mc = find_jail(c, "courier-maxconn");
	ck_assert_ptr_nonnull(mc);
	ck_assert(mc->enabled);
	ck_assert_str_eq(mc->filter->name, "courier-maxconn");
	/* It feeds the tuner and bans nothing: no action, and no warning for the shipped files. */
	ck_assert_uint_eq(mc->n_actions, 0);
	for (size_t i = 0; i < c->n_jails; i++)
		ck_assert_ptr_null(config_jail_idle_action(&c->jails[i]));
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		const struct config_jail *j = find_jail(c, want[i].name);
		ck_assert_msg(j != NULL, "jail %s missing", want[i].name);
		ck_assert(j->enabled);
		ck_assert_uint_eq(j->maxretry, want[i].maxretry);
		ck_assert_uint_eq(j->findtime_usec, want[i].findtime * USEC_PER_SEC);
		ck_assert_uint_eq(j->bantime_usec, want[i].bantime * USEC_PER_SEC);
		ck_assert_uint_eq(j->bantime_max_usec, want[i].bantime_max * USEC_PER_SEC);
		ck_assert_double_eq(j->bantime_factor, 2.0);
		ck_assert_uint_eq(j->n_sources, 1);
		ck_assert_str_eq(j->sources[0], "/var/log/mail.log");
		ck_assert_ptr_nonnull(j->filter);
		ck_assert_str_eq(j->filter->name, want[i].name);
		ck_assert_uint_eq(j->n_actions, 1);
		ck_assert_ptr_nonnull(j->actions[0]);
		ck_assert_str_eq(j->actions[0]->name, "nft-set");
		ck_assert_int_eq(j->actions[0]->type, ACTION_NFT);
		ck_assert_uint_eq(j->n_filter_vars, 0);
		/* IMAP/POP3 guessers are banned from those ports and from AUTH on the SMTP ones;
		 * the other jails close [nft] ports. */
		static const uint16_t auth[] = { 110, 143, 993, 995, 587, 465, 25 };
		static const uint16_t smtp[] = { 25, 465, 587 };
		bool is_auth = strcmp(want[i].name, "courier-auth") == 0;
		ck_assert(!j->all_ports);
		ck_assert_uint_eq(j->n_ports, is_auth ? ELEMENTSOF(auth) : ELEMENTSOF(smtp));
		ck_assert(memcmp(j->ports, is_auth ? auth : smtp, j->n_ports * 2) == 0);

		/* Every jail's filter compiles and finds addresses. */
		_cleanup_(filter_freep) struct filter *flt = NULL;
		struct config_errors ce = { 0 };
		ck_assert_int_eq(config_compile_filter(j->filter, j, &flt, &ce), 0);
		ck_assert_uint_eq(ce.n, 0);
		ck_assert(filter_has_host(flt));
	}
	config_errors_clear(&e);
}
END_TEST

/* A jail on a filter without <HOST> can never ban: no default action, and a banning action given
 * anyway is named for check-config's warning (a log action is harmless). */
START_TEST(test_event_jail)
{
	struct fx f;

	fx_load(&f, "event-jail");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	const struct config_jail *quiet = find_jail(f.c, "limit-quiet");
	ck_assert(!config_filter_can_ban(quiet->filter));
	ck_assert_uint_eq(quiet->n_actions, 0);
	ck_assert_ptr_null(config_jail_idle_action(quiet));
	ck_assert_str_eq(config_jail_idle_action(find_jail(f.c, "limit-nft")), "nft-set");
	ck_assert_ptr_null(config_jail_idle_action(find_jail(f.c, "limit-log")));
	fx_done(&f);

	fx_load(&f, "valid");
	ck_assert_int_eq(f.r, 0);
	for (size_t i = 0; i < f.c->n_jails; i++)
		ck_assert_ptr_null(config_jail_idle_action(&f.c->jails[i]));
	fx_done(&f);
}
END_TEST

START_TEST(test_valid_fixture)
{
	struct fx f;
	const struct config_filter *mini;
	const struct config_jail *j;
	char want[4400];

	fx_load(&f, "valid");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	ck_assert_uint_eq(f.e.n, 0);
	ck_assert_str_eq(f.c->dir, f.dir);
	ck_assert_str_eq(f.c->state_dir, "/var/lib/waveguard-test");
	ck_assert_int_eq(f.c->log_level, LOG_DEBUG);
	ck_assert_uint_eq(f.c->max_line, 2048);

	/* A multi-line allow list (words split by spaces and commas) replaces the default. */
	ck_assert_uint_eq(f.c->n_allow, 4);
	ck_assert_str_eq(fmt_addr(&f.c->allow[0]), "192.0.2.0/24");
	ck_assert_str_eq(fmt_addr(&f.c->allow[1]), "198.51.100.7");
	ck_assert_str_eq(fmt_addr(&f.c->allow[2]), "2001:db8::/32");
	ck_assert_str_eq(fmt_addr(&f.c->allow[3]), "10.0.0.0/8");

	/* A multi-line failregex gives one regex per line, each with its own line number. */
	ck_assert_uint_eq(f.c->n_filters, 1);
	mini = config_find_filter(f.c, "mini");
	ck_assert_ptr_nonnull(mini);
	snprintf(want, sizeof(want), "%s/filters/mini.conf", f.dir);
	ck_assert_str_eq(mini->file, want);
	ck_assert_str_eq(mini->description, "mini DNSBL-like filter");
	ck_assert_uint_eq(mini->n_tags, 2);
	ck_assert_str_eq(mini->tags[0], "courieresmtpd");
	ck_assert_str_eq(mini->tags[1], "esmtpd-ssl");
	ck_assert_uint_eq(mini->n_prefilters, 2);
	ck_assert_str_eq(mini->prefilters[0], "error,relay=");
	ck_assert_str_eq(mini->prefilters[1], "dropped blocked connection from");
	ck_assert_uint_eq(mini->n_fail, 3);
	ck_assert_str_eq(mini->fail[0].pattern,
			 "^error,relay=<HOST>,(?:port=\\d+,)?from=<.*>,to=<.*>: (?:<codes>)[ -]");
	ck_assert_str_eq(mini->fail[1].pattern, "^dropped blocked connection from <HOST>$");
	ck_assert_str_eq(mini->fail[2].pattern,
			 "^error,relay=<HOST>,(?:port=\\d+,)?msg=\"(?:<codes>) [^\"]*\",cmd:");
	ck_assert_uint_eq(mini->fail[0].line, 7);
	ck_assert_uint_eq(mini->fail[1].line, 8);
	ck_assert_uint_eq(mini->fail[2].line, 9);
	ck_assert_str_eq(mini->fail[2].file, want);
	ck_assert_uint_eq(mini->n_ignore, 0);
	ck_assert_uint_eq(mini->n_vars, 1);
	ck_assert_str_eq(mini->vars[0].name, "codes");
	ck_assert_str_eq(mini->vars[0].value, "511");
	ck_assert_uint_eq(mini->n_samples, 3);
	ck_assert(mini->samples[0].match && !mini->samples[0].event);
	ck_assert_str_eq(fmt_addr(&mini->samples[0].addr), "192.0.2.2");
	ck_assert_uint_eq(mini->samples[1].lineno, 16);
	ck_assert_str_eq(fmt_addr(&mini->samples[1].addr), "192.0.2.5");
	ck_assert_str_eq(mini->samples[1].line,
			 "2026-11-27T06:36:52+00:00 mail esmtpd-ssl: dropped "
			 "blocked connection from ::ffff:192.0.2.5");
	ck_assert(!mini->samples[2].match);
	ck_assert_uint_eq(mini->samples[2].lineno, 17);

	ck_assert_uint_eq(f.c->n_actions, 2);
	ck_assert_str_eq(f.c->actions[0].name, "log");

	ck_assert_uint_eq(f.c->n_jails, 2);
	j = find_jail(f.c, "default-codes");
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(j->line, 2);
	ck_assert_uint_eq(j->filter_line, 3);
	ck_assert_ptr_eq(j->filter, mini);
	ck_assert_uint_eq(j->n_sources, 2);
	ck_assert_str_eq(j->sources[0], "/var/log/mail.log");
	ck_assert_str_eq(j->sources[1], "/var/log/mail.err");
	ck_assert_uint_eq(j->maxretry, 3);
	ck_assert_uint_eq(j->findtime_usec, 5400 * USEC_PER_SEC);
	ck_assert_uint_eq(j->bantime_usec, 2 * 86400 * USEC_PER_SEC);
	ck_assert_double_eq(j->bantime_factor, 1.5);
	ck_assert_uint_eq(j->bantime_max_usec, 14 * 86400 * USEC_PER_SEC);
	ck_assert_uint_eq(j->n_allow, 2);
	ck_assert_str_eq(fmt_addr(&j->allow[0]), "203.0.113.0/24");
	ck_assert_str_eq(fmt_addr(&j->allow[1]), "2001:db8:1::/48");
	ck_assert_uint_eq(j->n_actions, 1);
	ck_assert_str_eq(j->action_names[0], "log");
	ck_assert_uint_eq(j->action_line, 13);
	ck_assert_uint_eq(j->n_filter_vars, 0);

	/* Defaults of a jail that sets little; the action defaults to "nft-set" (a real ban). */
	j = find_jail(f.c, "code-554");
	ck_assert_ptr_nonnull(j);
	ck_assert(j->enabled);
	ck_assert_uint_eq(j->maxretry, 5);
	ck_assert_uint_eq(j->findtime_usec, 600 * USEC_PER_SEC);
	ck_assert_uint_eq(j->bantime_usec, 3600 * USEC_PER_SEC);
	ck_assert_uint_eq(j->bantime_max_usec, 0);
	ck_assert_uint_eq(j->prefix4, 32);
	ck_assert_uint_eq(j->prefix6, 64);
	ck_assert_uint_eq(j->n_allow, 0);
	ck_assert_uint_eq(j->n_actions, 1);
	ck_assert_str_eq(j->actions[0]->name, "nft-set");
	ck_assert_int_eq(j->actions[0]->type, ACTION_NFT);
	ck_assert_uint_eq(j->n_filter_vars, 1);
	ck_assert_str_eq(j->filter_vars[0].name, "codes");
	ck_assert_str_eq(j->filter_vars[0].value, "554");
	ck_assert_uint_eq(j->filter_var_lines[0], 18);
	fx_done(&f);
}
END_TEST

/* ---- layers: .local files, later files, [DEFAULT] ---- */

/* The origin of a key as "REL:LINE" relative to the fixture copy ("default" when built in). */
static const char *origin_of(const struct fx *f, const char *section, const char *key)
{
	static char buf[4400];
	const struct config_origin *o = config_origin_find(f->c, section, key);
	size_t l = strlen(f->dir);

	if (!o)
		return "default";
	ck_assert_msg(strncmp(o->file, f->dir, l) == 0, "%s outside %s", o->file, f->dir);
	snprintf(buf, sizeof(buf), "%s:%u%s", o->file + l + 1, o->line,
		 o->inherited ? " [DEFAULT]" : "");
	return buf;
}

/* A later conf.d file sets the bantime of a jail an earlier one defined; a .local comes after
 * every .conf whatever its name; what the later files do not set stays. */
START_TEST(test_local_override)
{
	struct fx f;

	fx_load(&f, "local-override");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	ck_assert_uint_eq(f.c->n_jails, 1);
	const struct config_jail *j = find_jail(f.c, "mini");
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(j->bantime_usec, 86400 * USEC_PER_SEC);
	ck_assert_uint_eq(j->findtime_usec, 1800 * USEC_PER_SEC);
	ck_assert_uint_eq(j->maxretry, 3);
	ck_assert_uint_eq(j->n_sources, 1);
	ck_assert_str_eq(j->sources[0], "/var/log/mail.log");
	ck_assert_str_eq(origin_of(&f, "mini", "bantime"), "conf.d/zz-local.conf:3");
	ck_assert_str_eq(origin_of(&f, "mini", "findtime"), "conf.d/jails.local:3");
	ck_assert_str_eq(origin_of(&f, "mini", "maxretry"), "conf.d/jails.conf:5");
	ck_assert_str_eq(origin_of(&f, "mini", "prefix4"), "default");
	/* The files in the order read: the .local last. */
	ck_assert_uint_eq(f.c->n_files, 7);
	ck_assert_ptr_nonnull(strstr(f.c->files[4], "/conf.d/jails.conf"));
	ck_assert_ptr_nonnull(strstr(f.c->files[5], "/conf.d/zz-local.conf"));
	ck_assert_ptr_nonnull(strstr(f.c->files[6], "/conf.d/jails.local"));
	fx_done(&f);
}
END_TEST

/* [DEFAULT] gives every jail the keys it does not set; a jail's own value wins although
 * [DEFAULT] is in a later file; lists come whole. */
START_TEST(test_default_section)
{
	struct fx f;

	fx_load(&f, "default-section");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	ck_assert_uint_eq(f.c->n_jails, 2);
	ck_assert_ptr_null(find_jail(f.c, "DEFAULT"));
	const struct config_jail *own = find_jail(f.c, "own"), *inh = find_jail(f.c, "inherits");
	ck_assert_ptr_nonnull(own);
	ck_assert_ptr_nonnull(inh);
	ck_assert_uint_eq(own->maxretry, 3);
	ck_assert_uint_eq(inh->maxretry, 2);
	ck_assert_uint_eq(own->bantime_usec, 86400 * USEC_PER_SEC);
	ck_assert_uint_eq(inh->bantime_usec, 86400 * USEC_PER_SEC);
	ck_assert_uint_eq(own->n_allow, 1);
	ck_assert_str_eq(fmt_addr(&own->allow[0]), "203.0.113.0/24");
	ck_assert_uint_eq(inh->n_allow, 2);
	ck_assert_str_eq(fmt_addr(&inh->allow[0]), "192.0.2.0/24");
	ck_assert_str_eq(fmt_addr(&inh->allow[1]), "198.51.100.0/24");
	ck_assert_str_eq(origin_of(&f, "own", "maxretry"), "conf.d/00-jails.conf:5");
	ck_assert_str_eq(origin_of(&f, "inherits", "maxretry"),
			 "conf.d/zz-defaults.conf:3 [DEFAULT]");
	ck_assert_str_eq(origin_of(&f, "inherits", "findtime"), "default");
	fx_done(&f);
}
END_TEST

/* enabled = false in a .local turns a shipped jail off; the other one runs. */
START_TEST(test_local_disable)
{
	struct fx f;

	fx_load(&f, "local-disable");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	ck_assert(find_jail(f.c, "mini")->enabled);
	ck_assert(!find_jail(f.c, "other")->enabled);
	ck_assert_str_eq(origin_of(&f, "other", "enabled"), "conf.d/site.local:3");
	fx_done(&f);
}
END_TEST

/* A list key in a later file replaces the whole list (as fail2ban's .local does): a jail's
 * source and allow, [daemon] allow from waveguard.local, a filter's failregex and variable from
 * filters/NAME.local. */
START_TEST(test_list_override)
{
	struct fx f;

	fx_load(&f, "list-override");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	const struct config_jail *j = find_jail(f.c, "mini");
	ck_assert_uint_eq(j->n_sources, 1);
	ck_assert_str_eq(j->sources[0], "/var/log/courier.log");
	ck_assert_uint_eq(j->n_allow, 1);
	ck_assert_str_eq(fmt_addr(&j->allow[0]), "198.51.100.7");
	ck_assert_uint_eq(f.c->n_allow, 1);
	ck_assert_str_eq(fmt_addr(&f.c->allow[0]), "192.0.2.25");
	ck_assert_int_eq(f.c->log_level, LOG_DEBUG);
	ck_assert_str_eq(origin_of(&f, "daemon", "allow"), "waveguard.local:3");
	ck_assert_str_eq(origin_of(&f, "daemon", "state_dir"), "waveguard.conf:2");
	/* The built-in 25 465 587 replaced by all. */
	ck_assert(f.c->nft.all_ports);
	ck_assert_uint_eq(f.c->nft.n_ports, 0);
	ck_assert_str_eq(origin_of(&f, "nft", "ports"), "waveguard.local:7");

	const struct config_filter *mini = config_find_filter(f.c, "mini");
	ck_assert_ptr_nonnull(mini);
	ck_assert_uint_eq(f.c->n_filters, 1);
	ck_assert_ptr_nonnull(mini->local_file);
	ck_assert_uint_eq(mini->n_fail, 2);
	ck_assert_str_eq(mini->fail[1].pattern, "^dropped blocked connection from <HOST>$");
	ck_assert_ptr_nonnull(strstr(mini->fail[1].file, "/filters/mini.local"));
	ck_assert_uint_eq(mini->fail[1].line, 4);
	ck_assert_uint_eq(mini->n_vars, 1);
	ck_assert_str_eq(mini->vars[0].value, "511|550");
	ck_assert_str_eq(origin_of(&f, "filter/mini/vars", "codes"), "filters/mini.local:6");
	ck_assert_uint_eq(mini->n_tags, 1);
	fx_done(&f);
}
END_TEST

/* Layers do not make a key twice in one file right: still an error at the second line. */
START_TEST(test_local_key_twice)
{
	struct fx f;

	fx_load(&f, "local-key-twice");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/local.conf:4: ", "'bantime' is set twice in [mini]");
	fx_done(&f);
}
END_TEST

/* check-config --show: every section and key, the overridden value with the local file:line,
 * built-in values marked "default". */
START_TEST(test_show)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	char want[4400];
	struct fx f;

	fx_load(&f, "local-override");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	FILE *m = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(config_show(f.c, m), 0);
	fclose(m);

	const char *jail = strstr(out, "\n[mini]\n");
	ck_assert_msg(jail != NULL, "no [mini] in:\n%s", out);
	snprintf(want, sizeof(want), "\nbantime = 1d%*s# %s/conf.d/zz-local.conf:3\n",
		 40 - (int)strlen("bantime = 1d"), "", f.dir);
	ck_assert_msg(strstr(jail, want), "no '%s' in:\n%s", want + 1, out);
	snprintf(want, sizeof(want), "\nfindtime = 30m%*s# %s/conf.d/jails.local:3\n",
		 40 - (int)strlen("findtime = 30m"), "", f.dir);
	ck_assert_msg(strstr(jail, want), "no '%s' in:\n%s", want + 1, out);
	ck_assert_ptr_nonnull(strstr(jail, "\nprefix6 = 64 "));
	ck_assert_ptr_nonnull(strstr(jail, "# default\n"));
	static const char *const headers[] = { "[daemon]", "[nft]",   "[sampler]",
					       "[probe]",  "[tuner]", "[filter]",
					       "[vars]",   "[test]",  "[action]" };
	for (size_t i = 0; i < ELEMENTSOF(headers); i++) {
		snprintf(want, sizeof(want), "\n%s\n", headers[i]);
		ck_assert_msg(strstr(out, want), "no %s in:\n%s", headers[i], out);
	}
	fx_done(&f);
}
END_TEST

/* A configuration file owned by someone else than root (or the daemon's user) is refused, as
 * is a directory of the configuration that others may write or that another user owns. */
START_TEST(test_foreign_owner)
{
	struct fx f;

	fx_copy(&f, "valid");
	fx_seal(&f);
	run_cmd("chown nobody '%s/conf.d/jails.conf'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf: ", "owned by nobody (uid ");
	assert_error(&f, "conf.d/jails.conf: ", "not by root");
	fx_done(&f);

	/* A .local is held to the same rule. */
	fx_copy(&f, "local-override");
	fx_seal(&f);
	run_cmd("chown nobody '%s/conf.d/jails.local'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.local: ", "owned by nobody");
	fx_done(&f);

	fx_copy(&f, "valid");
	fx_seal(&f);
	run_cmd("chown nobody '%s/filters'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(&f, "filters: ", "owned by nobody");
	fx_done(&f);
}
END_TEST

START_TEST(test_writable_directory)
{
	struct fx f;

	fx_copy(&f, "valid");
	fx_seal(&f);
	run_cmd("chmod o+w '%s/conf.d'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d: ", "directory writable by group or others");
	fx_done(&f);

	/* Sticky, as /tmp: still anyone may add a file. The configuration directory itself. */
	fx_copy(&f, "valid");
	fx_seal(&f);
	run_cmd("chmod 1777 '%s'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	ck_assert_msg(strncmp(f.e.msgs[0], f.dir, strlen(f.dir)) == 0 &&
			      strstr(f.e.msgs[0] + strlen(f.dir),
				     ": directory writable by group or others (sticky)") ==
				      f.e.msgs[0] + strlen(f.dir),
		      "%s", test_errors_text(&f.e));
	fx_done(&f);

	fx_copy(&f, "valid");
	fx_seal(&f);
	run_cmd("chmod g+w '%s/actions'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 1);
	assert_error(&f, "actions: ", "directory writable by group or others");
	fx_done(&f);
}
END_TEST

static int match_line(struct filter *flt, const char *line, struct filter_hit *h)
{
	struct timeutil_clock clock;
	struct logline l;

	timeutil_clock_init(&clock, 1795761409ULL * USEC_PER_SEC);
	logline_parse(&clock, line, strlen(line), &l);
	return filter_match(flt, &l, h);
}

START_TEST(test_filter_var_override)
{
	static const char l511[] =
		"2026-11-27T06:36:49+00:00 mail courieresmtpd: error,relay=::ffff:"
		"192.0.2.2,port=1,from=<a@x.test>,to=<b@y.test>: 511 Listed";
	static const char l554[] =
		"2026-11-27T06:36:49+00:00 mail courieresmtpd: error,relay=::ffff:"
		"192.0.2.3,port=1,from=<a@x.test>,to=<b@y.test>: 554 Listed";
	_cleanup_(filter_freep) struct filter *f554 = NULL, *fdef = NULL;
	struct config_errors ce = { 0 };
	struct filter_hit h;
	struct fx f;

	fx_load(&f, "valid");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));

	/* filter.codes = 554 reaches the compiled regex... */
	const struct config_jail *j = find_jail(f.c, "code-554");
	ck_assert_int_eq(config_compile_filter(j->filter, j, &f554, &ce), 0);
	ck_assert_ptr_nonnull(strstr(filter_regex_text(f554, 0), "(?:554)"));
	ck_assert_int_eq(match_line(f554, l554, &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.3");
	ck_assert_uint_eq(h.regex, 0);
	ck_assert_int_eq(match_line(f554, l511, &h), FILTER_NONE);

	/* ...and the jail without the override keeps the filter's default, 511. */
	j = find_jail(f.c, "default-codes");
	ck_assert_int_eq(config_compile_filter(j->filter, j, &fdef, &ce), 0);
	ck_assert_int_eq(match_line(fdef, l511, &h), FILTER_HIT);
	ck_assert_str_eq(fmt_addr(&h.addr), "192.0.2.2");
	ck_assert_int_eq(match_line(fdef, l554, &h), FILTER_NONE);
	ck_assert_uint_eq(ce.n, 0);
	fx_done(&f);
}
END_TEST

/* ---- Regressions: these three failed against src/config.c as it was when the suite was
 * written, and pass since config.c was changed (reader classifies lines as inih does; every
 * filter is compiled on its own). ---- */

/* An uncompilable failregex in a filter that has no [test] samples and that no jail uses was
 * loaded silently (config_load returned 0): it is an error at the regex's file:line. */
START_TEST(test_bad_regex_in_unused_filter)
{
	struct fx f;

	fx_load(&f, "bad-regex-unused");
	assert_invalid(&f, 1);
	assert_error(&f, "filters/broken.conf:4: ", "bad regex");
	fx_done(&f);
}
END_TEST

/* An indented line that starts with '[' continues the previous value (as inih reads it); it
 * was taken for a section header ("unknown section [0-9]") and the regex was lost. */
START_TEST(test_indented_bracket_continuation)
{
	struct fx f;

	fx_load(&f, "indented-bracket");
	ck_assert_msg(f.r == 0, "config_load returned %d, errors:\n%s", f.r,
		      test_errors_text(&f.e));
	const struct config_filter *mini = config_find_filter(f.c, "mini");
	ck_assert_ptr_nonnull(mini);
	ck_assert_uint_eq(mini->n_fail, 2);
	ck_assert_str_eq(mini->fail[1].pattern, "[0-9]+ maximum active connections\\.$");
	ck_assert_uint_eq(mini->fail[1].line, 5);
	fx_done(&f);
}
END_TEST

/* ini_parse_stream() returns only the first syntax error of a file; every bad line must be
 * reported, each once. */
START_TEST(test_every_syntax_error_reported)
{
	struct fx f;

	fx_copy(&f, "valid");
	test_write(f.dir, "conf.d/z.conf", "w",
		   "[z]\nfoo\nfilter = mini\nbar\nsource = /var/log/mail.log\n");
	fx_seal(&f);
	fx_load_copy(&f);
	assert_invalid(&f, 2);
	assert_error(&f, "conf.d/z.conf:2: ", "syntax error");
	assert_error(&f, "conf.d/z.conf:4: ", "syntax error");
	fx_done(&f);
}
END_TEST

/* ---- the key tables ---- */

/* Whether word is one of the items of a ", "/" or "/"; "-separated list. */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = strstr(list, word); p; p = strstr(p + 1, word)) {
		bool start = p == list || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == ',' || p[n] == ';' || p[n] == ' ';
		if (start && end)
			return true;
	}
	return false;
}

/* The "unknown key" lists come from the tables: every key of every section is in its list. */
START_TEST(test_expected_lists_every_key)
{
	char buf[1024];

	for (size_t i = 0; i < config_keys_n_sections; i++) {
		const struct config_section *s = &config_keys_sections[i];
		config_keys_expected(s, buf, sizeof(buf));
		ck_assert_msg(strlen(buf) < sizeof(buf) - 1, "[%s]: list truncated", s->name);
		for (size_t k = 0; k < s->n_keys; k++)
			ck_assert_msg(list_has(buf, s->keys[k].name), "[%s]: '%s' not in '%s'",
				      s->name, s->keys[k].name, buf);
	}
	/* The wording of the lists written by hand before the tables. */
	config_keys_expected(config_keys_section(CONFIG_MAIN, "probe"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "enabled, address, port or timeout");
	config_keys_expected(config_keys_section(CONFIG_ACTION, "action"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "type, description, ban, unban, timeout; directory, floor, "
			      "esmtptimeout* for timeouts actions");
	config_keys_sections_expected(CONFIG_MAIN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[daemon], [nft], [sampler], [probe], [tuner], [reaper], [fleet] or "
			      "[dnsbl]");
	config_keys_sections_expected(CONFIG_FILTER, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[filter], [vars] or [test]");
	config_keys_sections_expected(CONFIG_ACTION, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[action]");
}
END_TEST

/* check-config --keys: a line "SECTION KEY TYPE  help" for every key of every section. */
START_TEST(test_keys_lists_every_section)
{
	static const char *const sections[] = { "daemon", "nft",    "sampler", "probe",	 "tuner",
						"reaper", "fleet",  "dnsbl",   "filter", "vars",
						"test",	  "action", "jail" };
	_cleanup_free_ char *out = NULL;
	size_t len = 0, lines = 0, keys = 0;
	FILE *f = open_memstream(&out, &len);
	char want[128];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(config_keys_print(f), 0);
	fclose(f);
	for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
		snprintf(want, sizeof(want), "\n%s ", sections[i]);
		ck_assert_msg(strncmp(out, want + 1, strlen(want + 1)) == 0 || strstr(out, want),
			      "no key of [%s] in:\n%s", sections[i], out);
	}
	ck_assert_uint_eq(config_keys_n_sections, ELEMENTSOF(sections));
	for (size_t i = 0; i < config_keys_n_sections; i++) {
		keys += config_keys_sections[i].n_keys;
		for (size_t k = 0; k < config_keys_sections[i].n_keys; k++)
			ck_assert_msg(config_keys_sections[i].keys[k].help, "%s has no help",
				      config_keys_sections[i].keys[k].name);
	}
	for (const char *p = out; *p; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(lines, keys);
	ck_assert_ptr_nonnull(strstr(out, "\njail maxretry unsigned  "));
}
END_TEST

/* An unknown key names file:line, the section and the keys of the table, in today's words. */
START_TEST(test_unknown_key_message)
{
	struct fx f;

	fx_load(&f, "unknown-jail-key");
	assert_invalid(&f, 1);
	assert_error(&f, "conf.d/jails.conf:4: ",
		     "unknown key 'max_retry' in jail [mini] (expected enabled, filter, "
		     "filter.VAR, source, backend, journal_match, journal_directory, maxretry, "
		     "findtime, bantime, bantime_factor, bantime_max, action, allow, max_tracked, "
		     "prefix4, prefix6, ports or trap_list)");
	fx_done(&f);

	fx_load(&f, "unknown-daemon-key");
	assert_error(
		&f, "waveguard.conf:3: ",
		"unknown key 'loglevel' in [daemon] (expected state_dir, control_socket, "
		"metrics, offence_memory, log_level, max_line, max_bans, max_evidence or allow)");
	fx_done(&f);
}
END_TEST

/* A jail's ports: [nft]'s by default, its own list (any order, commas, continuation lines), all,
 * and bad values named by file:line. */
/* Exec commands are split when the file is read: a bad one is refused with its file:line (by
 * check-config too, not only when the daemon starts), a good one kept as written. */
START_TEST(test_exec_command)
{
	struct fx f;
	const struct config_action *a = NULL;

	fx_copy(&f, "valid");
	test_write(f.dir, "actions/mail.conf", "w",
		   "[action]\ntype = exec\n"
		   "ban = /usr/bin/mail -s \"banned %ip% (%jail%) for \\$5\" 'root'\n"
		   "unban = /usr/bin/logger \"unbanned %ip%\"\n");
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	for (size_t i = 0; i < f.c->n_actions; i++)
		if (strcmp(f.c->actions[i].name, "mail") == 0)
			a = &f.c->actions[i];
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->ban_cmd, "/usr/bin/mail -s \"banned %ip% (%jail%) for \\$5\" 'root'");
	ck_assert_uint_eq(a->ban_line, 3);
	fx_done(&f);

	fx_copy(&f, "valid");
	test_write(f.dir, "actions/mail.conf", "w",
		   "[action]\ntype = exec\n"
		   "ban = /usr/bin/mail -s \"banned %ip% root\n"
		   "unban = /usr/bin/logger unbanned %ip% | /usr/bin/mail root\n");
	test_write(f.dir, "actions/other.conf", "w", "[action]\ntype = exec\nban = /bin/true\n");
	test_write(f.dir, "actions/other.local", "w", "[action]\n\nban = /bin/echo $(id)\n");
	fx_seal(&f);
	fx_load_copy(&f);
	/* Exactly these: a refused command is no missing 'ban ='. */
	assert_invalid(&f, 3);
	assert_error(&f,
		     "actions/mail.conf:3: ", "ban: unterminated \" quote opened at character 18");
	assert_error(&f, "actions/mail.conf:4: ",
		     "unban: '|' at character 31: no shell runs the command");
	assert_error(&f,
		     "actions/other.local:3: ", "ban: '$(' at character 11 is shell substitution");
	fx_done(&f);
}
END_TEST

/* bantime and bantime_max, and they alone, take forever; --show writes it back as such. */
START_TEST(test_bantime_forever)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	struct fx f;
	const struct config_jail *j;

	fx_copy(&f, "valid");
	run_cmd("printf '[perm]\\nfilter = mini\\nsource = /l\\nbantime = forever\\n"
		"[esc]\\nfilter = mini\\nsource = /l\\nbantime = 1h\\nbantime_factor = 4\\n"
		"bantime_max = forever\\n' >>'%s/conf.d/jails.conf'",
		f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	j = find_jail(f.c, "perm");
	ck_assert(j->bantime_usec == TIMEUTIL_FOREVER);
	j = find_jail(f.c, "esc");
	ck_assert_uint_eq(j->bantime_usec, 3600 * USEC_PER_SEC);
	ck_assert(j->bantime_max_usec == TIMEUTIL_FOREVER);
	FILE *m = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(config_show(f.c, m), 0);
	fclose(m);
	const char *perm = strstr(out, "\n[perm]\n"), *esc = strstr(out, "\n[esc]\n");
	ck_assert_msg(perm && esc, "%.2000s", out);
	ck_assert_msg(strstr(perm, "\nbantime = forever ") != NULL, "%.2000s", perm);
	ck_assert_msg(strstr(esc, "\nbantime_max = forever ") != NULL, "%.2000s", esc);
	/* Other durations in their human form too (the fixture's 1h 30m and 2w). */
	ck_assert_msg(strstr(out, "\nfindtime = 1h30m ") != NULL, "%.2000s", out);
	ck_assert_msg(strstr(out, "\nbantime_max = 14d ") != NULL, "%.2000s", out);
	fx_done(&f);

	/* Not for windows and timeouts; a forever bantime_max is no shorter than anything, a
	 * finite one is shorter than forever. */
	fx_copy(&f, "valid");
	run_cmd("printf '[w]\\nfilter = mini\\nsource = /l\\nfindtime = forever\\n"
		"[x]\\nfilter = mini\\nsource = /l\\nbantime = forever\\nbantime_max = 7d\\n"
		"[y]\\nfilter = mini\\nsource = /l\\nbantime = Forever\\n' "
		">>'%s/conf.d/jails.conf'",
		f.dir);
	run_cmd("printf '[probe]\\ntimeout = forever\\n' >>'%s/waveguard.conf'", f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	assert_invalid(&f, 4);
	assert_error(&f, "conf.d/jails.conf:23: ", "findtime = 'forever': expected a duration");
	assert_error(&f, "conf.d/jails.conf:24: ", "jail [x]: bantime_max is shorter than bantime");
	assert_error(&f, "conf.d/jails.conf:32: ",
		     "bantime = 'Forever': expected a duration such as 90, 90s, 10m, 1h, 7d, or "
		     "forever");
	assert_error(&f, "waveguard.conf:10: ", "timeout = 'forever': expected");
	fx_done(&f);
}
END_TEST

/* [fleet] and [dnsbl]: where Redis is (numeric, or a unix socket), the key and the password
 * (root-only files, a key of 64 hex digits), a zone file at least; the values as read. */
START_TEST(test_fleet_dnsbl)
{
	struct fx f;

	fx_copy(&f, "valid");
	run_cmd("printf '%%064d\\n' 7 >'%s/fleet.key' && printf 'pw\\n' >'%s/redis.pass' && "
		"chmod 600 '%s/fleet.key' '%s/redis.pass'",
		f.dir, f.dir, f.dir, f.dir);
	run_cmd("printf '[fleet]\\nenabled = yes\\nredis = [2001:db8::1]:6379\\nuser = wg\\n"
		"key_file = %s/fleet.key\\npassword_file = %s/redis.pass\\nhost = mx-1\\n"
		"publish = courier-dnsbl\\n  manual\\nmaxlen = 5000\\n"
		"[dnsbl]\\nenabled = yes\\nip4set = /z/ip4set\\ntxt = on %%%%host%%%%\\n' "
		">>'%s/waveguard.conf'",
		f.dir, f.dir, f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "%s", test_errors_text(&f.e));
	ck_assert(f.c->fleet.enabled);
	ck_assert_str_eq(f.c->fleet.redis, "[2001:db8::1]:6379");
	ck_assert_str_eq(f.c->fleet.stream, "waveguard:bans");
	ck_assert_uint_eq(f.c->fleet.n_publish, 2);
	ck_assert_str_eq(f.c->fleet.publish[1], "manual");
	ck_assert_uint_eq(f.c->fleet.n_apply, 0);
	ck_assert_uint_eq(f.c->fleet.maxlen, 5000);
	ck_assert_uint_eq(f.c->fleet.outbox, 100000);
	ck_assert_str_eq(f.c->dnsbl.a, "127.0.0.2");
	ck_assert_str_eq(f.c->dnsbl.txt, "on %host%");
	ck_assert_ptr_null(f.c->dnsbl.ip6trie);
	fx_done(&f);

	/* Refused: a host name for Redis, a bad host, a key others may read, a key that is no
	 * key, a [dnsbl] without a file. */
	fx_copy(&f, "valid");
	run_cmd("printf 'secret\\n' >'%s/bad.key' && chmod 600 '%s/bad.key' && "
		"printf '%%064d\\n' 7 >'%s/open.key' && chmod 644 '%s/open.key'",
		f.dir, f.dir, f.dir, f.dir);
	run_cmd("printf '[fleet]\\nenabled = yes\\nredis = redis.example.org:6379\\nhost = a b\\n"
		"key_file = %s/open.key\\n[dnsbl]\\nenabled = yes\\n' >>'%s/waveguard.conf'",
		f.dir, f.dir);
	fx_seal(&f);
	run_cmd("chmod 644 '%s/open.key'", f.dir);
	fx_load_copy(&f);
	assert_invalid(&f, 4);
	assert_error(&f,
		     "waveguard.conf:", "redis = 'redis.example.org:6379': expected ADDRESS:PORT");
	assert_error(&f, "waveguard.conf:", "host = 'a b': expected letters, digits");
	assert_error(&f, "open.key", "a secret readable or writable by group or others is refused");
	assert_error(&f, "waveguard.conf", "[dnsbl] enabled: expected ip4set, ip6trie or both");
	fx_done(&f);

	fx_copy(&f, "valid");
	run_cmd("printf 'secret\\n' >'%s/bad.key' && chmod 600 '%s/bad.key'", f.dir, f.dir);
	run_cmd("printf '[fleet]\\nenabled = yes\\nkey_file = %s/bad.key\\n' >>'%s/waveguard.conf'",
		f.dir, f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	assert_invalid(&f, 2);
	assert_error(&f, "waveguard.conf", "[fleet] redis: expected where Redis listens");
	assert_error(&f, "bad.key", "expected 64 hexadecimal digits");
	fx_done(&f);
}
END_TEST

/* [reaper] and the jails of backend = reaper: the defaults without a [reaper] section, the
 * admin's values, and each mistake named by file:line. */
START_TEST(test_reaper)
{
	struct fx f;
	const struct config_jail *j;

	fx_load(&f, "valid");
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	ck_assert(f.c->reaper.enabled);
	ck_assert_int_eq(config_reaper_level(&f.c->reaper), TUNER_WAVE);
	ck_assert_uint_eq(f.c->reaper.idle_usec, 8 * USEC_PER_SEC);
	ck_assert_ptr_null(f.c->reaper.jail);
	ck_assert_uint_eq(f.c->sampler.wave_interval_usec, USEC_PER_SEC);
	fx_done(&f);

	fx_copy(&f, "valid");
	run_cmd("printf '[holders]\nbackend = reaper\nmaxretry = 2\n' >>'%s/conf.d/jails.conf'",
		f.dir);
	run_cmd("printf '[reaper]\nat = elevated\nidle = 6s\nidle_full = 2s\n"
		"full_connections = 90%%%%\ngreeting_bytes = 128\nmax_per_pass = 5\n"
		"jail = holders\n[sampler]\nwave_interval = 2s\n' >>'%s/waveguard.conf'",
		f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	j = find_jail(f.c, "holders");
	ck_assert_int_eq(j->backend, BACKEND_REAPER);
	ck_assert_ptr_null(j->filter);
	ck_assert_uint_eq(j->n_actions, 1); /* nft-set by default, as for a jail that bans */
	ck_assert_str_eq(j->action_names[0], "nft-set");
	ck_assert_int_eq(config_reaper_level(&f.c->reaper), TUNER_ELEVATED);
	ck_assert_uint_eq(f.c->reaper.idle_usec, 6 * USEC_PER_SEC);
	ck_assert_uint_eq(f.c->reaper.idle_full_usec, 2 * USEC_PER_SEC);
	ck_assert_double_eq_tol(f.c->reaper.full_fraction, 0.9, 1e-9);
	ck_assert_uint_eq(f.c->reaper.greeting_bytes, 128);
	ck_assert_uint_eq(f.c->reaper.max_per_pass, 5);
	ck_assert_str_eq(f.c->reaper.jail, "holders");
	ck_assert_uint_eq(f.c->sampler.wave_interval_usec, 2 * USEC_PER_SEC);
	fx_done(&f);

	fx_copy(&f, "valid");
	run_cmd("printf '[holders]\nbackend = reaper\nfilter = mini\n' >>'%s/conf.d/jails.conf'",
		f.dir);
	run_cmd("printf '[reaper]\nat = normal\nmax_per_pass = 0\nidle = 0\n"
		"greeting_bytes = 70000\njail = nosuch\n' >>'%s/waveguard.conf'",
		f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	assert_invalid(&f, 6);
	assert_error(&f, "conf.d/jails.conf:",
		     "jail [holders] has backend = reaper: it reads no "
		     "log, remove 'filter ='");
	assert_error(&f, "waveguard.conf:", "at = 'normal'");
	assert_error(&f, "waveguard.conf:", "max_per_pass = '0': expected a number of connections");
	assert_error(&f, "waveguard.conf:", "idle = '0'");
	assert_error(&f, "waveguard.conf:", "greeting_bytes = '70000': expected a number of bytes");
	assert_error(&f, "waveguard.conf:", "[reaper] jail: no jail named nosuch");
	fx_done(&f);
}
END_TEST

START_TEST(test_jail_ports)
{
	struct fx f;
	const struct config_jail *j;

	fx_copy(&f, "valid");
	run_cmd("printf '[nft]\\nports = 2525 587\\n' >>'%s/waveguard.conf'", f.dir);
	run_cmd("printf '[imap]\\nfilter = mini\\nsource = /l\\nports = 143, 993 25\\n\\t110\\n"
		"[fw]\\nfilter = mini\\nsource = /l\\nports = all\\n' >>'%s/conf.d/jails.conf'",
		f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	j = find_jail(f.c, "default-codes");
	ck_assert_uint_eq(j->n_ports, 2);
	ck_assert_uint_eq(j->ports[0], 2525);
	ck_assert_uint_eq(j->ports[1], 587);
	ck_assert(!j->all_ports);
	j = find_jail(f.c, "imap");
	ck_assert_uint_eq(j->n_ports, 4);
	ck_assert_uint_eq(j->ports[0], 143);
	ck_assert_uint_eq(j->ports[3], 110);
	ck_assert(!j->all_ports);
	j = find_jail(f.c, "fw");
	ck_assert(j->all_ports);
	ck_assert_uint_eq(j->n_ports, 0);
	fx_done(&f);

	/* [nft] ports = all is every jail's default. */
	fx_copy(&f, "valid");
	run_cmd("printf '[nft]\\nports = all\\n' >>'%s/waveguard.conf'", f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	ck_assert(find_jail(f.c, "code-554")->all_ports);
	fx_done(&f);

	/* Without [nft] ports, the mail ports. */
	fx_load(&f, "valid");
	j = find_jail(f.c, "code-554");
	ck_assert_uint_eq(j->n_ports, 3);
	ck_assert_uint_eq(j->ports[0], 25);
	ck_assert_uint_eq(j->ports[2], 587);
	fx_done(&f);

	fx_copy(&f, "valid");
	run_cmd("printf '[b1]\\nfilter = mini\\nsource = /l\\nports = 143 0\\n"
		"[b2]\\nfilter = mini\\nsource = /l\\nports = imap\\n"
		"[b3]\\nfilter = mini\\nsource = /l\\nports = all 25\\n' >>'%s/conf.d/jails.conf'",
		f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	assert_invalid(&f, 3);
	assert_error(&f, "conf.d/jails.conf:23: ", "'0': expected port numbers (1-65535) or all");
	assert_error(&f, "conf.d/jails.conf:27: ", "ports: 'imap': expected port numbers");
	assert_error(&f, "conf.d/jails.conf:31: ", "ports: either port numbers or all");
	fx_done(&f);
}
END_TEST

/* journal_match: groups OR-ed, the '+'-joined terms of a group AND-ed; a mistyped term of a
 * group is refused at its line, not taken into the value before it. */
START_TEST(test_journal_match_groups)
{
	struct fx f;
	const struct config_jail *j;

	fx_copy(&f, "valid");
	run_cmd("printf '[journal]\\nfilter = mini\\nbackend = journal\\njournal_match = "
		"SYSLOG_IDENTIFIER=courieresmtpd+_UID=102\\n\\t_EXE=/opt/c++/bin/x\\n' "
		">>'%s/conf.d/jails.conf'",
		f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	ck_assert_msg(f.r == 0, "r=%d\n%s", f.r, test_errors_text(&f.e));
	j = find_jail(f.c, "journal");
	ck_assert_uint_eq(j->n_journal_matches, 2);
	ck_assert_str_eq(j->journal_matches[0], "SYSLOG_IDENTIFIER=courieresmtpd+_UID=102");
	ck_assert_str_eq(j->journal_matches[1], "_EXE=/opt/c++/bin/x");
	fx_done(&f);

	fx_copy(&f, "valid");
	run_cmd("printf '[journal]\\nfilter = mini\\nbackend = journal\\njournal_match = "
		"SYSLOG_IDENTIFIER=courieresmtpd+_comm=courierlogger\\n' >>'%s/conf.d/jails.conf'",
		f.dir);
	fx_seal(&f);
	fx_load_copy(&f);
	assert_error(&f, "conf.d/jails.conf:",
		     "journal_match 'SYSLOG_IDENTIFIER=courieresmtpd+_comm=courierlogger': "
		     "expected FIELD=value, or FIELD=value+FIELD=value...");
	fx_done(&f);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("invalid");

	tcase_add_test(tc, test_unknown_section);
	tcase_add_test(tc, test_unknown_daemon_key);
	tcase_add_test(tc, test_unknown_jail_key);
	tcase_add_test(tc, test_bad_duration);
	tcase_add_test(tc, test_bad_number);
	tcase_add_test(tc, test_bad_bool);
	tcase_add_test(tc, test_bad_cidr);
	tcase_add_test(tc, test_relative_source);
	tcase_add_test(tc, test_trap_list);
	tcase_add_test(tc, test_unknown_filter);
	tcase_add_test(tc, test_unknown_action);
	tcase_add_test(tc, test_unknown_filter_var);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_jail_defined_twice);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_bad_regex);
	tcase_add_test(tc, test_filter_var_breaks_regex);
	tcase_add_test(tc, test_two_hosts);
	tcase_add_test(tc, test_no_filter_section);
	tcase_add_test(tc, test_no_failregex);
	tcase_add_test(tc, test_bad_sample);
	tcase_add_test(tc, test_group_writable);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_missing_main);
	tcase_add_test(tc, test_many_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("valid");
	tcase_add_test(tc, test_shipped_config);
	tcase_add_test(tc, test_event_jail);
	tcase_add_test(tc, test_valid_fixture);
	tcase_add_test(tc, test_filter_var_override);
	suite_add_tcase(s, tc);

	tc = tcase_create("layers");
	tcase_add_test(tc, test_local_override);
	tcase_add_test(tc, test_default_section);
	tcase_add_test(tc, test_local_disable);
	tcase_add_test(tc, test_list_override);
	tcase_add_test(tc, test_local_key_twice);
	tcase_add_test(tc, test_show);
	suite_add_tcase(s, tc);

	tc = tcase_create("trust");
	tcase_add_test(tc, test_foreign_owner);
	tcase_add_test(tc, test_writable_directory);
	suite_add_tcase(s, tc);

	tc = tcase_create("regressions");
	tcase_add_test(tc, test_bad_regex_in_unused_filter);
	tcase_add_test(tc, test_indented_bracket_continuation);
	tcase_add_test(tc, test_every_syntax_error_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, test_expected_lists_every_key);
	tcase_add_test(tc, test_keys_lists_every_section);
	tcase_add_test(tc, test_unknown_key_message);
	tcase_add_test(tc, test_exec_command);
	tcase_add_test(tc, test_bantime_forever);
	tcase_add_test(tc, test_jail_ports);
	tcase_add_test(tc, test_fleet_dnsbl);
	tcase_add_test(tc, test_journal_match_groups);
	tcase_add_test(tc, test_reaper);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Samples with RFC 3164 stamps are read in local time: make that UTC for every test. */
	setenv("TZ", "UTC", 1);
	tzset();
	return test_run_suite(config_suite());
}
