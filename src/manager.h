/* The daemon: one manager on one sd-event loop owns the configuration, the runtime jails, the
 * sources, the ban table, the actions, the wave room and the control socket, and carries each
 * line from a source to a ban. The commands room (commands.c) reads its parts and asks it to
 * ban, lift and reload; nothing else changes them. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "bans.h"
#include "config.h"
#include "engine.h"
#include "macro.h"

struct manager {
	sd_event *event;
	char *config_dir;
	struct config *config;
	struct engine *engine;
	struct sources *sources;
	struct bans *bans;
	struct actions *actions;
	struct control *control;
	struct wave *wave;
	struct fleet *fleet; /* [fleet]: NULL when off */
	struct zone *zone;   /* [dnsbl]: NULL when off */
	bool dry_run;
	sd_event_source *sigterm_source, *sigint_source, *sighup_source;
	sd_event_source *status_timer, *maintain_timer, *reload_defer;
	uint64_t start_usec;
	uint64_t lines, decisions, events, reloads;
	uint64_t bans_evicted_told, bans_told_usec; /* the warning about the ban table's cap */
	bool bans_unsaved_told; /* banning.c: the warning that the ban table cannot be written */
	sd_event_source *end_timer; /* banning.c: the ends of bans */
	uint64_t next_end_usec, last_end_scan_usec;
	uint64_t reload_failed_usec; /* the last reload was refused then (0: it was not) */
	char reload_error[512];	     /* and why */
};

/* Takes ownership of config; config_dir is where a reload reads it again. dry_run: decisions
 * are printed and logged, the kernel and commands are left alone. Returns 0 or -errno. */
int manager_new(const char *config_dir, struct config *config, bool dry_run, struct manager **ret);

/* Prepares the state directory, restores the bans still in force, opens the sources (resuming
 * saved positions), the control socket and the signal handlers. Fails fast: returns -errno
 * with the reason logged. */
int manager_start(struct manager *m);

/* Runs the loop until SIGTERM/SIGINT; saves positions on the way out. Returns 0 or -errno. */
int manager_run(struct manager *m);

/* The loop's realtime clock, in microseconds. */
uint64_t manager_now(const struct manager *m);

/* Reads the configuration again from the loop, after the current handler returns. */
void manager_request_reload(struct manager *m);

/* Reads the configuration again now and swaps it in whole; a broken one is refused (the
 * running one stays) and the reason kept in reload_error. Returns 0 or -errno. */
int manager_reload(struct manager *m);

struct manager *manager_free(struct manager *m);
DEFINE_FREE_FUNC(struct manager, manager_free)
