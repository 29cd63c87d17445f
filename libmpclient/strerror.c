/* strerror.c - texts for libmpclient's error codes and close reasons. */
#include "config.h"

#include <mp/client.h>

static const char *const error_texts[] = {
    [0] = "success",
    [1] = "invalid argument",
    [2] = "out of memory",
    [3] = "bad broker address (expected tcp:HOST:PORT, tls:HOST:PORT or unix:PATH)",
    [4] = "cannot connect to the broker",
    [5] = "authentication failed",
    [6] = "connection to the broker lost",
    [7] = "no such client",
    [8] = "unknown protocol: the peer has no handler for it",
    [9] = "connection closed",
    [10] = "message too big",
    [11] = "protocol error: the broker sent something undecodable",
    [12] = "not possible in the current state",
    [13] = "a handler for that protocol already exists",
    [14] = "timed out",
    [15] = "the peer left",
    [16] = "too much queued for the broker; retry when drained",
    [17] = "TLS failed",
    [18] = "the broker's listener does not speak this wire format; use a "
           "format the listener speaks",
    [19] = "invalid client name: a name must be 1 to 255 bytes of UTF-8, "
           "with no ':' and no control character",
    [20] = "cannot open a connection to yourself: open it to another "
           "client's name",
    [21] = "denied: the broker's authorization, a connection limit or the "
           "peer refused to open the connection",
    [22] = "replaced: the name logged in again elsewhere, and the broker "
           "closed this session",
    [23] = "the broker shut down (it announced it with GoingAway): connect "
           "again, to it or another broker",
    [24] = "needs protocol level 2, which this session does not speak (an "
           "older broker, the gob format, or protocol_level 1)",
    [25] = "over a limit the broker announced (too many watches)",
    [26] = "the name is logged in already (the broker refuses a second "
           "login with it)",
    [27] = "disconnected from the broker, reconnecting: try again once "
           "reconnected",
};

const char *mp_strerror(int error)
{
    /* 0u - error: -INT_MIN does not fit an int. */
    unsigned i = error <= 0 ? 0u - (unsigned)error : 0u;

    if (error > 0 || i >= sizeof error_texts / sizeof error_texts[0])
        return "unknown error";
    return error_texts[i];
}

const char *mp_close_reason_string(int reason)
{
    switch (reason) {
    case MP_CLOSE_BY_PEER: return "closed by the peer";
    case MP_CLOSE_PEER_LEFT: return "the peer left the broker";
    case MP_CLOSE_BROKER_LOST: return "connection to the broker lost";
    case MP_CLOSE_CLIENT_FREED: return "client freed";
    case MP_CLOSE_DATA_DROPPED:
        return "the broker dropped a message sent beyond the connection's "
               "credit; closed";
    default: return "unknown reason";
    }
}
