/* The ban room: a decision's way into the ban table, the kernel and the journal, with the log
 * lines behind it and the strike that a recidive jail (backend = bans) counts; the bans given
 * back at start; and the end of every ban (expiry, lift, a reload that drops its jail), which
 * the exec actions' unban commands hear of from the daemon's own timer. */
#pragma once

#include <stdint.h>

#include "bans.h"
#include "fleet.h"
#include "manager.h"

/* A jail's decision (jb, from the jail ej) as a ban: evidence, strikes, table, actions,
 * journal; then the recidive jails count it. */
void banning_apply_jail_ban(struct manager *m, struct engine_jail *ej, const struct jail_ban *jb);

/* Records a ban decided by the admin (it replaces any ban of the same network, shorter or
 * longer), logs it and sends it to the jail's actions (j NULL: the kernel only), at once. */
void banning_ban_now(struct manager *m, const struct config_jail *j, const struct ban *ban);

/* Lifts ban b (still in force): ban table, jail memory, actions (the element, the unban
 * commands), journal with note (", by the admin"). The caller flushes the actions
 * (actions_flush) after a series. */
void banning_lift(struct manager *m, const struct ban *b, uint64_t now_usec, const char *note);

/* A ban or unban that another host of the fleet decided (its MAC checked, not this host's own
 * network): passes the checks of a local decision (allowlist, width, ten years), then the table
 * (marked with its origin), the jail of the same name (its actions and ports, its memory of the
 * offender) or the kernel alone, and the journal. An unban lifts the ban of that network when
 * it began before the unban. */
enum fleet_outcome banning_apply_remote(struct manager *m, const struct fleet_entry *e);

/* After a start or a reload: bans in force, offence counts and recidive strikes, back to the
 * jails; and the table for what they forget later (engine_recall_from). */
void banning_restore_jails(struct manager *m);

/* Puts the bans still in force back in the kernel with their remaining time; lifts those a
 * decision of today would refuse (allowlisted, too wide, longer than ten years). */
void banning_restore_kernel(struct manager *m);

/* Adds the timer that acts on the end of bans (and at once on those that ended while the
 * daemon was stopped). Returns 0 or -errno (logged). */
int banning_start(struct manager *m);

/* A reload has put a new configuration and engine in place of old_c and old_e (not freed
 * yet): the bans of jails that ran and no longer run end for their exec actions now (unban
 * commands, run by the action of the same name of the new configuration). */
void banning_jails_dropped(struct manager *m, const struct config *old_c,
			   const struct engine *old_e);

/* Writes the evidence lines of b, each "indent TIME TEXT\n". */
void banning_write_evidence(const struct ban *b, const char *indent, FILE *out);
