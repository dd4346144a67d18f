/* wave: the wave room built by config_load() from a configuration written to a temporary
 * directory ([tuner] on with max_daemons = 40, a timeouts action whose directory holds the
 * admin's esmtptimeout and esmtptimeoutdata, [sampler] and [probe] off so that no socket is
 * opened), fed with rows of our own: up to wave on a crowded row with a failed probe, on
 * Courier's overload event, one level down per calm period, the admin's bytes back at normal,
 * at stop and after a crash, nothing written in dry-run mode, no timer without sampler and
 * probe. Assertions are on the files Courier reads, the level and the rows the owner hears of.
 * With the sampler on (real loopback connections on a port of the test's own): a sample a
 * second from the reaper's level up, at once after the level rose; the reaper closing a greeted
 * idle client, not an allowlisted one, not one that sent more than a greeting, and in dry-run
 * mode telling each idle client once without closing it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "config.h"
#include "history.h"
#include "testutil.h"
#include "tuner.h"
#include "wave.h"

#define S	   (1000000ULL)
#define T0	   (1000 * S)
#define CALM_USEC  (300 * S) /* the default [tuner] calm */
#define ADMIN_TO   "10m\n"   /* the admin's bytes, not what waveguard would write for 600 s */
#define ADMIN_DATA "300\n"

struct fx {
	char *root;
	char conf[1024], courier[1024], state[1024];
	sd_event *e;
	struct config *c;
	struct wave *w;
	unsigned rows; /* rows the owner heard of */
	struct history_row last_row;
	unsigned reaped, flushes; /* the reaper's hits and flushes the owner heard of */
	struct addr reaped_peer;
	uint32_t reaped_in_rows;
	int watch_fd;	    /* the server side of the idle client, when not -1 */
	bool open_at_flush; /* ... was still open when the owner flushed its bans */
};

/* The file's content (at most 4 KiB), or NULL when there is none. */
static char *slurp(const char *dir, const char *name)
{
	char path[4300], *buf = calloc(1, 4097);
	FILE *f;

	ck_assert_ptr_nonnull(buf);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f) {
		ck_assert_int_eq(errno, ENOENT);
		free(buf);
		return NULL;
	}
	(void)fread(buf, 1, 4096, f);
	ck_assert(!ferror(f));
	fclose(f);
	return buf;
}

static void assert_file(const char *dir, const char *name, const char *want)
{
	char *got = slurp(dir, name);

	if (!want)
		ck_assert_msg(got == NULL, "%s/%s exists: \"%s\"", dir, name, got);
	else {
		ck_assert_msg(got != NULL, "%s/%s is missing", dir, name);
		ck_assert_str_eq(got, want);
	}
	free(got);
}

/* What Courier reads now. */
static void assert_courier(const struct fx *f, const char *timeout, const char *data)
{
	assert_file(f->courier, "esmtptimeout", timeout);
	assert_file(f->courier, "esmtptimeoutdata", data);
}

/* The configuration directory, Courier's directory with the admin's files, the state
 * directory; tuner_extra goes into [tuner] (NULL: "enabled = yes"). */
