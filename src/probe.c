/* Liveness probe of the SMTP server: a non-blocking connect watched for EPOLLOUT, the banner read
 * on EPOLLIN into a fixed buffer, one timer for the overall deadline. The first complete reply
 * line decides; then, after the result is handed on, the rest of the greeting is awaited, QUIT is
 * sent without blocking, and the connection closed once the server has or a short linger ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "macro.h"
#include "probe.h"
#include "timeutil.h"

#define TIMER_ACCURACY_USEC USEC_PER_MSEC      /* the timeout is measured: no coalescing slack */
#define GOODBYE_MAX_USEC    (2 * USEC_PER_SEC) /* rest of the greeting, QUIT, server close */
#define DRAIN_READS	    4		       /* reads per wake-up while saying goodbye */

static const char quit_cmd[] = "QUIT\r\n";

enum phase {
	PHASE_IDLE,
	PHASE_REPORT,	  /* connect() failed at once: reported from the defer source */
	PHASE_CONNECTING, /* waiting for EPOLLOUT */
	PHASE_BANNER,	  /* waiting for the first complete line */
	PHASE_GOODBYE,	  /* result handed on; rest of the greeting, QUIT, wait for the close */
};

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct probe {
	sd_event *event;
	union sockaddr_any addr;
	socklen_t addr_len;
	uint64_t timeout_usec;
	probe_done_fn done;
	void *userdata;

	int fd;
	sd_event_source *io_source;    /* the connection: EPOLLOUT while connecting, then EPOLLIN */
	sd_event_source *timer_source; /* the attempt's deadline, then the goodbye's */
	sd_event_source *report_source; /* defer: reports a failure found inside probe_start() */
	enum phase phase;
	enum probe_status report_status;
	int report_error;
	uint64_t start_usec;
	int reply_code;
	bool reply_complete; /* goodbye: the last line of the greeting has been read */
	bool quit_sent;

	size_t len; /* bytes held in buf */
	char buf[PROBE_BUFFER_SIZE];
};

static const char *const status_names[_PROBE_STATUS_MAX] = {
	[PROBE_OK] = "ok",	     [PROBE_TIMEOUT] = "timeout",
	[PROBE_REFUSED] = "refused", [PROBE_BAD_BANNER] = "bad-banner",
	[PROBE_CLOSED] = "closed",   [PROBE_ERROR] = "error",
};

const char *probe_status_to_string(enum probe_status s)
{
	if ((unsigned)s >= ELEMENTSOF(status_names))
		return NULL;
	return status_names[s];
}

/* Inside a handler the loop's timestamp is the time of this wake-up; outside one it may be an
 * old iteration's, so the clock is read instead. */
