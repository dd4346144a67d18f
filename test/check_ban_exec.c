/* Tests for ban_exec: real commands (small /bin/sh helper scripts written to a temporary
 * directory, templates parsed by exec_template) run from a real sd_event loop, polled with
 * deadlines. */
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "ban_exec.h"
#include "exec_template.h"
#include "testutil.h"

#define MAX_OUTCOMES 512

struct outcome {
	char *argv0, *ip, *jail, *bantime;
	int status;
};

struct fx {
	sd_event *e;
	struct ban_exec *x;
	char *dir;
	struct outcome out[MAX_OUTCOMES];
	size_t n;
	/* Optional: the done callback queues this many more runs of chain_argv. */
	char **chain_argv;
	size_t chain_n;
	unsigned chain_left;
};

static void on_done(const char *argv0, const struct ban_exec_vars *vars, int status, void *userdata)
{
	struct fx *f = userdata;
	struct outcome *o;

	ck_assert_uint_lt(f->n, MAX_OUTCOMES);
	ck_assert_ptr_nonnull(argv0);
	ck_assert_ptr_nonnull(vars);
	ck_assert_ptr_nonnull(vars->ip);
	ck_assert_ptr_nonnull(vars->jail);
	ck_assert_ptr_nonnull(vars->bantime);
	o = &f->out[f->n++];
	o->argv0 = strdup(argv0);
	o->ip = strdup(vars->ip);
	o->jail = strdup(vars->jail);
	o->bantime = strdup(vars->bantime);
	o->status = status;

	if (f->chain_left > 0) {
		struct ban_exec_vars v = { "192.0.2.99", "chain", "1" };

		f->chain_left--;
		ck_assert_int_eq(ban_exec_run(f->x, f->chain_argv, f->chain_n, &v), 0);
	}
}

static void fx_init(struct fx *f, unsigned max_running, unsigned max_queued, uint64_t timeout_usec)
{
	memset(f, 0, sizeof(*f));
	f->dir = test_mkdtemp();
	ck_assert_int_ge(sd_event_new(&f->e), 0);
	ck_assert_int_eq(
		ban_exec_new(f->e, max_running, max_queued, timeout_usec, on_done, f, &f->x), 0);
}

static void fx_done(struct fx *f)
{
	f->x = ban_exec_free(f->x);
	ck_assert_ptr_null(f->x);
	sd_event_unref(f->e);
	for (size_t i = 0; i < f->n; i++) {
		free(f->out[i].argv0);
		free(f->out[i].ip);
		free(f->out[i].jail);
		free(f->out[i].bantime);
	}
	free(f->chain_argv);
	test_rm_rf(f->dir);
	free(f->dir);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Runs the loop until n outcomes arrived (or the deadline passes), dispatches what is left
 * pending without waiting, and checks that exactly n arrived. */
static void wait_done(struct fx *f, size_t n, unsigned timeout_sec)
{
	uint64_t deadline = now_usec() + timeout_sec * 1000000ULL;

	while (f->n < n) {
		ck_assert_msg(now_usec() < deadline, "timed out: %zu of %zu outcomes", f->n, n);
		ck_assert_int_ge(sd_event_run(f->e, 50 * 1000), 0);
	}
	for (int i = 0; i < 1000 && sd_event_run(f->e, 0) > 0; i++)
		;
	ck_assert_uint_eq(f->n, n);
}

/* Writes an executable helper script dir/name. */
static void script(struct fx *f, const char *name, const char *body)
{
	char path[4200];

	test_write(f->dir, name, "w", body);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	ck_assert_int_eq(chmod(path, 0755), 0);
}

static char *path_in(struct fx *f, const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", f->dir, name), 0);
	return p;
}

/* Parses a template that must be valid; "@" stands for the temporary directory. */
static char **tmpl(struct fx *f, const char *text, size_t *ret_n)
{
	char buf[4096], err[256], **argv = NULL;
	size_t o = 0;

	for (const char *s = text; *s; s++) {
		if (*s == '@')
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", f->dir);
		else
			buf[o++] = *s;
		ck_assert_uint_lt(o, sizeof(buf) - 1);
	}
	buf[o] = '\0';
	ck_assert_msg(exec_template_parse(buf, &argv, ret_n, err, sizeof(err)) == 0, "%s: %s", buf,
		      err);
	return argv;
}

/* Reads a whole file (NUL bytes included) into a malloc'ed buffer; NULL when missing. */
static char *slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	size_t len;

	if (!fp)
		return NULL;
	buf = malloc(65536);
	ck_assert_ptr_nonnull(buf);
	len = fread(buf, 1, 65535, fp);
	buf[len] = '\0';
	fclose(fp);
	if (ret_len)
		*ret_len = len;
	return buf;
}

