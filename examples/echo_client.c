/*
 * echo_client.c - talk to echo_server through the broker.
 *
 * It logs in (by default as "alice"), opens an "echo" connection to the
 * peer (by default "echo"), sends each message, waits until every one has
 * come back, closes the connection and exits 0. It exits 1 with a message
 * on stderr when the login fails, when the peer is not connected or does
 * not speak "echo", or when no reply comes within 10 seconds.
 *
 *     echo_client [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]
 *                 [-p PEER] [MESSAGE...]
 *
 * What it shows: libmpclient ATTACHED to an event_base of yours. This
 * program creates the event_base, hands it to mp_client_new(), and
 * dispatches it itself, so the client's events run beside the program's
 * own (here a timeout). Everything is asynchronous: mp_client_connect()
 * and mp_client_open() return at once and report through callbacks.
 * (echo_server.c shows the other mode, where the client runs its own loop.)
 *
 * Build against an installed libmpclient (its pkg-config file pulls in
 * libevent, which this program calls too):
 *     cc echo_client.c $(pkg-config --cflags --libs libmpclient) -o echo_client
 */
#define _POSIX_C_SOURCE 200809L /* getopt() */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <mp/client.h>

/* How long to wait for all the replies, login included. */
#define TIMEOUT_SECONDS 10

/* Everything the callbacks need, passed to them as their `arg`. */
struct echo {
    struct event_base *base;
    struct mp_client *client;
    const char *address, *peer;
    char **messages;      /* what to send, in order */
    int count;
    int received;         /* replies so far */
    int status;           /* the exit status */
    int finishing;        /* finish() has been called */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: echo_client [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]\n"
            "                   [-p PEER] [MESSAGE...]\n"
            "  -a ADDR    broker address, tcp:HOST:PORT or unix:PATH"
            " (default tcp:127.0.0.1:7330)\n"
            "  -f FORMAT  wire format, json, binary, gob or protobuf\n"
            "             (default binary)\n"
            "  -n NAME    the name to log in with (default alice)\n"
            "  -s SECRET  the secret (default: $MP_SECRET, else demo)\n"
            "  -p PEER    the echo server's name (default echo)\n"
            "  MESSAGE    messages to send (default: hello world)\n");
    exit(2);
}

/* Print a message between quotes, control characters as \xNN. */
static void print_quoted(const void *data, size_t len)
{
    const unsigned char *p = data;

    putchar('\'');
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            printf("\\x%02x", p[i]);
        else
            putchar(p[i]);
    }
    putchar('\'');
}

/* The graceful leave is over: the broker has read everything we sent. */
static void on_disconnected(struct mp_client *client, void *arg)
{
    struct echo *e = arg;

    (void)client;
    event_base_loopbreak(e->base);
}

/*
 * We are done: record the exit status and leave. libmpclient queues what we
 * send and writes it from the event loop, so leave gracefully: the
 * ConnClosed we just sent reaches the peer before the loop stops.
 */
static void finish(struct echo *e, int status)
{
    if (e->finishing)
        return;
    e->finishing = 1;
    e->status = status;
    /* Fails when we are not logged in (any more): nothing to wait for. */
    if (mp_client_disconnect(e->client, on_disconnected, e) != MP_OK)
        event_base_loopbreak(e->base);
}

/* ------------------------------------------------------------------------
 * The echo connection
 */

static void on_message(struct mp_conn *conn, const void *data, size_t len,
                       void *arg)
{
    struct echo *e = arg;
    const char *want = e->messages[e->received];

    /* The broker keeps messages in order, so reply i answers message i. */
    if (len != strlen(want) || memcmp(data, want, len) != 0) {
        printf("got ");
        print_quoted(data, len);
        printf(" back from %s, expected ", mp_conn_peer(conn));
        print_quoted(want, strlen(want));
        putchar('\n');
        fprintf(stderr, "echo_client: wrong reply\n");
        mp_conn_close(conn); /* frees conn */
        finish(e, 1);
        return;
    }
    printf("got ");
    print_quoted(data, len);
    printf(" back from %s\n", mp_conn_peer(conn));

    if (++e->received == e->count) {
        /* All back: close (the peer is told), and stop. */
        mp_conn_close(conn);
        finish(e, 0);
    }
}

/* The connection ended before all the replies came. */
static void on_close(struct mp_conn *conn, int reason, void *arg)
{
    struct echo *e = arg;

    if (reason == MP_CLOSE_BROKER_LOST)
        return; /* on_lost() reports it */
    if (reason == MP_CLOSE_CLIENT_FREED)
        return; /* we are on our way out: mp_client_free() */
    fprintf(stderr, "echo_client: the echo connection with %s ended after "
            "%d of %d replies: %s\n", mp_conn_peer(conn), e->received,
            e->count, mp_close_reason_string(reason));
    finish(e, 1);
}

