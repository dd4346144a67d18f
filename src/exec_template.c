/* Command templates of exec actions: shell-like word splitting without a shell, and the
 * %placeholder% expansion of the words. The split happens once, when the template is read; the
 * expansion per run works on the words, so that no value can ever add or split an argument. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_template.h"
#include "macro.h"

static const struct {
	const char *name;
	size_t len;
} placeholders[EXEC_TEMPLATE_N_VARS] = {
	[EXEC_TEMPLATE_IP] = { "ip", 2 },
	[EXEC_TEMPLATE_JAIL] = { "jail", 4 },
	[EXEC_TEMPLATE_BANTIME] = { "bantime", 7 },
};

static _printf_(3, 4) void set_err(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	if (!err || errsize == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

/* exec_template_expand(), telling an unterminated placeholder (-EBADMSG) from an unknown one
 * (-EINVAL), both with *ret_bad at its '%'. vals may be NULL to validate only (values count as
 * empty). */
static ssize_t expand(const char *word, size_t len, const char *const *vals, const size_t *lens,
		      char *out, size_t *ret_bad)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		const char *end;
		size_t name_len;
		int v;

		if (word[i] != '%' || (i + 1 < len && word[i + 1] == '%')) {
			if (out)
				out[o] = word[i];
			o++;
			i += word[i] == '%' ? 2 : 1;
			continue;
		}
		end = memchr(word + i + 1, '%', len - i - 1);
		if (!end) {
			*ret_bad = i;
			return -EBADMSG;
		}
		name_len = (size_t)(end - (word + i + 1));
		for (v = 0; v < EXEC_TEMPLATE_N_VARS; v++)
			if (placeholders[v].len == name_len &&
			    memcmp(placeholders[v].name, word + i + 1, name_len) == 0)
				break;
		if (v == EXEC_TEMPLATE_N_VARS) {
			*ret_bad = i;
			return -EINVAL;
		}
		if (vals) {
			if (out)
				memcpy(out + o, vals[v], lens[v]);
			o += lens[v];
		}
		i += name_len + 2;
		if (o > EXEC_TEMPLATE_MAX_BYTES)
			return -E2BIG;
	}
	return (ssize_t)o;
}

ssize_t exec_template_expand(const char *word, size_t len, const char *const *vals,
			     const size_t *lens, char *out)
{
	size_t bad;
	ssize_t r;

	if (!word || !vals || !lens)
		return -EINVAL;
	r = expand(word, len, vals, lens, out, &bad);
	return r == -EBADMSG ? -EINVAL : r;
}

/* Checks the placeholders of one word once split (program: the first word). Returns 0, or
 * -EINVAL with err set. */
static int check_word(const char *w, size_t len, bool program, char *err, size_t errsize)
{
	size_t bad = 0;
	ssize_t r = expand(w, len, NULL, NULL, NULL, &bad);

	if (r == -EBADMSG) {
		set_err(err, errsize, "unterminated %% in \"%.*s\" (write %%%% for a literal %%)",
			(int)len, w);
		return -EINVAL;
	}
	if (r < 0) {
		const char *name = w + bad + 1;
		const char *end = memchr(name, '%', len - bad - 1);

		set_err(err, errsize,
			"unknown placeholder %%%.*s%% in \"%.*s\" "
			"(expected %%ip%%, %%jail%%, %%bantime%% or %%%% for a literal %%)",
			(int)(end - name), name, (int)len, w);
		return -EINVAL;
	}
	if (!program)
		return 0;
	if (w[0] != '/') {
		set_err(err, errsize,
			"program \"%.*s\" is not an absolute path (no shell, no PATH search)",
			(int)len, w);
		return -EINVAL;
	}
	if (memchr(w, '%', len)) {
		set_err(err, errsize,
			"program \"%.*s\" contains %%: the program path must be literal", (int)len,
			w);
		return -EINVAL;
	}
	return 0;
}

/* ---- splitting ---- */

