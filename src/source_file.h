/* Follows one log file inside the sd-event loop, as `tail -F` would, and hands each complete
 * line to a callback. Survives rotation by rename-and-create and by copytruncate, waits for a
 * file that does not exist yet, and resumes from a saved position. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct source_file;

/* Where reading stands: enough to resume after a restart and to tell that the file at path is
 * no longer the one that was read (other inode, or same inode rewritten: other head). */
struct source_file_pos {
	uint64_t dev, ino;
	uint64_t offset;    /* bytes consumed: always at a line boundary */
	uint32_t head_len;  /* bytes hashed from the start of the file (at most 256) */
	uint64_t head_hash; /* hash of those bytes */
};

struct source_file_stats {
	uint64_t lines;	      /* complete lines handed to the callback */
	uint64_t bytes;	      /* bytes read */
	uint64_t too_long;    /* lines longer than max_line: dropped whole, never split */
	uint64_t rotations;   /* rename-and-create rotations followed */
	uint64_t truncations; /* copytruncate (or other shrinking) detected */
};

/* Called for every complete line, without its '\n'. len <= max_line. The buffer is only valid
 * during the call. Callbacks must not free the follower. */
typedef void (*source_file_line_fn)(const char *line, size_t len, void *userdata);

/* Called once after each batch of lines (one wake-up), e.g. to flush bans or mark the position
 * dirty. May be NULL. */
typedef void (*source_file_batch_fn)(struct source_file *s, void *userdata);

/* Creates a follower for path (not started). max_line is the longest line handed on (longer
 * ones are counted in too_long and skipped up to their newline). Returns 0 or -errno. */
int source_file_new(sd_event *e, const char *path, size_t max_line, source_file_line_fn on_line,
		    source_file_batch_fn on_batch, void *userdata, struct source_file **ret);

/* Starts following. With resume non-NULL and still matching the file at path (same dev/inode,
 * size >= offset, same head), reading continues at resume->offset; otherwise the file is read
 * from its beginning. A missing file is waited for (0 is returned). Returns 0 or -errno. */
int source_file_start(struct source_file *s, const struct source_file_pos *resume);

/* Current position (of the file at path once a rotation has been followed). */
void source_file_get_pos(const struct source_file *s, struct source_file_pos *ret);

const struct source_file_stats *source_file_get_stats(const struct source_file *s);
const char *source_file_get_path(const struct source_file *s);

/* Text form of a position for the state file: "dev ino offset head_len head_hash" (decimal,
 * hash in hex). format returns the length or -ENOBUFS; parse returns 0 or -EINVAL. */
int source_file_pos_format(const struct source_file_pos *p, char *buf, size_t size);
int source_file_pos_parse(const char *s, struct source_file_pos *ret);

/* Stops following, closes everything. Accepts NULL, returns NULL. */
struct source_file *source_file_free(struct source_file *s);
