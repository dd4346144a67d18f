/* Test helper: SMTP clients of a spam wave against a real Courier, each bound to a chosen
 * source address (loopback 127.x gives a test as many senders as it wants). Every event is one
 * line on stdout, "WORD unix_ms ...", flushed at once, so that a test can watch and count.
 *   courier-client send SRC DST PORT RCPT SECONDS INTERVAL_MS TIMEOUT_MS
 *        a legitimate sender: one message per connection every INTERVAL_MS for SECONDS;
 *        prints "ok T ms" per accepted message (250 after DATA), "fail T stage" otherwise
 *   courier-client rcpt SRC DST PORT TIMEOUT_MS RCPT...
 *        one session, one RCPT TO per argument: "rcpt T CODE ADDR TEXT" each (TEXT: the
 *        reply's last line after its code), then QUIT
 *   courier-client auth SRC DST PORT TIMEOUT_MS N
 *        one session, N failing AUTH PLAIN attempts: "auth T CODE" each, then QUIT
 *   courier-client bot SRC DST PORT RCPT SECONDS LINGER
 *        a DNSBL-listed spam bot: connects again and again for SECONDS; each time EHLO, MAIL,
 *        RCPT ("rcpt T CODE"), then QUIT (LINGER 0) or sits idle until the server drops it
 *        (LINGER 1: "dropped T held_ms"), and connects again a second later; a connection that
 *        gets no SYN-ACK within 1 s is "nosynack T"
 *   courier-client slow SRC DST PORT RCPT SECONDS GREET_PAUSE_MS PAUSE_MS DATA_PAUSE_MS TIMEOUT_MS
 *        a slow legitimate sender: one message per connection, again and again for SECONDS,
 *        pausing GREET_PAUSE_MS after the banner (before EHLO), PAUSE_MS before each further
 *        command and DATA_PAUSE_MS in the middle of the message; "step T NAME" as it sends
 *        each command, then "ok T ms" or "fail T stage" ("fail T STAGE-reset" when the
 *        connection was reset)
 *   courier-client hold FIRST N DST PORT SECONDS [RAMP_MS [DRAIN_S]]
 *        N idle connections from 127.FIRST.1.1, 127.FIRST.2.1, ... (one /24 each, beyond
 *        Courier's per-/24 limit), the i-th opened i * RAMP_MS after the start (default 0),
 *        sending nothing; one the server closes is "dropped T held_ms banner_ms HOW SRC"
 * (banner_ms: from the 220 banner to the close, -1 without a banner; HOW "closed" for an orderly
 *        close, "reset" for a reset; SRC its address) and is opened again at once; "held T N" each
 * time all N are connected. After SECONDS it opens no more ("released T"; connection attempts still
 *        unanswered, e.g. of banned addresses, are given up): with DRAIN_S, like spam bots that
 *        vanish without closing, it leaves the open ones to the server and waits up to DRAIN_S
 *        for it to drop them all ("drained T" when it has)
 * Exit status: 0 done, 1 the server did not behave, 2 usage or local error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int fill(const char *text, int port, struct sockaddr_in *in)
{
	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, text, &in->sin_addr) != 1) {
		fprintf(stderr, "courier-client: bad IPv4 address %s\n", text);
		exit(2);
	}
	return 0;
}

/* A non-blocking socket bound to src, connecting to dst. Returns the fd or -1. */
static int start_connect(const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) < 0 ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connects within timeout_ms. Returns the fd, -1 refused/error, -2 no SYN-ACK in time. */
static int connect_to(const struct sockaddr_in *src, const struct sockaddr_in *dst, int timeout_ms)
{
	int fd = start_connect(src, dst);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -1;
	if (poll(&p, 1, timeout_ms) != 1) {
		close(fd);
		return -2;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One SMTP session's reading side: whole reply lines, multi-line replies joined. */
struct conn {
	int fd;
	char buf[8192];
	size_t len;
	char text[512]; /* the last reply's last line, after its code */
};

/* Reads one complete reply (the last line "NNN "). Returns its code, -1 on EOF/error, -2 on
 * timeout. */
static int reply(struct conn *c, int timeout_ms)
{
	long long end = mono_ms() + timeout_ms;

	for (;;) {
		/* complete lines in the buffer: find the last line of a reply */
		char *start = c->buf;
		char *nl;
		while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
			if (nl - start >= 4 && start[3] == ' ') {
				int code = atoi(start);
				size_t tn = (size_t)(nl - start - 4);
				if (tn > 0 && start[4 + tn - 1] == '\r')
					tn--;
				if (tn >= sizeof(c->text))
					tn = sizeof(c->text) - 1;
				memcpy(c->text, start + 4, tn);
				c->text[tn] = '\0';
				size_t used = (size_t)(nl + 1 - c->buf);
				memmove(c->buf, nl + 1, c->len - used);
				c->len -= used;
				return code;
			}
			start = nl + 1;
		}
		if (c->len == sizeof(c->buf)) /* a reply longer than the buffer: drop its head */
			c->len = 0;
		long long left = end - mono_ms();
		if (left <= 0)
			return -2;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) != 1)
			return -2;
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static int cmd(struct conn *c, int timeout_ms, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	memcpy(line + n, "\r\n", 2);
	if (write(c->fd, line, (size_t)n + 2) != n + 2)
		return -1;
	return reply(c, timeout_ms);
}

/* Banner, EHLO, MAIL FROM. Returns 0, or the stage that failed. */
static const char *greet(struct conn *c, const char *src, int timeout_ms)
{
	int k = reply(c, timeout_ms);
	if (k != 220)
		return k == -2 ? "banner-timeout" : "banner";
	if (cmd(c, timeout_ms, "EHLO client-%s.sender.test", src) != 250)
		return "ehlo";
	if (cmd(c, timeout_ms, "MAIL FROM:<someone@sender.test>") != 250)
		return "mail";
	return NULL;
}

static int do_send(const char *src, struct sockaddr_in *a, struct sockaddr_in *b, const char *rcpt,
		   int seconds, int interval_ms, int timeout_ms)
{
	long long end = mono_ms() + (long long)seconds * 1000;
	unsigned ok = 0, failed = 0, seq = 0;

	while (mono_ms() < end) {
		long long t0 = mono_ms(), started = now_ms();
		const char *stage = NULL;
		struct conn c = { .fd = connect_to(a, b, timeout_ms) };
		seq++;
		if (c.fd == -2)
			stage = "connect-timeout";
		else if (c.fd < 0)
			stage = "connect";
		else if (!(stage = greet(&c, src, timeout_ms))) {
			if (cmd(&c, timeout_ms, "RCPT TO:<%s>", rcpt) != 250)
				stage = "rcpt";
			else if (cmd(&c, timeout_ms, "DATA") != 354)
				stage = "data";
			else if (cmd(&c, timeout_ms,
				     "From: <someone@sender.test>\r\nTo: <%s>\r\n"
				     "Subject: legitimate %s %u\r\n\r\nhello\r\n.",
				     rcpt, src, seq) != 250)
				stage = "message";
			else
				cmd(&c, 1000, "QUIT");
		}
		if (c.fd >= 0)
			close(c.fd);
		if (stage) {
			failed++;
			say("fail %lld %s", started, stage);
		} else {
			ok++;
			say("ok %lld %lld", started, mono_ms() - t0);
		}
		long long wait = t0 + interval_ms - mono_ms();
		if (wait > 0)
			usleep((useconds_t)wait * 1000);
	}
	say("summary %lld accepted=%u failed=%u", now_ms(), ok, failed);
	return 0;
}

static int do_rcpt(const char *src, struct sockaddr_in *a, struct sockaddr_in *b, int timeout_ms,
		   int n, char **rcpts)
{
	struct conn c = { .fd = connect_to(a, b, timeout_ms) };
	const char *stage;

	if (c.fd < 0) {
		say("fail %lld %s", now_ms(), c.fd == -2 ? "connect-timeout" : "connect");
		return 1;
	}
	if ((stage = greet(&c, src, timeout_ms))) {
		say("fail %lld %s", now_ms(), stage);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		c.text[0] = '\0';
		int code = cmd(&c, timeout_ms, "RCPT TO:<%s>", rcpts[i]);
		say("rcpt %lld %d %s %s", now_ms(), code, rcpts[i], c.text);
	}
	cmd(&c, 1000, "QUIT");
	close(c.fd);
	return 0;
}

static int do_auth(const char *src, struct sockaddr_in *a, struct sockaddr_in *b, int timeout_ms,
		   int n)
{
	struct conn c = { .fd = connect_to(a, b, timeout_ms) };
	int k;

	if (c.fd < 0) {
		say("fail %lld %s", now_ms(), c.fd == -2 ? "connect-timeout" : "connect");
		return 1;
	}
	if ((k = reply(&c, timeout_ms)) != 220 ||
	    cmd(&c, timeout_ms, "EHLO client-%s.sender.test", src) != 250) {
		say("fail %lld greeting", now_ms());
		return 1;
	}
	/* "\0admin\0guess-N", base64: a different wrong password each time */
	static const char *const guesses[] = {
		"AGFkbWluAGd1ZXNzMQ==", "AGFkbWluAGd1ZXNzMg==", "AGFkbWluAGd1ZXNzMw==",
		"AGFkbWluAGd1ZXNzNA==", "AGFkbWluAGd1ZXNzNQ==", "AGFkbWluAGd1ZXNzNg==",
	};
	for (int i = 0; i < n; i++)
		say("auth %lld %d", now_ms(), cmd(&c, timeout_ms, "AUTH PLAIN %s", guesses[i % 6]));
	cmd(&c, 1000, "QUIT");
	close(c.fd);
	return 0;
}

static int do_bot(const char *src, struct sockaddr_in *a, struct sockaddr_in *b, const char *rcpt,
		  int seconds, int linger)
{
	long long end = mono_ms() + (long long)seconds * 1000;

	while (mono_ms() < end) {
		struct conn c = { .fd = connect_to(a, b, 1000) };
		const char *stage;
		if (c.fd == -2) {
			say("nosynack %lld", now_ms());
			continue;
		}
		if (c.fd < 0) {
			say("fail %lld connect", now_ms());
			usleep(200000);
			continue;
		}
		long long t0 = mono_ms();
		int left = (int)(end - t0);
		if (left < 100)
			left = 100;
		if ((stage = greet(&c, src, left))) {
			say("fail %lld %s", now_ms(), stage);
		} else {
			say("rcpt %lld %d", now_ms(), cmd(&c, left, "RCPT TO:<%s>", rcpt));
			if (!linger)
				cmd(&c, 1000, "QUIT");
			else {
				/* idle, like a spammer waiting on its next message, until dropped
				 */
				struct pollfd p = { .fd = c.fd, .events = POLLIN };
				char buf[512];
				for (;;) {
					left = (int)(end - mono_ms());
					if (left <= 0 || poll(&p, 1, left) != 1)
						break;
					if (read(c.fd, buf, sizeof(buf)) <= 0) {
						say("dropped %lld %lld", now_ms(), mono_ms() - t0);
						break;
					}
				}
			}
		}
		close(c.fd);
		usleep(1000000);
	}
	say("summary %lld", now_ms());
	return 0;
}

/* Sends one command and reads its reply after waiting pause_ms (the client's slowness). Returns
 * the reply code, -1 on EOF/error (errno ECONNRESET for a reset), -2 on timeout. */
static int slow_cmd(struct conn *c, int pause_ms, int timeout_ms, const char *name, const char *fmt,
		    const char *arg)
{
	usleep((useconds_t)pause_ms * 1000);
	say("step %lld %s", now_ms(), name);
	return cmd(c, timeout_ms, fmt, arg);
}

/* One slow session. Returns NULL when the message was accepted, or the stage that failed. */
static const char *slow_session(struct conn *c, const char *src, const char *rcpt, int greet_ms,
				int pause_ms, int data_ms, int timeout_ms)
{
	static const char part1[] =
		"From: <someone@sender.test>\r\nSubject: slow\r\n\r\nfirst half";

	if (reply(c, timeout_ms) != 220)
		return "banner";
	if (slow_cmd(c, greet_ms, timeout_ms, "ehlo", "EHLO client-%s.sender.test", src) != 250)
		return "ehlo";
	if (slow_cmd(c, pause_ms, timeout_ms, "mail", "MAIL FROM:<someone@%s>", "sender.test") !=
	    250)
		return "mail";
	if (slow_cmd(c, pause_ms, timeout_ms, "rcpt", "RCPT TO:<%s>", rcpt) != 250)
		return "rcpt";
	if (slow_cmd(c, pause_ms, timeout_ms, "data", "%s", "DATA") != 354)
		return "data";
	say("step %lld body", now_ms());
	if (write(c->fd, part1, sizeof(part1) - 1) != (ssize_t)sizeof(part1) - 1)
		return "body";
	if (slow_cmd(c, data_ms, timeout_ms, "end", "%s", ", second half\r\n.") != 250)
		return "message";
	cmd(c, 1000, "QUIT");
	return NULL;
}

static int do_slow(const char *src, struct sockaddr_in *a, struct sockaddr_in *b, const char *rcpt,
		   int seconds, int greet_ms, int pause_ms, int data_ms, int timeout_ms)
{
	long long end = mono_ms() + (long long)seconds * 1000;
	unsigned ok = 0, failed = 0;

	while (mono_ms() < end) {
		long long t0 = mono_ms(), started = now_ms();
		struct conn c = { .fd = connect_to(a, b, timeout_ms) };
		const char *stage = c.fd == -2 ? "connect-timeout" : c.fd < 0 ? "connect" : NULL;
		if (!stage) {
			errno = 0;
			stage = slow_session(&c, src, rcpt, greet_ms, pause_ms, data_ms,
					     timeout_ms);
		}
		if (stage) {
			failed++;
			say("fail %lld %s%s", started, stage, errno == ECONNRESET ? "-reset" : "");
		} else {
			ok++;
			say("ok %lld %lld", started, mono_ms() - t0);
		}
		if (c.fd >= 0)
			close(c.fd);
	}
	say("summary %lld accepted=%u failed=%u", now_ms(), ok, failed);
	return 0;
}

static int do_hold(int first, int n, struct sockaddr_in *b, int seconds, int ramp_ms, int drain_s)
{
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	long long *since = calloc((size_t)n, sizeof(*since));
	long long *banner = calloc((size_t)n, sizeof(*banner));
	long long begin = mono_ms();
	struct sockaddr_in *src = calloc((size_t)n, sizeof(*src));
	char(*names)[32] = calloc((size_t)n, sizeof(*names));
	long long end = mono_ms() + (long long)seconds * 1000;
	long long drain_end = end + (long long)drain_s * 1000;
	unsigned dropped = 0, opened = 0;
	int held = 0, was_all = 0, draining = 0;

	if (!p || !since || !src || !banner || !names)
		return 2;
	for (int i = 0; i < n; i++) {
		char *text = names[i];
		snprintf(text, sizeof(names[i]), "127.%d.%d.%d", first + (i + 1) / 250,
			 (i + 1) % 250, 1);
		fill(text, 0, &src[i]);
		p[i].fd = -1;
	}
	for (;;) {
		if (!draining && mono_ms() >= end) {
			say("released %lld", now_ms());
			draining = 1;
			/* It opens no more: attempts still unanswered (banned) are given up. */
			for (int i = 0; i < n; i++)
				if (p[i].fd >= 0 && p[i].events == POLLOUT) {
					close(p[i].fd);
					p[i].fd = -1;
				}
		}
		if (draining && (mono_ms() >= drain_end || drain_s == 0))
			break;
		if (draining) {
			int open = 0;
			for (int i = 0; i < n; i++)
				open += p[i].fd >= 0;
			if (!open) {
				say("drained %lld", now_ms());
				break;
			}
		}
		for (int i = 0; i < n && !draining; i++)
			if (p[i].fd < 0 && mono_ms() - begin >= (long long)i * ramp_ms) {
				p[i].fd = start_connect(&src[i], b);
				p[i].events = POLLOUT;
				since[i] = mono_ms();
				banner[i] = 0;
				opened++;
			}
		if (poll(p, (nfds_t)n, 200) < 0 && errno != EINTR)
			return 2;
		held = 0;
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0)
				continue;
			if (p[i].revents & POLLOUT) {
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					close(p[i].fd);
					p[i].fd = -1;
					continue;
				}
				p[i].events = POLLIN;
			} else if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				char buf[512];
				ssize_t k = read(p[i].fd, buf, sizeof(buf));
				if (k > 0) {
					if (!banner[i])
						banner[i] = mono_ms();
				} else {
					say("dropped %lld %lld %lld %s %s", now_ms(),
					    mono_ms() - since[i],
					    banner[i] ? mono_ms() - banner[i] : -1,
					    k < 0 && errno == ECONNRESET ? "reset" : "closed",
					    names[i]);
					dropped++;
					close(p[i].fd);
					p[i].fd = -1;
					continue;
				}
			}
			if (p[i].events == POLLIN)
				held++;
		}
		if (held == n && !was_all)
			say("held %lld %d", now_ms(), n);
		was_all = held == n;
	}
	for (int i = 0; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	say("summary %lld opened=%u dropped=%u", now_ms(), opened, dropped);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a, b;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 9 && strcmp(argv[1], "send") == 0) {
		fill(argv[2], 0, &a);
		fill(argv[3], atoi(argv[4]), &b);
		return do_send(argv[2], &a, &b, argv[5], atoi(argv[6]), atoi(argv[7]),
			       atoi(argv[8]));
	}
	if (argc >= 7 && strcmp(argv[1], "rcpt") == 0) {
		fill(argv[2], 0, &a);
		fill(argv[3], atoi(argv[4]), &b);
		return do_rcpt(argv[2], &a, &b, atoi(argv[5]), argc - 6, argv + 6);
	}
	if (argc == 7 && strcmp(argv[1], "auth") == 0) {
		fill(argv[2], 0, &a);
		fill(argv[3], atoi(argv[4]), &b);
		return do_auth(argv[2], &a, &b, atoi(argv[5]), atoi(argv[6]));
	}
	if (argc == 8 && strcmp(argv[1], "bot") == 0) {
		fill(argv[2], 0, &a);
		fill(argv[3], atoi(argv[4]), &b);
		return do_bot(argv[2], &a, &b, argv[5], atoi(argv[6]), atoi(argv[7]));
	}
	if (argc == 11 && strcmp(argv[1], "slow") == 0) {
		fill(argv[2], 0, &a);
		fill(argv[3], atoi(argv[4]), &b);
		return do_slow(argv[2], &a, &b, argv[5], atoi(argv[6]), atoi(argv[7]),
			       atoi(argv[8]), atoi(argv[9]), atoi(argv[10]));
	}
	if (argc >= 7 && argc <= 9 && strcmp(argv[1], "hold") == 0) {
		fill(argv[4], atoi(argv[5]), &b);
		return do_hold(atoi(argv[2]), atoi(argv[3]), &b, atoi(argv[6]),
			       argc >= 8 ? atoi(argv[7]) : 0, argc == 9 ? atoi(argv[8]) : 0);
	}
	fprintf(stderr,
		"usage: courier-client send|rcpt|auth|bot|slow|hold ... (see the source)\n");
	return 2;
}
