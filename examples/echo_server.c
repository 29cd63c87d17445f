/*
 * echo_server.c - the smallest useful mpbroker service.
 *
 * It logs in to a broker (by default as "echo") and accepts connections
 * for the protocol "echo": every message that arrives on one is sent
 * straight back to the peer that sent it.
 *
 *     echo_server [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]
 *
 * It prints what it does on stdout, and runs until SIGINT (Ctrl-C) or
 * SIGTERM (exit status 0). It exits 1 when it cannot log in or loses the
 * broker, 2 on a usage error.
 *
 * What it shows: libmpclient's OWN-LOOP mode. The client creates its own
 * libevent event_base, and mp_client_run() dispatches it until
 * mp_client_stop(). (echo_client.c shows the other mode: a client attached
 * to an event_base of yours.) It also shows how to stop cleanly on SIGINT
 * and SIGTERM with a signal event on the client's event_base.
 *
 * Build against an installed libmpclient:
 *     cc echo_server.c $(pkg-config --cflags --libs libmpclient) -o echo_server
 */
#define _POSIX_C_SOURCE 200809L /* getopt() */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h> /* evsignal_new(): signals as loop events */
#include <mp/client.h>

/* Everything the callbacks need, passed to them as their `arg`. */
struct server {
    struct mp_client *client;
    int stopped_by; /* the signal that stopped us, or 0 */
    int lost;       /* the broker connection was lost */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: echo_server [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]\n"
            "  -a ADDR    broker address, tcp:HOST:PORT or unix:PATH"
            " (default tcp:127.0.0.1:7330)\n"
            "  -f FORMAT  wire format, json, binary, gob or protobuf\n"
            "             (default binary)\n"
            "  -n NAME    the name to log in with (default echo)\n"
            "  -s SECRET  the secret (default: $MP_SECRET, else demo)\n");
    exit(2);
}

/*
 * Print a message between quotes. A message is bytes, not necessarily
 * text: control characters are shown as \xNN so that they cannot mess up
 * the terminal.
 */
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

/* ------------------------------------------------------------------------
 * Connection callbacks
 */

/* A message arrived on an echo connection: send it back. `data` is only
 * valid during this call; mp_conn_send() copies it. */
static void on_message(struct mp_conn *conn, const void *data, size_t len,
                       void *arg)
{
    int rc;

    (void)arg;
    printf("echo ");
    print_quoted(data, len);
    printf(" back to %s\n", mp_conn_peer(conn));

    rc = mp_conn_send(conn, data, len);
    if (rc != MP_OK) {
        fprintf(stderr, "echo_server: cannot echo to %s: %s\n",
                mp_conn_peer(conn), mp_strerror(rc));
        /* Give up on this connection; the peer is told. After this call
         * `conn` is freed: do not touch it again. */
        mp_conn_close(conn);
    }
}

/* The connection ended. `conn` is freed when this returns. */
static void on_close(struct mp_conn *conn, int reason, void *arg)
{
    (void)arg;
    if (reason == MP_CLOSE_BY_PEER)
        printf("%s closed\n", mp_conn_peer(conn));
    else if (reason == MP_CLOSE_PEER_LEFT)
        printf("%s left the broker\n", mp_conn_peer(conn));
    else
        printf("connection %s with %s ended: %s\n", mp_conn_id(conn),
               mp_conn_peer(conn), mp_close_reason_string(reason));
}

/* A peer opened an "echo" connection to us. libmpclient has already
 * accepted it; we only say which callbacks handle it. */
static void on_echo_connection(struct mp_conn *conn, void *arg)
{
    printf("%s opened %s connection %s\n", mp_conn_peer(conn),
           mp_conn_protocol(conn), mp_conn_id(conn));
    mp_conn_set_callbacks(conn, on_message, on_close, arg);
}

/* ------------------------------------------------------------------------
 * Client-wide callbacks
 */

/* The broker went away (it stopped, or the network failed). Every
 * connection has had its on_close already; mp_client_run() returns next. */
static void on_lost(struct mp_client *c, int status, void *arg)
{
    struct server *s = arg;

    (void)c;
    fprintf(stderr, "echo_server: %s\n", mp_strerror(status));
    s->lost = 1;
}

