/* Tests for control and cli: the request parser on a table of good and bad lines and on garbage;
 * then a real sd_event loop serving a socket in a temporary directory, exercised by the CLI (run
 * in a forked child while the parent drives the loop) and by raw non-blocking clients that send
 * garbage, too much, too little, too many connections, or go away early. */
#include <dirent.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>

#include "addr.h"
#include "cli.h"
#include "control.h"
#include "macro.h"
#include "testutil.h"
#include "timeutil.h"

/* ---- parser ---- */

struct ok_case {
	const char *line;
	enum control_cmd cmd;
	bool json, all, verbose;
	const char *addr; /* canonical text, NULL = none */
	const char *jail;
	uint64_t time_sec;
};

static const struct ok_case ok_cases[] = {
	{ .line = "status", .cmd = CONTROL_STATUS },
	{ .line = "status --json", .cmd = CONTROL_STATUS, .json = true },
	{ .line = "   status    --json   ", .cmd = CONTROL_STATUS, .json = true },
	{ .line = "status\r", .cmd = CONTROL_STATUS },
	{ .line = "list", .cmd = CONTROL_LIST },
	{ .line = "list --json", .cmd = CONTROL_LIST, .json = true },
	{ .line = "list courier-smtp", .cmd = CONTROL_LIST, .jail = "courier-smtp" },
	{ .line = "list courier.auth_2 --json",
	  .cmd = CONTROL_LIST,
	  .json = true,
	  .jail = "courier.auth_2" },
	{ .line = "list --json smtp", .cmd = CONTROL_LIST, .json = true, .jail = "smtp" },
	{ .line = "ban 192.0.2.1", .cmd = CONTROL_BAN, .addr = "192.0.2.1" },
	{ .line = "ban ::ffff:192.0.2.1", .cmd = CONTROL_BAN, .addr = "192.0.2.1" },
	{ .line = "ban 2001:DB8::1", .cmd = CONTROL_BAN, .addr = "2001:db8::1" },
	{ .line = "ban 2001:db8::1/64", .cmd = CONTROL_BAN, .addr = "2001:db8::/64" },
	{ .line = "ban 192.0.2.77/24 --jail smtp --time 90",
	  .cmd = CONTROL_BAN,
	  .addr = "192.0.2.0/24",
	  .jail = "smtp",
	  .time_sec = 90 },
	{ .line = "ban --time 10m 198.51.100.7  --jail x",
	  .cmd = CONTROL_BAN,
	  .addr = "198.51.100.7",
	  .jail = "x",
	  .time_sec = 600 },
	{ .line = "ban 192.0.2.1 --time 90s",
	  .cmd = CONTROL_BAN,
	  .addr = "192.0.2.1",
	  .time_sec = 90 },
	{ .line = "ban 192.0.2.1 --time 1h",
	  .cmd = CONTROL_BAN,
	  .addr = "192.0.2.1",
	  .time_sec = 3600 },
	{ .line = "ban 192.0.2.1 --time 7d",
	  .cmd = CONTROL_BAN,
	  .addr = "192.0.2.1",
	  .time_sec = 7 * 86400 },
	{ .line = "ban 192.0.2.1 --time 1h30m",
	  .cmd = CONTROL_BAN,
	  .addr = "192.0.2.1",
	  .time_sec = 5400 },
	{ .line = "unban 192.0.2.1", .cmd = CONTROL_UNBAN, .addr = "192.0.2.1" },
	{ .line = "unban 2001:db8::5/128", .cmd = CONTROL_UNBAN, .addr = "2001:db8::5" },
	{ .line = "unban --all", .cmd = CONTROL_UNBAN, .all = true },
	{ .line = "reload", .cmd = CONTROL_RELOAD },
	{ .line = "show 2001:db8:1:2::99", .cmd = CONTROL_SHOW, .addr = "2001:db8:1:2::99" },
	{ .line = "show 192.0.2.0/24 --json",
	  .cmd = CONTROL_SHOW,
	  .addr = "192.0.2.0/24",
	  .json = true },
	{ .line = "list -v", .cmd = CONTROL_LIST, .verbose = true },
	{ .line = "list smtp --verbose --json",
	  .cmd = CONTROL_LIST,
	  .jail = "smtp",
	  .json = true,
	  .verbose = true },
	{ .line = " reload ", .cmd = CONTROL_RELOAD },
};

START_TEST(test_parse_ok)
{
	const struct ok_case *t = &ok_cases[_i];
	struct control_request req;
	char err[256] = "junk", a[ADDR_STRLEN];

	ck_assert_msg(control_parse_request(t->line, strlen(t->line), &req, err, sizeof(err)) == 0,
		      "'%s': %s", t->line, err);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(req.cmd, t->cmd);
	ck_assert_int_eq(req.json, t->json);
	ck_assert_int_eq(req.verbose, t->verbose);
	ck_assert_int_eq(req.all, t->all);
	ck_assert_int_eq(req.has_addr, t->addr != NULL);
	if (t->addr)
		ck_assert_str_eq(addr_format(&req.addr, a, sizeof(a)), t->addr);
	ck_assert_str_eq(req.jail, t->jail ? t->jail : "");
	ck_assert_uint_eq(req.time_usec, t->time_sec * USEC_PER_SEC);
}
END_TEST

START_TEST(test_parse_forever)
{
	struct control_request req;
	char err[256];
	const char *line = "ban 192.0.2.1 --time forever";

	ck_assert_int_eq(control_parse_request(line, strlen(line), &req, err, sizeof(err)), 0);
	ck_assert_uint_eq(req.time_usec, TIMEUTIL_FOREVER);
}
END_TEST

struct err_case {
	const char *line;
	const char *msg; /* substring of the message */
};

