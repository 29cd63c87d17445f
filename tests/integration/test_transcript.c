/*
 * test_transcript.c - replay of a real capture of the original 2015 Go
 * server and clients (JSON translator): every line the broker sends must
 * be byte-identical to what the original sent.
 *
 * The lines are copied from go-json-transcript.txt. c1 (goecho56782)
 * serves "echo", c2 (gocli56782) initiates; secret "No password needed!".
 * The capture's cross-client order is only approximately causal: in two
 * places it shows a delivery before the send that caused it (c2's
 * "AAEC/woi" data and c2's ConnClosed); here each send comes first.
 */
#include "config.h"

#include <stdio.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "json_transcript.h"
#include "rawclient.h"

TestSuite(transcript, .fini = harness_reap_all, .timeout = 60);

static void play(struct rc_client *c, const struct step *s, size_t i)
{
    switch (s->action) {
    case SEND:
        cr_assert(rc_send_json(c, s->line), "step %zu: send failed: %s", i,
                  rc_error(c));
        break;
    case RECV:
        rc_expect_line(c, s->line);
        break;
    case SEND_EOF:
        /* The Go client closes its socket; half-closing keeps ours
         * readable so the broker's own close can be observed. */
        cr_assert_eq(shutdown(rc_fd(c), SHUT_WR), 0, "step %zu: shutdown", i);
        break;
    case RECV_EOF:
        rc_expect_eof(c);
        break;
    }
}

static void replay(const char *listeners)
{
    char body[1024];

    snprintf(body, sizeof body, "%s%s", listeners, MPT_AUTH_ALLOW_ALL);
    struct harness *h = harness_start(body);
    struct rc_client *c[2] = { rc_connect(h, 0, RC_JSON),
                               rc_connect(h, 0, RC_JSON) };

    for (size_t i = 0; i < JSON_TRANSCRIPT_LEN; i++)
        play(c[script[i].client - 1], &script[i], i);
    rc_close(c[0]);
    rc_close(c[1]);
    harness_stop(h);
}

Test(transcript, json_listener)
{
    replay("listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; } );\n");
}

Test(transcript, auto_listener)
{
    replay("listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n");
}
