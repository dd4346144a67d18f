/* Tests for traplist: the entry forms and what they match, bad lines with file:line, the trust
 * checks and bounds of the file, reloading a changed file (a refusal told once, the old list
 * kept), and the shipped courier-trap jail through the engine with hostile recipients: only a
 * listed value counts, and the address banned is always the one Courier wrote. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"
#include "engine.h"
#include "logline.h"
#include "testutil.h"
#include "timeutil.h"
#include "traplist.h"

/* Whether some error starts with prefix and contains needle. */
static bool has_error(const struct config_errors *e, const char *prefix, const char *needle)
{
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->msgs[i], prefix, strlen(prefix)) == 0 && strstr(e->msgs[i], needle))
			return true;
	return false;
}

#define assert_error(e, prefix, needle)                                                            \
	ck_assert_msg(has_error(e, prefix, needle), "no error '%s...%s' among:\n%s", prefix,       \
		      needle, test_errors_text(e))

/* Replaces dir/name with text (a new file, mode 0644, renamed over the old one). */
static void put_list(const char *dir, const char *name, const char *text)
{
	char tmp[4200], path[4200];

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	test_printf(tmp, "%s", text);
	ck_assert_int_eq(chmod(tmp, 0644), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static bool has(const struct traplist *t, const char *value)
{
	return traplist_contains(t, value, strlen(value));
}

/* ---- entries ---- */

START_TEST(test_entry_forms)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_(traplist_freep) struct traplist *t = NULL;
	struct config_errors e = { 0 };
	char path[4200];

	put_list(dir, "list",
		 "# retired\n"
		 "Old.Name@Example.COM\n"
		 "\n"
		 "   @retired.example   # a whole domain\n"
		 "admin\t# a login name\r\n"
		 "old.name@example.com\n" /* the same entry again */
		 "\"a@b\"@quoted.example\n"
		 "last@example.com"); /* no newline at the end */
	snprintf(path, sizeof(path), "%s/list", dir);
	ck_assert_msg(traplist_load(path, &t, &e) == 0, "%s", test_errors_text(&e));
	ck_assert_uint_eq(e.n, 0);
	ck_assert_str_eq(traplist_path(t), path);
	ck_assert_uint_eq(traplist_size(t), 5);

	/* An address, in any ASCII case. */
	ck_assert(has(t, "old.name@example.com"));
	ck_assert(has(t, "OLD.NAME@EXAMPLE.COM"));
	ck_assert(!has(t, "other@example.com"));
	ck_assert(!has(t, "old.name@example.com.evil"));
	ck_assert(!has(t, "old.name"));
	ck_assert(has(t, "last@example.com"));
	/* A domain: every address at it, not its subdomains nor a bare name. */
	ck_assert(has(t, "anyone@retired.example"));
	ck_assert(has(t, "X@RETIRED.Example"));
	ck_assert(has(t, "a@b@retired.example"));
	ck_assert(!has(t, "anyone@sub.retired.example"));
	ck_assert(!has(t, "retired.example"));
	/* A login name: exactly, never as a local part. */
	ck_assert(has(t, "admin"));
	ck_assert(has(t, "Admin"));
	ck_assert(!has(t, "admin@example.com"));
	ck_assert(!has(t, "admin2"));
	ck_assert(has(t, "\"a@b\"@quoted.example"));
	/* Lengths: none, a value with the entry as its prefix, and far too long. */
	ck_assert(!traplist_contains(t, "admin", 0));
	ck_assert(traplist_contains(t, "admins", 5)); /* a value is its length, not a string */
	char huge[10000];
	memset(huge, 'a', sizeof(huge));
	memcpy(huge + sizeof(huge) - 16, "@retired.example", 16);
	ck_assert(!traplist_contains(t, huge, sizeof(huge)));
	ck_assert(traplist_contains(t, huge + sizeof(huge) - 200, 200));
	ck_assert(!traplist_contains(t, huge + sizeof(huge) - 255, 255));
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_empty_list)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_(traplist_freep) struct traplist *t = NULL;
	struct config_errors e = { 0 };
	char path[4200];

	put_list(dir, "list", "# nothing yet\n\n");
	snprintf(path, sizeof(path), "%s/list", dir);
	ck_assert_int_eq(traplist_load(path, &t, &e), 0);
	ck_assert_uint_eq(traplist_size(t), 0);
	ck_assert(!has(t, "admin"));
	ck_assert(!has(t, "a@b"));
	test_rm_rf(dir);
}
END_TEST

