/* libFuzzer target: the positions file of the state directory (sources.c), as a start reads it:
 * the file's text through state_read_file(), each key's value found in it, and a log file's
 * value parsed as a position. Oracles: a value found is the first line of its key that fits,
 * holds no line break or tab, and a parsed position formats back to a value that parses to the
 * same position. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source_file.h"
#include "sources.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VALUE_MAX 160

static char dir[64];

static void cleanup(void)
{
	rmdir(dir);
}

/* The first value of key in text that fits VALUE_MAX, the plain way. */
static bool naive_find(const char *text, const char *key, char *buf)
{
	for (const char *line = text; *line;) {
		const char *nl = strchrnul(line, '\n');
		const char *tab = memchr(line, '\t', (size_t)(nl - line));
		if (tab && (size_t)(nl - tab - 1) == strlen(key) &&
		    strncmp(tab + 1, key, strlen(key)) == 0 && (size_t)(tab - line) < VALUE_MAX) {
			memcpy(buf, line, (size_t)(tab - line));
			buf[tab - line] = '\0';
			return true;
		}
		line = *nl ? nl + 1 : nl;
	}
	return false;
}

static void check_key(const char *text, const char *key)
{
	char got[VALUE_MAX], want[VALUE_MAX], again[VALUE_MAX];
	struct source_file_pos pos, pos2;
	bool found = sources_find_saved(text, key, got, sizeof(got));

	if (found != naive_find(text, key, want) || (found && strcmp(got, want) != 0))
		__builtin_trap();
	if (!found)
		return;
	if (strlen(got) >= VALUE_MAX || strpbrk(got, "\n\t"))
		__builtin_trap();
	if (source_file_pos_parse(got, &pos) < 0)
		return;
	if (source_file_pos_format(&pos, again, sizeof(again)) < 0 ||
	    source_file_pos_parse(again, &pos2) < 0 || memcmp(&pos, &pos2, sizeof(pos)) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "/var/log/mail.log", "/var/log/mail.log.1",
					    "journal:system:SYSLOG_IDENTIFIER=courieresmtpd", "" };
	char path[128];
	char *text = NULL;

	if (!dir[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(dir, sizeof(dir), "%s/waveguard-fuzz.XXXXXX", base);
		if (!mkdtemp(dir))
			abort();
		atexit(cleanup);
	}
	snprintf(path, sizeof(path), "%s/positions", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	if (state_read_file(path, 1024 * 1024, &text, NULL) < 0)
		abort();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		check_key(text, keys[i]);
	/* Every key the text itself names, as a start would look each up. */
	for (const char *line = text; *line;) {
		const char *nl = strchrnul(line, '\n'),
			   *tab = memchr(line, '\t', (size_t)(nl - line));
		if (tab) {
			char *key = strndup(tab + 1, (size_t)(nl - tab - 1));
			if (!key)
				abort();
			check_key(text, key);
			free(key);
		}
		line = *nl ? nl + 1 : nl;
	}
	free(text);
	unlink(path);
	return 0;
}
