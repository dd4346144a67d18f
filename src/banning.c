/* The ban room: the path from a jail's decision to the table, the kernel and the journal, and
 * the ends of bans. The line -> decision part stays in the manager and the engine; what a ban
 * is made of (evidence, strikes) and what happens to it after is here. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "actions.h"
#include "banning.h"
#include "fleet.h"
#include "log.h"
#include "text.h"
#include "timeutil.h"
#include "wave.h"
#include "zone.h"

/* Evidence as the journal gets it: a time stamp and the text per line. */
#define EVIDENCE_FIELD_MAX (BAN_EVIDENCE_MAX + 16 * 32 + 32)

static uint64_t ban_length(const struct ban *ban)
{
	return ban->until_usec == BAN_FOREVER ? TIMEUTIL_FOREVER
					      : ban->until_usec - ban->since_usec;
}

/* "WAVEGUARD_EVIDENCE=" and the lines with RFC 3339 times, one per line. */
static void evidence_field(const struct ban *ban, char *buf, size_t size)
{
	static const char key[] = "WAVEGUARD_EVIDENCE=";
	const char *cur = ban->evidence;
	struct bans_evidence_line l;
	size_t len = 0;
	char t[32];

	text_appendf(buf, size, &len, "%s", key);
	while (bans_evidence_next(&cur, &l))
		text_appendf(buf, size, &len, "%s%s %.*s", len > strlen(key) ? "\n" : "",
			     timeutil_format_rfc3339(l.time_usec, t, sizeof(t)), (int)l.len,
			     l.text);
}

/* A ban or unban as a journal event with its fields (journalctl MESSAGE_ID=... lists them). */
static void log_ban_event(const struct ban *ban, bool unban, const char *note)
{
	char s[ADDR_STRLEN], h[ADDR_STRLEN], f_jail[96], f_addr[ADDR_STRLEN + 32],
		f_host[ADDR_STRLEN + 32], f_time[48], f_off[48], d[32], f_origin[96], from[96] = "";
	char f_ev[EVIDENCE_FIELD_MAX];
	uint64_t len = ban_length(ban);

	addr_format(&ban->addr, s, sizeof(s));
	snprintf(f_jail, sizeof(f_jail), "WAVEGUARD_JAIL=%s", ban->jail);
	snprintf(f_addr, sizeof(f_addr), "WAVEGUARD_ADDRESS=%s", s);
	snprintf(f_host, sizeof(f_host), "WAVEGUARD_OFFENDER=%s",
		 addr_format(&ban->host, h, sizeof(h)));
	if (len == TIMEUTIL_FOREVER)
		snprintf(f_time, sizeof(f_time), "WAVEGUARD_BANTIME=forever");
	else
		snprintf(f_time, sizeof(f_time), "WAVEGUARD_BANTIME=%llu",
			 (unsigned long long)(len / USEC_PER_SEC));
	snprintf(f_off, sizeof(f_off), "WAVEGUARD_OFFENCE=%" PRIu32, ban->offence);
	/* The evidence goes with the ban, not with each of its ends; and only where fields go. A
	 * remote ban names the fleet host that decided it: in the text and as a field. */
	bool ev = !unban && ban->evidence && log_to_journal();
	if (ev)
		evidence_field(ban, f_ev, sizeof(f_ev));
	snprintf(f_origin, sizeof(f_origin), "WAVEGUARD_ORIGIN=%s", ban->origin ? ban->origin : "");
	if (ban->origin && !unban)
		snprintf(from, sizeof(from), ", remote from %s", ban->origin);
	const char *const fields[] = { f_jail,
				       f_addr,
				       f_host,
				       f_time,
				       f_off,
				       ban->origin ? f_origin
				       : ev	   ? f_ev
						   : NULL,
				       ban->origin && ev ? f_ev : NULL,
				       NULL };
	timeutil_format_duration(len, d, sizeof(d));
	if (unban)
		log_event(LOG_NOTICE, LOG_MESSAGE_UNBAN, fields, "%s: unban %s%s", ban->jail, s,
			  note);
	else
		log_event(LOG_NOTICE, LOG_MESSAGE_BAN, fields,
			  "%s: ban %s for %s (offence %" PRIu32 ")%s%s", ban->jail, s, d,
			  ban->offence, from, note);
}

/* ---- what the other hosts hear ---- */

/* A ban or a lift this host decided goes to the fleet (remote bans are not sent back); the
 * DNSBL zone is written again either way. */
