/* Bounded appending to fixed buffers and JSON string quoting: the two text chores that several
 * rooms share (tuner and Courier-file messages, control replies). */
#include <stdarg.h>

#include "text.h"

void text_appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || *len >= size)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	/* *len keeps growing past size on truncation, so later appends stay no-ops. */
	if (k > 0)
		*len += (size_t)k;
}

void text_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
