/* hiredis's asynchronous API on the sd-event loop: the five hooks hiredis calls (start and stop
 * reading, start and stop writing, cleanup) as one I/O event source whose epoll mask follows
 * them. hiredis ships adapters for libevent, libev, glib and others, not for sd-event. */
#pragma once

#include <hiredis/async.h>
#include <systemd/sd-event.h>

/* Attaches ac (just created, connecting) to the loop e, its source named description (a static
 * string). The source goes with ac: when hiredis frees it (redisAsyncFree, a disconnection), the
 * source is dropped. Returns 0, -EEXIST when ac is attached already, or -ENOMEM; on failure the
 * caller frees ac, which frees what was attached. */
int redis_sdevent_attach(redisAsyncContext *ac, sd_event *e, const char *description);