static void tell_fleet(struct manager *m, enum fleet_kind kind, const struct ban *ban)
{
	zone_touch(m->zone);
	if (m->fleet && !m->dry_run && (kind == FLEET_UNBAN || !ban->origin))
		fleet_publish(m->fleet, kind, ban, manager_now(m));
}

/* A ban table that the state directory does not take (full, read-only) is said once, and once
 * more when it is written again (bans.c then rewrites it with what it missed), not at every
 * ban of a wave: the bans reach the kernel all the same. */
static void tell_table(struct manager *m)
{
	int r = bans_unsaved(m->bans);

	if (r < 0 && !m->bans_unsaved_told)
		log_warning_errno(r,
				  "cannot write the ban table in %s: %m; bans still reach the "
				  "kernel, and the table is written with them once it works again",
				  m->config->state_dir);
	else if (r == 0 && m->bans_unsaved_told)
		log_notice("the ban table in %s is written again, with the changes it missed",
			   m->config->state_dir);
	m->bans_unsaved_told = r < 0;
}

/* ---- the end of bans ---- */

/* Brings the end timer forward to until when that is sooner; scans come at most once a
 * second. */
static void arm_end(struct manager *m, uint64_t until)
{
	if (!m->end_timer || until >= m->next_end_usec)
		return;
	m->next_end_usec = until;
	sd_event_source_set_time(m->end_timer, MAX(until, m->last_end_scan_usec + USEC_PER_SEC));
	sd_event_source_set_enabled(m->end_timer, SD_EVENT_ONESHOT);
}

/* Bans that ran out: their end is recorded, and the exec actions' unban commands run (the
 * element left the kernel by its own timeout). */
static int on_end_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	uint64_t now = manager_now(m);
	(void)s;
	(void)usec;

	m->last_end_scan_usec = now;
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		if (b->ended || b->until_usec > now)
			continue;
		struct ban copy = *b;
		bans_mark_ended(m->bans, &copy.addr);
		const struct config_jail *j = config_find_jail(m->config, copy.jail);
		if (j && !m->dry_run)
			actions_ended(m->actions, j, &copy);
		log_ban_event(&copy, true, ", expired");
	}
	tell_table(m);
	m->next_end_usec = BAN_FOREVER;
	arm_end(m, bans_next_end(m->bans));
	return 0;
}

int banning_start(struct manager *m)
{
	int r = sd_event_add_time(m->event, &m->end_timer, CLOCK_REALTIME, BAN_FOREVER,
				  USEC_PER_SEC, on_end_timer, m);
	if (r < 0)
		return log_error_errno(r, "cannot add the timer of ban ends: %m");
	sd_event_source_set_description(m->end_timer, "ban-ends");
	sd_event_source_set_enabled(m->end_timer, SD_EVENT_OFF);
	m->next_end_usec = BAN_FOREVER;
	arm_end(m, bans_next_end(m->bans));
	tell_table(m);
	return 0;
}

void banning_jails_dropped(struct manager *m, const struct config *old_c,
			   const struct engine *old_e)
{
	uint64_t now = manager_now(m);

	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		const struct config_jail *j = config_find_jail(old_c, b->jail);
		if (b->ended || b->until_usec <= now || !j || !engine_find_jail(old_e, b->jail) ||
		    engine_find_jail(m->engine, b->jail))
			continue;
		struct ban copy = *b;
		bans_mark_ended(m->bans, &copy.addr);
		if (!m->dry_run)
			actions_ended(m->actions, j, &copy);
	}
}

/* ---- the line -> ban path ---- */

/* Records a ban and runs its jail's actions. A network already banned for longer (by another
 * jail) is left as it is, but keeps the new strike; offline.c's replay follows the same rule. */
