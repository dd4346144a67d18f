/* Tests for probe: small SMTP "servers" on loopback live in the same sd_event loop as the probe
 * (a listener and its connections are io sources, delayed writes are timers); the loop is run
 * with deadlines, never slept on. Assertions are on the results, the latencies, what the server
 * received (QUIT, and nothing before the greeting ended) and the descriptors left open. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "macro.h"
#include "probe.h"
#include "testutil.h"

#define MAX_CONNS   16
#define MAX_RESULTS 16

/* One accepted connection of the test server. */
struct sconn {
	struct server *srv;
	int fd;
	sd_event_source *io_source;
	sd_event_source *later_source;
	char rx[512];
	size_t rx_len;
	size_t rx_before_later; /* bytes received before `later` was written */
	bool later_sent;
	bool eof;    /* the probe closed (or reset) */
	bool closed; /* closed by the server */
};

struct server {
	struct fx *f;
	int lfd;
	uint16_t port;
	sd_event_source *listen_source; /* NULL: never accepts */
	/* Behaviour of the next accepted connections. */
	const char *greeting; /* written at once (may be NULL) */
	size_t greeting_len;  /* 0: strlen(greeting) */
	const char *later;    /* written later_usec after the accept (may be NULL) */
	uint64_t later_usec;
	bool close_at_once; /* close right after the accept */
	bool reset_at_once; /* ... with an RST */
	bool close_after_greeting;
	bool answer_quit; /* "221 bye" and close once "QUIT\r\n" came */
	struct sconn conns[MAX_CONNS];
	unsigned n_conns;
};

struct result {
	enum probe_status status;
	uint64_t latency;
	int error;
	int code;
	bool running; /* probe_running() inside the callback */
};

struct fx {
	int nfds; /* open descriptors before the test: none may leak */
	sd_event *e;
	struct probe *p;
	struct server srv;
	struct result res[MAX_RESULTS];
	unsigned n;
	unsigned restart_in_done; /* start again from the callback this many times */
	bool free_in_done;
};

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

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Runs the loop until cond holds; fails after sec seconds. */
#define WAIT_FOR(f, cond, sec)                                                                     \
	do {                                                                                       \
		uint64_t _deadline = now_usec() + (sec)*USEC_PER_SEC;                              \
		while (!(cond)) {                                                                  \
			ck_assert_msg(now_usec() < _deadline, "timed out waiting for " #cond);     \
			ck_assert_int_ge(sd_event_run((f)->e, 50 * USEC_PER_MSEC), 0);             \
		}                                                                                  \
	} while (0)

/* Runs the loop for usec, whatever happens. */
static void run_for(struct fx *f, uint64_t usec)
{
	uint64_t end = now_usec() + usec;

	while (now_usec() < end)
		ck_assert_int_ge(sd_event_run(f->e, 20 * USEC_PER_MSEC), 0);
}

static void on_done(enum probe_status status, uint64_t latency_usec, int error, void *userdata)
{
	struct fx *f = userdata;

	ck_assert_uint_lt(f->n, MAX_RESULTS);
	f->res[f->n++] = (struct result){
		.status = status,
		.latency = latency_usec,
		.error = error,
		.code = probe_get_reply_code(f->p),
		.running = probe_running(f->p),
	};
	if (f->restart_in_done > 0) {
		f->restart_in_done--;
		ck_assert_int_eq(probe_start(f->p), 0);
		ck_assert(probe_running(f->p));
	} else if (f->free_in_done)
		f->p = probe_free(f->p);
}

static void write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		ck_assert_int_gt(n, 0);
		data += n;
		len -= (size_t)n;
	}
}

static void sconn_close(struct sconn *c)
{
	c->io_source = sd_event_source_disable_unref(c->io_source);
	c->later_source = sd_event_source_disable_unref(c->later_source);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int on_sconn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct sconn *c = userdata;
	ssize_t n;

	(void)s;
	(void)revents;
	n = read(fd, c->rx + c->rx_len, sizeof(c->rx) - 1 - c->rx_len);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		c->eof = true;
		sconn_close(c);
		return 0;
	}
	c->rx_len += (size_t)n;
	c->rx[c->rx_len] = '\0';
	ck_assert_uint_lt(c->rx_len, sizeof(c->rx) - 1);
	if (c->srv->answer_quit && strstr(c->rx, "QUIT\r\n")) {
		/* The probe may be gone already (a new attempt cut its goodbye short). */
		(void)send(fd, "221 bye\r\n", 9, MSG_NOSIGNAL);
		c->closed = true;
		sconn_close(c);
	}
	return 0;
}

