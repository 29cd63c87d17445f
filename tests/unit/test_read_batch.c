/* Unit tests: mp_read_batch (common/read_batch.c), one readv for what a
 * socket holds, on a plain evbuffer and on a bufferevent's input. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "read_batch.h"

enum { SENT = 100 * 1024, BATCH = 64 * 1024 };

static int fds[2];

static void make_pair(void)
{
    int size = 4 * SENT;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    cr_assert_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
}

static void fill(size_t n)
{
    static char bytes[SENT];

    memset(bytes, 'x', sizeof bytes);
    cr_assert_leq(n, sizeof bytes);
    cr_assert_eq(write(fds[0], bytes, n), (ssize_t)n);
}

static void close_pair(void)
{
    close(fds[0]);
    close(fds[1]);
}

TestSuite(read_batch, .init = make_pair, .fini = close_pair);

Test(read_batch, reads_up_to_max_in_one_call)
{
    struct evbuffer *buf = evbuffer_new();

    fill(SENT);
    cr_expect_eq(mp_read_batch(buf, fds[1], BATCH), BATCH);
    cr_expect_eq(evbuffer_get_length(buf), BATCH);
    cr_expect_eq(mp_read_batch(buf, fds[1], BATCH), SENT - BATCH);
    cr_expect_eq(evbuffer_get_length(buf), SENT);
    evbuffer_free(buf);
}

Test(read_batch, nothing_there_is_eagain_and_end_of_file_is_zero)
{
    struct evbuffer *buf = evbuffer_new();

    errno = 0;
    cr_expect_eq(mp_read_batch(buf, fds[1], BATCH), -1);
    cr_expect_eq(errno, EAGAIN);
    close(fds[0]);
    fds[0] = -1;
    cr_expect_eq(mp_read_batch(buf, fds[1], BATCH), 0);
    cr_expect_eq(evbuffer_get_length(buf), 0);
    evbuffer_free(buf);
}

/* A bufferevent's input refuses it outside libevent's own reads (the
 * freeze read_batch.h warns of): -1, and nothing read or lost. */
struct attempt {
    ssize_t got;
    int err;
};

static void try_from_callback(struct bufferevent *bev, void *arg)
{
    struct attempt *a = arg;

    a->got = mp_read_batch(bufferevent_get_input(bev),
                           bufferevent_getfd(bev), BATCH);
    a->err = errno;
    event_base_loopbreak(bufferevent_get_base(bev));
}

Test(read_batch, a_bufferevents_input_is_frozen_in_its_callback)
{
    struct event_base *base = event_base_new();
    struct bufferevent *bev = bufferevent_socket_new(base, fds[1], 0);
    struct attempt a = {0};

    bufferevent_setcb(bev, try_from_callback, NULL, NULL, &a);
    bufferevent_enable(bev, EV_READ);
    fill(SENT);
    event_base_dispatch(base);
    cr_expect_eq(a.got, -1);
    cr_expect_eq(a.err, ENOMEM);
    /* The rest is still in the socket for the next read. */
    {
        struct evbuffer *buf = evbuffer_new();
        size_t libevents = evbuffer_get_length(bufferevent_get_input(bev));

        cr_expect_eq(mp_read_batch(buf, fds[1], SENT) + (ssize_t)libevents,
                     SENT);
        evbuffer_free(buf);
    }
    bufferevent_free(bev);
    event_base_free(base);
}
