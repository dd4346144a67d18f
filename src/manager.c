/* The daemon's manager: wiring and life cycle. It builds the rooms (sources, jails, ban table,
 * actions, wave, control socket) on one sd-event loop, carries each line from the sources'
 * sink through the jails to a ban, reloads on SIGHUP, and stops on SIGTERM. The commands live
 * in commands.c, the sources and their positions in sources.c, the watch and the tuner in
 * wave.c. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "actions.h"
#include "banning.h"
#include "commands.h"
#include "control.h"
#include "fleet.h"
#include "log.h"
#include "manager.h"
#include "reaper.h"
#include "sources.h"
#include "state.h"
#include "wave.h"
#include "zone.h"

#define BANS_FILE	     "bans"
#define STATUS_PERIOD_USEC   (5 * USEC_PER_SEC)
#define MAINTAIN_PERIOD_USEC (3600 * USEC_PER_SEC)

uint64_t manager_now(const struct manager *m)
{
	uint64_t t = 0;
	sd_event_now(m->event, CLOCK_REALTIME, &t);
	return t;
}

/* ---- the line -> ban path ---- */

/* The sources' sink: one line (from a file or the journal) for the jails that read it. */
static void feed(struct engine_jail *const *jails, size_t n_jails, const struct logline *l,
		 void *userdata)
{
	struct manager *m = userdata;
	uint64_t now = manager_now(m);
	struct jail_ban jb;

	m->lines++;
	/* A line's own time is the clock of its jail; one from the future (skewed host) counts as
	 * now. */
	uint64_t t = l->time_usec && l->time_usec < now ? l->time_usec : now;

	for (size_t i = 0; i < n_jails; i++) {
		struct engine_jail *ej = jails[i];
		/* Old lines (read again after a long stop, or a first start on an old log) are
		 * outside every window already. */
		if (t + ej->conf->findtime_usec < now)
			continue;
		switch (engine_feed(ej, l, t, &jb)) {
		case ENGINE_BAN:
			banning_apply_jail_ban(m, ej, &jb);
			break;
		case ENGINE_EVENT:
			m->events++;
			wave_note_overload(m->wave);
			log_event(LOG_NOTICE, LOG_MESSAGE_EVENT, NULL, "%s: %.*s", ej->conf->name,
				  (int)MIN(l->msg_len, 200), l->msg);
			break;
		}
	}
}

static void on_nft_lost(struct actions *a, void *userdata)
{
	struct manager *m = userdata;
	if (actions_setup(a) >= 0)
		banning_restore_kernel(m);
}

/* ---- STATUS= and the metrics ---- */

