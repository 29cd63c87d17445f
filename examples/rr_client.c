/*
 * rr_client.c - ask one question: the client half of the request/reply
 * pair (rr_server.c is the other).
 *
 * It logs in (by default as "alice"), sends TEXT (default "hello") to
 * the peer (default "demo") for the protocol "upper", prints the reply
 * and exits 0 - as soon as the reply arrives. It exits 1 with a message
 * on stderr when the login fails, when the peer is not connected or
 * does not answer "upper", or when no reply comes within -t seconds.
 *
 *     rr_client [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]
 *               [-p PEER] [-t SECONDS] [TEXT]
 *
 * What it shows: mp_client_request(), request/reply in one call. It
 * opens a connection to the peer, sends one message, hands the first
 * message back to a callback and closes the connection; a timeout bounds
 * the whole exchange. The callback runs exactly once, with the reply or
 * with the reason there is none. (The client runs its own loop here, as
 * in echo_server.c.)
 *
 * Build against an installed libmpclient:
 *     cc rr_client.c $(pkg-config --cflags --libs libmpclient) -o rr_client
 */
#define _POSIX_C_SOURCE 200809L /* getopt() */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mp/client.h>

struct ask {
    const char *peer;
    unsigned timeout_s;
    int status; /* the exit status */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: rr_client [-a ADDR] [-f FORMAT] [-n NAME] [-s SECRET]\n"
            "                 [-p PEER] [-t SECONDS] [TEXT]\n"
            "  -a ADDR     broker address, tcp:HOST:PORT or unix:PATH"
            " (default tcp:127.0.0.1:7330)\n"
            "  -f FORMAT   wire format, json, binary, gob or protobuf\n"
            "             (default binary)\n"
            "  -n NAME     the name to log in with (default alice)\n"
            "  -s SECRET   the secret (default: $MP_SECRET, else demo)\n"
            "  -p PEER     who answers: rr_server's name (default demo)\n"
            "  -t SECONDS  how long to wait for the reply (default 5)\n"
            "  TEXT        the question (default: hello)\n");
    exit(2);
}

/* The outcome of mp_client_request(), exactly once: the reply (data is
 * valid during this call only), or why there is none. */
static void on_reply(struct mp_client *c, int status, const void *data,
                     size_t len, void *arg)
{
    struct ask *a = arg;

    switch (status) {
    case MP_OK:
        printf("%s answered '%.*s'\n", a->peer, (int)len, (const char *)data);
        a->status = 0;
        break;
    case MP_ERR_TIMEOUT:
        fprintf(stderr, "rr_client: no reply from %s within %u s\n", a->peer,
                a->timeout_s);
        break;
    case MP_ERR_DENIED: /* level 2: the broker or the peer says why */
        fprintf(stderr, "rr_client: %s: %s (%s)\n", a->peer,
                mp_strerror(status), mp_client_open_reason(c));
        break;
    default:
        /* MP_ERR_NO_SUCH_CLIENT: the peer is not logged in;
         * MP_ERR_UNKNOWN_PROTOCOL: it does not answer "upper";
         * MP_ERR_CLOSED: it closed without answering; ... */
        fprintf(stderr, "rr_client: no reply from %s: %s\n", a->peer,
                mp_strerror(status));
        break;
    }
    /* Leave gracefully: the close of the request's connection reaches
     * the peer before mp_client_run() returns. Not logged in any more
     * (the broker was lost): just stop. */
    if (mp_client_disconnect(c, NULL, NULL) != MP_OK)
        mp_client_stop(c);
}

int main(int argc, char **argv)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct ask a = {.peer = "demo", .timeout_s = 5, .status = 1};
    struct mp_client *client;
    const char *secret = getenv("MP_SECRET");
    const char *text = "hello";
    char reason[256] = "", *end;
    int opt, rc, err = MP_OK;

    o.address = "tcp:127.0.0.1:7330";
    o.format = "binary";
    o.name = "alice";
    while ((opt = getopt(argc, argv, "a:f:n:s:p:t:h")) != -1) {
        switch (opt) {
        case 'a': o.address = optarg; break;
        case 'f': o.format = optarg; break;
        case 'n': o.name = optarg; break;
        case 's': secret = optarg; break; /* visible in ps: prefer MP_SECRET */
        case 'p': a.peer = optarg; break;
        case 't':
            a.timeout_s = (unsigned)strtoul(optarg, &end, 10);
            if (*end != '\0' || a.timeout_s == 0 || a.timeout_s > 3600)
                usage();
            break;
        default: usage();
        }
    }
    if (argc - optind > 1 ||
        (strcmp(o.format, "json") != 0 && strcmp(o.format, "binary") != 0 &&
         strcmp(o.format, "gob") != 0 &&
         strcmp(o.format, "protobuf") != 0))
        usage();
    if (optind < argc)
        text = argv[optind];
    o.secret = secret != NULL ? secret : "demo";

    client = mp_client_new(NULL, &o, &err);
    if (client == NULL) {
        fprintf(stderr, "rr_client: cannot create the client: %s\n",
                mp_strerror(err));
        return 1;
    }
    rc = mp_client_connect_wait(client, reason, sizeof reason);
    if (rc != MP_OK) {
        fprintf(stderr, "rr_client: cannot log in to %s: %s%s%s%s\n",
                o.address, mp_strerror(rc), *reason ? " (" : "", reason,
                *reason ? ")" : "");
        mp_client_free(client);
        return 1;
    }

    /* One call: open, send, wait for the first reply, close. on_reply
     * runs from the loop, never from inside this call. */
    rc = mp_client_request(client, a.peer, "upper", text, strlen(text),
                           a.timeout_s * 1000, on_reply, &a);
    if (rc != MP_OK)
        fprintf(stderr, "rr_client: cannot ask %s: %s\n", a.peer,
                mp_strerror(rc));
    else
        mp_client_run(client); /* until on_reply's disconnect is done */
    mp_client_free(client);
    return a.status;
}
