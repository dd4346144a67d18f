/* Syslog line splitting: RFC 3164 and RFC 3339 stamps, host, tag with optional [pid]. The date
 * conversion is cached per hour because a log's consecutive lines share it. */
#include <string.h>
#include <time.h>

#include "logline.h"
#include "macro.h"

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void logline_clock_init(struct logline_clock *c, uint64_t now_usec)
{
	time_t t = (time_t)(now_usec / USEC_PER_SEC);
	struct tm tm;

	memset(c, 0, sizeof(*c));
	c->ref_usec = now_usec;
	localtime_r(&t, &tm);
	c->ref_year = tm.tm_year + 1900;
}

static int64_t local_hour_start(struct logline_clock *c, int year, int mon, int mday, int hour)
{
	if (c->cached && c->cached_year == year && c->cached_mon == mon && c->cached_mday == mday &&
	    c->cached_hour == hour)
		return c->cached_hour_sec;

	struct tm tm = {
		.tm_year = year - 1900,
		.tm_mon = mon - 1,
		.tm_mday = mday,
		.tm_hour = hour,
		.tm_isdst = -1,
	};
	c->cached_hour_sec = (int64_t)mktime(&tm);
	c->cached_year = year;
	c->cached_mon = mon;
	c->cached_mday = mday;
	c->cached_hour = hour;
	c->cached = true;
	return c->cached_hour_sec;
}

/* "Nov 27 06:36:49" (day may be space-padded). Returns 15 or 0. */
static size_t parse_rfc3164(struct logline_clock *c, const char *s, size_t len, uint64_t *ret)
{
	if (len < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':')
		return 0;
	const char *m = NULL;
	for (const char *p = months; *p; p += 3)
		if (p[0] == s[0] && p[1] == s[1] && p[2] == s[2]) {
			m = p;
			break;
		}
	if (!m)
		return 0;
	int mon = (int)(m - months) / 3 + 1;
	int mday = s[4] == ' ' ? digits(s + 5, 1) : digits(s + 4, 2);
	int hour = digits(s + 7, 2), min = digits(s + 10, 2), sec = digits(s + 13, 2);
	if (mday < 1 || mday > 31 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 ||
	    sec > 60)
		return 0;

	/* A line more than a day "in the future" of the reference is from last year (a December
	 * log read in January). */
	int64_t t = local_hour_start(c, c->ref_year, mon, mday, hour);
	if (t < 0)
		return 0;
	if ((uint64_t)(t + min * 60 + sec) * USEC_PER_SEC > c->ref_usec + 86400 * USEC_PER_SEC) {
		t = local_hour_start(c, c->ref_year - 1, mon, mday, hour);
		if (t < 0)
			return 0;
	}
	*ret = (uint64_t)(t + min * 60 + sec) * USEC_PER_SEC;
	return 15;
}

size_t logline_parse_rfc3339(const char *s, size_t len, uint64_t *ret_usec)
{
	/* 2026-11-27T06:36:49[.frac](Z|+hh:mm|-hh:mm) */
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return 0;
	int year = digits(s, 4), mon = digits(s + 5, 2), mday = digits(s + 8, 2);
	int hour = digits(s + 11, 2), min = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (year < 1970 || mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour < 0 || hour > 23 ||
	    min < 0 || min > 59 || sec < 0 || sec > 60)
		return 0;

	size_t i = 19;
	uint64_t frac = 0;
	if (i < len && s[i] == '.') {
		uint64_t scale = 100000;
		i++;
		if (i >= len || !is_digit(s[i]))
			return 0;
		for (; i < len && is_digit(s[i]); i++) {
			frac += (uint64_t)(s[i] - '0') * scale;
			scale /= 10;
		}
	}
	int64_t offset = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return 0;
		offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else
		return 0;

	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (mday > mdays[mon - 1] || (mon == 2 && mday == 29 && !leap))
		return 0;
	int64_t t = days_from_civil(year, mon, mday) * 86400 + hour * 3600 + min * 60 + sec - offset;
	if (t < 0)
		return 0;
	*ret_usec = (uint64_t)t * USEC_PER_SEC + frac;
	return i;
}

const char *logline_format_rfc3339(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void logline_parse(struct logline_clock *c, const char *line, size_t len, struct logline *ret)
{
	uint64_t t = 0;
	size_t n;

	*ret = (struct logline){ .msg = line, .msg_len = len };

	if (len > 0 && is_digit(line[0]))
		n = logline_parse_rfc3339(line, len, &t);
	else
		n = parse_rfc3164(c, line, len, &t);
	if (n == 0 || n >= len || line[n] != ' ')
		return;

	/* host: one word; tag: up to ':' (with an optional "[pid]" cut off). */
	const char *p = line + n + 1, *end = line + len;
	const char *host_end = memchr(p, ' ', (size_t)(end - p));
	if (!host_end || host_end == p)
		return;
	const char *tag = host_end + 1;
	const char *colon = memchr(tag, ':', (size_t)(end - tag));
	if (!colon || colon == tag)
		return;
	size_t tag_len = (size_t)(colon - tag);
	if (memchr(tag, ' ', tag_len))
		return;
	if (tag[tag_len - 1] == ']') {
		const char *br = memchr(tag, '[', tag_len);
		if (!br || br == tag)
			return;
		tag_len = (size_t)(br - tag);
	}
	const char *msg = colon + 1;
	if (msg < end && *msg == ' ')
		msg++;

	ret->time_usec = t;
	ret->tag = tag;
	ret->tag_len = tag_len;
	ret->msg = msg;
	ret->msg_len = (size_t)(end - msg);
}
