/*
 * bev_output.h - discard what is queued on a socket bufferevent, shared by
 * the broker (a slow client's backlog) and libmpclient (teardown).
 *
 * Header-only so that libmpcommon needs no libevent; callers link it.
 */
#ifndef MP_COMMON_BEV_OUTPUT_H
#define MP_COMMON_BEV_OUTPUT_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>

/* Drop every queued byte now, releasing data added by reference. A
 * socket bufferevent keeps the front of its output frozen except while it
 * writes itself, so it is unfrozen for the drain and frozen again. */
static inline void mp_bev_discard_output(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);

    evbuffer_unfreeze(out, 1);
    evbuffer_drain(out, evbuffer_get_length(out));
    evbuffer_freeze(out, 1);
}

#endif
