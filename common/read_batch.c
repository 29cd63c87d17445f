/* read_batch.c - see read_batch.h. */
#include "config.h"

#include <errno.h>
#include <sys/uio.h>

#include "read_batch.h"

ssize_t mp_read_batch(struct evbuffer *buf, evutil_socket_t fd, size_t max)
{
    struct evbuffer_iovec vec[2];
    int n = evbuffer_reserve_space(buf, (ev_ssize_t)max, vec, 2);
    if (n <= 0) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t got = readv(fd, (struct iovec *)vec, n);
    ssize_t left = got > 0 ? got : 0;
    for (int i = 0; i < n; i++) {
        size_t used = (size_t)left < vec[i].iov_len ? (size_t)left : vec[i].iov_len;
        vec[i].iov_len = used;
        left -= (ssize_t)used;
    }
    int saved = errno;
    evbuffer_commit_space(buf, vec, n);
    errno = saved;
    return got;
}
