/*
 * mpcat_input.c - connect mode's input: stdin or the FILE arguments, cut
 * into messages by the framing and sent on the one connection.
 *
 * Pipes, sockets and terminals are watched with a libevent read event;
 * regular files and devices, which epoll cannot watch, are read
 * synchronously, one chunk per loop pass, so that the socket is served
 * between chunks. When libmpclient's queue is full the input pauses until
 * on_drained: memory stays bounded whatever the input holds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpcat.h"

/* ------------------------------------------------------------------------
 * Connect mode: input
 */

static bool buf_reserve(struct buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : CHUNK;
    unsigned char *p;

    if (b->cap - b->len >= more)
        return true;
    while (cap - b->len < more)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return false;
    b->data = p;
    b->cap = cap;
    return true;
}

/* Drop the first n bytes: once per chunk read, not once per message. */
static void buf_consume(struct buf *b, size_t n)
{
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* Send one message of the input. BLOCKED: libmpclient's queue is full;
 * the input pauses until on_drained and this message is sent again. */
static enum sent send_message(struct app *a, const void *data, size_t len)
{
    int r;

    if (a->finished || a->conn == NULL)
        return FAILED;
    r = mp_conn_send(a->conn, data, len);
    if (r == MP_OK)
        return SENT;
    if (r == MP_ERR_WOULD_BLOCK) {
        /* Level 2: the peer has not consumed its window yet; else our
         * queue for the broker is full. Either way on_drained resumes. */
        if (a->cfg.verbose && !a->in.told_paused &&
            mp_conn_credit(a->conn) <= 0)
            note("%s has not granted more credit: input paused",
                 a->cfg.peer);
        else if (a->cfg.verbose && !a->in.told_paused)
            note("the broker does not take more: input paused (%zu bytes "
                 "queued)", mp_client_queued(a->client));
        a->in.told_paused = true;
        a->in.blocked = true;
        if (a->in.ev != NULL && a->in.pollable)
            event_del(a->in.ev);
        return BLOCKED;
    }
    if (r == MP_ERR_TOO_BIG)
        fail(a, ST_ERROR, "%s: a message of %zu bytes is too big: %s (the "
             "broker takes at most 1 MiB encoded: split it)", a->in.label,
             len, mp_strerror(r));
    else
        fail(a, status_of(r), "cannot send to %s: %s", a->cfg.peer,
             mp_strerror(r));
    return FAILED;
}

/* The input holds a message over the limit: most often input in another
 * framing than the one given (binary data read as lines, text read as
 * -l frames), which the hint says. */
static bool too_big(struct app *a)
{
    static const char *const hint[] = {
        [FRAME_LINE] = "no newline in it: for binary data use -0 or -l",
        [FRAME_NUL] = "no NUL byte in it: is the input -0 framed?",
        [FRAME_LENGTH] = "is the input -l framed (a 4-byte big-endian "
                         "length before each message)?",
        [FRAME_WHOLE] = "split the file",
    };

    fail(a, ST_ERROR, "%s: a message longer than %u bytes is too big (%s)",
         a->in.label, MESSAGE_MAX, hint[a->in.split.framing]);
    return false;
}

static enum sent sink(void *arg, const void *data, size_t len)
{
    return send_message(arg, data, len);
}

/* What the splitter's result means for the run: false once it failed. */
static bool split_settled(struct app *a, enum split_result r)
{
    switch (r) {
    case SPLIT_OK:
    case SPLIT_BLOCKED: /* send_message paused the input */
        return true;
    case SPLIT_FAILED:  /* send_message said why */
        return false;
    case SPLIT_TOO_BIG:
        return too_big(a);
    case SPLIT_CUT_SHORT:
        fail(a, ST_ERROR, "%s: the input ends inside a frame (cut short, "
             "or not -l framed?)", a->in.label);
        return false;
    }
    return false;
}

/* Send every complete message in the pending bytes. */
static bool split_input(struct app *a)
{
    struct buf *b = &a->in.pending;
    size_t used;
    enum split_result r = split_feed(&a->in.split, b->data, b->len, &used,
                                     sink, a);

    buf_consume(b, used);
    return split_settled(a, r);
}

/* What is left at the end of the input: an unterminated last line or
 * message counts; half a frame is an error; a FILE is one message, even
 * an empty one. */
static enum sent flush_input(struct app *a)
{
    struct buf *b = &a->in.pending;
    size_t used;
    enum split_result r = split_finish(&a->in.split, b->data, b->len, &used,
                                       sink, a);

    buf_consume(b, used);
    if (r == SPLIT_BLOCKED)
        return BLOCKED;
    return split_settled(a, r) ? SENT : FAILED;
}

void input_close(struct input *in)
{
    if (in->ev != NULL) {
        event_free(in->ev);
        in->ev = NULL;
    }
    if (in->owned && in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    in->owned = false;
    in->pending.len = 0;
    in->split.scanned = 0;
    in->blocked = false;
    in->eof_pending = false;
}

static void input_eof(struct app *a)
{
    enum sent r = flush_input(a);

    if (r == BLOCKED)
        a->in.eof_pending = true; /* finish from on_drained */
    if (r != SENT)
        return;
    input_close(&a->in);
    next_input(a);
}

/* libmpclient's queue has room again: send what waited, read on. */
void on_drained(struct mp_client *client, void *arg)
{
    struct app *a = arg;
    struct input *in = &a->in;

    (void)client;
    if (a->finished || !in->blocked || in->ev == NULL)
        return;
    in->blocked = false;
    if (in->eof_pending) {
        in->eof_pending = false;
        input_eof(a);
        return;
    }
    if (!split_input(a) || in->blocked)
        return;
    if (in->pollable)
        event_add(in->ev, NULL);
    else
        event_active(in->ev, EV_READ, 0);
}

/* Read one chunk and send the messages it completes. */
static void input_read(struct app *a)
{
    struct input *in = &a->in;
    ssize_t n;

    if (in->blocked)
        return; /* on_drained goes on */
    if (!buf_reserve(&in->pending, CHUNK)) {
        fail(a, ST_ERROR, "out of memory");
        return;
    }
    n = read(in->fd, in->pending.data + in->pending.len, CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n < 0) {
        fail(a, ST_ERROR, "%s: %s", in->label, strerror(errno));
        return;
    }
    if (n == 0) {
        input_eof(a);
        return;
    }
    in->pending.len += (size_t)n;
    split_input(a);
}

static void on_input(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    unsigned serial = a->in.serial;

    (void)fd;
    (void)what;
    input_read(a);
    /* A file is read synchronously, one chunk per loop pass, so that the
     * socket is served between chunks. input_read may have moved on to
     * the next input, which has already been started. */
    if (!a->finished && a->in.serial == serial && a->in.ev != NULL &&
        !a->in.pollable && !a->in.blocked)
        event_active(a->in.ev, EV_READ, 0);
}

/* Pipes, sockets and terminals can be polled; epoll refuses regular files
 * and most devices (/dev/null), which never block: read those directly. */
static bool fd_pollable(int fd)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return false;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(fd);
}

static void input_begin(struct app *a, int fd, const char *label, bool owned,
                        enum framing framing)
{
    struct input *in = &a->in;

    in->serial++;
    in->fd = fd;
    in->label = label;
    in->owned = owned;
    split_init(&in->split, framing, MESSAGE_MAX);
    in->pollable = fd_pollable(fd);
    in->ev = event_new(a->base, in->pollable ? fd : -1,
                       in->pollable ? EV_READ | EV_PERSIST : 0, on_input, a);
    if (in->ev == NULL || (in->pollable && event_add(in->ev, NULL) != 0)) {
        fail(a, ST_ERROR, "%s: cannot watch it for input",
             label);
        input_close(in);
        return;
    }
    if (!in->pollable)
        event_active(in->ev, EV_READ, 0); /* the first chunk, next pass */
}

/* Start reading stdin, or the next FILE argument; or, when there is none
 * left, go on to closing. */
void next_input(struct app *a)
{
    const struct config *c = &a->cfg;
    const char *path;
    int fd;

    if (a->finished)
        return;
    if (c->n_files == 0 && a->next_file == 0) {
        a->next_file = 1;
        input_begin(a, STDIN_FILENO, "stdin", false, c->framing);
        return;
    }
    if (a->next_file >= c->n_files) {
        input_finished(a);
        return;
    }
    path = c->files[a->next_file++];
    if (strcmp(path, "-") == 0) {
        input_begin(a, STDIN_FILENO, "stdin", false, FRAME_WHOLE);
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(a, ST_ERROR, "%s: %s", path, strerror(errno));
        return;
    }
    input_begin(a, fd, path, true, FRAME_WHOLE);
}
