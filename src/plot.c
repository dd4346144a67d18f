/* The SVG writer behind `waveguard history --svg`: connections over time against Courier's
 * MAXDAEMONS, with bans, reaped connections, probe failures and tuner levels marked, as one
 * self-contained file (no scripts, no external references, no fonts beyond the browser's
 * sans-serif) that opens in any browser. Library-like: never logs. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "macro.h"
#include "plot.h"

/* Canvas and plot area, in SVG user units (pixels). */
#define WIDTH  1000
#define HEIGHT 420
#define PLOT_L 70.0
#define PLOT_R 970.0
#define PLOT_T 50.0
#define PLOT_B 335.0

#define COLOR_EST	  "#1f5fbf"
#define COLOR_BACKLOG	  "#e07b00"
#define COLOR_BAN	  "#7b2fbe"
#define COLOR_REAPED	  "#2a9d3f"
#define COLOR_LIMIT	  "#b03030"
#define COLOR_FAIL	  "#d62728"
#define COLOR_ELEVATED	  "#fff1c2"
#define COLOR_WAVE	  "#fbd5d5"
#define COLOR_OTHER_LEVEL "#e4e4e4"
#define COLOR_DOWN	  "#9a9a9a"

struct scale {
	double t0, t1; /* seconds */
	uint64_t ymax, ystep;
};

/* Writes s as XML character data / attribute text: markup characters escaped, control
 * characters as spaces, bytes that are not UTF-8 (or not XML characters) as '?'. */
static void xml_escape(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned char c = *p;
		size_t n = 0;

		if (c < 0x80) {
			switch (c) {
			case '&':
				fputs("&amp;", out);
				break;
			case '<':
				fputs("&lt;", out);
				break;
			case '>':
				fputs("&gt;", out);
				break;
			case '"':
				fputs("&quot;", out);
				break;
			case '\'':
				fputs("&apos;", out);
				break;
			default:
				fputc(c < 0x20 || c == 0x7f ? ' ' : c, out);
				break;
			}
			p++;
			continue;
		}
		/* Length and validity of a UTF-8 sequence (no overlongs, surrogates, > U+10FFFF).
		 */
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		bool ok = n > 0;
		for (size_t i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (ok && n == 3)
			ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0) &&
			     !(c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf));
		if (ok && n == 4)
			ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
		if (!ok) {
			fputc('?', out);
			p++;
			continue;
		}
		fwrite(p, 1, n, out);
		p += n;
	}
}

static double x_of(const struct scale *s, uint64_t usec)
{
	double t = (double)usec / (double)USEC_PER_SEC;
	return PLOT_L + (t - s->t0) / (s->t1 - s->t0) * (PLOT_R - PLOT_L);
}

static double y_of(const struct scale *s, uint64_t v)
{
	return PLOT_B - (double)v / (double)s->ymax * (PLOT_B - PLOT_T);
}

/* 1, 2 or 5 times a power of ten, at least raw. */
static uint64_t nice_step(double raw)
{
	uint64_t mag = 1;

	while ((double)mag * 10 <= raw)
		mag *= 10;
	if (raw <= (double)mag)
		return mag;
	if (raw <= (double)mag * 2)
		return mag * 2;
	if (raw <= (double)mag * 5)
		return mag * 5;
	return mag * 10;
}

static void compute_scale(const struct history_row *rows, size_t n, uint32_t max_daemons,
			  struct scale *s)
{
	uint64_t vmax = max_daemons;
	double t0 = 0, t1 = 0;

	for (size_t i = 0; i < n; i++) {
		double t = (double)(rows[i].time_usec / USEC_PER_SEC);
		if (i == 0 || t < t0)
			t0 = t;
		if (i == 0 || t > t1)
			t1 = t;
		vmax = MAX(vmax, (uint64_t)MAX(rows[i].established, rows[i].backlog));
	}
	if (t1 - t0 < 1) { /* one sample (or all at one second): a minute around it */
		t0 -= 30;
		t1 += 30;
	}
	s->t0 = t0;
	s->t1 = t1;
	if (vmax < 5) {
		s->ymax = 5;
		s->ystep = 1;
		return;
	}
	s->ystep = nice_step((double)vmax / 8);
	s->ymax = (vmax + s->ystep - 1) / s->ystep * s->ystep;
}

static void format_time(double t, const char *fmt, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, size, fmt, &tm) == 0)
		snprintf(buf, size, "?");
}