static void apply_ban(struct manager *m, const struct config_jail *j, const struct ban *ban)
{
	const struct ban *old = bans_find(m->bans, &ban->addr);
	uint64_t now = manager_now(m);

	if (ban->until_usec <= now)
		return;
	if (old && old->until_usec >= ban->until_usec) {
		if (old->n_strikes != ban->n_strikes ||
		    memcmp(old->strikes, ban->strikes, sizeof(old->strikes)) != 0) {
			struct ban upd = *old;
			memcpy(upd.strikes, ban->strikes, sizeof(upd.strikes));
			upd.n_strikes = ban->n_strikes;
			(void)bans_add(m->bans, &upd);
			tell_table(m);
		}
		/* A longer ban on other ports (a week on SMTP for a DNSBL listing) must not leave
		 * the ports of this offence (IMAP guessing) open: the kernel gets this jail's
		 * element too. The table keeps the longer record. One that closes all of this
		 * jail's ports already (recidive's) needs nothing more: an element of this jail
		 * would only outlive an unban of the longer ban. */
		if (!config_jail_ports_cover(config_find_jail(m->config, old->jail), j)) {
			m->decisions++;
			log_ban_event(ban, false,
				      m->dry_run ? ", on its own ports, dry run"
						 : ", on its own ports (a longer ban stays)");
			actions_ban(m->actions, j, ban, now, false);
		}
		return;
	}
	(void)bans_add(m->bans, ban);
	tell_table(m);
	m->decisions++;
	wave_note_ban(m->wave);
	log_ban_event(ban, false, m->dry_run ? ", dry run" : "");
	actions_ban(m->actions, j, ban, now, false);
	arm_end(m, ban->until_usec);
	tell_fleet(m, FLEET_BAN, ban);
}

/* The lines of the hits that decided jb, from the jail's evidence ring. */
static void collect_evidence(const struct engine_jail *ej, const struct jail_ban *jb, char *buf,
			     size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned k = 0; ej->evidence && k < jb->n_tags; k++) {
		const struct evidence_line *l = evidence_get(ej->evidence, jb->tags[k]);
		if (l)
			text_appendf(buf, size, &len, "%" PRIu64 " %s\n", l->time_usec, l->text);
	}
}

/* The network's earlier strikes (from its record), and this ban's when counted. */
static void set_strikes(struct manager *m, struct ban *ban, bool count)
{
	const struct ban *old = bans_find(m->bans, &ban->addr);

	if (old) {
		memcpy(ban->strikes, old->strikes, sizeof(ban->strikes));
		ban->n_strikes = old->n_strikes;
	}
	if (!count)
		return;
	if (ban->n_strikes == BAN_STRIKES_MAX) {
		memmove(ban->strikes, ban->strikes + 1, (BAN_STRIKES_MAX - 1) * sizeof(uint32_t));
		ban->n_strikes--;
	}
	ban->strikes[ban->n_strikes++] = (uint32_t)(ban->since_usec / USEC_PER_SEC);
}

/* The recidive jails count the ban of a jail that reads logs; their own bans carry the times
 * of the bans they counted as evidence. */
static void feed_recidive(struct manager *m, const struct ban *ban)
{
	char ev[BAN_EVIDENCE_MAX + 1], d[32];
	struct engine_jail *ej;
	struct jail_ban jb;

	for (size_t pos = 0;
	     (ej = engine_count_ban(m->engine, &pos, &ban->host, ban->since_usec, &jb));) {
		struct ban rb = engine_ban_record(ej->conf, &jb);
		size_t len = 0;
		set_strikes(m, &rb, false);
		timeutil_format_duration(ej->conf->findtime_usec, d, sizeof(d));
		/* The bans it counted: the last maxretry strikes, the newest this one. */
		unsigned first = rb.n_strikes - MIN(rb.n_strikes, ej->conf->maxretry);
		for (unsigned k = first; k < rb.n_strikes; k++) {
			bool last = k + 1 == rb.n_strikes;
			text_appendf(ev, sizeof(ev), &len,
				     "%" PRIu64 " waveguard: banned, %u of %u bans within %s%s%s\n",
				     (uint64_t)(rb.strikes[k] * USEC_PER_SEC), k + 1 - first,
				     ej->conf->maxretry, d, last ? ", by " : "",
				     last ? ban->jail : "");
		}
		rb.evidence = len ? ev : NULL;
		apply_ban(m, ej->conf, &rb);
	}
}

/* Whether the table already holds the decision that ban repeats: the lines of a ban decided
 * before a SIGKILL are read again after it (positions are saved every few seconds, not per
 * line), and must not ban, count a strike or escalate twice. A ban's time is its last line's:
 * a new decision comes from a line newer than the network's last ban, or of the same second
 * by another jail. */
static bool decided_before(const struct manager *m, const struct ban *ban)
{
	const struct ban *old = bans_find(m->bans, &ban->addr);
	uint32_t t = (uint32_t)(ban->since_usec / USEC_PER_SEC);

	if (!old || old->n_strikes == 0)
		return false;
	uint32_t last = old->strikes[old->n_strikes - 1];
	return t < last || (t == last && strcmp(old->jail, ban->jail) == 0);
}

