/*
 * endpoint.h - what the router delivers to: one named end of connections.
 *
 * A client logged in on one of our listeners (session.c) is the only kind
 * today; a link to another broker is meant to be the next. The router
 * (router.h) and backpressure (flow.h) know an endpoint only through this
 * header: its name, its connections, its wire format (for the fast lane),
 * its log limit and the operations below. Nothing in them reaches into
 * the object an endpoint is embedded in.
 *
 * Ownership: an endpoint is embedded in its owner (a struct session) and
 * lives exactly as long as it. Before freeing it the owner calls
 * router_unregister() (its name and connections) and flow_release() (its
 * pauses). The name is owned by the endpoint: malloc'ed, or the shared
 * empty endpoint_no_name before a login.
 */
#ifndef MP_BROKER_ENDPOINT_H
#define MP_BROKER_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mp/protocol.h>

#include "client_log.h"
#include "conn_table.h"
#include "flow.h"

struct broker;
struct conn;
struct endpoint;
struct loaded_plugin;

/* A Data message's data as it came, in the wire form of `format` (the
 * translator's decode_wire()), not decoded. */
struct wire_data {
    const unsigned char *bytes;
    size_t len;
    size_t data_len;            /* what the data decodes to, in bytes */
    const struct loaded_plugin *format;
};

struct endpoint_ops {
    /*
     * Queue msg for the endpoint's client. With `wire` (never NULL for an
     * endpoint of another format: the router decodes first), the data is
     * wire->bytes in place of msg->data. `sender` is the endpoint whose
     * message this is, NULL for the broker's own notices: it is the one
     * paused (flow_pause) when this endpoint's queue passes its high
     * water mark. Returns 0, or -1 when nothing was queued (closing, or
     * the message cannot be encoded).
     */
    int (*deliver)(struct endpoint *to, const struct mp_message *msg,
                   const struct wire_data *wire, struct endpoint *sender);
    /* Backpressure (flow.c): stop, or start again, reading what the
     * endpoint's client sends. */
    void (*set_reading)(struct endpoint *ep, bool reading);
    /* The client sent something WAT-worthy (`why`): count it against
     * limits.bad_messages_max. Returns true if that disconnected it. */
    bool (*bad_message)(struct endpoint *ep, const char *why);
    /* Close the endpoint (a newer login took its name): orderly, as the
     * owner closes it (session_close); the memory stays valid until the
     * loop runs again. */
    void (*close)(struct endpoint *ep, const char *reason);
    /* `receiver` granted `bytes` of credit for what ep sends on `conn`
     * (credit.h; the broker's count is updated already): tell ep's
     * client (a level-2 client: a Credit message; a remote: a CREDIT
     * frame to its broker). NULL: nobody to tell (a level-1 client). */
    void (*credit)(struct endpoint *ep, struct conn *conn,
                   const struct endpoint *receiver, uint64_t bytes);
};

struct endpoint {
    const struct endpoint_ops *ops;
    struct broker *broker;
    char *name;                 /* NUL-terminated, name_len bytes */
    size_t name_len;
    uint64_t id;                /* a session's id, unique in this
                                   broker's run (the registry's fencing
                                   token); a remote's: its session's on
                                   its broker; 0 before a login */
    char peer[64];              /* for logs: "127.0.0.1:5555",
                                   "[::1]:5555", "unix(uid=1000)" */
    const struct loaded_plugin *format; /* its translator; NULL: not known
                                           yet (an "auto" listener) */
    uint8_t level;              /* protocol level its messages follow:
                                   a client's as agreed at login; a
                                   remote's MP_PROTOCOL_LEVEL (its
                                   broker speaks for its client) */
    bool is_client;             /* a client of ours, whose messages we
                                   police (credit); false for a remote */
    bool registered;            /* logged in: in broker->names, routable */
    bool closing;               /* nothing more is queued for it */
    struct conn_peer conns;     /* connections it is an end of */
    unsigned notified;          /* broker->notify_generation when told
                                   of a departed peer (router.c) */
    struct log_limit log_limit; /* lines about this client (client_log.h) */
    struct flow flow;           /* whom it pauses, who pauses it */
};

/* The name of an endpoint that has not logged in. */
extern char endpoint_no_name[];

/* Make ep a nameless, unregistered endpoint of `broker` with `ops`. */
void endpoint_init(struct endpoint *ep, const struct endpoint_ops *ops,
                   struct broker *broker, const char *peer);

/* Take a copy of name[0..len) as ep's name (freeing the old one).
 * Aborts when memory is exhausted (doc/hacking.md). */
void endpoint_set_name(struct endpoint *ep, const char *name, size_t len);

/* Queue a message the broker writes itself for ep: {meta, other_client,
 * connection_id, reason as its data (NULL: no data)}, through ep's
 * deliver operation, naming `sender` (NULL: nobody is paused for it). */
void endpoint_send_notice(struct endpoint *ep, enum mp_meta meta,
                          const char *other_client, size_t other_client_len,
                          const char *connection_id, size_t connection_id_len,
                          const char *reason, struct endpoint *sender);

/* Free ep's name (the endpoint itself is its owner's). */
void endpoint_clear(struct endpoint *ep);

/* The endpoint a conn_peer is embedded in. */
static inline struct endpoint *endpoint_of_peer(struct conn_peer *peer)
{
    return peer->owner;
}

#endif
