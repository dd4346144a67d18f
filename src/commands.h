/* The commands room: what the control socket's requests do (status, list, ban, unban, reload)
 * and the status snapshot they and the manager's STATUS= and metrics share. */
#pragma once

#include <stdio.h>

#include "control.h"
#include "manager.h"
#include "status.h"

/* The control socket's handler (control_handler_fn); userdata is the struct manager. */
int commands_handle(const struct control_request *req, FILE *out, void *userdata);

/* Fills st with the manager's counters of now. Returns 0 or -ENOMEM; status_clear() frees
 * it. */
int commands_snapshot(const struct manager *m, struct status *st);

/* Says (at most once a minute each) when a jail forgets addresses at its max_tracked cap, or
 * the ban table drops bans at max_bans: the daemon is under a flood. */
void commands_warn_pressure(struct manager *m);
