/* Command templates of exec actions ("ban = /usr/bin/mail -s "banned %ip%" root"): the text is
 * split into argv words the way a POSIX shell splits a simple command (quotes, backslashes), and
 * each word's %placeholders% are expanded for each run. No shell ever runs, so the shell syntax
 * that would need one (pipes, redirections, lists, variables, substitutions) is refused rather
 * than passed on as text. Library-like: no event loop, no logging; config checks templates with
 * it, ban_exec runs them. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* The placeholders, in the order of the vals arrays below. */
enum exec_template_var {
	EXEC_TEMPLATE_IP,      /* %ip% */
	EXEC_TEMPLATE_JAIL,    /* %jail% */
	EXEC_TEMPLATE_BANTIME, /* %bantime% */
	EXEC_TEMPLATE_N_VARS,
};

/* The most bytes one expanded command (its words with their NULs) may take. */
#define EXEC_TEMPLATE_MAX_BYTES (64 * 1024)

/* Splits text into words as a POSIX shell splits a simple command:
 *   - blanks (spaces, tabs) separate words;
 *   - '...' is literal text, "..." is text in which a backslash escapes only \ " $ and `
 *     (elsewhere it is kept), and a backslash outside quotes escapes any character;
 *   - quoted and unquoted parts that touch make one word ("a"'b'c is abc); "" and '' are an
 *     empty word.
 * Nothing is expanded: no globbing (* ? [ are text), no ~, no variables. Refused, since only a
 * shell would give them a meaning: | & ; < > ( ) outside quotes, # starting a word, ` and a $
 * that starts an expansion ($NAME, $1, ${, $(, $$, ...) outside single quotes; an unterminated
 * quote, a backslash ending the text, a control character in a word.
 * %ip%, %jail%, %bantime% and %% (a literal %) keep their meaning inside quotes too: they are
 * checked here and expanded by exec_template_expand(), after the split, so that a value is
 * always one word, whatever it contains. The first word is the program: an absolute path,
 * without placeholders.
 * Returns 0 and sets *ret_argv to a NULL-terminated array of *ret_n words in one allocation
 * (free() it), or -EINVAL with a message (where: "at character N", counted from 1) in err, or
 * -ENOMEM. err may be NULL; it always ends up NUL-terminated when errsize > 0. */
int exec_template_parse(const char *text, char ***ret_argv, size_t *ret_n, char *err,
			size_t errsize);

/* Expands the len bytes of one parsed word with vals[EXEC_TEMPLATE_*] (lens[]: their lengths)
 * into out, or only measures when out is NULL (no NUL is written). Returns the expanded length,
 * -EINVAL for an unknown or unterminated placeholder, -E2BIG past EXEC_TEMPLATE_MAX_BYTES. */
ssize_t exec_template_expand(const char *word, size_t len, const char *const *vals,
			     const size_t *lens, char *out);
