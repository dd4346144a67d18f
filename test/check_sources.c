/* sources: a configuration written to a temporary directory (jails with backend = files on
 * temporary log files, a tiny filter), its engine and a real sd_event loop; the tests append to
 * the logs and assert on the lines the sink receives (with their jails), the positions file in
 * the state directory, the resume after a stop and a start, the per-source line counts, and one
 * follower shared by the jails that read the same file. */
#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

#include "config.h"
#include "engine.h"
#include "sources.h"
#include "testutil.h"
#include "text.h"
#include "timeutil.h"

#define MAX_GOT 64

/* One line the sink received: its message and the names of its jails ("one,two"). */
struct got {
	char msg[256];
	char jails[64];
	size_t n_jails;
};

struct fx {
	char *root;
	char conf[1024], state[1024], log[1024], positions[1100];
	sd_event *e;
	struct config *c;
	struct engine *engine;
	struct sources *s;
	struct got got[MAX_GOT];
	size_t n_got;
};

static void sink(struct engine_jail *const *jails, size_t n_jails, const struct logline *l,
		 void *userdata)
{
	struct fx *f = userdata;
	struct got *g;
	size_t len = 0;

	ck_assert_uint_lt(f->n_got, MAX_GOT);
	g = &f->got[f->n_got++];
	snprintf(g->msg, sizeof(g->msg), "%.*s", (int)l->msg_len, l->msg);
	g->n_jails = n_jails;
	for (size_t i = 0; i < n_jails; i++)
		text_appendf(g->jails, sizeof(g->jails), &len, "%s%s", i ? "," : "",
			     jails[i]->conf->name);
}

/* A Courier-like syslog line whose message is msg. */
static void append(const struct fx *f, const char *msg)
{
	FILE *l = fopen(f->log, "a");

	ck_assert_ptr_nonnull(l);
	fprintf(l, "Nov 27 06:36:49 mail courieresmtpd: %s\n", msg);
	ck_assert_int_eq(fclose(l), 0);
}

/* The configuration with the given jails file (where @LOG@ stands for the log's path), its
 * engine, the loop and the sources (not started). */
static void fx_init(struct fx *f, const char *jails)
{
	char path[1200];

	memset(f, 0, sizeof(*f));
	f->root = test_mkdtemp();
	snprintf(f->conf, sizeof(f->conf), "%s/conf", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->log, sizeof(f->log), "%s/mail.log", f->root);
	snprintf(f->positions, sizeof(f->positions), "%s/positions", f->state);
	ck_assert_int_eq(mkdir(f->conf, 0755), 0);
	ck_assert_int_eq(mkdir(f->state, 0700), 0);
	snprintf(path, sizeof(path), "%s/filters", f->conf);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/conf.d", f->conf);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/actions", f->conf);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/actions/log.conf", f->conf);
	test_printf(path, "%s", "[action]\ntype = log\n");

	snprintf(path, sizeof(path), "%s/waveguard.conf", f->conf);
	test_printf(path,
		    "[daemon]\nstate_dir = %s\n[sampler]\nenabled = no\n[probe]\nenabled = no\n"
		    "[tuner]\nenabled = no\n",
		    f->state);
	snprintf(path, sizeof(path), "%s/filters/tiny.conf", f->conf);
	test_printf(path, "[filter]\ntag = courieresmtpd\nfailregex = ^bad login from <HOST>$\n");
	snprintf(path, sizeof(path), "%s/conf.d/jails.conf", f->conf);
	FILE *j = fopen(path, "w");
	ck_assert_ptr_nonnull(j);
	for (const char *p = jails; *p; p++)
		if (strncmp(p, "@LOG@", 5) == 0) {
			fputs(f->log, j);
			p += 4;
		} else
			fputc(*p, j);
	ck_assert_int_eq(fclose(j), 0);
	test_printf(f->log, "%s", "");

	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "chmod -R go-w '%s'", f->conf);
	ck_assert_int_eq(system(cmd), 0);

	struct config_errors errs = { 0 };
	int r = config_load(f->conf, &f->c, &errs);
	ck_assert_msg(r == 0, "config_load: %d, %s", r, errs.n ? errs.msgs[0] : "");
	r = engine_new(f->c, NULL, &f->engine, &errs);
	ck_assert_msg(r == 0, "engine_new: %d, %s", r, errs.n ? errs.msgs[0] : "");
	config_errors_clear(&errs);
	ck_assert_int_ge(sd_event_new(&f->e), 0);
	ck_assert_int_eq(sources_new(f->e, f->state, sink, f, &f->s), 0);
}

