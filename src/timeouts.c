/* Courier's timeout control files: tuned values written atomically with Courier's owner and
 * mode, the admin's originals kept in a state file (hex-encoded, byte exact) and restored at
 * normal, at stop and after a crash; admin edits adopted. Also Courier's time syntax. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "text.h"
#include "timeouts.h"
#include "tuner.h"

#define STATE_MAGIC   "waveguard-timeouts 1"
#define STATE_MAX     (1024 * 1024)
#define TMP_TAG	      ".waveguard-"
#define TEN_YEARS_SEC (10ULL * 366 * 24 * 3600)

/* A file's content, or its absence. */
struct content {
	bool present;
	size_t len;
	char *data; /* NUL-terminated copy when present */
};

struct owner {
	uid_t uid;
	gid_t gid;
	mode_t mode;
};

struct tfile {
	char *name;
	uint64_t level_usec[3];
	struct content original; /* the admin's */
	struct owner original_owner;
	struct content expected; /* what waveguard last wrote (or adopted): should be on disk */
	bool has_prev;
	struct content prev; /* what was on disk before the last write, until it completed */
	bool held;	     /* adopted at the current level: not written until the next change */
};

struct timeouts {
	char *dir, *state_path;
	uint64_t floor_usec;
	struct tfile *files;
	size_t n;
	int level;
};

/* ---- small helpers ---- */

static void msg_reset(char *msg, size_t size)
{
	if (msg && size > 0)
		msg[0] = '\0';
}

static void content_clear(struct content *c)
{
	free(c->data);
	*c = (struct content){};
}

static int content_set(struct content *c, bool present, const char *data, size_t len)
{
	char *d = NULL;
	if (present) {
		d = malloc(len + 1);
		if (!d)
			return -ENOMEM;
		if (len > 0)
			memcpy(d, data, len);
		d[len] = '\0';
	}
	free(c->data);
	*c = (struct content){ .present = present, .len = present ? len : 0, .data = d };
	return 0;
}

static int content_copy(struct content *dst, const struct content *src)
{
	return content_set(dst, src->present, src->data, src->len);
}

static bool content_eq(const struct content *a, const struct content *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool name_ok(const char *name)
{
	if (!name || !*name || name[0] == '.' || strlen(name) > 200)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

static int fsync_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* Reads dir/name: its content (or absence) and owner. Symlinks and non-regular files are
 * refused (-ELOOP, -EINVAL): replacing them would change what the admin set up. */
static int file_read(const char *dir, const char *name, struct content *ret,
		     struct owner *ret_owner)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len = 0;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			content_clear(ret);
			return 0;
		}
		return -errno;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > TIMEOUTS_MAX_CONTENT)
		return -EFBIG;
	buf = malloc(TIMEOUTS_MAX_CONTENT + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, buf + len, TIMEOUTS_MAX_CONTENT + 1 - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > TIMEOUTS_MAX_CONTENT)
			return -EFBIG;
	}
	int r = content_set(ret, true, buf, len);
	if (r < 0)
		return r;
	if (ret_owner)
		*ret_owner = (struct owner){ st.st_uid, st.st_gid, st.st_mode & 07777 };
	return 0;
}

/* Replaces dir/name with data: temp file in dir, owner and mode set, fsync, rename, fsync of
 * the directory. Readers see the old file or the new one, never a part. */
static int file_write(const char *dir, const char *name, const char *data, size_t len,
		      const struct owner *o)
{
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (asprintf(&tmp, "%s/.%s" TMP_TAG "XXXXXX", dir, name) < 0 ||
	    asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = state_write_all(fd, data, len);
	/* An unreadable file is as bad as a wrong one for Courier: the owner must be right. */
	if (r >= 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r >= 0 && (st.st_uid != o->uid || st.st_gid != o->gid) &&
	    fchown(fd, o->uid, o->gid) < 0)
		r = -errno;
	if (r >= 0 && fchmod(fd, o->mode & 07777) < 0)
		r = -errno;
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return fsync_dir(dir);
}

static int file_remove(const char *dir, const char *name)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	return fsync_dir(dir);
}