/* The outcome of mp_client_open(): conn is NULL if it failed. */
static void on_open(struct mp_conn *conn, int status, void *arg)
{
    struct echo *e = arg;

    if (conn == NULL) {
        /* MP_ERR_NO_SUCH_CLIENT: the peer is not logged in;
         * MP_ERR_UNKNOWN_PROTOCOL: it does not handle "echo". */
        fprintf(stderr, "echo_client: cannot open an echo connection to "
                "%s: %s\n", e->peer, mp_strerror(status));
        finish(e, 1);
        return;
    }
    printf("opened echo connection %s to %s\n", mp_conn_id(conn),
           mp_conn_peer(conn));
    mp_conn_set_callbacks(conn, on_message, on_close, e);

    /* Send everything at once; the replies come back in order. */
    for (int i = 0; i < e->count; i++) {
        int rc = mp_conn_send(conn, e->messages[i], strlen(e->messages[i]));
        if (rc != MP_OK) {
            fprintf(stderr, "echo_client: cannot send: %s\n",
                    mp_strerror(rc));
            mp_conn_close(conn);
            finish(e, 1);
            return;
        }
        printf("sent ");
        print_quoted(e->messages[i], strlen(e->messages[i]));
        putchar('\n');
    }
}

/* ------------------------------------------------------------------------
 * The client
 */

/* The outcome of mp_client_connect(). */
static void on_ready(struct mp_client *c, int status, const char *reason,
                     void *arg)
{
    struct echo *e = arg;
    int rc;

    if (status != MP_OK) {
        fprintf(stderr, "echo_client: cannot log in to %s: %s", e->address,
                mp_strerror(status));
        if (status == MP_ERR_AUTH) /* the broker said why */
            fprintf(stderr, " (%s)", reason);
        fputc('\n', stderr);
        finish(e, 1);
        return;
    }
    printf("logged in as %s\n", mp_client_name(c));

    /* Ask the peer for an "echo" connection; on_open gets the answer. */
    rc = mp_client_open(c, e->peer, "echo", on_open, e);
    if (rc != MP_OK) {
        fprintf(stderr, "echo_client: cannot open a connection to %s: %s\n",
                e->peer, mp_strerror(rc));
        finish(e, 1);
    }
}

/* The broker connection was lost after the login. */
static void on_lost(struct mp_client *c, int status, void *arg)
{
    (void)c;
    fprintf(stderr, "echo_client: %s\n", mp_strerror(status));
    finish(arg, 1);
}

/* An event of our own on the same event_base: give up after a while. */
static void on_timeout(evutil_socket_t fd, short events, void *arg)
{
    struct echo *e = arg;

    (void)fd;
    (void)events;
    fprintf(stderr, "echo_client: gave up after %d seconds (%d of %d "
            "replies)\n", TIMEOUT_SECONDS, e->received, e->count);
    e->status = 1;
    event_base_loopbreak(e->base); /* at once: the broker may be stuck */
}

/* ------------------------------------------------------------------------
 * main
 */

int main(int argc, char **argv)
{
    static char *default_messages[] = {"hello", "world"};
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct echo e = {.peer = "echo", .status = 1};
    struct event *timeout = NULL;
    struct timeval tv = {TIMEOUT_SECONDS, 0};
    const char *secret = getenv("MP_SECRET");
    int opt, rc, err = MP_OK;

    o.address = "tcp:127.0.0.1:7330";
    o.format = "binary";
    o.name = "alice";
    if (secret == NULL)
        secret = "demo";
    while ((opt = getopt(argc, argv, "a:f:n:s:p:h")) != -1) {
        switch (opt) {
        case 'a': o.address = optarg; break;
        case 'f': o.format = optarg; break;
        case 'n': o.name = optarg; break;
        case 's': secret = optarg; break; /* visible in ps: prefer MP_SECRET */
        case 'p': e.peer = optarg; break;
        default: usage();
        }
    }
    if (strcmp(o.format, "json") != 0 && strcmp(o.format, "binary") != 0 &&
        strcmp(o.format, "gob") != 0 &&
        strcmp(o.format, "protobuf") != 0)
        usage();
    o.secret = secret;
    o.secret_len = strlen(secret);
    e.address = o.address;
    if (optind < argc) {
        e.messages = argv + optind;
        e.count = argc - optind;
    } else {
        e.messages = default_messages;
        e.count = 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0); /* lines show at once, even in a pipe */

    /* Our event_base: the client attaches to it, we dispatch it. */
    e.base = event_base_new();
    if (e.base == NULL) {
        fprintf(stderr, "echo_client: cannot create an event_base\n");
        return 1;
    }
    e.client = mp_client_new(e.base, &o, &err);
    if (e.client == NULL) {
        fprintf(stderr, "echo_client: cannot create the client: %s\n",
                mp_strerror(err));
        goto out;
    }
    mp_client_on_lost(e.client, on_lost, &e);

    timeout = evtimer_new(e.base, on_timeout, &e);
    if (timeout == NULL || evtimer_add(timeout, &tv) != 0) {
        fprintf(stderr, "echo_client: cannot set up the timeout\n");
        goto out;
    }

    /* Start connecting; the outcome comes to on_ready, from the loop. */
    rc = mp_client_connect(e.client, on_ready, &e);
    if (rc != MP_OK) {
        fprintf(stderr, "echo_client: cannot connect to %s: %s\n", o.address,
                mp_strerror(rc));
        goto out;
    }

    /* Run until finish() (or the timeout) stops the loop. */
    event_base_dispatch(e.base);

out:
    /* Free in the reverse order of creation: our event and the client
     * first, the event_base they live on last. */
    if (timeout != NULL)
        event_free(timeout);
    mp_client_free(e.client);
    event_base_free(e.base);
    return e.status;
}