static int on_later(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sconn *c = userdata;

	(void)s;
	(void)usec;
	c->rx_before_later = c->rx_len;
	c->later_sent = true;
	write_all(c->fd, c->srv->later, strlen(c->srv->later));
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct server *srv = userdata;
	struct sconn *c;
	uint64_t now;
	int cfd;

	(void)s;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0 && errno == EAGAIN)
		return 0;
	ck_assert_int_ge(cfd, 0);
	ck_assert_uint_lt(srv->n_conns, MAX_CONNS);
	c = &srv->conns[srv->n_conns++];
	*c = (struct sconn){ .srv = srv, .fd = cfd };

	if (srv->close_at_once) {
		if (srv->reset_at_once) {
			struct linger l = { .l_onoff = 1, .l_linger = 0 };

			ck_assert_int_eq(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
		}
		c->closed = true;
		sconn_close(c);
		return 0;
	}
	if (srv->greeting)
		write_all(cfd, srv->greeting,
			  srv->greeting_len ? srv->greeting_len : strlen(srv->greeting));
	if (srv->close_after_greeting) {
		c->closed = true;
		sconn_close(c);
		return 0;
	}
	if (srv->later) {
		ck_assert_int_ge(sd_event_now(srv->f->e, CLOCK_MONOTONIC, &now), 0);
		ck_assert_int_ge(sd_event_add_time(srv->f->e, &c->later_source, CLOCK_MONOTONIC,
						   now + srv->later_usec, USEC_PER_MSEC, on_later,
						   c),
				 0);
	}
	ck_assert_int_ge(sd_event_add_io(srv->f->e, &c->io_source, cfd, EPOLLIN, on_sconn_io, c),
			 0);
	return 0;
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->nfds = count_fds();
	f->srv.f = f;
	f->srv.lfd = -1;
	ck_assert_int_ge(sd_event_new(&f->e), 0);
}

/* Binds a TCP socket to the loopback address of family on a free port. Returns the socket, or
 * -1 when the family is not available here. */
static int bind_loopback(int family, uint16_t *ret_port)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a;
	socklen_t len;
	int fd;

	memset(&a, 0, sizeof(a));
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT)
		return -1;
	ck_assert_int_ge(fd, 0);
	if (family == AF_INET) {
		a.in.sin_family = AF_INET;
		a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(a.in);
	} else {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_loopback;
		len = sizeof(a.in6);
	}
	if (bind(fd, &a.sa, len) < 0) {
		ck_assert_msg(family == AF_INET6 && errno == EADDRNOTAVAIL, "bind: %s",
			      strerror(errno));
		close(fd);
		return -1;
	}
	ck_assert_int_eq(getsockname(fd, &a.sa, &len), 0);
	*ret_port = ntohs(family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
	ck_assert_uint_ne(*ret_port, 0);
	return fd;
}

/* A listening server (accepting when accept is true) with the given backlog. Returns false when
 * the family is not available. */
static bool server_listen_family(struct fx *f, int family, bool accept, int backlog)
{
	struct server *srv = &f->srv;

	srv->lfd = bind_loopback(family, &srv->port);
	if (srv->lfd < 0)
		return false;
	ck_assert_int_eq(listen(srv->lfd, backlog), 0);
	if (accept)
		ck_assert_int_ge(sd_event_add_io(f->e, &srv->listen_source, srv->lfd, EPOLLIN,
						 on_accept, srv),
				 0);
	return true;
}

static void server_listen(struct fx *f)
{
	ck_assert(server_listen_family(f, AF_INET, true, 16));
}

static void fx_probe(struct fx *f, const char *address, uint64_t timeout_usec)
{
	ck_assert_int_eq(probe_new(f->e, address, f->srv.port, timeout_usec, on_done, f, &f->p), 0);
	ck_assert(!probe_running(f->p));
}

/* Starts an attempt and checks that the result does not come synchronously. */
static void fx_start(struct fx *f)
{
	unsigned n = f->n;

	ck_assert_int_eq(probe_start(f->p), 0);
	ck_assert(probe_running(f->p));
	ck_assert_uint_eq(f->n, n);
}