/* Puts c (content with owner o, or no file) at dir/name. */
static int file_put(const char *dir, const char *name, const struct content *c,
		    const struct owner *o)
{
	if (!c->present)
		return file_remove(dir, name);
	return file_write(dir, name, c->data, c->len, o);
}

/* Removes the temp files a crash between mkostemp() and rename() may have left for name. */
static void remove_stale_temps(const char *dir, const char *name)
{
	_cleanup_free_ char *prefix = NULL;
	DIR *d;
	struct dirent *de;

	if (asprintf(&prefix, ".%s" TMP_TAG, name) < 0)
		return;
	d = opendir(dir);
	if (!d)
		return;
	size_t pl = strlen(prefix);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, pl) == 0 && strlen(de->d_name) == pl + 6)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* A short description of a content for messages: "600s", "(no file)", "'garbage'". */
static const char *describe(const struct content *c, char *buf, size_t size)
{
	uint64_t usec;

	if (!c->present)
		return "(no file)";
	if (timeouts_parse_value(c->data, &usec) >= 0) {
		snprintf(buf, size, "%" PRIu64 "s", (uint64_t)(usec / USEC_PER_SEC));
		return buf;
	}
	size_t j = 0;
	buf[j++] = '\'';
	for (size_t i = 0; i < c->len && i < 24 && j + 3 < size; i++) {
		unsigned char ch = (unsigned char)c->data[i];
		buf[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[j++] = '\'';
	buf[j] = '\0';
	return buf;
}

/* ---- the state file ----
 *
 *   waveguard-timeouts 1
 *   level wave
 *   file <name> <original> <uid> <gid> <mode> <expected> <prev>
 *
 * A content is "-" (no file) or "x" followed by its bytes in hex ("x" alone: empty file);
 * <prev> is "*" when there is none. */

static int hex_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = MAX(*cap * 2, *len + n + 1);
		char *b = realloc(*buf, c);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int put_str(char **buf, size_t *len, size_t *cap, const char *s)
{
	return hex_append(buf, len, cap, s, strlen(s));
}

static int put_content(char **buf, size_t *len, size_t *cap, const struct content *c)
{
	static const char digits[] = "0123456789abcdef";
	int r;

	if (!c->present)
		return put_str(buf, len, cap, " -");
	r = put_str(buf, len, cap, " x");
	for (size_t i = 0; r >= 0 && i < c->len; i++) {
		unsigned char ch = (unsigned char)c->data[i];
		char h[2] = { digits[ch >> 4], digits[ch & 15] };
		r = hex_append(buf, len, cap, h, 2);
	}
	return r;
}

static int state_save(const char *path, int level, const struct tfile *f, size_t n)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	char line[256];
	int r;

	snprintf(line, sizeof(line), STATE_MAGIC "\nlevel %s\n",
		 tuner_level_to_string((enum tuner_level)level));
	r = put_str(&buf, &len, &cap, line);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = put_str(&buf, &len, &cap, "file ");
		if (r >= 0)
			r = put_str(&buf, &len, &cap, f[i].name);
		if (r >= 0)
			r = put_content(&buf, &len, &cap, &f[i].original);
		snprintf(line, sizeof(line), " %u %u %04o", (unsigned)f[i].original_owner.uid,
			 (unsigned)f[i].original_owner.gid, (unsigned)f[i].original_owner.mode);
		if (r >= 0)
			r = put_str(&buf, &len, &cap, line);
		if (r >= 0)
			r = put_content(&buf, &len, &cap, &f[i].expected);
		if (r >= 0)
			r = f[i].has_prev ? put_content(&buf, &len, &cap, &f[i].prev)
					  : put_str(&buf, &len, &cap, " *");
		if (r >= 0)
			r = put_str(&buf, &len, &cap, "\n");
	}
	if (r < 0)
		return r;
	return state_write_atomic(path, buf, len, 0600);
}

