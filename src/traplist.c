/* Trap lists: the entries of a file, lowercased into one pool and indexed by an open-addressing
 * table, looked up with a stack copy of what <USER> captured. The file is a piece of the
 * configuration and passes the same trust checks (config_trusted()). A refresh costs one stat()
 * while the file stays as it was; a hash of what was read tells a real change from a rewrite of
 * the same text, and a hash of a refusal's messages tells a new refusal from the one already
 * reported. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "traplist.h"

/* Bad lines reported one by one per file; the rest are counted in one more message. */
#define MAX_REPORTED 10

struct set {
	char *pool;	 /* the entries, each NUL-terminated */
	uint32_t *slots; /* 1 + an entry's offset in pool; 0: empty */
	size_t mask;	 /* slots - 1: a power of two, at least twice the entries */
	size_t n;
};

/* What stat() says of the file: whether it may have changed since. */
struct stamp {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	uid_t uid;
	struct timespec mtime, ctime;
};

struct traplist {
	char *path;
	struct set set;
	uint64_t hash;	   /* of the text in force */
	struct stamp seen; /* the file at the last look */
	bool recheck;	   /* that look fell in the second of the file's last write */
	bool refused;	   /* the last look refused the file ... */
	uint64_t refusal;  /* ... with messages of this hash */
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

#define FNV_BASIS 0xcbf29ce484222325ULL

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ---- the set ---- */

static bool set_find(const struct set *s, const char *key, size_t len)
{
	if (!s->slots)
		return false;
	for (size_t i = fnv1a(FNV_BASIS, key, len) & s->mask; s->slots[i]; i = (i + 1) & s->mask) {
		const char *e = s->pool + s->slots[i] - 1;
		/* Its length first: a shorter entry at the pool's end must not be read past. */
		if (strnlen(e, len + 1) == len && memcmp(e, key, len) == 0)
			return true;
	}
	return false;
}

static void set_done(struct set *s)
{
	free(s->pool);
	free(s->slots);
	*s = (struct set){ 0 };
}

/* Indexes the n_offsets entries of s->pool (duplicates count once). Returns 0 or -ENOMEM. */
static int set_index(struct set *s, const uint32_t *offsets, size_t n_offsets)
{
	size_t size = 16;

	while (size < 2 * n_offsets)
		size *= 2;
	s->slots = calloc(size, sizeof(*s->slots));
	if (!s->slots)
		return -ENOMEM;
	s->mask = size - 1;
	for (size_t k = 0; k < n_offsets; k++) {
		const char *e = s->pool + offsets[k];
		size_t len = strlen(e);
		if (set_find(s, e, len))
			continue;
		size_t i = fnv1a(FNV_BASIS, e, len) & s->mask;
		while (s->slots[i])
			i = (i + 1) & s->mask;
		s->slots[i] = offsets[k] + 1;
		s->n++;
	}
	return 0;
}

/* ---- the file ---- */

/* One line: 1 and the entry (*ret, *ret_len, within line), 0 for a blank or comment line, or
 * -EINVAL after reporting what is wrong. */
static int parse_line(const char *path, unsigned lineno, const char *line, size_t len, bool report,
		      struct config_errors *errs, const char **ret, size_t *ret_len)
{
	size_t i = 0, n;

	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	for (n = 0; i + n < len && line[i + n] != ' ' && line[i + n] != '\t'; n++) {
		unsigned char c = (unsigned char)line[i + n];
		if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',') {
			if (report)
				config_errors_add(errs,
						  "%s:%u: byte 0x%02x at column %zu: an entry has "
						  "no control character, comma, '<' or '>'",
						  path, lineno, c, i + n + 1);
			return -EINVAL;
		}
	}
	const char *e = line + i, *at = memrchr(e, '@', n), *rest = e + n;
	while (rest < line + len && (*rest == ' ' || *rest == '\t'))
		rest++;
	const char *what = NULL;
	if (rest < line + len && *rest != '#')
		what = "one entry a line, not more (a comment after it starts with #)";
	else if (n > TRAPLIST_MAX_ENTRY)
		what = "an entry of at most 254 bytes";
	else if (at && (at == e + n - 1 || (e[0] == '@' && at != e)))
		what = "user@domain or @domain";
	if (what) {
		if (report)
			config_errors_add(errs, "%s:%u: '%.*s': expected %s", path, lineno,
					  (int)MIN(n, 64), e, what);
		return -EINVAL;
	}
	*ret = e;
	*ret_len = n;
	return 1;
}

