/* The watch: one interval timer drives a sock_diag sample, a probe and a history row. The probe
 * answers asynchronously; its row is completed then (or marked "pending" when the next interval
 * comes first, so that there is exactly one row per interval). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "probe.h"
#include "sampler.h"
#include "watch.h"

struct watch {
	sd_event *event;
	const struct watch_ops *ops;
	void *userdata;
	uint64_t interval_usec;
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
	char level[16];
	bool history_failed; /* logged once */
};

static void finish_row(struct watch *w)
{
	struct history_row *r = &w->pending;
	int k;

	if (!w->has_pending)
		return;
	w->has_pending = false;
	if (w->history && (k = history_append(w->history, r)) < 0) {
		if (!w->history_failed)
			log_warning_errno(k, "cannot append to the history: %m");
		w->history_failed = true;
	} else
		w->history_failed = false;
	w->last = *r;
	w->has_last = true;
	if (w->ops->row)
		w->ops->row(r, w->userdata);
}

static void on_probe(enum probe_status status, uint64_t latency_usec, int error, void *userdata)
{
	struct watch *w = userdata;
	(void)error;

	if (!w->has_pending)
		return;
	snprintf(w->pending.probe_status, sizeof(w->pending.probe_status), "%s",
		 probe_status_to_string(status));
	w->pending.probe_ms = status == PROBE_OK ? (int64_t)(latency_usec / 1000) : -1;
	finish_row(w);
}

static void tick(struct watch *w)
{
	struct sample s;
	uint64_t now = 0;
	int r;

	/* The previous interval's probe has not answered within a whole interval. */
	if (w->has_pending) {
		snprintf(w->pending.probe_status, sizeof(w->pending.probe_status), "pending");
		w->pending.probe_ms = -1;
		finish_row(w);
	}

	sd_event_now(w->event, CLOCK_REALTIME, &now);
	w->pending = (struct history_row){ .time_usec = now, .probe_ms = -1 };
	snprintf(w->pending.tuner, sizeof(w->pending.tuner), "%s", w->level);
	snprintf(w->pending.probe_status, sizeof(w->pending.probe_status), "off");
	w->pending.new_bans = w->new_bans;
	w->new_bans = 0;
	w->pending.active_bans = w->ops->active_bans ? (uint32_t)w->ops->active_bans(w->userdata) : 0;

	if (w->sampler) {
		r = sampler_sample(w->sampler, &s);
		if (r < 0)
			log_warning_errno(r, "cannot count the connections: %m");
		else {
			w->pending.established = s.established;
			w->pending.syn_recv = s.syn_recv;
			w->pending.other = s.other;
			w->pending.backlog = s.backlog;
			w->pending.distinct = s.distinct;
			for (size_t i = 0; w->max_concurrent && i < s.n_top; i++)
				if (s.top[i].count > w->max_concurrent && w->ops->hit)
					w->ops->hit(&s.top[i].addr, s.top[i].count, w->userdata);
		}
	}
	w->has_pending = true;
	if (w->probe) {
		if (!probe_running(w->probe)) {
			if (probe_start(w->probe) >= 0)
				return; /* the row is finished by on_probe() */
		} else
			/* The last probe is still waiting for its banner after a whole interval: the
			 * server is not answering, and this row says so (not "off"). */
			snprintf(w->pending.probe_status, sizeof(w->pending.probe_status),
				 "pending");
	}
	finish_row(w);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct watch *w = userdata;
	tick(w);
	sd_event_source_set_time(s, usec + w->interval_usec);
	return 0;
}

int watch_new(sd_event *e, const struct config *c, const struct watch_ops *ops, void *userdata,
	      struct watch **ret)
{
	_cleanup_(watch_freep) struct watch *w = calloc(1, sizeof(*w));
	_cleanup_free_ char *path = NULL;
	uint64_t now = 0;
	int r;

	if (!w)
		return -ENOMEM;
	w->event = sd_event_ref(e);
	w->ops = ops;
	w->userdata = userdata;
	w->interval_usec = c->sampler.interval_usec;
	w->max_concurrent = c->sampler.max_concurrent;
	snprintf(w->level, sizeof(w->level), "normal");

	if (c->sampler.enabled) {
		r = sampler_new(c->sampler.ports, c->sampler.n_ports, &w->sampler);
		if (r < 0)
			return log_error_errno(r, "cannot open the connection sampler (sock_diag): %m");
		if (c->sampler.history)
			path = strdup(c->sampler.history);
		else if (asprintf(&path, "%s/history.csv", c->state_dir) < 0)
			path = NULL;
		if (!path)
			return -ENOMEM;
		r = history_open(path, c->sampler.history_max, &w->history);
		if (r < 0)
			return log_error_errno(r, "history %s: %m", path);
	}
	if (c->probe.enabled) {
		r = probe_new(e, c->probe.address, c->probe.port, c->probe.timeout_usec, on_probe, w,
			      &w->probe);
		if (r < 0)
			return log_error_errno(r, "cannot prepare the probe of %s port %u: %m",
					       c->probe.address, c->probe.port);
	}
	if (!w->sampler && !w->probe) {
		*ret = TAKE_PTR(w);
		return 0;
	}
	sd_event_now(e, CLOCK_MONOTONIC, &now);
	r = sd_event_add_time(e, &w->timer, CLOCK_MONOTONIC, now + w->interval_usec, 0, on_timer, w);
	if (r < 0)
		return log_error_errno(r, "cannot add the watch timer: %m");
	sd_event_source_set_description(w->timer, "watch");
	sd_event_source_set_enabled(w->timer, SD_EVENT_ON);
	*ret = TAKE_PTR(w);
	return 0;
}

void watch_note_ban(struct watch *w)
{
	w->new_bans++;
}

void watch_set_level(struct watch *w, const char *level)
{
	snprintf(w->level, sizeof(w->level), "%s", level);
}

const struct history_row *watch_last(const struct watch *w)
{
	return w->has_last ? &w->last : NULL;
}

struct watch *watch_free(struct watch *w)
{
	if (!w)
		return NULL;
	sd_event_source_disable_unref(w->timer);
	probe_free(w->probe);
	sampler_free(w->sampler);
	history_free(w->history);
	sd_event_unref(w->event);
	free(w);
	return NULL;
}
