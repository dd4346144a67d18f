/* Tests for source_journal against a real systemd-journald, private to this process: main()
 * enters a mount namespace, mounts tmpfs on the journal directories and the journal socket
 * directory, and starts journald; the tests write entries with sd_journal_send() (which talks to
 * that journald), rotate, vacuum and restart it, while a real sd_event loop follows the journal.
 * Needs root (exit 77 otherwise). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "macro.h"
#include "source_journal.h"
#include "testutil.h"

#define JOURNALD       "/lib/systemd/systemd-journald"
#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define TAG	       "courieresmtpd"

/* The private journald (test state, not module state). */
static pid_t journald_pid = -1;
static char machine_id[64];

struct ent {
	char *tag; /* NULL when the entry had none */
	char *msg; /* NUL added for convenience; msg_len is the truth */
	size_t msg_len;
	uint64_t time_usec;
};

struct fx {
	sd_event *e;
	struct source_journal *s;
	struct ent *v;
	size_t n, cap;
	unsigned batches;
	uint64_t t0; /* CLOCK_REALTIME when the test began: entries before it are not ours */
	const char *mark_tag; /* identifier the markers are sent with */
	int nfds;
};

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t real_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void on_entry(const struct logline *l, void *userdata)
{
	struct fx *f = userdata;
	struct ent *e;

	ck_assert_uint_le(l->msg_len, SOURCE_JOURNAL_MAX_MSG);
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 256;
		f->v = realloc(f->v, f->cap * sizeof(*f->v));
		ck_assert_ptr_nonnull(f->v);
	}
	e = &f->v[f->n++];
	e->tag = l->tag ? strndup(l->tag, l->tag_len) : NULL;
	if (l->tag) {
		ck_assert_ptr_nonnull(e->tag);
		ck_assert_uint_eq(strlen(e->tag), l->tag_len);
	} else {
		ck_assert_uint_eq(l->tag_len, 0);
	}
	e->msg = malloc(l->msg_len + 1);
	ck_assert_ptr_nonnull(e->msg);
	memcpy(e->msg, l->msg, l->msg_len);
	e->msg[l->msg_len] = '\0';
	e->msg_len = l->msg_len;
	e->time_usec = l->time_usec;
}

static void on_batch(struct source_journal *s, void *userdata)
{
	struct fx *f = userdata;

	ck_assert_ptr_eq(s, f->s);
	f->batches++;
}

static void fx_clear(struct fx *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].tag);
		free(f->v[i].msg);
	}
	f->n = 0;
	f->batches = 0;
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->nfds = count_fds();
	f->t0 = real_usec();
	f->mark_tag = TAG;
	ck_assert_int_ge(sd_event_new(&f->e), 0);
}

/* Starts following; returns what source_journal_start() returned. */
static int fx_follow(struct fx *f, const char *dir, const char *const *matches, size_t n,
		     const char *cursor, uint64_t since)
{
	ck_assert_int_eq(source_journal_new(f->e, dir, matches, n, on_entry, on_batch, f, &f->s),
			 0);
	return source_journal_start(f->s, cursor, since);
}

static void fx_follow_tag(struct fx *f)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };

	ck_assert_int_eq(fx_follow(f, NULL, m, 1, NULL, f->t0), 0);
}

static void fx_stop(struct fx *f)
{
	f->s = source_journal_free(f->s);
	fx_clear(f);
}

static void fx_done(struct fx *f)
{
	fx_stop(f);
	free(f->v);
	sd_event_unref(f->e);
	ck_assert_int_eq(count_fds(), f->nfds);
}

static const struct source_journal_stats *stats(struct fx *f)
{
	return source_journal_get_stats(f->s);
}

/* Sends one entry; tag NULL sends none. extra is one more "FIELD=value" or NULL. */
static void send_entry(const char *tag, const char *extra, const char *fmt, ...) _printf_(3, 4);
static void send_entry(const char *tag, const char *extra, const char *fmt, ...)
{
	char msg[1024], mfield[1100], tfield[300];
	struct iovec iov[3];
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(mfield, sizeof(mfield), "MESSAGE=%s", msg);
	iov[n++] = (struct iovec){ mfield, strlen(mfield) };
	if (tag) {
		snprintf(tfield, sizeof(tfield), "SYSLOG_IDENTIFIER=%s", tag);
		iov[n++] = (struct iovec){ tfield, strlen(tfield) };
	}
	if (extra)
		iov[n++] = (struct iovec){ (void *)extra, strlen(extra) };
	ck_assert_int_eq(sd_journal_sendv(iov, (int)n), 0);
}

/* Sends prefix-i for i in [from, to). */
static void send_range(const char *tag, const char *prefix, int from, int to)
{
	for (int i = from; i < to; i++)
		send_entry(tag, NULL, "%s-%d", prefix, i);
}

static size_t count_msg(struct fx *f, const char *msg)
{
	size_t c = 0;

	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].msg, msg) == 0)
			c++;
	return c;
}

