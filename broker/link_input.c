/*
 * link_input.c - a link stream's input, read as the broker's plain client
 * sockets are (session_io.c): one readv per wake-up (mp_read_batch),
 * sized from what the previous read returned; the frames are decoded
 * where they lie, a frame copied only when it spans two of the buffer's
 * chunks, and handed to the handshake or, once the peer is up, to
 * events->frame.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "link-internal.h"
#include "read_batch.h"

/* Reads as session_io.c's: from READ_MIN, doubling while they come back
 * full, halving when they bring less than a quarter, up to READ_MAX; a
 * power of two less CHAIN_HEADER fills one evbuffer chunk. Before its
 * handshake a stream reads READ_MIN and accepts frames of at most
 * HANDSHAKE_FRAME_MAX: a stranger cannot make the broker buffer more. */
enum {
    READ_MIN = LINK_READ_MIN,
    READ_MAX = 256 * 1024,
    CHAIN_HEADER = 256,
    HANDSHAKE_FRAME_MAX = 1024,
};

static bool retriable(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* Is this stream's input to be decoded now? An accepted stream's frames
 * wait until its peer is up (events->up before any events->frame). */
static bool wants_input(const struct link_stream *s)
{
    if (s->state == STREAM_CLOSED)
        return false;
    if (s->role == LINK_ACCEPTED && s->state == STREAM_OPEN)
        return s->peer->up;
    return true;
}

static void handle_frame(struct link_stream *s, const struct link_frame *f)
{
    char why[160];

    if (s->state != STREAM_OPEN) {
        link_handshake_frame(s, f);
        return;
    }
    switch (f->type) {
    case LINK_PING:
        return;
    case LINK_REFUSED: /* its reason quoted for the log */
        link_handshake_frame(s, f);
        return;
    case LINK_FORWARD:
    case LINK_CREDIT:
    case LINK_KICK:
        if (s->role == LINK_ACCEPTED) {
            link_deliver(s->peer, f);
            return;
        }
        break;
    default:
        break;
    }
    snprintf(why, sizeof why, "malformed frame: type %d unexpected on %s stream",
             (int)f->type, s->role == LINK_ACCEPTED ? "an incoming" : "an outgoing");
    link_stream_failed(s, why);
}

static size_t frame_length(const void *prefix)
{
    const unsigned char *p = prefix;

    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

static size_t frame_max(const struct link_stream *s)
{
    return s->state == STREAM_OPEN ? s->ls->conf.max_frame : HANDSHAKE_FRAME_MAX;
}

/* Decode and hand on the whole frames at the start of s->in: those of
 * its first chunk where they lie; a frame that spans chunks is made
 * contiguous first (evbuffer_pullup of that frame only). */
static void process_input(struct link_stream *s)
{
    while (wants_input(s)) {
        struct evbuffer_iovec v;
        size_t total = evbuffer_get_length(s->in), pos = 0, used = 0;
        enum link_decode_result r = LINK_DECODE_MORE;
        struct link_frame f;
        char err[128];

        if (total == 0 || evbuffer_peek(s->in, -1, NULL, &v, 1) < 1)
            return;
        while (wants_input(s)) {
            r = link_frame_decode((const unsigned char *)v.iov_base + pos,
                                  v.iov_len - pos, frame_max(s), &f, &used,
                                  err, sizeof err);
            if (r == LINK_DECODE_MORE || r == LINK_DECODE_MALFORMED)
                break;
            if (r == LINK_DECODE_SKIP && s->state != STREAM_OPEN) {
                /* A newer peer's extras come after the handshake, not
                 * in it: a stranger may not keep us skipping. */
                snprintf(err, sizeof err, "frame type %u in the handshake",
                         ((const unsigned char *)v.iov_base)[pos + LINK_FRAME_PREFIX]);
                r = LINK_DECODE_MALFORMED;
                break;
            }
            pos += used;
            if (r == LINK_DECODE_OK)
                handle_frame(s, &f);
        }
        if (s->state == STREAM_CLOSED)
            return; /* the reaper frees the buffer: f stayed readable */
        if (r == LINK_DECODE_MALFORMED) {
            char why[160];
            snprintf(why, sizeof why, "malformed frame: %s", err);
            if (s->state == STREAM_OPEN)
                link_stream_failed(s, why);
            else
                link_stream_refuse(s, why);
            return;
        }
        if (pos > 0) {
            evbuffer_drain(s->in, pos);
            continue;
        }
        if (r != LINK_DECODE_MORE || !wants_input(s))
            return;
        /* The first chunk holds no whole frame: is one in the buffer? */
        if (total < LINK_FRAME_PREFIX)
            return;
        if (v.iov_len < LINK_FRAME_PREFIX) {
            /* A split prefix: join it, and let the decoder check it. */
            evbuffer_pullup(s->in, LINK_FRAME_PREFIX);
            continue;
        }
        /* The decoder saw the prefix and found LENGTH within max. */
        used = LINK_FRAME_PREFIX + frame_length(v.iov_base);
        if (total < used)
            return;
        evbuffer_pullup(s->in, (ev_ssize_t)used);
    }
}

static void adapt_read_size(struct link_stream *s, size_t asked, size_t got)
{
    if (got == asked - CHAIN_HEADER && s->read_size < READ_MAX)
        s->read_size *= 2;
    else if (got < asked / 4 && s->read_size > READ_MIN)
        s->read_size /= 2;
}

void link_stream_readable(evutil_socket_t fd, short what, void *arg)
{
    struct link_stream *s = arg;
    size_t asked = s->state == STREAM_OPEN ? s->read_size : READ_MIN;
    ssize_t got;

    (void)what;
    got = mp_read_batch(s->in, fd, asked - CHAIN_HEADER);
    if (got == 0) {
        link_stream_failed(s, "connection closed by the peer");
        return;
    }
    if (got < 0) {
        if (!retriable(errno))
            link_stream_failed(s, evutil_socket_error_to_string(errno));
        else
            process_input(s); /* woken by link_stream_resume_input() */
        return;
    }
    adapt_read_size(s, asked, (size_t)got);
    s->ls->stats.bytes_in += (uint64_t)got;
    if (s->peer != NULL && s == s->peer->in)
        s->peer->last_recv_ms = link_now_ms();
    process_input(s);
}

/* The peer is up: read what waited, from the loop. */
void link_stream_resume_input(struct link_stream *s)
{
    event_add(s->read_ev, NULL);
    if (evbuffer_get_length(s->in) > 0)
        event_active(s->read_ev, EV_READ, 0);
}
