/* The daemon: one manager on one sd-event loop owns the configuration, the runtime jails, the
 * log sources, the ban table, the actions and the control socket, and carries each line from a
 * source to a ban. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "macro.h"

struct manager;

/* Takes ownership of config; config_dir is where a reload reads it again. dry_run: decisions
 * are printed and logged, the kernel and commands are left alone. Returns 0 or -errno. */
int manager_new(const char *config_dir, struct config *config, bool dry_run,
		struct manager **ret);

/* Prepares the state directory, restores the bans still in force, opens the sources (resuming
 * saved positions), the control socket and the signal handlers. Fails fast: returns -errno
 * with the reason logged. */
int manager_start(struct manager *m);

/* Runs the loop until SIGTERM/SIGINT; saves positions on the way out. Returns 0 or -errno. */
int manager_run(struct manager *m);

struct manager *manager_free(struct manager *m);
DEFINE_FREE_FUNC(struct manager, manager_free)
