/* Carries ban decisions to the configured actions: nftables elements (queued and sent as one
 * netlink batch per loop iteration, before any more lines are read), exec commands (queued,
 * run beside the loop) and the log action. In dry-run mode every action only reports. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "bans.h"
#include "config.h"

struct actions;

/* Opens what the configuration's actions need (the netlink socket unless dry_run). Decisions
 * of log actions (and of every action in dry-run mode) are printed to out as
 * "time<TAB>jail<TAB>address<TAB>seconds". Returns 0 or -errno (logged). */
int actions_new(sd_event *e, const struct config *c, bool dry_run, FILE *out, struct actions **ret);

/* Called (from the loop, after a short pause that gathers a burst of events) when someone else
 * removed waveguard's table, sets, chain, rules or elements: the caller runs actions_setup()
 * and gives back every ban in force. */
typedef void (*actions_lost_fn)(struct actions *a, void *userdata);
void actions_set_lost_handler(struct actions *a, actions_lost_fn fn, void *userdata);

/* Ensures waveguard's nftables table, sets and chain (when any jail uses an nft action): the
 * sets and rules of every port group, one per list of ports its jails close. Returns 0 or
 * -errno (logged). */
int actions_setup(struct actions *a);

/* Runs the actions of jail j for ban (a new ban, or one restored after a restart with its
 * remaining time: restored = true skips exec and log actions). The element goes to the sets of
 * the port group of j's ports. */
void actions_ban(struct actions *a, const struct config_jail *j, const struct ban *ban,
		 uint64_t now_usec, bool restored);

/* A ban that belongs to no configured jail (by hand, or of a jail since removed): the kernel
 * part only, in the default group ([nft] ports; printed in dry-run mode unless restored). */
void actions_ban_kernel(struct actions *a, const struct ban *ban, uint64_t now_usec, bool restored);

/* Lifts ban: deletes the element (from every port group's sets) and runs the exec actions'
 * unban commands. j may be NULL (jail no longer configured): only the element is deleted. */
void actions_unban(struct actions *a, const struct config_jail *j, const struct ban *ban);

/* ban of j ended by itself (expired; its element left the kernel by its own timeout) or its
 * jail no longer runs: the exec actions' unban commands only. */
void actions_ended(struct actions *a, const struct config_jail *j, const struct ban *ban);

/* Sends what is queued for the kernel now (normally done by the loop). Returns 0 or -errno. */
int actions_flush(struct actions *a);

/* Takes a reloaded configuration (exec templates are rebuilt; the nft table keeps its sets and
 * rules, and a port list no jail had before gets a group of its own, set up at once: bans in
 * force stay in the sets they are in). Returns 0 or -errno, keeping the old state on failure. */
int actions_reconfigure(struct actions *a, const struct config *c);

/* Totals since start: elements sent, element errors, exec commands failed. */
struct actions_stats {
	uint64_t nft_sent, nft_errors, exec_failed, exec_dropped;
};
const struct actions_stats *actions_get_stats(const struct actions *a);

struct actions *actions_free(struct actions *a);
DEFINE_FREE_FUNC(struct actions, actions_free)
