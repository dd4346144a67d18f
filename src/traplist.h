/* A jail's trap list: addresses, whole domains and login names that only spammers and guessers
 * write to (retired addresses, honeypot addresses published nowhere but where spammers harvest).
 * One entry a line in a file the admin owns; looked up, without allocating, with what a filter's
 * <USER> captured. The daemon asks every few seconds whether the file changed and loads it
 * again; a refused file leaves the old list in force. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "macro.h"

/* Bounds: the longest entry (an address, as <USER> captures at most), the entries of one list
 * and the size of its file. */
#define TRAPLIST_MAX_ENTRY   FILTER_USER_MAX
#define TRAPLIST_MAX_ENTRIES 100000
#define TRAPLIST_MAX_FILE    (8 * 1024 * 1024)

struct traplist;

/* Loads the list at path. Entries: "user@domain" (that address), "@domain" (every address at
 * that domain), or a name without '@' (a login name, as IMAP/POP3's user=); ASCII case is
 * ignored; '#' starts a comment line (or the rest of a line after an entry and a blank); blank
 * lines are skipped. Returns 0, or -errno with every problem in errs as "path:line: ...":
 * -ENOENT (missing), -EPERM (the file or its directory owned by another user than root or the
 * daemon's, or writable by group or others: config_trusted()), -EFBIG (over TRAPLIST_MAX_FILE),
 * -EINVAL (a bad line, more than TRAPLIST_MAX_ENTRIES entries, not a regular file). */
int traplist_load(const char *path, struct traplist **ret, struct config_errors *errs);

/* Whether value (len bytes, not NUL-terminated) is in the list: as a whole, or, for
 * "user@domain", through an entry "@domain" (the domain after the last '@'). Never allocates;
 * false for a value longer than TRAPLIST_MAX_ENTRY. */
bool traplist_contains(const struct traplist *t, const char *value, size_t len);

/* Loads the file again when it may have changed since the last look (device, inode, size, mode,
 * owner, modification and change times; and once more after a look in the second it was
 * written, whose later writes the times may not show). Returns 0 when the list is the same
 * (nothing to say), 1 when it was replaced (or its file is good again after a refusal), or
 * -errno when the changed file is refused: the old list stays in force, the problems are in
 * errs, and the same refusal is not reported again until the file changes. */
int traplist_refresh(struct traplist *t, struct config_errors *errs);

/* The number of distinct entries. */
size_t traplist_size(const struct traplist *t);
const char *traplist_path(const struct traplist *t);

struct traplist *traplist_free(struct traplist *t);
DEFINE_FREE_FUNC(struct traplist, traplist_free)