static int state_clear(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	char *slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(copy, ".");
	return fsync_dir(copy);
}

static int unhex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int parse_content(const char *tok, struct content *c)
{
	if (!tok)
		return -EBADMSG;
	if (strcmp(tok, "-") == 0) {
		content_clear(c);
		return 0;
	}
	if (tok[0] != 'x')
		return -EBADMSG;
	size_t hl = strlen(tok + 1);
	if (hl % 2 != 0 || hl / 2 > TIMEOUTS_MAX_CONTENT)
		return -EBADMSG;
	char buf[TIMEOUTS_MAX_CONTENT + 1];
	for (size_t i = 0; i < hl / 2; i++) {
		int hi = unhex(tok[1 + 2 * i]), lo = unhex(tok[2 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		buf[i] = (char)(hi << 4 | lo);
	}
	return content_set(c, true, buf, hl / 2);
}

static bool parse_uint(const char *tok, int base, unsigned long max, unsigned long *ret)
{
	char *end;
	if (!tok || !isxdigit((unsigned char)tok[0]))
		return false;
	errno = 0;
	unsigned long v = strtoul(tok, &end, base);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*ret = v;
	return true;
}

/* Frees f's contents; its name stays. */
static void tfile_clear(struct tfile *f)
{
	content_clear(&f->original);
	content_clear(&f->expected);
	content_clear(&f->prev);
}

static void tfiles_free(struct tfile *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].name);
		tfile_clear(&f[i]);
	}
	free(f);
}

/* Reads the state file: *ret_level and the files in it. -ENOENT when there is none. */
static int state_load(const char *path, int *ret_level, struct tfile **ret, size_t *ret_n)
{
	_cleanup_free_ char *data = NULL;
	struct tfile *f = NULL;
	size_t n = 0;
	int level = -1, r;
	char *save = NULL, *line;

	r = state_read_file(path, STATE_MAX, &data, NULL);
	if (r < 0)
		return r;
	line = strtok_r(data, "\n", &save);
	if (!line || strcmp(line, STATE_MAGIC) != 0)
		return -EBADMSG;
	r = 0;
	while (r >= 0 && (line = strtok_r(NULL, "\n", &save))) {
		char *ts = NULL;
		char *kw = strtok_r(line, " ", &ts);
		if (kw && strcmp(kw, "level") == 0) {
			const char *v = strtok_r(NULL, " ", &ts);
			level = -1;
			for (int l = 0; v && l < _TUNER_LEVEL_MAX; l++)
				if (strcmp(v, tuner_level_to_string((enum tuner_level)l)) == 0)
					level = l;
			if (level < 0)
				r = -EBADMSG;
			continue;
		}
		if (!kw || strcmp(kw, "file") != 0 || n >= TIMEOUTS_MAX_FILES) {
			r = -EBADMSG;
			break;
		}
		struct tfile *x = ARRAY_GROW(f, n);
		if (!x) {
			r = -ENOMEM;
			break;
		}
		const char *name = strtok_r(NULL, " ", &ts);
		unsigned long uid, gid, mode;
		if (!name_ok(name)) {
			r = -EBADMSG;
			break;
		}
		x->name = strdup(name);
		if (!x->name) {
			r = -ENOMEM;
			break;
		}
		r = parse_content(strtok_r(NULL, " ", &ts), &x->original);
		if (r >= 0 && (!parse_uint(strtok_r(NULL, " ", &ts), 10, UINT32_MAX, &uid) ||
			       !parse_uint(strtok_r(NULL, " ", &ts), 10, UINT32_MAX, &gid) ||
			       !parse_uint(strtok_r(NULL, " ", &ts), 8, 07777, &mode)))
			r = -EBADMSG;
		if (r >= 0)
			r = parse_content(strtok_r(NULL, " ", &ts), &x->expected);
		const char *p = r >= 0 ? strtok_r(NULL, " ", &ts) : NULL;
		if (r >= 0 && p && strcmp(p, "*") == 0)
			x->has_prev = false;
		else if (r >= 0) {
			r = parse_content(p, &x->prev);
			x->has_prev = true;
		}
		if (r >= 0 && strtok_r(NULL, " ", &ts))
			r = -EBADMSG;
		if (r >= 0)
			x->original_owner = (struct owner){ (uid_t)uid, (gid_t)gid, (mode_t)mode };
	}
	if (r >= 0 && level < 0)
		r = -EBADMSG;
	if (r < 0) {
		tfiles_free(f, n);
		return r;
	}
	*ret_level = level;
	*ret = f;
	*ret_n = n;
	return 0;
}