struct lexer {
	const char *text; /* the template, for positions in errors */
	const char *s;	  /* the next byte to read */
	char *out;	  /* the current word's bytes */
	size_t o;	  /* its length so far */
	char *err;
	size_t errsize;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static size_t position(const struct lexer *l, const char *p)
{
	return (size_t)(p - l->text) + 1;
}

static int emit(struct lexer *l, char c)
{
	if ((unsigned char)c < 0x20 || c == 0x7f) {
		set_err(l->err, l->errsize, "control character (0x%02x) at character %zu",
			(unsigned char)c, position(l, l->s));
		return -EINVAL;
	}
	l->out[l->o++] = c;
	return 0;
}

/* Whether the '$' at p would start an expansion in a shell: $NAME, $1, ${, $(, $$, $?, ... */
static bool starts_expansion(const char *p)
{
	unsigned char c = (unsigned char)p[1];

	return c && (isalnum(c) || c == '_' || strchr("{(@*#?$!-", c));
}

/* Refuses, with its message, the shell syntax at l->s: ` and expansions anywhere but in single
 * quotes, operators and a comment outside quotes. Returns 0 when l->s is plain text. */
static int shell_syntax(struct lexer *l, bool in_double, bool word_start)
{
	char c = *l->s;
	size_t col = position(l, l->s);

	if (c == '`' || (c == '$' && starts_expansion(l->s))) {
		set_err(l->err, l->errsize,
			"'%.*s' at character %zu is shell substitution, and no shell runs the "
			"command: "
			"use a script for it, or write \\%c for a literal %c",
			c == '$' ? 2 : 1, l->s, col, c, c);
		return -EINVAL;
	}
	if (in_double)
		return 0;
	if (c && strchr("|&;<>()", c)) {
		set_err(l->err, l->errsize,
			"'%c' at character %zu: no shell runs the command (no pipes, redirections, "
			"lists or subshells): use a script for that, or quote the '%c'",
			c, col, c);
		return -EINVAL;
	}
	if (c == '#' && word_start) {
		set_err(l->err, l->errsize,
			"'#' at character %zu would start a comment in a shell: quote it ('#') to "
			"pass "
			"it as text",
			col);
		return -EINVAL;
	}
	return 0;
}

static int unterminated(struct lexer *l, const char *open)
{
	set_err(l->err, l->errsize, "unterminated %c quote opened at character %zu", *open,
		position(l, open));
	return -EINVAL;
}

/* '...': every byte literal up to the closing quote. */
static int lex_single(struct lexer *l)
{
	const char *open = l->s++;

	for (; *l->s != '\''; l->s++) {
		if (!*l->s)
			return unterminated(l, open);
		if (emit(l, *l->s) < 0)
			return -EINVAL;
	}
	l->s++;
	return 0;
}

/* "...": a backslash escapes \ " $ ` only (and is kept before anything else). */
static int lex_double(struct lexer *l)
{
	const char *open = l->s++;

	for (;;) {
		char c = *l->s;

		if (!c)
			return unterminated(l, open);
		if (c == '"') {
			l->s++;
			return 0;
		}
		if (c == '\\' && l->s[1] && strchr("\\\"$`", l->s[1])) {
			c = *++l->s;
		} else if (shell_syntax(l, true, false) < 0)
			return -EINVAL;
		if (emit(l, c) < 0)
			return -EINVAL;
		l->s++;
	}
}

/* Reads the word at l->s (not a blank, not the end) into l->out, l->o bytes. Returns 0 or
 * -EINVAL with the error set. */
static int lex_word(struct lexer *l)
{
	const char *start = l->s;

	l->o = 0;
	while (*l->s && !is_blank(*l->s)) {
		int r;

		if (*l->s == '\'')
			r = lex_single(l);
		else if (*l->s == '"')
			r = lex_double(l);
		else if (*l->s == '\\') {
			if (!l->s[1]) {
				set_err(l->err, l->errsize,
					"backslash at the end of the command (character %zu)",
					position(l, l->s));
				return -EINVAL;
			}
			l->s++;
			r = emit(l, *l->s++);
		} else if ((r = shell_syntax(l, false, l->s == start)) == 0)
			r = emit(l, *l->s++);
		if (r < 0)
			return r;
	}
	return 0;
}

int exec_template_parse(const char *text, char ***ret_argv, size_t *ret_n, char *err,
			size_t errsize)
{
	_cleanup_free_ char **argv = NULL;
	size_t len, max_words, n = 0;
	struct lexer l = { .text = text, .s = text, .err = err, .errsize = errsize };

	set_err(err, errsize, "%s", "");
	if (!text || !ret_argv || !ret_n) {
		set_err(err, errsize, "no command");
		return -EINVAL;
	}

	/* A word takes at least one byte and a blank follows all but the last: at most
	 * (len + 1) / 2 words, whose bytes and NULs fit in len + 1 (quotes and escapes only
	 * shrink). */
	len = strlen(text);
	max_words = (len + 1) / 2;
	argv = malloc((max_words + 1) * sizeof(char *) + len + 1);
	if (!argv) {
		set_err(err, errsize, "out of memory");
		return -ENOMEM;
	}
	l.out = (char *)(argv + max_words + 1);

	for (;;) {
		int r;

		while (is_blank(*l.s))
			l.s++;
		if (!*l.s)
			break;
		r = lex_word(&l);
		if (r < 0)
			return r;
		l.out[l.o] = '\0';
		r = check_word(l.out, l.o, n == 0, err, errsize);
		if (r < 0)
			return r;
		argv[n++] = l.out;
		l.out += l.o + 1;
	}
	if (n == 0) {
		set_err(err, errsize, "empty command");
		return -EINVAL;
	}
	argv[n] = NULL;

	*ret_argv = TAKE_PTR(argv);
	*ret_n = n;
	return 0;
}