static size_t count_prefix(struct fx *f, const char *prefix)
{
	size_t c = 0, len = strlen(prefix);

	for (size_t i = 0; i < f->n; i++)
		if (strncmp(f->v[i].msg, prefix, len) == 0 && f->v[i].msg[len] == '-')
			c++;
	return c;
}

/* Runs the loop until pred holds or the deadline passes (fails then). */
static void wait_until(struct fx *f, bool (*pred)(struct fx *, const void *), const void *arg,
		       unsigned timeout_sec, const char *what)
{
	uint64_t deadline = mono_usec() + timeout_sec * USEC_PER_SEC;

	while (!pred(f, arg)) {
		ck_assert_msg(mono_usec() < deadline, "timed out waiting for %s (%zu entries)",
			      what, f->n);
		ck_assert_int_ge(sd_event_run(f->e, 50 * 1000), 0);
	}
}

static bool has_msg(struct fx *f, const void *msg)
{
	return count_msg(f, msg) > 0;
}

static bool has_n(struct fx *f, const void *n)
{
	return f->n >= *(const size_t *)n;
}

static void wait_msg(struct fx *f, const char *msg, unsigned timeout_sec)
{
	wait_until(f, has_msg, msg, timeout_sec, msg);
}

static void wait_n(struct fx *f, size_t n, unsigned timeout_sec)
{
	wait_until(f, has_n, &n, timeout_sec, "entries");
}

/* Sends a marker with f->mark_tag and waits for it: journald handles one socket's datagrams in
 * order and the source reads in order, so everything sent before it has been read by then (and
 * any duplicate would have shown up). */
static void sync_marker(struct fx *f)
{
	static unsigned seq; /* unique over the run: fixtures may share t0 */
	char m[64];

	snprintf(m, sizeof(m), "MARK %u %" PRIu64, seq++, f->t0);
	send_entry(f->mark_tag, NULL, "%s", m);
	wait_msg(f, m, 20);
	ck_assert_uint_eq(count_msg(f, m), 1);
}

/* Every prefix-i for i in [from, to) was handed on exactly once, and no other prefix-*. */
static void expect_range(struct fx *f, const char *prefix, int from, int to)
{
	char m[128];

	for (int i = from; i < to; i++) {
		snprintf(m, sizeof(m), "%s-%d", prefix, i);
		ck_assert_msg(count_msg(f, m) == 1, "%s seen %zu times", m, count_msg(f, m));
	}
	ck_assert_uint_eq(count_prefix(f, prefix), (size_t)(to - from));
}

/* Connects to the journal socket: true once a journald listens on it. */
static bool journald_listening(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int journald_start(void)
{
	uint64_t deadline;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		/* Its own messages to stderr, not to the host's kernel log. */
		setenv("SYSTEMD_LOG_TARGET", "console", 1);
		setenv("SYSTEMD_LOG_LEVEL", "err", 1);
		execl(JOURNALD, JOURNALD, (char *)NULL);
		_exit(127);
	}
	journald_pid = pid;
	deadline = mono_usec() + 10 * USEC_PER_SEC;
	while (!journald_listening()) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			journald_pid = -1;
			return -ECHILD;
		}
		if (mono_usec() > deadline)
			return -ETIMEDOUT;
		poll(NULL, 0, 10);
	}
	return 0;
}

static void journald_stop(int sig)
{
	int st;

	if (journald_pid <= 0)
		return;
	kill(journald_pid, sig);
	waitpid(journald_pid, &st, 0);
	journald_pid = -1;
}

static void run_cmd(const char *cmd)
{
	int r = system(cmd);

	ck_assert_msg(r == 0, "%s: exit status %d", cmd, r);
}

START_TEST(test_tag_msg_time)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	uint64_t before, after;
	struct fx f;

	fx_init(&f);
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, f.t0), 0);
	ck_assert(source_journal_is_open(f.s));
	before = real_usec();
	send_entry(TAG, NULL,
		   "error,relay=::ffff:192.0.2.2,port=59143,from=<a@x.test>,to=<b@y.test>: 511 "
		   "Listed");
	sync_marker(&f);
	after = real_usec();
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.v[0].tag, TAG);
	ck_assert_str_eq(f.v[0].msg, "error,relay=::ffff:192.0.2.2,port=59143,from=<a@x.test>,"
				     "to=<b@y.test>: 511 Listed");
	ck_assert_uint_ge(f.v[0].time_usec, before);
	ck_assert_uint_le(f.v[0].time_usec, after);
	ck_assert_uint_ge(f.v[1].time_usec, f.v[0].time_usec);
	ck_assert_uint_ge(f.batches, 1);
	ck_assert_uint_eq(stats(&f)->entries, 2);
	ck_assert_uint_eq(stats(&f)->errors, 0);
	fx_done(&f);
}
END_TEST