static void fx_init(struct fx *f, const char *tuner_extra)
{
	char path[4300];

	memset(f, 0, sizeof(*f));
	f->watch_fd = -1;
	f->root = test_mkdtemp();
	snprintf(f->conf, sizeof(f->conf), "%s/conf", f->root);
	snprintf(f->courier, sizeof(f->courier), "%s/courier", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	ck_assert_int_eq(mkdir(f->conf, 0755), 0);
	ck_assert_int_eq(mkdir(f->courier, 0755), 0);
	ck_assert_int_eq(mkdir(f->state, 0700), 0);
	snprintf(path, sizeof(path), "%s/actions", f->conf);
	ck_assert_int_eq(mkdir(path, 0755), 0);

	snprintf(path, sizeof(path), "%s/waveguard.conf", f->conf);
	test_printf(path,
		    "[daemon]\nstate_dir = %s\n"
		    "[sampler]\nenabled = no\ninterval = 1s\n"
		    "[probe]\nenabled = no\n"
		    "[tuner]\naction = wave-timeouts\nmax_daemons = 40\nesmtpd = %s/esmtpd\n%s",
		    f->state, f->courier, tuner_extra ? tuner_extra : "enabled = yes\n");
	snprintf(path, sizeof(path), "%s/actions/wave-timeouts.conf", f->conf);
	test_printf(path,
		    "[action]\ntype = timeouts\ndirectory = %s\nfloor = 10s\n"
		    "esmtptimeout = 60s 10s\nesmtptimeoutdata = 180s 60s\n",
		    f->courier);
	test_write(f->courier, "esmtptimeout", "w", ADMIN_TO);
	test_write(f->courier, "esmtptimeoutdata", "w", ADMIN_DATA);
	/* Not the system's file, and not the limit that counts: max_daemons = 40 wins. */
	test_write(f->courier, "esmtpd", "w", "MAXDAEMONS=400\n");

	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "chmod -R go-w '%s'", f->conf);
	ck_assert_int_eq(system(cmd), 0);

	struct config_errors errs = { 0 };
	int r = config_load(f->conf, &f->c, &errs);
	ck_assert_msg(r == 0, "config_load: %d, %s", r, errs.n ? errs.msgs[0] : "");
	config_errors_clear(&errs);
	ck_assert(!f->c->sampler.enabled);
	ck_assert(!f->c->probe.enabled);
	ck_assert_int_ge(sd_event_new(&f->e), 0);
}

static void fx_new(struct fx *f, bool dry_run)
{
	ck_assert_int_eq(wave_new(f->e, f->c, dry_run, &f->w), 0);
}

static void fx_done(struct fx *f)
{
	f->w = wave_free(f->w);
	f->c = config_free(f->c);
	sd_event_unref(f->e);
	test_rm_rf(f->root);
	free(f->root);
}

static void on_row(const struct history_row *r, void *userdata)
{
	struct fx *f = userdata;

	f->rows++;
	f->last_row = *r;
}

static const struct wave_ops ops = { .row = on_row };

/* One row at t: established of the 40 daemons, the probe's outcome. */
static void feed(struct fx *f, uint64_t t, uint32_t established, const char *probe)
{
	struct history_row r = { .time_usec = t, .established = established, .probe_ms = -1 };

	snprintf(r.probe_status, sizeof(r.probe_status), "%s", probe);
	snprintf(r.tuner, sizeof(r.tuner), "%s", tuner_level_to_string(wave_level(f->w)));
	if (strcmp(probe, "ok") == 0)
		r.probe_ms = 12;
	wave_feed_row(f->w, &r);
	ck_assert_ptr_nonnull(wave_last(f->w));
	ck_assert_uint_eq(wave_last(f->w)->time_usec, t);
}

/* Crowded (35 of 40) with a failed probe: wave at once. */
static void feed_wave(struct fx *f, uint64_t t)
{
	feed(f, t, 35, "timeout");
	ck_assert_int_eq(wave_level(f->w), TUNER_WAVE);
	ck_assert_str_eq(wave_reason(f->w), "wave: 35/40 connections");
	assert_courier(f, "10s\n", "60s\n");
}

