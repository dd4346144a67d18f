/* Courier's esmtpd settings file (/etc/courier/esmtpd): shell-style assignments that esmtpd's
 * start script sources. waveguard reads MAXDAEMONS (the share of connections the tuner looks
 * at) and ADDRESS/PORT (where the probe finds the server). Never logs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Reads the value of the last "NAME=value" (optionally after "export") into buf: unquoted up to
 * white space, or inside '...' / "...". Returns 0, -ENOENT when no line assigns NAME, -EINVAL
 * when the last assignment is malformed (an unterminated quote, text after the value other than
 * a comment), -ENAMETOOLONG when the value does not fit, or -errno from reading the file. */
int esmtpd_read_var(const char *path, const char *name, char *buf, size_t size);

/* MAXDAEMONS: returns 0 and *ret (1 .. 1000000), -ENOENT, -EINVAL, or -errno. */
int esmtpd_read_maxdaemons(const char *path, unsigned *ret);

/* Where esmtpd listens first: the first entry of PORT ("25", "smtp", "127.0.0.1.25", a comma
 * list), with ADDRESS as the default address. A server listening on every address ("0",
 * unset, "0.0.0.0", "::") is probed on 127.0.0.1. Writes the numeric address into addr and
 * returns 0 and *ret_port, -ENOENT (no PORT), -EINVAL (a value waveguard cannot use), or
 * -errno. */
int esmtpd_listen_target(const char *path, char *addr, size_t size, uint16_t *ret_port);
