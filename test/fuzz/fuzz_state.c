/* libFuzzer target: the state directory's readers (the ban table) on any file content. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bans.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	struct bans *b = NULL;
	unsigned bad = 0;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/waveguard-fuzz.XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/bans", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	if (bans_open(path, 1795761409ULL * 1000000, 3600ULL * 1000000, &b, &bad) == 0) {
		for (size_t i = 0; i < bans_size(b); i++)
			(void)bans_get(b, i);
		bans_free(b);
	}
	unlink(path);
	return 0;
}
