/* Tests for esmtpd: MAXDAEMONS as Courier's esmtpd file writes it (quotes, export, comments, the
 * last assignment wins, values a shell would expand refused), and the probe's target from
 * ADDRESS and PORT (service names, "address.port" entries, lists, any-address). */
#include <errno.h>
#include <unistd.h>

#include "esmtpd.h"
#include "testutil.h"

START_TEST(test_maxdaemons)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	char path[4200];
	snprintf(path, sizeof(path), "%s/esmtpd", dir);
	static const struct {
		const char *text;
		int r;
		unsigned v;
	} table[] = {
		{ "MAXDAEMONS=40\n", 0, 40 },
		{ "MAXDAEMONS=\"300\"\n", 0, 300 },
		{ "MAXDAEMONS='25'\n", 0, 25 },
		{ "##NAME: MAXDAEMONS:0\n#\n# Maximum number of ESMTP servers started\n#\n"
		  "#MAXDAEMONS=999\n\nMAXDAEMONS=40  # the default\nMAXPERIP=4\n",
		  0, 40 },
		{ "  export MAXDAEMONS=50\n", 0, 50 },
		{ "MAXDAEMONS=40\nMAXDAEMONS=60\n", 0, 60 }, /* the last one wins */
		{ "MAXDAEMONS=40\r\n", 0, 40 },
		{ "MAXDAEMONS=40", 0, 40 }, /* no final newline */
		{ "MAXPERIP=4\nMAXPERC=8\n", -ENOENT, 0 },
		{ "# MAXDAEMONS=40\n", -ENOENT, 0 },
		{ "XMAXDAEMONS=40\nMAXDAEMONSX=3\n", -ENOENT, 0 },
		{ "", -ENOENT, 0 },
		{ "MAXDAEMONS=\n", -EINVAL, 0 },
		{ "MAXDAEMONS=0\n", -EINVAL, 0 },
		{ "MAXDAEMONS=$X\n", -EINVAL, 0 },
		{ "MAXDAEMONS=40x\n", -EINVAL, 0 },
		{ "MAXDAEMONS=\"40\n", -EINVAL, 0 },
		{ "MAXDAEMONS=-1\n", -EINVAL, 0 },
		{ "MAXDAEMONS=40\nMAXDAEMONS=oops\n", -EINVAL, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		unsigned v = 7;
		test_write(dir, "esmtpd", "w", table[i].text);
		int r = esmtpd_read_maxdaemons(path, &v);
		ck_assert_msg(r == table[i].r, "case %zu: %d, want %d", i, r, table[i].r);
		ck_assert_uint_eq(v, r == 0 ? table[i].v : 7);
	}
	unlink(path);
	unsigned v;
	ck_assert_int_eq(esmtpd_read_maxdaemons(path, &v), -ENOENT);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_listen_target)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	char path[4200];
	snprintf(path, sizeof(path), "%s/esmtpd", dir);
	static const struct {
		const char *text;
		int r;
		const char *addr;
		unsigned port;
	} table[] = {
		/* Debian's default: every address, the smtp service. */
		{ "ADDRESS=0\nPORT=smtp\n", 0, "127.0.0.1", 25 },
		{ "PORT=25\n", 0, "127.0.0.1", 25 },
		{ "ADDRESS=0.0.0.0\nPORT=2525\n", 0, "127.0.0.1", 2525 },
		{ "ADDRESS=::\nPORT=\"25\"\n", 0, "127.0.0.1", 25 },
		/* A public address only: the probe must go there, 127.0.0.1 is refused. */
		{ "ADDRESS=203.0.113.5\nPORT=smtp\n", 0, "203.0.113.5", 25 },
		{ "ADDRESS=2001:db8::5\nPORT=25\n", 0, "2001:db8::5", 25 },
		/* Per-port addresses win over ADDRESS; the first entry is the one probed. */
		{ "ADDRESS=0\nPORT=127.0.0.1.2525,192.0.2.1.25\n", 0, "127.0.0.1", 2525 },
		{ "PORT=smtp,submission\n", 0, "127.0.0.1", 25 },
		{ "PORT=submission\n", 0, "127.0.0.1", 587 },
		{ "PORT=25\nPORT=26\n", 0, "127.0.0.1", 26 },
		{ "ADDRESS=0\n", -ENOENT, NULL, 0 },
		{ "PORT=\n", -EINVAL, NULL, 0 },
		{ "PORT=0\n", -EINVAL, NULL, 0 },
		{ "PORT=70000\n", -EINVAL, NULL, 0 },
		{ "PORT=no-such-service-here\n", -EINVAL, NULL, 0 },
		{ "ADDRESS=mail.example.test\nPORT=25\n", -EINVAL, NULL, 0 },
		{ "ADDRESS=$IP\nPORT=25\n", -EINVAL, NULL, 0 },
		{ "PORT=\"25\n", -EINVAL, NULL, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		char addr[64] = "untouched";
		uint16_t port = 7;
		test_write(dir, "esmtpd", "w", table[i].text);
		int r = esmtpd_listen_target(path, addr, sizeof(addr), &port);
		ck_assert_msg(r == table[i].r, "case %zu: %d, want %d", i, r, table[i].r);
		if (r == 0) {
			ck_assert_str_eq(addr, table[i].addr);
			ck_assert_uint_eq(port, table[i].port);
		} else {
			ck_assert_str_eq(addr, "untouched");
			ck_assert_uint_eq(port, 7);
		}
	}
	unlink(path);
	char addr[64];
	uint16_t port;
	ck_assert_int_eq(esmtpd_listen_target(path, addr, sizeof(addr), &port), -ENOENT);
	test_rm_rf(dir);
}
END_TEST

START_TEST(test_read_var)
{
	_cleanup_free_ char *dir = test_mkdtemp();
	char path[4200], v[8];
	snprintf(path, sizeof(path), "%s/esmtpd", dir);

	test_write(dir, "esmtpd", "w", "BLACKLISTS=\"-block=zone,BLOCK,*\"  # comment\nX=1 2\n");
	ck_assert_int_eq(esmtpd_read_var(path, "BLACKLISTS", v, sizeof(v)), -ENAMETOOLONG);
	ck_assert_int_eq(esmtpd_read_var(path, "X", v, sizeof(v)), -EINVAL);
	ck_assert_int_eq(esmtpd_read_var(path, "Y", v, sizeof(v)), -ENOENT);
	test_write(dir, "esmtpd", "w", "A='x y'\n");
	ck_assert_int_eq(esmtpd_read_var(path, "A", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "x y");
	test_rm_rf(dir);
}
END_TEST

static Suite *esmtpd_suite(void)
{
	Suite *s = suite_create("esmtpd");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_maxdaemons);
	tcase_add_test(tc, test_listen_target);
	tcase_add_test(tc, test_read_var);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(esmtpd_suite());
}
