/* timeouts: Courier's timeout files in a temporary "Courier directory": content per level, byte
 * exact restores, no file, the floor, a reader that never sees a bad file, crash recovery, admin
 * edits, owner and mode, and the time syntax. */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "testutil.h"
#include "timeouts.h"
#include "tuner.h"

#define S (1000000ULL)

struct env {
	char *dir;   /* the fake /etc/courier */
	char *state; /* the state file (in its own directory) */
	char *statedir;
};

static void env_init(struct env *e)
{
	e->dir = test_mkdtemp();
	e->statedir = test_mkdtemp();
	ck_assert_int_ge(asprintf(&e->state, "%s/timeouts", e->statedir), 0);
}

static void env_done(struct env *e)
{
	test_rm_rf(e->dir);
	test_rm_rf(e->statedir);
	free(e->dir);
	free(e->statedir);
	free(e->state);
}

/* esmtptimeout: elevated 60 s, wave 10 s; esmtptimeoutdata: elevated 180 s, wave 60 s. */
static const struct timeouts_file files[] = {
	{ "esmtptimeout", { 0, 60 * S, 10 * S } },
	{ "esmtptimeoutdata", { 0, 180 * S, 60 * S } },
};

static struct timeouts *mk(const struct env *e)
{
	struct timeouts *t = NULL;
	ck_assert_int_eq(timeouts_new(e->dir, e->state, files, ELEMENTSOF(files), 10 * S, &t), 0);
	return t;
}

