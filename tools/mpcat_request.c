/*
 * mpcat_request.c - the request command: ask a peer one question and
 * print the replies.
 *
 *     mpcat -n me request bob upper hello       prints HELLO, exits 0
 *     echo -n query | mpcat -n me request db sql   stdin, whole
 *     mpcat -n me -c 3 request feed subscribe     the first 3 replies
 *
 * The question is the DATA operand, or all of stdin (read before logging
 * in, as one message whatever -0/-l say: they frame the printed
 * replies). mpcat exits 0 as soon as -c N replies (default 1) have
 * arrived; -w SECONDS (default 10) is only the longest wait, from the
 * start of the request; 0 waits without a limit.
 *
 * One reply is mp_client_request(), which does the whole exchange. More
 * than one takes a connection of our own, and then goes as connect does
 * (mpcat.c: on_message counts, the -w timer is a deadline, the peer's
 * close before the count exits 6).
 *
 * Exit status: 0 the replies came; 6 fewer than N within -w, or the peer
 * closed first; 4 no such client or no handler for the protocol; 7
 * denied (level 2); 5 the broker was lost; 1 a question over the size
 * limit, or stdin unreadable.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpcat.h"

/* ------------------------------------------------------------------------
 * The question
 */

/* All of stdin, at most MESSAGE_MAX bytes, into a->question. */
static int read_stdin(struct app *a)
{
    struct buf *q = &a->question;

    for (;;) {
        ssize_t n;

        if (q->cap - q->len < CHUNK) {
            size_t cap = q->cap ? q->cap * 2 : CHUNK;
            unsigned char *p = realloc(q->data, cap);
            if (p == NULL) {
                note("out of memory");
                return ST_ERROR;
            }
            q->data = p;
            q->cap = cap;
        }
        n = read(STDIN_FILENO, q->data + q->len, q->cap - q->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            note("cannot read the request from stdin: %s", strerror(errno));
            return ST_ERROR;
        }
        if (n == 0)
            return ST_OK;
        q->len += (size_t)n;
        if (q->len > MESSAGE_MAX) {
            note("the request on stdin is over %u bytes, the most one "
                 "message can carry", MESSAGE_MAX);
            return ST_ERROR;
        }
    }
}

int ask_read_question(struct app *a)
{
    if (a->cfg.n_files == 0)
        return read_stdin(a);
    /* The operand is used where it is: argv outlives the run. */
    a->question.data = (unsigned char *)a->cfg.files[0];
    a->question.len = strlen(a->cfg.files[0]);
    a->question_borrowed = true;
    return ST_OK;
}

/* ------------------------------------------------------------------------
 * One reply: mp_client_request
 */

static void on_reply(struct mp_client *c, int status, const void *data,
                     size_t len, void *arg)
{
    struct app *a = arg;
    const struct config *cfg = &a->cfg;

    (void)c;
    /* Ended by our own leaving or teardown; the broker lost: on_lost
     * says so. */
    if (a->finished || a->leaving || status == MP_ERR_BROKER_GONE)
        return;
    switch (status) {
    case MP_OK:
        a->received = 1;
        if (!print_message(cfg, cfg->peer, data, len)) {
            fail(a, ST_ERROR, "cannot write to stdout: %s", strerror(errno));
            return;
        }
        leave(a, ST_OK);
        return;
    case MP_ERR_TIMEOUT:
        note("no reply from %s within %g s (-w); raise -w if the peer is "
             "slow", cfg->peer, cfg->wait_s);
        leave(a, ST_SHORT);
        return;
    case MP_ERR_CLOSED:
        note("%s closed the connection without replying", cfg->peer);
        leave(a, ST_SHORT);
        return;
    default:
        /* Refused (mp_client_open_reason holds during this call), or
         * the peer left. */
        open_failed(a, status);
        return;
    }
}

static void ask_once(struct app *a)
{
    const struct config *c = &a->cfg;
    double ms = c->wait_s * 1000 + 0.5;
    /* -w goes to 10^9 s; the library's bound to 49 days. */
    unsigned timeout_ms = ms >= (double)UINT_MAX ? UINT_MAX : (unsigned)ms;
    int r;

    /* At least 1 ms: 0 would mean "no limit". */
    if (c->wait_s > 0 && timeout_ms == 0)
        timeout_ms = 1;
    r = mp_client_request(a->client, c->peer, c->protocol, a->question.data,
                          a->question.len, timeout_ms, on_reply, a);
    if (r == MP_ERR_TOO_BIG)
        fail(a, ST_ERROR, "the request (%zu bytes) is over the size limit "
             "of one message", a->question.len);
    else if (r != MP_OK)
        open_failed(a, r);
}

/* ------------------------------------------------------------------------
 * More replies: a connection of our own
 */

void ask_start(struct app *a)
{
    if (a->cfg.count <= 1) {
        ask_once(a);
        return;
    }
    /* The deadline covers the open too: a peer that never answers the
     * Syn cannot hold us past -w. */
    if (a->cfg.wait_s > 0)
        start_wait(a);
    open_peer(a);
}

void ask_opened(struct app *a)
{
    int r = mp_conn_send(a->conn, a->question.data, a->question.len);

    if (r != MP_OK)
        fail(a, r == MP_ERR_TOO_BIG ? ST_ERROR : status_of(r),
             "cannot send the request to %s: %s", a->cfg.peer,
             mp_strerror(r));
}

void ask_free(struct app *a)
{
    if (!a->question_borrowed)
        free(a->question.data);
    a->question = (struct buf){0};
}
