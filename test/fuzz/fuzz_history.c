/* libFuzzer target: history rows as the reader parses them, and the chart drawn from them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "plot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct history_row rows[64];
	size_t n = 0;
	const char *p = (const char *)data, *end = p + size;

	while (p < end && n < 64) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (history_parse_row(p, len, &rows[n]) == 0) {
			char buf[HISTORY_LINE_MAX];
			/* What the reader accepts, the writer writes back. */
			if (history_format_row(&rows[n], buf, sizeof(buf)) < 0)
				__builtin_trap();
			n++;
		}
		p += len;
	}
	FILE *f = fopen("/dev/null", "w");
	if (f) {
		plot_svg(f, rows, n, "fuzz", 30);
		fclose(f);
	}
	return 0;
}