/* The "args" helper writes "$#\n" then each argument followed by a NUL to its first argument.
 * Checks that it received exactly the n words in want. */
static void expect_args(const char *out_path, const char *const *want, size_t n)
{
	size_t len, off;
	char *buf = slurp(out_path, &len), *nl;

	ck_assert_msg(buf != NULL, "%s missing", out_path);
	nl = memchr(buf, '\n', len);
	ck_assert_ptr_nonnull(nl);
	ck_assert_int_eq(atoi(buf), (int)n);
	off = (size_t)(nl - buf) + 1;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(want[i]);

		ck_assert_msg(off + l < len + 1 && memcmp(buf + off, want[i], l) == 0 &&
				      buf[off + l] == '\0',
			      "argument %zu: expected \"%s\", got \"%s\"", i, want[i], buf + off);
		off += l + 1;
	}
	ck_assert_uint_eq(off, len);
	free(buf);
}

#define ARGS_SCRIPT                                                                                \
	"#!/bin/sh\n"                                                                              \
	"out=\"$1\"; shift\n"                                                                      \
	"{ printf '%s\\n' \"$#\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } > \"$out\"\n"

/* Writes its pid to $1 (atomically), then becomes a long sleep. */
#define PIDSLEEP_SCRIPT                                                                            \
	"#!/bin/sh\n"                                                                              \
	"echo $$ > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n"                                           \
	"exec /bin/sleep 30\n"

/* Waits (running the loop) for a pid file the helper writes; returns the pid. */
static pid_t wait_pid_file(struct fx *f, const char *name)
{
	_cleanup_free_ char *p = path_in(f, name);
	uint64_t deadline = now_usec() + 10 * 1000000ULL;
	char *buf;
	pid_t pid;

	while (!(buf = slurp(p, NULL))) {
		ck_assert_msg(now_usec() < deadline, "%s never written", p);
		ck_assert_int_ge(sd_event_run(f->e, 20 * 1000), 0);
	}
	pid = (pid_t)atoi(buf);
	free(buf);
	ck_assert_int_gt(pid, 1);
	return pid;
}