static struct result *wait_result(struct fx *f, unsigned n)
{
	WAIT_FOR(f, f->n >= n, 10);
	ck_assert_uint_eq(f->n, n);
	ck_assert(!f->res[n - 1].running);
	return &f->res[n - 1];
}

static struct sconn *conn(struct fx *f, unsigned i)
{
	ck_assert_uint_lt(i, f->srv.n_conns);
	return &f->srv.conns[i];
}

/* Descriptors now open beyond the test's start: the loop's own (epoll, timerfd), the listener,
 * the server's connections still open. */
static int fds_expected(struct fx *f, int loop_fds)
{
	int n = f->nfds + loop_fds + (f->srv.lfd >= 0);

	for (unsigned i = 0; i < f->srv.n_conns; i++)
		n += f->srv.conns[i].fd >= 0;
	return n;
}

static void fx_done(struct fx *f)
{
	f->p = probe_free(f->p);
	for (unsigned i = 0; i < f->srv.n_conns; i++)
		sconn_close(&f->srv.conns[i]);
	f->srv.listen_source = sd_event_source_disable_unref(f->srv.listen_source);
	if (f->srv.lfd >= 0)
		close(f->srv.lfd);
	f->e = sd_event_unref(f->e);
	ck_assert_int_eq(count_fds(), f->nfds);
}

/* Waits until the probe let its connection go: only the loop's and the server's descriptors. */
static void wait_probe_closed(struct fx *f, int loop_fds)
{
	WAIT_FOR(f, count_fds() == fds_expected(f, loop_fds), 10);
}

START_TEST(test_ok)
{
	struct result *r;
	struct fx f;
	int loop_fds;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "220 test ESMTP\r\n";
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	loop_fds = count_fds() - fds_expected(&f, 0);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);
	ck_assert_int_eq(r->error, 0);
	ck_assert_int_eq(r->code, 220);
	ck_assert_uint_lt(r->latency, USEC_PER_SEC);
	ck_assert(!probe_running(f.p));

	/* QUIT, once, then the probe closes after the server's 221 and close. */
	WAIT_FOR(&f, f.srv.n_conns == 1 && conn(&f, 0)->closed, 10);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");
	wait_probe_closed(&f, loop_fds);

	/* And again on the same probe. */
	fx_start(&f);
	r = wait_result(&f, 2);
	ck_assert_int_eq(r->status, PROBE_OK);
	WAIT_FOR(&f, f.srv.n_conns == 2 && conn(&f, 1)->closed, 10);
	ck_assert_str_eq(conn(&f, 1)->rx, "QUIT\r\n");
	wait_probe_closed(&f, loop_fds);
	fx_done(&f);
}
END_TEST

START_TEST(test_multiline)
{
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "220-mail.test ESMTP\r\n220-no UCE\r\n220 end\r\n";
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);
	ck_assert_int_eq(r->code, 220);
	WAIT_FOR(&f, f.srv.n_conns == 1 && conn(&f, 0)->closed, 10);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");
	fx_done(&f);
}
END_TEST

START_TEST(test_multiline_slow_end)
{
	/* OK at the first line, but QUIT only after the greeting's last line (a client talking
	 * before the greeting ends is what postscreen's pregreet test punishes). */
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "220-first\r\n";
	f.srv.later = "220-second\r\n220 last\r\n";
	f.srv.later_usec = 300 * USEC_PER_MSEC;
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);
	ck_assert_uint_lt(r->latency, 300 * USEC_PER_MSEC);
	ck_assert(!conn(&f, 0)->later_sent);
	WAIT_FOR(&f, conn(&f, 0)->closed, 10);
	ck_assert(conn(&f, 0)->later_sent);
	ck_assert_uint_eq(conn(&f, 0)->rx_before_later, 0);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");
	fx_done(&f);
}
END_TEST

START_TEST(test_slow_banner)
{
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.later = "220 slow\r\n";
	f.srv.later_usec = 100 * USEC_PER_MSEC;
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);
	ck_assert_uint_ge(r->latency, 100 * USEC_PER_MSEC);
	ck_assert_uint_lt(r->latency, 2 * USEC_PER_SEC);
	WAIT_FOR(&f, conn(&f, 0)->closed, 10);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");
	fx_done(&f);
}
END_TEST