/* The content of dir/name, or NULL when there is no such file. */
static char *slurp(const char *dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "re");
	if (!f) {
		ck_assert_int_eq(errno, ENOENT);
		return NULL;
	}
	char *buf = calloc(1, 8192);
	ck_assert_ptr_nonnull(buf);
	size_t n = fread(buf, 1, 8191, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_content(const char *dir, const char *name, const char *want)
{
	_cleanup_free_ char *got = slurp(dir, name);
	if (!want)
		ck_assert_msg(got == NULL, "%s exists (\"%s\"), expected no file", name, got);
	else {
		ck_assert_msg(got != NULL, "%s missing, expected \"%s\"", name, want);
		ck_assert_str_eq(got, want);
	}
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void apply_ok(struct timeouts *t, int level, int want)
{
	char msg[512];
	int r = timeouts_apply(t, level, msg, sizeof(msg));
	ck_assert_msg(r == want, "apply %d: %d (%s), want %d", level, r, msg, want);
	ck_assert_int_eq(timeouts_level(t), level);
}

START_TEST(test_parse_value)
{
	static const struct {
		const char *s;
		int r;
		uint64_t secs;
	} table[] = {
		{ "90", 0, 90 },
		{ "90s", 0, 90 },
		{ "90S", 0, 90 },
		{ "90 s", 0, 90 },
		{ "2m", 0, 120 },
		{ "1h 30m", 0, 5400 },
		{ "1h30m", 0, 5400 },
		{ "1H 30M 15", 0, 5415 },
		{ "2m30", 0, 150 }, /* as Courier: a trailing bare number is seconds */
		{ "1d", 0, 86400 },
		{ "1w", 0, 604800 },
		{ "600\n", 0, 600 },
		{ "  600  \n", 0, 600 },
		{ "10m\r\n", 0, 600 },
		{ "10m\n0\n", 0, 600 }, /* Courier reads the first line only */
		{ "", -EINVAL, 0 },
		{ "\n", -EINVAL, 0 },
		{ "   ", -EINVAL, 0 },
		{ "0", -EINVAL, 0 },
		{ "0s", -EINVAL, 0 },
		{ "0m 0s", -EINVAL, 0 },
		{ "abc", -EINVAL, 0 },
		{ "30x", -EINVAL, 0 },
		{ "30 40", -EINVAL, 0 }, /* Courier: 0 */
		{ "-5", -EINVAL, 0 },
		{ "m", -EINVAL, 0 },
		{ "1h abc", -EINVAL, 0 },
		{ "\n600", -EINVAL, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "600w", -ERANGE, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		uint64_t v = 12345;
		int r = timeouts_parse_value(table[i].s, &v);
		ck_assert_msg(r == table[i].r, "\"%s\": %d, want %d", table[i].s, r, table[i].r);
		if (r == 0)
			ck_assert_uint_eq(v, table[i].secs * S);
		else
			ck_assert_uint_eq(v, 12345);
	}
	ck_assert_int_eq(timeouts_parse_value(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_new_invalid)
{
	struct timeouts *t = NULL;
	struct timeouts_file bad[] = { { "esmtptimeout", { 0, S, S } },
				       { "esmtptimeout", { 0, S, S } } };
	ck_assert_int_eq(timeouts_new("/x", "/y", files, 0, 10 * S, &t), -EINVAL);
	ck_assert_int_eq(timeouts_new("/x", "/y", files, 2, 0, &t), -EINVAL); /* no floor */
	ck_assert_int_eq(timeouts_new("/x", "/y", files, 2, S / 2, &t), -EINVAL);
	ck_assert_int_eq(timeouts_new("/x", "/y", bad, 2, 10 * S, &t), -EINVAL); /* duplicate */
	bad[1].name = "../passwd";
	ck_assert_int_eq(timeouts_new("/x", "/y", bad, 2, 10 * S, &t), -EINVAL);
	bad[1].name = ".hidden";
	ck_assert_int_eq(timeouts_new("/x", "/y", bad, 2, 10 * S, &t), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_ptr_null(timeouts_free(NULL));
	ck_assert_int_eq(timeouts_new("/x", "/y", files, 2, 10 * S, &t), 0);
	ck_assert_int_eq(timeouts_apply(t, 3, NULL, 0), -EINVAL);
	ck_assert_int_eq(timeouts_apply(t, -1, NULL, 0), -EINVAL);
	timeouts_free(t);
}
END_TEST

START_TEST(test_levels)
{
	struct env e;
	env_init(&e);
	struct timeouts *t = mk(&e);
	char msg[512];

	test_write(e.dir, "esmtptimeout", "w", "600\n");
	/* esmtptimeoutdata: no file (Debian ships none) */
	ck_assert_int_eq(timeouts_apply(t, TUNER_NORMAL, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "nothing to restore");
	ck_assert(!exists(e.state));

	ck_assert_int_eq(timeouts_apply(t, TUNER_ELEVATED, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "esmtptimeout 600s -> 60s, esmtptimeoutdata (no file) -> 180s");
	assert_content(e.dir, "esmtptimeout", "60s\n");
	assert_content(e.dir, "esmtptimeoutdata", "180s\n");
	ck_assert(exists(e.state));

	ck_assert_int_eq(timeouts_apply(t, TUNER_WAVE, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "esmtptimeout 60s -> 10s, esmtptimeoutdata 180s -> 60s");
	assert_content(e.dir, "esmtptimeout", "10s\n");
	assert_content(e.dir, "esmtptimeoutdata", "60s\n");

	/* the same level again changes nothing */
	ck_assert_int_eq(timeouts_apply(t, TUNER_WAVE, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "esmtptimeout 10s (unchanged), esmtptimeoutdata 60s (unchanged)");

	ck_assert_int_eq(timeouts_apply(t, TUNER_ELEVATED, msg, sizeof(msg)), 0);
	assert_content(e.dir, "esmtptimeout", "60s\n");
	assert_content(e.dir, "esmtptimeoutdata", "180s\n");
	ck_assert_int_eq(timeouts_check(t, msg, sizeof(msg)), 0);

	ck_assert_int_eq(timeouts_apply(t, TUNER_NORMAL, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "esmtptimeout 60s -> 600s, esmtptimeoutdata 180s -> (no file)");
	assert_content(e.dir, "esmtptimeout", "600\n");
	assert_content(e.dir, "esmtptimeoutdata", NULL);
	ck_assert(!exists(e.state));
	ck_assert_int_eq(timeouts_level(t), TUNER_NORMAL);
	ck_assert_int_eq(timeouts_check(t, msg, sizeof(msg)), 0);

	/* no temp files left behind */
	_cleanup_free_ char *cmd = NULL;
	ck_assert_int_ge(
		asprintf(&cmd, "test -z \"$(ls -A '%s' | grep -v '^esmtptimeout$')\"", e.dir), 0);
	ck_assert_int_eq(system(cmd), 0);
	timeouts_free(t);
	env_done(&e);
}
END_TEST

START_TEST(test_restore_byte_exact)
{
	static const char *const originals[] = { "10m",		 "600\n",     "1h 30m\n\n",
						 "  90 s  \r\n", "garbage\n", "" };
	for (size_t i = 0; i < ELEMENTSOF(originals); i++) {
		struct env e;
		env_init(&e);
		struct timeouts *t = mk(&e);
		test_write(e.dir, "esmtptimeout", "w", originals[i]);
		test_write(e.dir, "esmtptimeoutdata", "w", "5m");
		apply_ok(t, TUNER_WAVE, 0);
		assert_content(e.dir, "esmtptimeout", "10s\n");
		apply_ok(t, TUNER_ELEVATED, 0);
		apply_ok(t, TUNER_NORMAL, 0);
		assert_content(e.dir, "esmtptimeout", originals[i]);
		assert_content(e.dir, "esmtptimeoutdata", "5m");
		timeouts_free(t);
		env_done(&e);
	}
}
END_TEST

START_TEST(test_floor)
{
	struct env e;
	env_init(&e);
	const struct timeouts_file fl[] = {
		{ "esmtptimeout", { 0, 3 * S, 0 } },		  /* below the floor, 0 */
		{ "esmtptimeoutdata", { 0, 12 * S + 1, 7 * S } }, /* rounded up to a second */
	};
	struct timeouts *t = NULL;
	ck_assert_int_eq(timeouts_new(e.dir, e.state, fl, 2, 10 * S, &t), 0);
	apply_ok(t, TUNER_ELEVATED, 0);
	assert_content(e.dir, "esmtptimeout", "10s\n");
	assert_content(e.dir, "esmtptimeoutdata", "13s\n");
	apply_ok(t, TUNER_WAVE, 0);
	assert_content(e.dir, "esmtptimeout", "10s\n");
	assert_content(e.dir, "esmtptimeoutdata", "10s\n");
	apply_ok(t, TUNER_NORMAL, 0);
	assert_content(e.dir, "esmtptimeout", NULL);
	assert_content(e.dir, "esmtptimeoutdata", NULL);
	timeouts_free(t);

	/* a floor of one second still never writes 0 */
	ck_assert_int_eq(timeouts_new(e.dir, e.state, fl, 2, S, &t), 0);
	apply_ok(t, TUNER_WAVE, 0);
	assert_content(e.dir, "esmtptimeout", "1s\n");
	apply_ok(t, TUNER_NORMAL, 0);
	timeouts_free(t);
	env_done(&e);
}
END_TEST

/* Tuning only ever shortens: an admin's 40 s stays 40 s where the level says 60 s. */
START_TEST(test_never_longer)
{
	struct env e;
	env_init(&e);
	const struct timeouts_file fl[] = {
		{ "esmtptimeout", { 0, 60 * S, 10 * S } },
	};
	struct timeouts *t = NULL;
	test_write(e.dir, "esmtptimeout", "w", "40\n");
	ck_assert_int_eq(timeouts_new(e.dir, e.state, fl, 1, 10 * S, &t), 0);
	apply_ok(t, TUNER_ELEVATED, 0);
	assert_content(e.dir, "esmtptimeout", "40s\n");
	apply_ok(t, TUNER_WAVE, 0);
	assert_content(e.dir, "esmtptimeout", "10s\n");
	apply_ok(t, TUNER_NORMAL, 0);
	assert_content(e.dir, "esmtptimeout", "40\n");
	timeouts_free(t);
	env_done(&e);
}
END_TEST

struct hammer_result {
	unsigned long reads, absent, bad;
	char first_bad[128];
};

/* A child reads dir/esmtptimeout in a tight loop while the parent changes levels 100 times:
 * every read must be a complete valid value, or no file when the original was no file. */
static void hammer(const char *original)
{
	struct env e;
	env_init(&e);
	if (original)
		test_write(e.dir, "esmtptimeout", "w", original);
	struct timeouts *t = mk(&e);
	char path[4200];
	snprintf(path, sizeof(path), "%s/esmtptimeout", e.dir);

	int stop[2], res[2];
	ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(res, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct hammer_result hr = {};
		close(stop[1]);
		close(res[0]);
		for (;;) {
			char buf[64];
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				if (errno == ENOENT && !original)
					hr.absent++;
				else if (hr.bad++ == 0)
					snprintf(hr.first_bad, sizeof(hr.first_bad), "open: %s",
						 strerror(errno));
			} else {
				ssize_t n = read(fd, buf, sizeof(buf) - 1);
				close(fd);
				buf[n > 0 ? n : 0] = '\0';
				bool ok = strcmp(buf, "60s\n") == 0 || strcmp(buf, "10s\n") == 0 ||
					  (original && strcmp(buf, original) == 0);
				if (!ok && hr.bad++ == 0)
					snprintf(hr.first_bad, sizeof(hr.first_bad), "\"%s\"", buf);
			}
			if (++hr.reads == 1 && write(res[1], "r", 1) != 1)
				_exit(2);
			struct pollfd p = { .fd = stop[0], .events = POLLIN };
			if (poll(&p, 1, 0) > 0)
				break;
		}
		if (write(res[1], &hr, sizeof(hr)) != sizeof(hr))
			_exit(2);
		_exit(0);
	}
	close(stop[0]);
	close(res[1]);
	char c;
	ck_assert_int_eq(read(res[0], &c, 1), 1); /* the reader runs */

	static const int cycle[] = { TUNER_ELEVATED, TUNER_WAVE, TUNER_ELEVATED,
				     TUNER_NORMAL,   TUNER_WAVE, TUNER_NORMAL };
	for (int i = 0; i < 100; i++) {
		char msg[256];
		int r = timeouts_apply(t, cycle[i % ELEMENTSOF(cycle)], msg, sizeof(msg));
		ck_assert_msg(r == 0, "apply: %d %s", r, msg);
	}
	close(stop[1]);
	struct hammer_result hr;
	ck_assert_int_eq(read(res[0], &hr, sizeof(hr)), sizeof(hr));
	close(res[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_msg(hr.bad == 0, "%lu bad reads of %lu, first: %s", hr.bad, hr.reads,
		      hr.first_bad);
	ck_assert_uint_gt(hr.reads, 100);
	if (original)
		ck_assert_uint_eq(hr.absent, 0);
	assert_content(e.dir, "esmtptimeout", original);
	timeouts_free(t);
	env_done(&e);
}

START_TEST(test_reader_never_sees_bad_file)
{
	hammer("600\n");
}
END_TEST

START_TEST(test_reader_no_file_original)
{
	hammer(NULL);
}
END_TEST

START_TEST(test_crash_recovery)
{
	struct env e;
	env_init(&e);
	char msg[512];
	test_write(e.dir, "esmtptimeout", "w", "10m");
	struct timeouts *t = mk(&e);

	/* nothing to recover on a clean start */
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), 0);

	apply_ok(t, TUNER_ELEVATED, 0);
	apply_ok(t, TUNER_WAVE, 0);
	/* SIGKILL: no restore, and a temp file from an interrupted write */
	timeouts_free(t);
	test_write(e.dir, ".esmtptimeout.waveguard-AbC123", "w", "");
	test_write(e.dir, "unrelated.waveguard-AbC123", "w", "keep");

	t = mk(&e);
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "restoring the originals after an unclean stop at level wave: "
			      "esmtptimeout 10s -> 600s, esmtptimeoutdata 60s -> (no file)");
	assert_content(e.dir, "esmtptimeout", "10m");
	assert_content(e.dir, "esmtptimeoutdata", NULL);
	assert_content(e.dir, ".esmtptimeout.waveguard-AbC123", NULL);
	assert_content(e.dir, "unrelated.waveguard-AbC123", "keep");
	ck_assert(!exists(e.state));
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), 0);

	/* a crash, then a tuned apply without recover first: the originals are not lost */
	apply_ok(t, TUNER_WAVE, 0);
	timeouts_free(t);
	t = mk(&e);
	apply_ok(t, TUNER_ELEVATED, 0);
	assert_content(e.dir, "esmtptimeout", "60s\n");
	apply_ok(t, TUNER_NORMAL, 0);
	assert_content(e.dir, "esmtptimeout", "10m");
	assert_content(e.dir, "esmtptimeoutdata", NULL);

	/* recover refuses to run on a tuned object */
	apply_ok(t, TUNER_WAVE, 0);
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), -EBUSY);
	apply_ok(t, TUNER_NORMAL, 0);
	timeouts_free(t);
	env_done(&e);
}
END_TEST

/* A crash in the middle of a level change (state written, files not yet): recovery still knows
 * both what was there and what was about to be written. The state file is written by hand. */
START_TEST(test_crash_mid_change)
{
	struct env e;
	env_init(&e);
	char msg[512];
	/* "600\n" original, "10s\n" about to be written, "60s\n" (elevated) still on disk;
	 * esmtptimeoutdata: no file originally, still no file (the first change never got there) */
	test_write(e.dir, "esmtptimeout", "w", "60s\n");
	test_write(e.statedir, "timeouts", "w",
		   "waveguard-timeouts 1\nlevel wave\n"
		   "file esmtptimeout x3630300a 0 0 0644 x3130730a x3630730a\n"
		   "file esmtptimeoutdata - 0 0 0000 x3630730a -\n");
	struct timeouts *t = mk(&e);
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), 1);
	assert_content(e.dir, "esmtptimeout", "600\n");
	assert_content(e.dir, "esmtptimeoutdata", NULL);
	ck_assert(!exists(e.state));

	/* the admin changed a file while waveguard was down: the admin's content stays */
	test_write(e.dir, "esmtptimeout", "w", "45\n");
	test_write(e.statedir, "timeouts", "w",
		   "waveguard-timeouts 1\nlevel wave\n"
		   "file esmtptimeout x3630300a 0 0 0644 x3130730a *\n");
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "restoring the originals after an unclean stop at level wave: "
			      "esmtptimeout 45s kept (changed by the admin)");
	assert_content(e.dir, "esmtptimeout", "45\n");

	/* a planted state line asks for a setuid, executable file of another owner: restored as
	 * plain data (no set-id or execute bit), owned like Courier's directory */
	test_write(e.dir, "esmtptimeout", "w", "10s\n");
	test_write(e.statedir, "timeouts", "w",
		   "waveguard-timeouts 1\nlevel wave\n"
		   "file esmtptimeout x3630300a 12345 12345 4755 x3130730a *\n");
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), 1);
	assert_content(e.dir, "esmtptimeout", "600\n");
	{
		struct stat fst, dst;
		char p[4200];
		snprintf(p, sizeof(p), "%s/esmtptimeout", e.dir);
		ck_assert_int_eq(stat(p, &fst), 0);
		ck_assert_int_eq(stat(e.dir, &dst), 0);
		ck_assert_uint_eq(fst.st_mode & 07777, 0644);
		ck_assert_uint_eq(fst.st_uid, dst.st_uid);
		ck_assert_uint_eq(fst.st_gid, dst.st_gid);
	}
	test_write(e.dir, "esmtptimeout", "w", "45\n");

	/* a damaged state file is reported and left for the admin */
	test_write(e.statedir, "timeouts", "w", "waveguard-timeouts 1\nlevel wave\nfile x zz\n");
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), -EBADMSG);
	ck_assert(exists(e.state));
	ck_assert_int_eq(timeouts_apply(t, TUNER_WAVE, msg, sizeof(msg)), -EBADMSG);
	assert_content(e.dir, "esmtptimeout", "45\n");
	timeouts_free(t);
	env_done(&e);
}
END_TEST