/* ---- the object ---- */

int timeouts_new(const char *courier_dir, const char *state_path, const struct timeouts_file *files,
		 size_t n, uint64_t floor_usec, struct timeouts **ret)
{
	if (!courier_dir || !state_path || !files || !ret || n == 0 || n > TIMEOUTS_MAX_FILES ||
	    floor_usec < USEC_PER_SEC)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!name_ok(files[i].name))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(files[i].name, files[j].name) == 0)
				return -EINVAL;
	}

	struct timeouts *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->dir = strdup(courier_dir);
	t->state_path = strdup(state_path);
	t->files = calloc(n, sizeof(*t->files));
	t->floor_usec = floor_usec;
	t->level = TUNER_NORMAL;
	if (!t->dir || !t->state_path || !t->files) {
		timeouts_free(t);
		return -ENOMEM;
	}
	t->n = n;
	for (size_t i = 0; i < n; i++) {
		t->files[i].name = strdup(files[i].name);
		if (!t->files[i].name) {
			timeouts_free(t);
			return -ENOMEM;
		}
		memcpy(t->files[i].level_usec, files[i].level_usec, sizeof(files[i].level_usec));
	}
	*ret = t;
	return 0;
}

struct timeouts *timeouts_free(struct timeouts *t)
{
	if (!t)
		return NULL;
	if (t->files)
		tfiles_free(t->files, t->n);
	free(t->dir);
	free(t->state_path);
	free(t);
	return NULL;
}

int timeouts_level(const struct timeouts *t)
{
	return t->level;
}

/* Forgets the originals: back to "not tuned". */
static void untune(struct timeouts *t)
{
	for (size_t i = 0; i < t->n; i++) {
		tfile_clear(&t->files[i]);
		t->files[i].has_prev = false;
		t->files[i].held = false;
	}
	t->level = TUNER_NORMAL;
}

/* Whether the disk content is one waveguard wrote (or left) for f. */
static bool is_ours(const struct tfile *f, const struct content *disk)
{
	return content_eq(disk, &f->expected) || (f->has_prev && content_eq(disk, &f->prev));
}

/* Writes want to dir/name and reports "<sep>name <from> -> <want>", or the error. Returns 0 or
 * -errno. */
static int put_reporting(const struct timeouts *t, const char *name, const struct content *from,
			 const struct content *want, const struct owner *o, const char *sep,
			 char *msg, size_t size, size_t *len)
{
	char a[64], b[64];
	int r = file_put(t->dir, name, want, o);

	if (r < 0) {
		text_appendf(msg, size, len, "%s%s: %s", sep, name, strerror(-r));
		return r;
	}
	text_appendf(msg, size, len, "%s%s %s -> %s", sep, name, describe(from, a, sizeof(a)),
		     describe(want, b, sizeof(b)));
	return 0;
}

/* The state file is only trusted so far: a file it brings back gets no set-id or execute bit,
 * and the owner of Courier's directory, whatever a planted line says. */
