/*
 * read_batch.h - read what a socket holds into an evbuffer, in one readv.
 *
 * libevent 2.1 reads at most 4 KiB per readiness event (EVBUFFER_MAX_READ;
 * evbuffer_set_max_read() came only in 2.2): an epoll_wait, an ioctl and
 * a readv for every 4 KiB. A reader that wants more calls this after
 * libevent's read, or instead of it. Shared by the broker, mpbench and the
 * relay.
 */
#ifndef MP_COMMON_READ_BATCH_H
#define MP_COMMON_READ_BATCH_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/util.h>

/* Append up to `max` bytes read from fd to buf. Returns the bytes read,
 * 0 at end of file, or -1 with errno set (EAGAIN: nothing there now). */
ssize_t mp_read_batch(struct evbuffer *buf, evutil_socket_t fd, size_t max);

/* The same into a socket bufferevent's input, from its read callback.
 * libevent keeps the end of that buffer frozen outside its own reads (an
 * evbuffer_reserve_space() there fails), so this thaws it for the read
 * and freezes it again. */
struct bufferevent;
ssize_t mp_read_batch_bev(struct bufferevent *bev, size_t max);

#endif