START_TEST(test_others_never_handed_on)
{
	struct fx f;

	fx_init(&f);
	fx_follow_tag(&f);
	for (int i = 0; i < 50; i++) {
		send_entry(TAG, NULL, "mine-%d", i);
		send_entry("imapd", NULL, "other-%d", i);
		send_entry("courieresmtpd2", NULL, "other-%d", i); /* a prefix is not a match */
		send_entry(NULL, "WG_FIELD=" TAG, "other-%d", i);
	}
	sync_marker(&f);
	expect_range(&f, "mine", 0, 50);
	ck_assert_uint_eq(count_prefix(&f, "other"), 0);
	ck_assert_uint_eq(f.n, 51);
	for (size_t i = 0; i < f.n; i++)
		ck_assert_str_eq(f.v[i].tag, TAG);
	ck_assert_uint_eq(stats(&f)->entries, 51);
	fx_done(&f);
}
END_TEST

START_TEST(test_matches_ored)
{
	/* Different fields too: without a disjunction between them they would be AND-ed. */
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG, "SYSLOG_IDENTIFIER=esmtpd-ssl",
					 "WG_FIELD=special" };
	struct fx f;

	fx_init(&f);
	ck_assert_int_eq(fx_follow(&f, NULL, m, ELEMENTSOF(m), NULL, f.t0), 0);
	for (int i = 0; i < 20; i++) {
		send_entry(TAG, NULL, "a-%d", i);
		send_entry("esmtpd-ssl", NULL, "b-%d", i);
		send_entry("imapd", "WG_FIELD=special", "c-%d", i);
		send_entry("imapd", NULL, "x-%d", i);
		send_entry("pop3d", "WG_FIELD=other", "x-%d", i);
	}
	sync_marker(&f);
	expect_range(&f, "a", 0, 20);
	expect_range(&f, "b", 0, 20);
	expect_range(&f, "c", 0, 20);
	ck_assert_uint_eq(count_prefix(&f, "x"), 0);
	for (size_t i = 0; i < f.n; i++)
		if (strncmp(f.v[i].msg, "b-", 2) == 0)
			ck_assert_str_eq(f.v[i].tag, "esmtpd-ssl");
		else if (strncmp(f.v[i].msg, "c-", 2) == 0)
			ck_assert_str_eq(f.v[i].tag, "imapd");
	fx_done(&f);
}
END_TEST

/* Logs text through journald's stdout stream protocol with an empty identifier: the one way to
 * get an entry without SYSLOG_IDENTIFIER (the native protocol adds the program name). */
static void send_stdout_untagged(const char *text)
{
	static const char header[] = "\n\n6\n0\n0\n0\n0\n"; /* id, unit, prio, flags */
	struct sockaddr_un sa = { .sun_family = AF_UNIX,
				  .sun_path = "/run/systemd/journal/stdout" };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, header, strlen(header)), (ssize_t)strlen(header));
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
}

START_TEST(test_binary_long_and_untagged)
{
	static const char *const m[] = { "WG_CASE=binary", "_TRANSPORT=stdout" };
	static const char bin[] = "MESSAGE=a\0b\nc\xff\xfe end";
	char *big = malloc(SOURCE_JOURNAL_MAX_MSG + 200);
	struct iovec iov[3];
	struct fx f;
	size_t i;

	ck_assert_ptr_nonnull(big);
	fx_init(&f);
	ck_assert_int_eq(fx_follow(&f, NULL, m, ELEMENTSOF(m), NULL, f.t0), 0);

	iov[0] = (struct iovec){ (void *)bin, sizeof(bin) - 1 };
	iov[1] = (struct iovec){ "WG_CASE=binary", 14 };
	iov[2] = (struct iovec){ "SYSLOG_IDENTIFIER=" TAG, strlen("SYSLOG_IDENTIFIER=" TAG) };
	ck_assert_int_eq(sd_journal_sendv(iov, 3), 0);

	/* Exactly the longest message, then one byte more (compressed by journald: > 512 bytes). */
	memcpy(big, "MESSAGE=", 8);
	memset(big + 8, 'L', SOURCE_JOURNAL_MAX_MSG);
	iov[0] = (struct iovec){ big, 8 + SOURCE_JOURNAL_MAX_MSG };
	ck_assert_int_eq(sd_journal_sendv(iov, 3), 0);
	big[8 + SOURCE_JOURNAL_MAX_MSG] = 'X';
	iov[0] = (struct iovec){ big, 8 + SOURCE_JOURNAL_MAX_MSG + 1 };
	ck_assert_int_eq(sd_journal_sendv(iov, 3), 0);

	/* No MESSAGE. */
	iov[0] = (struct iovec){ "WG_OTHER=1", 10 };
	ck_assert_int_eq(sd_journal_sendv(iov, 2), 0);
	/* The marker has to carry the case field: sent by hand. */
	send_entry(TAG, "WG_CASE=binary", "MARK end");
	/* No SYSLOG_IDENTIFIER (another socket: no order with the others). */
	send_stdout_untagged("untagged");
	wait_msg(&f, "MARK end", 20);
	wait_msg(&f, "untagged", 20);

	ck_assert_uint_eq(f.n, 4);
	ck_assert_uint_eq(f.v[0].msg_len, sizeof(bin) - 1 - 8);
	ck_assert_mem_eq(f.v[0].msg, bin + 8, sizeof(bin) - 1 - 8);
	ck_assert_str_eq(f.v[0].tag, TAG);
	ck_assert_uint_eq(f.v[1].msg_len, SOURCE_JOURNAL_MAX_MSG);
	ck_assert_mem_eq(f.v[1].msg, big + 8, SOURCE_JOURNAL_MAX_MSG);
	for (i = 0; i < f.n && strcmp(f.v[i].msg, "untagged") != 0; i++)
		;
	ck_assert_uint_lt(i, f.n);
	ck_assert_ptr_null(f.v[i].tag);
	ck_assert_uint_gt(f.v[i].time_usec, f.t0);
	ck_assert_uint_eq(stats(&f)->too_long, 1);
	ck_assert_uint_eq(stats(&f)->no_message, 1);
	ck_assert_uint_eq(stats(&f)->entries, 4);
	free(big);
	fx_done(&f);
}
END_TEST