/* STATUS= and, after a sample, the metrics: both from one snapshot. */
static void publish(struct manager *m, bool metrics)
{
	struct status st;
	char line[512];
	int r;

	if (commands_snapshot(m, &st) < 0)
		return;
	status_format_line(&st, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s", line);
	if (metrics && m->config->metrics &&
	    (r = status_write_metrics(&st, m->config->metrics)) < 0)
		log_warning_errno(r, "cannot write the metrics to %s: %m", m->config->metrics);
	status_clear(&st);
}

/* ---- the wave room's callbacks ---- */

static void on_wave_hit(const struct addr *a, uint32_t connections, void *userdata)
{
	struct manager *m = userdata;
	const char *name = m->config->sampler.concurrency_jail;
	struct engine_jail *ej = name ? engine_find_jail(m->engine, name) : NULL;
	struct jail_ban jb;
	char s[ADDR_STRLEN];

	char line[96];
	uint64_t now = manager_now(m);

	addr_format(a, s, sizeof(s));
	log_info("%s holds %u connections", s, connections);
	if (!ej)
		return;
	/* The sample is the evidence: no log line names these connections. */
	int n = snprintf(line, sizeof(line), "%s held %u established connections", s, connections);
	uint32_t tag =
		ej->evidence ? evidence_put(ej->evidence, now, "sampler", 7, line, (size_t)n) : 0;
	if (jail_hit(ej->jail, a, now, tag, &jb) == JAIL_BAN)
		banning_apply_jail_ban(m, ej, &jb);
}

/* The reaper leaves alone what no jail may ban: the global allowlist, and the reaper jail's own
 * (the whole network its ban would cover, as for a ban). */
static bool on_wave_allowed(const struct addr *a, void *userdata)
{
	struct manager *m = userdata;
	const char *name = m->config->reaper.jail;
	const struct config_jail *j = name ? config_find_jail(m->config, name) : NULL;

	return engine_allowlisted(m->engine, m->config, j, a);
}

/* An idle holder the reaper closes is a hit for the reaper's jail, with what the kernel showed
 * as its evidence. */
static void on_wave_reaped(const struct sampler_conn *c, void *userdata)
{
	struct manager *m = userdata;
	const char *name = m->config->reaper.jail;
	struct engine_jail *ej = name ? engine_find_jail(m->engine, name) : NULL;
	uint32_t silence = reaper_silence_ms(c);
	uint64_t now = manager_now(m);
	char s[ADDR_STRLEN], line[160];
	struct jail_ban jb;

	if (!ej)
		return;
	int n = snprintf(line, sizeof(line),
			 "%s port %u: silent %u.%u s after the server's last reply, %llu bytes "
			 "received: an idle holder",
			 addr_format(&c->peer, s, sizeof(s)), c->local_port, silence / 1000,
			 silence % 1000 / 100, (unsigned long long)c->bytes_received);
	uint32_t tag = ej->evidence ? evidence_put(ej->evidence, now, "reaper", 6, line,
						   (size_t)MIN(n, (int)sizeof(line) - 1))
				    : 0;
	if (jail_hit(ej->jail, &c->peer, now, tag, &jb) == JAIL_BAN)
		banning_apply_jail_ban(m, ej, &jb);
}

static void on_wave_flush(void *userdata)
{
	struct manager *m = userdata;
	(void)actions_flush(m->actions); /* logs its own failure */
}

static size_t on_wave_active_bans(void *userdata)
{
	struct manager *m = userdata;
	return bans_active(m->bans, manager_now(m));
}

static void on_wave_row(const struct history_row *r, void *userdata)
{
	(void)r;
	publish(userdata, true);
}

static const struct wave_ops wave_ops = {
	.hit = on_wave_hit,
	.active_bans = on_wave_active_bans,
	.row = on_wave_row,
	.allowed = on_wave_allowed,
	.reaped = on_wave_reaped,
	.flush = on_wave_flush,
};

/* ---- timers, reload, signals ---- */

/* The trap lists whose files changed are loaded again; a refused file is told once and the
 * list in force stays. */
static void refresh_traps(struct manager *m)
{
	for (size_t i = 0; i < m->engine->n_jails; i++) {
		struct engine_jail *ej = &m->engine->jails[i];
		struct config_errors errs = { 0 };
		int r = ej->trap ? traplist_refresh(ej->trap, &errs) : 0;

		for (size_t k = 0; k < errs.n; k++)
			log_error("%s", errs.msgs[k]);
		config_errors_clear(&errs);
		if (r > 0)
			log_info("%s: trap list %s loaded: %zu %s", ej->conf->name,
				 traplist_path(ej->trap), traplist_size(ej->trap),
				 traplist_size(ej->trap) == 1 ? "entry" : "entries");
		else if (r < 0)
			log_warning("%s: trap list %s refused; the %zu read before stay",
				    ej->conf->name, traplist_path(ej->trap),
				    traplist_size(ej->trap));
	}
}

/* What the jails' trap lists hold after a start or a reload. */
static void tell_traps(const struct engine *e)
{
	for (size_t i = 0; i < e->n_jails; i++) {
		const struct engine_jail *ej = &e->jails[i];
		if (ej->trap && traplist_size(ej->trap))
			log_info("%s: trap list %s: %zu %s", ej->conf->name,
				 traplist_path(ej->trap), traplist_size(ej->trap),
				 traplist_size(ej->trap) == 1 ? "entry" : "entries");
		else if (ej->trap)
			log_warning("%s: trap list %s is empty: the jail bans nobody until it has "
				    "entries",
				    ej->conf->name, traplist_path(ej->trap));
	}
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	refresh_traps(userdata);
	commands_warn_pressure(userdata);
	publish(userdata, false);
	sd_event_source_set_time(s, usec + STATUS_PERIOD_USEC);
	return 0;
}

static int on_maintain_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	int r = bans_maintain(m->bans, manager_now(m));
	if (r < 0)
		log_warning_errno(r, "cannot compact the ban table: %m");
	sd_event_source_set_time(s, usec + MAINTAIN_PERIOD_USEC);
	return 0;
}

