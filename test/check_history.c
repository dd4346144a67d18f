/* Tests for history: the header written once, exact CSV lines, O_APPEND with two writer
 * processes, rotation at the cap (also done by another writer), torn lines, reading across
 * path.1 and path with a time filter, garbage counted and skipped, foreign files refused, the
 * strict parser, the files of the version before the reaped column (rotated away whole, still
 * read), and the article's table. */
#include <inttypes.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "history.h"
#include "logline.h"
#include "macro.h"
#include "testutil.h"
#include "timeutil.h"

#define HEADER_LEN (sizeof(HISTORY_HEADER) - 1)

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* 2026-11-27T06:36:49Z */
#define T0 1795761409ULL

static struct history_row mkrow(uint64_t sec, uint32_t established, uint32_t new_bans,
				int64_t probe_ms, const char *status, const char *tuner)
{
	struct history_row r = {
		.time_usec = sec * USEC_PER_SEC,
		.established = established,
		.syn_recv = 3,
		.other = 1,
		.backlog = 0,
		.distinct = 9,
		.active_bans = 4,
		.new_bans = new_bans,
		.probe_ms = probe_ms,
	};
	snprintf(r.probe_status, sizeof(r.probe_status), "%s", status);
	snprintf(r.tuner, sizeof(r.tuner), "%s", tuner);
	return r;
}

static char *path_in(const char *dir, const char *name)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static char *slurp(const char *path)
{
	char *s = NULL;
	size_t size = 0;
	FILE *f = fopen(path, "re");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	FILE *m = open_memstream(&s, &size);
	ck_assert_ptr_nonnull(m);
	int c;
	while ((c = getc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return s;
}

static void append(struct history *h, const struct history_row *r)
{
	int k = history_append(h, r);
	ck_assert_msg(k == 0, "history_append: %s", strerror(-k));
}

static void assert_rows_equal(const struct history_row *a, const struct history_row *b)
{
	ck_assert_uint_eq(a->time_usec, b->time_usec);
	ck_assert_uint_eq(a->established, b->established);
	ck_assert_uint_eq(a->syn_recv, b->syn_recv);
	ck_assert_uint_eq(a->other, b->other);
	ck_assert_uint_eq(a->backlog, b->backlog);
	ck_assert_uint_eq(a->distinct, b->distinct);
	ck_assert_uint_eq(a->active_bans, b->active_bans);
	ck_assert_uint_eq(a->new_bans, b->new_bans);
	ck_assert_int_eq(a->probe_ms, b->probe_ms);
	ck_assert_str_eq(a->probe_status, b->probe_status);
	ck_assert_str_eq(a->tuner, b->tuner);
	ck_assert_uint_eq(a->reaped, b->reaped);
}

/* Collects rows from history_read(). */
struct rows {
	struct history_row *v;
	size_t n;
};

static int collect(const struct history_row *r, void *userdata)
{
	struct rows *rows = userdata;
	struct history_row *slot = ARRAY_GROW(rows->v, rows->n);
	if (!slot)
		return -ENOMEM;
	*slot = *r;
	return 0;
}

START_TEST(test_header_once)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "history.csv");
	struct history *h = NULL;

	ck_assert_int_eq(history_open(path, 0, &h), 0);
	h = history_free(h);
	ck_assert_ptr_null(h);
	_cleanup_free_ char *s1 = slurp(path);
	ck_assert_str_eq(s1, HISTORY_HEADER);

	ck_assert_int_eq(history_open(path, 0, &h), 0);
	struct history_row r = mkrow(T0, 12, 1, 23, "ok", "normal");
	append(h, &r);
	history_free(h);
	ck_assert_int_eq(history_open(path, 0, &h), 0);
	history_free(h);

	_cleanup_free_ char *s2 = slurp(path);
	ck_assert_str_eq(s2, HISTORY_HEADER "2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,0\n");

	/* An existing empty file gets the header too. */
	test_write(dir, "empty.csv", "w", "");
	_cleanup_free_ char *empty = path_in(dir, "empty.csv");
	ck_assert_int_eq(history_open(empty, 0, &h), 0);
	history_free(h);
	_cleanup_free_ char *s3 = slurp(empty);
	ck_assert_str_eq(s3, HISTORY_HEADER);

	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777 & ~0644u, 0); /* 0644 less the umask */
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_append_exact_lines)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "history.csv");
	struct history *h = NULL;

	ck_assert_int_eq(history_open(path, 0, &h), 0);
	struct history_row a = mkrow(T0, 12, 1, 23, "ok", "normal");
	struct history_row b = mkrow(T0 + 5, 301, 0, -1, "timeout", "wave");
	b.backlog = 57;
	b.syn_recv = 36;
	b.distinct = 136;
	b.active_bans = 4294967295u;
	b.reaped = 17;
	append(h, &a);
	append(h, &b);
	history_free(h);

	_cleanup_free_ char *s = slurp(path);
	ck_assert_str_eq(s, HISTORY_HEADER
			 "2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,0\n"
			 "2026-11-27T06:36:54Z,301,36,1,57,136,4294967295,0,,timeout,wave,17\n");
	test_rm_rf(dir);
}
END_TEST

