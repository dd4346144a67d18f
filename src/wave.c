/* The wave room. One interval timer drives a sock_diag sample, a probe and a history row; the
 * probe answers asynchronously and its row is completed then (or marked "pending" when the next
 * interval comes first, so that there is exactly one row per interval). Each completed row is
 * the tuner's input; a level change rewrites Courier's timeout files, and the rows from then on
 * carry the new level. From the reaper's level up the interval is [sampler] wave_interval, and
 * each sample's dump carries tcp_info: the idle holders among the connections (reaper.c) are
 * closed from the kernel's side, at most max_per_pass a sample. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "esmtpd.h"
#include "log.h"
#include "probe.h"
#include "reaper.h"
#include "sampler.h"
#include "timeouts.h"
#include "wave.h"

#define DEFAULT_FLOOR_USEC (10 * USEC_PER_SEC)
/* A server that stays down is reported again this often, not at every sample. */
#define DOWN_REMINDER_USEC (15 * 60 * USEC_PER_SEC)

struct wave {
	sd_event *event;
	const struct wave_ops *ops;
	void *userdata;
	uint64_t interval_usec;
	uint64_t wave_interval_usec; /* from fast_level up */
	enum tuner_level fast_level;
	unsigned max_concurrent;
	struct sampler *sampler;
	struct probe *probe;
	struct history *history;
	sd_event_source *timer;
	struct history_row pending; /* the row waiting for its probe */
	bool has_pending;
	struct history_row last;
	bool has_last;
	uint32_t new_bans;
	bool history_failed; /* logged once */

	struct tuner *tuner;	   /* NULL: [tuner] off */
	struct timeouts *timeouts; /* NULL in dry-run mode: levels are decided, files untouched */
	unsigned max_daemons;
	bool overload_event; /* an address-less event ("maximum active connections") since the last
				row */
	char reason[256];
	struct tuner_params params; /* for telling a quiet server from a flooded one */

	/* The probe's target, and the server-down alert. */
	char target[WAVE_TARGET_MAX];
	bool startup_probe; /* the probe started at start-up, before the first row */
	bool down;
	uint64_t down_since_usec, down_alert_usec;
	char down_why[64];

	/* The reaper. */
	bool dry_run;
	bool reap_on; /* enabled, with a sampler, a tuner, and a kernel that can close sockets */
	const char *reap_state;
	enum tuner_level reap_level;
	struct reaper_params reap_params;
	uint32_t reap_idle_ms;	   /* this pass's: reaper_idle() of the last sample */
	uint32_t last_established; /* at the last sample */
	struct reaper_batch batch;
	struct sampler_conn *batch_v; /* max_per_pass entries */
	uint64_t reap_pass_usec;      /* monotonic: the last reaping pass (0: none running) */
	uint64_t reap_now_usec;	      /* monotonic: this pass */
	uint64_t reaped_total;
};

/* ---- server down or flooded ---- */

static bool probe_failed(const struct history_row *r)
{
	return strcmp(r->probe_status, "ok") != 0 && strcmp(r->probe_status, "off") != 0;
}

/* Nothing says the server is busy: the tuner's calm rule for the counts (with no connection at
 * all when MAXDAEMONS is unknown), and no limit reached. */
static bool quiet(const struct wave *w, const struct history_row *r)
{
	return (w->max_daemons || r->established == 0) &&
	       tuner_load_calm(&w->params, r->established, r->backlog, w->max_daemons) &&
	       !w->overload_event;
}

/* A refusal or an unreachable address means nothing listens there: down, however busy. A
 * probe that connects but gets no banner is overload only when the other signals agree; on a
 * quiet server it is a hung or stopped one. Either way down is no reason to tune. */
static bool server_down(const struct wave *w, const struct history_row *r)
{
	if (!probe_failed(r))
		return false;
	if (strcmp(r->probe_status, "refused") == 0 || strcmp(r->probe_status, "error") == 0)
		return true;
	return quiet(w, r);
}