START_TEST(test_admin_edit_check)
{
	struct env e;
	env_init(&e);
	char msg[512];
	test_write(e.dir, "esmtptimeout", "w", "600\n");
	struct timeouts *t = mk(&e);
	apply_ok(t, TUNER_WAVE, 0);
	ck_assert_int_eq(timeouts_check(t, msg, sizeof(msg)), 0);

	/* the admin writes behind waveguard's back */
	test_write(e.dir, "esmtptimeout", "w", "45\n");
	ck_assert_int_eq(timeouts_check(t, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "esmtptimeout changed by the admin from 10s to 45s: adopted as the "
			      "original, left alone until the next level change");
	ck_assert_int_eq(timeouts_check(t, msg, sizeof(msg)), 0);
	/* re-applying the same level is no level change: still left alone */
	apply_ok(t, TUNER_WAVE, 0);
	assert_content(e.dir, "esmtptimeout", "45\n");
	assert_content(e.dir, "esmtptimeoutdata", "60s\n");

	/* the adoption survives a crash: recovery keeps the admin's value */
	timeouts_free(t);
	t = mk(&e);
	ck_assert_int_eq(timeouts_recover(t, msg, sizeof(msg)), 1);
	assert_content(e.dir, "esmtptimeout", "45\n");
	assert_content(e.dir, "esmtptimeoutdata", NULL);

	/* and normal restores the admin's value, not the old original */
	apply_ok(t, TUNER_WAVE, 0);
	test_write(e.dir, "esmtptimeout", "w", "2m");
	ck_assert_int_eq(timeouts_check(t, msg, sizeof(msg)), 1);
	apply_ok(t, TUNER_NORMAL, 0);
	assert_content(e.dir, "esmtptimeout", "2m");
	assert_content(e.dir, "esmtptimeoutdata", NULL);
	timeouts_free(t);
	env_done(&e);
}
END_TEST

START_TEST(test_admin_edit_at_level_change)
{
	struct env e;
	env_init(&e);
	char msg[512];
	test_write(e.dir, "esmtptimeout", "w", "600\n");
	struct timeouts *t = mk(&e);
	apply_ok(t, TUNER_WAVE, 0);

	/* an edit seen first by a level change: adopted, not written at this change */
	test_write(e.dir, "esmtptimeout", "w", "99\n");
	ck_assert_int_eq(timeouts_apply(t, TUNER_ELEVATED, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "esmtptimeout 99s kept (adopted: changed by the admin), "
			      "esmtptimeoutdata 60s -> 180s");
	assert_content(e.dir, "esmtptimeout", "99\n");
	/* the next level change writes it again, and normal brings back the admin's */
	apply_ok(t, TUNER_WAVE, 0);
	assert_content(e.dir, "esmtptimeout", "10s\n");
	apply_ok(t, TUNER_NORMAL, 0);
	assert_content(e.dir, "esmtptimeout", "99\n");
	assert_content(e.dir, "esmtptimeoutdata", NULL);

	/* the admin removes a file during a wave: "no file" is the new original */
	apply_ok(t, TUNER_WAVE, 0);
	char path[4200];
	snprintf(path, sizeof(path), "%s/esmtptimeout", e.dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(timeouts_check(t, msg, sizeof(msg)), 1);
	/* the admin creates the data file during the wave, seen only at normal */
	test_write(e.dir, "esmtptimeoutdata", "w", "7m\n");
	ck_assert_int_eq(timeouts_apply(t, TUNER_NORMAL, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "esmtptimeout (no file) (unchanged), "
			      "esmtptimeoutdata 420s kept (adopted: changed by the admin)");
	assert_content(e.dir, "esmtptimeout", NULL);
	assert_content(e.dir, "esmtptimeoutdata", "7m\n");
	ck_assert(!exists(e.state));
	timeouts_free(t);
	env_done(&e);
}
END_TEST

static void assert_owner(const char *dir, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, uid);
	ck_assert_uint_eq(st.st_gid, gid);
	ck_assert_uint_eq(st.st_mode & 07777, mode);
}

START_TEST(test_owner_mode)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_owner_mode: not root, skipped\n");
		return;
	}
	struct env e;
	env_init(&e);
	char path[4200];
	test_write(e.dir, "esmtptimeout", "w", "600\n");
	snprintf(path, sizeof(path), "%s/esmtptimeout", e.dir);
	ck_assert_int_eq(chown(path, 1234, 5678), 0);
	ck_assert_int_eq(chmod(path, 0640), 0);
	/* no esmtptimeoutdata: created like esmtpd (the other Courier files) */
	test_write(e.dir, "esmtpd", "w", "MAXDAEMONS=40\n");
	snprintf(path, sizeof(path), "%s/esmtpd", e.dir);
	ck_assert_int_eq(chown(path, 4321, 8765), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);

	const struct timeouts_file one[] = { { "esmtptimeoutdata", { 0, 180 * S, 60 * S } } };
	struct timeouts *t = NULL;
	ck_assert_int_eq(timeouts_new(e.dir, e.state, one, 1, 10 * S, &t), 0);
	apply_ok(t, TUNER_WAVE, 0);
	assert_owner(e.dir, "esmtptimeoutdata", 1234, 5678, 0640); /* the sibling esmtptimeout */
	apply_ok(t, TUNER_NORMAL, 0);
	timeouts_free(t);
	assert_content(e.dir, "esmtptimeoutdata", NULL);

	t = mk(&e);
	apply_ok(t, TUNER_ELEVATED, 0);
	assert_owner(e.dir, "esmtptimeout", 1234, 5678, 0640);
	assert_owner(e.dir, "esmtptimeoutdata", 1234, 5678, 0640);
	apply_ok(t, TUNER_WAVE, 0);
	assert_owner(e.dir, "esmtptimeout", 1234, 5678, 0640);
	/* the admin's original comes back with its owner and mode even if the tuned file's
	 * were changed in between */
	snprintf(path, sizeof(path), "%s/esmtptimeout", e.dir);
	ck_assert_int_eq(chown(path, 0, 0), 0);
	ck_assert_int_eq(chmod(path, 0600), 0);
	apply_ok(t, TUNER_NORMAL, 0);
	assert_content(e.dir, "esmtptimeout", "600\n");
	assert_owner(e.dir, "esmtptimeout", 1234, 5678, 0640);
	timeouts_free(t);

	/* with esmtpd the only Courier file, it gives owner and mode */
	ck_assert_int_eq(unlink(path), 0);
	t = mk(&e);
	apply_ok(t, TUNER_WAVE, 0);
	assert_owner(e.dir, "esmtptimeout", 4321, 8765, 0644);
	assert_owner(e.dir, "esmtptimeoutdata", 4321, 8765, 0644);
	apply_ok(t, TUNER_NORMAL, 0);
	assert_content(e.dir, "esmtptimeout", NULL);
	timeouts_free(t);
	env_done(&e);
}
END_TEST

START_TEST(test_refuses_symlink)
{
	struct env e;
	env_init(&e);
	char path[4200];
	test_write(e.dir, "real", "w", "600\n");
	snprintf(path, sizeof(path), "%s/esmtptimeout", e.dir);
	ck_assert_int_eq(symlink("real", path), 0);
	struct timeouts *t = mk(&e);
	char msg[256];
	ck_assert_int_eq(timeouts_apply(t, TUNER_WAVE, msg, sizeof(msg)), -ELOOP);
	ck_assert_int_eq(timeouts_level(t), TUNER_NORMAL);
	ck_assert(!exists(e.state));
	assert_content(e.dir, "real", "600\n");
	timeouts_free(t);
	env_done(&e);
}
END_TEST

static Suite *timeouts_suite(void)
{
	Suite *s = suite_create("timeouts");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_parse_value);
	tcase_add_test(tc, test_new_invalid);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_restore_byte_exact);
	tcase_add_test(tc, test_floor);
	tcase_add_test(tc, test_never_longer);
	tcase_add_test(tc, test_reader_never_sees_bad_file);
	tcase_add_test(tc, test_reader_no_file_original);
	tcase_add_test(tc, test_crash_recovery);
	tcase_add_test(tc, test_crash_mid_change);
	tcase_add_test(tc, test_admin_edit_check);
	tcase_add_test(tc, test_admin_edit_at_level_change);
	tcase_add_test(tc, test_owner_mode);
	tcase_add_test(tc, test_refuses_symlink);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(timeouts_suite());
}
