/* The liveness probe of the watch: one TCP connection to the local SMTP port inside the sd-event
 * loop, never blocking, timed from the start to the first line of the `220` banner; any other
 * outcome (timeout, refusal, another reply, a close, an error) is a failure. Never logs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define PROBE_DEFAULT_TIMEOUT_USEC (10 * 1000000ULL)
#define PROBE_BUFFER_SIZE	   1024 /* a first reply line longer than this (with CRLF) is bad */

enum probe_status {
	PROBE_OK,	  /* the first line of the reply is "220" (alone, "220 ..." or "220-...") */
	PROBE_TIMEOUT,	  /* no complete first line within the timeout (also: connect never done) */
	PROBE_REFUSED,	  /* the connection was refused (nothing listens) */
	PROBE_BAD_BANNER, /* the first line is another reply (e.g. 421), garbage or too long */
	PROBE_CLOSED,	  /* the server closed (or reset) the connection before a first line */
	PROBE_ERROR,	  /* anything else: unreachable, no route, ... */
	_PROBE_STATUS_MAX,
};

/* "ok", "timeout", "refused", "bad-banner", "closed", "error"; NULL for other values. */
const char *probe_status_to_string(enum probe_status s);

/* The result of one attempt. latency_usec runs from probe_start() to the loop wake-up that saw
 * the banner's first complete line (PROBE_OK) or the failure (for PROBE_TIMEOUT about the
 * timeout). error is 0 for PROBE_OK, else a positive errno value that details the failure:
 *   PROBE_TIMEOUT     ETIMEDOUT
 *   PROBE_REFUSED     ECONNREFUSED
 *   PROBE_BAD_BANNER  EPROTO (a well-formed reply with another code: see probe_get_reply_code()),
 *                     EBADMSG (not an SMTP reply line), EMSGSIZE (line too long)
 *   PROBE_CLOSED      ENODATA (orderly close), ECONNRESET (reset)
 *   PROBE_ERROR       what connect(), SO_ERROR or recv() said (ENETUNREACH, EADDRNOTAVAIL, ...)
 * Called from the loop, never from inside probe_start(). The callback may call probe_start()
 * (a new attempt) or probe_free() on its probe. */
typedef void (*probe_done_fn)(enum probe_status status, uint64_t latency_usec, int error,
			      void *userdata);

struct probe;

/* Creates an idle probe of address (numeric IPv4 or IPv6, no scope id, e.g. "127.0.0.1" or
 * "::1") and port (1..65535) with a timeout per attempt (> 0; PROBE_DEFAULT_TIMEOUT_USEC is the
 * configuration's default). Takes a reference on e. Returns 0 or -errno (-EINVAL for bad
 * arguments, -ENOMEM). */
int probe_new(sd_event *e, const char *address, uint16_t port, uint64_t timeout_usec,
	      probe_done_fn done, void *userdata, struct probe **ret);

/* Starts one attempt: a non-blocking connect, then the banner is read, all inside the loop.
 * Returns 0 when started: done will be called exactly once for it (unless the probe is freed
 * first). Returns -EBUSY while an attempt runs, other -errno (-EMFILE, -ENOMEM, ...) when no
 * attempt could be started (done will not be called). Failures of the connection itself, even
 * immediate ones, come through done.
 *
 * After a well-formed reply (220 or not), the probe says goodbye politely once done has been
 * called: it waits for the rest of a multi-line reply (sending nothing before the greeting ends,
 * which postscreen-like servers punish), sends "QUIT\r\n", and waits briefly for the server to
 * close (at most min(timeout, 2 s) in all). A new probe_start() or probe_free() cuts that short
 * by closing the connection. */
int probe_start(struct probe *p);

/* True from a successful probe_start() until done is called (the goodbye does not count). */
bool probe_running(const struct probe *p);

/* The 3-digit code of the last attempt's first reply line (220, 421, 554, ...), 0 when there was
 * none or it was not a well-formed reply. Valid from done until the next probe_start(). */
int probe_get_reply_code(const struct probe *p);

/* Cancels a running attempt (done is not called) and any goodbye, closes everything. Accepts
 * NULL, returns NULL. */
struct probe *probe_free(struct probe *p);