static void alert_down(struct wave *w, const struct history_row *r, bool reminder)
{
	char f_target[WAVE_TARGET_MAX + 32], f_probe[96];

	snprintf(f_target, sizeof(f_target), "WAVEGUARD_PROBE_TARGET=%s", w->target);
	snprintf(f_probe, sizeof(f_probe), "WAVEGUARD_PROBE=%s", w->down_why);
	const char *const fields[] = { f_target, f_probe, NULL };
	log_event(LOG_ERR, LOG_MESSAGE_SERVER_DOWN, fields,
		  "mail server %s at %s: probe %s with %u connections; not tuning Courier's "
		  "timeouts%s",
		  reminder ? "still down" : "down", w->target, w->down_why, r->established,
		  reminder ? "" : " (is it running, and listening there?)");
	w->down_alert_usec = r->time_usec;
}

/* Follows the server's state from row to row: one alert when it goes down, a reminder every
 * DOWN_REMINDER_USEC, one notice when it answers again. The row says "down" in its tuner
 * column, which the chart marks. */
static void watch_server(struct wave *w, struct history_row *r)
{
	bool down = server_down(w, r);

	if (down) {
		snprintf(w->down_why, sizeof(w->down_why), "%s", r->probe_status);
		if (!w->down) {
			w->down = true;
			w->down_since_usec = r->time_usec;
			alert_down(w, r, false);
		} else if (r->time_usec - w->down_alert_usec >= DOWN_REMINDER_USEC)
			alert_down(w, r, true);
		snprintf(r->tuner, sizeof(r->tuner), "down");
	} else if (w->down) {
		w->down = false;
		log_event(LOG_NOTICE, LOG_MESSAGE_SERVER_UP, NULL,
			  "mail server at %s %s after %llu s", w->target,
			  probe_failed(r) ? "is busy, not down (no banner under load)"
					  : "answers again",
			  (unsigned long long)((r->time_usec - w->down_since_usec) / USEC_PER_SEC));
	}
}

/* ---- the interval ---- */

static uint64_t interval(const struct wave *w)
{
	if (w->tuner && tuner_level(w->tuner) >= w->fast_level &&
	    w->wave_interval_usec < w->interval_usec)
		return w->wave_interval_usec;
	return w->interval_usec;
}

/* After a level change: the next sample no later than one interval of the new level away (up to
 * a wave, at once at the faster pace, not after the rest of a 5 s interval). */
static void rearm(struct wave *w)
{
	uint64_t next = 0, now = 0;

	if (!w->timer || sd_event_source_get_time(w->timer, &next) < 0)
		return;
	sd_event_now(w->event, CLOCK_MONOTONIC, &now);
	if (now + interval(w) < next)
		sd_event_source_set_time(w->timer, now + interval(w));
}

/* ---- the tuner and Courier's files ---- */

/* While tuned, the admin may edit a file: theirs becomes the value to restore. */
static void adopt_edits(struct wave *w)
{
	char msg[512];

	if (w->timeouts && tuner_level(w->tuner) != TUNER_NORMAL &&
	    timeouts_check(w->timeouts, msg, sizeof(msg)) > 0)
		log_warning("Courier timeout files edited during the wave, adopted as the "
			    "originals: %s",
			    msg);
}

static void tune(struct wave *w, const struct history_row *r)
{
	enum tuner_level level;
	char msg[512] = "";
	int k;

	struct tuner_input in = {
		.now_usec = r->time_usec,
		.established = r->established,
		.backlog = r->backlog,
		.max_daemons = w->max_daemons,
		.new_bans = r->new_bans,
		.probe_failed = probe_failed(r) && !w->down,
		.maxconn_event = w->overload_event,
	};
	w->overload_event = false;
	if (tuner_feed(w->tuner, &in, &level, w->reason, sizeof(w->reason)) <= 0) {
		adopt_edits(w);
		return;
	}
	if (w->timeouts) {
		k = timeouts_apply(w->timeouts, (int)level, msg, sizeof(msg));
		if (k < 0)
			log_error_errno(k, "cannot write Courier's timeout files: %m");
		else if (k > 0)
			log_warning("Courier timeout files edited by the admin, adopted: %s", msg);
	}
	char f_level[48], f_reason[300];
	snprintf(f_level, sizeof(f_level), "WAVEGUARD_LEVEL=%s", tuner_level_to_string(level));
	snprintf(f_reason, sizeof(f_reason), "WAVEGUARD_REASON=%s", w->reason);
	const char *const fields[] = { f_level, f_reason, NULL };
	log_event(LOG_NOTICE, LOG_MESSAGE_TUNER, fields, "tuner: %s%s%s%s", w->reason,
		  msg[0] ? " (" : "", msg,
		  msg[0] ? ")" : (w->timeouts ? "" : " (no file written)"));
	rearm(w);
}

