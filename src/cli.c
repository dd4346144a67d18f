/* The control client: joins the command's arguments into one request line, checks it with the
 * same parser the daemon uses (so usage errors never reach the socket), sends it and streams the
 * reply body to the output. Every wait is bounded by a timeout; no signal can come from a
 * daemon that goes away (MSG_NOSIGNAL). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "timeutil.h"

static const char *const usages[][2] = {
	{ "status", "status [--json]" },
	{ "list", "list [JAIL] [--json] [-v|--verbose]" },
	{ "show", "show ADDR [--json]" },
	{ "ban", "ban ADDR [--jail JAIL] [--time DURATION|forever]" },
	{ "unban", "unban ADDR | unban --all" },
	{ "reload", "reload" },
};

void cli_usage(FILE *f)
{
	for (size_t i = 0; i < ELEMENTSOF(usages); i++)
		fprintf(f, "%s waveguard [-c DIR] %s\n", i == 0 ? "Usage:" : "      ",
			usages[i][1]);
}

/* Waits until fd is ready for events or the deadline passes. Returns 1 ready, 0 timed out,
 * -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = timeutil_now(CLOCK_MONOTONIC);
		if (now >= deadline)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t ms = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
		int r = poll(&p, 1, (int)MIN(ms, (uint64_t)INT32_MAX));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r > 0)
			return 1;
	}
}

/* Builds "argv[0] argv[1] ...\n" in line (CONTROL_REQUEST_MAX bytes) and checks it. Returns
 * the length with the newline, or -EINVAL after printing why to err. */
static int build_request(int argc, char **argv, char *line, FILE *err)
{
	struct control_request req;
	char msg[256];
	size_t len = 0;

	if (argc < 1 || !argv[0]) {
		fprintf(err, "waveguard: missing command\n");
		cli_usage(err);
		return -EINVAL;
	}
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (l == 0) {
			fprintf(err, "waveguard: empty argument\n");
			return -EINVAL;
		}
		for (size_t j = 0; j < l; j++)
			if ((unsigned char)argv[i][j] <= ' ' || (unsigned char)argv[i][j] == 0x7f) {
				fprintf(err,
					"waveguard: arguments may not contain spaces or control "
					"characters\n");
				return -EINVAL;
			}
		if (len + (i > 0) + l + 1 > CONTROL_REQUEST_MAX) {
			fprintf(err, "waveguard: request too long (at most %d bytes)\n",
				CONTROL_REQUEST_MAX - 1);
			return -EINVAL;
		}
		if (i > 0)
			line[len++] = ' ';
		memcpy(line + len, argv[i], l);
		len += l;
	}
	if (control_parse_request(line, len, &req, msg, sizeof(msg)) < 0) {
		fprintf(err, "waveguard: %s\n", msg);
		for (size_t i = 0; i < ELEMENTSOF(usages); i++)
			if (strcmp(argv[0], usages[i][0]) == 0) {
				fprintf(err, "Usage: waveguard [-c DIR] %s\n", usages[i][1]);
				return -EINVAL;
			}
		cli_usage(err);
		return -EINVAL;
	}
	line[len++] = '\n';
	return (int)len;
}

/* Connects (blocking, bounded by SO_SNDTIMEO) and returns a non-blocking fd, or a negative
 * sysexits code after printing why. */
static int connect_daemon(const char *path, uint64_t timeout_usec, FILE *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = (time_t)(timeout_usec / USEC_PER_SEC),
		.tv_usec = (suseconds_t)(timeout_usec % USEC_PER_SEC),
	};

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(err, "waveguard: control socket path too long: %s\n", path);
		return -EX_CONFIG;
	}
	memcpy(sa.sun_path, path, strlen(path));

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(err, "waveguard: cannot create a socket: %s\n", strerror(errno));
		return -EX_IOERR;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		switch (e) {
		case ENOENT:
		case ENOTDIR:
		case ECONNREFUSED:
			fprintf(err,
				"waveguard: the daemon is not running (cannot connect to %s: %s)\n",
				path, strerror(e));
			return -EX_UNAVAILABLE;
		case EAGAIN:
		case EINPROGRESS:
		case ETIMEDOUT:
			fprintf(err, "waveguard: the daemon does not accept connections on %s\n",
				path);
			return -EX_UNAVAILABLE;
		case EACCES:
		case EPERM:
			fprintf(err, "waveguard: cannot connect to %s: %s\n", path, strerror(e));
			return -EX_NOPERM;
		default:
			fprintf(err, "waveguard: cannot connect to %s: %s\n", path, strerror(e));
			return -EX_IOERR;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		fprintf(err, "waveguard: %s\n", strerror(errno));
		return -EX_IOERR;
	}
	return TAKE_FD(fd);
}

/* Sends the request. A daemon that closed early (it may have answered "ERR busy" already) is no
 * error here: its answer is read next. Returns 0 or a sysexits code. */
static int send_request(int fd, const char *line, size_t len, uint64_t timeout_usec, FILE *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, line + done, len - done, MSG_NOSIGNAL);
		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			fprintf(err, "waveguard: cannot send the request: %s\n", strerror(errno));
			return EX_IOERR;
		}
		int r = wait_fd(fd, POLLOUT, timeutil_now(CLOCK_MONOTONIC) + timeout_usec);
		if (r == 0) {
			fprintf(err, "waveguard: the daemon does not read the request\n");
			return EX_UNAVAILABLE;
		}
		if (r < 0) {
			fprintf(err, "waveguard: %s\n", strerror(-r));
			return EX_IOERR;
		}
	}
	return 0;
}