START_TEST(test_up_and_down)
{
	struct fx f;

	fx_init(&f, NULL);
	fx_new(&f, false);
	ck_assert(wave_tuning(f.w));
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	ck_assert_str_eq(wave_reason(f.w), "normal");
	ck_assert_ptr_null(wave_last(f.w));
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);

	/* A quiet row changes nothing. */
	feed(&f, T0, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);

	feed_wave(&f, T0 + 5 * S);
	/* The state file keeps the originals for a crash. */
	char *state = slurp(f.state, "tuner");
	ck_assert_ptr_nonnull(state);
	free(state);

	/* Calm from T1; Courier's overload event in the middle breaks the calm run, so that a
	 * full period from T1 is not enough. */
	uint64_t t1 = T0 + 10 * S;
	feed(&f, t1, 2, "ok");
	wave_note_overload(f.w);
	feed(&f, t1 + 150 * S, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	feed(&f, t1 + CALM_USEC, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	assert_courier(&f, "10s\n", "60s\n");

	/* The overload row was the last one that was not calm: a period after the next calm row
	 * (t1 + CALM_USEC starts the new run), one level down. */
	uint64_t t2 = t1 + CALM_USEC;
	feed(&f, t2 + CALM_USEC - S, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	feed(&f, t2 + CALM_USEC, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_ELEVATED);
	ck_assert_str_eq(wave_reason(f.w),
			 "elevated: calm for 300 s (2/40 connections, backlog 0)");
	assert_courier(&f, "60s\n", "180s\n");

	/* Another full period for the next step: the admin's bytes come back. */
	uint64_t t3 = t2 + CALM_USEC;
	feed(&f, t3 + CALM_USEC - S, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_ELEVATED);
	assert_courier(&f, "60s\n", "180s\n");
	feed(&f, t3 + CALM_USEC, 2, "off");
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	ck_assert_str_eq(wave_reason(f.w), "normal: calm for 300 s (2/40 connections, backlog 0)");
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	assert_file(f.state, "tuner", NULL);

	/* Stopping at normal leaves the admin's files alone. */
	wave_stop(f.w);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	fx_done(&f);
}
END_TEST

START_TEST(test_overload)
{
	struct fx f;

	fx_init(&f, NULL);
	fx_new(&f, false);
	/* Courier said it reached its limit: the next row is a wave, however calm it looks. */
	wave_note_overload(f.w);
	feed(&f, T0, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	ck_assert_ptr_nonnull(strstr(wave_reason(f.w), "maximum active connections"));
	assert_courier(&f, "10s\n", "60s\n");
	fx_done(&f);
}
END_TEST

/* Courier stopped: nothing listens, the probe is refused at every sample. That is a server
 * down, not a wave: no file changes however long it lasts, the rows say "down", and the state
 * clears when the banner comes back. */
START_TEST(test_server_down_refused)
{
	struct fx f;
	uint64_t since = 0;
	const char *why = NULL;

	fx_init(&f, NULL);
	fx_new(&f, false);
	ck_assert_int_eq(wave_start(f.w, f.c, &ops, &f), 0);
	for (unsigned i = 0; i < 20; i++) {
		feed(&f, T0 + i * 5 * S, 0, "refused");
		ck_assert_str_eq(f.last_row.tuner, "down");
		ck_assert_str_eq(wave_last(f.w)->tuner, "down");
	}
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	ck_assert(wave_server_down(f.w, &since, &why));
	ck_assert_uint_eq(since, T0);
	ck_assert_str_eq(why, "refused");
	/* Refused while connections are many: still down (nothing listens there); the refusals
	 * are never a wave signal, only the connection counts are. */
	feed(&f, T0 + 200 * S, 8, "refused");
	ck_assert_str_eq(f.last_row.tuner, "down");
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);

	feed(&f, T0 + 205 * S, 3, "ok");
	ck_assert(!wave_server_down(f.w, &since, &why));
	ck_assert_str_eq(f.last_row.tuner, "normal");
	fx_done(&f);
}
END_TEST

/* A silent server (the probe connects, no banner) with hardly a connection is hung or
 * stopping, not flooded: down, no tuning. The same silence with the daemons nearly all busy is
 * the wave the tuner is for. */
START_TEST(test_server_down_or_flooded)
{
	struct fx f;
	uint64_t since;
	const char *why;

	fx_init(&f, NULL);
	fx_new(&f, false);
	for (unsigned i = 0; i < 6; i++)
		feed(&f, T0 + i * 5 * S, 1, i % 2 ? "pending" : "timeout");
	ck_assert(wave_server_down(f.w, &since, &why));
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	ck_assert_str_eq(wave_last(f.w)->tuner, "down");

	/* Courier's own limit line says it is busy: not down, and a wave. */
	wave_note_overload(f.w);
	feed(&f, T0 + 30 * S, 1, "timeout");
	ck_assert(!wave_server_down(f.w, &since, &why));
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	assert_courier(&f, "10s\n", "60s\n");
	fx_done(&f);

	/* Three silent probes at 12 of 40 (above the calm share, below every up threshold): the
	 * probe signal alone takes the tuner to wave, as before. */
	fx_init(&f, NULL);
	fx_new(&f, false);
	for (unsigned i = 0; i < 3; i++)
		feed(&f, T0 + i * 5 * S, 12, "timeout");
	ck_assert(!wave_server_down(f.w, &since, &why));
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	assert_courier(&f, "10s\n", "60s\n");
	fx_done(&f);
}
END_TEST

/* The probe's target: [probe] where given, else where Courier's esmtpd says it listens. */
START_TEST(test_probe_target)
{
	struct fx f;
	char addr[64];
	uint16_t port = 0;
	const char *origin = NULL;

	fx_init(&f, NULL);
	free(f.c->probe.address);
	f.c->probe.address = NULL;
	f.c->probe.port = 0;
	test_write(f.courier, "esmtpd", "w", "MAXDAEMONS=40\nADDRESS=203.0.113.5\nPORT=smtp\n");
	ck_assert_int_eq(wave_probe_target(f.c, addr, sizeof(addr), &port, &origin), 0);
	ck_assert_str_eq(addr, "203.0.113.5");
	ck_assert_uint_eq(port, 25);
	ck_assert_str_eq(origin, f.c->tuner.esmtpd);

	f.c->probe.port = 2525; /* half a target in [probe] still wins */
	ck_assert_int_eq(wave_probe_target(f.c, addr, sizeof(addr), &port, &origin), 0);
	ck_assert_str_eq(addr, "203.0.113.5");
	ck_assert_uint_eq(port, 2525);

	f.c->probe.port = 0;
	test_write(f.courier, "esmtpd", "w", "MAXDAEMONS=40\n");
	ck_assert_int_eq(wave_probe_target(f.c, addr, sizeof(addr), &port, &origin), -ENOENT);
	ck_assert_str_eq(addr, "127.0.0.1");
	ck_assert_uint_eq(port, 25);

	f.c->probe.address = strdup("::1");
	f.c->probe.port = 587;
	ck_assert_int_eq(wave_probe_target(f.c, addr, sizeof(addr), &port, &origin), 0);
	ck_assert_str_eq(addr, "::1");
	ck_assert_uint_eq(port, 587);
	ck_assert_str_eq(origin, "[probe]");
	fx_done(&f);
}
END_TEST

START_TEST(test_stop_restores)
{
	struct fx f;

	fx_init(&f, NULL);
	fx_new(&f, false);
	feed_wave(&f, T0);

	/* The admin edits a file during the wave: theirs is the one to give back. */
	test_write(f.courier, "esmtptimeout", "w", "120\n");
	feed(&f, T0 + 5 * S, 35, "timeout");
	assert_courier(&f, "120\n", "60s\n");

	wave_stop(f.w);
	assert_courier(&f, "120\n", ADMIN_DATA);
	assert_file(f.state, "tuner", NULL);
	fx_done(&f);
}
END_TEST

START_TEST(test_admin_edit)
{
	struct fx f;

	fx_init(&f, NULL);
	fx_new(&f, false);
	feed_wave(&f, T0);

	/* Edited during the wave: left alone while the level holds... */
	test_write(f.courier, "esmtptimeout", "w", "120\n");
	feed(&f, T0 + 5 * S, 35, "timeout");
	feed(&f, T0 + 10 * S, 2, "ok");
	assert_courier(&f, "120\n", "60s\n");
	/* ...written again at the next level change... */
	feed(&f, T0 + 10 * S + CALM_USEC, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_ELEVATED);
	assert_courier(&f, "60s\n", "180s\n");
	/* ...and the admin's edit is what normal gives back. */
	feed(&f, T0 + 10 * S + 2 * CALM_USEC, 2, "ok");
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	assert_courier(&f, "120\n", ADMIN_DATA);
	fx_done(&f);
}
END_TEST

START_TEST(test_stop_restores_missing_file)
{
	struct fx f;
	char path[4300];

	fx_init(&f, NULL);
	/* The admin had no esmtptimeoutdata: none again after the wave. */
	snprintf(path, sizeof(path), "%s/esmtptimeoutdata", f.courier);
	ck_assert_int_eq(unlink(path), 0);
	fx_new(&f, false);
	feed_wave(&f, T0);
	wave_stop(f.w);
	assert_courier(&f, ADMIN_TO, NULL);
	fx_done(&f);
}
END_TEST

START_TEST(test_crash_recovery)
{
	struct fx f;

	fx_init(&f, NULL);
	fx_new(&f, false);
	feed_wave(&f, T0);
	/* Gone without wave_stop(), as in a crash: Courier keeps the wave values... */
	f.w = wave_free(f.w);
	assert_courier(&f, "10s\n", "60s\n");
	/* ...until the next start, which gives the admin's files back first of all. */
	fx_new(&f, false);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	assert_file(f.state, "tuner", NULL);
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	fx_done(&f);
}
END_TEST

START_TEST(test_dry_run)
{
	struct fx f;

	/* waveguard --dry-run: levels are decided, no file is written. */
	fx_init(&f, NULL);
	fx_new(&f, true);
	feed(&f, T0, 35, "timeout");
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	assert_file(f.state, "tuner", NULL);
	wave_stop(f.w);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	fx_done(&f);

	/* [tuner] dry_run = yes: the same. */
	fx_init(&f, "enabled = yes\ndry_run = yes\n");
	fx_new(&f, false);
	feed(&f, T0, 35, "timeout");
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	assert_file(f.state, "tuner", NULL);
	fx_done(&f);
}
END_TEST

START_TEST(test_tuner_off)
{
	struct fx f;

	fx_init(&f, "enabled = no\n");
	fx_new(&f, false);
	ck_assert(!wave_tuning(f.w));
	feed(&f, T0, 40, "timeout");
	ck_assert_int_eq(wave_level(f.w), TUNER_NORMAL);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	fx_done(&f);
}
END_TEST

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	*(bool *)userdata = true;
	return 0;
}

START_TEST(test_start_without_sampler_and_probe)
{
	sd_event_source *deadline = NULL;
	bool done = false;
	uint64_t now;
	struct fx f;

	fx_init(&f, NULL);
	fx_new(&f, false);
	ck_assert_int_eq(wave_start(f.w, f.c, &ops, &f), 0);
	/* No interval timer: past one interval (1 s), no row has come, no history was opened. */
	ck_assert_int_ge(sd_event_now(f.e, CLOCK_MONOTONIC, &now), 0);
	ck_assert_int_ge(sd_event_add_time(f.e, &deadline, CLOCK_MONOTONIC, now + 1200 * 1000, 0,
					   on_deadline, &done),
			 0);
	for (int i = 0; i < 100 && !done; i++)
		ck_assert_int_ge(sd_event_run(f.e, 2 * S), 0);
	ck_assert(done);
	ck_assert_uint_eq(f.rows, 0);
	assert_file(f.state, "history.csv", NULL);
	sd_event_source_unref(deadline);

	/* Rows fed by hand reach the owner, with the level they were made at. */
	feed(&f, T0, 35, "timeout");
	ck_assert_uint_eq(f.rows, 1);
	ck_assert_uint_eq(f.last_row.established, 35);
	ck_assert_str_eq(f.last_row.probe_status, "timeout");
	ck_assert_str_eq(f.last_row.tuner, "normal");
	feed(&f, T0 + 5 * S, 35, "timeout");
	ck_assert_uint_eq(f.rows, 2);
	ck_assert_str_eq(f.last_row.tuner, "wave");
	wave_stop(f.w);
	assert_courier(&f, ADMIN_TO, ADMIN_DATA);
	fx_done(&f);
}
END_TEST

/* ---- the sampler's pace and the reaper, on real connections ---- */

static void on_reap_row(const struct history_row *r, void *userdata)
{
	struct fx *f = userdata;
	on_row(r, userdata);
	f->reaped_in_rows += r->reaped;
}

static bool on_allowed(const struct addr *a, void *userdata)
{
	(void)userdata;
	return a->family == AF_INET && a->bytes[3] == 2; /* 127.0.0.2 */
}

static void on_reaped(const struct sampler_conn *c, void *userdata)
{
	struct fx *f = userdata;
	f->reaped++;
	f->reaped_peer = c->peer;
}

static void on_flush(void *userdata)
{
	struct fx *f = userdata;
	char b;
	f->flushes++;
	f->open_at_flush =
		f->watch_fd >= 0 && recv(f->watch_fd, &b, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
}

static const struct wave_ops reap_ops = {
	.row = on_reap_row,
	.allowed = on_allowed,
	.reaped = on_reaped,
	.flush = on_flush,
};

/* A loopback listener on a free port. */
static int listen_any(uint16_t *ret_port)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	*ret_port = ntohs(in.sin_port);
	return fd;
}

/* A client from src, accepted and greeted ("220 ...", read by the client); *ret_srv is the
 * server's side. Returns the client's side. */
static int greeted(int l, const char *src, uint16_t port, int *ret_srv)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[16];

	ck_assert_int_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &b.sin_addr), 1);
	b.sin_port = htons(port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	*ret_srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(*ret_srv, 0);
	ck_assert_int_eq(write(*ret_srv, "220 mx\r\n", 8), 8);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 8);
	return fd;
}