static void write_axes(FILE *out, const struct scale *s, size_t n)
{
	static const uint64_t steps[] = { 1,   2,   5,	  10,	15,   30,    60,    120,   300,
					  600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400 };
	char a[40], b[40];

	/* Horizontal grid and connection counts. */
	fputs("<g class=\"y-axis\" font-size=\"12\" fill=\"#333\" text-anchor=\"end\">\n", out);
	for (uint64_t v = 0; v <= s->ymax; v += s->ystep) {
		double y = y_of(s, v);
		fprintf(out,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"1\"/>\n",
			PLOT_L, y, PLOT_R, y, v == 0 ? "#888" : "#e6e6e6");
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%" PRIu64 "</text>\n", PLOT_L - 8, y + 4,
			v);
	}
	fputs("</g>\n", out);
	fprintf(out,
		"<text x=\"18\" y=\"%.1f\" font-size=\"13\" fill=\"#333\" text-anchor=\"middle\" "
		"transform=\"rotate(-90 18 %.1f)\">connections</text>\n",
		(PLOT_T + PLOT_B) / 2, (PLOT_T + PLOT_B) / 2);

	/* Time ticks at round multiples of a step that gives at most 10 of them. */
	double span = s->t1 - s->t0;
	uint64_t step = 0;
	for (size_t i = 0; i < ELEMENTSOF(steps) && step == 0; i++)
		if (span / (double)steps[i] <= 10)
			step = steps[i];
	if (step == 0)
		step = ((uint64_t)(span / 10 / 86400) + 1) * 86400;
	const char *fmt = span > 86400 ? "%m-%d %H:%M" : "%H:%M:%S";

	fputs("<g class=\"x-axis\" font-size=\"12\" fill=\"#333\" text-anchor=\"middle\">\n", out);
	fprintf(out,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
		"stroke-width=\"1\"/>\n",
		PLOT_L, PLOT_T, PLOT_L, PLOT_B);
	if (n > 0) {
		/* In doubles: t0 is below zero for one sample at the epoch. */
		for (double t = ceil(s->t0 / (double)step) * (double)step; t <= s->t1;
		     t += (double)step) {
			double x = PLOT_L + (t - s->t0) / span * (PLOT_R - PLOT_L);
			format_time(t, fmt, a, sizeof(a));
			fprintf(out,
				"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				"stroke=\"#888\" stroke-width=\"1\"/>\n",
				x, PLOT_B, x, PLOT_B + 5);
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x, PLOT_B + 19, a);
		}
	}
	fputs("</g>\n", out);

	if (n > 0) {
		format_time(s->t0, "%Y-%m-%d %H:%M:%S", a, sizeof(a));
		format_time(s->t1, "%Y-%m-%d %H:%M:%S", b, sizeof(b));
		fprintf(out,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#555\" "
			"text-anchor=\"middle\">time (UTC), %s to %s</text>\n",
			(PLOT_L + PLOT_R) / 2, PLOT_B + 38, a, b);
	}
}

static bool is_normal(const char *tuner)
{
	return strcmp(tuner, "normal") == 0;
}

/* The bands of the tuner column's values other than normal; the last one serves any other. */
static const struct {
	const char *level, *color, *label;
} bands[] = {
	{ "elevated", COLOR_ELEVATED, "tuner: elevated" },
	{ "wave", COLOR_WAVE, "tuner: wave" },
	{ "down", COLOR_DOWN, "mail server down" },
	{ NULL, COLOR_OTHER_LEVEL, "tuner: other" },
};

static size_t band_of(const char *level)
{
	size_t i = 0;
	while (bands[i].level && strcmp(bands[i].level, level) != 0)
		i++;
	return i;
}

/* Bands behind the lines for each run of rows at one tuner level other than normal, from the
 * run's first sample to the sample after it. */
static void write_bands(FILE *out, const struct scale *s, const struct history_row *rows, size_t n)
{
	for (size_t i = 0; i < n;) {
		const char *level = rows[i].tuner;
		size_t j = i + 1;

		while (j < n && strcmp(rows[j].tuner, level) == 0)
			j++;
		if (!is_normal(level)) {
			double x0 = x_of(s, rows[i].time_usec);
			double x1 = x_of(s, rows[j < n ? j : j - 1].time_usec);
			if (x1 - x0 < 3)
				x1 = x0 + 3;
			const char *color = bands[band_of(level)].color;
			fputs("<rect class=\"band-", out);
			xml_escape(out, level);
			fprintf(out,
				"\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"%s\"><title>tuner: ",
				x0, PLOT_T, x1 - x0, PLOT_B - PLOT_T, color);
			xml_escape(out, level);
			fputs("</title></rect>\n", out);
		}
		i = j;
	}
}

