/* Courier's timeout control files (/etc/courier/esmtptimeout, esmtptimeoutdata): written for a
 * tuner level and put back as the admin had them (a value byte for byte, or no file), with the
 * originals kept in one state file so that the next start after a crash restores them. Every
 * write is atomic (temp file in the same directory, fsync, rename, fsync of the directory) and
 * never below a floor: Courier reads an empty, 0 or unparsable file as a 0-second timeout and
 * drops every client. The admin wins: content that is not what waveguard last wrote is adopted
 * as the new original and left alone until the next level change. Never logs: messages go into
 * caller buffers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define TIMEOUTS_MAX_FILES   16
#define TIMEOUTS_MAX_CONTENT 4096 /* a control file larger than this is refused (-EFBIG) */

/* One control file and its value per level, indexed by enum tuner_level: [TUNER_NORMAL] is
 * unused (normal = the admin's original), [TUNER_ELEVATED] and [TUNER_WAVE] are written as
 * whole seconds, rounded up, and never below the floor. */
struct timeouts_file {
	const char *name; /* a plain file name in courier_dir, e.g. "esmtptimeout" */
	uint64_t level_usec[3];
};

struct timeouts;

/* courier_dir: where the esmtptimeout* files live (/etc/courier); state_path: the file (in the
 * state directory) that keeps the originals and what waveguard last wrote. files are copied.
 * floor_usec: nothing below it is ever written; it must be at least one second. Returns 0,
 * -EINVAL (n 0 or above TIMEOUTS_MAX_FILES, a name with '/' or starting with '.', a duplicate
 * name, floor below one second) or -ENOMEM. Touches no file. */
int timeouts_new(const char *courier_dir, const char *state_path, const struct timeouts_file *files,
		 size_t n, uint64_t floor_usec, struct timeouts **ret);

/* At start, before anything else: if the state file says waveguard was tuned (it died without
 * restoring), puts each original back (its content and owner/mode, or no file) unless the admin
 * has changed the file since (then the admin's content stays), removes temp files a crash may
 * have left, and removes the state file. Works from the names in the state file, not from the
 * configured list. Returns 1 when a tuned state was found and handled (msg says what was done),
 * 0 when there was nothing to do, -EBUSY when this object is tuned, -EBADMSG for a state file
 * it cannot read (left in place), or -errno (the state file is kept for the next attempt). */
int timeouts_recover(struct timeouts *t, char *msg, size_t size);

/* Applies a level (enum tuner_level). TUNER_NORMAL restores the originals exactly (content
 * byte for byte with its owner and mode, or removes the file waveguard created) and removes the
 * state file; a no-op when not tuned. Other levels: on the first change the current files (or
 * their absence) become the originals; the state file is written atomically BEFORE any Courier
 * file changes; then each file gets "<seconds>s\n", owner and mode copied from the file it
 * replaces, or, when there is none, from another Courier file in the directory (the other
 * configured files, another esmtptimeout*, esmtpd; the directory's owner with 0644 if none).
 * Admin wins: a file whose content is not what waveguard last wrote is adopted as the new
 * original (state updated) and not written at this level change; a later level change writes
 * it again (and normal restores the adopted content). If a state file exists while this
 * object is not tuned (a crash and no timeouts_recover()), the recovery is done first.
 * msg gets a summary, e.g. "esmtptimeout 600s -> 30s, esmtptimeoutdata (no file) -> 60s", with
 * "(adopted: changed by the admin)" for adopted files. Returns the number of files adopted
 * (>= 0; > 0 deserves a warning) or -errno: on an error before the state file is written
 * nothing has changed; after it, the files not yet written keep their content, the level is
 * not switched, and the state file still describes every file (so that timeouts_recover() or
 * a new timeouts_apply() sorts it out). */
int timeouts_apply(struct timeouts *t, int level, char *msg, size_t size);

/* Called at each sample while tuned: a file whose content is not what waveguard last wrote was
 * edited by the admin; it is adopted as the new original (state file updated) and left alone
 * until the next level change. Returns the number adopted (> 0: msg says which, log a warning),
 * 0 when none or not tuned, or -errno (adoptions are kept in memory even when the state file
 * could not be written). */
int timeouts_check(struct timeouts *t, char *msg, size_t size);

/* The level last applied (TUNER_NORMAL when not tuned). */
int timeouts_level(const struct timeouts *t);

/* Parses a Courier timeout value as Courier reads it (first line only): numbers with an
 * optional unit s, m, h, d or w (either case, blanks allowed before it), summed; a bare number is
 * seconds: "90", "90s", "2m", "1h 30m", "600\n". Returns 0 and sets *ret_usec; -EINVAL for
 * empty, garbage (anything Courier would silently stop at) or a total of 0; -ERANGE for more
 * than ten years. */
int timeouts_parse_value(const char *s, uint64_t *ret_usec);

/* Frees t. Does NOT restore the files (the caller applies TUNER_NORMAL at stop). */
struct timeouts *timeouts_free(struct timeouts *t);
DEFINE_FREE_FUNC(struct timeouts, timeouts_free)
