/* Follows one log file like `tail -F`: inotify on the directory (the file appearing or being
 * replaced) and on the open file (appends), bounded reads per wake-up from fixed buffers, whole
 * lines only (over-long ones are skipped whole), rename-and-create rotation with a grace period
 * on the old file, copytruncate, and a position (dev, inode, offset, head hash) to resume from. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "source_file.h"

#define READ_CHUNK     (64 * 1024)	   /* one pread() */
#define BATCH_BYTES    (256 * 1024)	   /* at most this much read per wake-up */
#define HEAD_MAX       256		   /* bytes hashed at the start of the file */
#define GRACE_USEC     (10 * USEC_PER_SEC) /* old file kept open after a rotation */
#define DIR_RETRY_USEC (5 * USEC_PER_SEC)  /* retry period while the directory is missing */

#define DIR_MASK                                                                                   \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF |        \
	 IN_MOVE_SELF | IN_ONLYDIR)
#define FILE_MASK (IN_MODIFY | IN_ATTRIB)

/* One open file being read: the current one, or the old one after a rotation. */
struct tail {
	int fd;
	int wd; /* inotify watch on the open inode, -1 when none */
	uint64_t dev, ino;
	uint64_t offset;   /* consumed, at a line boundary */
	uint64_t read_off; /* read: offset + held partial line (or skipped part of a long one) */
	uint32_t head_len;
	uint64_t head_hash;
	char *line;	 /* max_line bytes, owned; survives close */
	size_t line_len; /* held partial line */
	bool skipping;	 /* inside a line longer than max_line: drop up to its newline */
	bool expired;	 /* close once read to EOF */
};

struct source_file {
	sd_event *event;
	char *path, *dir, *base;
	size_t max_line;
	source_file_line_fn on_line;
	source_file_batch_fn on_batch;
	void *userdata;

	int inotify_fd;
	int dir_wd;
	sd_event_source *inotify_source; /* the inotify fd */
	sd_event_source *defer_source;	 /* oneshot: more to read than one batch */
	sd_event_source *grace_source;	 /* closes the old file after a rotation */
	sd_event_source *retry_source;	 /* retries the directory watch while it is missing */
	bool started;

	struct tail cur, old;
	struct source_file_stats stats;
	char rbuf[READ_CHUNK];
};

static uint64_t fnv1a64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void tail_init(struct tail *t)
{
	char *line = t->line;

	*t = (struct tail){ .fd = -1, .wd = -1, .line = line };
}

static void tail_close(struct source_file *s, struct tail *t)
{
	if (t->wd >= 0)
		(void)inotify_rm_watch(s->inotify_fd, t->wd);
	if (t->fd >= 0)
		close(t->fd);
	tail_init(t);
}

static void tail_swap(struct tail *a, struct tail *b)
{
	struct tail x = *a;

	*a = *b;
	*b = x;
}