/* A new configuration and its jails, or the errors logged (the first one kept for status and
 * the reload command). */
static int load_config(struct manager *m, struct config **ret_c, struct engine **ret_e)
{
	struct config_errors errs = { 0 };
	int r = config_load(m->config_dir, ret_c, &errs);

	if (r >= 0)
		r = engine_new(*ret_c, NULL, ret_e, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("%s", errs.msgs[i]);
	if (r < 0)
		snprintf(m->reload_error, sizeof(m->reload_error), "%s%s",
			 errs.n ? errs.msgs[0] : strerror(-r),
			 errs.n > 1 ? " (and more: see check-config)" : "");
	config_errors_clear(&errs);
	return r;
}

/* Swaps the new configuration and jails in; the old ones are freed on return. */
static int swap_config(struct manager *m, struct config **c, struct engine **e)
{
	_cleanup_(config_freep) struct config *old_c = m->config;
	_cleanup_(engine_freep) struct engine *old_e = m->engine;

	sources_stop(m->sources);
	/* The running values that a restart keeps anyway stay too. */
	free((*c)->state_dir);
	(*c)->state_dir = strdup(old_c->state_dir);
	free((*c)->control_socket);
	(*c)->control_socket = strdup(old_c->control_socket);
	if (!(*c)->state_dir || !(*c)->control_socket) {
		m->config = old_c, m->engine = old_e;
		old_c = NULL, old_e = NULL;
		return -ENOMEM;
	}
	m->engine = TAKE_PTR(*e);
	m->config = TAKE_PTR(*c);
	banning_jails_dropped(m, old_c, old_e);
	return 0;
}

/* The DNSBL zone's host: this host's name in the fleet, or its host name. */
static void zone_host(const struct manager *m, char *buf, size_t size)
{
	if (m->fleet)
		snprintf(buf, size, "%s", fleet_host(m->fleet));
	else if (gethostname(buf, size - 1) < 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
}

/* [dnsbl] after a start or a reload: the zone starts, stops (its files stay as last written)
 * or takes the new values; a dry run writes none. Returns 0 or -errno. */
static int reload_zone(struct manager *m)
{
	char host[256];

	if (!m->config->dnsbl.enabled || m->dry_run) {
		m->zone = zone_free(m->zone);
		return 0;
	}
	if (m->zone) {
		zone_reconfigure(m->zone, &m->config->dnsbl);
		return 0;
	}
	zone_host(m, host, sizeof(host));
	return zone_new(m->event, &m->config->dnsbl, m->bans, host, &m->zone);
}

/* Reads the configuration again and swaps it whole; a broken one is refused and the running
 * one stays. The sources stop first (saving their positions), so the new ones resume exactly
 * there. */
static int reload(struct manager *m)
{
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_(engine_freep) struct engine *e = NULL;
	int r;

	log_info("reloading the configuration from %s", m->config_dir);
	r = load_config(m, &c, &e);
	if (r >= 0 && (r = actions_reconfigure(m->actions, c)) < 0)
		snprintf(m->reload_error, sizeof(m->reload_error),
			 "the actions could not be set up: %s", strerror(-r));
	if (r >= 0 && (strcmp(c->state_dir, m->config->state_dir) != 0 ||
		       strcmp(c->control_socket, m->config->control_socket) != 0 ||
		       strcmp(c->nft.table, m->config->nft.table) != 0))
		log_warning("state_dir, control_socket and [nft] changes take effect at the next "
			    "start");
	if (r >= 0 && (r = swap_config(m, &c, &e)) < 0)
		snprintf(m->reload_error, sizeof(m->reload_error), "out of memory");
	if (r < 0) {
		m->reload_failed_usec = manager_now(m);
		return log_error_errno(r, "reload refused, the running configuration stays: %m");
	}
	m->reload_failed_usec = 0;
	log_max_level = m->config->log_level;
	if (m->fleet)
		fleet_reconfigure(m->fleet, &m->config->fleet);
	else if (m->config->fleet.enabled)
		log_warning("fleet: [fleet] takes effect at the next start");
	reload_zone(m);
	bans_set_max(m->bans, m->config->max_bans);
	bans_set_max_evidence(m->bans, m->config->max_evidence);
	tell_traps(m->engine);
	banning_restore_jails(m);
	r = sources_start(m->sources, m->config, m->engine);
	m->reloads++;
	publish(m, false);
	return r;
}

int manager_reload(struct manager *m)
{
	sd_notify(0, "RELOADING=1");
	int r = reload(m);
	sd_notify(0, "READY=1");
	return r;
}

static int on_reload_defer(sd_event_source *s, void *userdata)
{
	(void)s;
	manager_reload(userdata);
	return 0;
}

void manager_request_reload(struct manager *m)
{
	/* Not from inside a handler: a reload replaces what the handler is using. */
	sd_event_source_set_enabled(m->reload_defer, SD_EVENT_ONESHOT);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;
	(void)s;

	if (si->ssi_signo == SIGHUP) {
		manager_request_reload(m);
		return 0;
	}
	log_info("received %s, stopping", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(m->event, 0);
}

/* ---- life cycle ---- */

int manager_new(const char *config_dir, struct config *config, bool dry_run, struct manager **ret)
{
	struct manager *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->config_dir = strdup(config_dir);
	if (!m->config_dir) {
		free(m);
		return -ENOMEM;
	}
	m->config = config;
	m->dry_run = dry_run;
	*ret = m;
	return 0;
}

static int add_timer(struct manager *m, sd_event_source **s, uint64_t usec,
		     sd_event_time_handler_t fn, const char *name)
{
	uint64_t now = 0;
	sd_event_now(m->event, CLOCK_MONOTONIC, &now);
	int r = sd_event_add_time(m->event, s, CLOCK_MONOTONIC, now + usec, 0, fn, m);
	if (r < 0)
		return log_error_errno(r, "cannot add the %s timer: %m", name);
	sd_event_source_set_description(*s, name);
	sd_event_source_set_enabled(*s, SD_EVENT_ON);
	return 0;
}

static int add_signals(struct manager *m)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_signal, m)) < 0)
		return log_error_errno(r, "cannot handle signals: %m");
	sd_event_source_set_description(m->sigterm_source, "sigterm");
	sd_event_source_set_description(m->sigint_source, "sigint");
	sd_event_source_set_description(m->sighup_source, "sighup");
	return 0;
}

