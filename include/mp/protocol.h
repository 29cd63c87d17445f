/*
 * mp/protocol.h - the mpbroker protocol: message, meta values, names and
 * protocol levels.
 *
 * This header is installed and is part of the plugin ABI (see mp/plugin.h):
 * struct mp_message crosses the boundary between the broker and translator
 * plugins, so its layout only ever grows at the end, guarded by
 * MP_PLUGIN_ABI.
 */
#ifndef MP_PROTOCOL_H
#define MP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Protocol level 1 is the original 2015 MessagePasser protocol (meta 0-10).
 * A client announces a higher level at Auth; only then may the broker send
 * it a meta value introduced at that level. Level 2 (meta 11-18) adds
 * per-connection credit, presence and refusals that say what happened
 * (doc/protocol.md, "Protocol level 2"). MP_PROTOCOL_LEVEL is the highest
 * level this version speaks.
 */
#define MP_PROTOCOL_LEVEL 2

/* Names and connection ids are at most this many bytes (binary framing
 * stores their length in one byte). */
#define MP_NAME_MAX 255

/* Meta values: the numbers are the original's wire values. */
enum mp_meta {
    MP_META_DATA = 0,               /* client: message on an open connection */
    MP_META_WAT = 1,                /* broker: "I did not understand that" */
    MP_META_NO_SUCH_CONNECTION = 2, /* broker/client: no such client/conn */
    MP_META_UNKNOWN_PROTO = 3,      /* client: Syn refused, no handler */
    MP_META_CLIENT_CLOSED = 4,      /* broker: other_client disconnected */
    MP_META_CONN_SYN = 5,           /* client: open connection_id; data = protocol */
    MP_META_CONN_ACK = 6,           /* client: accept it */
    MP_META_CONN_CLOSED = 7,        /* client: close it */
    MP_META_AUTH = 8,               /* client: other_client = name, data = secret */
    MP_META_AUTH_OK = 9,            /* broker: other_client = name now owned */
    MP_META_AUTH_FAILURE = 10,      /* broker: data = reason, then close */
    /* Level 2: sent to, and accepted from, level-2 clients only. */
    MP_META_CREDIT = 11,            /* both: data = bytes granted, decimal */
    MP_META_WATCH = 12,             /* client: other_client = name or prefix */
    MP_META_UNWATCH = 13,           /* client: undo a Watch */
    MP_META_PRESENCE = 14,          /* broker: data = "online"/"offline" */
    MP_META_LIST = 15,              /* client: request; broker: reply */
    MP_META_DENIED = 16,            /* broker/client: Syn refused, data = why */
    MP_META_REPLACED = 17,          /* broker: name logged in again; closing */
    MP_META_GOING_AWAY = 18,        /* broker: closing in data ms */
};

/* The highest meta value defined at protocol level 1, and at level 2. */
#define MP_META_LEVEL1_MAX MP_META_AUTH_FAILURE
#define MP_META_LEVEL2_MAX MP_META_GOING_AWAY

/*
 * Credit (level 2): what one Data message costs, in bytes, against the
 * window of its direction of its connection: its data's length plus
 * MP_CREDIT_MESSAGE_COST, so that empty messages are not free. A sender
 * may send while the credit it holds is above zero (the message that
 * takes it to zero or below is allowed: any size fits any window).
 * A grant is 1 to MP_CREDIT_MAX bytes, and so is the credit held.
 */
#define MP_CREDIT_MESSAGE_COST 64
#define MP_CREDIT_MAX 2147483647
/* The window each direction of a connection starts with unless the
 * broker's AuthOk says otherwise (limits.connection_window). */
#define MP_DEFAULT_WINDOW 262144

/*
 * One message, as every translator decodes it from and encodes it to the
 * wire.
 *
 * Strings are stored inline (at most MP_NAME_MAX bytes plus a terminating
 * NUL that is not part of the length), so a message needs no allocation
 * except for its data.
 *
 * Ownership: `data` is owned by the message. It is allocated with malloc()
 * by whoever fills the message (a decoder, or mp_message_set_data()) and
 * released with free() by mp_message_clear(). When `has_data` is false,
 * `data` is NULL and `data_len` is 0: this is the wire's null, which is
 * distinct from present-but-empty data (has_data true, data_len 0; data may
 * then be NULL).
 */
struct mp_message {
    uint8_t meta;                   /* enum mp_meta, or an unknown value */
    uint8_t level;                  /* level announced at Auth; 0 = none */
    uint8_t other_client_len;
    uint8_t connection_id_len;
    char other_client[MP_NAME_MAX + 1];
    char connection_id[MP_NAME_MAX + 1];
    bool has_data;
    size_t data_len;
    unsigned char *data;
};

#ifdef __cplusplus
}
#endif

#endif /* MP_PROTOCOL_H */