START_TEST(test_split_banner)
{
	/* The first line in two pieces, ended by a bare LF. */
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "22";
	f.srv.later = "0 ok\n";
	f.srv.later_usec = 50 * USEC_PER_MSEC;
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);
	ck_assert_uint_ge(r->latency, 50 * USEC_PER_MSEC);
	WAIT_FOR(&f, conn(&f, 0)->closed, 10);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");
	fx_done(&f);
}
END_TEST

START_TEST(test_silent_timeout)
{
	struct result *r;
	struct fx f;
	int loop_fds;

	fx_init(&f);
	server_listen(&f);
	fx_probe(&f, "127.0.0.1", 200 * USEC_PER_MSEC);
	loop_fds = count_fds() - fds_expected(&f, 0);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_TIMEOUT);
	ck_assert_int_eq(r->error, ETIMEDOUT);
	ck_assert_int_eq(r->code, 0);
	ck_assert_uint_ge(r->latency, 200 * USEC_PER_MSEC);
	ck_assert_uint_lt(r->latency, 500 * USEC_PER_MSEC);
	/* Closed at once, without a word: no greeting, no QUIT. */
	WAIT_FOR(&f, f.srv.n_conns == 1 && conn(&f, 0)->eof, 10);
	ck_assert_uint_eq(conn(&f, 0)->rx_len, 0);
	wait_probe_closed(&f, loop_fds);
	fx_done(&f);
}
END_TEST

START_TEST(test_refused)
{
	struct result *r;
	struct fx f;

	fx_init(&f);
	/* Bound, not listening: the port stays ours and refuses. */
	f.srv.lfd = bind_loopback(AF_INET, &f.srv.port);
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_REFUSED);
	ck_assert_int_eq(r->error, ECONNREFUSED);
	ck_assert_uint_lt(r->latency, USEC_PER_SEC);

	/* A timeout too long to add to the clock: the deadline saturates. */
	f.p = probe_free(f.p);
	fx_probe(&f, "127.0.0.1", UINT64_MAX);
	fx_start(&f);
	ck_assert_int_eq(wait_result(&f, 2)->status, PROBE_REFUSED);
	fx_done(&f);
}
END_TEST

START_TEST(test_immediate_error)
{
	/* TCP to a multicast address fails inside connect(): still reported from the loop. */
	struct result *r;
	struct fx f;

	fx_init(&f);
	f.srv.port = 25;
	fx_probe(&f, "224.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_ERROR);
	ck_assert_int_ne(r->error, 0);
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_banner_421)
{
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "421 busy\r\n";
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_BAD_BANNER);
	ck_assert_int_eq(r->error, EPROTO);
	ck_assert_int_eq(r->code, 421);
	/* A well-formed reply still gets its QUIT. */
	WAIT_FOR(&f, conn(&f, 0)->closed, 10);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");

	/* The usual 421: written, then closed. */
	f.srv.close_after_greeting = true;
	fx_start(&f);
	r = wait_result(&f, 2);
	ck_assert_int_eq(r->status, PROBE_BAD_BANNER);
	ck_assert_int_eq(r->code, 421);
	fx_done(&f);
}
END_TEST

START_TEST(test_banner_forms)
{
	static const struct {
		const char *greeting;
		enum probe_status status;
		int error, code;
	} cases[] = {
		{ "220\r\n", PROBE_OK, 0, 220 },
		{ "220 ok\n", PROBE_OK, 0, 220 },
		{ "220-a\n220-b\r\n220 c\r\n", PROBE_OK, 0, 220 },
		{ "554 go away\r\n", PROBE_BAD_BANNER, EPROTO, 554 },
		{ "221-x\r\n220 y\r\n", PROBE_BAD_BANNER, EPROTO, 221 },
		{ "SSH-2.0-OpenSSH_9.2\r\n", PROBE_BAD_BANNER, EBADMSG, 0 },
		{ "\r\n", PROBE_BAD_BANNER, EBADMSG, 0 },
		{ "2200 x\r\n", PROBE_BAD_BANNER, EBADMSG, 0 },
		{ "22 x\r\n", PROBE_BAD_BANNER, EBADMSG, 0 },
		{ "220\tx\r\n", PROBE_BAD_BANNER, EBADMSG, 0 },
		{ " 220 x\r\n", PROBE_BAD_BANNER, EBADMSG, 0 },
		{ "\x16\x03\x01\x02\x01\r\n", PROBE_BAD_BANNER, EBADMSG, 0 },
	};
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	for (unsigned i = 0; i < ELEMENTSOF(cases); i++) {
		struct result *r;

		f.srv.greeting = cases[i].greeting;
		fx_start(&f);
		r = wait_result(&f, i + 1);
		ck_assert_msg(r->status == cases[i].status && r->error == cases[i].error &&
				      r->code == cases[i].code,
			      "case %u: status %s error %d code %d", i,
			      probe_status_to_string(r->status), r->error, r->code);
	}
	fx_done(&f);
}
END_TEST