START_TEST(test_rotation_and_vacuum)
{
	struct fx f;

	fx_init(&f);
	fx_follow_tag(&f);
	send_range(TAG, "r", 0, 100);
	wait_msg(&f, "r-10", 20);
	/* Rotations while entries are still being written and read. */
	run_cmd("journalctl --rotate");
	send_range(TAG, "r", 100, 200);
	run_cmd("journalctl --rotate");
	run_cmd("journalctl --rotate");
	send_range(TAG, "r", 200, 300);
	sync_marker(&f);
	expect_range(&f, "r", 0, 300);
	ck_assert_uint_ge(stats(&f)->invalidations, 1);

	/* Vacuuming removes the archived files, some of which were read a moment ago. */
	run_cmd("journalctl --rotate");
	send_range(TAG, "r", 300, 400);
	run_cmd("journalctl --vacuum-files=1 >/dev/null 2>&1");
	send_range(TAG, "r", 400, 500);
	sync_marker(&f);
	expect_range(&f, "r", 0, 500);
	ck_assert_uint_eq(stats(&f)->errors, 0);
	fx_done(&f);
}
END_TEST

/* The file being read is renamed (rotated) while a backlog is read batch by batch; then the
 * archived file still ahead of the reader is vacuumed: what was in it is gone, but nothing is
 * read twice, later entries are seen and nothing fails. */
START_TEST(test_rotation_and_vacuum_mid_backlog)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	struct fx f;
	size_t had;

	fx_init(&f);
	send_range(TAG, "k", 0, 5000);
	fx_follow_tag(&f);
	sync_marker(&f);
	fx_stop(&f);

	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, f.t0), 0);
	ck_assert_int_gt(sd_event_run(f.e, 0), 0);
	ck_assert_uint_eq(f.n, SOURCE_JOURNAL_BATCH);
	run_cmd("journalctl --rotate");
	send_range(TAG, "k", 5000, 5100);
	sync_marker(&f);
	expect_range(&f, "k", 0, 5100);
	fx_stop(&f);

	/* Behind by 5100 entries in archived files, then they are vacuumed. */
	run_cmd("journalctl --rotate");
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, f.t0), 0);
	ck_assert_int_gt(sd_event_run(f.e, 0), 0);
	ck_assert_uint_eq(f.n, SOURCE_JOURNAL_BATCH);
	run_cmd("journalctl --vacuum-files=1 >/dev/null 2>&1");
	send_range(TAG, "k", 5100, 5200);
	sync_marker(&f);
	had = count_prefix(&f, "k");
	for (int i = 0; i < 5200; i++) {
		char k[32];

		snprintf(k, sizeof(k), "k-%d", i);
		ck_assert_uint_le(count_msg(&f, k), 1);
		if (i >= 5100)
			ck_assert_uint_eq(count_msg(&f, k), 1);
	}
	fprintf(stderr,
		"vacuumed while behind: %zu of 5200 entries read, %" PRIu64
		" invalidations, %" PRIu64 " errors (last %s), %" PRIu64 " reopens\n",
		had, stats(&f)->invalidations, stats(&f)->errors, strerror(-stats(&f)->last_error),
		stats(&f)->reopens);
	ck_assert_uint_eq(stats(&f)->errors, 0);
	fx_done(&f);
}
END_TEST

static void restart_case(int sig)
{
	struct fx f;

	fx_init(&f);
	fx_follow_tag(&f);
	send_range(TAG, "j", 0, 100);
	sync_marker(&f);
	journald_stop(sig);
	ck_assert_int_eq(journald_start(), 0);
	send_range(TAG, "j", 100, 200);
	sync_marker(&f);
	expect_range(&f, "j", 0, 200);
	/* And it goes on following the new journald's files. */
	journald_stop(sig);
	ck_assert_int_eq(journald_start(), 0);
	run_cmd("journalctl --rotate");
	send_range(TAG, "j", 200, 300);
	sync_marker(&f);
	expect_range(&f, "j", 0, 300);
	ck_assert_uint_ge(stats(&f)->invalidations, 1);
	fprintf(stderr,
		"journald restart (signal %d): %" PRIu64 " invalidations, %" PRIu64
		" errors, %" PRIu64 " reopens\n",
		sig, stats(&f)->invalidations, stats(&f)->errors, stats(&f)->reopens);
	fx_done(&f);
}