/* The timeout files of the configured action, with a crash's leftovers restored. */
static int open_timeouts(struct wave *w, const struct config *c)
{
	const struct config_action *a = c->tuner.timeouts;
	struct timeouts_file files[ELEMENTSOF(a->files)];
	_cleanup_free_ char *state = NULL;
	char msg[512];
	int r;

	if (asprintf(&state, "%s/tuner", c->state_dir) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_files; i++)
		files[i] = (struct timeouts_file){
			.name = a->files[i].name,
			.level_usec = { 0, a->files[i].elevated_usec, a->files[i].wave_usec },
		};
	r = timeouts_new(a->directory ? a->directory : "/etc/courier", state, files, a->n_files,
			 a->floor_usec ? a->floor_usec : DEFAULT_FLOOR_USEC, &w->timeouts);
	if (r < 0)
		return log_error_errno(r, "tuner: %m");
	r = timeouts_recover(w->timeouts, msg, sizeof(msg));
	if (r < 0)
		return log_error_errno(r, "tuner: cannot restore Courier's timeout files: %m");
	if (r > 0)
		log_warning("tuner: restored the timeout files a previous run left tuned: %s", msg);
	return 0;
}

int wave_new(sd_event *e, const struct config *c, bool dry_run, struct wave **ret)
{
	_cleanup_(wave_freep) struct wave *w = calloc(1, sizeof(*w));
	const struct config_tuner *t = &c->tuner;
	int r;

	if (!w)
		return -ENOMEM;
	w->event = sd_event_ref(e);
	w->dry_run = dry_run;
	w->reap_state = "off";
	w->reap_level = w->fast_level = TUNER_WAVE;
	snprintf(w->reason, sizeof(w->reason), "normal");
	config_tuner_params(t, &w->params);
	if (!t->enabled || !t->timeouts) {
		*ret = TAKE_PTR(w);
		return 0;
	}
	if (!dry_run && !t->dry_run && (r = open_timeouts(w, c)) < 0)
		return r;
	w->max_daemons = t->max_daemons;
	if (!w->max_daemons && (r = esmtpd_read_maxdaemons(t->esmtpd, &w->max_daemons)) < 0)
		log_warning_errno(r,
				  "tuner: cannot read MAXDAEMONS from %s (%m); the share of "
				  "connections is not a signal",
				  t->esmtpd);
	r = tuner_new(&w->params, &w->tuner);
	if (r < 0)
		return log_error_errno(r, "tuner: %m");
	*ret = TAKE_PTR(w);
	return 0;
}

void wave_stop(struct wave *w)
{
	char msg[512];

	if (!w || !w->timeouts || timeouts_level(w->timeouts) == TUNER_NORMAL)
		return;
	int r = timeouts_apply(w->timeouts, TUNER_NORMAL, msg, sizeof(msg));
	if (r < 0)
		log_error_errno(r, "tuner: cannot restore Courier's timeout files: %m");
	else
		log_notice("tuner: restored Courier's timeout files: %s", msg);
}

/* ---- the interval: sample, probe, row ---- */

void wave_feed_row(struct wave *w, const struct history_row *row)
{
	struct history_row copy = *row, *r = &copy;
	int k;

	watch_server(w, r);
	if (w->history && (k = history_append(w->history, r)) < 0) {
		if (!w->history_failed)
			log_warning_errno(k, "cannot append to the history: %m");
		w->history_failed = true;
	} else
		w->history_failed = false;
	w->last = *r;
	w->has_last = true;
	if (w->tuner)
		tune(w, r);
	if (w->ops && w->ops->row)
		w->ops->row(r, w->userdata);
}

