/* The `exec` action: runs an admin's command for each ban, off the hot path. A command is an argv
 * template (exec_template.h: words split once, %ip%, %jail%, %bantime% expanded per run) run
 * without a shell, with a clean environment and a timeout; at most max_running at once, a
 * bounded queue behind them. Outcomes go to a callback: the module never logs, and a failing
 * command never blocks or undoes a ban. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct ban_exec;

/* Text values substituted for %ip%, %jail% and %bantime% ("%%" is a literal %). A NULL member
 * is substituted as the empty string. */
struct ban_exec_vars {
	const char *ip, *jail, *bantime;
};

/* Called once for every command ban_exec_run() accepted, when it ends (from the event loop) or
 * is dropped (from inside ban_exec_run(), see there). status is:
 *   >= 0        the exit status (0..255), or 128 + signal number when a signal other than
 *               ours killed it (as a shell reports it);
 *   -ETIMEDOUT  it outlived the timeout and was killed (whatever it exited with then);
 *   -ENOENT, -EACCES, -ENOEXEC, ...  the program could not be executed (the exec errno);
 *   -ENOBUFS    dropped: max_running commands were running and max_queued waiting;
 *   other -errno  could not be started (e.g. -ENOMEM, -EAGAIN from the spawn).
 * argv0 (the program path) and vars (members never NULL) are valid during the call only.
 * The callback may call ban_exec_run() and ban_exec_pending(), but must not free the ban_exec
 * (nor retry a -ENOBUFS from inside the call: the queue is still full). */
typedef void (*ban_exec_done_fn)(const char *argv0, const struct ban_exec_vars *vars, int status,
				 void *userdata);

/* Creates a runner on e. max_running (>= 1): commands at once; max_queued (may be 0): commands
 * waiting beyond those; timeout_usec (> 0): a command still running then gets SIGTERM, and
 * SIGKILL one second later, both sent to its whole process group.
 *
 * Reaping children with sd-event needs SIGCHLD blocked: this blocks it in the calling thread
 * with sigprocmask() if it is not blocked already (and leaves it blocked after ban_exec_free()).
 * Call it before creating threads, or block SIGCHLD in every thread yourself. Spawned commands
 * start with an empty signal mask and default signal dispositions.
 *
 * Returns 0 and sets *ret, or -EINVAL, -ENOMEM, -errno from sigprocmask. */
int ban_exec_new(sd_event *e, unsigned max_running, unsigned max_queued, uint64_t timeout_usec,
		 ban_exec_done_fn done, void *userdata, struct ban_exec **ret);

/* Queues one run of argv_template (n >= 1 words, as exec_template_parse() makes them) with
 * vars substituted. Copies everything it needs and returns at once: the process is started
 * from the event loop (a deferred event source), never here.
 * Returns 0 when the command was queued, and also when it was dropped because the queue is full
 * (then done has already been called with -ENOBUFS, before this returns). Returns -EINVAL (bad
 * arguments, an unknown placeholder, a program path that is not absolute or contains %), -E2BIG
 * (the expanded words exceed 64 KiB) or -ENOMEM without queueing anything and without calling
 * done. */
int ban_exec_run(struct ban_exec *x, char *const *argv_template, size_t n,
		 const struct ban_exec_vars *vars);

/* Number of commands running and queued (not yet reported to done). */
unsigned ban_exec_pending(const struct ban_exec *x);

/* Kills (SIGKILL to each process group) and reaps the running children, waiting for them,
 * drops the queue without calling done, frees every event source. Accepts NULL, returns
 * NULL. */
struct ban_exec *ban_exec_free(struct ban_exec *x);