START_TEST(test_journald_restart)
{
	restart_case(SIGTERM);
}
END_TEST

START_TEST(test_journald_killed)
{
	restart_case(SIGKILL);
}
END_TEST

START_TEST(test_resume_cursor)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	char *cursor = NULL, *c2 = NULL;
	struct fx f;

	fx_init(&f);
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, f.t0), 0);
	ck_assert_int_eq(source_journal_get_cursor(f.s, &cursor), -ENODATA);
	send_range(TAG, "c", 0, 30);
	sync_marker(&f);
	expect_range(&f, "c", 0, 30);
	ck_assert_int_eq(source_journal_get_cursor(f.s, &cursor), 0);
	fx_stop(&f);

	/* Written while down, including a rotation. */
	send_range(TAG, "c", 30, 60);
	run_cmd("journalctl --rotate");
	send_range(TAG, "c", 60, 70);

	/* since_usec 0 would mean everything: the cursor wins. */
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, cursor, 0), 0);
	ck_assert_int_eq(source_journal_get_cursor(f.s, &c2), 0);
	ck_assert_str_eq(c2, cursor); /* nothing read yet: the start cursor */
	free(c2);
	send_range(TAG, "c", 70, 80);
	sync_marker(&f);
	expect_range(&f, "c", 30, 80);
	ck_assert_uint_eq(stats(&f)->cursor_rejected, 0);
	free(cursor);

	/* Stopped right at the end: nothing again. */
	ck_assert_int_eq(source_journal_get_cursor(f.s, &cursor), 0);
	fx_stop(&f);
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, cursor, 0), 0);
	sync_marker(&f);
	ck_assert_uint_eq(f.n, 1);
	free(cursor);
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_cursor_falls_back)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	static const char *const bad[] = { "garbage", "s=zz;i=1", "b=x" };
	struct fx f;

	fx_init(&f);
	send_range(TAG, "f", 0, 10);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ck_assert_int_eq(fx_follow(&f, NULL, m, 1, bad[i], f.t0), 1);
		ck_assert_uint_eq(stats(&f)->cursor_rejected, 1);
		sync_marker(&f);
		expect_range(&f, "f", 0, 10);
		fx_stop(&f);
	}
	/* An empty cursor is no cursor. */
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, "", f.t0), 0);
	sync_marker(&f);
	expect_range(&f, "f", 0, 10);
	fx_done(&f);
}
END_TEST

START_TEST(test_since)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	uint64_t t1;
	struct fx f;

	fx_init(&f);
	send_range(TAG, "old", 0, 10);
	/* Once they are read, journald has received them: their realtime is before t1. */
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, f.t0), 0);
	sync_marker(&f);
	fx_stop(&f);
	t1 = real_usec();
	send_range(TAG, "new", 0, 10);

	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, t1), 0);
	sync_marker(&f);
	expect_range(&f, "new", 0, 10);
	ck_assert_uint_eq(count_prefix(&f, "old"), 0);
	fx_stop(&f);

	/* now - 10 min reaches back to both (the journal was created by this test run). */
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, real_usec() - 600 * USEC_PER_SEC), 0);
	sync_marker(&f);
	expect_range(&f, "old", 0, 10);
	expect_range(&f, "new", 0, 10);
	fx_done(&f);
}
END_TEST

START_TEST(test_directory)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	char dir[256];
	struct fx f;

	snprintf(dir, sizeof(dir), "/run/log/journal/%s", machine_id);
	fx_init(&f);
	ck_assert_int_eq(fx_follow(&f, dir, m, 1, NULL, f.t0), 0);
	send_range(TAG, "d", 0, 20);
	run_cmd("journalctl --rotate");
	send_range(TAG, "d", 20, 40);
	sync_marker(&f);
	expect_range(&f, "d", 0, 40);
	fx_done(&f);
}
END_TEST

START_TEST(test_unreadable_then_readable)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	char *tmp = test_mkdtemp(), link[300], target[256];
	uint64_t t;
	struct fx f;

	snprintf(link, sizeof(link), "%s/journal", tmp);
	snprintf(target, sizeof(target), "/run/log/journal/%s", machine_id);
	fx_init(&f);
	ck_assert_int_eq(fx_follow(&f, link, m, 1, NULL, f.t0), 0);
	ck_assert(!source_journal_is_open(f.s));
	ck_assert_uint_eq(stats(&f)->errors, 1);
	send_range(TAG, "u", 0, 10);

	/* Still missing for 6 s: retried, slowly. */
	t = mono_usec() + 6 * USEC_PER_SEC;
	while (mono_usec() < t)
		ck_assert_int_ge(sd_event_run(f.e, 100 * 1000), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_uint_ge(stats(&f)->errors, 2);
	ck_assert_uint_le(stats(&f)->errors, 3);

	ck_assert_int_eq(symlink(target, link), 0);
	send_range(TAG, "u", 10, 20);
	sync_marker(&f);
	ck_assert(source_journal_is_open(f.s));
	expect_range(&f, "u", 0, 20);
	fx_done(&f);
	test_rm_rf(tmp);
	free(tmp);
}
END_TEST

