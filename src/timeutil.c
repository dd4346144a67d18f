/* Time in one room: the clock, durations ("1h30m"), and the RFC 3339 / RFC 3164 stamps of syslog
 * lines, the history and the command line. All times are microseconds since the epoch (realtime)
 * or since boot (monotonic), as uint64_t. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "timeutil.h"

#define LONGEST_SEC (TIMEUTIL_LONGEST_USEC / USEC_PER_SEC)

uint64_t timeutil_now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

int timeutil_parse_duration(const char *s, uint64_t *ret_usec)
{
	uint64_t total = 0;
	bool any = false, glued = false; /* this term follows a unit with no space: "1h30m" */

	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 10);
		if (errno)
			return -EINVAL;
		uint64_t mult;
		switch (*end) {
		case 's':
			mult = 1;
			end++;
			break;
		case 'm':
			mult = 60;
			end++;
			break;
		case 'h':
			mult = 3600;
			end++;
			break;
		case 'd':
			mult = 86400;
			end++;
			break;
		case 'w':
			mult = 7 * 86400;
			end++;
			break;
		case '\0':
		case ' ':
		case '\t':
			/* A bare number glued to a unit ("1h30") is ambiguous: refused. */
			if (glued)
				return -EINVAL;
			mult = 1;
			break;
		default:
			return -EINVAL;
		}
		/* After a unit the next term may follow at once ("1h30m"), but needs its own unit.
		 */
		bool unit = end > s && !isdigit((unsigned char)end[-1]);
		glued = unit && isdigit((unsigned char)*end);
		if (*end && *end != ' ' && *end != '\t' && !glued)
			return -EINVAL;
		/* Ten years is far beyond any sensible ban or window; it also keeps usec math safe.
		 */
		if (v > LONGEST_SEC || v * mult > LONGEST_SEC)
			return -ERANGE;
		total += v * mult;
		if (total > LONGEST_SEC)
			return -ERANGE;
		any = true;
		s = end;
	}
	if (!any)
		return -EINVAL;
	*ret_usec = total * USEC_PER_SEC;
	return 0;
}

int timeutil_parse_duration_or_forever(const char *s, uint64_t *ret_usec)
{
	if (strcmp(s, "forever") == 0) {
		*ret_usec = TIMEUTIL_FOREVER;
		return 0;
	}
	return timeutil_parse_duration(s, ret_usec);
}

const char *timeutil_format_duration(uint64_t usec, char *buf, size_t size)
{
	static const struct {
		char unit;
		uint64_t sec;
	} units[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };
	uint64_t s = usec / USEC_PER_SEC;
	size_t o = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (usec == TIMEUTIL_FOREVER) {
		snprintf(buf, size, "forever");
		return buf;
	}
	if (s == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	for (size_t i = 0; i < ELEMENTSOF(units) && o < size; i++) {
		if (s < units[i].sec)
			continue;
		int n = snprintf(buf + o, size - o, "%llu%c",
				 (unsigned long long)(s / units[i].sec), units[i].unit);
		if (n < 0)
			break;
		o += (size_t)n;
		s %= units[i].sec;
	}
	return buf;
}

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

void timeutil_clock_init(struct timeutil_clock *c, uint64_t now_usec)
{
	time_t t = (time_t)(now_usec / USEC_PER_SEC);
	struct tm tm;

	memset(c, 0, sizeof(*c));
	c->ref_usec = now_usec;
	localtime_r(&t, &tm);
	c->ref_year = tm.tm_year + 1900;
}

static int64_t local_hour_start(struct timeutil_clock *c, int year, int mon, int mday, int hour)
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
size_t timeutil_parse_rfc3164(struct timeutil_clock *c, const char *s, size_t len, uint64_t *ret)
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

size_t timeutil_parse_rfc3339(const char *s, size_t len, uint64_t *ret_usec)
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
	int64_t t =
		days_from_civil(year, mon, mday) * 86400 + hour * 3600 + min * 60 + sec - offset;
	if (t < 0)
		return 0;
	*ret_usec = (uint64_t)t * USEC_PER_SEC + frac;
	return i;
}

const char *timeutil_format_rfc3339(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