static void write_line(FILE *out, const struct scale *s, const struct history_row *rows, size_t n,
		       bool backlog)
{
	if (backlog)
		fprintf(out,
			"<polyline class=\"backlog\" fill=\"none\" stroke=\"%s\" "
			"stroke-width=\"1.5\" "
			"stroke-dasharray=\"5 3\" stroke-linejoin=\"round\" points=\"",
			COLOR_BACKLOG);
	else
		fprintf(out,
			"<polyline class=\"established\" fill=\"none\" stroke=\"%s\" "
			"stroke-width=\"2\" stroke-linejoin=\"round\" points=\"",
			COLOR_EST);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%.1f,%.1f", i ? " " : "", x_of(s, rows[i].time_usec),
			y_of(s, backlog ? rows[i].backlog : rows[i].established));
	fputs("\"/>\n", out);
}

/* Courier's limit: the line the connections must stay under. */
static void write_limit(FILE *out, const struct scale *s, uint32_t max_daemons)
{
	double y = y_of(s, max_daemons);

	fprintf(out,
		"<g class=\"maxdaemons\"><title>Courier's MAXDAEMONS: %" PRIu32
		"</title><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		"stroke-width=\"1.5\" stroke-dasharray=\"8 4\"/><text x=\"%.1f\" y=\"%.1f\" "
		"font-size=\"11\" fill=\"%s\" text-anchor=\"end\">MAXDAEMONS %" PRIu32
		"</text></g>\n",
		max_daemons, PLOT_L, y, PLOT_R, y, COLOR_LIMIT, PLOT_R - 4, y - 4, COLOR_LIMIT,
		max_daemons);
}

/* The count beside a marker, unless it would overlap the previous count of its kind. */
static void write_count(FILE *out, double x, double y, uint32_t count, const char *color,
			double *last_x)
{
	if (x - *last_x < 16)
		return;
	fprintf(out,
		"<text class=\"count\" x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\" "
		"text-anchor=\"middle\">%" PRIu32 "</text>",
		x, y, color, count);
	*last_x = x;
}

/* No latency is a failure, unless no probe ran at all ("off": probing disabled). */
static bool probe_failed(const struct history_row *r)
{
	return r->probe_ms < 0 && strcmp(r->probe_status, "off") != 0;
}

/* A green triangle at the top, pointing down, growing with the count. */
static void write_reaped(FILE *out, const struct history_row *r, double x, const char *when,
			 uint32_t max_reaped, double *last_x)
{
	double h = 6 + 8 * sqrt((double)r->reaped / (double)max_reaped);

	fprintf(out,
		"<g class=\"reaped\"><title>%s UTC: %" PRIu32 " idle connection%s reaped</title>"
		"<path d=\"M%.1f %.1fl%.1f %.1fh%.1fz\" fill=\"%s\" fill-opacity=\"0.85\"/>",
		when, r->reaped, r->reaped == 1 ? "" : "s", x, PLOT_T + 1 + h, -h * 0.55, -h,
		h * 1.1, COLOR_REAPED);
	write_count(out, x, PLOT_T + h + 12, r->reaped, COLOR_REAPED, last_x);
	fputs("</g>\n", out);
}

static void write_markers(FILE *out, const struct scale *s, const struct history_row *rows,
			  size_t n)
{
	uint32_t max_bans = 0, max_reaped = 0;
	double last_ban = -1e9, last_reaped = -1e9;
	char when[16];

	for (size_t i = 0; i < n; i++) {
		max_bans = MAX(max_bans, rows[i].new_bans);
		max_reaped = MAX(max_reaped, rows[i].reaped);
	}
	for (size_t i = 0; i < n; i++) {
		const struct history_row *r = &rows[i];
		double x = x_of(s, r->time_usec);

		format_time((double)(r->time_usec / USEC_PER_SEC), "%H:%M:%S", when, sizeof(when));
		if (r->new_bans > 0) {
			/* A triangle on the time axis, its size growing with the count. */
			double h = 6 + 8 * sqrt((double)r->new_bans / (double)max_bans);
			fprintf(out,
				"<g class=\"ban\"><title>%s UTC: %" PRIu32 " new ban%s, %" PRIu32
				" active</title><path d=\"M%.1f %.1fl%.1f %.1fh%.1fz\" fill=\"%s\" "
				"fill-opacity=\"0.85\"/>",
				when, r->new_bans, r->new_bans == 1 ? "" : "s", r->active_bans, x,
				PLOT_B - 1 - h, -h * 0.55, h, h * 1.1, COLOR_BAN);
			write_count(out, x, PLOT_B - 4 - h, r->new_bans, COLOR_BAN, &last_ban);
			fputs("</g>\n", out);
		}
		if (r->reaped > 0)
			write_reaped(out, r, x, when, max_reaped, &last_reaped);
		if (probe_failed(r)) {
			fprintf(out, "<g class=\"probe-fail\"><title>%s UTC: probe failed (", when);
			xml_escape(out, r->probe_status);
			fprintf(out,
				"), %" PRIu32 " connections</title><circle cx=\"%.1f\" cy=\"%.1f\" "
				"r=\"4.5\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1\"/></g>\n",
				r->established, x, y_of(s, r->established), COLOR_FAIL);
		}
	}
}

