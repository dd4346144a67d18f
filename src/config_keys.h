/* The keys of the configuration files as data: one table per section, each key with its value
 * type, where its value goes and a line of help. From the tables come the parser's dispatch,
 * the "expected ..." lists of the errors, what may repeat, and `check-config --keys`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* The files a section can appear in. */
enum config_file_kind {
	CONFIG_MAIN,   /* waveguard.conf */
	CONFIG_FILTER, /* a file of filters/ */
	CONFIG_ACTION, /* a file of actions/ */
	CONFIG_JAILS,  /* a file of conf.d/: each section is a jail, named by the admin */
};

enum config_key_type {
	CONFIG_STRING,	 /* text, or what the key's validator accepts */
	CONFIG_PATH,	 /* an absolute path */
	CONFIG_BOOL,	 /* yes/no, true/false, on/off, 1/0 */
	CONFIG_UNSIGNED, /* min..max, stored in an unsigned field of any width */
	CONFIG_INTEGER,	 /* min..max, signed, stored in an int */
	CONFIG_NUMBER,	 /* a real number from min to max */
	CONFIG_DURATION, /* timeutil_parse_duration(); min 1 refuses 0 */
	CONFIG_FRACTION, /* 0..1 or 0%..100% */
	CONFIG_SIZE,	 /* bytes with K, M or G, at least min */
	CONFIG_CHOICE,	 /* one of the key's choices, stored as its index (an enum) */
	CONFIG_WORDS,	 /* words over one or more lines (spaces, tabs, commas), each added */
	CONFIG_LINES,	 /* one item per line, continuation lines included */
};

/* A setter's view of the line being read; errors go to errs, allocation failures set
 * failed_alloc. */
struct config_key_ctx {
	struct config_errors *errs;
	const char *file;
	unsigned line;
	const char *section; /* as written: a jail's name for jail sections */
	const char *key;     /* as written: "filter.host" for the pattern filter.VAR */
	bool cont;	     /* a continuation line of the key */
	bool failed_alloc;
};

struct config_key;
typedef void config_key_fn(struct config_key_ctx *x, const struct config_key *k, void *obj,
			   const char *value);

enum {
	CONFIG_KEY_MULTILINE = 1 << 0, /* takes continuation lines (lists) */
	CONFIG_KEY_REPEAT = 1 << 1,    /* may be set more than once; other keys are errors then */
};

struct config_key {
	const char *name; /* as written, or the pattern shown for a key with match */
	enum config_key_type type;
	unsigned flags;			 /* CONFIG_KEY_* */
	size_t offset, size;		 /* the field in the section's struct */
	size_t count_offset;		 /* lists: the size_t count of the array at offset */
	size_t line_offset;		 /* 1 + where the key's line goes (unsigned); 0: nowhere */
	long min, max;			 /* UNSIGNED, INTEGER, NUMBER; DURATION, SIZE: min */
	const char *const *choices;	 /* CHOICE: NULL-terminated */
	bool (*valid)(const char *s);	 /* STRING: the value; WORDS: each word */
	config_key_fn *add;		 /* WORDS: adds one word (default: a string list) */
	config_key_fn *set;		 /* a setter of its own instead of the type's */
	bool (*match)(const char *name); /* a pattern key: which names it stands for */
	const char *expected;		 /* what a bad value should have been */
	const char *only;		 /* listed apart: "... for timeouts actions" */
	const char *help;
};

struct config_section {
	const char *name; /* as in the files; "jail" stands for every jail's name */
	enum config_file_kind kind;
	size_t offset; /* CONFIG_MAIN: the section's struct in struct config */
	const struct config_key *keys;
	size_t n_keys;
	/* An unknown key's continuation lines are reported as unknown keys, not as "takes one
	 * line" ([test] always did so). */
	bool unknown_every_line;
};

/* Every section, in the order of --keys and of the "expected [...]" lists. */
extern const struct config_section config_keys_sections[];
extern const size_t config_keys_n_sections;

/* The section called name in a file of this kind (any name in conf.d), or NULL. */
const struct config_section *config_keys_section(enum config_file_kind kind, const char *name);

/* The key of s that name is (an exact name first, then a pattern), or NULL. */
const struct config_key *config_keys_find(const struct config_section *s, const char *name);

/* Whether name may be set twice in its section: k's flag, or, for a name that is no key of
 * the section (an unknown key, a [vars] variable), whether some section gathers a list under
 * that name. */
bool config_keys_repeats(const struct config_key *k, const char *name);

/* Applies x->key = value to obj (the section's struct): the key's setter, or the error of an
 * unknown key or of a continuation line for a key that takes one line. */
void config_keys_set(struct config_key_ctx *x, const struct config_section *s, void *obj,
		     const char *value);

/* Empties the list a key gathers (lists, samples of its kind), before a later file's value
 * replaces it; keys that are no lists are left alone (their setters overwrite). */
void config_keys_reset(const struct config_key *k, void *obj);

/* The value of k in obj as text, as it would be written: lists of words on one line, lists of
 * lines (regexes, samples) one item a line. Pattern keys (filter.VAR, [vars], esmtptimeout*)
 * are the caller's. Returns 0 and a malloc'ed *ret, or -ENOMEM. */
int config_keys_format(const struct config_key *k, const void *obj, char **ret);

/* "7d", "1h30m", "90s", "forever": timeutil_format_duration(), which the files read back. */
void config_keys_format_duration(FILE *f, uint64_t usec);

/* "a, b or c": the keys of s for an "unknown key" error; keys with an 'only' come apart:
 * "a, b; c, d for timeouts actions". Truncated to size. */
void config_keys_expected(const struct config_section *s, char *buf, size_t size);

/* "[a], [b] or [c]": the sections of a file kind. Truncated to size. */
void config_keys_sections_expected(enum config_file_kind kind, char *buf, size_t size);

/* One line per key, "SECTION KEY TYPE  help", for check-config --keys. Returns 0 or -EIO. */
int config_keys_print(FILE *f);

/* Letters, digits, '-', '_', '.': the names of jails, filters and actions. */
bool config_keys_valid_name(const char *s);

/* Appends a copy of s to the string list *v of *n. Returns false when out of memory. */
bool config_keys_strv_push(char ***v, size_t *n, const char *s);
