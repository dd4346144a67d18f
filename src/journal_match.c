/* Journal match groups: splitting "A=x+B=y" at the '+' that starts a field name, and checking
 * each term as sd_journal_add_match() would. */
#include <string.h>

#include "journal_match.h"

static bool field_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* Whether p (just after a '+') starts "NAME=": lower case counts, so that a mistyped field is
 * refused by journal_match_valid() rather than taken into the value. */
static bool starts_term(const char *p)
{
	const char *q = p;

	while (field_char(*q, q == p))
		q++;
	return q > p && *q == '=';
}

bool journal_match_next(const char **cursor, const char **ret_term, size_t *ret_len)
{
	const char *p = *cursor, *end;

	if (!p || !*p)
		return false;
	end = p;
	for (;;) {
		end = strchr(end, '+');
		if (!end || starts_term(end + 1))
			break;
		end++;
	}
	*ret_term = p;
	*ret_len = end ? (size_t)(end - p) : strlen(p);
	*cursor = end ? end + 1 : p + *ret_len;
	return true;
}

static bool term_valid(const char *t, size_t len)
{
	const char *eq = memchr(t, '=', len);

	if (!eq || eq == t || eq - t > JOURNAL_MATCH_FIELD_MAX || (t[0] >= '0' && t[0] <= '9'))
		return false;
	for (const char *p = t; p < eq; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

bool journal_match_valid(const char *group)
{
	const char *cur = group, *t;
	size_t len;
	bool any = false;

	while (journal_match_next(&cur, &t, &len)) {
		if (!term_valid(t, len))
			return false;
		any = true;
	}
	return any;
}
