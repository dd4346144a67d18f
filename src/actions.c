/* Ban actions. nft: elements queued per decision into the sets of the jail's port group (jails
 * that close the same ports share one; the networks of the widths its jails ban in hash sets of
 * their own), flushed by a defer event source whose priority is above
 * the log sources', so a burst of decisions from one read becomes one netlink batch before the
 * next read. exec: one ban_exec queue per exec action (its own timeout),
 * never waited for. log: a line on the output. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "ban_exec.h"
#include "ban_nft.h"
#include "exec_template.h"
#include "log.h"
#include "logline.h"
#include "timeutil.h"

struct exec_action {
	char *name; /* of the config action: matched by name, the config may be reloaded */
	char **ban_argv, **unban_argv;
	size_t n_ban, n_unban;
	struct ban_exec *runner;
};

struct actions {
	sd_event *event;
	bool dry_run;
	bool use_nft;
	FILE *out;
	struct ban_nft *nft;
	sd_event_source *flush_source;
	sd_event_source *monitor_source; /* nftables change events */
	sd_event_source *restore_timer;	 /* gathers a burst of them */
	actions_lost_fn lost_fn;
	void *lost_userdata;
	struct exec_action *execs;
	size_t n_execs;
	struct actions_stats stats;
};

static void exec_done(struct exec_action *x)
{
	ban_exec_free(x->runner);
	/* exec_template_parse() returns each argv in one allocation. */
	free(x->ban_argv);
	free(x->unban_argv);
	free(x->name);
}

static void on_exec_done(const char *argv0, const struct ban_exec_vars *vars, int status,
			 void *userdata)
{
	struct actions *a = userdata;
	if (status == 0)
		return;
	if (status == -ENOBUFS) {
		/* A wave can overflow the queue by thousands: say so at 1, 2, 4, 8, ... drops. */
		uint64_t n = ++a->stats.exec_dropped;
		if ((n & (n - 1)) == 0)
			log_warning("%s: %s: command queue full, %" PRIu64
				    " commands dropped so far",
				    vars->jail, argv0, n);
		return;
	}
	a->stats.exec_failed++;
	if (status > 0)
		log_warning("%s: %s for %s exited with status %d", vars->jail, argv0, vars->ip,
			    status);
	else
		log_warning_errno(status, "%s: %s for %s failed: %m", vars->jail, argv0, vars->ip);
}

