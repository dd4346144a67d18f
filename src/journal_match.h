/* The syntax of a journal match group (journal_match =, one word): FIELD=value terms joined by
 * '+', all of which an entry must have (sd_journal_add_match() within one group: different
 * fields AND-ed, the same field's values OR-ed); the groups of a jail are OR-ed. A '+' starts a
 * new term only when a field name and '=' follow it, so a value may hold a '+' of its own
 * ("_EXE=/opt/c++/bin/x"). Pure text: shared by the configuration's check and the journal
 * reader. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Longest field name sd-journal takes. */
#define JOURNAL_MATCH_FIELD_MAX 64

/* Walks the terms of group at *cursor (start with the group): sets *ret_term and *ret_len to
 * the next "FIELD=value" (not NUL-terminated) and returns true, or returns false at the end. */
bool journal_match_next(const char **cursor, const char **ret_term, size_t *ret_len);

/* Whether every term of group is FIELD=value with FIELD of A-Z, 0-9 and _, not starting with a
 * digit, at most JOURNAL_MATCH_FIELD_MAX long (what sd_journal_add_match() accepts). */
bool journal_match_valid(const char *group);