/* Each bad line is an error at its own line, and the whole file is refused. */
START_TEST(test_bad_lines)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_(traplist_freep) struct traplist *t = NULL;
	struct config_errors e = { 0 };
	char path[4200], text[2000], p[4300];

	snprintf(text, sizeof(text),
		 "good@example.com\n"
		 "two words\n"
		 "<x@example.com>\n"
		 "a,b@example.com\n"
		 "user@\n"
		 "@\n"
		 "@a@b.example\n"
		 "%0255d\n"
		 "ctl\001@example.com\n"
		 "good2@example.com # fine\n",
		 0);
	put_list(dir, "list", text);
	snprintf(path, sizeof(path), "%s/list", dir);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_msg(e.n == 8, "%s", test_errors_text(&e));
	snprintf(p, sizeof(p), "%s:2: ", path);
	assert_error(&e, p, "'two': expected one entry a line");
	snprintf(p, sizeof(p), "%s:3: ", path);
	assert_error(&e, p, "byte 0x3c at column 1");
	snprintf(p, sizeof(p), "%s:4: ", path);
	assert_error(&e, p, "byte 0x2c at column 2");
	snprintf(p, sizeof(p), "%s:5: ", path);
	assert_error(&e, p, "'user@': expected user@domain or @domain");
	snprintf(p, sizeof(p), "%s:6: ", path);
	assert_error(&e, p, "'@': expected user@domain or @domain");
	snprintf(p, sizeof(p), "%s:7: ", path);
	assert_error(&e, p, "'@a@b.example': expected user@domain or @domain");
	snprintf(p, sizeof(p), "%s:8: ", path);
	assert_error(&e, p, "expected an entry of at most 254 bytes");
	snprintf(p, sizeof(p), "%s:9: ", path);
	assert_error(&e, p, "byte 0x01 at column 4");
	config_errors_clear(&e);

	/* A file of garbage: ten lines told one by one, the rest counted. */
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 500; i++)
		fprintf(f, "<%d>\n", i);
	fclose(f);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EINVAL);
	ck_assert_msg(e.n == 11, "%s", test_errors_text(&e));
	snprintf(p, sizeof(p), "%s: ", path);
	assert_error(&e, p, "490 more bad lines");
	config_errors_clear(&e);
	test_rm_rf(dir);
}
END_TEST

/* ---- the file: trust and bounds ---- */

START_TEST(test_trust)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_(traplist_freep) struct traplist *t = NULL;
	struct config_errors e = { 0 };
	char path[4200], p[4300];

	put_list(dir, "list", "spam@example.com\n");
	snprintf(path, sizeof(path), "%s/list", dir);
	snprintf(p, sizeof(p), "%s: ", path);

	ck_assert_int_eq(chmod(path, 0646), 0);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EPERM);
	ck_assert_ptr_null(t);
	assert_error(&e, p, "writable by group or others");
	config_errors_clear(&e);
	ck_assert_int_eq(chmod(path, 0664), 0);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EPERM);
	config_errors_clear(&e);
	ck_assert_int_eq(chmod(path, 0644), 0);

	/* A directory others may write lets them replace the file. */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EPERM);
	snprintf(p, sizeof(p), "%s: ", dir);
	assert_error(&e, p, "directory writable by group or others (sticky)");
	config_errors_clear(&e);
	ck_assert_int_eq(chmod(dir, 0700), 0);

	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 65534, 0), 0);
		ck_assert_int_eq(traplist_load(path, &t, &e), -EPERM);
		snprintf(p, sizeof(p), "%s: owned by ", path);
		assert_error(&e, p, "not by root");
		config_errors_clear(&e);
		ck_assert_int_eq(chown(path, 0, 0), 0);
	}
	ck_assert_int_eq(traplist_load(path, &t, &e), 0);
	ck_assert(has(t, "spam@example.com"));
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_bounds)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_(traplist_freep) struct traplist *t = NULL;
	struct config_errors e = { 0 };
	char path[4200], p[4300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/list", dir);
	ck_assert_int_eq(traplist_load(path, &t, &e), -ENOENT);
	snprintf(p, sizeof(p), "%s: cannot open", path);
	assert_error(&e, p, "No such file");
	config_errors_clear(&e);

	/* The most entries a list may have, then one more. */
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (int i = 0; i < TRAPLIST_MAX_ENTRIES; i++)
		fprintf(f, "u%d@example.com\n", i);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_msg(traplist_load(path, &t, &e) == 0, "%s", test_errors_text(&e));
	ck_assert_uint_eq(traplist_size(t), TRAPLIST_MAX_ENTRIES);
	ck_assert(has(t, "u0@example.com"));
	ck_assert(has(t, "u99999@example.com"));
	ck_assert(!has(t, "u100000@example.com"));
	t = traplist_free(t);
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fprintf(f, "one.more@example.com\n");
	fclose(f);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EINVAL);
	snprintf(p, sizeof(p), "%s:%d: ", path, TRAPLIST_MAX_ENTRIES + 1);
	assert_error(&e, p, "more than 100000 entries");
	config_errors_clear(&e);

	/* A file over the size bound, however it is made up. */
	ck_assert_int_eq(truncate(path, TRAPLIST_MAX_FILE + 1), 0);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EFBIG);
	snprintf(p, sizeof(p), "%s: larger than", path);
	assert_error(&e, p, "bytes");
	config_errors_clear(&e);

	/* Not a regular file: refused, and a FIFO does not block the loader. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(traplist_load(path, &t, &e), -EINVAL);
	snprintf(p, sizeof(p), "%s: not a regular file", path);
	assert_error(&e, p, "");
	config_errors_clear(&e);
	test_rm_rf(dir);
}
END_TEST

/* ---- reloading ---- */

