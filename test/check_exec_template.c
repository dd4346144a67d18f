/* Tests for exec_template: the shell-like split of a command template (a table of inputs and
 * the argv each must give, a table of refusals and their messages) and the expansion of the
 * words, values never split nor joined. Running real commands is check_ban_exec's. */
#include <stdbool.h>
#include <sys/types.h>

#include "exec_template.h"
#include "testutil.h"

#define MAX_WORDS 16

struct parse_case {
	const char *text;
	const char *argv[MAX_WORDS]; /* NULL-terminated */
};

static const struct parse_case ok_cases[] = {
	/* blanks */
	{ "/bin/true", { "/bin/true" } },
	{ " \t/bin/x\t a   b  ", { "/bin/x", "a", "b" } },
	{ "/usr/local/bin/notify --ip %ip% %jail%",
	  { "/usr/local/bin/notify", "--ip", "%ip%", "%jail%" } },
	/* the issue's example: one -s argument, quotes gone */
	{ "/usr/bin/mail -s \"banned %ip%\" root",
	  { "/usr/bin/mail", "-s", "banned %ip%", "root" } },
	{ "/usr/bin/mail -s 'banned %ip%' root", { "/usr/bin/mail", "-s", "banned %ip%", "root" } },
	/* single quotes: everything literal, backslashes and double quotes included */
	{ "/bin/x 'a \\\" b' '$HOME' '`id`' 'a|b;c&d<e>f(g)' '#x'",
	  { "/bin/x", "a \\\" b", "$HOME", "`id`", "a|b;c&d<e>f(g)", "#x" } },
	/* double quotes: \" \\ \$ \` are escapes, any other backslash stays */
	{ "/bin/x \"say \\\"hi\\\"\" \"a\\\\b\" \"\\$HOME\" \"\\`id\\`\" \"a\\nb\" \"c\\'d\"",
	  { "/bin/x", "say \"hi\"", "a\\b", "$HOME", "`id`", "a\\nb", "c\\'d" } },
	{ "/bin/x \"it's\" \"a|b;c&d<e>f(g) #x\"", { "/bin/x", "it's", "a|b;c&d<e>f(g) #x" } },
	/* backslash outside quotes: the next character, whatever it is */
	{ "/bin/x a\\ b \\\"q\\\" \\'s\\' \\\\ \\$HOME \\| \\; \\# \\a",
	  { "/bin/x", "a b", "\"q\"", "'s'", "\\", "$HOME", "|", ";", "#", "a" } },
	/* adjacent parts make one word */
	{ "/bin/x \"a\"'b'c d\"e f\"g 'h'\\ i", { "/bin/x", "abc", "de fg", "h i" } },
	{ "/bin/x --subject=\"banned %ip%\"", { "/bin/x", "--subject=banned %ip%" } },
	/* empty words */
	{ "/bin/x \"\" '' a\"\"b ''\"\"", { "/bin/x", "", "", "ab", "" } },
	{ "/bin/x \"\"", { "/bin/x", "" } },
	/* a quoted program path, spaces and all */
	{ "\"/opt/my tools/notify\" %ip%", { "/opt/my tools/notify", "%ip%" } },
	{ "'/bin/true'", { "/bin/true" } },
	/* no globbing, no tilde, no braces; # inside a word; a lone $ */
	{ "/bin/x * ?.log [ab] ~ ~root {a,b} a#b $ a$ \"$\" \"x $ y\"",
	  { "/bin/x", "*", "?.log", "[ab]", "~", "~root", "{a,b}", "a#b", "$", "a$", "$",
	    "x $ y" } },
	/* placeholders and %% are left for the expansion, quoted or not */
	{ "/bin/echo 100%% %ip%%jail%%bantime% x%%ip%%y '%ip%' \"%%\"",
	  { "/bin/echo", "100%%", "%ip%%jail%%bantime%", "x%%ip%%y", "%ip%", "%%" } },
	{ "/usr/bin/logger -t waveguard-notify banned %ip% in %jail% for %bantime%s",
	  { "/usr/bin/logger", "-t", "waveguard-notify", "banned", "%ip%", "in", "%jail%", "for",
	    "%bantime%s" } },
	/* UTF-8 passes as bytes */
	{ "/bin/x \"café\" naïve", { "/bin/x", "café", "naïve" } },
};

struct bad_case {
	const char *text;
	const char *error; /* a part of the message */
};

