/* Tests for source_file: a real sd_event loop follows files in a temporary directory while the
 * tests append, rotate, truncate, delete and replace them; assertions are on the lines
 * delivered, the stats and the position. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

#include "macro.h"
#include "source_file.h"
#include "testutil.h"
#include "timeutil.h"

#define MAX_LINE 4096

struct line {
	char *p;
	size_t len;
};

struct fx {
	char *dir;
	char path[4200];
	sd_event *e;
	struct source_file *s;
	struct line *lines;
	size_t n, cap;
	unsigned batches;
	int nfds; /* open descriptors before the test: none may leak */
};

static void on_line(const char *line, size_t len, void *userdata)
{
	struct fx *f = userdata;

	ck_assert_uint_le(len, MAX_LINE);
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->lines = realloc(f->lines, f->cap * sizeof(*f->lines));
		ck_assert_ptr_nonnull(f->lines);
	}
	f->lines[f->n].p = malloc(len + 1);
	ck_assert_ptr_nonnull(f->lines[f->n].p);
	memcpy(f->lines[f->n].p, line, len);
	f->lines[f->n].p[len] = '\0';
	f->lines[f->n].len = len;
	f->n++;
}

static void on_batch(struct source_file *s, void *userdata)
{
	struct fx *f = userdata;

	ck_assert_ptr_eq(s, f->s);
	f->batches++;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void fx_init(struct fx *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->nfds = count_fds();
	f->dir = test_mkdtemp();
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	ck_assert_int_ge(sd_event_new(&f->e), 0);
}

static void fx_follow(struct fx *f, const struct source_file_pos *resume)
{
	ck_assert_int_eq(source_file_new(f->e, f->path, MAX_LINE, on_line, on_batch, f, &f->s), 0);
	ck_assert_int_eq(source_file_start(f->s, resume), 0);
}

static void fx_clear_lines(struct fx *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->lines[i].p);
	f->n = 0;
}

static void fx_done(struct fx *f)
{
	f->s = source_file_free(f->s);
	fx_clear_lines(f);
	free(f->lines);
	sd_event_unref(f->e);
	ck_assert_int_eq(count_fds(), f->nfds);
	test_rm_rf(f->dir);
	free(f->dir);
}

static const struct source_file_stats *stats(struct fx *f)
{
	return source_file_get_stats(f->s);
}

/* Runs the loop until at least n lines arrived (or the deadline passes), then settles and checks
 * that exactly n arrived. */
static void wait_lines(struct fx *f, size_t n, unsigned timeout_sec)
{
	uint64_t deadline = timeutil_now(CLOCK_MONOTONIC) + timeout_sec * 1000000ULL;

	while (f->n < n) {
		ck_assert_msg(timeutil_now(CLOCK_MONOTONIC) < deadline,
			      "timed out: %zu of %zu lines", f->n, n);
		ck_assert_int_ge(sd_event_run(f->e, 50 * 1000), 0);
	}
	test_settle(f->e);
	ck_assert_uint_eq(f->n, n);
}

static void expect_line(struct fx *f, size_t i, const char *want)
{
	ck_assert_uint_lt(i, f->n);
	ck_assert_uint_eq(f->lines[i].len, strlen(want));
	ck_assert_str_eq(f->lines[i].p, want);
}

static void expect_lines(struct fx *f, const char *const *want, size_t n)
{
	ck_assert_uint_eq(f->n, n);
	for (size_t i = 0; i < n; i++)
		expect_line(f, i, want[i]);
}

static void write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Appends len bytes to path (created when missing) with one open and as few writes as the
 * kernel allows. */
static void append(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	write_all(fd, data, len);
	ck_assert_int_eq(close(fd), 0);
}

static void append_str(const char *path, const char *s)
{
	append(path, s, strlen(s));
}

static int open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void fd_write_str(int fd, const char *s)
{
	write_all(fd, s, strlen(s));
}

static uint64_t inode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (uint64_t)st.st_ino;
}

/* True when this process has a descriptor open on path (or on path after its deletion). */
static bool fd_open_on(const char *path)
{
	char deleted[4300], link[4300], name[300];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(deleted, sizeof(deleted), "%s (deleted)", path);
	d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while (!found && (de = readdir(d))) {
		ssize_t n;

		snprintf(name, sizeof(name), "/proc/self/fd/%s", de->d_name);
		n = readlink(name, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, path) == 0 || strcmp(link, deleted) == 0;
	}
	closedir(d);
	return found;
}

