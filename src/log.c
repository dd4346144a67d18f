/* Logging for the daemon's edges. Under systemd (JOURNAL_STREAM set) every line carries a <N>
 * priority prefix so journald files it at the right level; on a terminal it carries a word. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

int log_max_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",	 [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",	 [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",	 [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -EINVAL;
}

int log_full_errno(int level, int error, const char *fmt, ...)
{
	int saved = errno;
	if (error < 0)
		error = -error;

	if (level <= log_max_level) {
		char buf[2048];
		va_list ap;
		va_start(ap, fmt);
		/* %m in fmt means the error passed in, as in systemd's log functions. */
		errno = error;
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		if (getenv("JOURNAL_STREAM"))
			fprintf(stderr, "<%d>%s\n", level, buf);
		else
			fprintf(stderr, "waveguard: %s: %s\n", level_names[level & 7], buf);
	}
	errno = saved;
	return -error;
}