START_TEST(test_long_line)
{
	char line[2100];
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);

	/* Exactly the buffer, its LF included: still a banner. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "220 ", 4);
	line[PROBE_BUFFER_SIZE - 1] = '\n';
	f.srv.greeting = line;
	f.srv.greeting_len = PROBE_BUFFER_SIZE;
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);

	/* One byte more. */
	line[PROBE_BUFFER_SIZE - 1] = '\r';
	line[PROBE_BUFFER_SIZE] = '\n';
	f.srv.greeting_len = PROBE_BUFFER_SIZE + 1;
	fx_start(&f);
	r = wait_result(&f, 2);
	ck_assert_int_eq(r->status, PROBE_BAD_BANNER);
	ck_assert_int_eq(r->error, EMSGSIZE);

	/* 2 KiB without a line end. */
	f.srv.greeting_len = sizeof(line);
	memset(line, 'x', sizeof(line));
	fx_start(&f);
	r = wait_result(&f, 3);
	ck_assert_int_eq(r->status, PROBE_BAD_BANNER);
	ck_assert_int_eq(r->error, EMSGSIZE);

	/* An over-long continuation line after a good first line: OK, then no QUIT. */
	memcpy(line, "220-ok\r\n220-", 12);
	f.srv.greeting_len = sizeof(line);
	fx_start(&f);
	r = wait_result(&f, 4);
	ck_assert_int_eq(r->status, PROBE_OK);
	WAIT_FOR(&f, conn(&f, 3)->eof, 10);
	ck_assert_uint_eq(conn(&f, 3)->rx_len, 0);
	fx_done(&f);
}
END_TEST

START_TEST(test_closed)
{
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.close_at_once = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_CLOSED);
	ck_assert_int_eq(r->error, ENODATA);

	f.srv.reset_at_once = true;
	fx_start(&f);
	r = wait_result(&f, 2);
	ck_assert_int_eq(r->status, PROBE_CLOSED);
	ck_assert_int_eq(r->error, ECONNRESET);

	/* Part of a line, then the close: no banner. */
	f.srv.close_at_once = false;
	f.srv.reset_at_once = false;
	f.srv.greeting = "220 no line end";
	f.srv.close_after_greeting = true;
	fx_start(&f);
	r = wait_result(&f, 3);
	ck_assert_int_eq(r->status, PROBE_CLOSED);
	ck_assert_int_eq(r->error, ENODATA);
	fx_done(&f);
}
END_TEST

START_TEST(test_backlog_full)
{
	/* The server is stuck at MAXDAEMONS: the listener's queue is full and nobody accepts. The
	 * probe's SYN is dropped (or its handshake never reaches accept()): a timeout. */
	int fillers[4];
	struct result *r;
	struct fx f;

	fx_init(&f);
	ck_assert(server_listen_family(&f, AF_INET, false, 0));
	for (unsigned i = 0; i < ELEMENTSOF(fillers); i++) {
		struct sockaddr_in a = {
			.sin_family = AF_INET,
			.sin_port = htons(f.srv.port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};

		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fillers[i], 0);
		ck_assert(connect(fillers[i], (struct sockaddr *)&a, sizeof(a)) == 0 ||
			  errno == EINPROGRESS);
	}
	fx_probe(&f, "127.0.0.1", 300 * USEC_PER_MSEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_TIMEOUT);
	ck_assert_int_eq(r->error, ETIMEDOUT);
	ck_assert_uint_ge(r->latency, 300 * USEC_PER_MSEC);
	for (unsigned i = 0; i < ELEMENTSOF(fillers); i++)
		close(fillers[i]);
	fx_done(&f);
}
END_TEST