/* Field by field: the struct has padding. */
static void expect_pos_eq(const struct source_file_pos *a, const struct source_file_pos *b)
{
	ck_assert_uint_eq(a->dev, b->dev);
	ck_assert_uint_eq(a->ino, b->ino);
	ck_assert_uint_eq(a->offset, b->offset);
	ck_assert_uint_eq(a->head_len, b->head_len);
	ck_assert_uint_eq(a->head_hash, b->head_hash);
}

START_TEST(test_append)
{
	static const char *const want[] = { "one", "two", "three", "four" };
	struct source_file_pos pos;
	struct fx f;

	fx_init(&f, "mail.log");
	append_str(f.path, "one\ntwo\n");
	fx_follow(&f, NULL);
	ck_assert_str_eq(source_file_get_path(f.s), f.path);
	wait_lines(&f, 2, 10);
	ck_assert_uint_ge(f.batches, 1);

	append_str(f.path, "three\n");
	append_str(f.path, "four\n");
	wait_lines(&f, 4, 10);
	expect_lines(&f, want, 4);

	ck_assert_uint_eq(stats(&f)->lines, 4);
	ck_assert_uint_eq(stats(&f)->bytes, 19);
	ck_assert_uint_eq(stats(&f)->rotations, 0);
	ck_assert_uint_eq(stats(&f)->truncations, 0);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.ino, inode_of(f.path));
	ck_assert_uint_eq(pos.offset, 19);
	ck_assert_uint_eq(pos.head_len, 19);
	fx_done(&f);
}
END_TEST

START_TEST(test_partial_line)
{
	static const char *const want[] = { "abcdefghi", "xyz" };
	struct source_file_pos pos;
	struct fx f;

	fx_init(&f, "mail.log");
	append_str(f.path, "");
	fx_follow(&f, NULL);
	test_settle(f.e);

	append_str(f.path, "abc");
	test_settle(f.e);
	append_str(f.path, "def");
	test_settle(f.e);
	/* One byte per write, each one dispatched on its own. */
	for (const char *p = "ghi"; *p; p++) {
		append(f.path, p, 1);
		test_settle(f.e);
	}
	ck_assert_uint_eq(f.n, 0);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.offset, 0);

	append_str(f.path, "\nxy");
	wait_lines(&f, 1, 10);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.offset, 10);

	append_str(f.path, "z\n");
	wait_lines(&f, 2, 10);
	expect_lines(&f, want, 2);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.offset, 14);
	fx_done(&f);
}
END_TEST

START_TEST(test_many_lines_bounded)
{
	const size_t nlines = 150000; /* 14 bytes each: 2.1 MB */
	size_t size = nlines * 14, batches;
	char *data = malloc(size + 1);
	struct fx f;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < nlines; i++)
		snprintf(data + i * 14, 15, "line %08zu\n", i);

	fx_init(&f, "mail.log");
	append_str(f.path, "");
	fx_follow(&f, NULL);
	test_settle(f.e);
	append(f.path, data, size);

	/* One dispatch reads one bounded batch, not the whole backlog. */
	ck_assert_int_gt(sd_event_run(f.e, 5 * 1000000), 0);
	ck_assert_uint_gt(f.n, 0);
	ck_assert_uint_lt(f.n, nlines / 4);
	ck_assert_uint_eq(f.batches, 1);

	wait_lines(&f, nlines, 30);
	for (size_t i = 0; i < nlines; i++) {
		ck_assert_uint_eq(f.lines[i].len, 13);
		ck_assert_mem_eq(f.lines[i].p, data + i * 14, 13);
	}
	batches = f.batches;
	ck_assert_uint_ge(batches, size / (256 * 1024));
	ck_assert_uint_eq(stats(&f)->lines, nlines);
	ck_assert_uint_eq(stats(&f)->bytes, size);
	free(data);
	fx_done(&f);
}
END_TEST

START_TEST(test_many_lines_at_start)
{
	const size_t nlines = 150000;
	size_t size = nlines * 14;
	char *data = malloc(size + 1);
	struct fx f;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < nlines; i++)
		snprintf(data + i * 14, 15, "line %08zu\n", i);
	fx_init(&f, "mail.log");
	append(f.path, data, size);
	fx_follow(&f, NULL);
	wait_lines(&f, nlines, 30);
	for (size_t i = 0; i < nlines; i++)
		ck_assert_mem_eq(f.lines[i].p, data + i * 14, 13);
	ck_assert_uint_gt(f.batches, 1);
	free(data);
	fx_done(&f);
}
END_TEST

