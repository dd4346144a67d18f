/* Files the daemon keeps across restarts, written so that a crash or power loss leaves either
 * the old or the new content, never a mix. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes all of data to fd, going on after short writes and EINTR. Returns 0 or -errno. */
int state_write_all(int fd, const void *data, size_t len);

/* Writes data to path through a temporary file in the same directory: write, fsync, rename,
 * fsync of the directory. Returns 0 or -errno (path untouched on failure). */
int state_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads a whole (small) file into a NUL-terminated buffer. Returns 0, -ENOENT when it does not
 * exist, -EFBIG when larger than max, or -errno. */
int state_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Creates dir (mode 0700) when missing and checks that it is a writable directory owned by the
 * caller's euid and not writable by group or others. Returns 0, -EPERM for a directory of
 * another owner or writable by others, or -errno. */
int state_ensure_dir(const char *dir);