START_TEST(test_busy_and_restart)
{
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "220 test\r\n";
	f.srv.answer_quit = true;
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	ck_assert_int_eq(probe_start(f.p), -EBUSY);
	ck_assert(probe_running(f.p));
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);

	/* Started again from the callback, twice; the third result frees the probe. */
	f.restart_in_done = 2;
	f.free_in_done = true;
	fx_start(&f);
	WAIT_FOR(&f, f.n == 4, 10);
	ck_assert_ptr_null(f.p);
	for (unsigned i = 1; i < 4; i++) {
		ck_assert_int_eq(f.res[i].status, PROBE_OK);
		ck_assert_uint_lt(f.res[i].latency, USEC_PER_SEC);
		ck_assert(!f.res[i].running);
	}
	run_for(&f, 100 * USEC_PER_MSEC);
	ck_assert_uint_eq(f.n, 4);
	fx_done(&f);
}
END_TEST

START_TEST(test_restart_cuts_goodbye)
{
	/* A greeting that never ends: the goodbye waits for it, and a new attempt closes that
	 * connection without a QUIT. */
	struct result *r;
	struct fx f;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "220-first, and the rest never comes\r\n";
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);
	ck_assert(!probe_running(f.p));
	run_for(&f, 50 * USEC_PER_MSEC);
	ck_assert(!conn(&f, 0)->eof);

	fx_start(&f);
	WAIT_FOR(&f, conn(&f, 0)->eof, 10);
	ck_assert_uint_eq(conn(&f, 0)->rx_len, 0);
	r = wait_result(&f, 2);
	ck_assert_int_eq(r->status, PROBE_OK);
	fx_done(&f);
}
END_TEST

START_TEST(test_goodbye_linger)
{
	/* The server reads QUIT but neither answers nor closes: the probe closes after
	 * min(timeout, 2 s) = 300 ms. */
	struct fx f;
	uint64_t t0;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "220 test\r\n";
	fx_probe(&f, "127.0.0.1", 300 * USEC_PER_MSEC);
	fx_start(&f);
	ck_assert_int_eq(wait_result(&f, 1)->status, PROBE_OK);
	t0 = now_usec();
	WAIT_FOR(&f, conn(&f, 0)->rx_len == 6, 10);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");
	WAIT_FOR(&f, conn(&f, 0)->eof, 10);
	ck_assert_uint_ge(now_usec() - t0, 200 * USEC_PER_MSEC);
	ck_assert_uint_eq(f.n, 1);
	fx_done(&f);
}
END_TEST

START_TEST(test_free_running)
{
	struct fx f;
	int before;

	fx_init(&f);
	/* Listening, never accepting: the connection sits in the backlog. */
	ck_assert(server_listen_family(&f, AF_INET, false, 16));
	fx_probe(&f, "127.0.0.1", 200 * USEC_PER_MSEC);
	before = count_fds();
	fx_start(&f);
	ck_assert_int_eq(count_fds(), before + 1);
	run_for(&f, 50 * USEC_PER_MSEC); /* connected by now, waiting for the banner */
	ck_assert(probe_running(f.p));
	f.p = probe_free(f.p);
	ck_assert_int_eq(count_fds(), before);
	run_for(&f, 400 * USEC_PER_MSEC); /* past the timeout: no callback */
	ck_assert_uint_eq(f.n, 0);

	/* Freed before the loop ever looked (still connecting). */
	fx_probe(&f, "127.0.0.1", 200 * USEC_PER_MSEC);
	fx_start(&f);
	f.p = probe_free(f.p);
	ck_assert_int_eq(count_fds(), before);

	/* Freed with an immediate failure waiting to be reported. */
	f.srv.port = 25;
	fx_probe(&f, "224.0.0.1", 200 * USEC_PER_MSEC);
	fx_start(&f);
	f.p = probe_free(f.p);
	run_for(&f, 300 * USEC_PER_MSEC);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_int_eq(count_fds(), before);
	fx_done(&f);
}
END_TEST