/* Runs the loop for ms milliseconds. */
static void run_for(struct fx *f, unsigned ms)
{
	sd_event_source *deadline = NULL;
	bool done = false;
	uint64_t now;

	ck_assert_int_ge(sd_event_now(f->e, CLOCK_MONOTONIC, &now), 0);
	ck_assert_int_ge(sd_event_add_time(f->e, &deadline, CLOCK_MONOTONIC, now + ms * 1000ULL, 0,
					   on_deadline, &done),
			 0);
	while (!done)
		ck_assert_int_ge(sd_event_run(f->e, UINT64_MAX), 0);
	sd_event_source_unref(deadline);
}

/* The sampler on the test's port every 5 s, every second from the reaper's level up; the
 * reaper after 1 s of silence. */
static void fx_start_sampler(struct fx *f, uint16_t port, bool dry_run)
{
	f->c->sampler.enabled = true;
	f->c->sampler.interval_usec = 5 * S;
	f->c->sampler.wave_interval_usec = S;
	f->c->sampler.ports[0] = port;
	f->c->sampler.n_ports = 1;
	f->c->sampler.max_concurrent = 0;
	f->c->reaper.idle_usec = S;
	f->c->reaper.idle_full_usec = S;
	fx_new(f, dry_run);
	ck_assert_int_eq(wave_start(f->w, f->c, &reap_ops, f), 0);
}

