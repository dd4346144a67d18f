/* The sources room: every log file and journal reader the enabled jails ask for, each shared by
 * the jails that read it, each line delivered to one sink with the jails of its source; and the
 * saved positions (file offsets, journal cursors) that let a restart resume right after the
 * last line read. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "engine.h"
#include "logline.h"

/* A line (from a file, or a journal entry) for the jails that read its source. */
typedef void (*sources_sink_fn)(struct engine_jail *const *jails, size_t n_jails,
				const struct logline *l, void *userdata);

/* A source's name ("/var/log/mail.log", "journal:system:_COMM=courieresmtpd") and lines read,
 * for the metrics. */
struct sources_stat {
	const char *name;
	uint64_t lines;
};

struct sources;

/* Prepares the save timer; positions live in state_dir/positions. Returns 0 or -errno. */
int sources_new(sd_event *e, const char *state_dir, sources_sink_fn sink, void *userdata,
		struct sources **ret);

/* Opens one follower per distinct file and one journal reader per distinct (directory,
 * matches) of the engine's jails, resumed at their saved positions. Returns 0 or -errno
 * (logged). */
int sources_start(struct sources *s, const struct config *c, struct engine *engine);

/* Saves the positions when something was read since the last save, then closes every source
 * (a reload starts them again from there). */
void sources_stop(struct sources *s);

/* Saves the positions now if something was read since the last save. Returns 0 or -errno
 * (logged). */
int sources_save(struct sources *s);

/* Finds the value saved for key in the positions file's text saved ("VALUE<TAB>KEY" lines): the
 * first line whose KEY is key exactly and whose VALUE is shorter than size. Copies it into buf
 * (NUL-terminated) and returns true, or returns false. A file's value is for
 * source_file_pos_parse(), a journal's is a cursor. */
bool sources_find_saved(const char *saved, const char *key, char *buf, size_t size);

size_t sources_n_files(const struct sources *s);
size_t sources_n_journals(const struct sources *s);

/* The i-th source of files then journals, i < sources_n_files() + sources_n_journals(). */
struct sources_stat sources_get_stat(const struct sources *s, size_t i);

struct sources *sources_free(struct sources *s);
DEFINE_FREE_FUNC(struct sources, sources_free)
