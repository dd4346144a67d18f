/* libFuzzer target: the control server (control.c) as a client meets it: a real Unix socket of a
 * control_new() server inside an sd-event loop, with a stub handler that echoes the request it
 * was given. The input's first byte shapes the clients (how many at once, the bytes sent in
 * pieces with the loop running in between, the writing side shut or not, a client that goes
 * away without reading); the rest is what each sends. Oracles: each client that reads gets
 * exactly the reply the request line calls for (the parser's own verdict on the same bytes,
 * "request too long", "incomplete request", the handler's echo or its error made one printable
 * line), nothing when it sent nothing, and no connection outlives its client or its deadline. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENTS_MAX 4
#define REPLY_MAX   8192

struct client {
	int fd;
	char reply[REPLY_MAX];
	size_t len;
	bool eof, gone;
};

static sd_event *event;
static struct control *server;
static char path[128];

/* Echoes the parsed request; a few jail names take the handler's other ways out. */
static int handler(const struct control_request *req, FILE *out, void *userdata)
{
	char a[ADDR_STRLEN] = "-";
	(void)userdata;

	if (strcmp(req->jail, "huge") == 0) {
		static char chunk[65536];
		for (size_t done = 0; done <= CONTROL_REPLY_MAX && !ferror(out);
		     done += sizeof(chunk))
			if (fwrite(chunk, 1, sizeof(chunk), out) != sizeof(chunk))
				break;
		return 0;
	}
	if (strcmp(req->jail, "fail") == 0) {
		fprintf(out, "bad\tthing\x01happened\nsecond line\n");
		return -EIO;
	}
	if (strcmp(req->jail, "nomsg") == 0)
		return -ENOENT;
	if (req->has_addr)
		addr_format(&req->addr, a, sizeof(a));
	fprintf(out, "cmd=%s json=%d verbose=%d addr=%s all=%d jail=%s time=%" PRIu64 "\n",
		control_cmd_to_string(req->cmd), req->json, req->verbose, a, req->all, req->jail,
		req->time_usec);
	return 0;
}

/* What a client that sent stream (n bytes, then its end when eof) must read. */
static void expected(const char *stream, size_t n, bool eof, char *buf, size_t size)
{
	const char *nl = memchr(stream, '\n', MIN(n, (size_t)CONTROL_REQUEST_MAX));
	struct control_request req;
	char err[256];

	buf[0] = '\0';
	if (!nl) {
		if (n >= CONTROL_REQUEST_MAX)
			snprintf(buf, size, "ERR request too long\n");
		else if (eof && n > 0)
			snprintf(buf, size, "ERR incomplete request (no newline)\n");
		return;
	}
	if (control_parse_request(stream, (size_t)(nl - stream), &req, err, sizeof(err)) < 0) {
		snprintf(buf, size, "ERR %s\n", err);
		return;
	}
	if (strcmp(req.jail, "huge") == 0)
		snprintf(buf, size, "ERR reply too large\n");
	else if (strcmp(req.jail, "fail") == 0)
		snprintf(buf, size, "ERR bad thing happened\n");
	else if (strcmp(req.jail, "nomsg") == 0)
		snprintf(buf, size, "ERR %s\n", strerror(ENOENT));
	else {
		FILE *f = fmemopen(buf, size, "w");
		if (!f)
			abort();
		fputs("OK\n", f);
		handler(&req, f, NULL);
		fclose(f);
	}
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static char dir[64];

static void cleanup(void)
{
	server = control_free(server);
	event = sd_event_unref(event);
	rmdir(dir);
}

static void setup(void)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/waveguard-fuzz.XXXXXX", tmp);
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/control", dir);
	if (sd_event_new(&event) < 0 || control_new(event, path, handler, NULL, &server) < 0)
		abort();
	atexit(cleanup);
}

static int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return fd;
}

/* Reads what the server sent; true once the client has its end of file (or went away). */
static bool client_read(struct client *k)
{
	while (!k->eof && !k->gone) {
		char buf[4096];
		ssize_t n = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno != EAGAIN;
		if (n == 0)
			k->eof = true;
		size_t take = MIN((size_t)n, sizeof(k->reply) - 1 - k->len);
		memcpy(k->reply + k->len, buf, take);
		k->len += take;
	}
	return true;
}

static void run_loop_once(void)
{
	if (sd_event_run(event, 1 * USEC_PER_MSEC) < 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client clients[CLIENTS_MAX];
	char want[REPLY_MAX];

	if (!event)
		setup();
	if (size == 0)
		return 0;
	unsigned flags = data[0], n_clients = 1 + (flags >> 4 & 3);
	bool shut = flags & 1, pieces = flags & 2, leave = flags & 4, pad = flags & 8;
	const char *payload = (const char *)data + 1;
	size_t len = size - 1;
	char *padded = NULL;

	/* Past the server's request buffer: the payload over and over. */
	if (pad && len > 0) {
		padded = malloc(CONTROL_REQUEST_MAX + 64);
		for (size_t i = 0; i < CONTROL_REQUEST_MAX + 64; i++)
			padded[i] = payload[i % len];
		payload = padded;
		len = CONTROL_REQUEST_MAX + 64;
	}
	/* A client that never ends its request is dropped at its deadline: 2 ms, not 5 s. Others
	 * get a deadline they never meet. */
	bool complete = shut || len >= CONTROL_REQUEST_MAX ||
			memchr(payload, '\n', MIN(len, (size_t)CONTROL_REQUEST_MAX));
	control_set_timeout(server, complete ? USEC_PER_SEC : 2 * USEC_PER_MSEC);
	for (unsigned i = 0; i < n_clients; i++)
		clients[i] = (struct client){ .fd = client_connect() };
	size_t step = pieces ? 1 + len / 4 : len, sent = 0;
	do {
		size_t k = MIN(step, len - sent);
		/* The server may have answered and closed already (a request line, or too long). */
		for (unsigned i = 0; i < n_clients; i++)
			if (k)
				(void)!send(clients[i].fd, payload + sent, k, MSG_NOSIGNAL);
		sent += k;
		run_loop_once();
	} while (sent < len);
	for (unsigned i = 0; i < n_clients; i++) {
		if (shut)
			shutdown(clients[i].fd, SHUT_WR);
		if (leave && i == 0) {
			close(clients[i].fd);
			clients[i].gone = true;
		}
	}
	uint64_t deadline = now_usec() + 3 * USEC_PER_SEC;
	for (bool done = false; !done;) {
		if (now_usec() > deadline)
			__builtin_trap(); /* a connection the server never ends */
		run_loop_once();
		done = control_get_stats(server)->active == 0;
		for (unsigned i = 0; i < n_clients; i++)
			done &= client_read(&clients[i]);
	}
	expected(payload, len, shut, want, sizeof(want));
	for (unsigned i = 0; i < n_clients; i++) {
		if (!clients[i].gone) {
			clients[i].reply[clients[i].len] = '\0';
			/* Dropped at its deadline: told so when it had sent anything yet. */
			bool timed_out = !complete && len > 0 &&
					 strcmp(clients[i].reply, "ERR request timed out\n") == 0;
			if (strcmp(clients[i].reply, want) != 0 && !timed_out)
				__builtin_trap();
			close(clients[i].fd);
		}
	}
	free(padded);
	return 0;
}