/* The process is gone and not a zombie of ours either. */
static void assert_gone(pid_t pid)
{
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* ---- running ---- */

START_TEST(test_substitution)
{
	struct fx f;
	size_t n;
	char **argv;
	_cleanup_free_ char *out = NULL, *prog = NULL;
	struct ban_exec_vars v = { "192.0.2.7", "courier-smtp", "3600" };

	fx_init(&f, 4, 100, 10 * USEC_PER_SEC);
	script(&f, "args", ARGS_SCRIPT);
	argv = tmpl(&f,
		    "@/args @/out %ip% %jail% %bantime% pre-%ip%-mid-%jail%-%bantime%s 100%% "
		    "%%ip%% plain",
		    &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	ck_assert_uint_eq(ban_exec_pending(f.x), 1);
	/* Nothing starts inside ban_exec_run(). */
	ck_assert_uint_eq(f.n, 0);
	free(argv);
	/* ban_exec_run() copied the vars: scribbling over them changes nothing. */
	v.ip = v.jail = v.bantime = "garbage";

	wait_done(&f, 1, 10);
	ck_assert_uint_eq(ban_exec_pending(f.x), 0);
	ck_assert_int_eq(f.out[0].status, 0);
	prog = path_in(&f, "args");
	ck_assert_str_eq(f.out[0].argv0, prog);
	ck_assert_str_eq(f.out[0].ip, "192.0.2.7");
	ck_assert_str_eq(f.out[0].jail, "courier-smtp");
	ck_assert_str_eq(f.out[0].bantime, "3600");

	out = path_in(&f, "out");
	expect_args(out,
		    (const char *const[]){ "192.0.2.7", "courier-smtp", "3600",
					   "pre-192.0.2.7-mid-courier-smtp-3600s", "100%", "%ip%",
					   "plain" },
		    7);
	fx_done(&f);
}
END_TEST

START_TEST(test_null_vars)
{
	struct fx f;
	size_t n;
	char **argv;
	_cleanup_free_ char *out = NULL;
	struct ban_exec_vars v = { "2001:db8::1", NULL, NULL };

	fx_init(&f, 1, 10, 10 * USEC_PER_SEC);
	script(&f, "args", ARGS_SCRIPT);
	argv = tmpl(&f, "@/args @/out %ip% [%jail%] %bantime%", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	wait_done(&f, 1, 10);
	ck_assert_int_eq(f.out[0].status, 0);
	ck_assert_str_eq(f.out[0].jail, "");
	out = path_in(&f, "out");
	expect_args(out, (const char *const[]){ "2001:db8::1", "[]", "" }, 3);
	fx_done(&f);
}
END_TEST

/* A hostile value is one argv word, byte for byte, never seen by a shell. */
START_TEST(test_hostile_value)
{
	struct fx f;
	size_t n;
	char **argv;
	char ip[1024], jail[256];
	_cleanup_free_ char *out = NULL, *pwned = NULL;
	struct ban_exec_vars v = { ip, jail, "60" };

	fx_init(&f, 1, 10, 10 * USEC_PER_SEC);
	script(&f, "args", ARGS_SCRIPT);
	snprintf(ip, sizeof(ip),
		 "1.2.3.4; touch %s/pwned; rm -rf / `touch %s/pwned` $(touch %s/pwned) "
		 "'single' \"double\" \\back\nnewline\ttab * ? | & > %s/pwned %%ip%% $IFS",
		 f.dir, f.dir, f.dir, f.dir);
	snprintf(jail, sizeof(jail), "a b;c");
	argv = tmpl(&f, "@/args @/out %ip% %jail%x", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	wait_done(&f, 1, 10);
	ck_assert_int_eq(f.out[0].status, 0);
	ck_assert_str_eq(f.out[0].ip, ip);

	out = path_in(&f, "out");
	expect_args(out, (const char *const[]){ ip, "a b;cx" }, 2);
	pwned = path_in(&f, "pwned");
	ck_assert_int_eq(access(pwned, F_OK), -1);
	fx_done(&f);
}
END_TEST

/* The issue's case end to end: quoted words reach the program as one argument each, quotes
 * gone, and a placeholder inside quotes is one argument whatever its value holds. */
START_TEST(test_quoting)
{
	struct fx f;
	size_t n;
	char **argv;
	char ip[512];
	_cleanup_free_ char *out = NULL, *pwned = NULL, *want_banned = NULL, *want_in = NULL;
	struct ban_exec_vars v = { ip, "a b", "60" };

	fx_init(&f, 1, 10, 10 * USEC_PER_SEC);
	script(&f, "args", ARGS_SCRIPT);
	snprintf(ip, sizeof(ip), "192.0.2.7 --evil 'q' \"d\" $(touch %s/pwned) ; x", f.dir);
	argv = tmpl(&f,
		    "@/args @/out -s \"banned %ip%\" 'in %jail%' --for=%bantime%s \"\" a\\ b "
		    "\"it's\" 'say \"hi\"' \\$HOME \"x|y\" %ip%",
		    &n);
	ck_assert_uint_eq(n, 13);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	wait_done(&f, 1, 10);
	ck_assert_int_eq(f.out[0].status, 0);

	ck_assert_int_ge(asprintf(&want_banned, "banned %s", ip), 0);
	ck_assert_int_ge(asprintf(&want_in, "in %s", "a b"), 0);
	out = path_in(&f, "out");
	expect_args(out,
		    (const char *const[]){ "-s", want_banned, want_in, "--for=60s", "", "a b",
					   "it's", "say \"hi\"", "$HOME", "x|y", ip },
		    11);
	pwned = path_in(&f, "pwned");
	ck_assert_int_eq(access(pwned, F_OK), -1);
	fx_done(&f);
}
END_TEST

/* A real program rather than a helper script: printf(1) prints what it received. */
START_TEST(test_quoting_printf)
{
	struct fx f;
	size_t n;
	char **argv;
	int saved_out, fd;
	_cleanup_free_ char *out = NULL;
	char *text;
	struct ban_exec_vars v = { "2001:db8::/64", "courier smtp", "3600" };

	fx_init(&f, 1, 10, 10 * USEC_PER_SEC);
	out = path_in(&f, "stdout");
	saved_out = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved_out, 0);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
	close(fd);

	argv = tmpl(&f, "/usr/bin/printf '[%%s]' \"banned %ip%\" in\\ %jail% '' \"%bantime%s\"",
		    &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	wait_done(&f, 1, 10);
	ck_assert_int_ge(dup2(saved_out, STDOUT_FILENO), 0);
	close(saved_out);
	ck_assert_int_eq(f.out[0].status, 0);

	text = slurp(out, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "[banned 2001:db8::/64][in courier smtp][][3600s]");
	free(text);
	fx_done(&f);
}
END_TEST

START_TEST(test_exit_status)
{
	struct fx f;
	size_t n;
	char **argv;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 1, 10, 10 * USEC_PER_SEC);
	script(&f, "exit7", "#!/bin/sh\nexit 7\n");
	script(&f, "killself", "#!/bin/sh\nkill -USR1 $$\nexit 0\n");

	argv = tmpl(&f, "@/exit7", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "/bin/false", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "/bin/true", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "@/killself", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);

	/* max_running 1: they run, and are reported, in order. */
	wait_done(&f, 4, 10);
	ck_assert_int_eq(f.out[0].status, 7);
	ck_assert_int_eq(f.out[1].status, 1);
	ck_assert_str_eq(f.out[1].argv0, "/bin/false");
	ck_assert_int_eq(f.out[2].status, 0);
	ck_assert_int_eq(f.out[3].status, 128 + SIGUSR1);
	fx_done(&f);
}
END_TEST

START_TEST(test_exec_errors)
{
	struct fx f;
	size_t n;
	char **argv;
	_cleanup_free_ char *noexec = NULL;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 2, 10, 10 * USEC_PER_SEC);
	test_write(f.dir, "noexec", "w", "#!/bin/sh\nexit 0\n");
	noexec = path_in(&f, "noexec");
	ck_assert_int_eq(chmod(noexec, 0644), 0);
	script(&f, "noshebang", "exit 0\n");

	argv = tmpl(&f, "/nonexistent/waveguard-notify %ip%", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "@/noexec", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "@/noshebang", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "@", &n); /* a directory */
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);

	wait_done(&f, 4, 10);
	ck_assert_int_eq(f.out[0].status, -ENOENT);
	ck_assert_str_eq(f.out[0].argv0, "/nonexistent/waveguard-notify");
	ck_assert_str_eq(f.out[0].ip, "192.0.2.1");
	ck_assert_int_eq(f.out[1].status, -EACCES);
	ck_assert_int_eq(f.out[2].status, -ENOEXEC);
	ck_assert_int_eq(f.out[3].status, -EACCES);
	ck_assert_uint_eq(ban_exec_pending(f.x), 0);
	fx_done(&f);
}
END_TEST

/* Many failures at once are all reported (worked through in bounded batches). */
START_TEST(test_many_failures)
{
	struct fx f;
	size_t n;
	char **argv;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 1, 300, 10 * USEC_PER_SEC);
	argv = tmpl(&f, "/nonexistent/x", &n);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	ck_assert_uint_eq(ban_exec_pending(f.x), 200);
	wait_done(&f, 200, 20);
	for (size_t i = 0; i < f.n; i++)
		ck_assert_int_eq(f.out[i].status, -ENOENT);
	ck_assert_uint_eq(ban_exec_pending(f.x), 0);
	fx_done(&f);
}
END_TEST