static void on_entry_count(const struct logline *l, void *userdata)
{
	size_t *n = userdata;

	*n += l->msg_len > 0;
}

/* Reads since t0 with a callback that only counts: the cost of the source itself. */
static double read_rate(sd_event *e, uint64_t t0, size_t want)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	struct source_journal *s = NULL;
	uint64_t t, deadline;
	size_t n = 0;

	t = mono_usec();
	deadline = t + 60 * USEC_PER_SEC;
	ck_assert_int_eq(source_journal_new(e, NULL, m, 1, on_entry_count, NULL, &n, &s), 0);
	ck_assert_int_eq(source_journal_start(s, NULL, t0), 0);
	while (n < want) {
		ck_assert_msg(mono_usec() < deadline, "timed out: %zu of %zu", n, want);
		ck_assert_int_ge(sd_event_run(e, 50 * 1000), 0);
	}
	t = mono_usec() - t;
	source_journal_free(s);
	return want / (t / 1e6);
}

static bool has_prefix_n(struct fx *f, const void *arg)
{
	const struct {
		const char *prefix;
		size_t n;
	} *a = arg;

	return count_prefix(f, a->prefix) >= a->n;
}

/* Copies the archived files of the runtime journal to dir, all at once (staged, renamed). */
static void copy_archived(const char *dir)
{
	char cmd[2048];

	run_cmd("journalctl --rotate");
	snprintf(cmd, sizeof(cmd),
		 "rm -rf '%s.tmp' && mkdir '%s.tmp' && cp /run/log/journal/%s/system@*.journal "
		 "'%s.tmp'/ && mv '%s.tmp' '%s'",
		 dir, dir, machine_id, dir, dir, dir);
	run_cmd(cmd);
}

/* The journal directory disappears for a while (unreadable), then comes back with more: read
 * on right after the cursor, nothing twice, nothing missed. */
START_TEST(test_directory_gone_and_back)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	struct {
		const char *prefix;
		size_t n;
	} want = { "g", 30 };
	char *tmp = test_mkdtemp(), dir[300];
	uint64_t deadline;
	struct fx f;

	snprintf(dir, sizeof(dir), "%s/journal", tmp);
	fx_init(&f);
	send_range(TAG, "g", 0, 30);
	/* Once the marker is read from the live journal, journald has stored everything. */
	fx_follow_tag(&f);
	sync_marker(&f);
	fx_stop(&f);
	copy_archived(dir);

	ck_assert_int_eq(fx_follow(&f, dir, m, 1, NULL, f.t0), 0);
	wait_until(&f, has_prefix_n, &want, 20, "g-0..29");
	test_settle(f.e);
	expect_range(&f, "g", 0, 30);

	test_rm_rf(dir);
	deadline = mono_usec() + 20 * USEC_PER_SEC;
	while (stats(&f)->errors == 0) {
		ck_assert_msg(mono_usec() < deadline, "removal never noticed");
		ck_assert_int_ge(sd_event_run(f.e, 100 * 1000), 0);
	}
	ck_assert(!source_journal_is_open(f.s));
	ck_assert_uint_ge(stats(&f)->no_files, 1);

	send_range(TAG, "g", 30, 60);
	/* The new copy has them all once more; only the new ones may come. */
	{
		struct fx g;

		fx_init(&g);
		g.t0 = f.t0;
		fx_follow_tag(&g);
		sync_marker(&g);
		fx_done(&g);
	}
	copy_archived(dir);
	want.n = 60;
	wait_until(&f, has_prefix_n, &want, 20, "g-30..59");
	test_settle(f.e);
	expect_range(&f, "g", 0, 60);
	ck_assert(source_journal_is_open(f.s));
	ck_assert_uint_ge(stats(&f)->reopens, 1);
	fx_done(&f);
	test_rm_rf(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_throughput_and_batches)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	const int n = 20000;
	uint64_t t, wt, rt;
	struct fx f;

	fx_init(&f);
	t = mono_usec();
	for (int i = 0; i < n; i++)
		send_entry(TAG, NULL,
			   "error,relay=::ffff:192.0.2.%d,port=%d,from=<a@x.test>,to=<b@y.test>: "
			   "511 Listed in zen.test-%d",
			   i % 250, 1024 + i, i);
	/* Everything is in the journal once a reader sees the marker. */
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, f.t0), 0);
	sync_marker(&f);
	wt = mono_usec() - t;
	ck_assert_uint_eq(f.n, (size_t)n + 1);
	fx_stop(&f);

	t = mono_usec();
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, NULL, f.t0), 0);
	/* One dispatch reads one bounded batch, not the whole backlog. */
	ck_assert_int_gt(sd_event_run(f.e, 0), 0);
	ck_assert_uint_eq(f.n, SOURCE_JOURNAL_BATCH);
	ck_assert_uint_eq(f.batches, 1);
	wait_n(&f, (size_t)n + 1, 60);
	rt = mono_usec() - t;
	ck_assert_uint_ge(f.batches, (unsigned)(n / SOURCE_JOURNAL_BATCH));
	fprintf(stderr,
		"throughput: %d entries sent and stored by journald in %.3f s (%.0f/s); read and "
		"copied by the test in %.3f s (%.0f/s, %u batches); read and counted: %.0f/s "
		"(cold), %.0f/s (warm)\n",
		n, wt / 1e6, n / (wt / 1e6), rt / 1e6, n / (rt / 1e6), f.batches,
		read_rate(f.e, f.t0, (size_t)n + 1), read_rate(f.e, f.t0, (size_t)n + 1));
	for (int i = 0; i < n; i += 997) {
		char want[160];

		snprintf(want, sizeof(want),
			 "error,relay=::ffff:192.0.2.%d,port=%d,from=<a@x.test>,to=<b@y.test>: 511 "
			 "Listed in zen.test-%d",
			 i % 250, 1024 + i, i);
		ck_assert_str_eq(f.v[i].msg, want);
	}
	fx_done(&f);
}
END_TEST

