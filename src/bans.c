/* The ban table: a dense array of records with an address index, and its append-only file.
 * File lines: "B since until offence jail network host" (a ban) and "L until network" (lifted
 * early). Replaying the lines in order rebuilds the table; compaction writes one B line per
 * record through state_write_atomic(). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrindex.h"
#include "bans.h"
#include "state.h"

#define MAX_LINE 512 /* a ban line is at most about 200 bytes */

struct bans {
	char *path;
	int fd;
	uint64_t memory_usec;
	struct ban *v;
	size_t n, cap;
	struct addrindex index;
	size_t lines; /* lines in the file since the last compaction */
	size_t max;   /* 0: no cap */
	uint64_t evicted;
};

static const struct addr *ban_key(uint32_t pos, const void *ctx)
{
	const struct bans *b = ctx;
	return &b->v[pos].addr;
}

static int grow(struct bans *b)
{
	if (b->n < b->cap)
		return 0;
	size_t cap = b->cap ? b->cap * 2 : 1024;
	struct ban *v = realloc(b->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	b->v = v;
	/* The index is rebuilt for the new capacity (amortised: only on doubling). */
	int r = addrindex_resize(&b->index, cap, (uint32_t)b->n);
	if (r < 0)
		return r;
	b->cap = cap;
	return 0;
}

static int put(struct bans *b, const struct ban *ban)
{
	uint32_t i = addrindex_find(&b->index, &ban->addr);
	int r;

	if (i != ADDRINDEX_NONE) {
		b->v[i] = *ban;
		return 0;
	}
	r = grow(b);
	if (r < 0)
		return r;
	b->v[b->n] = *ban;
	addrindex_insert(&b->index, &ban->addr, (uint32_t)b->n);
	b->n++;
	return 0;
}

static void drop(struct bans *b, uint32_t i)
{
	addrindex_remove(&b->index, &b->v[i].addr);
	b->n--;
	if (i != b->n) {
		b->v[i] = b->v[b->n];
		addrindex_move(&b->index, &b->v[i].addr, i);
	}
}

static int format_ban(const struct ban *ban, char *buf, size_t size)
{
	char net[ADDR_STRLEN], host[ADDR_STRLEN];
	return snprintf(buf, size, "B %" PRIu64 " %" PRIu64 " %" PRIu32 " %s %s %s\n",
			ban->since_usec, ban->until_usec, ban->offence, ban->jail,
			addr_format(&ban->addr, net, sizeof(net)),
			addr_format(&ban->host, host, sizeof(host)));
}

static int append(struct bans *b, const char *line, size_t len)
{
	if (b->fd < 0)
		return -EBADF;
	/* One write() per record: O_APPEND makes it land whole after the previous one. */
	ssize_t n = write(b->fd, line, len);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	b->lines++;
	return 0;
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

static bool jail_name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < BAN_JAIL_MAX && !strpbrk(s, " \t\n");
}

/* Applies one line of the file; false when it cannot be read. */
static bool replay_line(struct bans *b, char *line)
{
	char *w[8];
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < ELEMENTSOF(w);
	     t = strtok_r(NULL, " ", &save))
		w[n++] = t;

	if (n == 7 && strcmp(w[0], "B") == 0) {
		struct ban ban = { 0 };
		uint64_t off;
		if (!parse_u64(w[1], &ban.since_usec) || !parse_u64(w[2], &ban.until_usec) ||
		    !parse_u64(w[3], &off) || off > UINT32_MAX || !jail_name_ok(w[4]) ||
		    addr_parse_cidr(w[5], &ban.addr) < 0 || addr_parse_cidr(w[6], &ban.host) < 0)
			return false;
		ban.offence = (uint32_t)off;
		snprintf(ban.jail, sizeof(ban.jail), "%s", w[4]);
		return put(b, &ban) >= 0;
	}
	if (n == 3 && strcmp(w[0], "L") == 0) {
		struct addr a;
		uint64_t until;
		if (!parse_u64(w[1], &until) || addr_parse_cidr(w[2], &a) < 0)
			return false;
		uint32_t i = addrindex_find(&b->index, &a);
		if (i != ADDRINDEX_NONE && b->v[i].until_usec > until)
			b->v[i].until_usec = until;
		return true;
	}
	return false;
}

static int compact(struct bans *b)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		char line[256];
		format_ban(&b->v[i], line, sizeof(line));
		fputs(line, f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	r = state_write_atomic(b->path, buf, size, 0600);
	free(buf);
	if (r < 0)
		return r;
	/* The rename replaced the file: append to the new one. */
	if (b->fd >= 0)
		close(b->fd);
	b->fd = open(b->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (b->fd < 0)
		return -errno;
	b->lines = b->n;
	return 0;
}

static void forget_old(struct bans *b, uint64_t now_usec)
{
	for (size_t i = 0; i < b->n;) {
		if (b->v[i].until_usec + b->memory_usec < now_usec)
			drop(b, (uint32_t)i);
		else
			i++;
	}
}

/* Replays the file line by line: however long it has grown (an append per change), memory
 * follows the distinct networks in it, not its size, and a large file is never a reason not to
 * start. A line without its newline was torn by a crash, a longer one is not ours: both are
 * counted in *bad and skipped. */
static int replay_file(struct bans *b, unsigned *bad)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		bool whole = line[n - 1] == '\n';
		if (whole)
			line[n - 1] = '\0';
		if (!whole || n > MAX_LINE || !replay_line(b, line))
			(*bad)++;
	}
	return ferror(f) ? -EIO : 0;
}