START_TEST(test_timeout)
{
	struct fx f;
	size_t n;
	char **argv;
	pid_t pid;
	uint64_t t0;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 2, 10, 200 * USEC_PER_MSEC);
	script(&f, "pidsleep", PIDSLEEP_SCRIPT);

	t0 = now_usec();
	argv = tmpl(&f, "/bin/sleep 30", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "@/pidsleep @/pid", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);

	pid = wait_pid_file(&f, "pid");
	ck_assert_int_eq(kill(pid, 0), 0);
	wait_done(&f, 2, 10);
	ck_assert_uint_ge(now_usec() - t0, 200 * USEC_PER_MSEC);
	/* Both timers expire together: either may be reported first. */
	ck_assert_int_eq(f.out[0].status, -ETIMEDOUT);
	ck_assert_int_eq(f.out[1].status, -ETIMEDOUT);
	ck_assert(strcmp(f.out[0].argv0, "/bin/sleep") == 0 ||
		  strcmp(f.out[1].argv0, "/bin/sleep") == 0);
	assert_gone(pid);
	fx_done(&f);
}
END_TEST

/* A command that ignores SIGTERM gets SIGKILL a second later. */
START_TEST(test_timeout_sigkill)
{
	struct fx f;
	size_t n;
	char **argv;
	pid_t pid;
	uint64_t t0;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 1, 10, 200 * USEC_PER_MSEC);
	script(&f, "stubborn",
	       "#!/bin/sh\n"
	       "trap '' TERM\n"
	       "echo $$ > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n"
	       "exec /bin/sleep 30\n");
	t0 = now_usec();
	argv = tmpl(&f, "@/stubborn @/pid", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	pid = wait_pid_file(&f, "pid");
	wait_done(&f, 1, 10);
	ck_assert_uint_ge(now_usec() - t0, 1200 * USEC_PER_MSEC);
	ck_assert_int_eq(f.out[0].status, -ETIMEDOUT);
	assert_gone(pid);
	fx_done(&f);
}
END_TEST