/* Two processes appending at once: every line whole, none lost, one header. */
START_TEST(test_two_writers)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "history.csv");
	enum { N = 300 };
	pid_t pids[2];

	for (int w = 0; w < 2; w++) {
		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w] == 0) {
			struct history *h = NULL;
			if (history_open(path, 0, &h) < 0)
				_exit(1);
			for (int i = 0; i < N; i++) {
				/* writer 0 counts connections 0.., writer 1 from 100000 */
				struct history_row r =
					mkrow(T0 + (uint64_t)i, (uint32_t)(w * 100000 + i), 0, i,
					      "ok", w ? "wave" : "normal");
				if (history_append(h, &r) < 0)
					_exit(2);
			}
			history_free(h);
			_exit(0);
		}
	}
	for (int w = 0; w < 2; w++) {
		int status;
		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	struct rows rows = {};
	unsigned bad = 99;
	ck_assert_int_eq(history_read(path, 0, collect, &rows, &bad), 2 * N);
	ck_assert_uint_eq(bad, 0);
	/* Each writer's lines are whole and in its own order. */
	uint32_t next[2] = { 0, 100000 };
	for (size_t i = 0; i < rows.n; i++) {
		int w = strcmp(rows.v[i].tuner, "wave") == 0;
		ck_assert_uint_eq(rows.v[i].established, next[w]);
		ck_assert_int_eq(rows.v[i].probe_ms, (int64_t)(next[w] - (uint32_t)w * 100000));
		next[w]++;
	}
	_cleanup_free_ char *s = slurp(path);
	ck_assert_ptr_eq(strstr(s + 1, "time,"), NULL); /* one header */
	free(rows.v);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_rotation)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "history.csv");
	_cleanup_free_ char *path1 = path_in(dir, "history.csv.1");
	char line[HISTORY_LINE_MAX];
	struct history *h = NULL;

	struct history_row r[7];
	for (int i = 0; i < 7; i++)
		r[i] = mkrow(T0 + 5 * (uint64_t)i, 10 + (uint32_t)i, 0, 7, "ok", "normal");
	int len = history_format_row(&r[0], line, sizeof(line));
	ck_assert_int_gt(len, 0);

	/* Room for the header and exactly three rows (all rows have the same length). */
	ck_assert_int_eq(history_open(path, HEADER_LEN + 3 * (size_t)len, &h), 0);
	for (int i = 0; i < 3; i++)
		append(h, &r[i]);
	ck_assert_int_eq(access(path1, F_OK), -1);
	append(h, &r[3]); /* would pass the cap: rotate first */

	char expect[4096], tmp[HISTORY_LINE_MAX];
	strcpy(expect, HISTORY_HEADER);
	for (int i = 0; i < 3; i++) {
		history_format_row(&r[i], tmp, sizeof(tmp));
		strcat(expect, tmp);
	}
	_cleanup_free_ char *old = slurp(path1);
	ck_assert_str_eq(old, expect);
	history_format_row(&r[3], tmp, sizeof(tmp));
	_cleanup_free_ char *cur = slurp(path);
	ck_assert_str_eq(cur,
			 (snprintf(expect, sizeof(expect), "%s%s", HISTORY_HEADER, tmp), expect));

	/* Next rotation replaces the old .1. */
	for (int i = 4; i < 7; i++)
		append(h, &r[i]);
	history_free(h);
	_cleanup_free_ char *old2 = slurp(path1);
	ck_assert_ptr_nonnull(strstr(old2, "2026-11-27T06:37:04Z,13,"));
	ck_assert_ptr_null(strstr(old2, "2026-11-27T06:36:49Z,10,"));
	_cleanup_free_ char *cur2 = slurp(path);
	ck_assert_ptr_eq(strstr(cur2, HISTORY_HEADER), cur2);
	ck_assert_ptr_nonnull(strstr(cur2, "2026-11-27T06:37:19Z,16,"));

	/* And the reader sees everything still on disk, oldest first. */
	struct rows rows = {};
	ck_assert_int_eq(history_read(path, 0, collect, &rows, NULL), 4);
	for (size_t i = 0; i < rows.n; i++)
		assert_rows_equal(&rows.v[i], &r[3 + i]);
	free(rows.v);
	test_rm_rf(dir);
}
END_TEST

