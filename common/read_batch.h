/*
 * read_batch.h - read what a socket holds into an evbuffer, in one readv.
 *
 * libevent 2.1's bufferevent reads at most 4 KiB per readiness event
 * (EVBUFFER_MAX_READ; evbuffer_set_max_read() came only in 2.2), after an
 * ioctl(FIONREAD): an epoll_wait, an ioctl and a readv for every 4 KiB.
 * The broker's plain sockets (broker/session_io.c) and the relay read
 * with this instead. Not from a bufferevent's read callback into its
 * input: libevent keeps the end of that buffer frozen outside its own
 * reads, and evbuffer_reserve_space() there fails (ENOMEM here) - which
 * is how the broker's and mpbench's batch reads once did nothing.
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

#endif