/* The timeout signals the whole process group: a background child of the command dies too. */
START_TEST(test_timeout_process_group)
{
	struct fx f;
	size_t n;
	char **argv;
	pid_t grandchild;
	uint64_t deadline;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	/* Orphans are reparented to us, so that we can reap and check them. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	fx_init(&f, 1, 10, 200 * USEC_PER_MSEC);
	script(&f, "forker",
	       "#!/bin/sh\n"
	       "/bin/sleep 30 &\n"
	       "echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n"
	       "exec /bin/sleep 30\n");
	argv = tmpl(&f, "@/forker @/pid", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	grandchild = wait_pid_file(&f, "pid");
	wait_done(&f, 1, 10);
	ck_assert_int_eq(f.out[0].status, -ETIMEDOUT);

	deadline = now_usec() + 10 * 1000000ULL;
	while (kill(grandchild, 0) == 0) {
		ck_assert_msg(now_usec() < deadline, "background child %d survived", grandchild);
		(void)waitpid(grandchild, NULL, WNOHANG);
		ck_assert_int_ge(sd_event_run(f.e, 20 * 1000), 0);
	}
	fx_done(&f);
}
END_TEST

/* At no time more than max_running commands; the excess beyond max_queued is dropped. */
START_TEST(test_max_running)
{
	struct fx f;
	size_t n;
	char **argv;
	_cleanup_free_ char *counts_path = NULL;
	char *counts, *line, *save = NULL;
	unsigned lines = 0, max_seen = 0;
	uint64_t deadline;
	struct ban_exec_vars v = { NULL, "j", "1" };
	char ip[32];

	fx_init(&f, 2, 5, 30 * USEC_PER_SEC);
	/* Each run marks itself running, counts the marks it sees, holds, unmarks. */
	script(&f, "marker",
	       "#!/bin/sh\n"
	       "d=\"$1\"\n"
	       ": > \"$d/run.$$\"\n"
	       "n=0; for m in \"$d\"/run.*; do [ -e \"$m\" ] && n=$((n + 1)); done\n"
	       "echo \"$n\" >> \"$d/counts\"\n"
	       "/bin/sleep 0.2\n"
	       "rm -f \"$d/run.$$\"\n");
	argv = tmpl(&f, "@/marker @", &n);
	v.ip = ip;
	for (int i = 0; i < 9; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	}
	free(argv);
	/* 2 + 5 accepted; the last two were dropped at once, synchronously. */
	ck_assert_uint_eq(ban_exec_pending(f.x), 7);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_int_eq(f.out[0].status, -ENOBUFS);
	ck_assert_str_eq(f.out[0].ip, "192.0.2.7");
	ck_assert_int_eq(f.out[1].status, -ENOBUFS);
	ck_assert_str_eq(f.out[1].ip, "192.0.2.8");

	/* Meanwhile, sample the marks ourselves too. */
	deadline = now_usec() + 30 * 1000000ULL;
	while (f.n < 9) {
		unsigned marks = 0;
		DIR *d;
		struct dirent *de;

		ck_assert_msg(now_usec() < deadline, "timed out: %zu of 9 outcomes", f.n);
		ck_assert_uint_le(ban_exec_pending(f.x), 7);
		d = opendir(f.dir);
		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d)))
			if (strncmp(de->d_name, "run.", 4) == 0)
				marks++;
		closedir(d);
		ck_assert_uint_le(marks, 2);
		ck_assert_int_ge(sd_event_run(f.e, 50 * 1000), 0);
	}
	wait_done(&f, 9, 10);
	for (size_t i = 2; i < 9; i++)
		ck_assert_int_eq(f.out[i].status, 0);

	counts_path = path_in(&f, "counts");
	counts = slurp(counts_path, NULL);
	ck_assert_ptr_nonnull(counts);
	for (line = strtok_r(counts, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned c = (unsigned)atoi(line);

		ck_assert_uint_ge(c, 1);
		ck_assert_uint_le(c, 2);
		max_seen = MAX(max_seen, c);
		lines++;
	}
	free(counts);
	ck_assert_uint_eq(lines, 7);
	ck_assert_uint_eq(max_seen, 2); /* they did run side by side */
	fx_done(&f);
}
END_TEST

