/* The control socket: parses request lines ("ban 192.0.2.1 --time 1h") and serves them on a Unix
 * stream socket inside the sd-event loop, one request and one reply per connection. Every
 * connection is non-blocking, bounded in count, size and time, so that no client (slow, broken,
 * hostile or gone) can stall or hurt the daemon. Never logs: outcomes are counted in the stats. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "timeutil.h"

/* Connections accepted per wake-up of the listening socket. */
#define ACCEPT_BATCH 16
/* Pause before accepting again when the process is out of descriptors or memory. */
#define ACCEPT_RETRY_USEC (250 * USEC_PER_MSEC)
/* Longest error message a handler may send (the rest is cut). */
#define ERR_MSG_MAX 1024
/* Bytes of unread input thrown away before closing (see conn_drain()). */
#define DRAIN_MAX (64 * 1024)

/* ---- request parser ---- */

static const char *const cmd_names[] = {
	[CONTROL_STATUS] = "status", [CONTROL_LIST] = "list",	  [CONTROL_BAN] = "ban",
	[CONTROL_UNBAN] = "unban",   [CONTROL_RELOAD] = "reload", [CONTROL_SHOW] = "show",
};

/* The options each command takes, for error messages. */
static const char *const cmd_options[] = {
	[CONTROL_STATUS] = "--json",	    [CONTROL_LIST] = "--json or --verbose",
	[CONTROL_BAN] = "--jail or --time", [CONTROL_UNBAN] = "--all",
	[CONTROL_RELOAD] = "none",	    [CONTROL_SHOW] = "--json",
};

const char *control_cmd_to_string(enum control_cmd cmd)
{
	return (unsigned)cmd < ELEMENTSOF(cmd_names) ? cmd_names[cmd] : "?";
}

