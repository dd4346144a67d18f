/* The sample history: one CSV line per sample (connections, bans, probe, tuner level, reaped
 * connections), appended with O_APPEND and one write(2) per line, size-capped with one rotated
 * file (path.1); and the readers behind `waveguard history` (rows, the article's table), which
 * also read the files of earlier versions (without the reaped column). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct history_row {
	uint64_t time_usec; /* stored with second resolution (RFC 3339 UTC, "...T19:12:17Z") */
	uint32_t established, syn_recv, other, backlog, distinct, active_bans, new_bans;
	int64_t probe_ms;      /* -1: failure (empty field) */
	char probe_status[16]; /* "ok", "timeout", "refused", ... */
	char tuner[16];	       /* "normal", "elevated", "wave" */
	uint32_t reaped;       /* idle holders' connections closed at this sample */
};

#define HISTORY_HEADER                                                                             \
	"time,established,syn_recv,other,backlog,distinct,active_bans,new_bans,probe_ms,"          \
	"probe_status,tuner,reaped\n"
/* The header of the files written before the reaped column (read as reaped 0). */
#define HISTORY_HEADER_V1                                                                          \
	"time,established,syn_recv,other,backlog,distinct,active_bans,new_bans,probe_ms,"          \
	"probe_status,tuner\n"

/* Longest line history_format_row() can produce, '\n' included (the reader's line buffer). */
#define HISTORY_LINE_MAX 256

struct history;

/* Opens (creating, mode 0644) path with O_WRONLY|O_APPEND and writes the header when the file
 * is new or empty. A file of an earlier version (HISTORY_HEADER_V1) is rotated to path.1 first,
 * so that no file mixes the two; a file whose first line is neither header (someone else's
 * file) is refused with -EINVAL. max_bytes caps the file size (0: no cap, no rotation). Returns 0
 * and sets *ret, or -errno. */
int history_open(const char *path, uint64_t max_bytes, struct history **ret);

/* Formats r and writes it with ONE write(2). When the file would grow past max_bytes it is
 * rotated first: path is renamed to path.1 (replacing an old .1) and a fresh path is started
 * with the header. A file renamed or removed behind our back (another writer's rotation) is
 * reopened. Returns 0, -EINVAL for a row that cannot be written as CSV, or -errno (a short
 * write is -ENOSPC/-EIO; the next append starts on a new line). */
int history_append(struct history *h, const struct history_row *r);

/* Closes the file. Accepts NULL; returns NULL. */
struct history *history_free(struct history *h);

/* Writes the CSV line for r, '\n' included and NUL-terminated, into buf. Returns its length,
 * -EINVAL when a string field is empty, unterminated or holds characters other than
 * [A-Za-z0-9_.-] (or probe_ms < -1), -ENOBUFS when size is too small. */
int history_format_row(const struct history_row *r, char *buf, size_t size);

/* Parses one CSV line (a trailing "\n" or "\r\n" is allowed). Strict: 12 fields, or the 11 of
 * an earlier version's line (reaped 0); an RFC 3339 time, plain decimal counters within range,
 * probe_ms empty (-1) or a decimal, non-empty status and tuner words as history_format_row()
 * accepts them. Returns 0 and fills
 * *ret, or -EINVAL (the header line is -EINVAL too). */
int history_parse_row(const char *line, size_t len, struct history_row *ret);

/* Called for each row; a negative return stops history_read(), which returns that value. */
typedef int (*history_row_fn)(const struct history_row *r, void *userdata);

/* Reads path.1 (if present) then path, calling fn for each row at or after since_usec; skips
 * the header lines (of this version and earlier ones) and counts unparsable lines (also over-long
 * lines and a last line without its '\n', i.e. a torn write) in *ret_bad (may be NULL). Returns the
 * number of rows passed to fn, -ENOENT when neither file exists, or -errno. */
int history_read(const char *path, uint64_t since_usec, history_row_fn fn, void *userdata,
		 unsigned *ret_bad);

/* The article's table, one line per row: "Mon Jul 27 19:12:17 CEST 2009     4", the time in
 * the local time zone (date(1)'s format, strftime "%a %b %e %H:%M:%S %Z %Y"), a space, then the
 * established count right-aligned in 5 columns. Writes the LAST `last` rows (0: all). Returns 0
 * or -errno. */
int history_print_table(FILE *out, const struct history_row *rows, size_t n_rows, size_t last);