static uint64_t loop_now(sd_event *e)
{
	uint64_t t;

	if (sd_event_get_state(e) == SD_EVENT_RUNNING && sd_event_now(e, CLOCK_MONOTONIC, &t) >= 0)
		return t;
	return timeutil_now(CLOCK_MONOTONIC);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void conn_close(struct probe *p)
{
	p->io_source = sd_event_source_disable_unref(p->io_source);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->len = 0;
}

/* Back to idle: connection closed, timer and report stopped. */
static void reset(struct probe *p)
{
	conn_close(p);
	(void)sd_event_source_set_enabled(p->timer_source, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(p->report_source, SD_EVENT_OFF);
	p->phase = PHASE_IDLE;
}

static int arm_timer(struct probe *p, uint64_t usec)
{
	int r = sd_event_source_set_time(p->timer_source, usec);

	if (r < 0)
		return r;
	return sd_event_source_set_enabled(p->timer_source, SD_EVENT_ONESHOT);
}

/* Parses an SMTP reply line (without its line end): three digits, then the end, ' ' or '-'.
 * Returns the code (100..999 by syntax, any digits accepted) or -1; *more is set for "xyz-". */
static int reply_line_code(const char *line, size_t len, bool *more)
{
	if (len < 3)
		return -1;
	for (size_t i = 0; i < 3; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*more = len > 3 && line[3] == '-';
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Finds the first complete line in buf. Returns its length without "\r\n" / "\n" and sets
 * *consumed to the bytes it takes with its end, or -1 when no line is complete yet. */
static ssize_t next_line(const struct probe *p, size_t *consumed)
{
	const char *nl = memchr(p->buf, '\n', p->len);
	size_t n;

	if (!nl)
		return -1;
	n = (size_t)(nl - p->buf);
	*consumed = n + 1;
	if (n > 0 && p->buf[n - 1] == '\r')
		n--;
	return (ssize_t)n;
}

static void consume(struct probe *p, size_t n)
{
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
}

/* Goodbye, after each read: the rest of the greeting, then QUIT. Closes on anything unexpected.
 * The answer to QUIT is not looked at. */
static void goodbye_step(struct probe *p)
{
	size_t used;
	ssize_t n;
	bool more;

	while (!p->reply_complete && (n = next_line(p, &used)) >= 0) {
		if (reply_line_code(p->buf, (size_t)n, &more) < 0) {
			reset(p);
			return;
		}
		consume(p, used);
		p->reply_complete = !more;
	}
	if (!p->reply_complete) {
		if (p->len == sizeof(p->buf))
			reset(p); /* an over-long continuation line */
		return;
	}
	if (!p->quit_sent) {
		n = send(p->fd, quit_cmd, sizeof(quit_cmd) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n != (ssize_t)sizeof(quit_cmd) - 1) {
			reset(p); /* never blocks: a partial QUIT is not worth waiting for */
			return;
		}
		p->quit_sent = true;
	}
	p->len = 0;
}

static void goodbye_read(struct probe *p)
{
	for (int i = 0; i < DRAIN_READS && p->phase == PHASE_GOODBYE; i++) {
		ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			reset(p); /* the server closed: done */
			return;
		}
		p->len += (size_t)n;
		goodbye_step(p);
	}
}

/* Ends the attempt: hands the result on, as the very last thing (the callback may start another
 * attempt or free the probe). With goodbye, the connection stays open to say goodbye. */
static void finish(struct probe *p, enum probe_status status, int error, bool goodbye)
{
	uint64_t now = loop_now(p->event);
	uint64_t latency = now > p->start_usec ? now - p->start_usec : 0;
	probe_done_fn done = p->done;
	void *userdata = p->userdata;

	if (goodbye && arm_timer(p, add_sat(now, MIN(p->timeout_usec, GOODBYE_MAX_USEC))) >= 0) {
		p->phase = PHASE_GOODBYE;
		goodbye_step(p);
	} else
		reset(p);
	done(status, latency, error, userdata);
}

/* The first complete line decides. */
static void banner_check(struct probe *p)
{
	size_t used;
	bool more;
	ssize_t n = next_line(p, &used);
	int code;

	if (n < 0) {
		if (p->len == sizeof(p->buf))
			finish(p, PROBE_BAD_BANNER, EMSGSIZE, false);
		return;
	}
	code = reply_line_code(p->buf, (size_t)n, &more);
	if (code < 0) {
		finish(p, PROBE_BAD_BANNER, EBADMSG, false);
		return;
	}
	p->reply_code = code;
	p->reply_complete = !more;
	consume(p, used);
	if (code == 220)
		finish(p, PROBE_OK, 0, true);
	else
		finish(p, PROBE_BAD_BANNER, EPROTO, true);
}

static void banner_read(struct probe *p)
{
	ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno == ECONNRESET)
			finish(p, PROBE_CLOSED, ECONNRESET, false);
		else
			finish(p, PROBE_ERROR, errno, false);
		return;
	}
	if (n == 0) {
		/* Also after part of a line: no complete banner came. */
		finish(p, PROBE_CLOSED, ENODATA, false);
		return;
	}
	p->len += (size_t)n;
	banner_check(p);
}

static void connect_done(struct probe *p, uint32_t revents)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	else if (err == 0 && !(revents & EPOLLOUT))
		err = ECONNABORTED; /* a hang-up without an error: not expected from TCP */
	if (err == ECONNREFUSED) {
		finish(p, PROBE_REFUSED, err, false);
		return;
	}
	if (err == ECONNRESET) {
		/* Established, then reset before the loop looked: closed before a banner. */
		finish(p, PROBE_CLOSED, err, false);
		return;
	}
	if (err != 0) {
		finish(p, PROBE_ERROR, err, false);
		return;
	}
	err = sd_event_source_set_io_events(p->io_source, EPOLLIN);
	if (err < 0) {
		finish(p, PROBE_ERROR, -err, false);
		return;
	}
	p->phase = PHASE_BANNER;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct probe *p = userdata;

	(void)s;
	(void)fd;
	switch (p->phase) {
	case PHASE_CONNECTING:
		connect_done(p, revents);
		break;
	case PHASE_BANNER:
		banner_read(p);
		break;
	case PHASE_GOODBYE:
		goodbye_read(p);
		break;
	default:
		break;
	}
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct probe *p = userdata;

	(void)s;
	(void)usec;
	if (p->phase == PHASE_GOODBYE)
		reset(p);
	else if (p->phase == PHASE_CONNECTING || p->phase == PHASE_BANNER)
		finish(p, PROBE_TIMEOUT, ETIMEDOUT, false);
	return 0;
}