START_TEST(test_free_in_goodbye)
{
	struct fx f;
	int before;

	fx_init(&f);
	server_listen(&f);
	f.srv.greeting = "220-first\r\n";
	fx_probe(&f, "127.0.0.1", 5 * USEC_PER_SEC);
	before = count_fds();
	fx_start(&f);
	ck_assert_int_eq(wait_result(&f, 1)->status, PROBE_OK);
	f.p = probe_free(f.p);
	WAIT_FOR(&f, conn(&f, 0)->eof, 10);
	ck_assert_int_eq(count_fds(), before);
	fx_done(&f);
}
END_TEST

START_TEST(test_ipv6)
{
	struct result *r;
	struct fx f;

	fx_init(&f);
	if (!server_listen_family(&f, AF_INET6, true, 16)) {
		fprintf(stderr, "test_ipv6: no IPv6 loopback here, skipped\n");
		fx_done(&f);
		return;
	}
	f.srv.greeting = "220 v6 ESMTP\r\n";
	f.srv.answer_quit = true;
	fx_probe(&f, "::1", 5 * USEC_PER_SEC);
	fx_start(&f);
	r = wait_result(&f, 1);
	ck_assert_int_eq(r->status, PROBE_OK);
	WAIT_FOR(&f, conn(&f, 0)->closed, 10);
	ck_assert_str_eq(conn(&f, 0)->rx, "QUIT\r\n");
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_arguments)
{
	static const char *const bad[] = { "",	    "localhost",  "127.0.0.1:25", "::1%lo",
					   "1.2.3", " 127.0.0.1", "fe80::1%eth0" };
	struct probe *p = NULL;
	sd_event *e = NULL;

	ck_assert_int_ge(sd_event_new(&e), 0);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_msg(probe_new(e, bad[i], 25, USEC_PER_SEC, on_done, NULL, &p) == -EINVAL,
			      "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(probe_new(NULL, "127.0.0.1", 25, USEC_PER_SEC, on_done, NULL, &p),
			 -EINVAL);
	ck_assert_int_eq(probe_new(e, NULL, 25, USEC_PER_SEC, on_done, NULL, &p), -EINVAL);
	ck_assert_int_eq(probe_new(e, "127.0.0.1", 0, USEC_PER_SEC, on_done, NULL, &p), -EINVAL);
	ck_assert_int_eq(probe_new(e, "127.0.0.1", 25, 0, on_done, NULL, &p), -EINVAL);
	ck_assert_int_eq(probe_new(e, "127.0.0.1", 25, USEC_PER_SEC, NULL, NULL, &p), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(probe_start(NULL), -EINVAL);
	ck_assert(!probe_running(NULL));
	ck_assert_ptr_null(probe_free(NULL));

	ck_assert_int_eq(probe_new(e, "::ffff:127.0.0.1", 25, UINT64_MAX, on_done, NULL, &p), 0);
	ck_assert_int_eq(probe_get_reply_code(p), 0);
	p = probe_free(p);
	sd_event_unref(e);

	ck_assert_str_eq(probe_status_to_string(PROBE_OK), "ok");
	ck_assert_str_eq(probe_status_to_string(PROBE_TIMEOUT), "timeout");
	ck_assert_str_eq(probe_status_to_string(PROBE_REFUSED), "refused");
	ck_assert_str_eq(probe_status_to_string(PROBE_BAD_BANNER), "bad-banner");
	ck_assert_str_eq(probe_status_to_string(PROBE_CLOSED), "closed");
	ck_assert_str_eq(probe_status_to_string(PROBE_ERROR), "error");
	ck_assert_ptr_null(probe_status_to_string(_PROBE_STATUS_MAX));
	ck_assert_ptr_null(probe_status_to_string((enum probe_status) - 1));
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_multiline);
	tcase_add_test(tc, test_multiline_slow_end);
	tcase_add_test(tc, test_slow_banner);
	tcase_add_test(tc, test_split_banner);
	tcase_add_test(tc, test_silent_timeout);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_immediate_error);
	tcase_add_test(tc, test_bad_banner_421);
	tcase_add_test(tc, test_banner_forms);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_closed);
	tcase_add_test(tc, test_backlog_full);
	tcase_add_test(tc, test_busy_and_restart);
	tcase_add_test(tc, test_restart_cuts_goodbye);
	tcase_add_test(tc, test_goodbye_linger);
	tcase_add_test(tc, test_free_running);
	tcase_add_test(tc, test_free_in_goodbye);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(probe_suite());
}
