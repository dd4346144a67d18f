/* A self-contained SVG chart of the sample history for `waveguard history --svg`. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "history.h"

/* Writes a self-contained SVG 1.1 document (no scripts, no external references, 1000x420) of
 * the rows (in the order given, x by time):
 * - established connections as a polyline with exactly one point per row
 *   (<polyline class="established">), the listen backlog as a second, dashed one
 *   (class="backlog") when it is non-zero anywhere;
 * - Courier's MAXDAEMONS as a dashed horizontal line with its value (<g class="maxdaemons">)
 *   when max_daemons is not 0 (the y axis then reaches it);
 * - one small purple triangle on the time axis per row with new bans (<g class="ban">, the
 *   count in its <title> tooltip and written above it, <text class="count">, unless that
 *   would overlap the previous count);
 * - one green triangle at the top per row with connections reaped (<g class="reaped">, its
 *   count in the tooltip and written under it the same way);
 * - one red dot on the connections line per failed probe: probe_ms == -1 with a status other
 *   than "off" (probing disabled) (<g class="probe-fail">, the status in its <title>);
 * - background bands for runs of tuner levels other than "normal" (class="band-<level>");
 * - axes: time labels HH:MM:SS in UTC (MM-DD HH:MM when the rows span more than a day), the
 *   connection count from 0 to the maximum rounded up to a nice number; a title (XML-escaped;
 *   NULL: "waveguard history") and a legend.
 * n == 0 gives an empty chart saying "no samples". Returns 0, or -EINVAL/-EIO. */
int plot_svg(FILE *out, const struct history_row *rows, size_t n, const char *title,
	     uint32_t max_daemons);
