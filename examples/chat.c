/*
 * chat.c - two people talk through the broker, one line at a time.
 *
 *     chat [-a ADDR] [-f FORMAT] -n NAME [-s SECRET] [PEER]
 *
 * Without PEER, chat logs in as NAME and waits for someone to open a
 * "chat" connection to it. With PEER, it opens one to PEER. Then each line
 * typed on stdin is sent as one message, and each message received is
 * printed as "PEER> text". End of input (Ctrl-D) closes the chat; the peer
 * closing it or leaving the broker ends it too; either way chat exits (0).
 * Notices ("*** ...") go to stderr, so stdout holds the conversation only.
 *
 *     terminal 1:  ./chat -n alice
 *     terminal 2:  ./chat -n demo alice
 *
 * What it shows: a libmpclient client attached to the program's own
 * event_base, next to a libevent event on stdin, so that one thread waits
 * for both the keyboard and the network.
 *
 * Build against an installed libmpclient:
 *     cc chat.c $(pkg-config --cflags --libs libmpclient) -o chat
 */
#define _POSIX_C_SOURCE 200809L /* getopt() */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h> /* evbuffer: collects stdin into lines */
#include <event2/event.h>
#include <mp/client.h>

/* A line longer than this is sent in pieces of this size. */
#define MAX_LINE 16384

struct chat {
    struct event_base *base;
    struct mp_client *client;
    const char *peer;          /* the PEER argument, or NULL: wait */
    struct mp_conn *conn;      /* the chat while it is open */
    struct event *stdin_event; /* watches stdin while a chat is open */
    struct evbuffer *input;    /* stdin bytes not sent yet */
    int status;                /* the exit status */
    int finishing;             /* finish() has been called */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: chat [-a ADDR] [-f FORMAT] -n NAME [-s SECRET] [PEER]\n"
            "  -a ADDR    broker address, tcp:HOST:PORT or unix:PATH"
            " (default tcp:127.0.0.1:7330)\n"
            "  -f FORMAT  wire format, json, binary, gob or protobuf\n"
            "             (default binary)\n"
            "  -n NAME    the name to log in with\n"
            "  -s SECRET  the secret (default: $MP_SECRET, else demo)\n"
            "  PEER       open a chat with PEER; without it, wait for one\n");
    exit(2);
}

/* The graceful leave is over: the broker has read everything we sent. */
static void on_disconnected(struct mp_client *client, void *arg)
{
    struct chat *ch = arg;

    (void)client;
    event_base_loopbreak(ch->base);
}

/*
 * We are done: stop reading stdin, record the exit status and leave
 * (main() frees the client). libmpclient queues what we send and writes
 * it from the event loop, so leave gracefully: our last lines and our
 * ConnClosed reach the peer before the loop stops.
 */
static void finish(struct chat *ch, int status)
{
    if (ch->finishing)
        return;
    ch->finishing = 1;
    ch->status = status;
    event_del(ch->stdin_event);
    /* Fails when we are not logged in (any more): nothing to wait for. */
    if (mp_client_disconnect(ch->client, on_disconnected, ch) != MP_OK)
        event_base_loopbreak(ch->base);
}

/* ------------------------------------------------------------------------
 * stdin -> the peer
 */

/* Send one line (without its end of line). Returns 0, or -1 when the
 * chat cannot go on. */
static int send_line(struct chat *ch, const char *line, size_t len)
{
    int rc = mp_conn_send(ch->conn, line, len);

    if (rc == MP_ERR_TOO_BIG) {
        fprintf(stderr, "*** line too long for the broker, not sent\n");
    } else if (rc != MP_OK) {
        fprintf(stderr, "chat: cannot send: %s\n", mp_strerror(rc));
        finish(ch, 1);
        return -1;
    }
    return 0;
}

