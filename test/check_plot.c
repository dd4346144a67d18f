/* Tests for plot: the SVG of a recorded spam wave (test/fixtures/history/wave.csv, a file of the
 * version before the reaped column) is accepted by a real XML parser (xmllint, Debian package
 * libxml2-utils), has one polyline point per row, one ban marker per row with new bans, one red
 * marker per failed probe, tuner bands; Courier's MAXDAEMONS line, the counts on the ban marks,
 * the reaped marks; empty, single-row and all-zero histories still give valid SVG; text is
 * XML-escaped. */
#include <inttypes.h>
#include <stdint.h>
#include <sys/wait.h>

#include "history.h"
#include "macro.h"
#include "plot.h"
#include "testutil.h"

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

static struct rows load_fixture(void)
{
	_cleanup_free_ char *path = NULL;
	struct rows rows = {};
	unsigned bad = 99;

	ck_assert_int_ge(asprintf(&path, "%s/test/fixtures/history/wave.csv", test_srcdir()), 0);
	int n = history_read(path, 0, collect, &rows, &bad);
	ck_assert_msg(n > 0, "%s: %s", path, strerror(-n));
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(rows.n, (size_t)n);
	return rows;
}

/* Renders to a string, with a MAXDAEMONS line when max_daemons is not 0. */
static char *render_limit(const struct history_row *rows, size_t n, const char *title,
			  uint32_t max_daemons)
{
	char *s = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&s, &size);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(plot_svg(m, rows, n, title, max_daemons), 0);
	ck_assert_int_eq(fclose(m), 0);
	ck_assert_uint_eq(strlen(s), size);
	return s;
}

static char *render(const struct history_row *rows, size_t n, const char *title)
{
	return render_limit(rows, n, title, 0);
}