START_TEST(test_queue_overflow)
{
	struct fx f;
	size_t n;
	char **argv;
	struct ban_exec_vars v = { NULL, "j", "1" };
	char ip[32];
	unsigned dropped = 0, ok = 0;

	fx_init(&f, 1, 2, 10 * USEC_PER_SEC);
	argv = tmpl(&f, "/bin/true %ip%", &n);
	v.ip = ip;
	for (int i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	}
	ck_assert_uint_eq(ban_exec_pending(f.x), 3);
	ck_assert_uint_eq(f.n, 7);
	for (size_t i = 0; i < 7; i++) {
		char want[32];

		snprintf(want, sizeof(want), "192.0.2.%zu", i + 3);
		ck_assert_int_eq(f.out[i].status, -ENOBUFS);
		ck_assert_str_eq(f.out[i].ip, want);
		ck_assert_str_eq(f.out[i].argv0, "/bin/true");
	}
	wait_done(&f, 10, 10);
	for (size_t i = 0; i < f.n; i++) {
		if (f.out[i].status == -ENOBUFS)
			dropped++;
		else if (f.out[i].status == 0)
			ok++;
	}
	ck_assert_uint_eq(dropped, 7);
	ck_assert_uint_eq(ok, 3);

	/* Room again once the queue drained. */
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	wait_done(&f, 11, 10);
	ck_assert_int_eq(f.out[10].status, 0);
	free(argv);
	fx_done(&f);
}
END_TEST

/* max_queued 0: only max_running commands are accepted at a time. */
START_TEST(test_no_queue)
{
	struct fx f;
	size_t n;
	char **argv;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 2, 0, 10 * USEC_PER_SEC);
	argv = tmpl(&f, "/bin/true", &n);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_int_eq(f.out[0].status, -ENOBUFS);
	wait_done(&f, 3, 10);
	ck_assert_int_eq(f.out[1].status, 0);
	ck_assert_int_eq(f.out[2].status, 0);
	fx_done(&f);
}
END_TEST

/* The done callback may queue more commands. */
START_TEST(test_run_from_callback)
{
	struct fx f;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 1, 0, 10 * USEC_PER_SEC);
	f.chain_argv = tmpl(&f, "/bin/true %ip%", &f.chain_n);
	f.chain_left = 3;
	ck_assert_int_eq(ban_exec_run(f.x, f.chain_argv, f.chain_n, &v), 0);
	wait_done(&f, 4, 10);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(f.out[i].status, 0);
	ck_assert_str_eq(f.out[3].ip, "192.0.2.99");
	ck_assert_uint_eq(ban_exec_pending(f.x), 0);
	fx_done(&f);
}
END_TEST

/* Clean environment (PATH only), stdin from /dev/null, / as directory, no inherited fds, no
 * blocked signals, default dispositions, own process group. */
