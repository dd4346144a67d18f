/* Follows the systemd journal inside the sd-event loop, as `journalctl -f` with matches would, and
 * hands each entry's (SYSLOG_IDENTIFIER, MESSAGE, time) to a callback. The twin of source_file:
 * survives journal file rotation, vacuuming and journald restarts, retries while the journal
 * cannot be read, and resumes right after a saved cursor. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "logline.h"

struct source_journal;

/* Longest MESSAGE handed on (bytes, without "MESSAGE="). Longer ones are counted in too_long and
 * skipped whole, never cut: a cut message could end where an attacker wants it to. */
#define SOURCE_JOURNAL_MAX_MSG 8192
/* Longest SYSLOG_IDENTIFIER; entries with a longer one are counted in too_long and skipped. */
#define SOURCE_JOURNAL_MAX_TAG 255
/* Entries read per wake-up at most; the rest is read from a oneshot defer source. */
#define SOURCE_JOURNAL_BATCH 1000
/* Pause before reopening the journal after an error (never a busy loop). */
#define SOURCE_JOURNAL_RETRY_USEC (5 * 1000000ULL)

struct source_journal_stats {
	uint64_t entries;	  /* handed to the entry callback */
	uint64_t no_message;	  /* matching entries without MESSAGE: skipped */
	uint64_t too_long;	  /* MESSAGE or SYSLOG_IDENTIFIER too long: skipped whole */
	uint64_t batches;	  /* wake-ups that consumed at least one entry */
	uint64_t invalidations;	  /* SD_JOURNAL_INVALIDATE: files added or removed (rotation,
				   * vacuuming, journald restart) */
	uint64_t errors;	  /* failures to open, process or read; each one closes the journal
				   * and reopens it SOURCE_JOURNAL_RETRY_USEC later */
	uint64_t no_files;	  /* times the journal had no file at all (directory missing or
				   * emptied, nothing readable): reopened SOURCE_JOURNAL_RETRY_USEC
				   * later */
	uint64_t reopens;	  /* successful opens after the first one */
	uint64_t cursor_rejected; /* cursors that could not be used: started at since_usec */
	int last_error;		  /* -errno of the last error, for the caller's log; 0 if none */
};

/* Called for every entry that matches: l->tag is the SYSLOG_IDENTIFIER (NULL, tag_len 0 when the
 * entry has none), l->msg/msg_len the MESSAGE (binary safe: not NUL-terminated, may contain NUL;
 * msg_len <= SOURCE_JOURNAL_MAX_MSG), l->time_usec the entry's _SOURCE_REALTIME_TIMESTAMP, or its
 * realtime (reception) timestamp when that field is missing or malformed. The pointers are only
 * valid during the call. Callbacks must not free the source. */
typedef void (*source_journal_entry_fn)(const struct logline *l, void *userdata);

/* Called once after each batch (one wake-up that consumed entries), when the cursor returned by
 * source_journal_get_cursor() has moved past them: the place to save it. May be NULL. */
typedef void (*source_journal_batch_fn)(struct source_journal *s, void *userdata);

/* Creates a journal follower (not started). directory NULL reads the local system journal
 * (/run/log/journal and /var/log/journal), otherwise the journal files in that directory.
 * matches are groups, OR-ed (journalctl's "+"), of "FIELD=value" terms joined by '+', AND-ed
 * (journal_match.h); n_matches 0 reads every entry.
 * Returns 0 or -errno (-EINVAL for a malformed match or a missing callback). */
int source_journal_new(sd_event *e, const char *directory, const char *const *matches,
		       size_t n_matches, source_journal_entry_fn on_entry,
		       source_journal_batch_fn on_batch, void *userdata,
		       struct source_journal **ret);

/* Starts following. With cursor non-NULL, reading resumes at the first entry after it (the
 * cursor's own entry is not handed on again; when it has been vacuumed, at the first one after
 * where it was). Without a cursor, or when the cursor is not a valid one, reading starts at the
 * first entry received at or after since_usec (CLOCK_REALTIME; 0 = the oldest entry). Entries are
 * read from the event loop, never from this call. A journal that cannot be opened yet is retried
 * (counted in errors) and 0 returned. Returns 0 when started as asked, 1 when the cursor was
 * rejected and since_usec used instead, -EBUSY when already started, -errno on other errors. */
int source_journal_start(struct source_journal *s, const char *cursor, uint64_t since_usec);

/* Cursor of the last entry consumed by the end of the last batch (handed on, or skipped), or
 * the start cursor while nothing has been read. Sets *ret to a malloc'ed string; returns 0, or
 * -ENODATA when there is none yet, -ENOMEM. */
int source_journal_get_cursor(const struct source_journal *s, char **ret);

const struct source_journal_stats *source_journal_get_stats(const struct source_journal *s);

/* True while the journal is open (false while waiting to retry after an error). */
bool source_journal_is_open(const struct source_journal *s);

/* Stops following, closes the journal, drops every event source. Accepts NULL, returns NULL. */
/* Reads a journal once, without a loop (test-filter and replay): every entry matching one of
 * matches, from since_usec (0: the oldest) to the end. Returns the number of entries handed on
 * or -errno (-EINVAL for a malformed match). */
int source_journal_read_all(const char *directory, const char *const *matches, size_t n_matches,
			    uint64_t since_usec, source_journal_entry_fn on_entry, void *userdata);

struct source_journal *source_journal_free(struct source_journal *s);
