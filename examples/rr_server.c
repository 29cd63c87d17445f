/*
 * rr_server.c - answer requests: the server half of the request/reply
 * pair (rr_client.c is the other).
 *
 * It logs in to a broker (by default as "demo") and answers the protocol
 * "upper": each message a peer sends is answered with the same bytes in
 * upper case. A peer may send one request per connection (rr_client,
 * mp_client_request, `mpcat request`) or several on one connection
 * (`mpcat connect`): each gets its answer, in order.
 *
 *     rr_server [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]
 *
 * It prints each request on stdout and runs until SIGINT or SIGTERM
 * (exit status 0); it exits 1 when it cannot log in or loses the broker,
 * 2 on a usage error.
 *
 * What it shows: mp_client_handle_requests(), the server side of
 * request/reply. It registers one callback for a protocol; the library
 * accepts each connection a peer opens for it and calls the callback
 * with every message that arrives. The callback answers with
 * mp_conn_send() on the connection it was given. The requester closes
 * the connection once it has its reply: nothing to track here.
 *
 * Build against an installed libmpclient:
 *     cc rr_server.c $(pkg-config --cflags --libs libmpclient) -o rr_server
 */
#define _POSIX_C_SOURCE 200809L /* getopt() */

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h> /* evsignal_new(): signals as loop events */
#include <mp/client.h>

/* The longest request answered; a longer one is refused by closing the
 * connection (the requester gets MP_ERR_CLOSED). */
#define MAX_REQUEST 4096

struct server {
    struct mp_client *client;
    int lost; /* the broker connection was lost: exit 1 */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: rr_server [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]\n"
            "  -a ADDR    broker address, tcp:HOST:PORT or unix:PATH"
            " (default tcp:127.0.0.1:7330)\n"
            "  -f FORMAT  wire format, json, binary, gob or protobuf\n"
            "             (default binary)\n"
            "  -n NAME    the name to log in with (default demo)\n"
            "  -s SECRET  the secret (default: $MP_SECRET, else demo)\n");
    exit(2);
}

/* A request arrived on `conn`; data[0..len) is valid during this call
 * only. Answer on the same connection: the reply goes to the requester. */
static void on_request(struct mp_conn *conn, const void *data, size_t len,
                       void *arg)
{
    const unsigned char *in = data;
    unsigned char out[MAX_REQUEST];
    int rc;

    (void)arg;
    if (len > sizeof out) {
        fprintf(stderr, "rr_server: a request of %zu bytes from %s: too "
                "long, closing\n", len, mp_conn_peer(conn));
        mp_conn_close(conn); /* frees conn: do not touch it again */
        return;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)toupper(in[i]);
    /* Bytes, not necessarily text: %.*s stops at a NUL, which is fine
     * for a log line. */
    printf("%s asked '%.*s'\n", mp_conn_peer(conn), (int)len,
           (const char *)data);
    rc = mp_conn_send(conn, out, len);
    if (rc != MP_OK) {
        fprintf(stderr, "rr_server: cannot answer %s: %s\n",
                mp_conn_peer(conn), mp_strerror(rc));
        mp_conn_close(conn);
    }
}

static void on_lost(struct mp_client *c, int status, void *arg)
{
    struct server *s = arg;

    (void)c;
    fprintf(stderr, "rr_server: %s\n", mp_strerror(status));
    s->lost = 1;
}

/* Level 2: the broker shuts down soon; leave now, mp_client_run()
 * returns once we are out. */
static void on_going_away(struct mp_client *c, unsigned ms, void *arg)
{
    struct server *s = arg;

    fprintf(stderr, "rr_server: the broker is shutting down (within %u "
            "ms): leaving\n", ms);
    s->lost = 1;
    mp_client_disconnect(c, NULL, NULL);
}

/* SIGINT or SIGTERM, run by the loop: stop it (mp_client_free() must not
 * be called from inside the loop). */
static void on_signal(evutil_socket_t sig, short events, void *arg)
{
    struct server *s = arg;

    (void)events;
    printf("%s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    mp_client_stop(s->client);
}

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
    o.name = "demo";
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
    o.secret = secret != NULL ? secret : "demo";
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line at once, even in a pipe */

    /* Own-loop mode: the client makes and runs its event_base. */
    s.client = mp_client_new(NULL, &o, &err);
    if (s.client == NULL) {
        fprintf(stderr, "rr_server: cannot create the client: %s\n",
                mp_strerror(err));
        return 1;
    }
    mp_client_on_lost(s.client, on_lost, &s);
    mp_client_on_going_away(s.client, on_going_away, &s);

    /* Before logging in, so that no request finds us without it. */
    rc = mp_client_handle_requests(s.client, "upper", on_request, &s);
    if (rc != MP_OK) {
        fprintf(stderr, "rr_server: %s\n", mp_strerror(rc));
        goto out;
    }
    sigint_ev = evsignal_new(mp_client_base(s.client), SIGINT, on_signal, &s);
    sigterm_ev = evsignal_new(mp_client_base(s.client), SIGTERM, on_signal, &s);
    if (sigint_ev == NULL || sigterm_ev == NULL ||
        evsignal_add(sigint_ev, NULL) != 0 ||
        evsignal_add(sigterm_ev, NULL) != 0) {
        fprintf(stderr, "rr_server: cannot set up signal events\n");
        goto out;
    }

    rc = mp_client_connect_wait(s.client, reason, sizeof reason);
    if (rc != MP_OK) {
        fprintf(stderr, "rr_server: cannot log in to %s as %s: %s%s%s%s\n",
                o.address, o.name, mp_strerror(rc), *reason ? " (" : "",
                reason, *reason ? ")" : "");
        goto out;
    }
    printf("logged in to %s as %s; answering upper requests\n", o.address,
           mp_client_name(s.client));
    mp_client_run(s.client);
    status = s.lost ? 1 : 0;

out:
    /* The signal events live on the client's event_base: free them
     * before the client frees it. */
    if (sigint_ev != NULL)
        event_free(sigint_ev);
    if (sigterm_ev != NULL)
        event_free(sigterm_ev);
    mp_client_free(s.client);
    return status;
}
