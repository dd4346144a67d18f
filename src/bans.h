/* The ban table: every ban waveguard has put in the kernel (network, jail, offender, expiry,
 * offence count, the times of the network's recent bans by any jail, and the log lines that
 * decided it), in memory and in an append-only file in the state directory. A change is
 * appended with one write(), so a SIGKILL at any moment leaves a file that replays to the last
 * completed change. Expired bans are remembered for a while for their offence counts (repeat
 * offenders get longer bans across restarts). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "macro.h"

#define BAN_JAIL_MAX 64
/* until_usec of a ban that never ends by itself (bantime = forever). */
#define BAN_FOREVER UINT64_MAX
/* Times of a network's bans kept for the recidive count. */
#define BAN_STRIKES_MAX 8
/* Bytes of one ban's evidence at most (JAIL_TAGS_MAX lines of evidence.h's length). */
#define BAN_EVIDENCE_MAX 2200

struct ban {
	struct addr addr; /* the banned network: the table's key */
	struct addr host; /* the offender whose hits decided it */
	char jail[BAN_JAIL_MAX];
	uint64_t since_usec, until_usec; /* realtime; until BAN_FOREVER: permanent */
	uint32_t offence;
	/* Seconds since the epoch of this network's bans by jails that read logs, oldest first:
	 * what a jail of backend = bans (recidive) counts, across restarts. */
	uint32_t strikes[BAN_STRIKES_MAX];
	uint8_t n_strikes;
	bool ended; /* its end (expiry or lift) has been acted on */
	/* The fleet host that decided it (a remote ban, applied from the fleet's stream); NULL:
	 * this host. bans_add() keeps its own copy: in the table it lives as long as the table. */
	const char *origin;
	/* The lines that decided it, "USEC TEXT\n" each, oldest first; NULL: none. bans_add()
	 * copies it: in the table it is the table's own. */
	char *evidence;
};

struct bans;

/* Opens (creating) the file at path, replays it, forgets records whose ban ended more than
 * memory_usec before now, and rewrites it compactly. *ret_bad counts lines that could not be
 * read (a torn last line after a power loss). path NULL: a table in memory only, without a file
 * (replay's). Returns 0 or -errno. */
int bans_open(const char *path, uint64_t now_usec, uint64_t memory_usec, struct bans **ret,
	      unsigned *ret_bad);

/* Caps the table at max records (0: no cap, the default). At the cap a new network makes room
 * first: the records of ended bans go (their offence counts with them), then the active bans
 * that end soonest, down to 99% of the cap, and the file is rewritten. The kernel keeps the
 * elements of evicted bans until their own timeouts; a restart no longer brings them back. */
void bans_set_max(struct bans *b, size_t max);

/* 0 when the file holds every change; else the -errno of the write that failed (a full disk):
 * the changes since are kept in memory, and the first write that works again rewrites the whole
 * file with them. A failed rewrite of the file at bans_open() counts too. */
int bans_unsaved(const struct bans *b);

/* Active bans evicted at the cap since the table was opened. */
uint64_t bans_evicted(const struct bans *b);

/* Caps the bytes of evidence the table keeps (0: no cap). Over it, the evidence of ended bans
 * goes first, then that of the bans that end soonest, down to 90%; the bans stay. */
void bans_set_max_evidence(struct bans *b, uint64_t bytes);
uint64_t bans_evidence_bytes(const struct bans *b);

/* Records a ban (replacing any record for the same network; its evidence is copied, cut to
 * BAN_EVIDENCE_MAX at a line's end). Returns 0 or -errno (the record is kept in memory even
 * when the file cannot be written: see bans_unsaved()). */
int bans_add(struct bans *b, const struct ban *ban);

/* Marks the ban of network a as lifted now, and ended (the offence count is kept). Returns 0,
 * -ENOENT when a is not banned, or -errno. */
int bans_lift(struct bans *b, const struct addr *a, uint64_t now_usec);

/* Records that the end of the ban of network a (expired) has been acted on. Returns 0, -ENOENT
 * without such a record, or -errno. */
int bans_mark_ended(struct bans *b, const struct addr *a);

/* The earliest end after which a record is not marked ended yet (BAN_FOREVER: none). */
uint64_t bans_next_end(const struct bans *b);

/* One line of a ban's evidence. */
struct bans_evidence_line {
	uint64_t time_usec;
	const char *text; /* not NUL-terminated */
	size_t len;
};

/* Walks the evidence text at *cursor (start with ban->evidence, may be NULL): fills *ret with
 * the next line and returns true, or false at the end. */
bool bans_evidence_next(const char **cursor, struct bans_evidence_line *ret);

/* The record for network a, or NULL. */
const struct ban *bans_find(const struct bans *b, const struct addr *a);

/* All records, active or not: i from 0 to bans_size()-1. */
size_t bans_size(const struct bans *b);
const struct ban *bans_get(const struct bans *b, size_t i);

/* Records with until > now. */
size_t bans_active(const struct bans *b, uint64_t now_usec);

/* Drops records whose ban ended more than memory_usec ago and rewrites the file when it has
 * grown well past what it describes. Returns 0 or -errno. */
int bans_maintain(struct bans *b, uint64_t now_usec);

struct bans *bans_free(struct bans *b);
DEFINE_FREE_FUNC(struct bans, bans_free)
