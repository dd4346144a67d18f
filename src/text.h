/* Small text helpers shared by the rooms that build messages and replies: bounded appending to a
 * fixed buffer (no allocation on the paths that log), and JSON string quoting. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "macro.h"

/* Appends printf-style text at buf + *len, never past size (the text is cut, always
 * NUL-terminated); *len grows by the length the text wanted, so *len >= size tells of a cut.
 * buf may be NULL: nothing happens. */
_printf_(4, 5) void text_appendf(char *buf, size_t size, size_t *len, const char *fmt, ...);

/* Writes s as a JSON string: quoted, with '"', '\\' and control characters escaped. */
void text_json_string(FILE *f, const char *s);
