/* Prometheus metrics in the node_exporter textfile format: a small writer that keeps HELP and
 * TYPE lines with their samples and escapes label values, and replaces the file atomically. */
#pragma once

#include <stdint.h>
#include <stdio.h>

struct metrics {
	char *buf;
	size_t size;
	FILE *f;
};

/* Starts a new file's text. Returns 0 or -ENOMEM. */
int metrics_begin(struct metrics *m);

/* Declares a metric family: type is "counter" or "gauge". */
void metrics_family(struct metrics *m, const char *name, const char *type, const char *help);

/* One sample; label and value may be NULL for a sample without labels. */
void metrics_sample(struct metrics *m, const char *name, const char *label, const char *label_value,
		    double value);

/* Writes the text to path atomically (temp, fsync, rename) and frees it. Returns 0 or -errno. */
int metrics_commit(struct metrics *m, const char *path);

/* Frees the text without writing it. */
void metrics_abort(struct metrics *m);