_printf_(3, 4) static int parse_error(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	if (err && errsize > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

struct word {
	const char *p;
	size_t len;
};

/* Quotes a word for a message: printable ASCII only (the parser has made sure of that), cut to
 * 48 bytes with "...". */
static const char *word_str(struct word w, char *buf, size_t size)
{
	if (w.len > 48)
		snprintf(buf, size, "%.45s...", w.p);
	else
		snprintf(buf, size, "%.*s", (int)w.len, w.p);
	return buf;
}

static bool word_is(struct word w, const char *s)
{
	return strlen(s) == w.len && memcmp(w.p, s, w.len) == 0;
}

/* Next space-separated word at or after *pos; false at the end of the line. */
static bool next_word(const char *line, size_t len, size_t *pos, struct word *ret)
{
	size_t i = *pos;

	while (i < len && line[i] == ' ')
		i++;
	if (i == len) {
		*pos = i;
		return false;
	}
	size_t start = i;
	while (i < len && line[i] != ' ')
		i++;
	ret->p = line + start;
	ret->len = i - start;
	*pos = i;
	return true;
}

static bool valid_jail(struct word w)
{
	if (w.len == 0 || w.len >= CONTROL_JAIL_MAX)
		return false;
	for (size_t i = 0; i < w.len; i++) {
		char ch = w.p[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '-' && ch != '_' && ch != '.')
			return false;
	}
	return true;
}

#define JAIL_EXPECTED "(expected up to 63 letters, digits, '.', '-' or '_')"

static int parse_jail(const char *cmd, struct word w, struct control_request *req, char *err,
		      size_t errsize)
{
	char q[64];

	if (!valid_jail(w))
		return parse_error(err, errsize, "%s: invalid jail name '%s' " JAIL_EXPECTED, cmd,
				   word_str(w, q, sizeof(q)));
	memcpy(req->jail, w.p, w.len);
	req->jail[w.len] = '\0';
	return 0;
}

static int parse_time(const char *cmd, struct word w, struct control_request *req, char *err,
		      size_t errsize)
{
	char buf[32], q[64];
	int r = -EINVAL;

	if (w.len < sizeof(buf)) {
		memcpy(buf, w.p, w.len);
		buf[w.len] = '\0';
		r = timeutil_parse_duration_or_forever(buf, &req->time_usec);
	}
	if (r == -ERANGE)
		return parse_error(err, errsize,
				   "%s: duration '%s' is too long (at most ten years)", cmd,
				   word_str(w, q, sizeof(q)));
	if (r < 0)
		return parse_error(
			err, errsize,
			"%s: invalid duration '%s' (expected e.g. 90, 90s, 10m, 1h, 7d or "
			"forever)",
			cmd, word_str(w, q, sizeof(q)));
	if (req->time_usec == 0)
		return parse_error(err, errsize, "%s: duration must be greater than 0", cmd);
	return 0;
}

static int parse_addr(const char *cmd, struct word w, struct control_request *req, char *err,
		      size_t errsize)
{
	char buf[ADDR_STRLEN + 8], q[64];

	if (w.len < sizeof(buf)) {
		memcpy(buf, w.p, w.len);
		buf[w.len] = '\0';
		if (addr_parse_cidr(buf, &req->addr) == 0) {
			req->has_addr = true;
			return 0;
		}
	}
	return parse_error(err, errsize,
			   "%s: invalid address '%s' (expected an IPv4 or IPv6 address or network "
			   "such as 192.0.2.1 or 2001:db8::/64)",
			   cmd, word_str(w, q, sizeof(q)));
}

/* Options that take a value ("--jail smtp"): the value is the next word. */
static int parse_option_value(const char *line, size_t len, size_t *pos, const char *cmd,
			      const char *opt, struct word *ret, char *err, size_t errsize)
{
	if (!next_word(line, len, pos, ret) || ret->p[0] == '-')
		return parse_error(err, errsize, "%s: option %s needs a value", cmd, opt);
	return 0;
}

/* One option word w of req->cmd (and its value, read from line at *pos). */
static int parse_option(const char *line, size_t len, size_t *pos, struct word w,
			struct control_request *req, bool *seen_time, char *err, size_t errsize)
{
	const char *cmd = cmd_names[req->cmd];
	struct word v;
	char q[64];
	int r;

	if (word_is(w, "--json") &&
	    (req->cmd == CONTROL_STATUS || req->cmd == CONTROL_LIST || req->cmd == CONTROL_SHOW)) {
		if (req->json)
			return parse_error(err, errsize, "%s: duplicate option --json", cmd);
		req->json = true;
		return 0;
	}
	if ((word_is(w, "--verbose") || word_is(w, "-v")) && req->cmd == CONTROL_LIST) {
		if (req->verbose)
			return parse_error(err, errsize, "%s: duplicate option --verbose", cmd);
		req->verbose = true;
		return 0;
	}
	if (word_is(w, "--all") && req->cmd == CONTROL_UNBAN) {
		if (req->all)
			return parse_error(err, errsize, "%s: duplicate option --all", cmd);
		req->all = true;
		return 0;
	}
	if (word_is(w, "--jail") && req->cmd == CONTROL_BAN) {
		if (req->jail[0])
			return parse_error(err, errsize, "%s: duplicate option --jail", cmd);
		r = parse_option_value(line, len, pos, cmd, "--jail", &v, err, errsize);
		return r < 0 ? r : parse_jail(cmd, v, req, err, errsize);
	}
	if (word_is(w, "--time") && req->cmd == CONTROL_BAN) {
		if (*seen_time)
			return parse_error(err, errsize, "%s: duplicate option --time", cmd);
		*seen_time = true;
		r = parse_option_value(line, len, pos, cmd, "--time", &v, err, errsize);
		return r < 0 ? r : parse_time(cmd, v, req, err, errsize);
	}
	return parse_error(err, errsize, "%s: unknown option '%s' (expected %s)", cmd,
			   word_str(w, q, sizeof(q)), cmd_options[req->cmd]);
}

int control_parse_request(const char *line, size_t len, struct control_request *ret, char *err,
			  size_t errsize)
{
	struct control_request req = { 0 };
	struct word w;
	size_t pos = 0;
	bool have_cmd = false, seen_time = false;
	char q[64];
	int r;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len >= CONTROL_REQUEST_MAX)
		return parse_error(err, errsize, "request too long (at most %d bytes)",
				   CONTROL_REQUEST_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			return parse_error(err, errsize,
					   "request contains binary data (only printable ASCII is "
					   "allowed)");
	if (!next_word(line, len, &pos, &w))
		return parse_error(err, errsize, "empty request");
	for (size_t i = 0; i < ELEMENTSOF(cmd_names); i++)
		if (word_is(w, cmd_names[i])) {
			req.cmd = (enum control_cmd)i;
			have_cmd = true;
		}
	if (!have_cmd)
		return parse_error(
			err, errsize,
			"unknown command '%s' (expected status, list, show, ban, unban or reload)",
			word_str(w, q, sizeof(q)));
	const char *cmd = cmd_names[req.cmd];

	while (next_word(line, len, &pos, &w)) {
		if (w.p[0] == '-')
			r = parse_option(line, len, &pos, w, &req, &seen_time, err, errsize);
		else if (req.cmd == CONTROL_LIST && !req.jail[0])
			r = parse_jail(cmd, w, &req, err, errsize);
		else if ((req.cmd == CONTROL_BAN || req.cmd == CONTROL_UNBAN ||
			  req.cmd == CONTROL_SHOW) &&
			 !req.has_addr)
			r = parse_addr(cmd, w, &req, err, errsize);
		else
			r = parse_error(err, errsize, "%s: unexpected argument '%s'", cmd,
					word_str(w, q, sizeof(q)));
		if (r < 0)
			return r;
	}

	if (req.cmd == CONTROL_BAN && !req.has_addr)
		return parse_error(
			err, errsize,
			"ban: missing address (ban ADDR [--jail JAIL] [--time DURATION])");
	if (req.cmd == CONTROL_SHOW && !req.has_addr)
		return parse_error(err, errsize, "show: missing address (show ADDR [--json])");
	if (req.cmd == CONTROL_UNBAN && !req.has_addr && !req.all)
		return parse_error(err, errsize,
				   "unban: missing address (unban ADDR or unban --all)");
	if (req.cmd == CONTROL_UNBAN && req.has_addr && req.all)
		return parse_error(err, errsize, "unban: give an address or --all, not both");

	*ret = req;
	if (err && errsize > 0)
		err[0] = '\0';
	return 0;
}

/* ---- server ---- */

struct conn {
	struct control *control;
	struct conn *prev, *next;
	int fd;
	sd_event_source *io_source;
	sd_event_source *timer_source;
	char *out; /* the whole reply, once the request is handled */
	size_t out_len, out_done;
	size_t in_len;
	char in[CONTROL_REQUEST_MAX];
};

struct control {
	sd_event *event;
	sd_event_source *listen_source;
	sd_event_source *accept_retry_source; /* re-enables listen_source after EMFILE & co. */
	int fd;
	char *path;
	dev_t dev; /* the socket file we created: unlinked only while it is still ours */
	ino_t ino;
	control_handler_fn fn;
	void *userdata;
	uint64_t timeout_usec;
	uid_t euid;
	struct conn *conns;
	struct control_stats stats;
};

/* Throws away what the client sent beyond its request, so that closing with unread input does
 * not turn the client's end of file into ECONNRESET. Bounded, never blocks. */
static void conn_drain(int fd)
{
	char buf[4096];
	size_t total = 0;

	while (total < DRAIN_MAX) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

static void conn_free(struct conn *k)
{
	struct control *c = k->control;

	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	c->stats.active--;
	sd_event_source_disable_unref(k->io_source);
	sd_event_source_disable_unref(k->timer_source);
	if (k->fd >= 0)
		close(k->fd);
	free(k->out);
	free(k);
}

/* Best-effort one-shot message on a socket that is about to be closed. */
static void send_and_forget(int fd, const char *msg)
{
	ssize_t n = send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)n;
}

/* A reply body that refuses to grow past CONTROL_REPLY_MAX: the FILE* handed to the handler. */
struct membuf {
	char *data;
	size_t len, cap, max;
	bool overflow;
};

static ssize_t membuf_write(void *cookie, const char *buf, size_t size)
{
	struct membuf *m = cookie;

	if (size > m->max - m->len) {
		m->overflow = true;
		errno = EFBIG;
		return 0;
	}
	if (m->len + size > m->cap) {
		size_t cap = MAX(m->cap * 2, m->len + size);
		cap = MIN(cap, m->max);
		char *p = realloc(m->data, cap);
		if (!p) {
			errno = ENOMEM;
			return 0;
		}
		m->data = p;
		m->cap = cap;
	}
	memcpy(m->data + m->len, buf, size);
	m->len += size;
	return (ssize_t)size;
}

static int conn_write(struct conn *k);

/* Sets the reply to "ERR <msg>\n", with msg cut at its first line and made printable. */
static int conn_set_error(struct conn *k, const char *msg, size_t len)
{
	size_t n = 0;

	free(k->out);
	k->out = malloc(ERR_MSG_MAX + 8);
	if (!k->out)
		return -ENOMEM;
	memcpy(k->out, "ERR ", 4);
	n = 4;
	for (size_t i = 0; i < len && i < ERR_MSG_MAX && msg[i] != '\n'; i++) {
		unsigned char ch = (unsigned char)msg[i];
		k->out[n++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	k->out[n++] = '\n';
	k->out_len = n;
	k->out_done = 0;
	return 0;
}

/* A complete request line of len bytes is in k->in: builds the reply and starts writing it. */
static int conn_handle(struct conn *k, size_t len)
{
	struct control *c = k->control;
	struct control_request req;
	char err[256];
	int r;

	c->stats.requests++;
	if (sd_event_source_set_io_events(k->io_source, EPOLLOUT) < 0) {
		conn_free(k);
		return 0;
	}
	r = control_parse_request(k->in, len, &req, err, sizeof(err));
	if (r < 0) {
		c->stats.errors++;
		r = conn_set_error(k, err, strlen(err));
	} else {
		struct membuf m = { .max = 3 + (size_t)CONTROL_REPLY_MAX };
		cookie_io_functions_t io = { .write = membuf_write };
		FILE *f = fopencookie(&m, "w", io);

		if (!f || membuf_write(&m, "OK\n", 3) != 3) {
			if (f)
				fclose(f);
			free(m.data);
			conn_free(k);
			return 0;
		}
		r = c->fn(&req, f, c->userdata);
		bool failed = fflush(f) != 0 || ferror(f);
		fclose(f);
		if (r >= 0 && !failed) {
			c->stats.ok++;
			free(k->out);
			k->out = m.data;
			k->out_len = m.len;
			k->out_done = 0;
		} else {
			c->stats.errors++;
			if (m.overflow)
				r = conn_set_error(k, "reply too large", 15);
			else if (r >= 0)
				r = conn_set_error(k, "out of memory", 13);
			else if (m.len > 3 && m.data[3] != '\n')
				r = conn_set_error(k, m.data + 3, m.len - 3);
			else {
				const char *s = strerror(-r);
				r = conn_set_error(k, s, strlen(s));
			}
			free(m.data);
		}
	}
	if (r < 0) {
		conn_free(k);
		return 0;
	}
	return conn_write(k);
}

/* Writes as much of the reply as the socket takes; closes the connection when all is out. */
static int conn_write(struct conn *k)
{
	struct control *c = k->control;
	bool progress = false;

	while (k->out_done < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_done, k->out_len - k->out_done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* The deadline counts from the last progress of a slow reader. */
				if (progress && sd_event_source_set_time_relative(
							k->timer_source, c->timeout_usec) < 0)
					break;
				return 0;
			}
			c->stats.disconnects++;
			conn_free(k);
			return 0;
		}
		k->out_done += (size_t)n;
		progress = true;
	}
	if (k->out_done == k->out_len)
		conn_drain(k->fd);
	conn_free(k);
	return 0;
}

static int conn_read(struct conn *k)
{
	struct control *c = k->control;

	for (;;) {
		if (k->in_len == sizeof(k->in)) {
			c->stats.too_long++;
			c->stats.errors++;
			if (sd_event_source_set_io_events(k->io_source, EPOLLOUT) < 0 ||
			    conn_set_error(k, "request too long", 16) < 0) {
				conn_free(k);
				return 0;
			}
			return conn_write(k);
		}
		ssize_t n = recv(k->fd, k->in + k->in_len, sizeof(k->in) - k->in_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			conn_free(k);
			return 0;
		}
		if (n == 0) {
			/* End of input: nothing sent is no request; a cut line is a bad one. */
			if (k->in_len == 0) {
				conn_free(k);
				return 0;
			}
			c->stats.errors++;
			if (sd_event_source_set_io_events(k->io_source, EPOLLOUT) < 0 ||
			    conn_set_error(k, "incomplete request (no newline)", 31) < 0) {
				conn_free(k);
				return 0;
			}
			return conn_write(k);
		}
		char *nl = memchr(k->in + k->in_len, '\n', (size_t)n);
		k->in_len += (size_t)n;
		if (nl)
			return conn_handle(k, (size_t)(nl - k->in));
	}
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *k = userdata;

	(void)s;
	(void)fd;
	(void)revents;
	if (k->out)
		return conn_write(k);
	return conn_read(k);
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct conn *k = userdata;

	(void)s;
	(void)usec;
	k->control->stats.timeouts++;
	if (!k->out && k->in_len > 0) {
		send_and_forget(k->fd, "ERR request timed out\n");
		conn_drain(k->fd);
	}
	conn_free(k);
	return 0;
}

/* Takes over fd (closed on failure). */
static int conn_new(struct control *c, int fd)
{
	struct conn *k = calloc(1, sizeof(*k));
	int r;

	if (!k) {
		close(fd);
		return -ENOMEM;
	}
	k->control = c;
	k->fd = fd;
	k->next = c->conns;
	if (c->conns)
		c->conns->prev = k;
	c->conns = k;
	c->stats.active++;

	r = sd_event_add_io(c->event, &k->io_source, fd, EPOLLIN, on_conn_io, k);
	if (r >= 0)
		r = sd_event_add_time_relative(c->event, &k->timer_source, CLOCK_MONOTONIC,
					       c->timeout_usec, 10 * USEC_PER_MSEC, on_conn_timeout,
					       k);
	if (r < 0) {
		conn_free(k);
		return r;
	}
	(void)sd_event_source_set_description(k->io_source, "control-conn-io");
	(void)sd_event_source_set_description(k->timer_source, "control-conn-timeout");
	c->stats.accepted++;
	return 0;
}

static void accept_one(struct control *c, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		close(fd);
		return;
	}
	if (cred.uid != 0 && cred.uid != c->euid) {
		c->stats.refused_perm++;
		send_and_forget(fd, "ERR permission denied\n");
		conn_drain(fd);
		close(fd);
		return;
	}
	if (c->stats.active >= CONTROL_CONNECTIONS_MAX) {
		c->stats.refused_busy++;
		send_and_forget(fd, "ERR busy\n");
		conn_drain(fd);
		close(fd);
		return;
	}
	(void)conn_new(c, fd);
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;

	(void)revents;
	for (unsigned i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Level-triggered: pause instead of spinning on the pending peer.
				 */
				if (sd_event_source_set_time_relative(c->accept_retry_source,
								      ACCEPT_RETRY_USEC) >= 0 &&
				    sd_event_source_set_enabled(c->accept_retry_source,
								SD_EVENT_ONESHOT) >= 0)
					(void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
			}
			break;
		}
		accept_one(c, cfd);
	}
	return 0;
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct control *c = userdata;

	(void)s;
	(void)usec;
	(void)sd_event_source_set_enabled(c->listen_source, SD_EVENT_ON);
	return 0;
}