static int on_report(sd_event_source *s, void *userdata)
{
	struct probe *p = userdata;

	(void)s;
	if (p->phase == PHASE_REPORT)
		finish(p, p->report_status, p->report_error, false);
	return 0;
}

static int parse_address(const char *address, uint16_t port, union sockaddr_any *ret,
			 socklen_t *ret_len)
{
	union sockaddr_any a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, address, &a.in.sin_addr) == 1) {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(port);
		*ret_len = sizeof(a.in);
	} else if (inet_pton(AF_INET6, address, &a.in6.sin6_addr) == 1) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
		*ret_len = sizeof(a.in6);
	} else
		return -EINVAL;
	*ret = a;
	return 0;
}

int probe_new(sd_event *e, const char *address, uint16_t port, uint64_t timeout_usec,
	      probe_done_fn done, void *userdata, struct probe **ret)
{
	struct probe *p;
	int r;

	if (!e || !address || port == 0 || timeout_usec == 0 || !done || !ret)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->event = sd_event_ref(e);
	p->fd = -1;
	p->timeout_usec = timeout_usec;
	p->done = done;
	p->userdata = userdata;
	r = parse_address(address, port, &p->addr, &p->addr_len);
	if (r < 0)
		goto fail;

	r = sd_event_add_time(e, &p->timer_source, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_USEC,
			      on_timer, p);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(p->timer_source, "probe-timer");
	r = sd_event_source_set_enabled(p->timer_source, SD_EVENT_OFF);
	if (r < 0)
		goto fail;

	r = sd_event_add_defer(e, &p->report_source, on_report, p);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(p->report_source, "probe-report");
	r = sd_event_source_set_enabled(p->report_source, SD_EVENT_OFF);
	if (r < 0)
		goto fail;

	*ret = p;
	return 0;
fail:
	probe_free(p);
	return r;
}

int probe_start(struct probe *p)
{
	_cleanup_close_ int fd = -1;
	uint32_t events = EPOLLOUT;
	enum phase phase = PHASE_CONNECTING;
	int r;

	if (!p)
		return -EINVAL;
	if (probe_running(p))
		return -EBUSY;
	reset(p); /* cuts a goodbye short */
	p->reply_code = 0;
	p->reply_complete = false;
	p->quit_sent = false;
	p->start_usec = loop_now(p->event);

	fd = socket(p->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (connect(fd, &p->addr.sa, p->addr_len) == 0) {
		events = EPOLLIN;
		phase = PHASE_BANNER;
	} else if (errno != EINPROGRESS && errno != EINTR) {
		/* An immediate failure is still a result of the attempt: reported from the loop. */
		p->report_status = errno == ECONNREFUSED ? PROBE_REFUSED : PROBE_ERROR;
		p->report_error = errno;
		r = sd_event_source_set_enabled(p->report_source, SD_EVENT_ONESHOT);
		if (r < 0)
			return r;
		p->phase = PHASE_REPORT;
		return 0;
	}

	r = sd_event_add_io(p->event, &p->io_source, fd, events, on_io, p);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(p->io_source, "probe-connection");
	r = arm_timer(p, add_sat(p->start_usec, p->timeout_usec));
	if (r < 0) {
		p->io_source = sd_event_source_disable_unref(p->io_source);
		return r;
	}
	p->fd = TAKE_FD(fd);
	p->phase = phase;
	return 0;
}

bool probe_running(const struct probe *p)
{
	return p && (p->phase == PHASE_REPORT || p->phase == PHASE_CONNECTING ||
		     p->phase == PHASE_BANNER);
}

int probe_get_reply_code(const struct probe *p)
{
	return p ? p->reply_code : 0;
}

struct probe *probe_free(struct probe *p)
{
	if (!p)
		return NULL;
	conn_close(p);
	p->timer_source = sd_event_source_disable_unref(p->timer_source);
	p->report_source = sd_event_source_disable_unref(p->report_source);
	sd_event_unref(p->event);
	free(p);
	return NULL;
}