/* The loop's own sources: timers, the deferred reload, signals, the watchdog. */
static int add_loop_sources(struct manager *m)
{
	int r;

	if ((r = add_timer(m, &m->status_timer, STATUS_PERIOD_USEC, on_status_timer, "status")) <
		    0 ||
	    (r = add_timer(m, &m->maintain_timer, MAINTAIN_PERIOD_USEC, on_maintain_timer,
			   "maintain-bans")) < 0)
		return r;
	r = sd_event_add_defer(m->event, &m->reload_defer, on_reload_defer, m);
	if (r < 0)
		return log_error_errno(r, "cannot add the reload source: %m");
	sd_event_source_set_description(m->reload_defer, "reload");
	sd_event_source_set_enabled(m->reload_defer, SD_EVENT_OFF);
	r = add_signals(m);
	if (r < 0)
		return r;
	/* WATCHDOG=1 from the loop itself when WATCHDOG_USEC is set: a hung loop stops it. */
	r = sd_event_set_watchdog(m->event, true);
	if (r < 0)
		log_warning_errno(r, "cannot enable the watchdog: %m");
	return 0;
}

/* The ban table, the actions, and what they give back to the jails and the kernel. */
static int start_bans(struct manager *m)
{
	_cleanup_free_ char *path = NULL;
	unsigned bad = 0;
	int r;

	if (asprintf(&path, "%s/" BANS_FILE, m->config->state_dir) < 0)
		return -ENOMEM;
	r = bans_open(path, m->start_usec, m->config->offence_memory_usec, &m->bans, &bad);
	if (r < 0)
		return log_error_errno(r, "cannot open the ban table %s: %m", path);
	bans_set_max(m->bans, m->config->max_bans);
	bans_set_max_evidence(m->bans, m->config->max_evidence);
	if (bad)
		log_warning("%s: %u unreadable lines skipped", path, bad);
	r = actions_new(m->event, m->config, m->dry_run, stdout, &m->actions);
	if (r < 0)
		return r;
	actions_set_lost_handler(m->actions, on_nft_lost, m);
	r = actions_setup(m->actions);
	if (r < 0)
		return r;
	banning_restore_jails(m);
	banning_restore_kernel(m);
	return banning_start(m);
}

