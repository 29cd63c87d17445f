/* read_batch.c - see read_batch.h. */
#include "config.h"

#include <errno.h>
#include <sys/uio.h>

#include "read_batch.h"

/* evbuffer_reserve_space() may offer more than was asked for (the rest
 * of a chain): keep the read within `max`. */
static void clip_to(struct evbuffer_iovec *vec, int n, size_t max)
{
    for (int i = 0; i < n; i++) {
        if (vec[i].iov_len > max)
            vec[i].iov_len = max;
        max -= vec[i].iov_len;
    }
}

/* Keep what readv() filled: `got` bytes, in order, none of the rest. */
static void keep_filled(struct evbuffer_iovec *vec, int n, ssize_t got)
{
    size_t left = got > 0 ? (size_t)got : 0;

    for (int i = 0; i < n; i++) {
        size_t used = left < vec[i].iov_len ? left : vec[i].iov_len;
        vec[i].iov_len = used;
        left -= used;
    }
}

ssize_t mp_read_batch(struct evbuffer *buf, evutil_socket_t fd, size_t max)
{
    struct evbuffer_iovec vec[2];
    ssize_t got;
    int n, saved;

    n = evbuffer_reserve_space(buf, (ev_ssize_t)max, vec, 2);
    if (n <= 0) {
        errno = ENOMEM;
        return -1;
    }
    clip_to(vec, n, max);
    got = readv(fd, (struct iovec *)vec, n);
    saved = errno;
    keep_filled(vec, n, got);
    evbuffer_commit_space(buf, vec, n);
    errno = saved;
    return got;
}