/* Reads up to HEAD_MAX bytes of the file's start into buf. Returns the count or -errno. */
static ssize_t read_head(int fd, char *buf)
{
	ssize_t n;

	do
		n = pread(fd, buf, HEAD_MAX, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static void tail_reset(struct tail *t, const char *head, size_t head_len)
{
	t->offset = t->read_off = 0;
	t->line_len = 0;
	t->skipping = false;
	t->head_len = (uint32_t)head_len;
	t->head_hash = fnv1a64(head, head_len);
}

/* Opens path as t (which must be closed), watches its inode, and positions it at resume when
 * that still describes this file, else at 0. Returns 0 or -errno (-ENOENT when missing). */
static int tail_open(struct source_file *s, struct tail *t, const struct source_file_pos *resume)
{
	_cleanup_close_ int fd = -1;
	char head[HEAD_MAX], proc[64];
	struct stat st;
	ssize_t n;
	int wd;

	fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	n = read_head(fd, head);
	if (n < 0)
		return (int)n;

	/* Watch the inode we opened, not whatever the name points to by now. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(s->inotify_fd, proc, FILE_MASK);
	if (wd < 0 && errno == ENOENT)
		wd = inotify_add_watch(s->inotify_fd, s->path, FILE_MASK);
	if (wd < 0)
		return -errno;

	t->fd = TAKE_FD(fd);
	t->wd = wd;
	t->dev = (uint64_t)st.st_dev;
	t->ino = (uint64_t)st.st_ino;
	t->expired = false;
	tail_reset(t, head, (size_t)n);
	if (resume && resume->dev == t->dev && resume->ino == t->ino &&
	    resume->offset <= (uint64_t)st.st_size && resume->head_len <= HEAD_MAX &&
	    resume->head_len <= (size_t)n && fnv1a64(head, resume->head_len) == resume->head_hash)
		t->offset = t->read_off = resume->offset;
	return 0;
}

/* Splits freshly read bytes (file offset base) into lines and hands the complete ones on. */
static void tail_feed(struct source_file *s, struct tail *t, const char *buf, size_t n,
		      uint64_t base)
{
	const char *p = buf, *end = buf + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (size_t)((nl ? nl : end) - p);

		if (t->skipping) {
			if (!nl)
				return;
			t->skipping = false;
		} else if (seg > s->max_line - t->line_len) {
			s->stats.too_long++;
			t->line_len = 0;
			if (!nl) {
				t->skipping = true;
				return;
			}
		} else if (!nl) {
			memcpy(t->line + t->line_len, p, seg);
			t->line_len += seg;
			return;
		} else {
			const char *line = p;
			size_t len = seg;

			if (t->line_len > 0) {
				memcpy(t->line + t->line_len, p, seg);
				line = t->line;
				len = t->line_len + seg;
				t->line_len = 0;
			}
			t->offset = base + (uint64_t)(nl - buf) + 1;
			s->stats.lines++;
			s->on_line(line, len, s->userdata);
			p = nl + 1;
			continue;
		}
		t->offset = base + (uint64_t)(nl - buf) + 1;
		p = nl + 1;
	}
}

/* Notices a truncation (size below what was read, or a changed head) and keeps the head
 * current while the file is shorter than HEAD_MAX. Returns 0 or -errno. */
static int tail_check_head(struct source_file *s, struct tail *t)
{
	char head[HEAD_MAX];
	struct stat st;
	ssize_t n;

	if (fstat(t->fd, &st) < 0)
		return -errno;
	n = read_head(t->fd, head);
	if (n < 0)
		return (int)n;
	if ((uint64_t)st.st_size < t->read_off || (size_t)n < t->head_len ||
	    fnv1a64(head, t->head_len) != t->head_hash) {
		s->stats.truncations++;
		tail_reset(t, head, (size_t)n);
	} else if ((size_t)n > t->head_len) {
		t->head_len = (uint32_t)n;
		t->head_hash = fnv1a64(head, (size_t)n);
	}
	return 0;
}

/* Reads t from read_off on, at most *budget bytes. Returns 1 when the budget ran out before
 * EOF, 0 at EOF, -errno on error. */
static int tail_read(struct source_file *s, struct tail *t, size_t *budget)
{
	int r;

	r = tail_check_head(s, t);
	if (r < 0)
		return r;
	while (*budget > 0) {
		size_t want = MIN((size_t)READ_CHUNK, *budget);
		ssize_t n = pread(t->fd, s->rbuf, want, (off_t)t->read_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		uint64_t base = t->read_off;
		t->read_off += (uint64_t)n;
		s->stats.bytes += (uint64_t)n;
		*budget -= (size_t)n;
		tail_feed(s, t, s->rbuf, (size_t)n, base);
		if ((size_t)n < want)
			return 0; /* short read of a regular file: EOF for now */
	}
	return 1;
}

/* Reads t to EOF, however much that is, and closes it. Only for an old file that must go
 * before its slot is reused (a second rotation within the grace period). */
static void tail_drain_close(struct source_file *s, struct tail *t)
{
	size_t budget;
	int r;

	if (t->fd < 0)
		return;
	do {
		budget = BATCH_BYTES;
		r = tail_read(s, t, &budget);
	} while (r > 0);
	tail_close(s, t);
	(void)sd_event_source_set_enabled(s->grace_source, SD_EVENT_OFF);
}

static void arm_timer(struct source_file *s, sd_event_source *src, uint64_t usec)
{
	uint64_t now;

	if (sd_event_now(s->event, CLOCK_MONOTONIC, &now) < 0)
		return;
	(void)sd_event_source_set_time(src, now + usec);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

/* One bounded round of reading: the old file to EOF first, then the current one. */
static void process(struct source_file *s)
{
	size_t budget = BATCH_BYTES;
	bool more = false;
	int r;

	if (s->old.fd >= 0) {
		r = tail_read(s, &s->old, &budget);
		if (r > 0)
			more = true;
		else if (r < 0 || s->old.expired) {
			tail_close(s, &s->old);
			(void)sd_event_source_set_enabled(s->grace_source, SD_EVENT_OFF);
		}
	}
	if (!more && s->cur.fd >= 0) {
		r = tail_read(s, &s->cur, &budget);
		if (r > 0)
			more = true;
	}
	if (more)
		(void)sd_event_source_set_enabled(s->defer_source, SD_EVENT_ONESHOT);
}

static void finish_batch(struct source_file *s, uint64_t lines_before)
{
	if (s->stats.lines != lines_before && s->on_batch)
		s->on_batch(s, s->userdata);
}

static bool tail_unlinked(const struct tail *t)
{
	struct stat st;

	return t->fd >= 0 && fstat(t->fd, &st) >= 0 && st.st_nlink == 0;
}

/* Looks at what the name points to now: a deleted file is read to EOF and closed; a new inode
 * becomes the current file (read from 0) and the previous one is kept for the grace period. */
static void check_path(struct source_file *s)
{
	struct tail t = { .fd = -1, .wd = -1 };
	struct stat st;

	if (tail_unlinked(&s->old))
		s->old.expired = true;
	if (tail_unlinked(&s->cur)) {
		tail_drain_close(s, &s->old);
		tail_swap(&s->cur, &s->old);
		s->old.expired = true;
	}

	if (stat(s->path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (s->cur.fd >= 0 && s->cur.dev == (uint64_t)st.st_dev &&
	    s->cur.ino == (uint64_t)st.st_ino)
		return;
	if (tail_open(s, &t, NULL) < 0)
		return; /* gone again, or unreadable: an IN_ATTRIB or IN_CREATE brings us back */

	if (s->cur.fd < 0) {
		t.line = s->cur.line;
		s->cur = t;
		return;
	}
	if (s->cur.dev == t.dev && s->cur.ino == t.ino) {
		tail_close(s, &t); /* the name went back to the current file meanwhile */
		return;
	}
	/* Rotation: the current file becomes the old one, read to EOF before the new one. */
	tail_drain_close(s, &s->old);
	t.line = s->old.line;
	s->old = s->cur;
	s->cur = t;
	s->stats.rotations++;
	arm_timer(s, s->grace_source, GRACE_USEC);
}

/* Watches the directory. Returns 0 or -errno. */
static int dir_watch(struct source_file *s)
{
	int wd;

	wd = inotify_add_watch(s->inotify_fd, s->dir, DIR_MASK);
	if (wd < 0)
		return -errno;
	s->dir_wd = wd;
	(void)sd_event_source_set_enabled(s->retry_source, SD_EVENT_OFF);
	return 0;
}

static int on_inotify(sd_event_source *es _unused_, int fd, uint32_t revents _unused_,
		      void *userdata)
{
	struct source_file *s = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t lines = s->stats.lines;
	bool check = false, dir_gone = false;
	ssize_t n;

	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return 0; /* EAGAIN, EINTR: the loop calls again */

	for (char *p = buf; p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;

		p += sizeof(*ev) + ev->len;
		if (ev->mask & IN_Q_OVERFLOW) {
			check = true;
		} else if (ev->wd == s->dir_wd) {
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))
				dir_gone = true;
			else if (ev->len > 0 && strcmp(ev->name, s->base) == 0)
				check = true;
		} else if (ev->wd == s->cur.wd || ev->wd == s->old.wd) {
			struct tail *t = ev->wd == s->cur.wd ? &s->cur : &s->old;

			if (ev->mask & IN_IGNORED)
				t->wd = -1;
			if (ev->mask & IN_ATTRIB)
				check = true;
		}
	}

	if (dir_gone) {
		if (s->dir_wd >= 0)
			(void)inotify_rm_watch(s->inotify_fd, s->dir_wd);
		s->dir_wd = -1;
		if (dir_watch(s) < 0)
			arm_timer(s, s->retry_source, DIR_RETRY_USEC);
		check = true;
	}
	if (check)
		check_path(s);
	process(s);
	finish_batch(s, lines);
	return 0;
}

static int on_defer(sd_event_source *es _unused_, void *userdata)
{
	struct source_file *s = userdata;
	uint64_t lines = s->stats.lines;

	process(s);
	finish_batch(s, lines);
	return 0;
}

static int on_grace(sd_event_source *es _unused_, uint64_t usec _unused_, void *userdata)
{
	struct source_file *s = userdata;
	uint64_t lines = s->stats.lines;

	s->old.expired = true;
	process(s);
	finish_batch(s, lines);
	return 0;
}

static int on_retry(sd_event_source *es _unused_, uint64_t usec _unused_, void *userdata)
{
	struct source_file *s = userdata;
	uint64_t lines = s->stats.lines;

	if (dir_watch(s) < 0) {
		arm_timer(s, s->retry_source, DIR_RETRY_USEC);
		return 0;
	}
	check_path(s);
	process(s);
	finish_batch(s, lines);
	return 0;
}

/* The loop's sources of a follower: inotify, the "more to read" defer, and the two timers,
 * all created off so that nothing runs before source_file_start(). */
static int add_event_sources(struct source_file *s)
{
	int r;

	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		return -errno;
	r = sd_event_add_io(s->event, &s->inotify_source, s->inotify_fd, EPOLLIN, on_inotify, s);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(s->inotify_source, "source-file-inotify");

	r = sd_event_add_defer(s->event, &s->defer_source, on_defer, s);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(s->defer_source, "source-file-more");
	r = sd_event_source_set_enabled(s->defer_source, SD_EVENT_OFF);
	if (r < 0)
		return r;

	r = sd_event_add_time(s->event, &s->grace_source, CLOCK_MONOTONIC, 0, 0, on_grace, s);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(s->grace_source, "source-file-grace");
	r = sd_event_source_set_enabled(s->grace_source, SD_EVENT_OFF);
	if (r < 0)
		return r;

	r = sd_event_add_time(s->event, &s->retry_source, CLOCK_MONOTONIC, 0, 0, on_retry, s);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(s->retry_source, "source-file-dir-retry");
	return sd_event_source_set_enabled(s->retry_source, SD_EVENT_OFF);
}

int source_file_new(sd_event *e, const char *path, size_t max_line, source_file_line_fn on_line,
		    source_file_batch_fn on_batch, void *userdata, struct source_file **ret)
{
	struct source_file *s;
	const char *slash;
	int r;

	if (!e || !path || !on_line || !ret || max_line == 0 || max_line > SIZE_MAX / 2)
		return -EINVAL;
	slash = strrchr(path, '/');
	if (path[0] == '\0' || (slash && slash[1] == '\0'))
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->event = sd_event_ref(e);
	s->max_line = max_line;
	s->on_line = on_line;
	s->on_batch = on_batch;
	s->userdata = userdata;
	s->inotify_fd = -1;
	s->dir_wd = -1;
	tail_init(&s->cur);
	tail_init(&s->old);

	s->path = strdup(path);
	if (slash == path)
		s->dir = strdup("/");
	else if (slash)
		s->dir = strndup(path, (size_t)(slash - path));
	else
		s->dir = strdup(".");
	s->base = strdup(slash ? slash + 1 : path);
	s->cur.line = malloc(max_line);
	s->old.line = malloc(max_line);
	if (!s->path || !s->dir || !s->base || !s->cur.line || !s->old.line) {
		source_file_free(s);
		return -ENOMEM;
	}
	r = add_event_sources(s);
	if (r < 0) {
		source_file_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int source_file_start(struct source_file *s, const struct source_file_pos *resume)
{
	int r;

	if (!s)
		return -EINVAL;
	if (s->started)
		return -EBUSY;

	r = dir_watch(s);
	if (r == -ENOENT || r == -ENOTDIR) {
		arm_timer(s, s->retry_source, DIR_RETRY_USEC);
		s->started = true;
		return 0;
	}
	if (r < 0)
		return r;

	r = tail_open(s, &s->cur, resume);
	if (r < 0 && r != -ENOENT) {
		(void)inotify_rm_watch(s->inotify_fd, s->dir_wd);
		s->dir_wd = -1;
		return r;
	}
	s->started = true;
	/* The first read happens in the loop, not inside the caller's start-up code. */
	if (s->cur.fd >= 0)
		(void)sd_event_source_set_enabled(s->defer_source, SD_EVENT_ONESHOT);
	return 0;
}

void source_file_get_pos(const struct source_file *s, struct source_file_pos *ret)
{
	const struct tail *t = &s->cur;

	if (t->fd < 0) {
		*ret = (struct source_file_pos){ 0 };
		return;
	}
	*ret = (struct source_file_pos){
		.dev = t->dev,
		.ino = t->ino,
		.offset = t->offset,
		.head_len = t->head_len,
		.head_hash = t->head_hash,
	};
}

const struct source_file_stats *source_file_get_stats(const struct source_file *s)
{
	return &s->stats;
}

const char *source_file_get_path(const struct source_file *s)
{
	return s->path;
}

int source_file_pos_format(const struct source_file_pos *p, char *buf, size_t size)
{
	int n;

	n = snprintf(buf, size, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32 " %016" PRIx64,
		     p->dev, p->ino, p->offset, p->head_len, p->head_hash);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOBUFS;
	return n;
}

/* Parses 1..max_digits digits in base 10 or 16 at *s, then the separator sep ('\0': the end).
 * Returns 0 or -EINVAL. */
static int parse_field(const char **s, unsigned base, char sep, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;

	for (; *p != sep; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	if (p == *s)
		return -EINVAL;
	*s = sep ? p + 1 : p;
	*ret = v;
	return 0;
}

int source_file_pos_parse(const char *s, struct source_file_pos *ret)
{
	uint64_t dev, ino, offset, head_len, head_hash;

	if (!s || !ret)
		return -EINVAL;
	if (parse_field(&s, 10, ' ', &dev) < 0 || parse_field(&s, 10, ' ', &ino) < 0 ||
	    parse_field(&s, 10, ' ', &offset) < 0 || parse_field(&s, 10, ' ', &head_len) < 0 ||
	    parse_field(&s, 16, '\0', &head_hash) < 0)
		return -EINVAL;
	if (head_len > HEAD_MAX)
		return -EINVAL;
	*ret = (struct source_file_pos){
		.dev = dev,
		.ino = ino,
		.offset = offset,
		.head_len = (uint32_t)head_len,
		.head_hash = head_hash,
	};
	return 0;
}

struct source_file *source_file_free(struct source_file *s)
{
	if (!s)
		return NULL;
	s->inotify_source = sd_event_source_disable_unref(s->inotify_source);
	s->defer_source = sd_event_source_disable_unref(s->defer_source);
	s->grace_source = sd_event_source_disable_unref(s->grace_source);
	s->retry_source = sd_event_source_disable_unref(s->retry_source);
	if (s->cur.fd >= 0)
		close(s->cur.fd);
	if (s->old.fd >= 0)
		close(s->old.fd);
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	free(s->cur.line);
	free(s->old.line);
	free(s->path);
	free(s->dir);
	free(s->base);
	sd_event_unref(s->event);
	free(s);
	return NULL;
}