/* Well-formed XML according to libxml2's parser. */
static void assert_valid_xml(const char *svg)
{
	if (system("command -v xmllint >/dev/null 2>&1") != 0)
		ck_abort_msg("xmllint not found: install the Debian package libxml2-utils");

	_cleanup_free_ char *dir = test_mkdtemp();
	test_write(dir, "chart.svg", "w", svg);
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s/chart.svg'", dir);
	int status = system(cmd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "xmllint rejects the SVG (kept in %s/chart.svg)", dir);
	test_rm_rf(dir);
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Parses the points of <polyline class="cls">; returns the number of points (-1: no such
 * polyline), checking that every point lies on the canvas and that x never decreases. */
static long polyline_points(const char *svg, const char *cls)
{
	char head[64];
	snprintf(head, sizeof(head), "<polyline class=\"%s\"", cls);
	const char *p = strstr(svg, head);
	if (!p)
		return -1;
	ck_assert_ptr_null(strstr(p + 1, head)); /* exactly one */
	p = strstr(p, " points=\"");
	ck_assert_ptr_nonnull(p);
	p += strlen(" points=\"");
	const char *end = strchr(p, '"');
	ck_assert_ptr_nonnull(end);

	long n = 0;
	double last_x = -1;
	while (p < end) {
		char *e;
		double x = strtod(p, &e);
		ck_assert_msg(e != p && *e == ',', "bad point at '%.20s'", p);
		p = e + 1;
		double y = strtod(p, &e);
		ck_assert_msg(e != p && (*e == ' ' || e == end), "bad point at '%.20s'", p);
		p = *e == ' ' ? e + 1 : e;
		ck_assert(x >= 0 && x <= 1000 && y >= 0 && y <= 420);
		ck_assert(x >= last_x);
		last_x = x;
		n++;
	}
	return n;
}

static void assert_self_contained(const char *svg)
{
	ck_assert_ptr_nonnull(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	ck_assert_ptr_null(strstr(svg, "<script"));
	ck_assert_ptr_null(strstr(svg, "href"));
	ck_assert_ptr_null(strstr(svg, "url("));
	ck_assert_ptr_null(strstr(svg, "<image"));
	ck_assert_ptr_null(strstr(svg, "@import"));
	ck_assert_ptr_null(strstr(svg, " on")); /* no event handler attributes */
	ck_assert_ptr_null(strstr(svg, "nan"));
	ck_assert_ptr_null(strstr(svg, "inf"));
}

START_TEST(test_wave)
{
	struct rows rows = load_fixture();
	size_t bans = 0, failures = 0, backlog = 0;
	for (size_t i = 0; i < rows.n; i++) {
		bans += rows.v[i].new_bans > 0;
		failures += rows.v[i].probe_ms < 0;
		backlog += rows.v[i].backlog > 0;
	}
	/* The fixture is what the article describes: a wave to 301 with bans and failed probes. */
	ck_assert_uint_gt(rows.n, 60);
	ck_assert_uint_gt(bans, 10);
	ck_assert_uint_ge(failures, 3);
	ck_assert_uint_gt(backlog, 0);

	_cleanup_free_ char *svg = render(rows.v, rows.n, "mail.example.com: spam wave");
	assert_valid_xml(svg);
	assert_self_contained(svg);

	ck_assert_int_eq(polyline_points(svg, "established"), (long)rows.n);
	ck_assert_int_eq(polyline_points(svg, "backlog"), (long)rows.n);
	ck_assert_uint_eq(count(svg, "<g class=\"ban\">"), bans);
	ck_assert_uint_eq(count(svg, "<g class=\"probe-fail\">"), failures);
	/* The tuner went normal -> elevated -> wave -> elevated -> normal. */
	ck_assert_uint_eq(count(svg, "<rect class=\"band-elevated\""), 2);
	ck_assert_uint_eq(count(svg, "<rect class=\"band-wave\""), 1);
	/* y from 0 to a round number above 301; times in UTC. */
	ck_assert_ptr_nonnull(strstr(svg, ">350</text>"));
	ck_assert_ptr_null(strstr(svg, ">400</text>"));
	ck_assert_ptr_nonnull(strstr(svg, ">17:13:00</text>"));
	ck_assert_ptr_nonnull(
		strstr(svg, "time (UTC), 2009-07-27 17:12:17 to 2009-07-27 17:21:10"));
	ck_assert_ptr_nonnull(strstr(svg, "<title>17:17:24 UTC: probe failed (timeout), 301 "
					  "connections</title>"));
	ck_assert_ptr_nonnull(strstr(svg, "<title>mail.example.com: spam wave</title>"));
	free(rows.v);
}
END_TEST

/* A wave the reaper kept under Courier's limit: the MAXDAEMONS line (the axis reaching it), the
 * counts on the ban and reaped marks, one count dropped where it would overlap its neighbour. */
START_TEST(test_limit_and_reaped)
{
	struct history_row rows[60];
	size_t with_reaped = 0, with_bans = 0;

	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		rows[i] = (struct history_row){
			.time_usec = (1796300000ULL + i) * USEC_PER_SEC,
			.established = (uint32_t)(i < 30 ? i / 2 : 20),
			.probe_ms = 5,
			.new_bans = i == 10   ? 16
				    : i == 40 ? 7
					      : 0,
			.reaped = i == 10   ? 16
				  : i == 11 ? 4
				  : i == 40 ? 7
					    : 0,
		};
		snprintf(rows[i].probe_status, sizeof(rows[i].probe_status), "ok");
		snprintf(rows[i].tuner, sizeof(rows[i].tuner), i >= 8 ? "wave" : "normal");
		with_reaped += rows[i].reaped > 0;
		with_bans += rows[i].new_bans > 0;
	}
	_cleanup_free_ char *svg = render_limit(rows, ELEMENTSOF(rows), "reaped", 30);
	assert_valid_xml(svg);
	assert_self_contained(svg);
	ck_assert_uint_eq(count(svg, "<g class=\"maxdaemons\">"), 1);
	ck_assert_ptr_nonnull(strstr(svg, ">MAXDAEMONS 30</text>"));
	ck_assert_ptr_nonnull(strstr(svg, ">30</text>")); /* the axis reaches the limit */
	ck_assert_uint_eq(count(svg, "<g class=\"reaped\">"), with_reaped);
	ck_assert_ptr_nonnull(
		strstr(svg, "<title>12:13:30 UTC: 16 idle connections reaped</title>"));
	ck_assert_ptr_nonnull(
		strstr(svg, "<title>12:14:00 UTC: 7 idle connections reaped</title>"));
	ck_assert_uint_eq(count(svg, "<g class=\"ban\">"), with_bans);
	/* Counts: 16 and 7 on both kinds; the 4 a second after the 16 would overlap it. */
	ck_assert_uint_eq(count(svg, "<text class=\"count\""), 4);
	ck_assert_uint_eq(count(svg, "\">16</text>"), 2);
	ck_assert_uint_eq(count(svg, "\">7</text>"), 2);
	ck_assert_ptr_null(strstr(svg, "\">4</text>"));
	ck_assert_ptr_nonnull(strstr(svg, ">reaped</text>"));	  /* the legend */
	ck_assert_ptr_nonnull(strstr(svg, ">MAXDAEMONS</text>")); /* the legend */

	/* Without a limit known: no line, no legend for it. */
	_cleanup_free_ char *plain = render(rows, ELEMENTSOF(rows), "reaped");
	ck_assert_ptr_null(strstr(plain, "maxdaemons"));
	ck_assert_ptr_null(strstr(plain, "MAXDAEMONS"));
	ck_assert_ptr_null(strstr(plain, ">30</text>")); /* 0..20 only */
}
END_TEST

START_TEST(test_empty_and_single)
{
	_cleanup_free_ char *empty = render(NULL, 0, NULL);
	assert_valid_xml(empty);
	assert_self_contained(empty);
	ck_assert_ptr_null(strstr(empty, "<polyline"));
	ck_assert_ptr_nonnull(strstr(empty, ">no samples</text>"));
	ck_assert_ptr_nonnull(strstr(empty, "<title>waveguard history</title>"));

	struct rows rows = load_fixture();
	size_t k = 0;
	while (k < rows.n && !(rows.v[k].probe_ms < 0 && rows.v[k].new_bans > 0))
		k++;
	ck_assert_uint_lt(k, rows.n);
	struct history_row one = rows.v[k]; /* a failed probe with bans, tuner "wave" */
	ck_assert_int_eq(one.probe_ms, -1);
	ck_assert_uint_gt(one.new_bans, 0);
	_cleanup_free_ char *single = render(&one, 1, "one");
	assert_valid_xml(single);
	assert_self_contained(single);
	ck_assert_int_eq(polyline_points(single, "established"), 1);
	ck_assert_uint_eq(count(single, "<g class=\"ban\">"), 1);
	ck_assert_uint_eq(count(single, "<g class=\"probe-fail\">"), 1);
	ck_assert_uint_eq(count(single, "<rect class=\"band-wave\""), 1);

	/* One row at the epoch (the axis then starts before it), one at the end of RFC 3339. */
	struct history_row edge = one;
	edge.time_usec = 0;
	_cleanup_free_ char *epoch = render(&edge, 1, "epoch");
	assert_valid_xml(epoch);
	ck_assert_ptr_nonnull(strstr(epoch, ">00:00:00</text>"));
	ck_assert_ptr_nonnull(strstr(epoch, ">23:59:40</text>"));
	edge.time_usec = 253402300799ULL * USEC_PER_SEC;
	_cleanup_free_ char *late = render(&edge, 1, "late");
	assert_valid_xml(late);
	ck_assert_int_eq(polyline_points(late, "established"), 1);

	/* Two rows at the same second: no division by zero. */
	struct history_row same[2] = { one, one };
	_cleanup_free_ char *two = render(same, 2, "same second");
	assert_valid_xml(two);
	assert_self_contained(two);
	ck_assert_int_eq(polyline_points(two, "established"), 2);
	free(rows.v);
}
END_TEST

START_TEST(test_all_zero)
{
	struct history_row rows[4] = {};
	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		rows[i].time_usec = (1795761409ULL + 5 * i) * USEC_PER_SEC;
		rows[i].probe_ms = 3;
		strcpy(rows[i].probe_status, "ok");
		strcpy(rows[i].tuner, "normal");
	}
	_cleanup_free_ char *svg = render(rows, ELEMENTSOF(rows), "idle");
	assert_valid_xml(svg);
	assert_self_contained(svg);
	ck_assert_int_eq(polyline_points(svg, "established"), 4);
	ck_assert_int_eq(polyline_points(svg, "backlog"), -1); /* never non-zero: no line */
	ck_assert_ptr_nonnull(strstr(svg, ">5</text>"));       /* a y axis all the same */
	ck_assert_uint_eq(count(svg, "<g class=\"ban\">"), 0);
	ck_assert_uint_eq(count(svg, "<g class=\"probe-fail\">"), 0);
	ck_assert_ptr_null(strstr(svg, "class=\"band-"));

	/* Probing disabled ("off", no latency) is not a failure; "pending" (no answer within the
	 * interval) is. */
	rows[0].probe_ms = rows[1].probe_ms = -1;
	strcpy(rows[0].probe_status, "off");
	strcpy(rows[1].probe_status, "pending");
	_cleanup_free_ char *off = render(rows, ELEMENTSOF(rows), "off");
	ck_assert_uint_eq(count(off, "<g class=\"probe-fail\">"), 1);
	ck_assert_ptr_nonnull(strstr(off, "probe failed (pending)"));

	/* An unknown tuner level is a grey band, its name escaped. */
	strcpy(rows[1].tuner, "x<y");
	_cleanup_free_ char *odd = render(rows, ELEMENTSOF(rows), "odd");
	assert_valid_xml(odd);
	ck_assert_ptr_nonnull(strstr(odd, "<rect class=\"band-x&lt;y\""));
}
END_TEST