/* Expects the server side of a connection to have been closed by the kernel (or not). */
static void assert_aborted(int srv, bool aborted)
{
	char buf[8];
	ssize_t n = recv(srv, buf, sizeof(buf), MSG_DONTWAIT);
	if (aborted)
		ck_assert_msg(n == -1 && errno == ECONNABORTED, "not aborted: %zd %s", n,
			      strerror(errno));
	else
		ck_assert_msg(n == -1 && errno == EAGAIN, "closed: %zd %s", n, strerror(errno));
}

START_TEST(test_wave_interval)
{
	uint16_t port;
	int l = listen_any(&port);
	struct fx f;

	fx_init(&f, NULL);
	fx_start_sampler(&f, port, false);
	ck_assert_str_eq(wave_reaper_state(f.w), "on");
	/* Normal: no sample within 2 s (the first is 5 s after the start). */
	run_for(&f, 2000);
	ck_assert_uint_eq(f.rows, 0);
	/* A wave: the next sample within a second, then one a second. */
	feed_wave(&f, T0);
	ck_assert_uint_eq(f.rows, 1);
	run_for(&f, 2500);
	ck_assert_uint_ge(f.rows, 1 + 2);
	ck_assert_uint_le(f.rows, 1 + 3);
	ck_assert_str_eq(f.last_row.tuner, "wave");
	wave_stop(f.w);
	fx_done(&f);

	/* [reaper] at = elevated: the faster pace from elevated up. */
	fx_init(&f, NULL);
	f.c->reaper.at = CONFIG_REAPER_AT_ELEVATED;
	fx_start_sampler(&f, port, false);
	feed(&f, T0, 12, "ok"); /* 30% of 40 */
	ck_assert_int_eq(wave_level(f.w), TUNER_ELEVATED);
	run_for(&f, 2500);
	ck_assert_uint_ge(f.rows, 1 + 2);
	wave_stop(f.w);
	fx_done(&f);
	close(l);
}
END_TEST