/* Another writer (or logrotate) rotated: we follow the name instead of writing into .1. */
START_TEST(test_rotation_by_other_writer)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "history.csv");
	_cleanup_free_ char *path1 = path_in(dir, "history.csv.1");
	struct history *a = NULL, *b = NULL;

	ck_assert_int_eq(history_open(path, 0, &a), 0);
	ck_assert_int_eq(history_open(path, 0, &b), 0);
	struct history_row r1 = mkrow(T0, 1, 0, 1, "ok", "normal");
	struct history_row r2 = mkrow(T0 + 5, 2, 0, 1, "ok", "normal");
	append(a, &r1);
	ck_assert_int_eq(rename(path, path1), 0);
	append(b, &r2);
	history_free(a);
	history_free(b);

	_cleanup_free_ char *cur = slurp(path);
	ck_assert_str_eq(cur, HISTORY_HEADER "2026-11-27T06:36:54Z,2,3,1,0,9,4,0,1,ok,normal,0\n");
	_cleanup_free_ char *old = slurp(path1);
	ck_assert_str_eq(old, HISTORY_HEADER "2026-11-27T06:36:49Z,1,3,1,0,9,4,0,1,ok,normal,0\n");
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_read_since_across_files)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "h.csv");
	test_write(dir, "h.csv.1", "w",
		   HISTORY_HEADER "2026-11-27T06:00:00Z,1,0,0,0,1,0,0,5,ok,normal\n"
				  "2026-11-27T06:00:05Z,2,0,0,0,1,0,0,5,ok,normal\n"
				  "2026-11-27T06:00:10Z,3,0,0,0,1,0,1,,timeout,elevated\n");
	test_write(dir, "h.csv", "w",
		   HISTORY_HEADER "2026-11-27T06:00:15Z,4,0,0,0,1,0,0,5,ok,normal\n"
				  "2026-11-27T06:00:20Z,5,0,0,0,1,0,0,5,ok,normal\n");

	struct rows rows = {};
	unsigned bad = 99;
	ck_assert_int_eq(history_read(path, 0, collect, &rows, &bad), 5);
	ck_assert_uint_eq(bad, 0);
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(rows.v[i].established, i + 1);
	ck_assert_int_eq(rows.v[2].probe_ms, -1);
	ck_assert_str_eq(rows.v[2].probe_status, "timeout");
	ck_assert_str_eq(rows.v[2].tuner, "elevated");
	free(rows.v);

	/* --since 06:00:10: the last row of .1 onwards (at or after). */
	uint64_t since;
	const char *t = "2026-11-27T06:00:10Z";
	ck_assert_uint_eq(timeutil_parse_rfc3339(t, strlen(t), &since), strlen(t));
	rows = (struct rows){};
	ck_assert_int_eq(history_read(path, since, collect, &rows, NULL), 3);
	ck_assert_uint_eq(rows.v[0].established, 3);
	ck_assert_uint_eq(rows.v[2].established, 5);
	free(rows.v);

	/* No callback: just counting. After the end: nothing. */
	ck_assert_int_eq(history_read(path, since + 6 * USEC_PER_SEC, NULL, NULL, NULL), 1);
	ck_assert_int_eq(history_read(path, since + 3600 * USEC_PER_SEC, NULL, NULL, NULL), 0);

	/* Only .1 (mid-rotation) is fine; neither file is -ENOENT. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(history_read(path, 0, NULL, NULL, NULL), 3);
	_cleanup_free_ char *none = path_in(dir, "none.csv");
	unsigned untouched = 42;
	ck_assert_int_eq(history_read(none, 0, NULL, NULL, &untouched), -ENOENT);
	ck_assert_uint_eq(untouched, 42);
	test_rm_rf(dir);
}
END_TEST

static int stop_at_two(const struct history_row *r, void *userdata)
{
	unsigned *seen = userdata;
	(void)r;
	return ++*seen == 2 ? -ECANCELED : 0;
}

START_TEST(test_read_garbage)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "h.csv");
	char longline[2000];
	memset(longline, '7', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';

	test_write(dir, "h.csv", "w",
		   HISTORY_HEADER
		   "2026-11-27T06:00:00Z,1,0,0,0,1,0,0,5,ok,normal\n"
		   "hello world\n"
		   "\n"
		   "2026-11-27T06:00:05Z,2,0,0,0,1,0,0,5,ok\n"		       /* 10 fields */
		   "2026-11-27T06:00:05Z,-2,0,0,0,1,0,0,5,ok,normal\n"	       /* sign */
		   "2026-11-27T06:00:05Z,2,0,0,0,1,0,0,5,ok,normal,x\n"	       /* 12 */
		   "2026-11-27T06:00:05Z,4294967296,0,0,0,1,0,0,5,ok,normal\n" /* range */
		   HISTORY_HEADER /* a header again (two writers at creation) */
		   "2026-11-27T06:00:10Z,3,0,0,0,1,0,0,,refused,normal\r\n");
	test_write(dir, "h.csv", "a", longline);
	test_write(dir, "h.csv", "a", "2026-11-27T06:00:15Z,4,0,0,0,1,0,0,5,ok,normal\n");
	/* NUL bytes inside a line: bad, and the next line survives. */
	FILE *f = fopen(path, "ae");
	ck_assert_ptr_nonnull(f);
	fwrite("2026\0-11\n", 1, 9, f);
	fclose(f);
	test_write(dir, "h.csv", "a", "2026-11-27T06:00:20Z,5,0,0,0,1,0,0,5,ok,normal\n");
	test_write(dir, "h.csv", "a", "2026-11-27T06:00:25Z,6,0,0,0,1,0,0,5,ok,nor"); /* torn */

	struct rows rows = {};
	unsigned bad = 0;
	ck_assert_int_eq(history_read(path, 0, collect, &rows, &bad), 4);
	ck_assert_uint_eq(bad, 9);
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_eq(rows.v[i].established, i + (i >= 1 ? 2 : 1));
	ck_assert_str_eq(rows.v[1].probe_status, "refused");
	free(rows.v);

	/* The callback can stop the read. */
	unsigned seen = 0;
	ck_assert_int_eq(history_read(path, 0, stop_at_two, &seen, NULL), -ECANCELED);
	ck_assert_uint_eq(seen, 2);
	test_rm_rf(dir);
}
END_TEST