/* Creates the missing directories above path, mode 0755. */
static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

/* 1 when a server accepts on the socket sa, 0 when nobody does (refused, or no file), -errno
 * otherwise. */
static int answers(const struct sockaddr_un *sa, socklen_t salen)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, salen) == 0 || errno == EAGAIN)
		return 1;
	return errno == ECONNREFUSED || errno == ENOENT ? 0 : -errno;
}

/* The address of the socket file path. */
static int socket_address(const char *path, struct sockaddr_un *sa, socklen_t *ret_len)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (!path || !path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	return 0;
}

/* Removes a socket file nobody accepts on. Returns 0 when path is free now, -EADDRINUSE when a
 * server answers there, -EEXIST when it is no socket, -errno otherwise. */
static int remove_stale(const char *path, const struct sockaddr_un *sa, socklen_t salen)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int r = answers(sa, salen);
	if (r != 0)
		return r > 0 ? -EADDRINUSE : r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int control_alive(const char *path)
{
	struct sockaddr_un sa;
	socklen_t salen;
	int r = socket_address(path, &sa, &salen);

	return r < 0 ? r : answers(&sa, salen);
}

int control_new(sd_event *e, const char *path, control_handler_fn fn, void *userdata,
		struct control **ret)
{
	struct sockaddr_un sa;
	socklen_t salen;
	struct stat st;
	int r;