static void clamp_owners(const char *dir, struct tfile *f, size_t n)
{
	struct stat st;
	bool have_dir = stat(dir, &st) == 0;

	for (size_t i = 0; i < n; i++) {
		struct owner *o = &f[i].original_owner;
		o->mode &= 0666;
		if (have_dir && (o->uid != st.st_uid || o->gid != st.st_gid)) {
			o->uid = st.st_uid;
			o->gid = st.st_gid;
		}
	}
}

static int recover(struct timeouts *t, char *msg, size_t size, size_t *len)
{
	struct tfile *f = NULL;
	size_t n = 0;
	int level, r, first_error = 0;

	r = state_load(t->state_path, &level, &f, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		text_appendf(msg, size, len, "cannot read the state file %s: %s", t->state_path,
			     strerror(-r));
		return r;
	}
	text_appendf(msg, size, len, "restoring the originals after an unclean stop at level %s:",
		     tuner_level_to_string((enum tuner_level)level));
	clamp_owners(t->dir, f, n);
	for (size_t i = 0; i < n; i++) {
		struct content disk = {};
		const char *sep = i ? ", " : " "; /* after the colon */
		char a[64];

		remove_stale_temps(t->dir, f[i].name);
		r = file_read(t->dir, f[i].name, &disk, NULL);
		if (r < 0) {
			text_appendf(msg, size, len, "%s%s: %s", sep, f[i].name, strerror(-r));
		} else if (content_eq(&disk, &f[i].original)) {
			text_appendf(msg, size, len, "%s%s %s (already)", sep, f[i].name,
				     describe(&disk, a, sizeof(a)));
		} else if (is_ours(&f[i], &disk)) {
			r = put_reporting(t, f[i].name, &disk, &f[i].original, &f[i].original_owner,
					  sep, msg, size, len);
		} else {
			text_appendf(msg, size, len, "%s%s %s kept (changed by the admin)", sep,
				     f[i].name, describe(&disk, a, sizeof(a)));
		}
		if (r < 0 && first_error == 0)
			first_error = r;
		content_clear(&disk);
	}
	tfiles_free(f, n);
	if (first_error < 0)
		return first_error;
	r = state_clear(t->state_path);
	if (r < 0)
		return r;
	return 1;
}

int timeouts_recover(struct timeouts *t, char *msg, size_t size)
{
	size_t len = 0;

	if (!t)
		return -EINVAL;
	msg_reset(msg, size);
	if (t->level != TUNER_NORMAL)
		return -EBUSY;
	return recover(t, msg, size, &len);
}

/* The content waveguard writes for level l: the level's value, never below the floor, and never
 * longer than the admin's own value (tuning only ever shortens). */
static int tuned_content(const struct timeouts *t, const struct tfile *f, int l, struct content *c)
{
	uint64_t usec = MAX(f->level_usec[l], t->floor_usec), orig;
	if (f->original.present && timeouts_parse_value(f->original.data, &orig) >= 0 &&
	    orig < usec)
		usec = orig;
	uint64_t secs = (usec + USEC_PER_SEC - 1) / USEC_PER_SEC;
	char buf[32];
	int k = snprintf(buf, sizeof(buf), "%" PRIu64 "s\n", secs);
	return content_set(c, true, buf, (size_t)k);
}

/* The owner and mode for a file waveguard creates: another Courier file's. */
static struct owner owner_for_new(const struct timeouts *t, const char *name)
{
	static const char *const fixed[] = { "esmtptimeout", "esmtptimeoutdata", "esmtpd" };
	struct content c = {};
	struct owner o;
	struct stat st;

	for (size_t i = 0; i < t->n + ELEMENTSOF(fixed); i++) {
		const char *cand = i < t->n ? t->files[i].name : fixed[i - t->n];
		if (strcmp(cand, name) == 0)
			continue;
		if (file_read(t->dir, cand, &c, &o) >= 0 && c.present) {
			content_clear(&c);
			o.mode &= 0666;
			return o;
		}
		content_clear(&c);
	}
	if (stat(t->dir, &st) >= 0)
		return (struct owner){ st.st_uid, st.st_gid, 0644 };
	return (struct owner){ getuid(), getgid(), 0644 };
}