/* A file that ends in the middle of a line (a torn write): the next row starts on its own. */
START_TEST(test_torn_tail)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "h.csv");
	struct history *h = NULL;

	test_write(dir, "h.csv", "w", HISTORY_HEADER "2026-11-27T06:00:00Z,1,0,0");
	ck_assert_int_eq(history_open(path, 0, &h), 0);
	struct history_row r = mkrow(T0, 12, 1, 23, "ok", "normal");
	append(h, &r);
	append(h, &r);
	history_free(h);
	_cleanup_free_ char *s = slurp(path);
	ck_assert_str_eq(s, HISTORY_HEADER "2026-11-27T06:00:00Z,1,0,0\n"
					   "2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,0\n"
					   "2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,0\n");
	unsigned bad = 0;
	ck_assert_int_eq(history_read(path, 0, NULL, NULL, &bad), 2);
	ck_assert_uint_eq(bad, 1);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_foreign_file_refused)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	static const char *foreign[] = {
		"time,connections\n2026-11-27T06:00:00Z,4\n",
		"root:x:0:0:root:/root:/bin/bash\n",
		"time,established\n", /* shorter than our header */
		"TIME,ESTABLISHED,SYN_RECV,OTHER,BACKLOG,DISTINCT,ACTIVE_BANS,NEW_BANS,PROBE_MS,"
		"PROBE_STATUS,TUNER\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(foreign); i++) {
		test_write(dir, "f.csv", "w", foreign[i]);
		_cleanup_free_ char *path = path_in(dir, "f.csv");
		struct history *h = (struct history *)0x1;
		ck_assert_int_eq(history_open(path, 0, &h), -EINVAL);
		ck_assert_ptr_eq(h, (struct history *)0x1);
		_cleanup_free_ char *s = slurp(path);
		ck_assert_str_eq(s, foreign[i]); /* untouched */
	}
	/* A directory is not a history file either. */
	struct history *h = NULL;
	ck_assert_int_lt(history_open(dir, 0, &h), 0);
	ck_assert_ptr_null(h);

	/* A symlink planted where the history goes is not followed, whether its target exists
	 * (it stays untouched) or not (it is not created); nor is a FIFO opened (or waited on). */
	test_write(dir, "victim", "w", "precious\n");
	_cleanup_free_ char *victim = path_in(dir, "victim"), *link = path_in(dir, "link.csv"),
			    *dangling = path_in(dir, "dangling.csv"), *gone = path_in(dir, "gone"),
			    *fifo = path_in(dir, "fifo.csv");
	ck_assert_int_eq(symlink(victim, link), 0);
	ck_assert_int_eq(history_open(link, 0, &h), -ELOOP);
	_cleanup_free_ char *s = slurp(victim);
	ck_assert_str_eq(s, "precious\n");
	ck_assert_int_eq(symlink(gone, dangling), 0);
	ck_assert_int_eq(history_open(dangling, 0, &h), -ELOOP);
	ck_assert_int_eq(access(gone, F_OK), -1);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_lt(history_open(fifo, 0, &h), 0);
	ck_assert_ptr_null(h);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_format_parse)
{
	struct history_row rows[] = {
		mkrow(T0, 12, 1, 23, "ok", "normal"),
		mkrow(T0 + 1, 0, 0, -1, "timeout", "wave"),
		mkrow(0, 4294967295u, 4294967295u, 0, "refused", "elevated"),
		mkrow(253402300799ULL, 7, 0, 999999, "proto-error.2", "x_y"),
	};
	rows[2].syn_recv = rows[2].other = rows[2].backlog = 4294967295u;
	rows[2].distinct = rows[2].active_bans = rows[2].reaped = 4294967295u;
	rows[1].reaped = 7;
	char buf[HISTORY_LINE_MAX];

	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		struct history_row back;
		int len = history_format_row(&rows[i], buf, sizeof(buf));
		ck_assert_int_gt(len, 0);
		ck_assert_uint_eq((size_t)len, strlen(buf));
		ck_assert_int_eq(buf[len - 1], '\n');
		ck_assert_int_eq(history_parse_row(buf, (size_t)len, &back), 0);
		assert_rows_equal(&back, &rows[i]);
		/* Without the newline too. */
		ck_assert_int_eq(history_parse_row(buf, (size_t)len - 1, &back), 0);
		assert_rows_equal(&back, &rows[i]);
	}
	ck_assert_int_eq(
		history_format_row(&rows[2], buf, sizeof(buf)),
		(int)strlen("1970-01-01T00:00:00Z,4294967295,4294967295,4294967295,"
			    "4294967295,4294967295,4294967295,4294967295,0,refused,elevated,"
			    "4294967295\n"));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z,4294967295,4294967295,4294967295,"
			      "4294967295,4294967295,4294967295,4294967295,0,refused,elevated,"
			      "4294967295\n");

	/* Sub-second times are cut to the second, offsets normalised to UTC. */
	struct history_row p;
	const char *l = "2026-11-27T07:36:49.75+01:00,1,2,3,4,5,6,7,8,ok,normal";
	ck_assert_int_eq(history_parse_row(l, strlen(l), &p), 0);
	ck_assert_uint_eq(p.time_usec, T0 * USEC_PER_SEC + 750000);
	ck_assert_uint_eq(p.reaped, 0); /* a line of the version before the reaped column */
	ck_assert_int_eq(history_format_row(&p, buf, sizeof(buf)),
			 (int)strlen("2026-11-27T06:36:49Z,1,2,3,4,5,6,7,8,ok,normal,0\n"));
	ck_assert_str_eq(buf, "2026-11-27T06:36:49Z,1,2,3,4,5,6,7,8,ok,normal,0\n");
	l = "2026-11-27T06:36:49Z,1,2,3,4,5,6,7,8,ok,wave,12";
	ck_assert_int_eq(history_parse_row(l, strlen(l), &p), 0);
	ck_assert_uint_eq(p.reaped, 12);

	/* Rows that cannot be CSV. */
	struct history_row bad = rows[0];
	strcpy(bad.probe_status, "a,b");
	ck_assert_int_eq(history_format_row(&bad, buf, sizeof(buf)), -EINVAL);
	bad = rows[0];
	bad.tuner[0] = '\0';
	ck_assert_int_eq(history_format_row(&bad, buf, sizeof(buf)), -EINVAL);
	bad = rows[0];
	memset(bad.tuner, 'x', sizeof(bad.tuner)); /* unterminated */
	ck_assert_int_eq(history_format_row(&bad, buf, sizeof(buf)), -EINVAL);
	bad = rows[0];
	bad.probe_ms = -2;
	ck_assert_int_eq(history_format_row(&bad, buf, sizeof(buf)), -EINVAL);
	bad = rows[0];
	bad.time_usec = (253402300799ULL + 1) * USEC_PER_SEC;
	ck_assert_int_eq(history_format_row(&bad, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(history_format_row(&rows[0], buf, 20), -ENOBUFS);

	/* The strict parser. */
	static const char *garbage[] = {
		"",
		"\n",
		HISTORY_HEADER,
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,,normal",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,-1,ok,normal",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,2x,ok,normal",
		"2026-11-27T06:36:49Z,+12,3,1,0,9,4,1,23,ok,normal",
		"2026-11-27T06:36:49Z, 12,3,1,0,9,4,1,23,ok,normal",
		"2026-11-27T06:36:49Z,12 ,3,1,0,9,4,1,23,ok,normal",
		"2026-11-27T06:36:49Z,,3,1,0,9,4,1,23,ok,normal",
		"2026-11-27T06:36:49Z,4294967296,3,1,0,9,4,1,23,ok,normal",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,o k,normal",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,\"normal\"",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,abcdefghijklmnop",
		"2026-11-27T06:36:49,12,3,1,0,9,4,1,23,ok,normal",
		"2026-11-27T06:36:49Zx,12,3,1,0,9,4,1,23,ok,normal",
		"2026-13-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal",
		"Mon Jul 27 19:12:17 CEST 2009     4",
		"2026-11-27T06:36:49Z;12;3;1;0;9;4;1;23;ok;normal",
		HISTORY_HEADER_V1,
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,0,0",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,-1",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,x",
		"2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,normal,4294967296",
	};
	for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
		struct history_row out = rows[3];
		ck_assert_msg(history_parse_row(garbage[i], strlen(garbage[i]), &out) == -EINVAL,
			      "accepted: %s", garbage[i]);
		assert_rows_equal(&out, &rows[3]); /* untouched */
	}
	/* A 15-character word is the longest. */
	const char *w15 = "2026-11-27T06:36:49Z,12,3,1,0,9,4,1,23,ok,abcdefghijklmno";
	ck_assert_int_eq(history_parse_row(w15, strlen(w15), &p), 0);
	ck_assert_str_eq(p.tuner, "abcdefghijklmno");
}
END_TEST

