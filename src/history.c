/* The sample history file: CSV rows appended with one write(2) each on an O_APPEND descriptor,
 * a header checked (or written) under flock(2) so that two writers agree on it, size-capped
 * rotation to path.1 (also of a file an earlier version wrote, whose rows have one column
 * fewer), and a strict reader over path.1 + path for `waveguard history` that reads both.
 * Library-like: never logs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "logline.h"
#include "macro.h"
#include "timeutil.h"

#define HEADER_LEN    (sizeof(HISTORY_HEADER) - 1)
#define HEADER_V1_LEN (sizeof(HISTORY_HEADER_V1) - 1)
#define N_FIELDS      12
#define N_FIELDS_V1   11
/* 9999-12-31T23:59:59Z: RFC 3339 has four year digits. */
#define MAX_TIME_SEC 253402300799ULL

struct history {
	char *path;
	char *path1;
	int fd;
	uint64_t max_bytes;
	bool torn; /* the file does not end with '\n': the next line starts with one */
};

/* Checks (or writes) the header of the file open on fd, which the caller has locked. Sets
 * *ret_torn when the file's last byte is not a newline. Returns -EPROTO for a file of an
 * earlier version (HISTORY_HEADER_V1). */
static int check_header(const char *path, int fd, bool *ret_torn)
{
	struct stat st, rst;
	char buf[HEADER_LEN];

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size == 0) {
		ssize_t n = write(fd, HISTORY_HEADER, HEADER_LEN);
		if (n < 0)
			return -errno;
		if ((size_t)n != HEADER_LEN)
			return -ENOSPC;
		*ret_torn = false;
		return 0;
	}
	if ((size_t)st.st_size < HEADER_V1_LEN)
		return -EINVAL;

	/* The append descriptor is write-only: read through a second one on the same inode. */
	_cleanup_close_ int rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (rfd < 0)
		return -errno;
	if (fstat(rfd, &rst) < 0)
		return -errno;
	if (rst.st_dev != st.st_dev || rst.st_ino != st.st_ino)
		return -EAGAIN; /* renamed between open and lock: the caller retries */
	ssize_t n = pread(rfd, buf, HEADER_LEN, 0);
	if (n < 0)
		return -errno;
	if ((size_t)n >= HEADER_V1_LEN && memcmp(buf, HISTORY_HEADER_V1, HEADER_V1_LEN) == 0)
		return -EPROTO;
	if ((size_t)n != HEADER_LEN || memcmp(buf, HISTORY_HEADER, HEADER_LEN) != 0)
		return -EINVAL;
	char last;
	n = pread(rfd, &last, 1, st.st_size - 1);
	if (n < 0)
		return -errno;
	*ret_torn = n == 1 && last != '\n';
	return 0;
}

/* Opens h->path for appending and makes sure it starts with the header. Returns the fd. */
static int open_file(struct history *h, bool *ret_torn)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		/* Never through a symlink, and only a regular file: a root daemon appending to
		 * whatever a link in its state directory points at would be a way to write
		 * anywhere. O_NONBLOCK keeps a FIFO planted there from blocking the open. */
		_cleanup_close_ int fd = open(h->path,
					      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
						      O_NOFOLLOW | O_NONBLOCK,
					      0644);
		struct stat st;
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
		if (flock(fd, LOCK_EX) < 0)
			return -errno;
		int r = check_header(h->path, fd, ret_torn);
		/* An earlier version's file goes to .1 whole (still read there), under its lock:
		 * of two writers only one renames it, the other finds the new file. */
		if (r == -EPROTO)
			r = rename(h->path, h->path1) < 0 ? -errno : -EAGAIN;
		(void)flock(fd, LOCK_UN);
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			return r;
		return TAKE_FD(fd);
	}
	return -EAGAIN;
}

static int reopen(struct history *h)
{
	bool torn = false;
	int fd = open_file(h, &torn);
	if (fd < 0)
		return fd;
	close(h->fd);
	h->fd = fd;
	h->torn = torn;
	return 0;
}

/* Is our descriptor still the file at h->path? 1 yes, 0 no (renamed or removed), -errno. */
static int still_current(struct history *h, struct stat *ret_st)
{
	struct stat pst;

	if (fstat(h->fd, ret_st) < 0)
		return -errno;
	if (stat(h->path, &pst) < 0)
		return errno == ENOENT ? 0 : -errno;
	return pst.st_dev == ret_st->st_dev && pst.st_ino == ret_st->st_ino;
}

