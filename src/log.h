/* Logging for the daemon's edges: stderr with syslog priority prefixes that journald understands.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* The one mutable global: the maximum priority that is printed (LOG_ERR..LOG_DEBUG). */
extern int log_max_level;

/* Parses "err", "warning", "notice", "info", "debug" (or 0-7). Returns the level or -EINVAL. */
int log_level_from_string(const char *s);

/* Writes one line at priority level; returns -abs(error) when error is nonzero, else 0, so that
 * callers can write "return log_error_errno(r, ...)". */
int log_full_errno(int level, int error, const char *fmt, ...) _printf_(3, 4);

/* MESSAGE_IDs of waveguard's events, so that `journalctl MESSAGE_ID=...` lists them all. */
#define LOG_MESSAGE_BAN		 "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b10"
#define LOG_MESSAGE_UNBAN	 "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b11"
#define LOG_MESSAGE_TUNER	 "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b12"
#define LOG_MESSAGE_SOURCE_ERROR "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b13"
#define LOG_MESSAGE_EVENT	 "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b14"
#define LOG_MESSAGE_SERVER_DOWN	 "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b15"
#define LOG_MESSAGE_SERVER_UP	 "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b16"
#define LOG_MESSAGE_REAP	 "6f1c1a0e5d3b4c7a9e2f8b7d4c3a2b17"

/* True when stderr is the journal stream systemd set up for us (JOURNAL_STREAM): only then do
 * the fields of log_event() go anywhere, so a caller may skip building costly ones. */
bool log_to_journal(void);

/* An event: under journald (stderr is the journal stream) an entry with MESSAGE_ID and the
 * given "KEY=value" fields (NULL-terminated list); elsewhere the same plain line as
 * log_full_errno(). Returns 0. */
int log_event(int level, const char *message_id, const char *const *fields, const char *fmt, ...)
	_printf_(4, 5);

#define log_debug(...)		  log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)		  log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)		  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)	  log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)		  log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)	  log_full_errno(LOG_ERR, (e), __VA_ARGS__)