static void disks_free(struct content *disk, size_t n)
{
	if (!disk)
		return;
	for (size_t i = 0; i < n; i++)
		content_clear(&disk[i]);
	free(disk);
}

/* Adopts the disk content of f as its new original. */
static int adopt(struct tfile *f, const struct content *disk, const struct owner *o)
{
	int r = content_copy(&f->original, disk);
	if (r >= 0)
		r = content_copy(&f->expected, disk);
	if (r < 0)
		return r;
	if (disk->present)
		f->original_owner = *o;
	content_clear(&f->prev);
	f->has_prev = false;
	f->held = true;
	return 0;
}

static int apply_normal(struct timeouts *t, struct content *disk, struct owner *owners, char *msg,
			size_t size, size_t *len)
{
	int first_error = 0, adopted = 0, r;

	for (size_t i = 0; i < t->n; i++) {
		struct tfile *f = &t->files[i];
		const char *sep = i ? ", " : "";
		char a[64];

		f->held = false; /* a level change */
		if (content_eq(&disk[i], &f->original)) {
			text_appendf(msg, size, len, "%s%s %s (unchanged)", sep, f->name,
				     describe(&disk[i], a, sizeof(a)));
			continue;
		}
		if (!is_ours(f, &disk[i])) {
			r = adopt(f, &disk[i], &owners[i]);
			if (r < 0)
				return r;
			adopted++;
			text_appendf(msg, size, len, "%s%s %s kept (adopted: changed by the admin)",
				     sep, f->name, describe(&disk[i], a, sizeof(a)));
			continue;
		}
		r = put_reporting(t, f->name, &disk[i], &f->original, &f->original_owner, sep, msg,
				  size, len);
		if (r < 0 && first_error == 0)
			first_error = r;
	}
	if (first_error < 0)
		return first_error; /* still tuned: the state file keeps the originals */
	r = state_clear(t->state_path);
	untune(t);
	return r < 0 ? r : adopted;
}

/* Copies f's bookkeeping for a move to level into w (names borrowed), adopting a disk content
 * that is not waveguard's. A first tuning takes the disk as the originals. Returns 1 when it
 * adopted, 0, or -ENOMEM. */
static int work_init(const struct timeouts *t, int level, const struct tfile *f, struct tfile *w,
		     const struct content *disk, const struct owner *owner)
{
	int r;

	w->name = f->name; /* borrowed */
	memcpy(w->level_usec, f->level_usec, sizeof(f->level_usec));
	if (t->level == TUNER_NORMAL) {
		w->original_owner = *owner;
		return content_copy(&w->original, disk);
	}
	r = content_copy(&w->original, &f->original);
	if (r >= 0)
		r = content_copy(&w->expected, &f->expected);
	if (r >= 0)
		r = content_copy(&w->prev, &f->prev);
	w->has_prev = f->has_prev;
	w->original_owner = f->original_owner;
	w->held = level == t->level && f->held;
	if (r < 0 || is_ours(w, disk))
		return r;
	r = adopt(w, disk, owner);
	return r < 0 ? r : 1;
}

/* What w's file is to hold at level (a held file: what it holds now); w then expects it, and
 * remembers the disk content as its prev until the write completes. */
static int work_target(const struct timeouts *t, int level, struct tfile *w,
		       const struct content *disk, struct content *target)
{
	int r;

	if (w->held)
		return content_copy(target, disk);
	r = tuned_content(t, w, level, target);
	if (r >= 0)
		r = content_copy(&w->prev, disk);
	w->has_prev = true;
	if (r >= 0)
		r = content_copy(&w->expected, target);
	return r;
}