/* Renames the full file to path.1 and starts a new one. Under the old file's lock, so that of
 * two writers reaching the cap together only one rotates and the other just reopens. */
static int rotate(struct history *h, size_t need)
{
	struct stat st;
	int r;

	if (flock(h->fd, LOCK_EX) < 0)
		return -errno;
	r = still_current(h, &st);
	if (r > 0 && (uint64_t)st.st_size + need > h->max_bytes && (size_t)st.st_size > HEADER_LEN)
		r = rename(h->path, h->path1) < 0 ? -errno : 0;
	(void)flock(h->fd, LOCK_UN);
	if (r < 0)
		return r;
	return reopen(h);
}

int history_open(const char *path, uint64_t max_bytes, struct history **ret)
{
	if (!path || !*path || !ret)
		return -EINVAL;

	struct history *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->max_bytes = max_bytes;
	h->path = strdup(path);
	if (!h->path || asprintf(&h->path1, "%s.1", path) < 0) {
		h->path1 = NULL;
		history_free(h);
		return -ENOMEM;
	}
	int fd = open_file(h, &h->torn);
	if (fd < 0) {
		history_free(h);
		return fd;
	}
	h->fd = fd;
	*ret = h;
	return 0;
}

struct history *history_free(struct history *h)
{
	if (!h)
		return NULL;
	if (h->fd >= 0)
		close(h->fd);
	free(h->path);
	free(h->path1);
	free(h);
	return NULL;
}

int history_append(struct history *h, const struct history_row *row)
{
	char buf[1 + HISTORY_LINE_MAX];
	struct stat st;
	int r;

	if (!h || !row)
		return -EINVAL;
	r = history_format_row(row, buf + 1, sizeof(buf) - 1);
	if (r < 0)
		return r;
	size_t len = (size_t)r;

	/* Renamed or removed behind our back (another writer rotated, or logrotate): follow the
	 * name, not the old inode. */
	r = still_current(h, &st);
	if (r < 0)
		return r;
	if (r == 0) {
		r = reopen(h);
		if (r < 0)
			return r;
		if (fstat(h->fd, &st) < 0)
			return -errno;
	}
	if (h->max_bytes > 0 && (uint64_t)st.st_size + len > h->max_bytes &&
	    (size_t)st.st_size > HEADER_LEN) {
		r = rotate(h, len);
		if (r < 0)
			return r;
	}

	const char *line = buf + 1;
	if (h->torn) {
		buf[0] = '\n';
		line = buf;
		len++;
	}
	ssize_t n = write(h->fd, line, len);
	if (n < 0)
		return -errno;
	if ((size_t)n != len) {
		h->torn = true;
		return -ENOSPC;
	}
	h->torn = false;
	return 0;
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* A status or tuner word: 1..max-1 characters from word_char(). */
static bool word_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len >= max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!word_char(s[i]))
			return false;
	return true;
}

int history_format_row(const struct history_row *r, char *buf, size_t size)
{
	char when[32], ms[24] = "";

	if (!r || !buf)
		return -EINVAL;
	size_t sl = strnlen(r->probe_status, sizeof(r->probe_status));
	size_t tl = strnlen(r->tuner, sizeof(r->tuner));
	if (!word_ok(r->probe_status, sl, sizeof(r->probe_status)) ||
	    !word_ok(r->tuner, tl, sizeof(r->tuner)) || r->probe_ms < -1 ||
	    r->time_usec / USEC_PER_SEC > MAX_TIME_SEC)
		return -EINVAL;

	timeutil_format_rfc3339(r->time_usec, when, sizeof(when));
	if (r->probe_ms >= 0)
		snprintf(ms, sizeof(ms), "%" PRId64, r->probe_ms);
	int n = snprintf(buf, size,
			 "%s,%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32
			 ",%" PRIu32 ",%s,%s,%s,%" PRIu32 "\n",
			 when, r->established, r->syn_recv, r->other, r->backlog, r->distinct,
			 r->active_bans, r->new_bans, ms, r->probe_status, r->tuner, r->reaped);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOBUFS;
	return n;
}

/* 1..max_digits decimal digits, nothing else. */
static bool parse_uint(const char *s, size_t len, size_t max_digits, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > max_digits)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*ret = v;
	return true;
}

