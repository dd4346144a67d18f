/* The client side of the control socket: `waveguard status|list|ban|unban|reload ...` turned
 * into one request line, sent to the running daemon, and its reply printed. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "macro.h"

/* How long the client waits for the daemon: to connect, and for the whole exchange. */
#define CLI_TIMEOUT_USEC (10 * USEC_PER_SEC)

/* Runs one client command: argv[0] is the command (status, list, ban, unban, reload) and the
 * rest its arguments, exactly as typed after `waveguard [-c DIR]`. The request is checked
 * locally with control_parse_request() first; with -h or --help among the arguments the
 * command's usage is printed (exit 0) and the daemon is not contacted. Prints the reply body to
 * stdout, messages to stderr. Returns a sysexits code: 0 (EX_OK), 64 (EX_USAGE) for bad arguments
 * (the daemon is not contacted), 69 (EX_UNAVAILABLE) when the daemon is not running or does not
 * accept within the timeout, 77 (EX_NOPERM) when the socket may not be opened, 78 (EX_CONFIG) for a
 * socket path too long for a Unix socket, 1 when the daemon answered ERR, 74 (EX_IOERR) for a
 * broken exchange (timeout, connection reset, malformed reply, stdout not writable). */
int cli_control(const char *socket_path, int argc, char **argv);

/* The same with the streams and the timeout given (for tests). */
int cli_control_full(const char *socket_path, int argc, char **argv, uint64_t timeout_usec,
		     FILE *out, FILE *err);

/* Prints the usage lines of the client commands. */
void cli_usage(FILE *f);