static int build_execs(struct actions *a, const struct config *c, struct exec_action **ret,
		       size_t *ret_n)
{
	struct exec_action *v = NULL;
	size_t n = 0;
	char err[256];
	int r = 0;

	for (size_t i = 0; i < c->n_actions && r >= 0; i++) {
		const struct config_action *ca = &c->actions[i];
		if (ca->type != ACTION_EXEC)
			continue;
		struct exec_action *x = ARRAY_GROW(v, n);
		if (!x || !(x->name = strdup(ca->name))) {
			r = -ENOMEM;
			break;
		}
		/* The configuration checked both (with file:line): only memory can fail here. */
		r = exec_template_parse(ca->ban_cmd, &x->ban_argv, &x->n_ban, err, sizeof(err));
		if (r >= 0 && ca->unban_cmd)
			r = exec_template_parse(ca->unban_cmd, &x->unban_argv, &x->n_unban, err,
						sizeof(err));
		if (r < 0) {
			log_error("%s: action %s: %s", ca->file, ca->name, err);
			break;
		}
		/* A few at once, and a bounded queue: a wave must not fork thousands. */
		r = ban_exec_new(a->event, 4, 10000, ca->timeout_usec, on_exec_done, a, &x->runner);
		if (r < 0)
			log_error_errno(r, "%s: cannot prepare the command runner: %m", ca->file);
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			exec_done(&v[i]);
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool jail_uses_nft(const struct config_jail *j)
{
	for (size_t k = 0; j->enabled && k < j->n_actions; k++)
		if (j->actions[k] && j->actions[k]->type == ACTION_NFT)
			return true;
	return false;
}

static bool uses_nft(const struct config *c)
{
	for (size_t i = 0; i < c->n_jails; i++)
		if (jail_uses_nft(&c->jails[i]))
			return true;
	return false;
}

/* Gives the group g of jail j the hash sets of the networks j bans (prefix4, prefix6). Without
 * one its bans go to the interval set: slower to fill, as good at blocking, hence no error. */
static void add_prefix_sets(struct actions *a, const struct config_jail *j, unsigned g)
{
	const int families[2] = { AF_INET, AF_INET6 };
	const unsigned prefixes[2] = { j->prefix4, j->prefix6 };

	for (size_t f = 0; f < 2; f++) {
		int r = ban_nft_group_prefix(a->nft, g, families[f], prefixes[f]);
		if (r < 0)
			log_warning_errno(r,
					  "%s: no set of its own for its /%u networks, they go to "
					  "the interval set: %m",
					  j->name, prefixes[f]);
	}
}

/* The port groups of c's nft jails, added to a->nft where new, with the prefix sets of their
 * jails. Returns 0 or -errno (logged). */
static int add_groups(struct actions *a, const struct config *c)
{
	for (size_t i = 0; i < c->n_jails; i++) {
		const struct config_jail *j = &c->jails[i];
		unsigned g;
		if (!jail_uses_nft(j))
			continue;
		int r = ban_nft_group(a->nft, j->ports, j->n_ports, j->all_ports, &g);
		if (r < 0)
			return log_error_errno(r, "%s: cannot give its ports sets of their own: %m",
					       j->name);
		add_prefix_sets(a, j, g);
	}
	return 0;
}

/* The port group of j's bans: the one of its ports; the default one for a jail whose group is
 * not there (a reload that could not add it). */
static unsigned jail_group(const struct actions *a, const struct config_jail *j)
{
	int r = ban_nft_group_find(a->nft, j->ports, j->n_ports, j->all_ports);
	return r > 0 ? (unsigned)r : 0;
}

static void on_nft_error(const struct addr *addr, int error, void *userdata)
{
	struct actions *a = userdata;
	char s[ADDR_STRLEN];
	a->stats.nft_errors++;
	log_error_errno(error, "nftables refused the element for %s: %m",
			addr_format(addr, s, sizeof(s)));
}

int actions_flush(struct actions *a)
{
	if (!a->nft || ban_nft_pending(a->nft) == 0)
		return 0;
	int r = ban_nft_flush(a->nft, on_nft_error, a);
	if (r < 0)
		return log_error_errno(r, "cannot send bans to nftables: %m");
	a->stats.nft_sent += (uint64_t)r;
	return 0;
}

static int on_flush(sd_event_source *s, void *userdata)
{
	(void)s;
	actions_flush(userdata);
	return 0;
}

static void schedule_flush(struct actions *a)
{
	sd_event_source_set_enabled(a->flush_source, SD_EVENT_ONESHOT);
}

#define RESTORE_DELAY_USEC (50 * USEC_PER_MSEC)

void actions_set_lost_handler(struct actions *a, actions_lost_fn fn, void *userdata)
{
	a->lost_fn = fn;
	a->lost_userdata = userdata;
}

static int on_restore_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct actions *a = userdata;
	(void)s;
	(void)usec;
	log_warning("waveguard's nftables table, chain or bans were changed by someone else: "
		    "restoring them");
	if (a->lost_fn)
		a->lost_fn(a, a->lost_userdata);
	return 0;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct actions *a = userdata;
	bool lost = false;
	uint64_t now;
	(void)s;
	(void)fd;
	(void)revents;

	int r = ban_nft_monitor_process(a->nft, &lost);
	if (r < 0 && r != -EAGAIN)
		log_warning_errno(r, "nftables change events: %m");
	if (!lost)
		return 0;
	int enabled = SD_EVENT_OFF;
	sd_event_source_get_enabled(a->restore_timer, &enabled);
	if (enabled == SD_EVENT_OFF && sd_event_now(a->event, CLOCK_MONOTONIC, &now) >= 0) {
		sd_event_source_set_time(a->restore_timer, now + RESTORE_DELAY_USEC);
		sd_event_source_set_enabled(a->restore_timer, SD_EVENT_ONESHOT);
	}
	return 0;
}

static int add_monitor(struct actions *a)
{
	int fd = ban_nft_monitor_fd(a->nft);
	if (fd < 0)
		return log_error_errno(fd, "cannot watch nftables changes: %m");
	int r = sd_event_add_io(a->event, &a->monitor_source, fd, EPOLLIN, on_monitor, a);
	if (r < 0)
		return log_error_errno(r, "cannot watch nftables changes: %m");
	sd_event_source_set_description(a->monitor_source, "nft-monitor");
	r = sd_event_add_time(a->event, &a->restore_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
			      on_restore_timer, a);
	if (r < 0)
		return log_error_errno(r, "cannot add the restore timer: %m");
	sd_event_source_set_description(a->restore_timer, "nft-restore");
	sd_event_source_set_enabled(a->restore_timer, SD_EVENT_OFF);
	return 0;
}

int actions_new(sd_event *e, const struct config *c, bool dry_run, FILE *out, struct actions **ret)
{
	_cleanup_(actions_freep) struct actions *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->event = sd_event_ref(e);
	a->dry_run = dry_run;
	a->out = out;
	a->use_nft = !dry_run && uses_nft(c);

	if (a->use_nft) {
		struct ban_nft_config nc = {
			.table = c->nft.table,
			.set4 = c->nft.set4,
			.set6 = c->nft.set6,
			.chain = c->nft.chain,
			.ports = c->nft.ports,
			.n_ports = c->nft.n_ports,
			.all_ports = c->nft.all_ports,
		};
		r = ban_nft_new(&nc, &a->nft);
		if (r < 0)
			return log_error_errno(r, "cannot open netlink to nftables: %m");
		r = add_groups(a, c);
		if (r < 0)
			return r;
		r = add_monitor(a);
		if (r < 0)
			return r;
	}
	if (!dry_run) {
		r = build_execs(a, c, &a->execs, &a->n_execs);
		if (r < 0)
			return r;
	}

	r = sd_event_add_defer(e, &a->flush_source, on_flush, a);
	if (r < 0)
		return log_error_errno(r, "cannot add the flush source: %m");
	/* Before the sources (priority 0): decisions reach the kernel before more is read. */
	sd_event_source_set_priority(a->flush_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_enabled(a->flush_source, SD_EVENT_OFF);
	sd_event_source_set_description(a->flush_source, "nft-flush");
	*ret = TAKE_PTR(a);
	return 0;
}

int actions_setup(struct actions *a)
{
	if (!a->nft)
		return 0;
	int r = ban_nft_setup(a->nft);
	if (r < 0)
		return log_error_errno(r, "cannot set up the nftables table: %m");
	return 0;
}

static struct exec_action *find_exec(struct actions *a, const struct config_action *ca)
{
	for (size_t i = 0; i < a->n_execs; i++)
		if (strcmp(a->execs[i].name, ca->name) == 0)
			return &a->execs[i];
	return NULL;
}

static void run_exec(struct actions *a, const struct config_jail *j, const struct ban *ban,
		     const struct config_action *ca, bool unban)
{
	struct exec_action *x = find_exec(a, ca);
	char ip[ADDR_STRLEN], secs[32];

	if (!x || (unban && !x->unban_argv))
		return;
	/* A permanent ban's length is the word: a number would be a lie a script believes. */
	if (ban->until_usec == BAN_FOREVER)
		snprintf(secs, sizeof(secs), "forever");
	else
		snprintf(secs, sizeof(secs), "%llu",
			 (unsigned long long)((ban->until_usec - ban->since_usec) / USEC_PER_SEC));
	struct ban_exec_vars vars = {
		.ip = addr_format(&ban->addr, ip, sizeof(ip)),
		.jail = j->name,
		.bantime = secs,
	};
	int r = unban ? ban_exec_run(x->runner, x->unban_argv, x->n_unban, &vars)
		      : ban_exec_run(x->runner, x->ban_argv, x->n_ban, &vars);
	if (r < 0)
		log_warning_errno(r, "%s: cannot run %s for %s: %m", j->name, ca->name, ip);
}

static void print_decision(struct actions *a, const struct ban *ban)
{
	char t[32], s[ADDR_STRLEN], secs[32];

	if (ban->until_usec == BAN_FOREVER)
		snprintf(secs, sizeof(secs), "forever");
	else
		snprintf(secs, sizeof(secs), "%llu",
			 (unsigned long long)((ban->until_usec - ban->since_usec) / USEC_PER_SEC));
	fprintf(a->out, "%s\t%s\t%s\t%s\n", timeutil_format_rfc3339(ban->since_usec, t, sizeof(t)),
		ban->jail, addr_format(&ban->addr, s, sizeof(s)), secs);
	fflush(a->out);
}

static void queue_nft(struct actions *a, unsigned group, const struct ban *ban, uint64_t now_usec)
{
	char s[ADDR_STRLEN];

	if (ban->until_usec <= now_usec)
		return;
	/* A permanent ban is an element without a timeout: the set's elements keep theirs. */
	uint64_t timeout = ban->until_usec == BAN_FOREVER ? 0 : ban->until_usec - now_usec;
	int r = ban_nft_add_group(a->nft, group, &ban->addr, timeout);
	if (r < 0)
		log_error_errno(r, "%s: cannot queue the ban of %s: %m", ban->jail,
				addr_format(&ban->addr, s, sizeof(s)));
	else
		schedule_flush(a);
}

void actions_ban_kernel(struct actions *a, const struct ban *ban, uint64_t now_usec, bool restored)
{
	if (a->nft)
		queue_nft(a, 0, ban, now_usec); /* the default group: [nft] ports */
	else if (a->dry_run && !restored)
		print_decision(a, ban);
}

void actions_ban(struct actions *a, const struct config_jail *j, const struct ban *ban,
		 uint64_t now_usec, bool restored)
{
	bool printed = false;

	for (size_t i = 0; i < j->n_actions; i++) {
		const struct config_action *ca = j->actions[i];
		if (!ca)
			continue;
		if (a->dry_run || ca->type == ACTION_LOG) {
			if (!restored && !printed)
				print_decision(a, ban);
			printed = true;
		} else if (ca->type == ACTION_NFT && a->nft)
			queue_nft(a, jail_group(a, j), ban, now_usec);
		else if (ca->type == ACTION_EXEC && !restored)
			run_exec(a, j, ban, ca, false);
	}
}

void actions_unban(struct actions *a, const struct config_jail *j, const struct ban *ban)
{
	if (a->nft && ban_nft_del(a->nft, &ban->addr) >= 0)
		schedule_flush(a);
	for (size_t i = 0; j && !a->dry_run && i < j->n_actions; i++)
		if (j->actions[i] && j->actions[i]->type == ACTION_EXEC)
			run_exec(a, j, ban, j->actions[i], true);
}

void actions_ended(struct actions *a, const struct config_jail *j, const struct ban *ban)
{
	for (size_t i = 0; !a->dry_run && i < j->n_actions; i++)
		if (j->actions[i] && j->actions[i]->type == ACTION_EXEC)
			run_exec(a, j, ban, j->actions[i], true);
}

/* Gives the jails of c whose ports have no group yet, or whose prefix lengths have no set in
 * their group, sets and rules of their own (the groups and sets of the running configuration
 * stay, and the bans in them). Returns 0 or -errno (logged), the new groups and sets forgotten
 * then. */
static int reconfigure_groups(struct actions *a, const struct config *c)
{
	size_t groups = ban_nft_groups(a->nft), psets = ban_nft_prefix_sets(a->nft);
	int r;

	/* Nothing may be queued for a set that may be forgotten. */
	actions_flush(a);
	r = add_groups(a, c);
	if (r >= 0 && (ban_nft_groups(a->nft) != groups || ban_nft_prefix_sets(a->nft) != psets)) {
		r = ban_nft_setup(a->nft);
		if (r < 0)
			log_error_errno(r, "cannot add the sets of the new ports or prefix lengths "
					   "to nftables: %m");
	}
	if (r < 0)
		ban_nft_trim(a->nft, groups, psets);
	return r;
}

int actions_reconfigure(struct actions *a, const struct config *c)
{
	struct exec_action *v = NULL;
	size_t n = 0;

	if (a->nft) {
		int r = reconfigure_groups(a, c);
		if (r < 0)
			return r;
	}
	if (!a->dry_run) {
		int r = build_execs(a, c, &v, &n);
		if (r < 0)
			return r;
	}
	/* Commands still running under the old runners are killed: a reload is the admin's
	 * word that the old commands are wrong. */
	for (size_t i = 0; i < a->n_execs; i++)
		exec_done(&a->execs[i]);
	free(a->execs);
	a->execs = v;
	a->n_execs = n;
	if (!a->dry_run && !a->nft && uses_nft(c))
		log_warning("nft actions added by a reload take effect at the next start");
	return 0;
}

const struct actions_stats *actions_get_stats(const struct actions *a)
{
	return &a->stats;
}

struct actions *actions_free(struct actions *a)
{
	if (!a)
		return NULL;
	if (a->nft)
		actions_flush(a);
	for (size_t i = 0; i < a->n_execs; i++)
		exec_done(&a->execs[i]);
	free(a->execs);
	sd_event_source_disable_unref(a->flush_source);
	sd_event_source_disable_unref(a->monitor_source);
	sd_event_source_disable_unref(a->restore_timer);
	ban_nft_free(a->nft);
	sd_event_unref(a->event);
	free(a);
	return NULL;
}