START_TEST(test_reaper)
{
	uint16_t port;
	int l = listen_any(&port), idle_srv, allowed_srv, talker_srv;
	int idle = greeted(l, "127.0.0.1", port, &idle_srv);
	int allowed = greeted(l, "127.0.0.2", port, &allowed_srv);
	int talker = greeted(l, "127.0.0.3", port, &talker_srv);
	char buf[96];
	struct fx f;

	/* More than a greeting's worth (64 bytes): never a holder. */
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(write(talker, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	ck_assert_int_eq(read(talker_srv, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	fx_init(&f, NULL);
	f.watch_fd = idle_srv;
	fx_start_sampler(&f, port, false);
	/* Not at normal, however long the silence. */
	usleep(1100 * 1000);
	feed(&f, T0, 2, "ok");
	ck_assert_uint_eq(f.reaped, 0);
	feed_wave(&f, T0 + S);
	run_for(&f, 1500);
	ck_assert_uint_eq(f.reaped, 1);
	ck_assert_uint_eq(f.flushes, 1);
	ck_assert(f.open_at_flush); /* the ban went to the kernel before the reset */
	ck_assert_uint_eq(f.reaped_peer.bytes[3], 1);
	ck_assert_uint_eq(f.reaped_in_rows, 1);
	ck_assert_uint_eq(wave_reaped_total(f.w), 1);
	assert_aborted(idle_srv, true);
	assert_aborted(allowed_srv, false);
	assert_aborted(talker_srv, false);
	run_for(&f, 1100);
	ck_assert_uint_eq(f.reaped, 1);
	wave_stop(f.w);
	fx_done(&f);

	/* Dry run: the allowlisted client again kept; the idle one told once, not closed. */
	int idle2_srv, idle2 = greeted(l, "127.0.0.4", port, &idle2_srv);
	fx_init(&f, NULL);
	fx_start_sampler(&f, port, true);
	ck_assert_str_eq(wave_reaper_state(f.w), "dry-run");
	feed(&f, T0, 35, "timeout");
	ck_assert_int_eq(wave_level(f.w), TUNER_WAVE);
	run_for(&f, 3500);
	ck_assert_uint_eq(f.reaped, 1);
	ck_assert_uint_eq(f.reaped_peer.bytes[3], 4);
	ck_assert_uint_eq(wave_reaped_total(f.w), 1);
	assert_aborted(idle2_srv, false);
	assert_aborted(allowed_srv, false);
	wave_stop(f.w);
	fx_done(&f);

	/* [reaper] enabled = no: nothing. */
	fx_init(&f, NULL);
	f.c->reaper.enabled = false;
	fx_start_sampler(&f, port, false);
	ck_assert_str_eq(wave_reaper_state(f.w), "off");
	feed_wave(&f, T0);
	run_for(&f, 1500);
	ck_assert_uint_eq(f.reaped, 0);
	assert_aborted(idle2_srv, false);
	wave_stop(f.w);
	fx_done(&f);

	int fds[] = {
		l, idle, idle_srv, allowed, allowed_srv, talker, talker_srv, idle2, idle2_srv
	};
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		close(fds[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wave");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_up_and_down);
	tcase_add_test(tc, test_overload);
	tcase_add_test(tc, test_server_down_refused);
	tcase_add_test(tc, test_server_down_or_flooded);
	tcase_add_test(tc, test_probe_target);
	tcase_add_test(tc, test_stop_restores);
	tcase_add_test(tc, test_admin_edit);
	tcase_add_test(tc, test_stop_restores_missing_file);
	tcase_add_test(tc, test_crash_recovery);
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_tuner_off);
	tcase_add_test(tc, test_start_without_sampler_and_probe);
	tcase_add_test(tc, test_wave_interval);
	tcase_add_test(tc, test_reaper);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