static void finish_row(struct wave *w)
{
	if (!w->has_pending)
		return;
	w->has_pending = false;
	wave_feed_row(w, &w->pending);
}

/* The first probe, at start: one clear line on whether the server can be reached at all, so
 * that a wrong target or a stopped server shows at once, not after three samples. */
static void startup_result(struct wave *w, enum probe_status status, uint64_t latency_usec,
			   int error)
{
	w->startup_probe = false;
	if (status == PROBE_OK) {
		log_info("probe: the mail server at %s answers (220 in %llu ms)", w->target,
			 (unsigned long long)(latency_usec / 1000));
		return;
	}
	if (status != PROBE_REFUSED && status != PROBE_ERROR) {
		log_warning("probe: the mail server at %s gave no banner at start (%s: %s)",
			    w->target, probe_status_to_string(status), strerror(error));
		return;
	}
	struct history_row r = { .probe_ms = -1 };
	sd_event_now(w->event, CLOCK_REALTIME, &r.time_usec);
	snprintf(r.probe_status, sizeof(r.probe_status), "%s", probe_status_to_string(status));
	w->down = true;
	w->down_since_usec = r.time_usec;
	snprintf(w->down_why, sizeof(w->down_why), "%s (%s)", r.probe_status, strerror(error));
	alert_down(w, &r, false);
}

static void on_probe(enum probe_status status, uint64_t latency_usec, int error, void *userdata)
{
	struct wave *w = userdata;

	if (w->startup_probe) {
		startup_result(w, status, latency_usec, error);
		return;
	}
	if (!w->has_pending)
		return;
	snprintf(w->pending.probe_status, sizeof(w->pending.probe_status), "%s",
		 probe_status_to_string(status));
	w->pending.probe_ms = status == PROBE_OK ? (int64_t)(latency_usec / 1000) : -1;
	finish_row(w);
}

/* ---- the reaper ---- */

static bool reaping(const struct wave *w)
{
	return w->reap_on && tuner_level(w->tuner) >= w->reap_level;
}

/* A connection of the sample: an idle holder that no allowlist covers is a candidate. In dry-run
 * mode nothing is closed, so each holder is told once: at the pass its silence crossed idle. */
static void on_conn(const struct sampler_conn *c, void *userdata)
{
	struct wave *w = userdata;

	if (reaper_judge(&w->reap_params, w->reap_idle_ms, c) != REAPER_REAP)
		return;
	if (w->dry_run && w->reap_pass_usec &&
	    (int64_t)reaper_silence_ms(c) -
			    (int64_t)((w->reap_now_usec - w->reap_pass_usec) / 1000) >=
		    (int64_t)w->reap_idle_ms)
		return;
	if (w->ops->allowed && w->ops->allowed(&c->peer, w->userdata))
		return;
	reaper_batch_offer(&w->batch, c);
}

static void log_reaped(const struct wave *w, const struct sampler_conn *c)
{
	char a[ADDR_STRLEN], f_addr[ADDR_STRLEN + 32], f_port[48], f_silence[48], f_bytes[64];
	uint32_t silence = reaper_silence_ms(c);

	addr_format(&c->peer, a, sizeof(a));
	snprintf(f_addr, sizeof(f_addr), "WAVEGUARD_ADDRESS=%s", a);
	snprintf(f_port, sizeof(f_port), "WAVEGUARD_PORT=%u", c->local_port);
	snprintf(f_silence, sizeof(f_silence), "WAVEGUARD_SILENCE_MS=%u", silence);
	snprintf(f_bytes, sizeof(f_bytes), "WAVEGUARD_BYTES_RECEIVED=%llu",
		 (unsigned long long)c->bytes_received);
	const char *const fields[] = { f_addr, f_port, f_silence, f_bytes, NULL };
	log_event(LOG_NOTICE, LOG_MESSAGE_REAP, fields,
		  "reaper: %s the idle connection of %s to port %u: silent %u.%u s after the "
		  "server's last reply (limit %u s%s), %llu bytes received",
		  w->dry_run ? "would close" : "closed", a, c->local_port, silence / 1000,
		  silence % 1000 / 100, w->reap_idle_ms / 1000,
		  w->reap_idle_ms < w->reap_params.idle_ms ? " with the server nearly full" : "",
		  (unsigned long long)c->bytes_received);
}