static const struct err_case err_cases[] = {
	{ "", "empty request" },
	{ "    ", "empty request" },
	{ "\r", "empty request" },
	{ "stats", "unknown command 'stats' (expected status, list, show, ban, unban or reload)" },
	{ "show", "show: missing address" },
	{ "show 192.0.2.1 --verbose", "unknown option '--verbose' (expected --json)" },
	{ "list -v --verbose", "duplicate option --verbose" },
	{ "ban 192.0.2.1 --time never", "invalid duration 'never'" },
	{ "STATUS", "unknown command 'STATUS'" },
	{ "--json", "unknown command '--json'" },
	{ "ban", "ban: missing address" },
	{ "ban --jail smtp --time 1h", "ban: missing address" },
	{ "unban", "unban: missing address" },
	{ "ban 192.0.2.256", "ban: invalid address '192.0.2.256'" },
	{ "ban example.com", "invalid address 'example.com'" },
	{ "ban 192.0.2.1/33", "invalid address '192.0.2.1/33'" },
	{ "ban 192.0.2.1/", "invalid address" },
	{ "unban ::ffff:192.0.2.1/64", "invalid address" },
	{ "ban 1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee",
	  "invalid address '1111:2222:3333:4444:5555:6666:7777:8888:9999:...'" },
	{ "ban 192.0.2.1 --time 5x",
	  "ban: invalid duration '5x' (expected e.g. 90, 90s, 10m, 1h, 7d or forever)" },
	{ "ban 192.0.2.1 --time 1h30", "invalid duration '1h30'" },
	{ "ban 192.0.2.1 --time -5", "--time needs a value" },
	{ "ban 192.0.2.1 --time 0", "duration must be greater than 0" },
	{ "ban 192.0.2.1 --time 100000d", "duration '100000d' is too long" },
	{ "ban 192.0.2.1 --time 99999999999999999999999", "invalid duration" },
	{ "ban 192.0.2.1 --time", "ban: option --time needs a value" },
	{ "ban 192.0.2.1 --time --jail x", "option --time needs a value" },
	{ "ban 192.0.2.1 --jail", "option --jail needs a value" },
	{ "ban 192.0.2.1 --jail bad/name", "invalid jail name 'bad/name'" },
	{ "list bad*name", "invalid jail name 'bad*name'" },
	{ "list 0123456789012345678901234567890123456789012345678901234567890123",
	  "invalid jail name" },
	{ "status --verbose", "status: unknown option '--verbose' (expected --json)" },
	{ "status -j", "unknown option '-j'" },
	{ "ban 192.0.2.1 --json", "ban: unknown option '--json' (expected --jail or --time)" },
	{ "unban 192.0.2.1 --jail x", "unban: unknown option '--jail' (expected --all)" },
	{ "list --all", "unknown option '--all'" },
	{ "reload --all", "reload: unknown option '--all' (expected none)" },
	{ "status now", "status: unexpected argument 'now'" },
	{ "reload x", "reload: unexpected argument 'x'" },
	{ "list a b", "list: unexpected argument 'b'" },
	{ "ban 192.0.2.1 192.0.2.2", "ban: unexpected argument '192.0.2.2'" },
	{ "unban --all 192.0.2.1", "unban: give an address or --all, not both" },
	{ "unban 192.0.2.1 --all", "not both" },
	{ "status --json --json", "status: duplicate option --json" },
	{ "list x --json --json", "duplicate option --json" },
	{ "ban 192.0.2.1 --jail a --jail b", "ban: duplicate option --jail" },
	{ "ban 192.0.2.1 --time 1h --time 2h", "ban: duplicate option --time" },
	{ "unban --all --all", "unban: duplicate option --all" },
	{ "status\t--json", "binary data" },
	{ "status\n", "binary data" },
	{ "status \x7f", "binary data" },
	{ "ban 192.0.2.1 --jail sm\xc3\xa9tp", "binary data" },
};

START_TEST(test_parse_err)
{
	const struct err_case *t = &err_cases[_i];
	struct control_request req, orig;
	char err[256];

	memset(&req, 0xaa, sizeof(req));
	orig = req;
	ck_assert_int_eq(control_parse_request(t->line, strlen(t->line), &req, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, t->msg) != NULL, "'%s': got '%s', want '%s'", t->line, err,
		      t->msg);
	ck_assert_int_eq(memcmp(&req, &orig, sizeof(req)), 0);
}
END_TEST

