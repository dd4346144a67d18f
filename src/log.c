/* Logging for the daemon's edges. Under systemd (JOURNAL_STREAM set) every line carries a <N>
 * priority prefix so journald files it at the right level; on a terminal it carries a word. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

int log_max_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
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

/* True when stderr is the journal stream systemd set up for us (JOURNAL_STREAM=dev:ino of
 * it): then structured fields can go to journald directly, and lines get <N> prefixes. */
bool log_to_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

int log_event(int level, const char *message_id, const char *const *fields, const char *fmt, ...)
{
	char msg[2048], prio[16], id[64];
	struct iovec iov[32];
	size_t n = 0;
	va_list ap;

	if (level > log_max_level)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!log_to_journal())
		return log_full_errno(level, 0, "%s", msg);

	char *m = NULL;
	if (asprintf(&m, "MESSAGE=%s", msg) < 0)
		return log_full_errno(level, 0, "%s", msg);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
	snprintf(id, sizeof(id), "MESSAGE_ID=%s", message_id);
	iov[n++] = (struct iovec){ m, strlen(m) };
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ id, strlen(id) };
	iov[n++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=waveguard", 27 };
	for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
		iov[n++] = (struct iovec){ (char *)fields[i], strlen(fields[i]) };
	int r = sd_journal_sendv(iov, (int)n);
	free(m);
	if (r < 0)
		return log_full_errno(level, 0, "%s", msg);
	return 0;
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
		if (log_to_journal())
			fprintf(stderr, "<%d>%s\n", level, buf);
		else
			fprintf(stderr, "waveguard: %s: %s\n", level_names[level & 7], buf);
	}
	errno = saved;
	return -error;
}