/* Protocol level 2: the broker is shutting down and closes within ms.
 * Leave now (mp_client_disconnect sends what is queued first), so that
 * it need not wait for us; mp_client_run() returns once we are out. */
static void on_going_away(struct mp_client *c, unsigned ms, void *arg)
{
    struct server *s = arg;

    fprintf(stderr, "echo_server: the broker is shutting down (it closes "
            "within %u ms): leaving\n", ms);
    s->lost = 1;
    mp_client_disconnect(c, NULL, NULL);
}

/* SIGINT or SIGTERM. This is an ordinary event callback, run by the loop
 * (not an asynchronous signal handler), so it may call anything. We only
 * ask the loop to stop: mp_client_free() must not be called from inside
 * the loop. */
static void on_signal(evutil_socket_t sig, short events, void *arg)
{
    struct server *s = arg;

    (void)events;
    printf("%s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    s->stopped_by = (int)sig;
    mp_client_stop(s->client);
}

/* ------------------------------------------------------------------------
 * main
 */

int main(int argc, char **argv)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct server s = {0};
    struct event *sigint_ev = NULL, *sigterm_ev = NULL;
    const char *secret = getenv("MP_SECRET");
    char reason[256] = "";
    int opt, rc, err = MP_OK, status = 1;

    o.address = "tcp:127.0.0.1:7330";
    o.format = "binary";
    o.name = "echo";
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
    if (optind != argc ||
        (strcmp(o.format, "json") != 0 && strcmp(o.format, "binary") != 0 &&
        strcmp(o.format, "gob") != 0 &&
        strcmp(o.format, "protobuf") != 0))
        usage();
    o.secret = secret;
    o.secret_len = strlen(secret);

    /* Print each line as soon as it is written, even into a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* base NULL: the client creates and owns its event_base. The options
     * are copied, so `o` may go away now. */
    s.client = mp_client_new(NULL, &o, &err);
    if (s.client == NULL) {
        fprintf(stderr, "echo_server: cannot create the client: %s\n",
                mp_strerror(err));
        return 1;
    }
    mp_client_on_lost(s.client, on_lost, &s);
    mp_client_on_going_away(s.client, on_going_away, &s);

    /* Answer the "echo" protocol. A peer opening any other protocol is
     * refused by the library (UnknownProto). */
    rc = mp_client_handle(s.client, "echo", on_echo_connection, &s);
    if (rc != MP_OK) {
        fprintf(stderr, "echo_server: %s\n", mp_strerror(rc));
        goto out;
    }

    /* Stop cleanly on Ctrl-C and on `kill`: signal events on the client's
     * own event_base (mp_client_base() gives it to us). */
    sigint_ev = evsignal_new(mp_client_base(s.client), SIGINT, on_signal, &s);
    sigterm_ev = evsignal_new(mp_client_base(s.client), SIGTERM, on_signal, &s);
    if (sigint_ev == NULL || sigterm_ev == NULL ||
        evsignal_add(sigint_ev, NULL) != 0 ||
        evsignal_add(sigterm_ev, NULL) != 0) {
        fprintf(stderr, "echo_server: cannot set up signal events\n");
        goto out;
    }

    /* Connect and log in, waiting for the answer. */
    rc = mp_client_connect_wait(s.client, reason, sizeof reason);
    if (s.stopped_by != 0) { /* a signal came first */
        status = 0;
        goto out;
    }
    if (rc != MP_OK) {
        fprintf(stderr, "echo_server: cannot log in to %s as %s: %s",
                o.address, o.name, mp_strerror(rc));
        if (rc == MP_ERR_AUTH) /* the broker said why */
            fprintf(stderr, " (%s)", reason);
        fputc('\n', stderr);
        goto out;
    }
    printf("logged in to %s as %s; waiting for echo connections\n",
           o.address, mp_client_name(s.client));

    /* Serve until a signal (status 0) or until the broker is gone (1). */
    mp_client_run(s.client);
    status = s.lost ? 1 : 0;

out:
    /* The signal events live on the client's event_base, which
     * mp_client_free() frees: free them first. */
    if (sigint_ev != NULL)
        event_free(sigint_ev);
    if (sigterm_ev != NULL)
        event_free(sigterm_ev);
    mp_client_free(s.client);
    return status;
}