/* A message fit for an "ERR" line: one line of printable ASCII. */
static void assert_printable(const char *s)
{
	ck_assert_uint_gt(strlen(s), 0);
	for (; *s; s++)
		ck_assert_msg((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f, "byte 0x%02x",
			      (unsigned char)*s);
}

START_TEST(test_parse_garbage)
{
	struct control_request req;
	char err[256], line[CONTROL_REQUEST_MAX + 16];
	uint32_t seed = 12345;

	/* Embedded NUL: the length counts, not the terminator. */
	ck_assert_int_eq(control_parse_request("status\0--json", 13, &req, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "binary data"));
	ck_assert_int_eq(control_parse_request("status\0", 6, &req, err, sizeof(err)), 0);

	/* 4 KiB of printable garbage: too long at 4096, a quoted and cut word below. */
	memset(line, 'A', sizeof(line));
	ck_assert_int_eq(control_parse_request(line, CONTROL_REQUEST_MAX, &req, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "request too long (at most 4095 bytes)");
	ck_assert_int_eq(
		control_parse_request(line, CONTROL_REQUEST_MAX - 1, &req, err, sizeof(err)),
		-EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown command 'AAAA"));
	ck_assert_ptr_nonnull(strstr(err, "...'"));
	assert_printable(err);
	memcpy(line, "list ", 5);
	ck_assert_int_eq(
		control_parse_request(line, CONTROL_REQUEST_MAX - 1, &req, err, sizeof(err)),
		-EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "invalid jail name"));
	assert_printable(err);

	/* A small error buffer is cut, still terminated; none at all is fine too. */
	ck_assert_int_eq(control_parse_request("nope", 4, &req, err, 8), -EINVAL);
	ck_assert_str_eq(err, "unknown");
	ck_assert_int_eq(control_parse_request("nope", 4, &req, NULL, 0), -EINVAL);

	/* Random bytes (and random printable words): never a crash, always a printable message. */
	for (unsigned round = 0; round < 20000; round++) {
		size_t len = (seed = seed * 1103515245 + 12345) >> 16 & 0x3f;
		bool printable = round & 1;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			line[i] = printable ? (char)(' ' + (seed >> 16) % 95) : (char)(seed >> 16);
		}
		int r = control_parse_request(line, len, &req, err, sizeof(err));
		ck_assert(r == 0 || r == -EINVAL);
		if (r < 0)
			assert_printable(err);
	}
}
END_TEST

/* ---- server fixture ---- */

#define BIG_REPLY (4u * 1024 * 1024)

struct fx {
	char *dir;
	char path[300];
	sd_event *e;
	struct control *c;
	unsigned calls;
	int nfds;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
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

/* Runs the loop until cond holds; fails after 5 s. */
#define WAIT_FOR(f, cond)                                                                          \
	do {                                                                                       \
		uint64_t _deadline = now_usec() + 5 * USEC_PER_SEC;                                \
		while (!(cond)) {                                                                  \
			ck_assert_msg(now_usec() < _deadline, "timed out waiting for " #cond);     \
			ck_assert_int_ge(sd_event_run((f)->e, 10 * USEC_PER_MSEC), 0);             \
		}                                                                                  \
	} while (0)

static void write_pattern(FILE *out, size_t total)
{
	char chunk[65536];

	for (size_t done = 0; done < total && !ferror(out);) {
		size_t n = MIN(sizeof(chunk), total - done);
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)('a' + (done + i) % 26);
		if (fwrite(chunk, 1, n, out) != n)
			break;
		done += n;
	}
}

/* Echoes the parsed request; a few jail names trigger the other paths. */
static int handler(const struct control_request *req, FILE *out, void *userdata)
{
	struct fx *f = userdata;
	char a[ADDR_STRLEN] = "-";

	f->calls++;
	if (strcmp(req->jail, "big") == 0) {
		write_pattern(out, BIG_REPLY);
		return 0;
	}
	if (strcmp(req->jail, "huge") == 0) {
		write_pattern(out, CONTROL_REPLY_MAX + 1);
		return 0;
	}
	if (strcmp(req->jail, "fail") == 0) {
		fprintf(out, "no such jail 'fail'\nsecond line\n");
		return -ENOENT;
	}
	if (strcmp(req->jail, "nomsg") == 0)
		return -ENOENT;
	if (strcmp(req->jail, "ctrl") == 0) {
		fprintf(out, "bad\tthing\x01happened");
		return -EIO;
	}
	if (req->has_addr)
		addr_format(&req->addr, a, sizeof(a));
	fprintf(out, "cmd=%s json=%d addr=%s all=%d jail=%s time=%" PRIu64 "\n",
		control_cmd_to_string(req->cmd), req->json, a, req->all, req->jail,
		(uint64_t)(req->time_usec / USEC_PER_SEC));
	return 0;
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->nfds = count_fds();
	f->dir = test_mkdtemp();
	snprintf(f->path, sizeof(f->path), "%s/run/waveguard/control.sock", f->dir);
	ck_assert_int_ge(sd_event_new(&f->e), 0);
	ck_assert_int_eq(control_new(f->e, f->path, handler, f, &f->c), 0);
}

static void fx_done(struct fx *f)
{
	struct stat st;

	ck_assert_uint_eq(control_get_stats(f->c)->active, 0);
	f->c = control_free(f->c);
	ck_assert_int_eq(lstat(f->path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	f->e = sd_event_unref(f->e);
	test_rm_rf(f->dir);
	free(f->dir);
	ck_assert_int_eq(count_fds(), f->nfds);
}

static char *slurp(const char *path)
{
	FILE *in = fopen(path, "r");
	char *s = NULL;
	size_t n = 0;

	ck_assert_ptr_nonnull(in);
	FILE *m = open_memstream(&s, &n);
	ck_assert_ptr_nonnull(m);
	int ch;
	while ((ch = fgetc(in)) != EOF)
		fputc(ch, m);
	fclose(in);
	fclose(m);
	return s;
}

/* Runs the CLI with args (NULL-terminated) in a child while the parent drives the loop, with
 * the streams in files (stdio: through cli_control() and fds 1 and 2). Returns the exit code. */
static int run_cli_at(struct fx *f, const char *path, bool stdio, char **out, char **err,
		      const char *const *args)
{
	char outp[400], errp[400];
	int argc = 0, status;

	while (args[argc])
		argc++;
	snprintf(outp, sizeof(outp), "%s/cli.out", f->dir);
	snprintf(errp, sizeof(errp), "%s/cli.err", f->dir);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		FILE *o = fopen(outp, "w"), *e = fopen(errp, "w");
		int r;

		if (!o || !e)
			_exit(99);
		if (stdio) {
			if (dup2(fileno(o), 1) < 0 || dup2(fileno(e), 2) < 0)
				_exit(99);
			r = cli_control(path, argc, (char **)args);
			fflush(stdout);
			fflush(stderr);
		} else
			r = cli_control_full(path, argc, (char **)args, 5 * USEC_PER_SEC, o, e);
		fclose(o);
		fclose(e);
		_exit(r);
	}
	uint64_t deadline = now_usec() + 10 * USEC_PER_SEC;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		ck_assert_int_ge(w, 0);
		if (w == pid)
			break;
		if (now_usec() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("the client did not finish");
		}
		if (f->e)
			ck_assert_int_ge(sd_event_run(f->e, 10 * USEC_PER_MSEC), 0);
		else
			usleep(1000);
	}
	ck_assert(WIFEXITED(status));
	ck_assert_int_ne(WEXITSTATUS(status), 99);
	*out = slurp(outp);
	*err = slurp(errp);
	return WEXITSTATUS(status);
}

static int run_cli(struct fx *f, char **out, char **err, const char *const *args)
{
	return run_cli_at(f, f->path, false, out, err, args);
}

/* Runs the CLI and expects exit code 0 and exactly want on stdout. */
static void expect_ok(struct fx *f, const char *want, const char *const *args)
{
	char *out, *err;
	int r = run_cli(f, &out, &err, args);

	ck_assert_msg(r == 0, "exit %d, stderr '%s'", r, err);
	ck_assert_str_eq(out, want);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
}

/* Runs the CLI and expects exit code code and a stderr containing want. */
static void expect_fail(struct fx *f, const char *path, int code, const char *want,
			const char *const *args)
{
	char *out, *err;
	int r = run_cli_at(f, path, false, &out, &err, args);

	ck_assert_msg(r == code, "exit %d (want %d), stderr '%s'", r, code, err);
	ck_assert_msg(strstr(err, want) != NULL, "stderr '%s', want '%s'", err, want);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void sun_set(struct sockaddr_un *sa, const char *path)
{
	size_t l = strlen(path);

	ck_assert_uint_lt(l, sizeof(sa->sun_path));
	memcpy(sa->sun_path, path, l + 1);
}

static int raw_connect(struct fx *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sun_set(&sa, f->path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Sends all of p (driving the loop while the socket is full). Returns 0 or the errno that
 * ended the sending (EPIPE, ECONNRESET: the server closed). */
static int raw_send(struct fx *f, int fd, const void *p, size_t len)
{
	uint64_t deadline = now_usec() + 5 * USEC_PER_SEC;
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)p + done, len - done, MSG_NOSIGNAL);
		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return errno;
		ck_assert_int_eq(errno, EAGAIN);
		ck_assert_msg(now_usec() < deadline, "send timed out");
		ck_assert_int_ge(sd_event_run(f->e, 10 * USEC_PER_MSEC), 0);
	}
	return 0;
}

/* Reads until end of file or an error (driving the loop meanwhile), at most size bytes, with
 * max_chunk bytes per read. Returns the bytes read; *ret_errno is 0 at end of file. */
static size_t raw_read(struct fx *f, int fd, char *buf, size_t size, size_t max_chunk,
		       int *ret_errno)
{
	uint64_t deadline = now_usec() + 5 * USEC_PER_SEC;
	size_t done = 0;

	for (;;) {
		ck_assert_uint_lt(done, size);
		ssize_t n = recv(fd, buf + done, MIN(size - done, max_chunk), 0);
		if (n > 0) {
			done += (size_t)n;
			if (max_chunk < size)
				ck_assert_int_ge(sd_event_run(f->e, 0), 0);
			continue;
		}
		if (n == 0) {
			*ret_errno = 0;
			break;
		}
		if (errno != EAGAIN) {
			*ret_errno = errno;
			break;
		}
		ck_assert_msg(now_usec() < deadline, "read timed out");
		ck_assert_int_ge(sd_event_run(f->e, 10 * USEC_PER_MSEC), 0);
	}
	buf[done < size ? done : size - 1] = '\0';
	return done;
}

/* One raw exchange: sends req, returns the whole reply (NUL-terminated, static). */
static const char *raw_exchange(struct fx *f, const void *req, size_t len, int *ret_errno)
{
	static char buf[8192];
	int fd = raw_connect(f);

	raw_send(f, fd, req, len);
	raw_read(f, fd, buf, sizeof(buf), sizeof(buf), ret_errno);
	close(fd);
	return buf;
}

/* ---- server tests ---- */

START_TEST(test_roundtrip)
{
	struct fx f;
	struct stat st;
	char *out, *err;

	fx_init(&f);

	/* The socket file: mode 0600, its new parent directories 0755. */
	ck_assert_int_eq(lstat(f.path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	char parent[400];
	snprintf(parent, sizeof(parent), "%s/run/waveguard", f.dir);
	ck_assert_int_eq(stat(parent, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_str_eq(control_get_path(f.c), f.path);

	expect_ok(&f, "cmd=status json=0 addr=- all=0 jail= time=0\n", ARGS("status"));
	expect_ok(&f, "cmd=status json=1 addr=- all=0 jail= time=0\n", ARGS("status", "--json"));
	expect_ok(&f, "cmd=list json=0 addr=- all=0 jail= time=0\n", ARGS("list"));
	expect_ok(&f, "cmd=list json=1 addr=- all=0 jail=smtp time=0\n",
		  ARGS("list", "smtp", "--json"));
	expect_ok(&f, "cmd=ban json=0 addr=192.0.2.1 all=0 jail= time=0\n",
		  ARGS("ban", "::ffff:192.0.2.1"));
	expect_ok(&f, "cmd=ban json=0 addr=2001:db8::/64 all=0 jail=smtp time=3600\n",
		  ARGS("ban", "2001:db8::1/64", "--jail", "smtp", "--time", "1h"));
	expect_ok(&f, "cmd=ban json=0 addr=198.51.100.0/24 all=0 jail= time=604800\n",
		  ARGS("ban", "--time", "7d", "198.51.100.9/24"));
	expect_ok(&f, "cmd=unban json=0 addr=192.0.2.9 all=0 jail= time=0\n",
		  ARGS("unban", "192.0.2.9"));
	expect_ok(&f, "cmd=unban json=0 addr=- all=1 jail= time=0\n", ARGS("unban", "--all"));
	expect_ok(&f, "cmd=reload json=0 addr=- all=0 jail= time=0\n", ARGS("reload"));
	ck_assert_uint_eq(f.calls, 10);

	/* cli_control() itself, on fds 1 and 2. */
	ck_assert_int_eq(run_cli_at(&f, f.path, true, &out, &err, ARGS("status")), 0);
	ck_assert_str_eq(out, "cmd=status json=0 addr=- all=0 jail= time=0\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	ck_assert_int_eq(run_cli_at(&f, f.path, true, &out, &err,
				    ARGS("ban", "192.0.2.1", "--jail", "fail")),
			 1);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "waveguard: no such jail 'fail'\n");
	free(out);
	free(err);

	/* A large body arrives whole. */
	ck_assert_int_eq(run_cli(&f, &out, &err, ARGS("list", "big")), 0);
	ck_assert_uint_eq(strlen(out), BIG_REPLY);
	for (size_t i = 0; i < BIG_REPLY; i += 4093)
		ck_assert_int_eq(out[i], 'a' + i % 26);
	free(out);
	free(err);

	const struct control_stats *s = control_get_stats(f.c);
	ck_assert_uint_eq(s->accepted, 13);
	ck_assert_uint_eq(s->requests, 13);
	ck_assert_uint_eq(s->ok, 12);
	ck_assert_uint_eq(s->errors, 1);
	fx_done(&f);
}
END_TEST

START_TEST(test_errors)
{
	struct fx f;
	char missing[400];

	fx_init(&f);

	/* The handler's message, first line only; without one the text of the errno. */
	expect_fail(&f, f.path, 1, "waveguard: no such jail 'fail'\n",
		    ARGS("ban", "192.0.2.1", "--jail", "fail"));
	expect_fail(&f, f.path, 1, "waveguard: No such file or directory\n",
		    ARGS("ban", "192.0.2.1", "--jail", "nomsg"));
	expect_fail(&f, f.path, 1, "waveguard: bad thing happened\n",
		    ARGS("ban", "192.0.2.1", "--jail", "ctrl"));
	expect_fail(&f, f.path, 1, "waveguard: reply too large\n", ARGS("list", "huge"));
	ck_assert_uint_eq(f.calls, 4);

	/* Usage errors are caught before connecting: the handler is never called. */
	expect_fail(&f, f.path, EX_USAGE,
		    "waveguard: ban: missing address (ban ADDR [--jail JAIL] [--time DURATION])\n"
		    "Usage: waveguard [-c DIR] ban ADDR [--jail JAIL] [--time DURATION|forever]\n",
		    ARGS("ban"));
	expect_fail(&f, f.path, EX_USAGE, "invalid address 'example.com'",
		    ARGS("unban", "example.com"));
	expect_fail(&f, f.path, EX_USAGE, "invalid duration '5x'",
		    ARGS("ban", "192.0.2.1", "--time", "5x"));
	expect_fail(&f, f.path, EX_USAGE, "unknown option '--force'", ARGS("reload", "--force"));
	expect_fail(&f, f.path, EX_USAGE, "unknown command 'frobnicate'", ARGS("frobnicate"));
	expect_fail(&f, f.path, EX_USAGE, "Usage: waveguard [-c DIR] status", ARGS("frobnicate"));
	expect_fail(&f, f.path, EX_USAGE, "may not contain spaces",
		    ARGS("ban", "192.0.2.1 --jail x"));
	expect_fail(&f, f.path, EX_USAGE, "may not contain spaces", ARGS("list", "a\nb"));
	expect_fail(&f, f.path, EX_USAGE, "empty argument", ARGS("list", ""));
	expect_fail(&f, f.path, EX_USAGE, "missing command", ((const char *const[]){ NULL }));
	char long_arg[5000];
	memset(long_arg, 'a', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	expect_fail(&f, f.path, EX_USAGE, "request too long", ARGS("list", long_arg));
	ck_assert_uint_eq(f.calls, 4);
	ck_assert_uint_eq(control_get_stats(f.c)->accepted, 4);

	/* No daemon: no socket, a stale socket, a path too long. */
	snprintf(missing, sizeof(missing), "%s/nothing/here.sock", f.dir);
	expect_fail(&f, missing, EX_UNAVAILABLE, "the daemon is not running", ARGS("status"));
	expect_fail(&f, missing, EX_USAGE, "missing address", ARGS("ban"));
	snprintf(missing, sizeof(missing), "%s/stale.sock", f.dir);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sun_set(&sa, missing);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
	}
	expect_fail(&f, missing, EX_UNAVAILABLE, "the daemon is not running", ARGS("status"));
	char toolong[300];
	memset(toolong, 'x', sizeof(toolong) - 1);
	toolong[0] = '/';
	toolong[sizeof(toolong) - 1] = '\0';
	expect_fail(&f, toolong, EX_CONFIG, "path too long", ARGS("status"));

	/* A daemon that accepts but never answers. */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(missing, sizeof(missing), "%s/mute.sock", f.dir);
		sun_set(&sa, missing);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(listen(fd, 4), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			char *argv[] = { (char *)"status", NULL };
			FILE *devnull = fopen("/dev/null", "w");
			_exit(cli_control_full(missing, 1, argv, 200 * USEC_PER_MSEC, devnull,
					       devnull));
		}
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), EX_UNAVAILABLE);
		close(fd);
	}
	fx_done(&f);
}
END_TEST

START_TEST(test_socket_file)
{
	struct fx f;
	struct control *c2 = NULL;
	char other[400];
	struct stat st;
	char *out, *err;

	fx_init(&f);

	/* A live socket is not taken over; a file that is no socket is not removed. */
	ck_assert_int_eq(control_alive(f.path), 1);
	ck_assert_int_eq(control_new(f.e, f.path, handler, &f, &c2), -EADDRINUSE);
	ck_assert_ptr_null(c2);
	snprintf(other, sizeof(other), "%s/file", f.dir);
	test_write(f.dir, "file", "w", "data\n");
	ck_assert_int_eq(control_new(f.e, other, handler, &f, &c2), -EEXIST);
	ck_assert_int_eq(stat(other, &st), 0);
	memset(other, 'x', sizeof(other) - 1);
	other[0] = '/';
	other[sizeof(other) - 1] = '\0';
	ck_assert_int_eq(control_new(f.e, other, handler, &f, &c2), -ENAMETOOLONG);
	ck_assert_int_eq(control_new(f.e, "", handler, &f, &c2), -EINVAL);

	/* A stale socket (its daemon died) is replaced. */
	snprintf(other, sizeof(other), "%s/stale.sock", f.dir);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sun_set(&sa, other);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
	}
	/* Nobody there: nft-cleanup may go ahead. */
	ck_assert_int_eq(control_alive(other), 0);
	ck_assert_int_eq(control_alive("/nonexistent/waveguard.sock"), 0);
	mode_t old = umask(0);
	ck_assert_int_eq(control_new(f.e, other, handler, &f, &c2), 0);
	umask(old);
	ck_assert_int_eq(lstat(other, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(run_cli_at(&f, other, false, &out, &err, ARGS("reload")), 0);
	ck_assert_str_eq(out, "cmd=reload json=0 addr=- all=0 jail= time=0\n");
	free(out);
	free(err);

	/* control_free() unlinks only its own socket, not what replaced it. */
	ck_assert_int_eq(unlink(other), 0);
	test_write(f.dir, "stale.sock", "w", "someone else's\n");
	c2 = control_free(c2);
	ck_assert_int_eq(stat(other, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_ptr_null(control_free(NULL));
	fx_done(&f);
}
END_TEST

START_TEST(test_peer_uid)
{
	struct fx f;
	char sockdir[400];
	int status;

	if (geteuid() != 0)
		return; /* needs root to become another user */
	fx_init(&f);
	/* Let uid 65534 reach the socket, so that only the SO_PEERCRED check stands in its way. */
	snprintf(sockdir, sizeof(sockdir), "%s/run", f.dir);
	ck_assert_int_eq(chmod(f.dir, 0755), 0);
	ck_assert_int_eq(chmod(sockdir, 0755), 0);
	ck_assert_int_eq(chmod(f.path, 0666), 0);

	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct timeval tv = { .tv_sec = 5 };
		char buf[256];
		size_t len = 0;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(90);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sun_set(&sa, f.path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(91);
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)send(fd, "status\n", 7, MSG_NOSIGNAL);
		for (;;) {
			ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		buf[len] = '\0';
		close(fd);
		if (strcmp(buf, "ERR permission denied\n") != 0)
			_exit(92);
		/* And the CLI says so: the daemon answered ERR. */
		char *argv[] = { (char *)"status", NULL };
		FILE *devnull = fopen("/dev/null", "w");
		_exit(cli_control_full(f.path, 1, argv, 5 * USEC_PER_SEC, devnull, devnull));
	}
	uint64_t deadline = now_usec() + 10 * USEC_PER_SEC;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		ck_assert(now_usec() < deadline);
		ck_assert_int_ge(sd_event_run(f.e, 10 * USEC_PER_MSEC), 0);
	}
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert_uint_eq(control_get_stats(f.c)->refused_perm, 2);
	ck_assert_uint_eq(control_get_stats(f.c)->accepted, 0);
	ck_assert_uint_eq(f.calls, 0);

	/* Root still is served. */
	expect_ok(&f, "cmd=status json=0 addr=- all=0 jail= time=0\n", ARGS("status"));
	fx_done(&f);
}
END_TEST

#define STATUS_REPLY "OK\ncmd=status json=0 addr=- all=0 jail= time=0\n"

START_TEST(test_abuse)
{
	struct fx f;
	const struct control_stats *s;
	int e;

	fx_init(&f);
	s = control_get_stats(f.c);
	control_set_timeout(f.c, 200 * USEC_PER_MSEC);

	/* Binary garbage with a newline: an error, then end of file. */
	ck_assert_str_eq(raw_exchange(&f, "\x00\x01\xff\xfe garbage\n", 13, &e),
			 "ERR request contains binary data (only printable ASCII is allowed)\n");
	ck_assert_int_eq(e, 0);
	/* Extra bytes after the request line are ignored (and, drained, cause no reset for the
	 * client: the server has read only the first 4 KiB when it answers). */
	{
		char junk[8000];
		memset(junk, 'j', sizeof(junk));
		memcpy(junk, "status\n", 7);
		ck_assert_str_eq(raw_exchange(&f, junk, sizeof(junk), &e), STATUS_REPLY);
		ck_assert_int_eq(e, 0);
	}
	ck_assert_str_eq(raw_exchange(&f, "status\r\n", 8, &e), STATUS_REPLY);
	ck_assert_str_eq(raw_exchange(&f, "\n", 1, &e), "ERR empty request\n");

	/* A request cut by the client's end of file. */
	{
		char buf[256];
		int fd = raw_connect(&f);
		ck_assert_int_eq(raw_send(&f, fd, "stat", 4), 0);
		ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
		raw_read(&f, fd, buf, sizeof(buf), sizeof(buf), &e);
		ck_assert_str_eq(buf, "ERR incomplete request (no newline)\n");
		close(fd);
	}
	/* A client that connects and closes at once. */
	close(raw_connect(&f));
	WAIT_FOR(&f, s->accepted == 6 && s->active == 0);

	/* 1 MiB without a newline: cut at 4 KiB. */
	{
		size_t big = 1024 * 1024;
		char *junk = malloc(big), buf[256];
		int fd = raw_connect(&f);

		ck_assert_ptr_nonnull(junk);
		memset(junk, 'x', big);
		e = raw_send(&f, fd, junk, big);
		ck_assert(e == EPIPE || e == ECONNRESET);
		raw_read(&f, fd, buf, sizeof(buf), sizeof(buf), &e);
		ck_assert_str_eq(buf, "ERR request too long\n");
		close(fd);
		free(junk);
		ck_assert_uint_eq(s->too_long, 1);
		/* 4095 bytes and the newline still fit (and are no command). */
		junk = malloc(CONTROL_REQUEST_MAX);
		memset(junk, 'y', CONTROL_REQUEST_MAX);
		junk[CONTROL_REQUEST_MAX - 1] = '\n';
		ck_assert_ptr_nonnull(strstr(raw_exchange(&f, junk, CONTROL_REQUEST_MAX, &e),
					     "ERR unknown command 'yyyy"));
		free(junk);
		ck_assert_uint_eq(s->too_long, 1);
	}

	/* Half a request, never finished; and nothing at all: dropped at the deadline. */
	{
		char buf[256];
		uint64_t timeouts = s->timeouts;
		int fd1 = raw_connect(&f), fd2 = raw_connect(&f);

		ck_assert_int_eq(raw_send(&f, fd1, "ban 192.0.2", 11), 0);
		WAIT_FOR(&f, s->timeouts == timeouts + 2);
		raw_read(&f, fd1, buf, sizeof(buf), sizeof(buf), &e);
		ck_assert_str_eq(buf, "ERR request timed out\n");
		ck_assert_int_eq(e, 0);
		raw_read(&f, fd2, buf, sizeof(buf), sizeof(buf), &e);
		ck_assert_str_eq(buf, "");
		ck_assert_int_eq(e, 0);
		close(fd1);
		close(fd2);
	}

	/* 64 connections at once: 32 are served, the others told "busy" at once. */
	{
		int fds[64], ok = 0, busy = 0;
		uint64_t accepted = s->accepted, refused = s->refused_busy;
		char *out, *err;

		control_set_timeout(f.c, 5 * USEC_PER_SEC);
		for (size_t i = 0; i < ELEMENTSOF(fds); i++)
			fds[i] = raw_connect(&f);
		WAIT_FOR(&f, s->accepted + s->refused_busy == accepted + refused + 64);
		ck_assert_uint_eq(s->active, CONTROL_CONNECTIONS_MAX);
		ck_assert_uint_eq(s->refused_busy, refused + 64 - CONTROL_CONNECTIONS_MAX);

		/* The CLI, meanwhile, hears that the daemon is busy. */
		ck_assert_int_eq(run_cli(&f, &out, &err, ARGS("status")), 1);
		ck_assert_str_eq(err, "waveguard: busy\n");
		free(out);
		free(err);

		for (size_t i = 0; i < ELEMENTSOF(fds); i++)
			raw_send(&f, fds[i], "status\n", 7);
		for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
			char buf[256];
			raw_read(&f, fds[i], buf, sizeof(buf), sizeof(buf), &e);
			if (strcmp(buf, STATUS_REPLY) == 0)
				ok++;
			else if (strcmp(buf, "ERR busy\n") == 0)
				busy++;
			else
				ck_abort_msg("unexpected reply '%s'", buf);
			close(fds[i]);
		}
		ck_assert_int_eq(ok, CONTROL_CONNECTIONS_MAX);
		ck_assert_int_eq(busy, 64 - CONTROL_CONNECTIONS_MAX);
		WAIT_FOR(&f, s->active == 0);
	}

	/* After all that, a normal request is served. */
	expect_ok(&f, "cmd=status json=0 addr=- all=0 jail= time=0\n", ARGS("status"));
	fx_done(&f);
}
END_TEST

START_TEST(test_slow_readers)
{
	struct fx f;
	const struct control_stats *s;
	char *buf = malloc(BIG_REPLY + 64);
	int e;

	ck_assert_ptr_nonnull(buf);
	fx_init(&f);
	s = control_get_stats(f.c);
	control_set_timeout(f.c, 200 * USEC_PER_MSEC);

	/* A slow reader gets the whole reply: it takes longer than the deadline, which counts from
	 * the last progress. The reader takes 128 KiB every 30 ms, the loop runs in between. */
	{
		int fd = raw_connect(&f);
		size_t n = 0;
		uint64_t start = now_usec(), next = start;

		ck_assert_int_eq(raw_send(&f, fd, "list big\n", 9), 0);
		WAIT_FOR(&f, f.calls == 1);
		for (;;) {
			uint64_t t = now_usec();
			ck_assert_msg(t < start + 20 * USEC_PER_SEC, "slow read timed out");
			if (t < next) {
				ck_assert_int_ge(sd_event_run(f.e, next - t), 0);
				continue;
			}
			ssize_t r = recv(fd, buf + n, MIN(128 * 1024, BIG_REPLY + 64 - n), 0);
			if (r == 0)
				break;
			ck_assert_msg(r > 0 || errno == EAGAIN, "recv: %s", strerror(errno));
			if (r > 0)
				n += (size_t)r;
			next = t + 30 * USEC_PER_MSEC;
		}
		ck_assert_uint_gt(now_usec() - start, 3 * 200 * USEC_PER_MSEC);
		ck_assert_uint_eq(s->timeouts, 0);
		ck_assert_uint_eq(n, 3 + BIG_REPLY);
		ck_assert_int_eq(memcmp(buf, "OK\n", 3), 0);
		for (size_t i = 0; i < BIG_REPLY; i++)
			if (buf[3 + i] != (char)('a' + i % 26))
				ck_abort_msg("byte %zu differs", i);
		close(fd);
		ck_assert_uint_eq(s->ok, 1);
	}

	/* A reader that stalls is dropped at the deadline. */
	{
		int fd = raw_connect(&f);
		ck_assert_int_eq(raw_send(&f, fd, "list big\n", 9), 0);
		WAIT_FOR(&f, s->timeouts == 1 && s->active == 0);
		size_t n = raw_read(&f, fd, buf, BIG_REPLY + 64, BIG_REPLY + 64, &e);
		ck_assert_uint_lt(n, 3 + BIG_REPLY);
		close(fd);
	}

	/* A client that goes away before reading its large reply. */
	{
		char small[100];
		int fd = raw_connect(&f);
		ck_assert_int_eq(raw_send(&f, fd, "list big\n", 9), 0);
		WAIT_FOR(&f, f.calls == 3);
		ck_assert_int_eq(recv(fd, small, sizeof(small), 0), (ssize_t)sizeof(small));
		close(fd);
		WAIT_FOR(&f, s->active == 0);
		ck_assert_uint_eq(s->disconnects, 1);
	}
	/* And one that is gone even before its request is handled. */
	{
		int fd = raw_connect(&f);
		ck_assert_int_eq(raw_send(&f, fd, "list big\n", 9), 0);
		close(fd);
		WAIT_FOR(&f, f.calls == 4 && s->active == 0);
	}

	expect_ok(&f, "cmd=status json=0 addr=- all=0 jail= time=0\n", ARGS("status"));
	free(buf);
	fx_done(&f);
}
END_TEST

START_TEST(test_free_with_connections)
{
	struct fx f;
	int fds[4];
	char *buf = malloc(BIG_REPLY + 64);
	int e;

	ck_assert_ptr_nonnull(buf);
	fx_init(&f);
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		fds[i] = raw_connect(&f);
	ck_assert_int_eq(raw_send(&f, fds[0], "list big\n", 9), 0);
	ck_assert_int_eq(raw_send(&f, fds[1], "sta", 3), 0);
	WAIT_FOR(&f, control_get_stats(f.c)->active == 4 && f.calls == 1);
	f.c = control_free(f.c);
	for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
		size_t n = raw_read(&f, fds[i], buf, BIG_REPLY + 64, BIG_REPLY + 64, &e);
		ck_assert_uint_lt(n, 3 + BIG_REPLY);
		close(fds[i]);
	}
	/* The path is free again. */
	ck_assert_int_eq(control_new(f.e, f.path, handler, &f, &f.c), 0);
	free(buf);
	fx_done(&f);
}
END_TEST

static int max_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int max = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		max = MAX(max, atoi(de->d_name));
	closedir(d);
	return max;
}