	if (!e || !path || !fn || !ret)
		return -EINVAL;
	r = socket_address(path, &sa, &salen);
	if (r < 0)
		return r;

	_cleanup_(control_freep) struct control *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->event = sd_event_ref(e);
	c->fn = fn;
	c->userdata = userdata;
	c->timeout_usec = CONTROL_TIMEOUT_USEC;
	c->euid = geteuid();

	r = mkdir_parents(path);
	if (r < 0)
		return r;
	r = remove_stale(path, &sa, salen);
	if (r < 0)
		return r;

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* On Linux bind() takes the file's mode from the socket inode: no window at the umask's. */
	if (fchmod(c->fd, 0600) < 0)
		return -errno;
	if (bind(c->fd, (struct sockaddr *)&sa, salen) < 0)
		return -errno;
	c->path = strdup(path);
	if (!c->path) {
		(void)unlink(path);
		return -ENOMEM;
	}
	if (stat(path, &st) < 0) {
		r = -errno;
		(void)unlink(path);
		return r;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if ((st.st_mode & 07777) != 0600 && chmod(path, 0600) < 0)
		return -errno;
	if (listen(c->fd, SOMAXCONN) < 0)
		return -errno;

	r = sd_event_add_io(e, &c->listen_source, c->fd, EPOLLIN, on_listen, c);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(c->listen_source, "control-listen");
	r = sd_event_add_time_relative(e, &c->accept_retry_source, CLOCK_MONOTONIC,
				       ACCEPT_RETRY_USEC, 10 * USEC_PER_MSEC, on_accept_retry, c);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(c->accept_retry_source, "control-accept-retry");
	r = sd_event_source_set_enabled(c->accept_retry_source, SD_EVENT_OFF);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(c);
	return 0;
}

void control_set_timeout(struct control *c, uint64_t usec)
{
	if (usec > 0)
		c->timeout_usec = usec;
}

const struct control_stats *control_get_stats(const struct control *c)
{
	return &c->stats;
}

const char *control_get_path(const struct control *c)
{
	return c->path;
}

struct control *control_free(struct control *c)
{
	struct stat st;

	if (!c)
		return NULL;
	while (c->conns)
		conn_free(c->conns);
	sd_event_source_disable_unref(c->listen_source);
	sd_event_source_disable_unref(c->accept_retry_source);
	if (c->fd >= 0)
		close(c->fd);
	/* Unlink only our own socket: another instance may have replaced it meanwhile. */
	if (c->path && stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		(void)unlink(c->path);
	free(c->path);
	sd_event_unref(c->event);
	free(c);
	return NULL;
}
