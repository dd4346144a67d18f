/* The daemon's control socket: a Unix stream socket served inside the sd-event loop. A client
 * sends one request line, the daemon's handler writes the reply body, and the server answers
 * "OK\n<body>" or "ERR <message>\n" and closes. Also the request parser shared with the CLI.
 * This module never logs: what went wrong is counted in struct control_stats. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "addr.h"
#include "macro.h"

/* Longest request, including its '\n'. */
#define CONTROL_REQUEST_MAX 4096
/* Longest reply body a handler may write; beyond it the client gets "ERR reply too large". */
#define CONTROL_REPLY_MAX (16u * 1024 * 1024)
/* Connections served at once; further clients get "ERR busy" and are closed at once. */
#define CONTROL_CONNECTIONS_MAX 32
/* Time a client has to send its request, and the longest it may stall reading the reply. */
#define CONTROL_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* Size of control_request.jail: jail names are [A-Za-z0-9._-], at most 63 bytes. */
#define CONTROL_JAIL_MAX 64

enum control_cmd {
	CONTROL_STATUS, /* status [--json] */
	CONTROL_LIST,	/* list [JAIL] [--json] [--verbose] */
	CONTROL_BAN,	/* ban ADDR [--jail JAIL] [--time DURATION|forever] */
	CONTROL_UNBAN,	/* unban ADDR | unban --all */
	CONTROL_RELOAD, /* reload */
	CONTROL_SHOW,	/* show ADDR [--json] */
};

struct control_request {
	enum control_cmd cmd;
	bool json;		     /* --json (status, list, show) */
	bool verbose;		     /* list --verbose: with the evidence */
	bool has_addr;		     /* ban, unban, show ADDR */
	struct addr addr;	     /* addr_parse_cidr(): host bits cleared, ::ffff:v4 folded */
	bool all;		     /* unban --all */
	char jail[CONTROL_JAIL_MAX]; /* list JAIL, ban --jail JAIL; "" = not given */
	uint64_t time_usec;	     /* ban --time; 0 = not given (never 0 when given); forever:
				      * TIMEUTIL_FOREVER */
};

/* Parses one request line of len bytes (without its '\n'; a trailing '\r' is ignored; no NUL
 * needed). Words are separated by one or more spaces; options may come in any order after the
 * command. Returns 0 and fills *ret, or -EINVAL (*ret untouched) with a one-line, printable
 * message in err (always NUL-terminated when errsize > 0). */
int control_parse_request(const char *line, size_t len, struct control_request *ret, char *err,
			  size_t errsize);

/* Name of a command as the protocol spells it ("status", ...). */
const char *control_cmd_to_string(enum control_cmd cmd);

/* The daemon's side of a request. Writes the reply body to out and returns >= 0, or returns
 * -errno and writes a one-line error message to out (the client then gets "ERR <message>"; with
 * nothing written, the text of strerror(errno)). A body longer than CONTROL_REPLY_MAX makes
 * writes to out fail and the client gets "ERR reply too large". Runs inside the event loop: it
 * must not block and must not free the struct control (defer that, e.g. with sd_event_add_defer).
 */
typedef int (*control_handler_fn)(const struct control_request *req, FILE *out, void *userdata);

struct control_stats {
	uint64_t accepted;     /* connections accepted and served */
	uint64_t requests;     /* complete request lines received */
	uint64_t ok;	       /* replies "OK" (handler succeeded) */
	uint64_t errors;       /* replies "ERR" for a bad request or a failed handler */
	uint64_t refused_busy; /* accepted beyond CONTROL_CONNECTIONS_MAX, told "ERR busy" */
	uint64_t refused_perm; /* peers of another uid, told "ERR permission denied" */
	uint64_t too_long;     /* requests longer than CONTROL_REQUEST_MAX */
	uint64_t timeouts;     /* connections dropped at their deadline */
	uint64_t disconnects;  /* clients gone before the whole reply was written */
	unsigned active;       /* connections open now */
};

struct control;

/* Listens on the Unix socket path inside the loop e. Missing parent directories are created
 * (mode 0755); a stale socket file at path (nobody accepting) is replaced, a live one gives
 * -EADDRINUSE and any other kind of file -EEXIST. The socket gets mode 0600. Only peers whose
 * SO_PEERCRED uid is 0 or the daemon's euid are served; others get "ERR permission denied".
 * Returns 0 or -errno (-ENAMETOOLONG for a path that does not fit a sockaddr_un). */
int control_new(sd_event *e, const char *path, control_handler_fn fn, void *userdata,
		struct control **ret);

/* Whether a daemon serves the socket at path: 1 when something accepts there, 0 when nobody
 * does (no file, or a stale one), -errno otherwise. Never blocks. */
int control_alive(const char *path);

/* Changes the per-connection deadline (default CONTROL_TIMEOUT_USEC; must be > 0) for the
 * connections accepted from now on. */
void control_set_timeout(struct control *c, uint64_t usec);

const struct control_stats *control_get_stats(const struct control *c);
const char *control_get_path(const struct control *c);

/* Drops every connection, stops listening and unlinks the socket path (when it is still the
 * socket this control created). Accepts NULL, returns NULL. */
struct control *control_free(struct control *c);

DEFINE_FREE_FUNC(struct control, control_free)