static void fx_done(struct fx *f)
{
	f->s = sources_free(f->s);
	f->engine = engine_free(f->engine);
	f->c = config_free(f->c);
	sd_event_unref(f->e);
	test_rm_rf(f->root);
	free(f->root);
}

/* Runs the loop until the sink has n lines in all (5 s at most), then checks there are no more. */
static void wait_got(struct fx *f, size_t n)
{
	uint64_t deadline = timeutil_now(CLOCK_MONOTONIC) + 5000000;

	while (f->n_got < n) {
		ck_assert_msg(timeutil_now(CLOCK_MONOTONIC) < deadline,
			      "timed out: %zu of %zu lines", f->n_got, n);
		ck_assert_int_ge(sd_event_run(f->e, 50 * 1000), 0);
	}
	test_settle(f->e);
	ck_assert_uint_eq(f->n_got, n);
}

static void expect_got(const struct fx *f, size_t i, const char *msg, const char *jails)
{
	ck_assert_uint_lt(i, f->n_got);
	ck_assert_str_eq(f->got[i].msg, msg);
	ck_assert_str_eq(f->got[i].jails, jails);
}

/* The content of the positions file ("" when there is none). */
static char *read_positions(const struct fx *f)
{
	char *buf = calloc(1, 4097);
	FILE *p = fopen(f->positions, "r");

	ck_assert_ptr_nonnull(buf);
	if (p) {
		(void)fread(buf, 1, 4096, p);
		fclose(p);
	}
	return buf;
}

/* The saved offset of the log, from its "dev ino offset head_len hash<TAB>path" line. */
static uint64_t saved_offset(const struct fx *f)
{
	char *text = read_positions(f), key[1100];
	uint64_t dev, ino, offset = UINT64_MAX;

	snprintf(key, sizeof(key), "\t%s\n", f->log);
	char *tab = strstr(text, key);
	ck_assert_msg(tab != NULL, "no position for %s in \"%s\"", f->log, text);
	char *line = tab;
	while (line > text && line[-1] != '\n')
		line--;
	ck_assert_int_eq(sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64, &dev, &ino, &offset), 3);
	free(text);
	return offset;
}

static uint64_t log_size(const struct fx *f)
{
	struct stat st;

	ck_assert_int_eq(stat(f->log, &st), 0);
	return (uint64_t)st.st_size;
}

static const char one_jail[] =
	"[one]\nfilter = tiny\naction = log\nbackend = files\nsource = @LOG@\n";

START_TEST(test_deliver_save_resume)
{
	struct fx f;

	fx_init(&f, one_jail);
	append(&f, "bad login from 192.0.2.1");
	ck_assert_int_eq(sources_start(f.s, f.c, f.engine), 0);
	ck_assert_uint_eq(sources_n_files(f.s), 1);
	ck_assert_uint_eq(sources_n_journals(f.s), 0);

	/* What was there at the first start, then what is appended. */
	wait_got(&f, 1);
	append(&f, "bad login from 192.0.2.2");
	append(&f, "hello from 192.0.2.3");
	wait_got(&f, 3);
	expect_got(&f, 0, "bad login from 192.0.2.1", "one");
	expect_got(&f, 1, "bad login from 192.0.2.2", "one");
	expect_got(&f, 2, "hello from 192.0.2.3", "one");
	ck_assert_uint_eq(f.got[2].n_jails, 1);

	struct sources_stat st = sources_get_stat(f.s, 0);
	ck_assert_str_eq(st.name, f.log);
	ck_assert_uint_eq(st.lines, 3);

	/* Saved on demand: the position is the end of the last line read. */
	ck_assert_int_eq(sources_save(f.s), 0);
	ck_assert_uint_eq(saved_offset(&f), log_size(&f));

	/* Stopped, a line comes; started again: only that line, not the old ones. */
	sources_stop(f.s);
	ck_assert_uint_eq(sources_n_files(f.s), 0);
	append(&f, "bad login from 192.0.2.4");
	test_settle(f.e);
	ck_assert_uint_eq(f.n_got, 3);
	ck_assert_int_eq(sources_start(f.s, f.c, f.engine), 0);
	wait_got(&f, 4);
	expect_got(&f, 3, "bad login from 192.0.2.4", "one");
	append(&f, "bad login from 192.0.2.5");
	wait_got(&f, 5);
	expect_got(&f, 4, "bad login from 192.0.2.5", "one");
	/* The count of the source since its start. */
	ck_assert_uint_eq(sources_get_stat(f.s, 0).lines, 2);

	/* The stop saves what was read since the last save. */
	sources_stop(f.s);
	ck_assert_uint_eq(saved_offset(&f), log_size(&f));
	fx_done(&f);
}
END_TEST