START_TEST(test_refresh)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	_cleanup_(traplist_freep) struct traplist *t = NULL;
	struct config_errors e = { 0 };
	char path[4200], p[4300];

	put_list(dir, "list", "first@example.com\n");
	snprintf(path, sizeof(path), "%s/list", dir);
	ck_assert_int_eq(traplist_load(path, &t, &e), 0);
	ck_assert_int_eq(traplist_refresh(t, &e), 0);

	/* A new file: the new list, and only it. */
	put_list(dir, "list", "second@example.com\n@trap.example\n");
	ck_assert_int_eq(traplist_refresh(t, &e), 1);
	ck_assert(has(t, "second@example.com"));
	ck_assert(has(t, "x@trap.example"));
	ck_assert(!has(t, "first@example.com"));
	ck_assert_uint_eq(traplist_size(t), 2);
	ck_assert_int_eq(traplist_refresh(t, &e), 0);
	/* The same text written again is no news. */
	put_list(dir, "list", "second@example.com\n@trap.example\n");
	ck_assert_int_eq(traplist_refresh(t, &e), 0);

	/* Rewritten in place with as many bytes, right after a look: the file's times may not
	 * move within the clock's tick, the list does. */
	test_printf(path, "third@example.com\n@trap.example\n");
	ck_assert_int_eq(traplist_refresh(t, &e), 1);
	ck_assert(has(t, "third@example.com"));
	test_printf(path, "forth@example.com\n@trap.example\n");
	ck_assert_int_eq(traplist_refresh(t, &e), 1);
	ck_assert(has(t, "forth@example.com"));
	ck_assert(!has(t, "third@example.com"));
	ck_assert_uint_eq(e.n, 0);

	/* A broken file: refused once, told once, the old list stays. */
	put_list(dir, "list", "fifth@example.com\nnot valid\n");
	ck_assert_int_eq(traplist_refresh(t, &e), -EINVAL);
	snprintf(p, sizeof(p), "%s:2: ", path);
	assert_error(&e, p, "expected one entry a line");
	config_errors_clear(&e);
	ck_assert(has(t, "forth@example.com"));
	ck_assert(!has(t, "fifth@example.com"));
	ck_assert_int_eq(traplist_refresh(t, &e), 0);
	ck_assert_int_eq(traplist_refresh(t, &e), 0);
	ck_assert_uint_eq(e.n, 0);

	/* Mended: the new list, even when the text is the one in force. */
	put_list(dir, "list", "forth@example.com\n@trap.example\n");
	ck_assert_int_eq(traplist_refresh(t, &e), 1);
	ck_assert_int_eq(traplist_refresh(t, &e), 0);

	/* Made writable by others: refused, told once; then put right. */
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(traplist_refresh(t, &e), -EPERM);
	snprintf(p, sizeof(p), "%s: writable", path);
	assert_error(&e, p, "refused");
	config_errors_clear(&e);
	ck_assert_int_eq(traplist_refresh(t, &e), 0);
	ck_assert(has(t, "forth@example.com"));
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(traplist_refresh(t, &e), 1);

	/* Removed: told once, the list stays; back again: loaded. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(traplist_refresh(t, &e), -ENOENT);
	ck_assert_uint_eq(e.n, 1);
	config_errors_clear(&e);
	ck_assert_int_eq(traplist_refresh(t, &e), 0);
	ck_assert_uint_eq(e.n, 0);
	ck_assert(has(t, "forth@example.com"));
	put_list(dir, "list", "sixth@example.com\n");
	ck_assert_int_eq(traplist_refresh(t, &e), 1);
	ck_assert(has(t, "sixth@example.com"));
	ck_assert(!has(t, "forth@example.com"));
	test_rm_rf(dir);
}
END_TEST

/* ---- the shipped jail through the engine ---- */