/* stdin is readable: read what is there, send each whole line. */
static void on_stdin(evutil_socket_t fd, short events, void *arg)
{
    struct chat *ch = arg;
    char buf[4096], *line;
    size_t len;
    ssize_t n;
    int rc = 0;

    (void)events;
    n = read(fd, buf, sizeof buf);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return; /* try again when the loop says so */
        fprintf(stderr, "chat: reading stdin: %s\n", strerror(errno));
        finish(ch, 1);
        return;
    }
    if (n == 0) {
        /* End of input: send a last line without its newline, if any,
         * then close the chat; the peer is told. */
        len = evbuffer_get_length(ch->input);
        if (len > 0) {
            line = (char *)evbuffer_pullup(ch->input, -1);
            send_line(ch, line, len);
        }
        mp_conn_close(ch->conn);
        ch->conn = NULL;
        fprintf(stderr, "*** chat closed\n");
        finish(ch, 0);
        return;
    }
    if (evbuffer_add(ch->input, buf, (size_t)n) != 0) {
        fprintf(stderr, "chat: out of memory\n");
        finish(ch, 1);
        return;
    }
    /* evbuffer_readln() cuts one line off the buffer ("\n" or "\r\n"),
     * returns it malloc()ed and NUL-terminated, or NULL when no line is
     * complete yet. */
    while (rc == 0 &&
           (line = evbuffer_readln(ch->input, &len, EVBUFFER_EOL_CRLF)) != NULL) {
        rc = send_line(ch, line, len);
        free(line);
    }
    /* Never buffer without bound: send a huge line in pieces. */
    while (rc == 0 && evbuffer_get_length(ch->input) >= MAX_LINE) {
        line = (char *)evbuffer_pullup(ch->input, MAX_LINE);
        rc = send_line(ch, line, MAX_LINE);
        evbuffer_drain(ch->input, MAX_LINE);
    }
}

/* ------------------------------------------------------------------------
 * The peer -> stdout
 */

static void on_message(struct mp_conn *conn, const void *data, size_t len,
                       void *arg)
{
    const unsigned char *p = data;

    (void)arg;
    printf("%s> ", mp_conn_peer(conn));
    /* A message is bytes: show control characters as \xNN, so that a
     * peer cannot send escape sequences to our terminal. */
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            printf("\\x%02x", p[i]);
        else
            putchar(p[i]);
    }
    putchar('\n');
}

static void on_close(struct mp_conn *conn, int reason, void *arg)
{
    struct chat *ch = arg;

    ch->conn = NULL;
    if (reason == MP_CLOSE_BROKER_LOST)
        return; /* on_lost() reports it */
    if (reason == MP_CLOSE_CLIENT_FREED)
        return; /* we are on our way out: mp_client_free() */
    if (reason == MP_CLOSE_PEER_LEFT)
        fprintf(stderr, "*** %s left\n", mp_conn_peer(conn));
    else
        fprintf(stderr, "*** %s closed the chat\n", mp_conn_peer(conn));
    finish(ch, 0);
}

/* A chat is open (either way): start reading stdin. */
static void start_chat(struct chat *ch, struct mp_conn *conn)
{
    ch->conn = conn;
    mp_conn_set_callbacks(conn, on_message, on_close, ch);
    fprintf(stderr, "*** chatting with %s; type lines, Ctrl-D ends\n",
            mp_conn_peer(conn));
    /* Lines typed before now waited in the terminal or the pipe. */
    if (event_add(ch->stdin_event, NULL) != 0) {
        /* epoll, for one, cannot watch a regular file. */
        fprintf(stderr, "chat: cannot watch stdin: use a terminal or a pipe\n");
        mp_conn_close(conn);
        ch->conn = NULL;
        finish(ch, 1);
    }
}

/* Waiting side: someone opened a "chat" connection to us. */
static void on_incoming(struct mp_conn *conn, void *arg)
{
    struct chat *ch = arg;

    if (ch->conn != NULL) {
        fprintf(stderr, "*** %s wants to chat too: refused, busy\n",
                mp_conn_peer(conn));
        mp_conn_close(conn);
        return;
    }
    start_chat(ch, conn);
}

/* Opening side: the answer to mp_client_open(). */
static void on_open(struct mp_conn *conn, int status, void *arg)
{
    struct chat *ch = arg;

    if (conn == NULL) {
        fprintf(stderr, "chat: cannot open a chat with %s: %s\n", ch->peer,
                mp_strerror(status));
        finish(ch, 1);
        return;
    }
    start_chat(ch, conn);
}

