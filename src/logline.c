/* Syslog line splitting: a stamp (RFC 3164 or RFC 3339, parsed by timeutil), the host, and the
 * tag with an optional [pid], so that filters see (tag, message) as the journal gives them. */
#include <string.h>

#include "logline.h"
#include "macro.h"

void logline_parse(struct timeutil_clock *c, const char *line, size_t len, struct logline *ret)
{
	uint64_t t = 0;
	size_t n;

	*ret = (struct logline){ .msg = line, .msg_len = len };

	if (len > 0 && line[0] >= '0' && line[0] <= '9')
		n = timeutil_parse_rfc3339(line, len, &t);
	else
		n = timeutil_parse_rfc3164(c, line, len, &t);
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