/* The kernel refused to close a socket at all: said once, and the reaper stops. */
static void reaper_refused(struct wave *w, int r)
{
	w->reap_on = false;
	w->reap_state = "unsupported";
	log_warning_errno(r,
			  "reaper: the kernel refuses to close sockets (%m%s): idle holders are "
			  "left to Courier's timeouts",
			  r == -EPERM ? ": waveguard needs CAP_NET_ADMIN" : "");
}

/* Closes the pass's candidates, longest silent first, after their hits went to the owner and
 * its bans to the kernel (a holder told by the reset reconnects at once: its SYN must meet the
 * ban). Returns how many were closed. */
static uint32_t reap(struct wave *w)
{
	uint32_t n = 0;

	for (size_t i = 0; i < w->batch.n && w->ops->reaped; i++)
		w->ops->reaped(&w->batch_v[i], w->userdata);
	if (w->batch.n && w->ops->flush)
		w->ops->flush(w->userdata);
	for (size_t i = 0; i < w->batch.n && w->reap_on; i++) {
		const struct sampler_conn *c = &w->batch_v[i];
		int r = w->dry_run ? 0 : sampler_destroy(w->sampler, c);
		if (r == -ENOENT || r == -ESTALE) /* closed meanwhile (by Courier or the client) */
			continue;
		if (r == -EOPNOTSUPP || r == -EPERM) {
			reaper_refused(w, r);
			break;
		}
		if (r < 0) {
			char a[ADDR_STRLEN];
			log_warning_errno(r, "reaper: cannot close the connection of %s: %m",
					  addr_format(&c->peer, a, sizeof(a)));
			continue;
		}
		n++;
		log_reaped(w, c);
	}
	if (w->batch.over)
		log_info("reaper: %zu more idle connections than max_per_pass (%zu): the next "
			 "sample takes them",
			 w->batch.over, w->batch.cap);
	w->reaped_total += n;
	return n;
}

/* The connection counts of the row; addresses holding too many are the owner's hits; from the
 * reaper's level up, the idle holders are closed. */
static void sample(struct wave *w)
{
	struct sample s;
	bool reap_pass = reaping(w);
	int r;

	if (reap_pass) {
		reaper_batch_init(&w->batch, w->batch_v, w->batch.cap);
		sd_event_now(w->event, CLOCK_MONOTONIC, &w->reap_now_usec);
		/* The load of the last sample says how short the silence may be. */
		w->reap_idle_ms = reaper_idle(&w->reap_params, w->last_established, w->max_daemons);
	}
	r = sampler_sample_conns(w->sampler, &s, reap_pass ? on_conn : NULL, w);
	if (r < 0) {
		log_warning_errno(r, "cannot count the connections: %m");
		return;
	}
	w->last_established = s.established;
	if (reap_pass) {
		w->pending.reaped = reap(w);
		w->reap_pass_usec = w->reap_now_usec;
	} else
		w->reap_pass_usec = 0;
	w->pending.established = s.established;
	w->pending.syn_recv = s.syn_recv;
	w->pending.other = s.other;
	w->pending.backlog = s.backlog;
	w->pending.distinct = s.distinct;
	for (size_t i = 0; w->max_concurrent && i < s.n_top; i++)
		if (s.top[i].count > w->max_concurrent && w->ops->hit)
			w->ops->hit(&s.top[i].addr, s.top[i].count, w->userdata);
}