static void work_free(struct tfile *work, size_t n)
{
	if (!work)
		return;
	for (size_t i = 0; i < n; i++) {
		work[i].name = NULL;
		tfile_clear(&work[i]);
	}
	free(work);
}

/* Moves the work copies into t's files (which keep their names). */
static void work_commit(struct timeouts *t, struct tfile *work)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tfile *f = &t->files[i], *w = &work[i];
		char *name = f->name;
		tfile_clear(f);
		*f = *w;
		f->name = name;
		*w = (struct tfile){};
	}
}

/* Writes each file's target (a held one is left alone) and reports. Returns 0 or the first
 * -errno (the other files are still written). */
static int write_targets(struct timeouts *t, const struct content *disk, const struct owner *owners,
			 const struct content *target, char *msg, size_t size, size_t *len)
{
	int first_error = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct tfile *f = &t->files[i];
		const char *sep = i ? ", " : "";
		char a[64];

		if (f->held) {
			text_appendf(msg, size, len, "%s%s %s kept (adopted: changed by the admin)",
				     sep, f->name, describe(&disk[i], a, sizeof(a)));
			continue;
		}
		if (content_eq(&disk[i], &target[i])) {
			text_appendf(msg, size, len, "%s%s %s (unchanged)", sep, f->name,
				     describe(&disk[i], a, sizeof(a)));
			continue;
		}
		struct owner o = disk[i].present ? owners[i] : owner_for_new(t, f->name);
		int k = put_reporting(t, f->name, &disk[i], &target[i], &o, sep, msg, size, len);
		if (k < 0 && first_error == 0)
			first_error = k;
	}
	return first_error;
}

/* Every file is written: what was there before no longer counts as ours. Best effort: a stale
 * prev only makes one old value look like waveguard's. */
static void forget_prev(struct timeouts *t)
{
	bool had_prev[TIMEOUTS_MAX_FILES];

	for (size_t i = 0; i < t->n; i++) {
		had_prev[i] = t->files[i].has_prev;
		t->files[i].has_prev = false;
	}
	if (state_save(t->state_path, t->level, t->files, t->n) >= 0) {
		for (size_t i = 0; i < t->n; i++)
			content_clear(&t->files[i].prev);
	} else {
		for (size_t i = 0; i < t->n; i++)
			t->files[i].has_prev = had_prev[i];
	}
}

static int apply_tuned(struct timeouts *t, int level, struct content *disk, struct owner *owners,
		       char *msg, size_t size, size_t *len)
{
	struct content *target = NULL;
	struct tfile *work = NULL;
	int r = 0, adopted = 0;

	/* Work on a copy so that a failure before the state file is written changes nothing. */
	target = calloc(t->n, sizeof(*target));
	work = calloc(t->n, sizeof(*work));
	if (!target || !work) {
		r = -ENOMEM;
		goto finish;
	}
	for (size_t i = 0; r >= 0 && i < t->n; i++) {
		r = work_init(t, level, &t->files[i], &work[i], &disk[i], &owners[i]);
		adopted += r > 0;
	}
	for (size_t i = 0; r >= 0 && i < t->n; i++)
		r = work_target(t, level, &work[i], &disk[i], &target[i]);
	if (r < 0)
		goto finish;

	/* The originals are on disk before any Courier file changes. */
	r = state_save(t->state_path, level, work, t->n);
	if (r < 0) {
		text_appendf(msg, size, len, "cannot write the state file %s: %s", t->state_path,
			     strerror(-r));
		goto finish;
	}
	work_commit(t, work);

	r = write_targets(t, disk, owners, target, msg, size, len);
	if (r < 0)
		goto finish;
	t->level = level;
	forget_prev(t);
	r = adopted;

finish:
	work_free(work, t->n);
	disks_free(target, t->n);
	return r;
}

