/* libFuzzer target: the control socket's request parser, on any bytes. */
#include <stdint.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	char err[256];

	if (control_parse_request((const char *)data, size, &req, err, sizeof(err)) < 0 &&
	    err[sizeof(err) - 1] != '\0')
		__builtin_trap();
	return 0;
}