static void tick(struct wave *w)
{
	uint64_t now = 0;

	/* The previous interval's probe has not answered within a whole interval. */
	if (w->has_pending) {
		snprintf(w->pending.probe_status, sizeof(w->pending.probe_status), "pending");
		w->pending.probe_ms = -1;
		finish_row(w);
	}

	sd_event_now(w->event, CLOCK_REALTIME, &now);
	w->pending = (struct history_row){ .time_usec = now, .probe_ms = -1 };
	snprintf(w->pending.tuner, sizeof(w->pending.tuner), "%s",
		 tuner_level_to_string(wave_level(w)));
	snprintf(w->pending.probe_status, sizeof(w->pending.probe_status), "off");
	w->pending.new_bans = w->new_bans;
	w->new_bans = 0;
	w->pending.active_bans =
		w->ops->active_bans ? (uint32_t)w->ops->active_bans(w->userdata) : 0;
	if (w->sampler)
		sample(w);
	w->has_pending = true;
	if (w->probe) {
		if (!probe_running(w->probe)) {
			if (probe_start(w->probe) >= 0)
				return; /* the row is finished by on_probe() */
		} else
			/* The last probe is still waiting for its banner after a whole interval:
			 * the server is not answering, and this row says so (not "off"). */
			snprintf(w->pending.probe_status, sizeof(w->pending.probe_status),
				 "pending");
	}
	finish_row(w);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct wave *w = userdata;
	tick(w);
	sd_event_source_set_time(s, usec + interval(w));
	return 0;
}

static int open_history(struct wave *w, const struct config *c)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (c->sampler.history)
		path = strdup(c->sampler.history);
	else if (asprintf(&path, "%s/history.csv", c->state_dir) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	r = history_open(path, c->sampler.history_max, &w->history);
	if (r < 0)
		return log_error_errno(r, "history %s: %m", path);
	return 0;
}

int wave_probe_target(const struct config *c, char *addr, size_t size, uint16_t *ret_port,
		      const char **ret_origin)
{
	uint16_t port = 25;
	int r;

	if (c->probe.address && c->probe.port) {
		snprintf(addr, size, "%s", c->probe.address);
		*ret_port = c->probe.port;
		*ret_origin = "[probe]";
		return 0;
	}
	*ret_origin = c->tuner.esmtpd;
	r = esmtpd_listen_target(c->tuner.esmtpd, addr, size, &port);
	if (r < 0) {
		snprintf(addr, size, "127.0.0.1");
		port = 25;
	}
	/* Half a target in [probe] still wins over the file. */
	if (c->probe.address)
		snprintf(addr, size, "%s", c->probe.address);
	if (c->probe.port)
		port = c->probe.port;
	*ret_port = port;
	return r;
}