START_TEST(test_rotation)
{
	static const char *const want[] = { "a1", "a2", "a3", "a4", "b1", "a5 split", "b2" };
	char rotated[4300];
	struct source_file_pos pos;
	struct fx f;
	int wfd;

	fx_init(&f, "mail.log");
	snprintf(rotated, sizeof(rotated), "%s.1", f.path);
	append_str(f.path, "a1\na2\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 2, 10);

	/* The writer keeps its descriptor across the rename, as rsyslog does until SIGHUP. */
	wfd = open_append(f.path);
	ck_assert_int_eq(rename(f.path, rotated), 0);
	fd_write_str(wfd, "a3\n");
	wait_lines(&f, 3, 10);
	ck_assert_uint_eq(stats(&f)->rotations, 0);

	append_str(f.path, "b1\n");
	fd_write_str(wfd, "a4\n"); /* queued before the loop notices the new file */
	wait_lines(&f, 5, 10);
	ck_assert_uint_eq(stats(&f)->rotations, 1);

	/* Still within the grace period: the old file is followed, partial lines included. */
	fd_write_str(wfd, "a5 ");
	test_settle(f.e);
	fd_write_str(wfd, "split\n");
	wait_lines(&f, 6, 10);
	append_str(f.path, "b2\n");
	wait_lines(&f, 7, 10);
	expect_lines(&f, want, 7);

	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.ino, inode_of(f.path));
	ck_assert_uint_eq(pos.offset, 6);
	ck_assert_uint_eq(pos.head_len, 6);
	ck_assert_uint_eq(stats(&f)->rotations, 1);
	ck_assert_uint_eq(stats(&f)->truncations, 0);
	close(wfd);
	fx_done(&f);
}
END_TEST

