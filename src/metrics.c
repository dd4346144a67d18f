/* The textfile writer. Label values are escaped as the exposition format asks (backslash,
 * double quote, newline); values are printed so that integers stay integers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "metrics.h"
#include "state.h"

int metrics_begin(struct metrics *m)
{
	m->buf = NULL;
	m->size = 0;
	m->f = open_memstream(&m->buf, &m->size);
	return m->f ? 0 : -ENOMEM;
}

void metrics_family(struct metrics *m, const char *name, const char *type, const char *help)
{
	fprintf(m->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(struct metrics *m, const char *name, const char *label, const char *label_value,
		    double value)
{
	fputs(name, m->f);
	if (label) {
		fprintf(m->f, "{%s=\"", label);
		for (const char *p = label_value; *p; p++) {
			if (*p == '\n') {
				fputs("\\n", m->f);
				continue;
			}
			if (*p == '\\' || *p == '"')
				fputc('\\', m->f);
			fputc(*p, m->f);
		}
		fputs("\"}", m->f);
	}
	if (isnan(value))
		fputs(" NaN\n", m->f);
	else if (value == floor(value) && fabs(value) < 1e15)
		fprintf(m->f, " %.0f\n", value);
	else
		fprintf(m->f, " %.6g\n", value);
}

int metrics_commit(struct metrics *m, const char *path)
{
	int r = fclose(m->f) == 0 ? 0 : -ENOMEM;
	m->f = NULL;
	if (r >= 0)
		/* node_exporter reads it as another user: world-readable. */
		r = state_write_atomic(path, m->buf, m->size, 0644);
	free(m->buf);
	m->buf = NULL;
	return r;
}

void metrics_abort(struct metrics *m)
{
	if (m->f)
		fclose(m->f);
	free(m->buf);
	m->buf = NULL;
	m->f = NULL;
}