/* journalctl --flush moves the runtime journal to /var/log/journal (what happens at boot): the
 * entries already read must not come again from their copies, and later ones must be seen. */
START_TEST(test_flush_to_persistent)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	char *cursor = NULL, path[256];
	struct fx f;

	fx_init(&f);
	fx_follow_tag(&f);
	send_range(TAG, "p", 0, 50);
	sync_marker(&f);
	run_cmd("journalctl --flush");
	snprintf(path, sizeof(path), "/var/log/journal/%s/system.journal", machine_id);
	ck_assert_int_eq(access(path, F_OK), 0);
	send_range(TAG, "p", 50, 100);
	sync_marker(&f);
	expect_range(&f, "p", 0, 100);
	ck_assert_int_eq(source_journal_get_cursor(f.s, &cursor), 0);
	fx_stop(&f);

	/* Resumed from a cursor of the persistent journal. */
	send_range(TAG, "p", 100, 120);
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, cursor, 0), 0);
	sync_marker(&f);
	expect_range(&f, "p", 100, 120);
	run_cmd("journalctl --relinquish-var");
	fx_done(&f);
	free(cursor);
}
END_TEST

/* A cursor taken in the runtime journal, used after its entries were flushed to
 * /var/log/journal (a restart during early boot). */
START_TEST(test_cursor_across_flush)
{
	static const char *const m[] = { "SYSLOG_IDENTIFIER=" TAG };
	char *cursor = NULL, path[256];
	struct fx f;

	fx_init(&f);
	fx_follow_tag(&f);
	send_range(TAG, "q", 0, 50);
	sync_marker(&f);
	ck_assert_int_eq(source_journal_get_cursor(f.s, &cursor), 0);
	fx_stop(&f);
	send_range(TAG, "q", 50, 60);
	run_cmd("journalctl --flush");
	snprintf(path, sizeof(path), "/run/log/journal/%s/system.journal", machine_id);
	ck_assert_int_ne(access(path, F_OK), 0); /* the cursor's entry is only in /var now */
	send_range(TAG, "q", 60, 70);
	ck_assert_int_eq(fx_follow(&f, NULL, m, 1, cursor, 0), 0);
	sync_marker(&f);
	expect_range(&f, "q", 50, 70);
	run_cmd("journalctl --relinquish-var");
	fx_done(&f);
	free(cursor);
}
END_TEST