/* A stopped server: its rows say "down" in the tuner column, drawn as their own band with its
 * own legend entry, distinct from the tuner's levels. */
START_TEST(test_server_down)
{
	struct history_row rows[4];
	for (size_t i = 0; i < 4; i++) {
		rows[i] = (struct history_row){ .time_usec = (1795761409ULL + 5 * i) * USEC_PER_SEC,
						.probe_ms = -1 };
		snprintf(rows[i].probe_status, sizeof(rows[i].probe_status), "refused");
		snprintf(rows[i].tuner, sizeof(rows[i].tuner), i < 3 ? "down" : "normal");
	}
	_cleanup_free_ char *svg = render(rows, 4, "down");
	assert_valid_xml(svg);
	ck_assert_uint_eq(count(svg, "<rect class=\"band-down\""), 1);
	ck_assert_ptr_nonnull(strstr(svg, ">mail server down</text>"));
	ck_assert_ptr_null(strstr(svg, ">tuner: other</text>"));
	ck_assert_uint_eq(count(svg, "<g class=\"probe-fail\">"), 4);
}
END_TEST

START_TEST(test_title_escaped)
{
	struct rows rows = load_fixture();
	const char *title = "<&> \"quoted\" 'single' \x01\xff\xc3\xa9t\xc3\xa9 \xe2\x80\x93 ]]>";
	_cleanup_free_ char *svg = render(rows.v, 5, title);
	assert_valid_xml(svg);
	ck_assert_ptr_null(strstr(svg, "<&>"));
	ck_assert_ptr_null(strstr(svg, "]]>"));
	ck_assert_uint_eq(count(svg, "&lt;&amp;&gt; &quot;quoted&quot; &apos;single&apos;  "
				     "?\xc3\xa9t\xc3\xa9 \xe2\x80\x93 ]]&gt;"),
			  2); /* the document title and the heading */
	free(rows.v);
}
END_TEST

START_TEST(test_write_error)
{
	struct rows rows = load_fixture();
	FILE *f = fopen("/dev/full", "we");
	if (!f)
		return; /* no /dev/full in this sandbox */
	ck_assert_int_eq(plot_svg(f, rows.v, rows.n, "full", 30), -EIO);
	fclose(f);
	ck_assert_int_eq(plot_svg(NULL, rows.v, rows.n, "x", 0), -EINVAL);
	free(rows.v);
}
END_TEST

static Suite *plot_suite(void)
{
	Suite *s = suite_create("plot");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_wave);
	tcase_add_test(tc, test_limit_and_reaped);
	tcase_add_test(tc, test_empty_and_single);
	tcase_add_test(tc, test_all_zero);
	tcase_add_test(tc, test_server_down);
	tcase_add_test(tc, test_title_escaped);
	tcase_add_test(tc, test_write_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(plot_suite());
}
