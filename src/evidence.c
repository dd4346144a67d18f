/* The evidence ring: slot = tag % slots, and a slot is valid while its tag is the one asked
 * for, so a lookup is one comparison and an overwritten line is simply gone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"

#define CUT_MARK "..."

struct evidence {
	struct evidence_line *v;
	size_t slots;
	uint32_t next; /* the last tag given */
};

int evidence_new(size_t slots, struct evidence **ret)
{
	struct evidence *e = calloc(1, sizeof(*e));

	if (!e || slots == 0)
		return free(e), slots == 0 ? -EINVAL : -ENOMEM;
	/* calloc maps untouched pages lazily: a quiet jail costs little of its ring. */
	e->v = calloc(slots, sizeof(*e->v));
	if (!e->v)
		return free(e), -ENOMEM;
	e->slots = slots;
	*ret = e;
	return 0;
}

/* Log text is a stranger's: nothing that could end a line or move a terminal. */
static void copy_printable(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
}

size_t evidence_clip(char *dst, const char *prefix, size_t prefix_len, const char *text, size_t len)
{
	size_t n = 0;

	if (prefix && prefix_len) {
		prefix_len = MIN(prefix_len, (size_t)EVIDENCE_TEXT_MAX / 4);
		copy_printable(dst, prefix, prefix_len);
		n = prefix_len;
		memcpy(dst + n, ": ", 2);
		n += 2;
	}
	size_t room = EVIDENCE_TEXT_MAX - n;
	if (len <= room) {
		copy_printable(dst + n, text, len);
		n += len;
	} else {
		size_t head = (room - strlen(CUT_MARK)) / 2;
		size_t tail = room - strlen(CUT_MARK) - head;
		copy_printable(dst + n, text, head);
		n += head;
		memcpy(dst + n, CUT_MARK, strlen(CUT_MARK));
		n += strlen(CUT_MARK);
		copy_printable(dst + n, text + len - tail, tail);
		n += tail;
	}
	dst[n] = '\0';
	return n;
}

uint32_t evidence_put(struct evidence *e, uint64_t time_usec, const char *tag, size_t tag_len,
		      const char *msg, size_t msg_len)
{
	if (++e->next == 0)
		e->next = 1;
	struct evidence_line *l = &e->v[e->next % e->slots];
	l->tag = e->next;
	l->time_usec = time_usec;
	l->len = (uint16_t)evidence_clip(l->text, tag, tag ? tag_len : 0, msg, msg_len);
	return e->next;
}

const struct evidence_line *evidence_get(const struct evidence *e, uint32_t tag)
{
	const struct evidence_line *l = &e->v[tag % e->slots];
	return tag && l->tag == tag ? l : NULL;
}

struct evidence *evidence_free(struct evidence *e)
{
	if (e) {
		free(e->v);
		free(e);
	}
	return NULL;
}