/* ------------------------------------------------------------------------
 * The client
 */

static void on_ready(struct mp_client *c, int status, const char *reason,
                     void *arg)
{
    struct chat *ch = arg;
    int rc;

    if (status != MP_OK) {
        fprintf(stderr, "chat: cannot log in: %s", mp_strerror(status));
        if (status == MP_ERR_AUTH) /* the broker said why */
            fprintf(stderr, " (%s)", reason);
        fputc('\n', stderr);
        finish(ch, 1);
        return;
    }
    if (ch->peer == NULL) {
        fprintf(stderr, "*** logged in as %s; waiting for a chat "
                "(chat -n OTHER %s)\n", mp_client_name(c), mp_client_name(c));
        return;
    }
    rc = mp_client_open(c, ch->peer, "chat", on_open, ch);
    if (rc != MP_OK) {
        fprintf(stderr, "chat: cannot open a chat with %s: %s\n", ch->peer,
                mp_strerror(rc));
        finish(ch, 1);
    }
}

static void on_lost(struct mp_client *c, int status, void *arg)
{
    (void)c;
    fprintf(stderr, "chat: %s\n", mp_strerror(status));
    finish(arg, 1);
}

/* ------------------------------------------------------------------------
 * main
 */

int main(int argc, char **argv)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct chat ch = {.status = 1};
    const char *secret = getenv("MP_SECRET");
    int opt, rc, err = MP_OK;

    o.address = "tcp:127.0.0.1:7330";
    o.format = "binary";
    if (secret == NULL)
        secret = "demo";
    while ((opt = getopt(argc, argv, "a:f:n:s:h")) != -1) {
        switch (opt) {
        case 'a': o.address = optarg; break;
        case 'f': o.format = optarg; break;
        case 'n': o.name = optarg; break;
        case 's': secret = optarg; break; /* visible in ps: prefer MP_SECRET */
        default: usage();
        }
    }
    if (o.name == NULL || argc - optind > 1 ||
        (strcmp(o.format, "json") != 0 && strcmp(o.format, "binary") != 0 &&
        strcmp(o.format, "gob") != 0 &&
        strcmp(o.format, "protobuf") != 0))
        usage();
    if (optind < argc)
        ch.peer = argv[optind];
    o.secret = secret;
    o.secret_len = strlen(secret);

    setvbuf(stdout, NULL, _IOLBF, 0); /* lines show at once, even in a pipe */

    ch.base = event_base_new();
    ch.input = evbuffer_new();
    if (ch.base == NULL || ch.input == NULL) {
        fprintf(stderr, "chat: out of memory\n");
        goto out;
    }
    /* EV_PERSIST: the event stays armed after each callback. It is added
     * only once a chat is open (start_chat). */
    ch.stdin_event = event_new(ch.base, STDIN_FILENO, EV_READ | EV_PERSIST,
                               on_stdin, &ch);
    ch.client = mp_client_new(ch.base, &o, &err);
    if (ch.stdin_event == NULL || ch.client == NULL) {
        fprintf(stderr, "chat: cannot create the client: %s\n",
                mp_strerror(ch.client == NULL ? err : MP_ERR_NOMEM));
        goto out;
    }
    mp_client_on_lost(ch.client, on_lost, &ch);
    if (ch.peer == NULL) {
        /* The waiting side accepts "chat" connections. */
        rc = mp_client_handle(ch.client, "chat", on_incoming, &ch);
        if (rc != MP_OK) {
            fprintf(stderr, "chat: %s\n", mp_strerror(rc));
            goto out;
        }
    }
    rc = mp_client_connect(ch.client, on_ready, &ch);
    if (rc != MP_OK) {
        fprintf(stderr, "chat: cannot connect to %s: %s\n", o.address,
                mp_strerror(rc));
        goto out;
    }

    event_base_dispatch(ch.base);

out:
    /* The client and our events first, the event_base they use last. */
    mp_client_free(ch.client);
    if (ch.stdin_event != NULL)
        event_free(ch.stdin_event);
    if (ch.input != NULL)
        evbuffer_free(ch.input);
    if (ch.base != NULL)
        event_base_free(ch.base);
    return ch.status;
}