START_TEST(test_no_positions_reads_from_start)
{
	struct fx f;

	fx_init(&f, one_jail);
	append(&f, "bad login from 192.0.2.1");
	ck_assert_int_eq(sources_start(f.s, f.c, f.engine), 0);
	wait_got(&f, 1);
	sources_stop(f.s);
	ck_assert_uint_eq(saved_offset(&f), log_size(&f));

	/* Without the positions file a start reads the log from its beginning again. */
	ck_assert_int_eq(unlink(f.positions), 0);
	append(&f, "bad login from 192.0.2.2");
	ck_assert_int_eq(sources_start(f.s, f.c, f.engine), 0);
	wait_got(&f, 3);
	expect_got(&f, 1, "bad login from 192.0.2.1", "one");
	expect_got(&f, 2, "bad login from 192.0.2.2", "one");
	fx_done(&f);
}
END_TEST

START_TEST(test_saved_by_timer)
{
	uint64_t deadline;
	struct fx f;

	fx_init(&f, one_jail);
	ck_assert_int_eq(sources_start(f.s, f.c, f.engine), 0);
	append(&f, "bad login from 192.0.2.1");
	wait_got(&f, 1);
	/* Lines flowed: the positions are written within about a second, unasked. */
	deadline = timeutil_now(CLOCK_MONOTONIC) + 5000000;
	while (access(f.positions, F_OK) != 0) {
		ck_assert_msg(timeutil_now(CLOCK_MONOTONIC) < deadline, "positions never saved");
		ck_assert_int_ge(sd_event_run(f.e, 100 * 1000), 0);
	}
	ck_assert_uint_eq(saved_offset(&f), log_size(&f));
	fx_done(&f);
}
END_TEST

START_TEST(test_shared_file)
{
	struct fx f;

	fx_init(&f, "[one]\nfilter = tiny\naction = log\nbackend = files\nsource = @LOG@\n"
		    "[two]\nfilter = tiny\naction = log\nbackend = files\nsource = @LOG@\n"
		    "maxretry = 1\n");
	ck_assert_int_eq(sources_start(f.s, f.c, f.engine), 0);
	ck_assert_uint_eq(sources_n_files(f.s), 1);
	ck_assert_uint_eq(sources_n_journals(f.s), 0);
	append(&f, "bad login from 192.0.2.1");
	append(&f, "bad login from 192.0.2.2");
	/* Each line once, for both jails. */
	wait_got(&f, 2);
	expect_got(&f, 0, "bad login from 192.0.2.1", "one,two");
	expect_got(&f, 1, "bad login from 192.0.2.2", "one,two");
	ck_assert_uint_eq(f.got[1].n_jails, 2);
	ck_assert_uint_eq(sources_get_stat(f.s, 0).lines, 2);
	ck_assert_str_eq(sources_get_stat(f.s, 0).name, f.log);

	/* One line per file in the positions. */
	ck_assert_int_eq(sources_save(f.s), 0);
	char *text = read_positions(&f);
	size_t lines = 0;
	for (const char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_uint_eq(lines, 1);
	free(text);
	fx_done(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sources");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_deliver_save_resume);
	tcase_add_test(tc, test_no_positions_reads_from_start);
	tcase_add_test(tc, test_saved_by_timer);
	tcase_add_test(tc, test_shared_file);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