/* The legend under the axis: one swatch and label per kind of mark present. */
static void write_legend(FILE *out, bool backlog, bool limit, bool reaped, const bool *present)
{
	double x = PLOT_L, y = HEIGHT - 22;

	fputs("<g class=\"legend\" font-size=\"12\" fill=\"#333\">\n", out);
#define LEGEND_TEXT(label)                                                                         \
	do {                                                                                       \
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 24, y + 4, label);     \
		x += 24 + 7.0 * (double)strlen(label) + 22;                                        \
	} while (0)
	fprintf(out,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		"stroke-width=\"2\"/>\n",
		x, y, x + 18, y, COLOR_EST);
	LEGEND_TEXT("established connections");
	if (backlog) {
		fprintf(out,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n",
			x, y, x + 18, y, COLOR_BACKLOG);
		LEGEND_TEXT("listen backlog");
	}
	if (limit) {
		fprintf(out,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"1.5\" stroke-dasharray=\"8 4\"/>\n",
			x, y, x + 18, y, COLOR_LIMIT);
		LEGEND_TEXT("MAXDAEMONS");
	}
	fprintf(out, "<path d=\"M%.1f %.1fl-5 9h10z\" fill=\"%s\"/>\n", x + 9, y - 5, COLOR_BAN);
	LEGEND_TEXT("new bans");
	if (reaped) {
		fprintf(out, "<path d=\"M%.1f %.1fl-5 -9h10z\" fill=\"%s\"/>\n", x + 9, y + 4,
			COLOR_REAPED);
		LEGEND_TEXT("reaped");
	}
	fprintf(out,
		"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"#fff\" "
		"stroke-width=\"1\"/>\n",
		x + 9, y, COLOR_FAIL);
	LEGEND_TEXT("probe failed");
	for (size_t i = 0; i < ELEMENTSOF(bands); i++) {
		if (!present[i])
			continue;
		fprintf(out,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"12\" fill=\"%s\" "
			"stroke=\"#ccc\"/>\n",
			x, y - 6, bands[i].color);
		LEGEND_TEXT(bands[i].label);
	}
#undef LEGEND_TEXT
	fputs("</g>\n", out);
}

int plot_svg(FILE *out, const struct history_row *rows, size_t n, const char *title,
	     uint32_t max_daemons)
{
	struct scale s;
	bool backlog = false, reaped = false, present[ELEMENTSOF(bands)] = { false };

	if (!out || (!rows && n > 0))
		return -EINVAL;
	if (!title)
		title = "waveguard history";

	for (size_t i = 0; i < n; i++) {
		backlog = backlog || rows[i].backlog > 0;
		reaped = reaped || rows[i].reaped > 0;
		if (!is_normal(rows[i].tuner))
			present[band_of(rows[i].tuner)] = true;
	}
	compute_scale(rows, n, max_daemons, &s);

	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
		WIDTH, HEIGHT, WIDTH, HEIGHT);
	fputs("<title>", out);
	xml_escape(out, title);
	fputs("</title>\n", out);
	fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", WIDTH, HEIGHT);
	fprintf(out,
		"<text x=\"%d\" y=\"28\" font-size=\"17\" font-weight=\"bold\" fill=\"#222\" "
		"text-anchor=\"middle\">",
		WIDTH / 2);
	xml_escape(out, title);
	fputs("</text>\n", out);

	write_bands(out, &s, rows, n);
	write_axes(out, &s, n);
	if (n == 0)
		fprintf(out,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" fill=\"#888\" "
			"text-anchor=\"middle\">no samples</text>\n",
			(PLOT_L + PLOT_R) / 2, (PLOT_T + PLOT_B) / 2);
	if (max_daemons)
		write_limit(out, &s, max_daemons);
	if (backlog)
		write_line(out, &s, rows, n, true);
	if (n > 0)
		write_line(out, &s, rows, n, false);
	if (n == 1) /* a polyline of one point draws nothing */
		fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
			x_of(&s, rows[0].time_usec), y_of(&s, rows[0].established), COLOR_EST);
	write_markers(out, &s, rows, n);
	write_legend(out, backlog, max_daemons > 0, reaped, present);
	fputs("</svg>\n", out);

	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