/* A file of the version before the reaped column: rotated to .1 whole at the first open (never
 * a file that mixes the two), and still read, its rows with reaped 0. */
START_TEST(test_old_version_file)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_free_ char *path = path_in(dir, "h.csv"), *path1 = path_in(dir, "h.csv.1");
	static const char old[] =
		HISTORY_HEADER_V1 "2026-11-27T06:00:00Z,1,0,0,0,1,0,0,5,ok,normal\n"
				  "2026-11-27T06:00:05Z,2,0,0,0,1,0,1,,timeout,wave\n";
	struct history *h = NULL;

	test_write(dir, "h.csv.1", "w", "an older .1, replaced as at any rotation\n");
	test_write(dir, "h.csv", "w", old);
	ck_assert_int_eq(history_open(path, 0, &h), 0);
	struct history_row r = mkrow(T0, 30, 0, 12, "ok", "wave");
	r.reaped = 3;
	append(h, &r);
	history_free(h);
	_cleanup_free_ char *s1 = slurp(path1), *s = slurp(path);
	ck_assert_str_eq(s1, old);
	ck_assert_str_eq(s, HISTORY_HEADER "2026-11-27T06:36:49Z,30,3,1,0,9,4,0,12,ok,wave,3\n");

	struct rows rows = {};
	unsigned bad = 99;
	ck_assert_int_eq(history_read(path, 0, collect, &rows, &bad), 3);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(rows.v[0].established, 1);
	ck_assert_uint_eq(rows.v[0].reaped, 0);
	ck_assert_str_eq(rows.v[1].tuner, "wave");
	ck_assert_int_eq(rows.v[1].probe_ms, -1);
	assert_rows_equal(&rows.v[2], &r);
	free(rows.v);

	/* An old file with only its header: rotated too, and read as no rows. */
	test_write(dir, "h.csv", "w", HISTORY_HEADER_V1);
	ck_assert_int_eq(history_open(path, 0, &h), 0);
	history_free(h);
	_cleanup_free_ char *s2 = slurp(path);
	ck_assert_str_eq(s2, HISTORY_HEADER);
	ck_assert_int_eq(history_read(path, 0, NULL, NULL, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_print_table)
{
	_cleanup_free_ char *fixture = NULL;
	ck_assert_int_ge(asprintf(&fixture, "%s/test/fixtures/history/wave.csv", test_srcdir()), 0);
	struct rows rows = {};
	unsigned bad = 99;
	ck_assert_int_gt(history_read(fixture, 0, collect, &rows, &bad), 3);
	ck_assert_uint_eq(bad, 0);

	char *s = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&s, &size);
	ck_assert_ptr_nonnull(m);
	set_tz("UTC");
	ck_assert_int_eq(history_print_table(m, rows.v, 3, 0), 0);
	fflush(m);
	ck_assert_str_eq(s, "Mon Jul 27 17:12:17 UTC 2009     4\n"
			    "Mon Jul 27 17:12:22 UTC 2009     5\n"
			    "Mon Jul 27 17:12:27 UTC 2009     5\n");
	fclose(m);
	free(s);

	/* The article's own lines, in its time zone (a POSIX TZ rule: no tzdata needed); the last
	 * two rows of the rise, then the last of all. */
	m = open_memstream(&s, &size);
	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	ck_assert_int_eq(history_print_table(m, rows.v, 65, 2), 0);
	ck_assert_int_eq(history_print_table(m, rows.v, rows.n, 1), 0);
	ck_assert_int_eq(history_print_table(m, rows.v, 2, 5), 0); /* last > n: all */
	ck_assert_int_eq(history_print_table(m, rows.v, 0, 0), 0);
	fflush(m);
	ck_assert_str_eq(s, "Mon Jul 27 19:17:35 CEST 2009   301\n"
			    "Mon Jul 27 19:17:40 CEST 2009   301\n"
			    "Mon Jul 27 19:21:10 CEST 2009     6\n"
			    "Mon Jul 27 19:12:17 CEST 2009     4\n"
			    "Mon Jul 27 19:12:22 CEST 2009     5\n");
	fclose(m);
	free(s);
	set_tz("UTC");
	free(rows.v);
}
END_TEST

static Suite *history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_header_once);
	tcase_add_test(tc, test_append_exact_lines);
	tcase_add_test(tc, test_two_writers);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_rotation_by_other_writer);
	tcase_add_test(tc, test_read_since_across_files);
	tcase_add_test(tc, test_read_garbage);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_foreign_file_refused);
	tcase_add_test(tc, test_format_parse);
	tcase_add_test(tc, test_old_version_file);
	tcase_add_test(tc, test_print_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	set_tz("UTC");
	return test_run_suite(history_suite());
}