int history_parse_row(const char *line, size_t len, struct history_row *ret)
{
	const char *f[N_FIELDS];
	size_t fl[N_FIELDS];
	struct history_row row = {};
	size_t nf = 0, start = 0;
	uint64_t v;

	if (!line || !ret)
		return -EINVAL;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || len >= HISTORY_LINE_MAX || memchr(line, '\0', len))
		return -EINVAL;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ',')
			continue;
		if (nf == N_FIELDS)
			return -EINVAL;
		f[nf] = line + start;
		fl[nf] = i - start;
		nf++;
		start = i + 1;
	}
	if (nf != N_FIELDS && nf != N_FIELDS_V1)
		return -EINVAL;

	if (fl[0] == 0 || timeutil_parse_rfc3339(f[0], fl[0], &row.time_usec) != fl[0])
		return -EINVAL;
	uint32_t *counters[] = { &row.established, &row.syn_recv,    &row.other,   &row.backlog,
				 &row.distinct,	   &row.active_bans, &row.new_bans };
	for (size_t i = 0; i < ELEMENTSOF(counters); i++) {
		if (!parse_uint(f[1 + i], fl[1 + i], 10, UINT32_MAX, &v))
			return -EINVAL;
		*counters[i] = (uint32_t)v;
	}
	if (fl[8] == 0)
		row.probe_ms = -1;
	else if (parse_uint(f[8], fl[8], 18, INT64_MAX, &v))
		row.probe_ms = (int64_t)v;
	else
		return -EINVAL;
	if (!word_ok(f[9], fl[9], sizeof(row.probe_status)) ||
	    !word_ok(f[10], fl[10], sizeof(row.tuner)))
		return -EINVAL;
	memcpy(row.probe_status, f[9], fl[9]);
	memcpy(row.tuner, f[10], fl[10]);
	if (nf == N_FIELDS) {
		if (!parse_uint(f[11], fl[11], 10, UINT32_MAX, &v))
			return -EINVAL;
		row.reaped = (uint32_t)v;
	}

	*ret = row;
	return 0;
}

/* One file of history_read(). Returns 0, -ENOENT, -errno, or fn's negative value. */
static int read_file(const char *path, uint64_t since_usec, history_row_fn fn, void *userdata,
		     unsigned *count, unsigned *bad)
{
	char buf[HISTORY_LINE_MAX];

	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;

	for (;;) {
		size_t len = 0;
		bool overlong = false;
		int c;

		while ((c = getc(f)) != EOF && c != '\n') {
			if (len < sizeof(buf))
				buf[len++] = (char)c;
			else
				overlong = true;
		}
		if (c == EOF && len == 0 && !overlong)
			break;
		if (c == EOF || overlong) { /* no '\n': a torn last write, or not our file */
			(*bad)++;
			if (c == EOF)
				break;
			continue;
		}
		if ((len == HEADER_LEN - 1 && memcmp(buf, HISTORY_HEADER, len) == 0) ||
		    (len == HEADER_V1_LEN - 1 && memcmp(buf, HISTORY_HEADER_V1, len) == 0))
			continue;

		struct history_row row;
		if (history_parse_row(buf, len, &row) < 0) {
			(*bad)++;
			continue;
		}
		if (row.time_usec < since_usec)
			continue;
		if (fn) {
			int r = fn(&row, userdata);
			if (r < 0)
				return r;
		}
		(*count)++;
	}
	if (ferror(f))
		return -EIO;
	return 0;
}

int history_read(const char *path, uint64_t since_usec, history_row_fn fn, void *userdata,
		 unsigned *ret_bad)
{
	_cleanup_free_ char *path1 = NULL;
	unsigned count = 0, bad = 0;
	bool found = false;
	int r;

	if (!path || !*path)
		return -EINVAL;
	if (asprintf(&path1, "%s.1", path) < 0)
		return -ENOMEM;

	const char *files[] = { path1, path };
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		r = read_file(files[i], since_usec, fn, userdata, &count, &bad);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		found = true;
	}
	if (!found)
		return -ENOENT;
	if (ret_bad)
		*ret_bad = bad;
	return count > INT32_MAX ? INT32_MAX : (int)count;
}

int history_print_table(FILE *out, const struct history_row *rows, size_t n_rows, size_t last)
{
	if (!out || (!rows && n_rows > 0))
		return -EINVAL;

	size_t start = last == 0 || last >= n_rows ? 0 : n_rows - last;
	for (size_t i = start; i < n_rows; i++) {
		time_t t = (time_t)(rows[i].time_usec / USEC_PER_SEC);
		char when[80];
		struct tm tm;

		if (!localtime_r(&t, &tm) ||
		    strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Z %Y", &tm) == 0)
			return -EINVAL;
		if (fprintf(out, "%s %5" PRIu32 "\n", when, rows[i].established) < 0)
			return -EIO;
	}
	return ferror(out) ? -EIO : 0;
}