void banning_apply_jail_ban(struct manager *m, struct engine_jail *ej, const struct jail_ban *jb)
{
	char ev[BAN_EVIDENCE_MAX + 1];
	struct ban ban = engine_ban_record(ej->conf, jb);
	bool counts = ej->conf->backend != BACKEND_BANS;

	if (counts && decided_before(m, &ban)) {
		/* The jail took it for a new ban: it must not hold back the network's next hits
		 * when the ban is no longer in force (lifted, or ended). */
		const struct ban *old = bans_find(m->bans, &ban.addr);
		if (old->until_usec <= manager_now(m))
			jail_forget_ban(ej->jail, &ban.host);
		return;
	}

	collect_evidence(ej, jb, ev, sizeof(ev));
	ban.evidence = ev[0] ? ev : NULL;
	set_strikes(m, &ban, counts);
	apply_ban(m, ej->conf, &ban);
	if (counts)
		feed_recidive(m, &ban);
}

void banning_ban_now(struct manager *m, const struct config_jail *j, const struct ban *ban)
{
	uint64_t now = manager_now(m);
	struct ban b = *ban;

	set_strikes(m, &b, false);
	(void)bans_add(m->bans, &b);
	tell_table(m);
	log_ban_event(&b, false, ", by the admin");
	if (j)
		actions_ban(m->actions, j, &b, now, false);
	else
		actions_ban_kernel(m->actions, &b, now, false);
	actions_flush(m->actions);
	arm_end(m, b.until_usec);
	tell_fleet(m, FLEET_BAN, &b);
}

/* Lifts b here: table, jail memory, actions, journal. */
static void lift(struct manager *m, const struct ban *b, uint64_t now_usec, const char *note)
{
	struct ban copy = *b;
	struct engine_jail *ej = engine_find_jail(m->engine, b->jail);

	bans_lift(m->bans, &copy.addr, now_usec);
	tell_table(m);
	if (ej) {
		jail_forget_ban(ej->jail, &copy.host);
		ej->unbans++;
	}
	actions_unban(m->actions, config_find_jail(m->config, copy.jail), &copy);
	log_ban_event(&copy, true, note);
	zone_touch(m->zone);
}

void banning_lift(struct manager *m, const struct ban *b, uint64_t now_usec, const char *note)
{
	struct ban copy = *b;

	lift(m, &copy, now_usec, note);
	tell_fleet(m, FLEET_UNBAN, &copy);
}

/* ---- the fleet's bans ---- */

/* Why a remote ban of e cannot be applied here (NULL: it can): the checks of a local decision. */
static const char *refusal(struct manager *m, const struct fleet_entry *e, uint64_t now)
{
	if (addr_too_wide_to_ban(&e->net))
		return "wider than /8 (/16 for IPv6)";
	if (e->until_usec != BAN_FOREVER && e->until_usec - now > TIMEUTIL_LONGEST_USEC)
		return "longer than ten years";
	if (engine_allowlisted(m->engine, m->config, config_find_jail(m->config, e->jail), &e->net))
		return "allowlisted here";
	return NULL;
}

/* A remote unban lifts the ban of that network here when the ban began before it (a newer
 * decision, local or remote, stays). */
static enum fleet_outcome apply_remote_unban(struct manager *m, const struct fleet_entry *e,
					     uint64_t now)
{
	const struct ban *old = bans_find(m->bans, &e->net);
	char note[FLEET_HOST_MAX + 32];

	if (!old || old->until_usec <= now || old->since_usec > e->time_usec)
		return FLEET_IGNORED;
	snprintf(note, sizeof(note), ", by %s (fleet)", e->origin);
	lift(m, old, now, note);
	return FLEET_APPLIED;
}

enum fleet_outcome banning_apply_remote(struct manager *m, const struct fleet_entry *e)
{
	uint64_t now = manager_now(m);
	const struct config_jail *j = config_find_jail(m->config, e->jail);
	const struct ban *old = bans_find(m->bans, &e->net);
	char ev[BAN_EVIDENCE_MAX + 1], s[ADDR_STRLEN];
	const char *why;

