/* The `exec` action: argv templates (exec_template) with %ip%, %jail%, %bantime% expanded, run
 * with posix_spawn() (no shell, stdin from /dev/null, PATH-only environment, own process group,
 * fds >= 3 closed), at most max_running at once behind a bounded FIFO, reaped by sd-event child
 * sources, SIGTERM then SIGKILL to the process group at the timeout. Outcomes go to the done
 * callback; never logs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ban_exec.h"
#include "exec_template.h"
#include "macro.h"

#define KILL_DELAY_USEC	    (1 * USEC_PER_SEC)	 /* SIGTERM ... SIGKILL */
#define TIMER_ACCURACY_USEC (10 * USEC_PER_MSEC) /* slack allowed on the timeout timers */
#define START_BATCH	    64			 /* spawn attempts per wake-up */

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define HAVE_CLOSEFROM_NP 1
#endif

static char *const child_env[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

/* One command: queued, then running. One allocation: the struct, argv[n + 1], then the strings
 * argv and vars point to. */
struct job {
	struct job *prev, *next; /* in the queue (FIFO) or the running list */
	struct ban_exec *owner;
	pid_t pid;		       /* > 0 while running */
	bool timed_out;		       /* SIGTERM sent at the timeout */
	sd_event_source *child_source; /* reaps pid */
	sd_event_source *timer_source; /* the timeout, then the SIGKILL delay */
	struct ban_exec_vars vars;     /* copies, never NULL members */
	char *argv[];		       /* NULL-terminated */
};

struct job_list {
	struct job *head, *tail;
	unsigned n;
};

struct ban_exec {
	sd_event *event;
	unsigned max_running, max_queued;
	uint64_t timeout_usec;
	ban_exec_done_fn done;
	void *userdata;

	sd_event_source *start_source; /* defer, oneshot: starts queued commands */
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t actions;
	bool attr_init, actions_init;

	struct job_list queue;
	struct job_list running;
};

static void list_append(struct job_list *l, struct job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void list_remove(struct job_list *l, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = NULL;
	l->n--;
}

static void job_report(struct ban_exec *x, struct job *j, int status)
{
	if (x->done)
		x->done(j->argv[0], &j->vars, status, x->userdata);
}

/* Signals the command's process group (or the process alone if it left its group). The pid is
 * not reaped yet when this is called, so it cannot have been reused. */
static void job_signal(struct job *j, int sig)
{
	if (kill(-j->pid, sig) < 0)
		(void)kill(j->pid, sig);
}

static void job_drop_sources(struct job *j)
{
	j->child_source = sd_event_source_disable_unref(j->child_source);
	j->timer_source = sd_event_source_disable_unref(j->timer_source);
}

/* For a child nobody will reap through sd-event: SIGKILL and wait for it. */
static void job_kill_and_reap(struct job *j)
{
	job_signal(j, SIGKILL);
	while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
		;
	j->pid = 0;
}

static void start_more(struct ban_exec *x)
{
	if (x->queue.head && x->running.n < x->max_running)
		(void)sd_event_source_set_enabled(x->start_source, SD_EVENT_ONESHOT);
}

static int on_child(sd_event_source *s _unused_, const siginfo_t *si, void *userdata)
{
	struct job *j = userdata;
	struct ban_exec *x = j->owner;
	int status;

	if (j->timed_out)
		status = -ETIMEDOUT;
	else if (si->si_code == CLD_EXITED)
		status = si->si_status;
	else
		status = 128 + si->si_status; /* CLD_KILLED, CLD_DUMPED */

	/* sd-event reaps the zombie once this handler returns. */
	list_remove(&x->running, j);
	job_drop_sources(j);
	j->pid = 0;
	job_report(x, j, status);
	free(j);
	start_more(x);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec _unused_, void *userdata)
{
	struct job *j = userdata;

	if (!j->timed_out) {
		j->timed_out = true;
		job_signal(j, SIGTERM);
		if (sd_event_source_set_time_relative(s, KILL_DELAY_USEC) >= 0 &&
		    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) >= 0)
			return 0;
	}
	job_signal(j, SIGKILL);
	return 0;
}

/* Spawns a queued job and watches it. Returns 0 (the job is in the running list) or -errno (the
 * job is in no list, no process left behind). */
static int job_start(struct ban_exec *x, struct job *j)
{
	pid_t pid;
	int r;

	r = posix_spawn(&pid, j->argv[0], &x->actions, &x->attr, j->argv, child_env);
	if (r != 0)
		return -r;
	j->pid = pid;

	r = sd_event_add_child(x->event, &j->child_source, pid, WEXITED, on_child, j);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(j->child_source, "ban-exec-child");

	r = sd_event_add_time_relative(x->event, &j->timer_source, CLOCK_MONOTONIC, x->timeout_usec,
				       TIMER_ACCURACY_USEC, on_timer, j);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(j->timer_source, "ban-exec-timeout");

	list_append(&x->running, j);
	return 0;

fail:
	job_drop_sources(j);
	job_kill_and_reap(j);
	return r;
}

static int on_start(sd_event_source *s _unused_, void *userdata)
{
	struct ban_exec *x = userdata;

	/* Bounded: a queue of commands that all fail at once is worked through over several
	 * wake-ups. */
	for (unsigned i = 0; i < START_BATCH; i++) {
		struct job *j = x->queue.head;
		int r;

		if (!j || x->running.n >= x->max_running)
			break;
		list_remove(&x->queue, j);
		r = job_start(x, j);
		if (r < 0) {
			job_report(x, j, r);
			free(j);
		}
	}
	start_more(x);
	return 0;
}

/* The placeholders' values (NULL: empty) and their lengths. Returns 0 or -E2BIG. */
static int vars_values(const struct ban_exec_vars *vars, const char *vals[EXEC_TEMPLATE_N_VARS],
		       size_t lens[EXEC_TEMPLATE_N_VARS])
{
	vals[EXEC_TEMPLATE_IP] = vars && vars->ip ? vars->ip : "";
	vals[EXEC_TEMPLATE_JAIL] = vars && vars->jail ? vars->jail : "";
	vals[EXEC_TEMPLATE_BANTIME] = vars && vars->bantime ? vars->bantime : "";
	for (int v = 0; v < EXEC_TEMPLATE_N_VARS; v++) {
		lens[v] = strlen(vals[v]);
		if (lens[v] > EXEC_TEMPLATE_MAX_BYTES)
			return -E2BIG;
	}
	return 0;
}

/* Validates the template and measures its expansion: *ret_bytes for the words with their NULs.
 * Returns 0, -EINVAL or -E2BIG. */
static int template_measure(char *const *argv_template, size_t n, const char *const *vals,
			    const size_t *lens, size_t *ret_bytes)
{
	size_t bytes = 0;

	for (size_t i = 0; i < n; i++) {
		ssize_t len;

		if (!argv_template[i])
			return -EINVAL;
		len = exec_template_expand(argv_template[i], strlen(argv_template[i]), vals, lens,
					   NULL);
		if (len < 0)
			return (int)len;
		bytes += (size_t)len + 1;
		if (bytes > EXEC_TEMPLATE_MAX_BYTES)
			return -E2BIG;
	}
	*ret_bytes = bytes;
	return 0;
}

/* Copies len bytes of s and a NUL to *p, which moves past them; returns the copy. */
static const char *put_str(char **p, const char *s, size_t len)
{
	char *copy = *p;

	memcpy(copy, s, len);
	copy[len] = '\0';
	*p += len + 1;
	return copy;
}

/* A job whose argv (the expanded template) and vars live in its own allocation; bytes: the
 * expansion's size as template_measure() found it. NULL when out of memory. */
static struct job *job_new(struct ban_exec *x, char *const *argv_template, size_t n,
			   const char *const *vals, const size_t *lens, size_t bytes)
{
	size_t size = sizeof(struct job) + (n + 1) * sizeof(char *) + bytes;
	struct job *j;
	char *p;

	for (int v = 0; v < EXEC_TEMPLATE_N_VARS; v++)
		size += lens[v] + 1;
	j = calloc(1, size);
	if (!j)
		return NULL;
	j->owner = x;

	p = (char *)(j->argv + n + 1);
	for (size_t i = 0; i < n; i++) {
		ssize_t len = exec_template_expand(argv_template[i], strlen(argv_template[i]), vals,
						   lens, p);

		/* Measured above: cannot fail now. */
		j->argv[i] = p;
		p[len] = '\0';
		p += len + 1;
	}
	j->argv[n] = NULL;

	j->vars.ip = put_str(&p, vals[EXEC_TEMPLATE_IP], lens[EXEC_TEMPLATE_IP]);
	j->vars.jail = put_str(&p, vals[EXEC_TEMPLATE_JAIL], lens[EXEC_TEMPLATE_JAIL]);
	j->vars.bantime = put_str(&p, vals[EXEC_TEMPLATE_BANTIME], lens[EXEC_TEMPLATE_BANTIME]);
	return j;
}

int ban_exec_run(struct ban_exec *x, char *const *argv_template, size_t n,
		 const struct ban_exec_vars *vars)
{
	const char *vals[EXEC_TEMPLATE_N_VARS];
	size_t lens[EXEC_TEMPLATE_N_VARS], bytes = 0;
	struct job *j;
	int r;

	if (!x || !argv_template || n == 0 || !argv_template[0] || argv_template[0][0] != '/' ||
	    strchr(argv_template[0], '%'))
		return -EINVAL;
	r = vars_values(vars, vals, lens);
	if (r < 0)
		return r;
	/* Validate and measure first: a bad template is the caller's error even when full. */
	r = template_measure(argv_template, n, vals, lens, &bytes);
	if (r < 0)
		return r;

	if (x->running.n + x->queue.n >= x->max_running + x->max_queued) {
		struct ban_exec_vars copy = { vals[EXEC_TEMPLATE_IP], vals[EXEC_TEMPLATE_JAIL],
					      vals[EXEC_TEMPLATE_BANTIME] };

		if (x->done)
			x->done(argv_template[0], &copy, -ENOBUFS, x->userdata);
		return 0;
	}

	j = job_new(x, argv_template, n, vals, lens, bytes);
	if (!j)
		return -ENOMEM;
	list_append(&x->queue, j);
	(void)sd_event_source_set_enabled(x->start_source, SD_EVENT_ONESHOT);
	return 0;
}

unsigned ban_exec_pending(const struct ban_exec *x)
{
	return x ? x->running.n + x->queue.n : 0;
}

/* Blocks SIGCHLD unless it is blocked already: sd-event child sources require it. */
static int block_sigchld(void)
{
	sigset_t cur, ss;

	if (sigprocmask(SIG_SETMASK, NULL, &cur) < 0)
		return -errno;
	if (sigismember(&cur, SIGCHLD) == 1)
		return 0;
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return -errno;
	return 0;
}

/* What every child gets: its own process group, an empty signal mask, default dispositions
 * (the daemon's ignored SIGPIPE and blocked SIGCHLD do not leak), stdin from /dev/null, / as its
 * directory, no inherited fd beyond 0-2 (stdout and stderr are shared: under systemd, the
 * journal). */
static int spawn_setup(struct ban_exec *x)
{
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);

	r = posix_spawnattr_init(&x->attr);
	if (r != 0)
		return -r;
	x->attr_init = true;
	r = posix_spawnattr_setflags(&x->attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						       POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setpgroup(&x->attr, 0);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&x->attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&x->attr, &all);
	if (r != 0)
		return -r;

	r = posix_spawn_file_actions_init(&x->actions);
	if (r != 0)
		return -r;
	x->actions_init = true;
	r = posix_spawn_file_actions_addopen(&x->actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addchdir_np(&x->actions, "/");
#ifdef HAVE_CLOSEFROM_NP
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(&x->actions, STDERR_FILENO + 1);
#endif
	if (r != 0)
		return -r;
	return 0;
}

int ban_exec_new(sd_event *e, unsigned max_running, unsigned max_queued, uint64_t timeout_usec,
		 ban_exec_done_fn done, void *userdata, struct ban_exec **ret)
{
	struct ban_exec *x;
	int r;

	if (!e || max_running == 0 || timeout_usec == 0 || !ret || max_running > UINT32_MAX / 2 ||
	    max_queued > UINT32_MAX / 2)
		return -EINVAL;

	r = block_sigchld();
	if (r < 0)
		return r;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->event = sd_event_ref(e);
	x->max_running = max_running;
	x->max_queued = max_queued;
	x->timeout_usec = timeout_usec;
	x->done = done;
	x->userdata = userdata;

	r = spawn_setup(x);
	if (r < 0)
		goto fail;

	r = sd_event_add_defer(e, &x->start_source, on_start, x);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(x->start_source, "ban-exec-start");
	r = sd_event_source_set_enabled(x->start_source, SD_EVENT_OFF);
	if (r < 0)
		goto fail;

	*ret = x;
	return 0;

fail:
	ban_exec_free(x);
	return r;
}

struct ban_exec *ban_exec_free(struct ban_exec *x)
{
	struct job *j;

	if (!x)
		return NULL;

	x->start_source = sd_event_source_disable_unref(x->start_source);

	/* SIGKILL them all first so that they die together, then reap each. */
	for (j = x->running.head; j; j = j->next)
		job_signal(j, SIGKILL);
	while ((j = x->running.head)) {
		list_remove(&x->running, j);
		job_drop_sources(j);
		job_kill_and_reap(j);
		free(j);
	}
	while ((j = x->queue.head)) {
		list_remove(&x->queue, j);
		free(j);
	}

	if (x->actions_init)
		posix_spawn_file_actions_destroy(&x->actions);
	if (x->attr_init)
		posix_spawnattr_destroy(&x->attr);
	sd_event_unref(x->event);
	free(x);
	return NULL;
}