/* A failed recv() while reading the reply (started: some of it came). Returns 0 to read again
 * (interrupted, or input arrived within the idle timeout), else a sysexits code. */
static int recv_failed(int fd, uint64_t timeout_usec, bool started, bool body, FILE *err)
{
	if (errno == EINTR)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		/* Idle timeout: a long reply may take long, a silent daemon not. */
		int r = wait_fd(fd, POLLIN, timeutil_now(CLOCK_MONOTONIC) + timeout_usec);
		if (r > 0)
			return 0;
		if (r < 0) {
			fprintf(err, "waveguard: %s\n", strerror(-r));
			return EX_IOERR;
		}
		if (!started) {
			fprintf(err, "waveguard: the daemon does not answer\n");
			return EX_UNAVAILABLE;
		}
		fprintf(err, "waveguard: timed out reading the daemon's reply\n");
		return EX_IOERR;
	}
	if (body)
		fprintf(err, "waveguard: connection lost while reading the reply: %s\n",
			strerror(errno));
	else
		fprintf(err, "waveguard: no reply from the daemon: %s\n", strerror(errno));
	return EX_IOERR;
}

/* The daemon closed the connection: the end of the reply if its body had begun. */
static int reply_closed(bool body, FILE *out, FILE *err)
{
	if (!body) {
		fprintf(err, "waveguard: the daemon closed the connection without a complete "
			     "reply\n");
		return EX_IOERR;
	}
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(err, "waveguard: cannot write the output: %s\n", strerror(errno));
		return EX_IOERR;
	}
	return EX_OK;
}

/* Adds what *p holds (*len bytes) up to a newline to the head line; *p and *len move past it.
 * Returns -EAGAIN while the line is incomplete, 0 once it is "OK" (the body follows), else the
 * exit code (1 for "ERR <message>", which goes to err). */
static int take_head(char *head, size_t *head_len, size_t head_size, const char **p, size_t *len,
		     FILE *err)
{
	size_t take = MIN(*len, head_size - *head_len);
	const char *nl = memchr(*p, '\n', take);
	if (nl)
		take = (size_t)(nl - *p) + 1;
	memcpy(head + *head_len, *p, take);
	*head_len += take;
	*p += take;
	*len -= take;
	if (!nl && *head_len < head_size)
		return -EAGAIN;
	if (nl && *head_len == 3 && memcmp(head, "OK\n", 3) == 0)
		return 0;
	if (nl && *head_len > 4 && memcmp(head, "ERR ", 4) == 0) {
		fprintf(err, "waveguard: %.*s\n", (int)(*head_len - 5), head + 4);
		return 1;
	}
	fprintf(err, "waveguard: malformed reply from the daemon\n");
	return EX_IOERR;
}

/* Reads the reply: "OK\n" then the body (copied to out), or "ERR <message>\n". */
static int read_reply(int fd, uint64_t timeout_usec, FILE *out, FILE *err)
{
	char head[CONTROL_REQUEST_MAX];
	size_t head_len = 0;
	bool body = false;
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			int r = recv_failed(fd, timeout_usec, body || head_len > 0, body, err);
			if (r != 0)
				return r;
			continue;
		}
		if (n == 0)
			return reply_closed(body, out, err);

		const char *p = buf;
		size_t len = (size_t)n;
		if (!body) {
			int r = take_head(head, &head_len, sizeof(head), &p, &len, err);
			if (r == -EAGAIN)
				continue;
			if (r != 0)
				return r;
			body = true;
		}
		if (len > 0 && fwrite(p, 1, len, out) != len) {
			fprintf(err, "waveguard: cannot write the output: %s\n", strerror(errno));
			return EX_IOERR;
		}
	}
}

int cli_control_full(const char *socket_path, int argc, char **argv, uint64_t timeout_usec,
		     FILE *out, FILE *err)
{
	char line[CONTROL_REQUEST_MAX];
	int len, r;

	/* `waveguard ban --help`: the usage of that command, without asking the daemon. */
	for (int i = 1; i < argc; i++)
		if (argv[i] && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
			for (size_t j = 0; j < ELEMENTSOF(usages); j++)
				if (strcmp(argv[0], usages[j][0]) == 0) {
					fprintf(out, "Usage: waveguard [-c DIR] %s\n",
						usages[j][1]);
					return EX_OK;
				}
			cli_usage(out);
			return EX_OK;
		}

	len = build_request(argc, argv, line, err);
	if (len < 0)
		return EX_USAGE;

	_cleanup_close_ int fd = connect_daemon(socket_path, timeout_usec, err);
	if (fd < 0)
		return -fd;
	r = send_request(fd, line, (size_t)len, timeout_usec, err);
	if (r != 0)
		return r;
	return read_reply(fd, timeout_usec, out, err);
}

int cli_control(const char *socket_path, int argc, char **argv)
{
	return cli_control_full(socket_path, argc, argv, CLI_TIMEOUT_USEC, stdout, stderr);
}
