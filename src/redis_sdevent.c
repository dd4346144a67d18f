/* The hiredis adapter for sd-event. One I/O source per connection; its epoll mask is what hiredis
 * asked for last (EPOLLIN while it reads, EPOLLOUT while its output buffer is not empty). A
 * read or a write handler of hiredis may free the context (a disconnection, a reply callback that
 * frees it): hiredis then calls cleanup, which drops the source; the adapter's own record
 * outlives the dispatch in progress, which touches nothing of the freed connection after that. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "redis_sdevent.h"

struct redis_sdevent {
	redisAsyncContext *ac;
	sd_event *event;
	sd_event_source *io;
	uint32_t mask;
	const char *description;
	bool busy; /* a dispatch is in progress: cleanup leaves the record to it */
	bool dead; /* hiredis freed the connection */
};

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct redis_sdevent *e = userdata;
	redisAsyncContext *ac = e->ac;
	(void)s;
	(void)fd;

	e->busy = true;
	/* Writable first: the connection's completion (and a pending command) before its reply. */
	if (revents & EPOLLOUT)
		redisAsyncHandleWrite(ac);
	if (!e->dead && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		redisAsyncHandleRead(ac);
	e->busy = false;
	if (e->dead)
		free(e);
	return 0;
}

/* The source's mask after a hook; the source is created on the first one (the fd exists from
 * the connect on). */
static void update(struct redis_sdevent *e, uint32_t mask)
{
	if (mask == e->mask && e->io)
		return;
	e->mask = mask;
	if (!e->io) {
		if (sd_event_add_io(e->event, &e->io, e->ac->c.fd, mask, on_io, e) < 0)
			return; /* hiredis's own timeout-free wait then never ends: see fleet.c */
		sd_event_source_set_description(e->io, e->description);
	} else
		sd_event_source_set_io_events(e->io, mask);
	sd_event_source_set_enabled(e->io, mask ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void add_read(void *p)
{
	struct redis_sdevent *e = p;
	update(e, e->mask | EPOLLIN);
}

static void del_read(void *p)
{
	struct redis_sdevent *e = p;
	update(e, e->mask & ~(uint32_t)EPOLLIN);
}

static void add_write(void *p)
{
	struct redis_sdevent *e = p;
	update(e, e->mask | EPOLLOUT);
}

static void del_write(void *p)
{
	struct redis_sdevent *e = p;
	update(e, e->mask & ~(uint32_t)EPOLLOUT);
}

static void cleanup(void *p)
{
	struct redis_sdevent *e = p;

	/* Safe inside the source's own dispatch: sd-event holds a reference until it returns. */
	e->io = sd_event_source_disable_unref(e->io);
	e->event = sd_event_unref(e->event);
	e->dead = true;
	if (!e->busy)
		free(e);
}

int redis_sdevent_attach(redisAsyncContext *ac, sd_event *event, const char *description)
{
	struct redis_sdevent *e;

	if (ac->ev.data)
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ac = ac;
	e->event = sd_event_ref(event);
	e->description = description;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	ac->ev.data = e;
	/* Like hiredis's own adapters: the connect's completion shows as writable. */
	update(e, EPOLLIN | EPOLLOUT);
	return e->io ? 0 : -ENOMEM;
}