/* The entries of buf into s (its pool and table). Returns 0, -EINVAL (reported) or -ENOMEM. */
static int parse(const char *path, const char *buf, size_t len, struct set *s,
		 struct config_errors *errs)
{
	_cleanup_free_ uint32_t *offsets = NULL;
	size_t n = 0, cap = 0, used = 0, bad = 0;
	unsigned lineno = 0;

	s->pool = malloc(len + 1); /* each entry takes its bytes and one delimiter at most */
	if (!s->pool)
		return -ENOMEM;
	for (const char *p = buf, *end = buf + len; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e;
		size_t l = (size_t)((nl ? nl : end) - p), el;
		int r = parse_line(path, lineno + 1, p, l, bad < MAX_REPORTED, errs, &e, &el);
		p += l + 1;
		if (r < 0)
			bad++;
		if (r <= 0 || bad)
			continue;
		if (n == TRAPLIST_MAX_ENTRIES) {
			config_errors_add(errs, "%s:%u: more than %d entries", path, lineno + 1,
					  TRAPLIST_MAX_ENTRIES);
			return -EINVAL;
		}
		if (ARRAY_RESERVE(offsets, cap, n + 1) < 0)
			return -ENOMEM;
		offsets[n++] = (uint32_t)used;
		for (size_t k = 0; k < el; k++)
			s->pool[used++] = lower(e[k]);
		s->pool[used++] = '\0';
	}
	if (bad > MAX_REPORTED)
		config_errors_add(errs, "%s: %zu more bad lines", path, bad - MAX_REPORTED);
	if (bad)
		return -EINVAL;
	return set_index(s, offsets, n);
}

static struct stamp stamp_of(const struct stat *st)
{
	return (struct stamp){ .present = true,
			       .dev = st->st_dev,
			       .ino = st->st_ino,
			       .size = st->st_size,
			       .mode = st->st_mode,
			       .uid = st->st_uid,
			       .mtime = st->st_mtim,
			       .ctime = st->st_ctim };
}

static bool stamp_equal(const struct stamp *a, const struct stamp *b)
{
	return a->present == b->present &&
	       (!a->present ||
		(a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mode == b->mode &&
		 a->uid == b->uid && a->mtime.tv_sec == b->mtime.tv_sec &&
		 a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
		 a->ctime.tv_nsec == b->ctime.tv_nsec));
}

/* The directory of path may not let others replace the file. */
static int check_dir(const char *path, struct config_errors *errs)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir =
		slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	struct stat st;

	if (!dir)
		return -ENOMEM;
	if (stat(dir, &st) < 0)
		return 0; /* the file's open() tells */
	return config_trusted(dir, &st, true, errs) ? 0 : -EPERM;
}

/* Reads the file, trusted and bounded, into *ret (NUL-terminated). *ret_stamp is what was
 * looked at, even on failure. Returns 0 or -errno (reported). */
