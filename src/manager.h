/* The daemon: one manager on one sd-event loop owns the configuration, the runtime jails and
 * the log sources, and carries each line from a source to a ban decision. */
#pragma once

#include "config.h"
#include "macro.h"

struct manager;

/* Takes ownership of config. Returns 0 or -errno. */
int manager_new(struct config *config, struct manager **ret);

/* Prepares the state directory, opens the sources (resuming saved positions) and installs the
 * signal handlers. Fails fast: returns -errno with the reason logged. */
int manager_start(struct manager *m);

/* Runs the loop until SIGTERM/SIGINT; saves positions on the way out. Returns 0 or -errno. */
int manager_run(struct manager *m);

struct manager *manager_free(struct manager *m);
DEFINE_FREE_FUNC(struct manager, manager_free)
