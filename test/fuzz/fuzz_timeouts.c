/* libFuzzer target: the tuner's state file (timeouts.c: the admin's original Courier timeouts
 * and what waveguard last wrote), as a start after a crash reads it and puts the originals
 * back, in a Courier directory of its own. Then a wave and its end on whatever was restored.
 * Oracles: a file it restores gets no execute or set-id bit; a state file it cannot read stays,
 * one it handled is gone; a wave never writes a timeout Courier would read as 0 (or garbage);
 * the end of the wave puts every file back byte for byte, and removes the state file. The first
 * byte chooses the Courier files present before the start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeouts.h"
#include "timeutil.h"
#include "tuner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64], courier[96], state[96];

static void put(const char *name, const char *text, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", courier, name);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(text, 1, len, f);
	fclose(f);
}

/* The content of a Courier file (malloc'ed; *ret_len -1: no file). */
static char *get(const char *name, ssize_t *ret_len)
{
	char path[256], *buf = malloc(TIMEOUTS_MAX_CONTENT + 1);
	snprintf(path, sizeof(path), "%s/%s", courier, name);
	FILE *f = fopen(path, "r");
	if (!buf)
		abort();
	*ret_len = f ? (ssize_t)fread(buf, 1, TIMEOUTS_MAX_CONTENT, f) : -1;
	buf[*ret_len > 0 ? *ret_len : 0] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* Empties the Courier directory; with check, first asserts that no regular file in it has an
 * execute or set-id bit. */
static void sweep(bool check)
{
	DIR *d = opendir(courier);
	struct dirent *de;
	struct stat st;

	if (!d)
		abort();
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (check && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (st.st_mode & 07111))
			__builtin_trap();
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

static void cleanup(void)
{
	sweep(false);
	unlink(state);
	rmdir(courier);
	rmdir(base);
}

static void setup(void)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(base, sizeof(base), "%s/waveguard-fuzz.XXXXXX", tmp);
	if (!mkdtemp(base))
		abort();
	snprintf(courier, sizeof(courier), "%s/courier", base);
	snprintf(state, sizeof(state), "%s/timeouts", base);
	if (mkdir(courier, 0755) < 0)
		abort();
	atexit(cleanup);
}

/* A wave on what the start left, and its end: every file back byte for byte. */
static void wave_and_back(struct timeouts *t, const struct timeouts_file *files, size_t n)
{
	char *before[2], msg[512];
	ssize_t len[2];

	for (size_t i = 0; i < n; i++)
		before[i] = get(files[i].name, &len[i]);
	if (timeouts_apply(t, TUNER_WAVE, msg, sizeof(msg)) < 0)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		ssize_t l;
		uint64_t usec;
		char *now = get(files[i].name, &l);
		if (l < 0 || timeouts_parse_value(now, &usec) < 0 || usec < USEC_PER_SEC)
			__builtin_trap();
		free(now);
	}
	if (timeouts_apply(t, TUNER_NORMAL, msg, sizeof(msg)) < 0 || access(state, F_OK) == 0)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		ssize_t l;
		char *now = get(files[i].name, &l);
		if (l != len[i] || (l > 0 && memcmp(now, before[i], (size_t)l) != 0))
			__builtin_trap();
		free(now);
		free(before[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct timeouts_file files[] = {
		{ "esmtptimeout", { 0, 60 * USEC_PER_SEC, 10 * USEC_PER_SEC } },
		{ "esmtptimeoutdata", { 0, 180 * USEC_PER_SEC, 60 * USEC_PER_SEC } },
	};
	struct timeouts *t = NULL;
	char msg[512];

	if (!base[0])
		setup();
	if (size == 0)
		return 0;
	sweep(false);
	if (data[0] & 1)
		put("esmtptimeout", "600\n", 4);
	if (data[0] & 2)
		put("esmtptimeoutdata", "5m", 2);
	if (data[0] & 4)
		put(".esmtptimeout.waveguard-Ab12Cd", "1s\n", 3);
	FILE *f = fopen(state, "w");
	if (!f)
		abort();
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	if (timeouts_new(courier, state, files, 2, 5 * USEC_PER_SEC, &t) < 0)
		abort();
	int r = timeouts_recover(t, msg, sizeof(msg));
	if (strnlen(msg, sizeof(msg)) == sizeof(msg))
		__builtin_trap();
	if ((r == 1 && access(state, F_OK) == 0) || (r == -EBADMSG && access(state, F_OK) != 0))
		__builtin_trap();
	if (r >= 0)
		wave_and_back(t, files, 2);
	timeouts_free(t);
	unlink(state);
	sweep(true);
	return 0;
}