START_TEST(test_rotation_unnoticed)
{
	/* Rename, late writes to the old file, create and first writes to the new one all happen
	 * before the loop runs: the old file is still read to its end first. */
	static const char *const want[] = { "a1", "a2", "a3", "a4", "b1", "b2" };
	char rotated[4300];
	struct fx f;
	int wfd;

	fx_init(&f, "mail.log");
	snprintf(rotated, sizeof(rotated), "%s.1", f.path);
	append_str(f.path, "a1\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 1, 10);

	wfd = open_append(f.path);
	fd_write_str(wfd, "a2\n");
	ck_assert_int_eq(rename(f.path, rotated), 0);
	fd_write_str(wfd, "a3\n");
	append_str(f.path, "b1\n");
	fd_write_str(wfd, "a4\n");
	append_str(f.path, "b2\n");
	wait_lines(&f, 6, 10);
	expect_lines(&f, want, 6);
	ck_assert_uint_eq(stats(&f)->rotations, 1);
	close(wfd);
	fx_done(&f);
}
END_TEST

START_TEST(test_rotation_grace_expires)
{
	char rotated[4300];
	uint64_t deadline;
	struct fx f;
	int wfd;

	fx_init(&f, "mail.log");
	snprintf(rotated, sizeof(rotated), "%s.1", f.path);
	append_str(f.path, "a1\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 1, 10);
	wfd = open_append(f.path);
	ck_assert_int_eq(rename(f.path, rotated), 0);
	append_str(f.path, "b1\n");
	wait_lines(&f, 2, 10);
	fd_write_str(wfd, "a2\n");
	close(wfd);
	wait_lines(&f, 3, 10);
	ck_assert(fd_open_on(rotated));

	/* The old file is closed once the grace period (10 s) has passed. */
	deadline = timeutil_now(CLOCK_MONOTONIC) + 30 * 1000000ULL;
	while (fd_open_on(rotated)) {
		ck_assert_msg(timeutil_now(CLOCK_MONOTONIC) < deadline,
			      "old file still open after rotation");
		ck_assert_int_ge(sd_event_run(f.e, 200 * 1000), 0);
	}
	ck_assert(fd_open_on(f.path));
	append_str(f.path, "b2\n");
	wait_lines(&f, 4, 10);
	expect_line(&f, 3, "b2");
	fx_done(&f);
}
END_TEST

START_TEST(test_second_rotation_within_grace)
{
	static const char *const want[] = { "a1", "b1", "a2", "c1", "b2" };
	char rot1[4300], rot2[4300];
	struct fx f;
	int wa, wb;

	fx_init(&f, "mail.log");
	snprintf(rot1, sizeof(rot1), "%s.1", f.path);
	snprintf(rot2, sizeof(rot2), "%s.2", f.path);
	append_str(f.path, "a1\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 1, 10);
	wa = open_append(f.path);
	ck_assert_int_eq(rename(f.path, rot1), 0);
	append_str(f.path, "b1\n");
	wait_lines(&f, 2, 10);
	wb = open_append(f.path);

	/* Second rotation before the first grace period ends: the first old file is read to its
	 * end and closed, the second one takes its place. */
	fd_write_str(wa, "a2\n");
	close(wa);
	ck_assert_int_eq(rename(rot1, rot2), 0);
	ck_assert_int_eq(rename(f.path, rot1), 0);
	append_str(f.path, "c1\n");
	wait_lines(&f, 4, 10);
	ck_assert(!fd_open_on(rot2));
	fd_write_str(wb, "b2\n");
	wait_lines(&f, 5, 10);
	expect_lines(&f, want, 5);
	ck_assert_uint_eq(stats(&f)->rotations, 2);
	close(wb);
	fx_done(&f);
}
END_TEST

START_TEST(test_copytruncate)
{
	static const char *const want[] = { "x1", "x2", "x3", "y1", "y2" };
	struct source_file_pos pos;
	struct fx f;
	int wfd;

	fx_init(&f, "mail.log");
	append_str(f.path, "x1\nx2\nx3\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 3, 10);

	wfd = open_append(f.path);
	ck_assert_int_eq(truncate(f.path, 0), 0);
	test_settle(f.e);
	ck_assert_uint_eq(stats(&f)->truncations, 1);
	fd_write_str(wfd, "y1\n");
	wait_lines(&f, 4, 10);

	/* A held partial line is dropped with the truncation. */
	fd_write_str(wfd, "partial");
	test_settle(f.e);
	ck_assert_int_eq(ftruncate(wfd, 0), 0);
	fd_write_str(wfd, "y2\n");
	wait_lines(&f, 5, 10);
	expect_lines(&f, want, 5);
	ck_assert_uint_eq(stats(&f)->truncations, 2);
	ck_assert_uint_eq(stats(&f)->rotations, 0);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.offset, 3);
	ck_assert_uint_eq(pos.head_len, 3);
	close(wfd);
	fx_done(&f);
}
END_TEST

START_TEST(test_truncate_and_regrow)
{
	/* Truncated and rewritten past our offset before the loop looked: the changed head gives
	 * it away. */
	static const char *const want[] = { "x1", "x2", "new line 1", "new line 2" };
	struct fx f;

	fx_init(&f, "mail.log");
	append_str(f.path, "x1\nx2\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 2, 10);
	ck_assert_int_eq(truncate(f.path, 0), 0);
	append_str(f.path, "new line 1\nnew line 2\n");
	wait_lines(&f, 4, 10);
	expect_lines(&f, want, 4);
	ck_assert_uint_eq(stats(&f)->truncations, 1);
	fx_done(&f);
}
END_TEST

START_TEST(test_missing_then_created_deleted_recreated)
{
	static const char *const want[] = { "c1", "c2", "d1" };
	struct source_file_pos pos;
	struct fx f;

	fx_init(&f, "mail.log");
	fx_follow(&f, NULL);
	test_settle(f.e);
	ck_assert_uint_eq(f.n, 0);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.ino, 0);
	ck_assert_uint_eq(pos.offset, 0);

	test_write(f.dir, "other.log", "w", "not ours\n");
	test_write(f.dir, "mail.log", "w", "c1\nc2\n");
	wait_lines(&f, 2, 10);

	/* Deleted: the descriptor is let go, and the name is waited for again. */
	ck_assert_int_eq(unlink(f.path), 0);
	test_settle(f.e);
	ck_assert(!fd_open_on(f.path));
	test_write(f.dir, "mail.log", "w", "d1\n");
	wait_lines(&f, 3, 10);
	expect_lines(&f, want, 3);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.ino, inode_of(f.path));
	ck_assert_uint_eq(pos.offset, 3);
	fx_done(&f);
}
END_TEST

START_TEST(test_missing_directory)
{
	static const char *const want[] = { "m1" };
	char sub[4100];
	struct fx f;

	fx_init(&f, "x");
	snprintf(sub, sizeof(sub), "%s/sub", f.dir);
	snprintf(f.path, sizeof(f.path), "%s/mail.log", sub);
	fx_follow(&f, NULL);
	test_settle(f.e);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	append_str(f.path, "m1\n");
	wait_lines(&f, 1, 20); /* the directory is retried every 5 s */
	expect_lines(&f, want, 1);
	fx_done(&f);
}
END_TEST

START_TEST(test_directory_removed_and_recreated)
{
	static const char *const want[] = { "s1", "s2", "t1" };
	char sub[4100];
	struct fx f;

	fx_init(&f, "x");
	snprintf(sub, sizeof(sub), "%s/sub", f.dir);
	snprintf(f.path, sizeof(f.path), "%s/mail.log", sub);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	append_str(f.path, "s1\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 1, 10);
	append_str(f.path, "s2\n");
	test_rm_rf(sub);
	wait_lines(&f, 2, 10); /* written before the removal: still read */
	ck_assert(!fd_open_on(f.path));

	ck_assert_int_eq(mkdir(sub, 0755), 0);
	append_str(f.path, "t1\n");
	wait_lines(&f, 3, 20); /* the directory is retried every 5 s */
	expect_lines(&f, want, 3);
	ck_assert_uint_eq(stats(&f)->rotations, 0);
	fx_done(&f);
}
END_TEST

START_TEST(test_resume)
{
	static const char *const want[] = { "r4 partial then done", "r5" };
	struct source_file_pos pos, parsed;
	char text[128], longline[400];
	struct fx f;

	fx_init(&f, "mail.log");
	append_str(f.path, "r1\nr2\nr3\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 3, 10);
	append_str(f.path, "r4 partial");
	test_settle(f.e);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.offset, 9);
	ck_assert_uint_eq(pos.head_len, 19); /* the short head grew with the file */
	ck_assert_int_gt(source_file_pos_format(&pos, text, sizeof(text)), 0);
	f.s = source_file_free(f.s);
	fx_clear_lines(&f);

	/* While down: the line is completed, another one and a long one (head past 256) added. */
	append_str(f.path, " then done\nr5\n");
	memset(longline, 'L', sizeof(longline) - 1);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	append_str(f.path, longline);

	ck_assert_int_eq(source_file_pos_parse(text, &parsed), 0);
	expect_pos_eq(&parsed, &pos);
	fx_follow(&f, &parsed);
	wait_lines(&f, 3, 10);
	expect_line(&f, 0, want[0]);
	expect_line(&f, 1, want[1]);
	ck_assert_uint_eq(f.lines[2].len, sizeof(longline) - 2);
	source_file_get_pos(f.s, &pos);
	ck_assert_uint_eq(pos.offset, 9 + 24 + sizeof(longline) - 1);
	ck_assert_uint_eq(pos.head_len, 256);
	ck_assert_uint_eq(stats(&f)->lines, 3);

	/* And once more, now with a full 256-byte head. */
	f.s = source_file_free(f.s);
	fx_clear_lines(&f);
	append_str(f.path, "r6\n");
	fx_follow(&f, &pos);
	wait_lines(&f, 1, 10);
	expect_line(&f, 0, "r6");
	fx_done(&f);
}
END_TEST

START_TEST(test_resume_mismatch)
{
	static const char *const want[] = { "n1", "n2" };
	struct source_file_pos pos, bad;
	char tmp[4300];
	struct fx f;

	fx_init(&f, "mail.log");
	snprintf(tmp, sizeof(tmp), "%s.tmp", f.path);
	append_str(f.path, "o1\no2\no3\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 3, 10);
	source_file_get_pos(f.s, &pos);
	f.s = source_file_free(f.s);
	fx_clear_lines(&f);

	/* Replaced by another file (other inode): read from 0. */
	append_str(tmp, "n1\nn2\n");
	ck_assert_int_eq(rename(tmp, f.path), 0);
	fx_follow(&f, &pos);
	wait_lines(&f, 2, 10);
	expect_lines(&f, want, 2);
	source_file_get_pos(f.s, &pos);
	f.s = source_file_free(f.s);
	fx_clear_lines(&f);

	/* Same inode rewritten with another head (and longer than before): read from 0. */
	ck_assert_int_eq(truncate(f.path, 0), 0);
	append_str(f.path, "z1\nz2\nz3\n");
	fx_follow(&f, &pos);
	wait_lines(&f, 3, 10);
	expect_line(&f, 0, "z1");
	ck_assert_uint_eq(stats(&f)->truncations, 0);
	source_file_get_pos(f.s, &pos);
	f.s = source_file_free(f.s);
	fx_clear_lines(&f);

	/* Same inode, same head, but shorter than the offset: read from 0. */
	bad = pos;
	bad.offset = 1000;
	fx_follow(&f, &bad);
	wait_lines(&f, 3, 10);
	f.s = source_file_free(f.s);
	fx_clear_lines(&f);

	/* Same inode and size, wrong hash: read from 0. */
	bad = pos;
	bad.head_hash ^= 1;
	fx_follow(&f, &bad);
	wait_lines(&f, 3, 10);
	f.s = source_file_free(f.s);
	fx_clear_lines(&f);

	/* The matching position itself: nothing to read. */
	fx_follow(&f, &pos);
	test_settle(f.e);
	ck_assert_uint_eq(f.n, 0);
	fx_done(&f);
}
END_TEST

static void append_repeat(const char *path, char c, size_t n)
{
	char *buf = malloc(n);

	ck_assert_ptr_nonnull(buf);
	memset(buf, c, n);
	append(path, buf, n);
	free(buf);
}

START_TEST(test_huge_line)
{
	struct fx f;

	fx_init(&f, "mail.log");
	append_str(f.path, "short1\n");
	fx_follow(&f, NULL);
	wait_lines(&f, 1, 10);

	/* 1 MB without a newline, in pieces, each dispatched on its own. */
	for (int i = 0; i < 16; i++) {
		append_repeat(f.path, 'x', 64 * 1024);
		test_settle(f.e);
	}
	ck_assert_uint_eq(f.n, 1);
	append_str(f.path, "\nnormal\n");
	wait_lines(&f, 2, 10);
	expect_line(&f, 1, "normal");
	ck_assert_uint_eq(stats(&f)->too_long, 1);

	/* A huge line with its newline in one write. */
	append_repeat(f.path, 'h', 1024 * 1024);
	append_str(f.path, "\nafter huge\n");
	wait_lines(&f, 3, 10);
	expect_line(&f, 2, "after huge");
	ck_assert_uint_eq(stats(&f)->too_long, 2);

	/* Exactly max_line is delivered; max_line + 1, grown from a held partial line, is not. */
	append_repeat(f.path, 'y', MAX_LINE);
	test_settle(f.e);
	append_str(f.path, "\n");
	wait_lines(&f, 4, 10);
	ck_assert_uint_eq(f.lines[3].len, MAX_LINE);
	ck_assert_int_eq(f.lines[3].p[MAX_LINE - 1], 'y');
	append_repeat(f.path, 'z', MAX_LINE - 3);
	test_settle(f.e);
	append_repeat(f.path, 'z', 4);
	test_settle(f.e);
	append_str(f.path, "zz\nlast\n");
	wait_lines(&f, 5, 10);
	expect_line(&f, 4, "last");
	ck_assert_uint_eq(stats(&f)->too_long, 3);
	ck_assert_uint_eq(stats(&f)->lines, 5);
	/* Nothing of the long lines came through, not even a prefix. */
	expect_line(&f, 0, "short1");
	expect_line(&f, 1, "normal");
	expect_line(&f, 2, "after huge");
	fx_done(&f);
}
END_TEST

START_TEST(test_binary_garbage)
{
	static const char data[] = "a\0b\n\xff\xfe\x00\x01\n\xc3\x28 bad utf-8\n\0\n\nend\n";
	static const struct {
		const char *p;
		size_t len;
	} want[] = {
		{ "a\0b", 3 },
		{ "\xff\xfe\x00\x01", 4 },
		{ "\xc3\x28 bad utf-8", 12 },
		{ "\0", 1 },
		{ "", 0 },
		{ "end", 3 },
	};
	struct fx f;

	fx_init(&f, "mail.log");
	fx_follow(&f, NULL);
	append(f.path, data, sizeof(data) - 1);
	wait_lines(&f, ELEMENTSOF(want), 10);
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		ck_assert_uint_eq(f.lines[i].len, want[i].len);
		ck_assert_mem_eq(f.lines[i].p, want[i].p, want[i].len);
	}
	fx_done(&f);
}
END_TEST

START_TEST(test_pos_format_parse)
{
	static const char *const bad[] = {
		"",
		"1 2 3 4",
		"1 2 3 4 ",
		"1 2 3 4 5x",
		"1 2 3 4 5 ",
		"1 2 3 4 5\n",
		" 1 2 3 4 5",
		"1  2 3 4 5",
		"1\t2 3 4 5",
		"-1 2 3 4 5",
		"+1 2 3 4 5",
		"1 2 3 257 5",
		"1 2 a 4 5",
		"1 2 3 4 zz",
		"1 2 3 4 0x5",
		"18446744073709551616 2 3 4 5",
		"1 2 3 99999999999999999999 5",
		"1 2 3 4 10000000000000000",
		"1 2 3 4 5 6",
	};
	struct source_file_pos p = {
		.dev = 66306,
		.ino = 1234567,
		.offset = 987654321,
		.head_len = 256,
		.head_hash = 0xab01cd02ef03ULL,
	};
	struct source_file_pos q, max = { UINT64_MAX, UINT64_MAX, UINT64_MAX, 256, UINT64_MAX };
	char buf[128];

	ck_assert_int_eq(source_file_pos_format(&p, buf, sizeof(buf)), 44);
	ck_assert_str_eq(buf, "66306 1234567 987654321 256 0000ab01cd02ef03");
	ck_assert_int_eq(source_file_pos_parse(buf, &q), 0);
	expect_pos_eq(&p, &q);

	ck_assert_int_gt(source_file_pos_format(&max, buf, sizeof(buf)), 0);
	ck_assert_int_eq(source_file_pos_parse(buf, &q), 0);
	expect_pos_eq(&max, &q);
	ck_assert_int_eq(source_file_pos_parse("0 0 0 0 0", &q), 0);
	ck_assert_uint_eq(q.head_hash, 0);
	ck_assert_int_eq(source_file_pos_parse("1 2 3 4 ABCDEF", &q), 0);
	ck_assert_uint_eq(q.head_hash, 0xabcdef);

	ck_assert_int_eq(source_file_pos_format(&p, buf, 10), -ENOBUFS);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		q = p;
		ck_assert_msg(source_file_pos_parse(bad[i], &q) == -EINVAL, "accepted \"%s\"",
			      bad[i]);
		expect_pos_eq(&p, &q);
	}
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct source_file *s = NULL;
	struct fx f;

	fx_init(&f, "mail.log");
	ck_assert_int_eq(source_file_new(f.e, f.path, 0, on_line, NULL, &f, &s), -EINVAL);
	ck_assert_int_eq(source_file_new(f.e, f.path, 100, NULL, NULL, &f, &s), -EINVAL);
	ck_assert_int_eq(source_file_new(f.e, "/tmp/", 100, on_line, NULL, &f, &s), -EINVAL);
	ck_assert_int_eq(source_file_new(f.e, "", 100, on_line, NULL, &f, &s), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_ptr_null(source_file_free(NULL));

	/* A directory where the file should be. */
	ck_assert_int_eq(source_file_new(f.e, f.dir, 100, on_line, NULL, &f, &s), 0);
	ck_assert_int_eq(source_file_start(s, NULL), -EISDIR);
	s = source_file_free(s);

	fx_follow(&f, NULL);
	ck_assert_int_eq(source_file_start(f.s, NULL), -EBUSY);
	fx_done(&f);
}
END_TEST

static Suite *source_file_suite(void)
{
	Suite *s = suite_create("source_file");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_partial_line);
	tcase_add_test(tc, test_many_lines_bounded);
	tcase_add_test(tc, test_many_lines_at_start);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_rotation_unnoticed);
	tcase_add_test(tc, test_rotation_grace_expires);
	tcase_add_test(tc, test_second_rotation_within_grace);
	tcase_add_test(tc, test_copytruncate);
	tcase_add_test(tc, test_truncate_and_regrow);
	tcase_add_test(tc, test_missing_then_created_deleted_recreated);
	tcase_add_test(tc, test_missing_directory);
	tcase_add_test(tc, test_directory_removed_and_recreated);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_resume_mismatch);
	tcase_add_test(tc, test_huge_line);
	tcase_add_test(tc, test_binary_garbage);
	tcase_add_test(tc, test_pos_format_parse);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(source_file_suite());
}