int bans_open(const char *path, uint64_t now_usec, uint64_t memory_usec, struct bans **ret,
	      unsigned *ret_bad)
{
	_cleanup_(bans_freep) struct bans *b = calloc(1, sizeof(*b));
	unsigned bad = 0;
	int r;

	if (!b)
		return -ENOMEM;
	b->fd = -1;
	b->memory_usec = memory_usec;
	b->path = strdup(path);
	if (!b->path || addrindex_init(&b->index, 0, ban_key, b) < 0)
		return -ENOMEM;

	r = replay_file(b, &bad);
	if (r < 0)
		return r;
	forget_old(b, now_usec);
	r = compact(b);
	if (r < 0)
		return r;
	if (ret_bad)
		*ret_bad = bad;
	*ret = TAKE_PTR(b);
	return 0;
}

static int by_until(const void *x, const void *y)
{
	uint64_t a = ((const struct ban *)x)->until_usec, c = ((const struct ban *)y)->until_usec;
	return a < c ? -1 : a > c;
}

/* Down to 99% of the cap: ended bans first, then the active ones that end soonest. Rare (once
 * per 1% of the cap), so it may sort and rewrite. */
static int make_room(struct bans *b, uint64_t now_usec)
{
	size_t target = b->max - MAX(b->max / 100, 1);

	for (size_t i = 0; i < b->n && b->n > target;) {
		if (b->v[i].until_usec <= now_usec)
			drop(b, (uint32_t)i);
		else
			i++;
	}
	if (b->n > target) {
		struct ban *sorted = malloc(b->n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, b->v, b->n * sizeof(*sorted));
		qsort(sorted, b->n, sizeof(*sorted), by_until);
		for (size_t k = 0, excess = b->n - target; k < excess; k++) {
			uint32_t i = addrindex_find(&b->index, &sorted[k].addr);
			if (i != ADDRINDEX_NONE) {
				drop(b, i);
				b->evicted++;
			}
		}
		free(sorted);
	}
	return compact(b);
}

void bans_set_max(struct bans *b, size_t max)
{
	b->max = max;
}

uint64_t bans_evicted(const struct bans *b)
{
	return b->evicted;
}

int bans_add(struct bans *b, const struct ban *ban)
{
	char line[256];
	int r;

	/* A failed rewrite of the file is reported, but the ban is still recorded in memory. */
	int room = 0;
	if (b->max && b->n >= b->max && addrindex_find(&b->index, &ban->addr) == ADDRINDEX_NONE)
		room = make_room(b, ban->since_usec);
	r = put(b, ban);
	if (r < 0)
		return r;
	int len = format_ban(ban, line, sizeof(line));
	r = append(b, line, (size_t)len);
	return room < 0 ? room : r;
}

int bans_lift(struct bans *b, const struct addr *a, uint64_t now_usec)
{
	char line[128], net[ADDR_STRLEN];
	uint32_t i = addrindex_find(&b->index, a);

	if (i == ADDRINDEX_NONE || b->v[i].until_usec <= now_usec)
		return -ENOENT;
	b->v[i].until_usec = now_usec;
	int len = snprintf(line, sizeof(line), "L %" PRIu64 " %s\n", now_usec,
			   addr_format(a, net, sizeof(net)));
	return append(b, line, (size_t)len);
}

const struct ban *bans_find(const struct bans *b, const struct addr *a)
{
	uint32_t i = addrindex_find(&b->index, a);
	return i == ADDRINDEX_NONE ? NULL : &b->v[i];
}

size_t bans_size(const struct bans *b)
{
	return b->n;
}

const struct ban *bans_get(const struct bans *b, size_t i)
{
	return i < b->n ? &b->v[i] : NULL;
}

size_t bans_active(const struct bans *b, uint64_t now_usec)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n; i++)
		n += b->v[i].until_usec > now_usec;
	return n;
}

int bans_maintain(struct bans *b, uint64_t now_usec)
{
	forget_old(b, now_usec);
	if (b->lines > 2 * b->n + 1024)
		return compact(b);
	return 0;
}

struct bans *bans_free(struct bans *b)
{
	if (!b)
		return NULL;
	if (b->fd >= 0)
		close(b->fd);
	addrindex_done(&b->index);
	free(b->v);
	free(b->path);
	free(b);
	return NULL;
}