START_TEST(test_child_environment)
{
	struct fx f;
	size_t n;
	char **argv;
	_cleanup_free_ char *out = NULL, *status_path = NULL, *in_path = NULL;
	char *text, *p, tmplbuf[256], want[256];
	int leak, saved_in, saved_out, fd;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	ck_assert_int_eq(setenv("WAVEGUARD_SECRET", "leak", 1), 0);
	/* Dispositions and a mask a daemon could have: none of it may reach the command. */
	ck_assert_ptr_ne(signal(SIGPIPE, SIG_IGN), SIG_ERR);
	ck_assert_ptr_ne(signal(SIGHUP, SIG_IGN), SIG_ERR);
	fx_init(&f, 1, 10, 10 * USEC_PER_SEC);
	script(&f, "env",
	       "#!/bin/sh\n"
	       "{\n"
	       "  /usr/bin/env\n"
	       "  echo \"stdin=$(readlink /proc/$$/fd/0)\"\n"
	       "  if [ -e /proc/$$/fd/$2 ]; then echo fd=open; else echo fd=closed; fi\n"
	       "  echo \"cwd=$(pwd)\"\n"
	       "  set -- $(/bin/cat /proc/$$/stat); echo \"pgid=$5\"\n"
	       "  echo \"pid=$$\"\n"
	       "} > \"$1\"\n");

	/* Our own stdin is a file, and stdout is captured: the command inherits stdout only. */
	in_path = path_in(&f, "stdin");
	test_write(f.dir, "stdin", "w", "not for the child\n");
	status_path = path_in(&f, "status");
	saved_in = dup(STDIN_FILENO);
	saved_out = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved_in, 0);
	ck_assert_int_ge(saved_out, 0);
	fd = open(in_path, O_RDONLY);
	ck_assert_int_ge(dup2(fd, STDIN_FILENO), 0);
	close(fd);
	fd = open(status_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
	close(fd);

	/* A descriptor without O_CLOEXEC, as a careless library might leave behind. */
	leak = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(leak, 3);
	snprintf(tmplbuf, sizeof(tmplbuf), "@/env @/out %d", leak);
	argv = tmpl(&f, tmplbuf, &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	/* No shell in between: what the program itself inherited. */
	argv = tmpl(&f, "/bin/grep -E '^Sig(Blk|Ign):' /proc/self/status", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	wait_done(&f, 2, 10);
	close(leak);
	ck_assert_int_ge(dup2(saved_in, STDIN_FILENO), 0);
	ck_assert_int_ge(dup2(saved_out, STDOUT_FILENO), 0);
	close(saved_in);
	close(saved_out);
	ck_assert_int_eq(f.out[0].status, 0);
	ck_assert_int_eq(f.out[1].status, 0);

	out = path_in(&f, "out");
	text = slurp(out, NULL);
	ck_assert_ptr_nonnull(text);
	/* The environment: PATH, and PWD that the shell itself exports. */
	for (p = text; strncmp(p, "stdin=", 6) != 0; p = strchr(p, '\n') + 1) {
		ck_assert_msg(strncmp(p, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n", 35) == 0 ||
				      strncmp(p, "PWD=", 4) == 0,
			      "environment: %s", text);
		ck_assert_ptr_nonnull(strchr(p, '\n'));
	}
	ck_assert_msg(strstr(text, "PATH=") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "\nstdin=/dev/null\n") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "\nfd=closed\n") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "\ncwd=/\n") != NULL, "%s", text);
	{
		char *pid_line = strstr(text, "\npid=");

		ck_assert_ptr_nonnull(pid_line);
		snprintf(want, sizeof(want), "\npgid=%d\n", atoi(pid_line + 5));
		ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	}
	free(text);

	text = slurp(status_path, NULL);
	ck_assert_ptr_nonnull(text);
	/* Signals 1..31 (glibc's posix_spawn ignores its internal real-time signals 32 and 33 in
	 * the child itself, before exec). */
	{
		unsigned long long blk = ~0ULL, ign = ~0ULL;

		ck_assert_msg(sscanf(text, "SigBlk: %llx SigIgn: %llx", &blk, &ign) == 2, "%s",
			      text);
		ck_assert_msg(blk == 0 && (ign & 0x7fffffffULL) == 0, "%s", text);
	}
	free(text);
	fx_done(&f);
}
END_TEST

/* Freeing with commands running kills and reaps them (no process, no zombie left), drops the
 * queue and calls done for none of them. */
START_TEST(test_free_running)
{
	struct fx f;
	size_t n;
	char **argv;
	pid_t p1, p2;
	_cleanup_free_ char *q = NULL;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 2, 10, 60 * USEC_PER_SEC);
	script(&f, "pidsleep", PIDSLEEP_SCRIPT);
	argv = tmpl(&f, "@/pidsleep @/pid1", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "@/pidsleep @/pid2", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	argv = tmpl(&f, "@/pidsleep @/pid3", &n);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);

	p1 = wait_pid_file(&f, "pid1");
	p2 = wait_pid_file(&f, "pid2");
	ck_assert_int_eq(kill(p1, 0), 0);
	ck_assert_int_eq(kill(p2, 0), 0);
	ck_assert_uint_eq(ban_exec_pending(f.x), 5);

	f.x = ban_exec_free(f.x);
	ck_assert_ptr_null(f.x);
	ck_assert_uint_eq(f.n, 0);
	assert_gone(p1);
	assert_gone(p2);
	q = path_in(&f, "pid3");
	ck_assert_int_eq(access(q, F_OK), -1);
	/* Nothing left for the loop. */
	ck_assert_int_eq(sd_event_run(f.e, 0), 0);
	fx_done(&f);
}
END_TEST