static const struct bad_case bad_cases[] = {
	{ "", "empty command" },
	{ " \t  ", "empty command" },
	{ "notify %ip%", "not an absolute path" },
	{ "./notify %ip%", "not an absolute path" },
	{ "%ip% /bin/x", "not an absolute path" },
	{ "\"\" /bin/x", "program \"\" is not an absolute path" },
	{ "\"notify\" x", "program \"notify\" is not an absolute path" },
	{ "/usr/local/bin/%jail%", "program path must be literal" },
	{ "/bin/100%%", "program path must be literal" },
	{ "\"/bin/%ip%\"", "program path must be literal" },
	{ "/bin/echo %ipaddr%", "unknown placeholder %ipaddr%" },
	{ "/bin/echo %IP%", "unknown placeholder %IP%" },
	{ "/bin/echo a%%b %host%", "unknown placeholder %host%" },
	{ "/bin/echo \"a %host% b\"", "unknown placeholder %host% in \"a %host% b\"" },
	{ "/bin/echo %ip", "unterminated %" },
	{ "/bin/echo 50%", "unterminated %" },
	{ "/bin/echo %ip%%", "unterminated %" },
	{ "/bin/echo '50%'", "unterminated %" },
	/* control characters, quoted or escaped too */
	{ "/bin/echo a\nb", "control character (0x0a)" },
	{ "/bin/echo a\rb", "control character (0x0d)" },
	{ "/bin/echo 'a\tb'", "control character (0x09)" },
	{ "/bin/echo \"a\x7f\"", "control character (0x7f)" },
	{ "/bin/echo \\\t", "control character (0x09)" },
	/* quotes and backslashes */
	{ "/usr/bin/mail -s \"banned %ip% root", "unterminated \" quote opened at character 18" },
	{ "/usr/bin/mail -s 'banned %ip% root", "unterminated ' quote opened at character 18" },
	{ "/bin/x \"a\\\"", "unterminated \" quote opened at character 8" },
	{ "/bin/x 'it\\'s'", "unterminated ' quote opened at character 14" },
	{ "/bin/x a\\", "backslash at the end of the command (character 9)" },
	/* shell syntax outside quotes: refused, with a pointer to a script */
	{ "/bin/x a | /bin/y", "'|' at character 10: no shell runs the command" },
	{ "/bin/x a|b", "'|' at character 9" },
	{ "/bin/x a; /bin/y", "';' at character 9" },
	{ "/bin/x a && /bin/y", "'&' at character 10" },
	{ "/bin/x a &", "'&' at character 10" },
	{ "/bin/x a > /tmp/f", "'>' at character 10" },
	{ "/bin/x a 2>/dev/null", "'>' at character 11" },
	{ "/bin/x < /etc/passwd", "'<' at character 8" },
	{ "/bin/x (a)", "'(' at character 8" },
	{ "/bin/x a)", "')' at character 9" },
	{ "/bin/x a | /bin/y", "use a script for that, or quote the '|'" },
	{ "/bin/x # comment", "'#' at character 8 would start a comment" },
	/* substitutions outside single quotes */
	{ "/bin/x `id`", "'`' at character 8 is shell substitution" },
	{ "/bin/x \"`id`\"", "'`' at character 9 is shell substitution" },
	{ "/bin/x $(id)", "'$(' at character 8 is shell substitution" },
	{ "/bin/x \"$(id)\"", "'$(' at character 9" },
	{ "/bin/x ${HOME}", "'${' at character 8" },
	{ "/bin/x $HOME", "'$H' at character 8" },
	{ "/bin/x \"a $HOME\"", "'$H' at character 11" },
	{ "/bin/x $1", "'$1' at character 8" },
	{ "/bin/x $$", "'$$' at character 8" },
	{ "/bin/x \"$?\"", "'$?' at character 9" },
	{ "/bin/x $_", "'$_' at character 8" },
	{ "/bin/x $HOME", "use a script for it, or write \\$ for a literal $" },
	{ "/bin/x `id`", "or write \\` for a literal `" },
};

START_TEST(test_parse_table)
{
	const struct parse_case *c = &ok_cases[_i];
	char **argv = NULL, err[256];
	size_t n = 0, want_n = 0;

	while (c->argv[want_n])
		want_n++;
	ck_assert_msg(exec_template_parse(c->text, &argv, &n, err, sizeof(err)) == 0,
		      "[%d] \"%s\": %s", _i, c->text, err);
	ck_assert_str_eq(err, "");
	ck_assert_msg(n == want_n, "[%d] \"%s\": %zu words, expected %zu", _i, c->text, n, want_n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(argv[i], c->argv[i]) == 0,
			      "[%d] \"%s\": word %zu is \"%s\", expected \"%s\"", _i, c->text, i,
			      argv[i], c->argv[i]);
	ck_assert_ptr_null(argv[n]);
	free(argv);
}
END_TEST

