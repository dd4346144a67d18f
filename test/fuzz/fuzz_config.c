/* libFuzzer target: the configuration loader on any waveguard.conf and jail file. The input is
 * split at its first NUL byte: before it waveguard.conf, after it conf.d/fuzz.conf. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void write_file(const char *name, const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	chmod(path, 0644);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	char sub[128];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/waveguard-fuzz.XXXXXX");
		if (!mkdtemp(dir))
			abort();
		chmod(dir, 0755);
		snprintf(sub, sizeof(sub), "%s/conf.d", dir);
		mkdir(sub, 0755);
	}
	const uint8_t *nul = memchr(data, 0, size);
	size_t first = nul ? (size_t)(nul - data) : size;
	write_file("waveguard.conf", data, first);
	write_file("conf.d/fuzz.conf", nul ? nul + 1 : data, nul ? size - first - 1 : 0);
	if (config_load(dir, &c, &errs) == 0)
		config_free(c);
	config_errors_clear(&errs);
	return 0;
}