struct trapfx {
	char *dir;
	struct config *c;
	struct engine *e;
	struct engine_jail *ej;
	uint64_t now;
};

/* The shipped configuration with courier-trap enabled and list as its trap list. */
static void trapfx_init(struct trapfx *f, const char *list)
{
	struct config_errors errs = { 0 };
	char cmd[9000];

	memset(f, 0, sizeof(*f));
	f->dir = test_mkdtemp();
	snprintf(cmd, sizeof(cmd),
		 "cp -r '%1$s/waveguard.conf' '%1$s/conf.d' '%1$s/filters' '%1$s/actions' '%2$s/' "
		 "&& printf '[courier-trap]\\nenabled = yes\\n' >'%2$s/conf.d/courier.local' && "
		 "chmod -R go-w '%2$s'",
		 test_srcdir(), f->dir);
	ck_assert_int_eq(system(cmd), 0);
	put_list(f->dir, "trap-recipients", list);
	ck_assert_msg(config_load(f->dir, &f->c, &errs) == 0, "%s", test_errors_text(&errs));
	ck_assert_msg(engine_new(f->c, "courier-trap", &f->e, &errs) == 0, "%s",
		      test_errors_text(&errs));
	f->ej = engine_find_jail(f->e, "courier-trap");
	ck_assert_ptr_nonnull(f->ej);
	ck_assert_ptr_nonnull(f->ej->trap);
	f->now = 1795761409ULL * USEC_PER_SEC;
}

static void trapfx_done(struct trapfx *f)
{
	engine_free(f->e);
	config_free(f->c);
	test_rm_rf(f->dir);
	free(f->dir);
}

/* The address a line bans ("none" when it bans nobody). */
static const char *feed(struct trapfx *f, const char *line)
{
	static char buf[ADDR_STRLEN];
	struct timeutil_clock clock;
	struct logline l;
	struct jail_ban b;

	timeutil_clock_init(&clock, f->now);
	logline_parse(&clock, line, strlen(line), &l);
	f->now += USEC_PER_SEC;
	if (engine_feed(f->ej, &l, f->now, &b) != ENGINE_BAN)
		return "none";
	return addr_format(&b.addr, buf, sizeof(buf));
}

#define SMTP "2026-11-27T06:36:49+00:00 mail courieresmtpd: "

START_TEST(test_jail_counts_listed_only)
{
	struct trapfx f;

	trapfx_init(&f, "trap@example.com\n@retired.example\nadmin\n");
	/* Unknown recipients and failed logins that are not in the list ban nobody, however
	 * many. */
	for (int i = 0; i < 20; i++) {
		ck_assert_str_eq(feed(&f,
				      SMTP "error,relay=::ffff:192.0.2.10,port=1,from=<a@x.test>,"
					   "to=<nosuch@example.com>: 550 User <nosuch> unknown"),
				 "none");
		ck_assert_str_eq(feed(&f, "2026-11-27T06:36:49+00:00 mail imapd: LOGIN FAILED, "
					  "user=root, ip=[::ffff:192.0.2.10], port=[143]"),
				 "none");
	}
	ck_assert_uint_eq(f.ej->trap_misses, 40);
	ck_assert_uint_eq(jail_tracked(f.ej->jail), 0);
	/* One mail to a listed address, domain or one login with a listed name: a ban. */
	ck_assert_str_eq(feed(&f, SMTP "error,relay=::ffff:192.0.2.11,port=1,from=<a@x.test>,"
				       "to=<Trap@Example.com>: 550 User <Trap> unknown"),
			 "192.0.2.11");
	ck_assert_str_eq(feed(&f, SMTP "error,relay=::ffff:192.0.2.12,port=1,from=<a@x.test>,"
				       "to=<sales@retired.example>: 513 Relaying denied."),
			 "192.0.2.12");
	ck_assert_str_eq(feed(&f, "2026-11-27T06:36:49+00:00 mail pop3d: LOGIN FAILED, "
				  "user=admin, ip=[2001:db8::5]"),
			 "2001:db8::/64");
	/* A listed recipient in a line that is no refusal (a DNSBL reject) does not count here. */
	ck_assert_str_eq(feed(&f, SMTP "error,relay=::ffff:192.0.2.13,port=1,from=<a@x.test>,"
				       "to=<trap@example.com>: 511 Listed"),
			 "none");
	trapfx_done(&f);
}
END_TEST