START_TEST(test_parse_refused)
{
	const struct bad_case *c = &bad_cases[_i];
	char **argv = (char **)0x1, err[256];
	size_t n = 77;

	ck_assert_msg(exec_template_parse(c->text, &argv, &n, err, sizeof(err)) == -EINVAL,
		      "[%d] \"%s\" was accepted", _i, c->text);
	ck_assert_msg(strstr(err, c->error) != NULL, "[%d] \"%s\": error \"%s\" lacks \"%s\"", _i,
		      c->text, err, c->error);
	ck_assert_ptr_eq(argv, (char **)0x1);
	ck_assert_uint_eq(n, 77);
}
END_TEST

START_TEST(test_parse_arguments)
{
	char **argv = NULL, err[256] = "x";
	size_t n = 0;
	char tiny[4] = "xxx";

	ck_assert_int_eq(exec_template_parse(NULL, &argv, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "no command");
	/* err may be NULL or tiny. */
	ck_assert_int_eq(exec_template_parse("rel", &argv, &n, NULL, 0), -EINVAL);
	ck_assert_int_eq(exec_template_parse("rel", &argv, &n, tiny, sizeof(tiny)), -EINVAL);
	ck_assert_uint_eq(strlen(tiny), 3);
	ck_assert_ptr_null(argv);
}
END_TEST

/* The densest templates: as many words as the allocation allows, and the longest output. */
START_TEST(test_parse_bounds)
{
	char text[4096], **argv = NULL, err[256];
	size_t n = 0, o;

	o = (size_t)snprintf(text, sizeof(text), "/x");
	while (o + 2 < sizeof(text) - 1) {
		text[o++] = ' ';
		text[o++] = 'a';
	}
	text[o] = '\0';
	ck_assert_msg(exec_template_parse(text, &argv, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 1 + (o - 2) / 2);
	ck_assert_str_eq(argv[n - 1], "a");
	ck_assert_ptr_null(argv[n]);
	free(argv);

	/* Empty quoted words: 3 bytes each with their blank. */
	o = (size_t)snprintf(text, sizeof(text), "/x");
	for (int i = 0; i < 1000; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, " ''");
	ck_assert_int_eq(exec_template_parse(text, &argv, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1001);
	ck_assert_str_eq(argv[1000], "");
	free(argv);
}
END_TEST

/* ---- expansion ---- */

static char *expand(const char *word, const char *ip, const char *jail, const char *bantime)
{
	const char *vals[EXEC_TEMPLATE_N_VARS] = { ip, jail, bantime };
	size_t lens[EXEC_TEMPLATE_N_VARS];
	ssize_t len, len2;
	char *out;

	for (int v = 0; v < EXEC_TEMPLATE_N_VARS; v++)
		lens[v] = strlen(vals[v]);
	len = exec_template_expand(word, strlen(word), vals, lens, NULL);
	ck_assert_int_ge(len, 0);
	out = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(out);
	len2 = exec_template_expand(word, strlen(word), vals, lens, out);
	ck_assert_int_eq(len2, len);
	out[len] = '\0';
	return out;
}

static void expect_expand(const char *word, const char *ip, const char *jail, const char *want)
{
	_cleanup_free_ char *got = expand(word, ip, jail, "3600");

	ck_assert_msg(strcmp(got, want) == 0, "\"%s\" gave \"%s\", expected \"%s\"", word, got,
		      want);
}

START_TEST(test_expand)
{
	expect_expand("%ip%", "192.0.2.7", "j", "192.0.2.7");
	expect_expand("banned %ip% in %jail% for %bantime%s", "2001:db8::/64", "courier-smtp",
		      "banned 2001:db8::/64 in courier-smtp for 3600s");
	expect_expand("100%% %%ip%% %ip%%jail%", "a", "b", "100% %ip% ab");
	expect_expand("plain", "a", "b", "plain");
	expect_expand("", "a", "b", "");
	/* A value is copied byte for byte: never parsed as a template or as shell text. */
	expect_expand("x%ip%y", "%jail% %% \"q\" 'q' \\ $(id) ; |", "J",
		      "x%jail% %% \"q\" 'q' \\ $(id) ; |y");
}
END_TEST

START_TEST(test_expand_errors)
{
	const char *vals[EXEC_TEMPLATE_N_VARS] = { "a", "b", "c" };
	size_t lens[EXEC_TEMPLATE_N_VARS] = { 1, 1, 1 };
	static char big[EXEC_TEMPLATE_MAX_BYTES / 2 + 1];
	size_t big_len = sizeof(big) - 1;

	ck_assert_int_eq(exec_template_expand("%nope%", 6, vals, lens, NULL), -EINVAL);
	ck_assert_int_eq(exec_template_expand("50%", 3, vals, lens, NULL), -EINVAL);
	ck_assert_int_eq(exec_template_expand(NULL, 0, vals, lens, NULL), -EINVAL);
	ck_assert_int_eq(exec_template_expand("x", 1, NULL, lens, NULL), -EINVAL);
	/* The length given counts, not the NUL: "%ip%" cut after 3 bytes is unterminated. */
	ck_assert_int_eq(exec_template_expand("%ip%", 3, vals, lens, NULL), -EINVAL);

	memset(big, 'x', big_len);
	vals[EXEC_TEMPLATE_IP] = big;
	lens[EXEC_TEMPLATE_IP] = big_len;
	ck_assert_int_eq(exec_template_expand("%ip%", 4, vals, lens, NULL), (ssize_t)big_len);
	ck_assert_int_eq(exec_template_expand("%ip%%ip%", 8, vals, lens, NULL), 2 * big_len);
	ck_assert_int_eq(exec_template_expand("%ip%%ip%%ip%", 12, vals, lens, NULL), -E2BIG);
}
END_TEST

/* Parse, then expand each word: a value holding blanks, quotes or shell text stays within its
 * argument and never adds one, whichever way the template quotes the placeholder. */
START_TEST(test_values_never_split)
{
	static const struct {
		const char *text;
		const char *argv[MAX_WORDS];
	} cases[] = {
		{ "/bin/x %ip%", { "/bin/x", "IP" } },
		{ "/bin/x \"%ip%\"", { "/bin/x", "IP" } },
		{ "/bin/x '%ip%'", { "/bin/x", "IP" } },
		{ "/bin/x --ip=%ip% %jail%", { "/bin/x", "--ip=IP", "JAIL" } },
		{ "/usr/bin/mail -s \"banned %ip% in %jail%\" root",
		  { "/usr/bin/mail", "-s", "banned IP in JAIL", "root" } },
	};
	const char *ip = "1.2.3.4 --exec=/bin/sh \"x\" 'y' \\ ; $(id)", *jail = "a b";

	for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
		char **argv = NULL, err[256];
		size_t n = 0;

		ck_assert_msg(exec_template_parse(cases[c].text, &argv, &n, err, sizeof(err)) == 0,
			      "%s", err);
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *got = expand(argv[i], ip, jail, "60");
			char want[256] = "";
			const char *w = cases[c].argv[i];

			ck_assert_ptr_nonnull(w);
			/* IP and JAIL in the expected words stand for the values. */
			for (size_t o = 0; *w;) {
				const char *v = strncmp(w, "IP", 2) == 0     ? ip
						: strncmp(w, "JAIL", 4) == 0 ? jail
									     : NULL;
				if (v) {
					o += (size_t)snprintf(want + o, sizeof(want) - o, "%s", v);
					w += v == ip ? 2 : 4;
				} else
					want[o++] = *w++;
			}
			ck_assert_msg(strcmp(got, want) == 0,
				      "%s: word %zu \"%s\", expected \"%s\"", cases[c].text, i, got,
				      want);
		}
		ck_assert_ptr_null(cases[c].argv[n]);
		free(argv);
	}
}
END_TEST

static Suite *exec_template_suite(void)
{
	Suite *s = suite_create("exec_template");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse_table, 0, (int)ELEMENTSOF(ok_cases));
	tcase_add_loop_test(tc, test_parse_refused, 0, (int)ELEMENTSOF(bad_cases));
	tcase_add_test(tc, test_parse_arguments);
	tcase_add_test(tc, test_parse_bounds);
	tcase_add_test(tc, test_expand);
	tcase_add_test(tc, test_expand_errors);
	tcase_add_test(tc, test_values_never_split);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(exec_template_suite());
}
