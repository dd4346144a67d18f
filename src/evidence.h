/* Evidence: the log lines behind a jail's hits, kept in a fixed ring until a ban takes them. A
 * hit gets a tag (its sequence number), which the jail keeps beside the hit's time; a ban looks
 * the lines of its hits up by tag. A flood of other hits overwrites old lines: the ban then
 * carries the ones that remain. Memory is the ring's, fixed when the jail is built. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* Longest text kept of one line: the tag and message, a long message cut in its middle (the
 * address Courier writes sits at the start of an SMTP error and at the end of a LOGIN FAILED). */
#define EVIDENCE_TEXT_MAX 240

/* Lines a jail keeps until a ban takes them. */
#define EVIDENCE_SLOTS 4096

struct evidence_line {
	uint32_t tag; /* 0: empty */
	uint16_t len;
	uint64_t time_usec;
	char text[EVIDENCE_TEXT_MAX + 1];
};

struct evidence;

/* Returns 0 or -ENOMEM. */
int evidence_new(size_t slots, struct evidence **ret);

/* Keeps one hit's line: "tag: msg" (tag may be NULL), control characters shown as '?', cut to
 * EVIDENCE_TEXT_MAX. Returns its tag (never 0). Never allocates. */
uint32_t evidence_put(struct evidence *e, uint64_t time_usec, const char *tag, size_t tag_len,
		      const char *msg, size_t msg_len);

/* The line of tag, or NULL when it was overwritten since (or tag is 0). */
const struct evidence_line *evidence_get(const struct evidence *e, uint32_t tag);

/* Writes text of len bytes into dst (size >= EVIDENCE_TEXT_MAX + 1) as evidence_put() keeps
 * it, prefixed by prefix (may be NULL): printable, cut in the middle with "..." when too long.
 * Returns the length written. */
size_t evidence_clip(char *dst, const char *prefix, size_t prefix_len, const char *text,
		     size_t len);

struct evidence *evidence_free(struct evidence *e);
DEFINE_FREE_FUNC(struct evidence, evidence_free)
