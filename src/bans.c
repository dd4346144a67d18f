/* The ban table: a dense array of records with an address index, and its append-only file.
 * File lines: "B since until offence jail network host [s=T,T,...] [o=HOST] [x]" (a ban: its
 * recent strike times, the fleet host that decided it, whether its end was acted on), "E network
 * usec text" (an evidence line of the record before it), "L until network" (lifted early) and "X
 * network" (its end acted on). Replaying the lines in order rebuilds the table; compaction writes
 * one B line and its E lines per record through state_write_atomic(). */
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

/* A ban line is at most about 300 bytes (8 strikes), an evidence line about 320. */
#define MAX_LINE 512
/* One record with its evidence: the B line and an "E network " prefix per evidence line. */
#define RECORD_MAX (MAX_LINE + BAN_EVIDENCE_MAX + 16 * (ADDR_STRLEN + 4))

struct bans {
	char *path; /* NULL: in memory only */
	int fd;
	uint64_t memory_usec;
	struct ban *v;
	size_t n, cap;
	struct addrindex index;
	size_t lines; /* lines in the file */
	size_t base;  /* of which the last compaction wrote */
	size_t max;   /* 0: no cap */
	uint64_t evicted;
	uint64_t evidence_bytes, max_evidence;
	char **origins; /* the fleet hosts named by records, each once (few: one per host) */
	size_t n_origins;
	int unsaved; /* -errno of a failed write: the file lacks changes (0: it has them all) */
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

static void evidence_drop(struct bans *b, struct ban *rec)
{
	if (rec->evidence) {
		b->evidence_bytes -= strlen(rec->evidence);
		free(rec->evidence);
		rec->evidence = NULL;
	}
}

/* Appends len bytes of "USEC TEXT\n" lines to rec's evidence, up to BAN_EVIDENCE_MAX at a
 * line's end. */
static int evidence_append(struct bans *b, struct ban *rec, const char *text, size_t len)
{
	size_t have = rec->evidence ? strlen(rec->evidence) : 0;

	while (len && have + len > BAN_EVIDENCE_MAX) {
		const char *nl = memrchr(text, '\n', len - 1);
		len = nl ? (size_t)(nl - text) + 1 : 0;
	}
	if (len == 0)
		return 0;
	char *e = realloc(rec->evidence, have + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e + have, text, len);
	e[have + len] = '\0';
	rec->evidence = e;
	b->evidence_bytes += len;
	return 0;
}

/* The table's copy of a fleet host's name (NULL: this host, or out of memory). */
static const char *intern_origin(struct bans *b, const char *origin)
{
	if (!origin)
		return NULL;
	for (size_t i = 0; i < b->n_origins; i++)
		if (b->origins[i] == origin || strcmp(b->origins[i], origin) == 0)
			return b->origins[i];
	char **slot = ARRAY_GROW(b->origins, b->n_origins);
	if (!slot || !(*slot = strdup(origin))) {
		if (slot)
			b->n_origins--;
		return NULL;
	}
	return *slot;
}

static int put(struct bans *b, const struct ban *ban)
{
	uint32_t i = addrindex_find(&b->index, &ban->addr);
	const char *origin = intern_origin(b, ban->origin);
	int r;

	if (ban->origin && !origin)
		return -ENOMEM;

	if (i == ADDRINDEX_NONE) {
		r = grow(b);
		if (r < 0)
			return r;
		i = (uint32_t)b->n++;
		addrindex_insert(&b->index, &ban->addr, i);
	} else if (b->v[i].evidence == ban->evidence && ban->evidence) {
		/* The record itself, changed (its strikes): its evidence stays. */
		char *e = b->v[i].evidence;
		b->v[i] = *ban;
		b->v[i].evidence = e;
		b->v[i].origin = origin;
		return 0;
	} else
		evidence_drop(b, &b->v[i]);
	b->v[i] = *ban;
	b->v[i].evidence = NULL;
	b->v[i].origin = origin;
	if (ban->evidence)
		(void)evidence_append(b, &b->v[i], ban->evidence, strlen(ban->evidence));
	return 0;
}

static void drop(struct bans *b, uint32_t i)
{
	evidence_drop(b, &b->v[i]);
	addrindex_remove(&b->index, &b->v[i].addr);
	b->n--;
	if (i != b->n) {
		b->v[i] = b->v[b->n];
		addrindex_move(&b->index, &b->v[i].addr, i);
	}
}

/* The B line and the E lines of a record into buf (at least RECORD_MAX bytes). Returns the
 * length. */
static size_t format_record(const struct ban *ban, char *buf, size_t size)
{
	char net[ADDR_STRLEN], host[ADDR_STRLEN];
	size_t len = 0;
	int n;

	addr_format(&ban->addr, net, sizeof(net));
	n = snprintf(buf, size, "B %" PRIu64 " %" PRIu64 " %" PRIu32 " %s %s %s", ban->since_usec,
		     ban->until_usec, ban->offence, ban->jail, net,
		     addr_format(&ban->host, host, sizeof(host)));
	len = (size_t)n;
	for (unsigned k = 0; k < ban->n_strikes && len < size; k++)
		len += (size_t)snprintf(buf + len, size - len, "%s%" PRIu32,
					k ? "," : " s=", ban->strikes[k]);
	if (ban->origin && len < size)
		len += (size_t)snprintf(buf + len, size - len, " o=%s", ban->origin);
	if (ban->ended && len < size)
		len += (size_t)snprintf(buf + len, size - len, " x");
	if (len < size)
		len += (size_t)snprintf(buf + len, size - len, "\n");
	for (const char *p = ban->evidence; p && *p && len < size;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		len += (size_t)snprintf(buf + len, size - len, "E %s %.*s\n", net, (int)l, p);
		p += l + (nl != NULL);
	}
	return MIN(len, size - 1);
}

static int compact(struct bans *b);

/* After a failed write (a full disk) the file may end in a torn line and lacks changes: a
 * newline ends the torn line first, and the first write that works again is followed by a
 * rewrite of the whole file from memory. While it fails, a change costs one write(). */
static int append_unsaved(struct bans *b, const char *line, size_t len)
{
	int r = state_write_all(b->fd, "\n", 1);

	if (r >= 0)
		r = state_write_all(b->fd, line, len);
	if (r >= 0)
		r = compact(b);
	if (r < 0)
		b->unsaved = r;
	return r;
}

static int append(struct bans *b, const char *line, size_t len, size_t lines)
{
	if (!b->path)
		return 0;
	if (b->fd < 0)
		return -EBADF;
	if (b->unsaved)
		return append_unsaved(b, line, len);
	/* One write() per change: O_APPEND makes it land whole after the previous one. A short
	 * one (a disk full) goes on with the rest, which tells why it cannot. */
	int r = state_write_all(b->fd, line, len);
	if (r < 0) {
		b->unsaved = r;
		return r;
	}
	b->lines += lines;
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

/* "s=T,T,..." into ban's strikes. */
static bool parse_strikes(char *s, struct ban *ban)
{
	char *save = NULL;
	uint64_t t;

	for (char *w = strtok_r(s + 2, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!parse_u64(w, &t) || t > UINT32_MAX || ban->n_strikes >= BAN_STRIKES_MAX)
			return false;
		ban->strikes[ban->n_strikes++] = (uint32_t)t;
	}
	return true;
}

/* A fleet host's name as the fleet writes it: letters, digits, '.', '_', '-', below 64 bytes. */
static bool origin_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n;
}

static bool replay_ban(struct bans *b, char **w, size_t n)
{
	struct ban ban = { 0 };
	uint64_t off;

	if (n < 7 || !parse_u64(w[1], &ban.since_usec) || !parse_u64(w[2], &ban.until_usec) ||
	    !parse_u64(w[3], &off) || off > UINT32_MAX || !jail_name_ok(w[4]) ||
	    addr_parse_cidr(w[5], &ban.addr) < 0 || addr_parse_cidr(w[6], &ban.host) < 0)
		return false;
	for (size_t k = 7; k < n; k++) {
		if (strncmp(w[k], "s=", 2) == 0 && ban.n_strikes == 0) {
			if (!parse_strikes(w[k], &ban))
				return false;
		} else if (strncmp(w[k], "o=", 2) == 0 && !ban.origin && origin_ok(w[k] + 2))
			ban.origin = w[k] + 2;
		else if (strcmp(w[k], "x") == 0)
			ban.ended = true;
		else
			return false;
	}
	ban.offence = (uint32_t)off;
	snprintf(ban.jail, sizeof(ban.jail), "%s", w[4]);
	return put(b, &ban) >= 0;
}

/* "E network usec text": the text keeps its spaces. */
static bool replay_evidence(struct bans *b, char *line)
{
	char *net = line + 2, *sp = strchr(net, ' '), *usec, *text;
	struct addr a;
	uint64_t t;

	if (!sp)
		return false;
	*sp = '\0';
	usec = sp + 1;
	if (!(sp = strchr(usec, ' ')))
		return false;
	*sp = '\0';
	text = sp + 1;
	if (addr_parse_cidr(net, &a) < 0 || !parse_u64(usec, &t))
		return false;
	/* What evidence_put() kept is printable: anything else was not written by us. */
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	uint32_t i = addrindex_find(&b->index, &a);
	if (i == ADDRINDEX_NONE)
		return true; /* its record was cut with a torn line */
	char buf[MAX_LINE + 32];
	int len = snprintf(buf, sizeof(buf), "%" PRIu64 " %s\n", t, text);
	return evidence_append(b, &b->v[i], buf, (size_t)MIN(len, (int)sizeof(buf) - 1)) >= 0;
}

/* Applies one line of the file; false when it cannot be read. */
static bool replay_line(struct bans *b, char *line)
{
	char *w[12];
	size_t n = 0;

	if (strncmp(line, "E ", 2) == 0)
		return replay_evidence(b, line);
	for (char *save = NULL, *t = strtok_r(line, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		if (n == ELEMENTSOF(w))
			return false;
		w[n++] = t;
	}
	if (n >= 7 && strcmp(w[0], "B") == 0)
		return replay_ban(b, w, n);
	struct addr a;
	uint64_t until;
	if (n == 3 && strcmp(w[0], "L") == 0) {
		if (!parse_u64(w[1], &until) || addr_parse_cidr(w[2], &a) < 0)
			return false;
		uint32_t i = addrindex_find(&b->index, &a);
		if (i != ADDRINDEX_NONE && b->v[i].until_usec > until) {
			b->v[i].until_usec = until;
			b->v[i].ended = true;
		}
		return true;
	}
	if (n == 2 && strcmp(w[0], "X") == 0) {
		if (addr_parse_cidr(w[1], &a) < 0)
			return false;
		uint32_t i = addrindex_find(&b->index, &a);
		if (i != ADDRINDEX_NONE)
			b->v[i].ended = true;
		return true;
	}
	return false;
}

static int compact(struct bans *b)
{
	char *buf = NULL, *rec = NULL;
	size_t size = 0, lines = 0;
	FILE *f = NULL;
	int r;

	if (!b->path)
		return 0;
	rec = malloc(RECORD_MAX);
	f = rec ? open_memstream(&buf, &size) : NULL;
	if (!f) {
		free(rec);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		size_t len = format_record(&b->v[i], rec, RECORD_MAX);
		fwrite(rec, 1, len, f);
		for (size_t k = 0; k < len; k++)
			lines += rec[k] == '\n';
	}
	free(rec);
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
	b->lines = b->base = lines;
	b->unsaved = 0;
	return 0;
}

static void forget_old(struct bans *b, uint64_t now_usec)
{
	for (size_t i = 0; i < b->n;) {
		uint64_t until = b->v[i].until_usec;
		/* Saturating: a permanent ban is never forgotten. */
		if (until <= UINT64_MAX - b->memory_usec && until + b->memory_usec < now_usec)
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
		/* An empty line ends one torn by a full disk (append_unsaved()). */
		if (n == 1 && whole)
			continue;
		if (!whole || n > MAX_LINE || (size_t)n != strlen(line) + whole ||
		    !replay_line(b, line))
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
	if ((path && !(b->path = strdup(path))) || addrindex_init(&b->index, 0, ban_key, b) < 0)
		return -ENOMEM;

	r = b->path ? replay_file(b, &bad) : 0;
	if (r < 0)
		return r;
	forget_old(b, now_usec);
	/* A full disk does not keep the daemon from starting: the file read is appended to, and
	 * rewritten whole once a write works again. */
	r = compact(b);
	if (r < 0 && r != -ENOMEM) {
		b->unsaved = r;
		b->fd = open(b->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		r = b->fd < 0 ? -errno : 0;
	}
	if (r < 0)
		return r;
	if (ret_bad)
		*ret_bad = bad;
	*ret = TAKE_PTR(b);
	return 0;
}

static int cmp_end(const void *x, const void *y, void *ctx)
{
	const struct bans *b = ctx;
	uint64_t a = b->v[*(const uint32_t *)x].until_usec,
		 c = b->v[*(const uint32_t *)y].until_usec;
	return a < c ? -1 : a > c;
}

/* Positions of the records in the order of their ends, soonest first. NULL when out of
 * memory. Rare (once per 1% of a cap), so it may sort. */
static uint32_t *by_end(const struct bans *b)
{
	uint32_t *pos = malloc((b->n ? b->n : 1) * sizeof(*pos));
	if (!pos)
		return NULL;
	for (size_t i = 0; i < b->n; i++)
		pos[i] = (uint32_t)i;
	qsort_r(pos, b->n, sizeof(*pos), cmp_end, (void *)b);
	return pos;
}

/* Down to 99% of the cap: ended bans first, then the active ones that end soonest. */
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
		_cleanup_free_ uint32_t *pos = by_end(b);
		size_t excess = b->n - target;
		_cleanup_free_ struct addr *gone = malloc(excess * sizeof(*gone));
		if (!pos || !gone)
			return -ENOMEM;
		/* drop() moves records: their keys first, then the drops. */
		for (size_t k = 0; k < excess; k++)
			gone[k] = b->v[pos[k]].addr;
		for (size_t k = 0; k < excess; k++) {
			drop(b, addrindex_find(&b->index, &gone[k]));
			b->evicted++;
		}
	}
	return compact(b);
}

/* Down to 90% of the evidence cap: the evidence of ended bans first, then of those that end
 * soonest. The bans themselves stay. */
static void trim_evidence(struct bans *b, uint64_t now_usec)
{
	uint64_t target = b->max_evidence - b->max_evidence / 10;

	for (size_t i = 0; i < b->n && b->evidence_bytes > target; i++)
		if (b->v[i].until_usec <= now_usec)
			evidence_drop(b, &b->v[i]);
	_cleanup_free_ uint32_t *pos = b->evidence_bytes > target ? by_end(b) : NULL;
	for (size_t k = 0; pos && k < b->n && b->evidence_bytes > target; k++)
		evidence_drop(b, &b->v[pos[k]]);
}

void bans_set_max(struct bans *b, size_t max)
{
	b->max = max;
}

int bans_unsaved(const struct bans *b)
{
	return b->unsaved;
}

uint64_t bans_evicted(const struct bans *b)
{
	return b->evicted;
}

void bans_set_max_evidence(struct bans *b, uint64_t bytes)
{
	b->max_evidence = bytes;
}

uint64_t bans_evidence_bytes(const struct bans *b)
{
	return b->evidence_bytes;
}

int bans_add(struct bans *b, const struct ban *ban)
{
	char rec[RECORD_MAX];
	int r;

	/* A failed rewrite of the file is reported, but the ban is still recorded in memory. */
	int room = 0;
	if (b->max && b->n >= b->max && addrindex_find(&b->index, &ban->addr) == ADDRINDEX_NONE)
		room = make_room(b, ban->since_usec);
	r = put(b, ban);
	if (r < 0)
		return r;
	if (b->max_evidence && b->evidence_bytes > b->max_evidence)
		trim_evidence(b, ban->since_usec);
	if (!b->path)
		return room;
	size_t len = format_record(bans_find(b, &ban->addr), rec, sizeof(rec)), lines = 0;
	for (size_t k = 0; k < len; k++)
		lines += rec[k] == '\n';
	r = append(b, rec, len, lines);
	return room < 0 ? room : r;
}

static int append_mark(struct bans *b, char kind, uint64_t until, const struct addr *a)
{
	char line[128], net[ADDR_STRLEN];

	if (!b->path)
		return 0;
	int len = kind == 'L' ? snprintf(line, sizeof(line), "L %" PRIu64 " %s\n", until,
					 addr_format(a, net, sizeof(net)))
			      : snprintf(line, sizeof(line), "X %s\n",
					 addr_format(a, net, sizeof(net)));
	return append(b, line, (size_t)len, 1);
}

int bans_lift(struct bans *b, const struct addr *a, uint64_t now_usec)
{
	uint32_t i = addrindex_find(&b->index, a);

	if (i == ADDRINDEX_NONE || b->v[i].until_usec <= now_usec)
		return -ENOENT;
	b->v[i].until_usec = now_usec;
	b->v[i].ended = true;
	return append_mark(b, 'L', now_usec, a);
}

int bans_mark_ended(struct bans *b, const struct addr *a)
{
	uint32_t i = addrindex_find(&b->index, a);

	if (i == ADDRINDEX_NONE)
		return -ENOENT;
	if (b->v[i].ended)
		return 0;
	b->v[i].ended = true;
	return append_mark(b, 'X', 0, a);
}

uint64_t bans_next_end(const struct bans *b)
{
	uint64_t t = BAN_FOREVER;
	for (size_t i = 0; i < b->n; i++)
		if (!b->v[i].ended && b->v[i].until_usec < t)
			t = b->v[i].until_usec;
	return t;
}

bool bans_evidence_next(const char **cursor, struct bans_evidence_line *ret)
{
	const char *p = *cursor, *sp, *nl;
	char *end;

	while (p && *p) {
		nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		*cursor = p + len + (nl != NULL);
		sp = memchr(p, ' ', len);
		if (sp) {
			ret->time_usec = strtoull(p, &end, 10);
			if (end == sp) {
				ret->text = sp + 1;
				ret->len = len - (size_t)(sp + 1 - p);
				return true;
			}
		}
		p = *cursor;
	}
	return false;
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
	if (b->lines > 2 * b->base + 1024)
		return compact(b);
	return 0;
}

struct bans *bans_free(struct bans *b)
{
	if (!b)
		return NULL;
	if (b->fd >= 0)
		close(b->fd);
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].evidence);
	addrindex_done(&b->index);
	for (size_t i = 0; i < b->n_origins; i++)
		free(b->origins[i]);
	free(b->origins);
	free(b->v);
	free(b->path);
	free(b);
	return NULL;
}