START_TEST(test_bad_arguments)
{
	static const char *const bad[][1] = {
		{ "NOEQUALS" }, { "=value" }, { "lower=x" }, { "1ABC=x" }, { "A B=x" }
	};
	static const char *const good[] = { "SYSLOG_IDENTIFIER=" TAG, "_COMM=courierlogger",
					    "PRIORITY=3" };
	struct source_journal *s = NULL;
	struct fx f;

	fx_init(&f);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_int_eq(source_journal_new(f.e, NULL, bad[i], 1, on_entry, NULL, &f, &s),
				 -EINVAL);
	ck_assert_int_eq(source_journal_new(f.e, NULL, good, 3, NULL, NULL, &f, &s), -EINVAL);
	ck_assert_int_eq(source_journal_new(f.e, "", good, 3, on_entry, NULL, &f, &s), -EINVAL);
	ck_assert_int_eq(source_journal_new(f.e, NULL, NULL, 1, on_entry, NULL, &f, &s), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_ptr_null(source_journal_free(NULL));

	/* Created but never started: freed cleanly. */
	ck_assert_int_eq(source_journal_new(f.e, NULL, good, 3, on_entry, NULL, &f, &s), 0);
	s = source_journal_free(s);
	ck_assert_int_eq(fx_follow(&f, NULL, good, 3, NULL, f.t0), 0);
	ck_assert_int_eq(source_journal_start(f.s, NULL, 0), -EBUSY);
	fx_done(&f);
}
END_TEST

static Suite *source_journal_suite(void)
{
	Suite *s = suite_create("source_journal");
	TCase *tc = tcase_create("journald");

	tcase_add_test(tc, test_tag_msg_time);
	tcase_add_test(tc, test_others_never_handed_on);
	tcase_add_test(tc, test_matches_ored);
	tcase_add_test(tc, test_binary_long_and_untagged);
	tcase_add_test(tc, test_rotation_and_vacuum);
	tcase_add_test(tc, test_rotation_and_vacuum_mid_backlog);
	tcase_add_test(tc, test_journald_restart);
	tcase_add_test(tc, test_journald_killed);
	tcase_add_test(tc, test_resume_cursor);
	tcase_add_test(tc, test_bad_cursor_falls_back);
	tcase_add_test(tc, test_since);
	tcase_add_test(tc, test_directory);
	tcase_add_test(tc, test_unreadable_then_readable);
	tcase_add_test(tc, test_directory_gone_and_back);
	tcase_add_test(tc, test_throughput_and_batches);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_flush_to_persistent);
	tcase_add_test(tc, test_cursor_across_flush);
	suite_add_tcase(s, tc);
	return s;
}

/* A private mount namespace with tmpfs where journald keeps its socket and files: nothing this
 * test writes reaches the host's journal, and the host's never shows up here. */
static const char *const ns_dirs[] = { "/run/systemd/journal", "/run/log/journal",
				       "/var/log/journal" };
static bool ns_created[ELEMENTSOF(ns_dirs)]; /* by this test: removed at the end */
static bool ns_created_run_log;

static int setup_namespace(void)
{
	FILE *mf;

	if (unshare(CLONE_NEWNS) < 0) {
		perror("unshare(CLONE_NEWNS)");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		perror("mount / private");
		return -1;
	}
	ns_created_run_log = access("/run/log", F_OK) < 0;
	for (size_t i = 0; i < ELEMENTSOF(ns_dirs); i++) {
		char cmd[128];

		ns_created[i] = access(ns_dirs[i], F_OK) < 0;
		snprintf(cmd, sizeof(cmd), "mkdir -p %s", ns_dirs[i]);
		if (system(cmd) != 0 || mount("tmpfs", ns_dirs[i], "tmpfs", 0, "mode=0755") < 0) {
			fprintf(stderr, "cannot mount tmpfs on %s: %m\n", ns_dirs[i]);
			return -1;
		}
	}
	mf = fopen("/etc/machine-id", "re");
	if (!mf || !fgets(machine_id, sizeof(machine_id), mf)) {
		fprintf(stderr, "cannot read /etc/machine-id\n");
		if (mf)
			fclose(mf);
		return -1;
	}
	fclose(mf);
	machine_id[strcspn(machine_id, "\n")] = '\0';
	return 0;
}

/* Unmounts the tmpfs and removes the (empty) directories this test created on the host. */
static void cleanup_namespace(void)
{
	for (size_t i = ELEMENTSOF(ns_dirs); i-- > 0;) {
		/* Lazily: a failed test may have left a journal file open. */
		if (umount2(ns_dirs[i], MNT_DETACH) < 0)
			fprintf(stderr, "cannot unmount %s: %m\n", ns_dirs[i]);
		else if (ns_created[i] && rmdir(ns_dirs[i]) < 0)
			fprintf(stderr, "cannot remove %s: %m\n", ns_dirs[i]);
	}
	if (ns_created_run_log)
		(void)rmdir("/run/log");
}

int main(void)
{
	SRunner *sr;
	int failed, r;

	if (geteuid() != 0) {
		printf("skipping: needs root\n");
		return 77;
	}
	if (access(JOURNALD, X_OK) < 0) {
		printf("skipping: no %s\n", JOURNALD);
		return 77;
	}
	if (setup_namespace() < 0)
		return EXIT_FAILURE;
	r = journald_start();
	if (r < 0) {
		fprintf(stderr, "cannot start %s: %s\n", JOURNALD, strerror(-r));
		cleanup_namespace();
		return EXIT_FAILURE;
	}
	/* sd_journal_send()'s socket is opened once, on first use: before the fd counts. */
	sd_journal_send("MESSAGE=start", "SYSLOG_IDENTIFIER=waveguard-test", NULL);

	sr = srunner_create(source_journal_suite());
	/* One process: tests restart journald, whose pid main() has to know to stop it. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	journald_stop(SIGTERM);
	cleanup_namespace();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