/* A child that already exited but was not dispatched yet is reaped by free as well. */
START_TEST(test_free_exited_undispatched)
{
	struct fx f;
	size_t n;
	char **argv;
	pid_t pid;
	int fifo_fd;
	siginfo_t si;
	_cleanup_free_ char *fifo = NULL;
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };

	fx_init(&f, 1, 10, 60 * USEC_PER_SEC);
	/* Opens the FIFO (at once: we hold a writer), writes its pid, then exits when the FIFO has
	 * no writer left: when we close our end (or die). */
	script(&f, "pidexit",
	       "#!/bin/sh\n"
	       "exec 3< \"$2\"\n"
	       "echo $$ > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n"
	       "read x <&3\n");
	fifo = path_in(&f, "fifo");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	fifo_fd = open(fifo, O_RDWR | O_CLOEXEC); /* does not block on Linux */
	ck_assert_int_ge(fifo_fd, 0);
	argv = tmpl(&f, "@/pidexit @/pid @/fifo", &n);
	ck_assert_int_eq(ban_exec_run(f.x, argv, n, &v), 0);
	free(argv);
	pid = wait_pid_file(&f, "pid");

	/* Release it and wait for it to exit without reaping it and without running the loop:
	 * this is the point. */
	close(fifo_fd);
	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(si.si_pid, pid);
	ck_assert_int_eq(kill(pid, 0), 0); /* a zombie, not reaped yet */
	ck_assert_uint_eq(ban_exec_pending(f.x), 1);

	f.x = ban_exec_free(f.x);
	ck_assert_uint_eq(f.n, 0);
	assert_gone(pid);
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_arguments)
{
	sd_event *e;
	struct ban_exec *x = (struct ban_exec *)0x1;
	char *argv[] = { (char *)"/bin/true", (char *)"%nope%", NULL };
	char *rel[] = { (char *)"true", NULL };
	char *pct[] = { (char *)"/bin/%ip%", NULL };
	char *nul[] = { (char *)"/bin/true", NULL, NULL };
	struct ban_exec_vars v = { "192.0.2.1", "j", "1" };
	sigset_t mask;

	ck_assert_int_ge(sd_event_new(&e), 0);
	ck_assert_int_eq(ban_exec_new(e, 0, 10, USEC_PER_SEC, NULL, NULL, &x), -EINVAL);
	ck_assert_int_eq(ban_exec_new(e, 1, 10, 0, NULL, NULL, &x), -EINVAL);
	ck_assert_int_eq(ban_exec_new(NULL, 1, 10, USEC_PER_SEC, NULL, NULL, &x), -EINVAL);
	ck_assert_ptr_eq(x, (struct ban_exec *)0x1);

	ck_assert_int_eq(ban_exec_new(e, 1, 10, USEC_PER_SEC, NULL, NULL, &x), 0);
	/* SIGCHLD is blocked now, as sd-event requires. */
	ck_assert_int_eq(sigprocmask(SIG_SETMASK, NULL, &mask), 0);
	ck_assert_int_eq(sigismember(&mask, SIGCHLD), 1);

	ck_assert_int_eq(ban_exec_run(x, argv, 2, &v), -EINVAL);
	ck_assert_int_eq(ban_exec_run(x, argv, 0, &v), -EINVAL);
	ck_assert_int_eq(ban_exec_run(x, rel, 1, &v), -EINVAL);
	ck_assert_int_eq(ban_exec_run(x, pct, 1, &v), -EINVAL);
	ck_assert_int_eq(ban_exec_run(x, nul, 2, &v), -EINVAL);
	ck_assert_int_eq(ban_exec_run(NULL, argv, 1, &v), -EINVAL);
	ck_assert_uint_eq(ban_exec_pending(x), 0);

	/* done may be NULL; vars may be NULL. */
	ck_assert_int_eq(ban_exec_run(x, argv, 1, NULL), 0);
	ck_assert_uint_eq(ban_exec_pending(x), 1);
	{
		uint64_t deadline = now_usec() + 10 * 1000000ULL;

		while (ban_exec_pending(x) > 0) {
			ck_assert(now_usec() < deadline);
			ck_assert_int_ge(sd_event_run(e, 50 * 1000), 0);
		}
	}

	ck_assert_ptr_null(ban_exec_free(x));
	ck_assert_ptr_null(ban_exec_free(NULL));
	ck_assert_uint_eq(ban_exec_pending(NULL), 0);
	sd_event_unref(e);
}
END_TEST

static Suite *ban_exec_suite(void)
{
	Suite *s = suite_create("ban_exec");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_substitution);
	tcase_add_test(tc, test_null_vars);
	tcase_add_test(tc, test_hostile_value);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_quoting_printf);
	tcase_add_test(tc, test_exit_status);
	tcase_add_test(tc, test_exec_errors);
	tcase_add_test(tc, test_many_failures);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_timeout_sigkill);
	tcase_add_test(tc, test_timeout_process_group);
	tcase_add_test(tc, test_max_running);
	tcase_add_test(tc, test_queue_overflow);
	tcase_add_test(tc, test_no_queue);
	tcase_add_test(tc, test_run_from_callback);
	tcase_add_test(tc, test_child_environment);
	tcase_add_test(tc, test_free_running);
	tcase_add_test(tc, test_free_exited_undispatched);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(ban_exec_suite());
}