static int start_probe(struct wave *w, const struct config *c)
{
	char addr[64];
	uint16_t port;
	const char *origin;
	int r = wave_probe_target(c, addr, sizeof(addr), &port, &origin);

	if (r < 0)
		log_warning_errno(r,
				  "probe: cannot tell from %s where Courier listens (%m); "
				  "probing %s port %u",
				  origin, addr, port);
	snprintf(w->target, sizeof(w->target), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
	r = probe_new(w->event, addr, port, c->probe.timeout_usec, on_probe, w, &w->probe);
	if (r < 0)
		return log_error_errno(r, "cannot prepare the probe of %s: %m", w->target);
	if (probe_start(w->probe) >= 0)
		w->startup_probe = true;
	return 0;
}

/* The reaper, when [reaper] asks for it and it can work: a tuner to say when a wave lasts, the
 * sampler's dumps, and a kernel that can close sockets (asked once, and said once when not). */
static int start_reaper(struct wave *w, const struct config *c)
{
	const struct config_reaper *rc = &c->reaper;
	int r;

	w->reap_level = config_reaper_level(rc);
	w->fast_level = rc->enabled ? w->reap_level : TUNER_WAVE;
	if (!rc->enabled || !w->sampler)
		return 0;
	if (!w->tuner) {
		log_info("reaper: without the tuner there is no wave level: the reaper never runs");
		return 0;
	}
	r = sampler_destroy_supported(w->sampler);
	if (r == 0) {
		w->reap_state = "unsupported";
		log_warning(
			"reaper: this kernel cannot close sockets (it lacks "
			"CONFIG_INET_DIAG_DESTROY): idle holders are left to Courier's timeouts");
		return 0;
	}
	if (r < 0) {
		w->reap_state = "unsupported";
		log_warning_errno(r, "reaper: cannot ask the kernel to close sockets (%m): idle "
				     "holders are left to Courier's timeouts");
		return 0;
	}
	w->batch_v = calloc(rc->max_per_pass, sizeof(*w->batch_v));
	if (!w->batch_v)
		return log_error_errno(-ENOMEM, "reaper: %m");
	reaper_batch_init(&w->batch, w->batch_v, rc->max_per_pass);
	w->reap_params = (struct reaper_params){
		.idle_ms = (uint32_t)MIN(rc->idle_usec / 1000, UINT32_MAX),
		.idle_full_ms = (uint32_t)MIN(rc->idle_full_usec / 1000, UINT32_MAX),
		.full_fraction = rc->full_fraction,
		.greeting_bytes = rc->greeting_bytes,
	};
	w->reap_on = true;
	w->reap_state = w->dry_run ? "dry-run" : "on";
	return 0;
}

int wave_start(struct wave *w, const struct config *c, const struct wave_ops *ops, void *userdata)
{
	uint64_t now = 0;
	int r;

	w->ops = ops;
	w->userdata = userdata;
	w->interval_usec = c->sampler.interval_usec;
	w->wave_interval_usec = c->sampler.wave_interval_usec;
	w->max_concurrent = c->sampler.max_concurrent;
	if (c->sampler.enabled) {
		r = sampler_new(c->sampler.ports, c->sampler.n_ports, &w->sampler);
		if (r < 0)
			return log_error_errno(
				r, "cannot open the connection sampler (sock_diag): %m");
		r = open_history(w, c);
		if (r < 0)
			return r;
	}
	r = start_reaper(w, c);
	if (r < 0)
		return r;
	if (c->probe.enabled) {
		r = start_probe(w, c);
		if (r < 0)
			return r;
	}
	if (!w->sampler && !w->probe)
		return 0;
	sd_event_now(w->event, CLOCK_MONOTONIC, &now);
	r = sd_event_add_time(w->event, &w->timer, CLOCK_MONOTONIC, now + interval(w), 0, on_timer,
			      w);
	if (r < 0)
		return log_error_errno(r, "cannot add the watch timer: %m");
	sd_event_source_set_description(w->timer, "watch");
	sd_event_source_set_enabled(w->timer, SD_EVENT_ON);
	return 0;
}

void wave_note_ban(struct wave *w)
{
	w->new_bans++;
}

void wave_note_overload(struct wave *w)
{
	w->overload_event = true;
}

const struct history_row *wave_last(const struct wave *w)
{
	return w->has_last ? &w->last : NULL;
}

bool wave_tuning(const struct wave *w)
{
	return w->tuner;
}

enum tuner_level wave_level(const struct wave *w)
{
	return w->tuner ? tuner_level(w->tuner) : TUNER_NORMAL;
}

const char *wave_reason(const struct wave *w)
{
	return w->reason;
}

bool wave_server_down(const struct wave *w, uint64_t *ret_since_usec, const char **ret_why)
{
	if (w->down) {
		*ret_since_usec = w->down_since_usec;
		*ret_why = w->down_why;
	}
	return w->down;
}

const char *wave_reaper_state(const struct wave *w)
{
	return w->reap_state;
}

uint64_t wave_reaped_total(const struct wave *w)
{
	return w->reaped_total;
}

struct wave *wave_free(struct wave *w)
{
	if (!w)
		return NULL;
	free(w->batch_v);
	sd_event_source_disable_unref(w->timer);
	probe_free(w->probe);
	sampler_free(w->sampler);
	history_free(w->history);
	tuner_free(w->tuner);
	timeouts_free(w->timeouts);
	sd_event_unref(w->event);
	free(w);
	return NULL;
}