	if (e->kind == FLEET_UNBAN)
		return apply_remote_unban(m, e, now);
	if (e->until_usec <= now || (old && old->until_usec >= e->until_usec))
		return FLEET_IGNORED;
	if ((why = refusal(m, e, now))) {
		log_notice("fleet: ban of %s (%s) from %s refused: %s",
			   addr_format(&e->net, s, sizeof(s)), e->jail, e->origin, why);
		return FLEET_REFUSED;
	}
	struct ban ban = {
		.addr = e->net,
		.host = e->host,
		.since_usec = e->since_usec,
		.until_usec = e->until_usec,
		.offence = e->offence,
		.origin = e->origin,
	};
	snprintf(ban.jail, sizeof(ban.jail), "%s", e->jail);
	if (e->evidence) {
		memcpy(ev, e->evidence, MIN(e->evidence_len, BAN_EVIDENCE_MAX));
		ev[MIN(e->evidence_len, BAN_EVIDENCE_MAX)] = '\0';
		ban.evidence = ev;
	}
	set_strikes(m, &ban, false);
	if (bans_add(m->bans, &ban) < 0)
		log_warning("cannot record the ban of %s in the state directory",
			    addr_format(&ban.addr, s, sizeof(s)));
	log_ban_event(&ban, false, m->dry_run ? ", dry run" : "");
	/* The jail of the same name here closes its own ports and runs its actions; without one,
	 * the kernel's default ports. */
	if (j && j->enabled)
		actions_ban(m->actions, j, &ban, now, false);
	else
		actions_ban_kernel(m->actions, &ban, now, false);
	struct engine_jail *ej = engine_find_jail(m->engine, e->jail);
	if (ej)
		jail_restore(ej->jail, &e->host, e->offence, e->until_usec);
	arm_end(m, ban.until_usec);
	zone_touch(m->zone);
	return FLEET_APPLIED;
}

/* ---- what the ban table gives back ---- */

/* The strikes of b within the recidive jail's findtime, back to it (as microseconds). */
static void restore_strikes(struct engine_jail *ej, const struct ban *b, uint64_t now)
{
	uint64_t times[BAN_STRIKES_MAX];
	size_t n = 0;

	for (unsigned k = 0; k < b->n_strikes; k++) {
		uint64_t t = (uint64_t)b->strikes[k] * USEC_PER_SEC;
		if (t + ej->conf->findtime_usec > now)
			times[n++] = t;
	}
	jail_restore_hits(ej->jail, &b->host, times, n);
}

void banning_restore_jails(struct manager *m)
{
	uint64_t now = manager_now(m);

	engine_recall_from(m->engine, m->bans);
	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		struct engine_jail *ej = engine_find_jail(m->engine, b->jail);
		if (ej)
			jail_restore(ej->jail, &b->host, b->offence, b->until_usec);
		for (size_t k = 0; k < m->engine->n_jails; k++)
			if (m->engine->jails[k].conf->backend == BACKEND_BANS && b->n_strikes)
				restore_strikes(&m->engine->jails[k], b, now);
	}
}

void banning_restore_kernel(struct manager *m)
{
	uint64_t now = manager_now(m);
	size_t n = 0, refused = 0;

	for (size_t i = 0; i < bans_size(m->bans); i++) {
		const struct ban *b = bans_get(m->bans, i);
		const struct config_jail *j = config_find_jail(m->config, b->jail);
		if (b->until_usec <= now)
			continue;
		/* The table passes the checks of a new ban: a line planted in it, or an allowlist
		 * widened since, never bans what a decision today would not. */
		if (addr_too_wide_to_ban(&b->addr) ||
		    engine_allowlisted(m->engine, m->config, j, &b->addr) ||
		    (b->until_usec != BAN_FOREVER && b->until_usec - now > TIMEUTIL_LONGEST_USEC)) {
			struct addr a = b->addr;
			bans_lift(m->bans, &a, now);
			refused++;
			continue;
		}
		/* Manual bans, or bans of a jail since removed, still run their course. */
		if (j)
			actions_ban(m->actions, j, b, now, true);
		else
			actions_ban_kernel(m->actions, b, now, true);
		n++;
	}
	if (n)
		log_info("restored %zu bans still in force", n);
	if (refused)
		log_warning(
			"%zu bans of the ban table lifted instead of restored: allowlisted now, "
			"wider than /8 (/16 for IPv6), or longer than ten years",
			refused);
	tell_table(m);
	actions_flush(m->actions);
}

void banning_write_evidence(const struct ban *b, const char *indent, FILE *out)
{
	const char *cur = b->evidence;
	struct bans_evidence_line l;
	char t[32];

	while (bans_evidence_next(&cur, &l))
		fprintf(out, "%s%s %.*s\n", indent,
			timeutil_format_rfc3339(l.time_usec, t, sizeof(t)), (int)l.len, l.text);
}