/* Client text that names another address, or hides the trap, never bans anyone but the relay
 * Courier wrote. */
START_TEST(test_jail_hostile_recipients)
{
	struct trapfx f;
	char line[2000], list[600];

	/* The longest entry there may be, too. */
	snprintf(list, sizeof(list),
		 "trap@example.com\nrelay=::ffff:203.0.113.9@example.com\n%0238d"
		 "trap@example.com\n",
		 0);
	trapfx_init(&f, list);
	/* A recipient full of another address: the relay still. */
	ck_assert_str_eq(feed(&f, SMTP
			      "error,relay=::ffff:192.0.2.20,port=1,from=<a@x.test>,"
			      "to=<relay=::ffff:203.0.113.9@example.com>: 550 User <x> unknown"),
			 "192.0.2.20");
	/* A listed address in from=<> (client text) with another recipient: nothing. */
	ck_assert_str_eq(
		feed(&f,
		     SMTP "error,relay=::ffff:192.0.2.21,port=1,from=<x>,to=<trap@example.com>: "
			  "550 User <x> unknown>,to=<other@example.com>: 550 User <o> unknown"),
		"none");
	/* The same in the real recipient's place: the relay, not an address of the text. */
	ck_assert_str_eq(feed(&f,
			      SMTP "error,relay=::ffff:192.0.2.22,port=1,from=<x>,relay=::ffff:"
				   "203.0.113.7,port=1,from=<y>,to=<trap@example.com>: 550 User "
				   "<trap> unknown"),
			 "192.0.2.22");
	/* A login name that carries an ip=[...] of its own matches no trap. */
	ck_assert_str_eq(feed(&f, "2026-11-27T06:36:49+00:00 mail imapd: LOGIN FAILED, "
				  "user=trap@example.com, ip=[::ffff:203.0.113.8], "
				  "ip=[::ffff:192.0.2.23], port=[143]"),
			 "none");
	/* A recipient as long as <USER> takes and as the longest entry: a hit; longer, ending in
	 * a listed one: nothing, and no overrun. */
	snprintf(line, sizeof(line),
		 SMTP "error,relay=::ffff:192.0.2.26,port=1,from=<a@x.test>,to=<%0238dtrap@example."
		      "com>: 550 User <x> unknown",
		 0);
	ck_assert_str_eq(feed(&f, line), "192.0.2.26");
	snprintf(line, sizeof(line),
		 SMTP "error,relay=::ffff:192.0.2.24,port=1,from=<a@x.test>,to=<%0900dtrap@example."
		      "com>: 550 User <x> unknown",
		 0);
	ck_assert_str_eq(feed(&f, line), "none");
	snprintf(line, sizeof(line),
		 SMTP "error,relay=::ffff:192.0.2.25,port=1,from=<a@x.test>,to=<%0239dtrap@example."
		      "com>: 550 User <x> unknown",
		 0);
	ck_assert_str_eq(feed(&f, line), "none");
	trapfx_done(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("traplist");
	TCase *tc = tcase_create("list");
	tcase_add_test(tc, test_entry_forms);
	tcase_add_test(tc, test_empty_list);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_trust);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_refresh);
	suite_add_tcase(s, tc);
	tc = tcase_create("jail");
	tcase_add_test(tc, test_jail_counts_listed_only);
	tcase_add_test(tc, test_jail_hostile_recipients);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