START_TEST(test_out_of_fds)
{
	struct fx f;
	struct rlimit old, low;
	int fillers[256], client, e;
	size_t n = 0;
	unsigned wakeups = 0;
	char buf[256];

	fx_init(&f);
	client = raw_connect(&f);
	ck_assert_int_eq(raw_send(&f, client, "status\n", 7), 0);

	/* No descriptor left for accept(): the server pauses instead of spinning on the pending
	 * connection, and serves it once descriptors are back. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)max_fd() + 1;
	if (setrlimit(RLIMIT_NOFILE, &low) < 0) {
		/* valgrind keeps the limit to itself: nothing to test there. */
		close(client);
		WAIT_FOR(&f, control_get_stats(f.c)->accepted == 1 &&
				     control_get_stats(f.c)->active == 0);
		fx_done(&f);
		return;
	}
	for (int fd;
	     n < ELEMENTSOF(fillers) && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
		fillers[n++] = fd;
	ck_assert_int_eq(errno, EMFILE);

	uint64_t end = now_usec() + 300 * USEC_PER_MSEC;
	for (uint64_t t; (t = now_usec()) < end;) {
		int r = sd_event_run(f.e, end - t);
		ck_assert_int_ge(r, 0);
		wakeups += r > 0;
	}
	ck_assert_uint_le(wakeups, 10);
	ck_assert_uint_eq(control_get_stats(f.c)->accepted, 0);

	while (n > 0)
		close(fillers[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	raw_read(&f, client, buf, sizeof(buf), sizeof(buf), &e);
	ck_assert_str_eq(buf, STATUS_REPLY);
	close(client);
	WAIT_FOR(&f, control_get_stats(f.c)->active == 0);
	fx_done(&f);
}
END_TEST

START_TEST(test_cli_help)
{
	struct fx f;
	char *out, *err;

	fx_init(&f);
	ck_assert_int_eq(run_cli(&f, &out, &err, ARGS("ban", "--help")), 0);
	ck_assert_str_eq(
		out,
		"Usage: waveguard [-c DIR] ban ADDR [--jail JAIL] [--time DURATION|forever]\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	ck_assert_int_eq(run_cli(&f, &out, &err, ARGS("nosuch", "-h")), 0);
	ck_assert_ptr_nonnull(strstr(out, "Usage: waveguard [-c DIR] status [--json]\n"));
	ck_assert_ptr_nonnull(strstr(out, "unban ADDR | unban --all\n"));
	free(out);
	free(err);
	ck_assert_uint_eq(control_get_stats(f.c)->accepted, 0);
	fx_done(&f);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("parser");

	tcase_add_loop_test(tc, test_parse_ok, 0, ELEMENTSOF(ok_cases));
	tcase_add_test(tc, test_parse_forever);
	tcase_add_loop_test(tc, test_parse_err, 0, ELEMENTSOF(err_cases));
	tcase_add_test(tc, test_parse_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_socket_file);
	tcase_add_test(tc, test_peer_uid);
	tcase_add_test(tc, test_abuse);
	tcase_add_test(tc, test_slow_readers);
	tcase_add_test(tc, test_free_with_connections);
	tcase_add_test(tc, test_out_of_fds);
	tcase_add_test(tc, test_cli_help);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(control_suite());
}