int timeouts_apply(struct timeouts *t, int level, char *msg, size_t size)
{
	struct content *disk = NULL;
	struct owner *owners = NULL;
	size_t len = 0;
	int r;

	if (!t || level < TUNER_NORMAL || level >= _TUNER_LEVEL_MAX)
		return -EINVAL;
	msg_reset(msg, size);

	if (t->level == TUNER_NORMAL) {
		/* A crash left a state file and nobody recovered: do it now, or the tuned values
		 * on disk would become the "originals". */
		r = recover(t, msg, size, &len);
		if (r < 0)
			return r;
		if (r > 0)
			text_appendf(msg, size, &len, "; ");
		if (level == TUNER_NORMAL) {
			if (r == 0)
				text_appendf(msg, size, &len, "nothing to restore");
			return 0;
		}
	}

	disk = calloc(t->n, sizeof(*disk));
	owners = calloc(t->n, sizeof(*owners));
	if (!disk || !owners) {
		r = -ENOMEM;
		goto finish;
	}
	for (size_t i = 0; i < t->n; i++) {
		r = file_read(t->dir, t->files[i].name, &disk[i], &owners[i]);
		if (r < 0) {
			text_appendf(msg, size, &len, "%s: %s", t->files[i].name, strerror(-r));
			goto finish;
		}
	}
	if (level == TUNER_NORMAL)
		r = apply_normal(t, disk, owners, msg, size, &len);
	else
		r = apply_tuned(t, level, disk, owners, msg, size, &len);
finish:
	disks_free(disk, t->n);
	free(owners);
	return r;
}

int timeouts_check(struct timeouts *t, char *msg, size_t size)
{
	size_t len = 0;
	int adopted = 0, r;

	if (!t)
		return -EINVAL;
	msg_reset(msg, size);
	if (t->level == TUNER_NORMAL)
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		struct tfile *f = &t->files[i];
		struct content disk = {};
		struct owner o = {};
		char a[64], b[64];

		r = file_read(t->dir, f->name, &disk, &o);
		if (r < 0) {
			text_appendf(msg, size, &len, "%s%s: %s", len ? ", " : "", f->name,
				     strerror(-r));
			return r;
		}
		if (!is_ours(f, &disk)) {
			text_appendf(
				msg, size, &len,
				"%s%s changed by the admin from %s to %s: adopted as the original, "
				"left alone until the next level change",
				len ? ", " : "", f->name, describe(&f->expected, a, sizeof(a)),
				describe(&disk, b, sizeof(b)));
			r = adopt(f, &disk, &o);
			if (r < 0) {
				content_clear(&disk);
				return r;
			}
			adopted++;
		}
		content_clear(&disk);
	}
	if (adopted > 0) {
		r = state_save(t->state_path, t->level, t->files, t->n);
		if (r < 0)
			return r;
	}
	return adopted;
}

/* ---- parsers ---- */

int timeouts_parse_value(const char *s, uint64_t *ret_usec)
{
	uint64_t total = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		uint64_t v = 0;
		for (; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > TEN_YEARS_SEC)
				return -ERANGE;
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f')
			p++;
		uint64_t mult;
		bool bare = false;
		switch (*p) {
		case 's':
		case 'S':
			mult = 1;
			break;
		case 'm':
		case 'M':
			mult = 60;
			break;
		case 'h':
		case 'H':
			mult = 3600;
			break;
		case 'd':
		case 'D':
			mult = 86400;
			break;
		case 'w':
		case 'W':
			mult = 7 * 86400;
			break;
		case '\0':
		case '\n':
			mult = 1;
			bare = true;
			break;
		default:
			return -EINVAL; /* Courier stops here and drops the number */
		}
		if (!bare)
			p++;
		total += v * mult;
		if (total > TEN_YEARS_SEC)
			return -ERANGE;
		if (bare)
			break;
	}
	if (total == 0)
		return -EINVAL;
	*ret_usec = total * USEC_PER_SEC;
	return 0;
}