static enum fleet_outcome on_fleet_entry(const struct fleet_entry *e, void *userdata)
{
	return banning_apply_remote(userdata, e);
}

int manager_start(struct manager *m)
{
	struct config *c = m->config;
	struct config_errors errs = { 0 };
	int r;

	r = state_ensure_dir(c->state_dir);
	if (r < 0)
		return log_error_errno(r, "state directory %s is not usable: %m", c->state_dir);
	r = sd_event_new(&m->event);
	if (r < 0)
		return log_error_errno(r, "cannot create the event loop: %m");
	m->start_usec = manager_now(m);

	/* The originals a crash left tuned come back first of all. */
	r = wave_new(m->event, c, m->dry_run, &m->wave);
	if (r < 0)
		return r;
	r = engine_new(c, NULL, &m->engine, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("%s", errs.msgs[i]);
	config_errors_clear(&errs);
	if (r < 0)
		return log_error_errno(r, "cannot build the jails: %m");
	if (m->engine->n_jails == 0)
		log_warning("no enabled jail: nothing to do but wait");
	tell_traps(m->engine);
	for (size_t i = 0; i < c->n_jails; i++) {
		const char *idle = config_jail_idle_action(&c->jails[i]);
		if (idle)
			log_warning(
				"jail %s can never ban (filter %s has no <HOST>): action %s never "
				"runs",
				c->jails[i].name, c->jails[i].filter_name, idle);
	}
	if ((r = start_bans(m)) < 0)
		return r;
	if (c->fleet.enabled && !m->dry_run &&
	    (r = fleet_new(m->event, &c->fleet, c->state_dir, on_fleet_entry, m, &m->fleet)) < 0)
		return r;
	if ((r = reload_zone(m)) < 0)
		return r;
	if ((r = sources_new(m->event, c->state_dir, feed, m, &m->sources)) < 0 ||
	    (r = sources_start(m->sources, c, m->engine)) < 0)
		return r;
	r = wave_start(m->wave, c, &wave_ops, m);
	if (r < 0)
		return r;
	r = control_new(m->event, c->control_socket, commands_handle, m, &m->control);
	if (r < 0)
		return log_error_errno(r, "control socket %s: %m", c->control_socket);
	return add_loop_sources(m);
}

int manager_run(struct manager *m)
{
	int r;

	sd_notify(0, "READY=1");
	publish(m, false);
	log_info("ready: %zu jails, %zu log files, %zu active bans%s", m->engine->n_jails,
		 sources_n_files(m->sources), bans_active(m->bans, manager_now(m)),
		 m->dry_run ? ", dry run" : "");
	r = sd_event_loop(m->event);
	sources_save(m->sources);
	fleet_save(m->fleet);
	actions_flush(m->actions);
	wave_stop(m->wave);
	log_info("stopped: %" PRIu64 " lines, %" PRIu64 " ban decisions, %" PRIu64 " events",
		 m->lines, m->decisions, m->events);
	return r < 0 ? log_error_errno(r, "event loop failed: %m") : 0;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	sources_free(m->sources);
	fleet_free(m->fleet);
	zone_free(m->zone);
	control_free(m->control);
	wave_free(m->wave);
	sd_event_source_disable_unref(m->status_timer);
	sd_event_source_disable_unref(m->maintain_timer);
	sd_event_source_disable_unref(m->reload_defer);
	sd_event_source_disable_unref(m->end_timer);
	sd_event_source_disable_unref(m->sigterm_source);
	sd_event_source_disable_unref(m->sigint_source);
	sd_event_source_disable_unref(m->sighup_source);
	actions_free(m->actions);
	bans_free(m->bans);
	engine_free(m->engine);
	sd_event_unref(m->event);
	config_free(m->config);
	free(m->config_dir);
	free(m);
	return NULL;
}