static int read_file(const char *path, char **ret, size_t *ret_len, struct stamp *ret_stamp,
		     struct config_errors *errs)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int r;

	*ret_stamp = (struct stamp){ 0 };
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		config_errors_add(errs, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	*ret_stamp = stamp_of(&st);
	if (!S_ISREG(st.st_mode)) {
		config_errors_add(errs, "%s: not a regular file", path);
		return -EINVAL;
	}
	r = check_dir(path, errs);
	if (!config_trusted(path, &st, false, errs) || r < 0)
		return r < 0 ? r : -EPERM;
	/* The file may grow while it is read: the bound is on what is read. */
	size_t cap = (size_t)MIN(st.st_size, (off_t)TRAPLIST_MAX_FILE) + 2;
	if (!(buf = malloc(cap)))
		return -ENOMEM;
	while ((n = read(fd, buf + len, cap - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			config_errors_add(errs, "%s: cannot read: %s", path, strerror(-r));
			return r;
		}
		len += (size_t)n;
		if (len > TRAPLIST_MAX_FILE) {
			config_errors_add(errs, "%s: larger than %d bytes", path,
					  TRAPLIST_MAX_FILE);
			return -EFBIG;
		}
		if (len == cap - 1) {
			char *b = realloc(buf, (cap = MIN(2 * cap, (size_t)TRAPLIST_MAX_FILE + 2)));
			if (!b)
				return -ENOMEM;
			buf = b;
		}
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* The file into a new set, the hash of its text, and what was looked at. */
static int load_set(const char *path, struct set *ret, uint64_t *ret_hash, struct stamp *ret_stamp,
		    bool *ret_recheck, struct config_errors *errs)
{
	_cleanup_free_ char *buf = NULL;
	struct set s = { 0 };
	struct timespec now;
	size_t len = 0;
	int r;

	r = read_file(path, &buf, &len, ret_stamp, errs);
	/* A write later in the same second may leave the times as they are: look again. */
	clock_gettime(CLOCK_REALTIME, &now);
	*ret_recheck = ret_stamp->present && ret_stamp->mtime.tv_sec + 1 >= now.tv_sec;
	if (r >= 0)
		r = parse(path, buf, len, &s, errs);
	if (r < 0) {
		set_done(&s);
		return r;
	}
	*ret = s;
	*ret_hash = fnv1a(FNV_BASIS, buf, len);
	return 0;
}

int traplist_load(const char *path, struct traplist **ret, struct config_errors *errs)
{
	_cleanup_(traplist_freep) struct traplist *t = calloc(1, sizeof(*t));
	int r;

	if (!t || !(t->path = strdup(path)))
		return -ENOMEM;
	r = load_set(path, &t->set, &t->hash, &t->seen, &t->recheck, errs);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(t);
	return 0;
}

bool traplist_contains(const struct traplist *t, const char *value, size_t len)
{
	char key[TRAPLIST_MAX_ENTRY];

	if (len == 0 || len > sizeof(key))
		return false;
	for (size_t i = 0; i < len; i++)
		key[i] = lower(value[i]);
	if (set_find(&t->set, key, len))
		return true;
	const char *at = memrchr(key, '@', len);
	return at && at > key && set_find(&t->set, at, len - (size_t)(at - key));
}

static uint64_t errors_hash(const struct config_errors *e, size_t from)
{
	uint64_t h = FNV_BASIS;
	for (size_t i = from; i < e->n; i++)
		h = fnv1a(h, e->msgs[i], strlen(e->msgs[i]) + 1);
	return h;
}

int traplist_refresh(struct traplist *t, struct config_errors *errs)
{
	struct stamp now = { 0 };
	struct stat st;
	struct set s = { 0 };
	uint64_t hash = 0;
	size_t before = errs->n;
	int r;

	if (stat(t->path, &st) >= 0)
		now = stamp_of(&st);
	if (!t->recheck && stamp_equal(&now, &t->seen))
		return 0;
	r = load_set(t->path, &s, &hash, &t->seen, &t->recheck, errs);
	if (r < 0) {
		uint64_t h = errors_hash(errs, before);
		if (t->refused && h == t->refusal) {
			while (errs->n > before)
				free(errs->msgs[--errs->n]);
			return 0;
		}
		t->refused = true;
		t->refusal = h;
		return r;
	}
	bool was_refused = t->refused;
	t->refused = false;
	if (!was_refused && hash == t->hash) {
		set_done(&s);
		return 0;
	}
	set_done(&t->set);
	t->set = s;
	t->hash = hash;
	return 1;
}

size_t traplist_size(const struct traplist *t)
{
	return t->set.n;
}

const char *traplist_path(const struct traplist *t)
{
	return t->path;
}

struct traplist *traplist_free(struct traplist *t)
{
	if (!t)
		return NULL;
	set_done(&t->set);
	free(t->path);
	free(t);
	return NULL;
}
