/*
 * router.c - names and the connection table: which messages travel
 * between which endpoints (doc/protocol.md, "Broker behaviour").
 *
 * Every message a logged-in client sends comes through route(), and
 * every send it makes names its sender: nothing here depends on state
 * that is not an argument. doc/hacking.md follows one message through.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "broker.h"
#include "cluster.h"
#include "conn_table.h"
#include "credit.h"
#include "endpoint.h"
#include "hashmap.h"
#include "log.h"
#include "message.h"
#include "name.h"
#include "plugin_loader.h"
#include "presence.h"
#include "router.h"
#include "xalloc.h"

#define CONN_BIT(state) (1u << (state))

/* What a connection-level message needs and does, by meta value. */
struct conn_rule {
    unsigned states;       /* CONN_BITs in which the message is accepted */
    bool target_only;      /* only the Syn's target may send it */
    bool opens;            /* PENDING -> OPEN */
    bool ends;             /* removes the connection */
    bool answer_unknown;   /* NoSuchConnection back when nothing matches */
};

static const struct conn_rule conn_rules[] = {
    [MP_META_DATA] = {
        .states = CONN_BIT(CONN_OPEN), .answer_unknown = true,
    },
    [MP_META_CONN_ACK] = {
        .states = CONN_BIT(CONN_PENDING), .target_only = true, .opens = true,
        .answer_unknown = true,
    },
    [MP_META_CONN_CLOSED] = {
        .states = CONN_BIT(CONN_PENDING) | CONN_BIT(CONN_OPEN), .ends = true,
        .answer_unknown = true,
    },
    /* Refusals: a stray one is dropped, never answered (no ping-pong). */
    [MP_META_UNKNOWN_PROTO] = {
        .states = CONN_BIT(CONN_PENDING), .target_only = true, .ends = true,
    },
    [MP_META_NO_SUCH_CONNECTION] = {
        .states = CONN_BIT(CONN_PENDING) | CONN_BIT(CONN_OPEN), .ends = true,
    },
    /* Level 2: a target may refuse with a reason; a level-1 initiator
     * gets it as UnknownProto (session_deliver). */
    [MP_META_DENIED] = {
        .states = CONN_BIT(CONN_PENDING), .target_only = true, .ends = true,
    },
};

static const struct conn_rule *conn_rule_of(uint8_t meta)
{
    if (meta < sizeof conn_rules / sizeof conn_rules[0] &&
        conn_rules[meta].states != 0)
        return &conn_rules[meta];
    return NULL;
}

static struct endpoint *find_client(const struct broker *b, const char *name,
                                    size_t len)
{
    return hashmap_get(b->names, name, len);
}

/* ------------------------------------------------------------------------
 * Names
 */

int router_register(struct endpoint *ep, const char **reason)
{
    struct broker *b = ep->broker;
    struct endpoint *old = find_client(b, ep->name, ep->name_len);

    if (old != NULL) {
        if (b->conf.duplicate_names == DUPLICATE_REJECT) {
            *reason = "name already in use";
            return -1;
        }
        log_notice("client %s logged in again: closing the older session: "
                   "client=%s peer=%s older_peer=%s", LOG_VALUE(ep->name),
                   LOG_VALUE(ep->name), ep->peer, old->peer);
        router_replace(old, "replaced by a newer login");
    }
    mp_xhashmap_put(b->names, ep->name, ep->name_len, ep);
    ep->registered = true;
    presence_changed(b->presence, ep->name, ep->name_len);
    return 0;
}

void router_replace(struct endpoint *old, const char *reason)
{
    /* Level 2 is told why (a level-1 client is sent nothing). */
    endpoint_send_notice(old, MP_META_REPLACED, old->name, old->name_len, "",
                         0, reason, NULL);
    old->ops->close(old, reason);
}

static void tell_client_closed(struct conn_peer *other, void *arg)
{
    struct endpoint *departed = arg;
    struct endpoint *peer = endpoint_of_peer(other);

    /* One ClientClosed per peer, however many connections it shared. */
    if (peer == departed ||
        peer->notified == departed->broker->notify_generation)
        return;
    peer->notified = departed->broker->notify_generation;
    endpoint_send_notice(peer, MP_META_CLIENT_CLOSED, departed->name,
                         departed->name_len, "", 0, NULL, NULL);
}

void router_forget_connections(struct endpoint *ep, bool notify)
{
    struct broker *b = ep->broker;

    b->notify_generation++;
    conn_table_remove_peer(b->conns, &ep->conns,
                           notify ? tell_client_closed : NULL, ep);
}

void router_unregister(struct endpoint *ep, bool notify)
{
    struct broker *b = ep->broker;

    if (!ep->registered)
        return;
    hashmap_remove(b->names, ep->name, ep->name_len);
    ep->registered = false;
    presence_changed(b->presence, ep->name, ep->name_len);
    presence_forget_watcher(b->presence, ep);
    if (b->cluster != NULL)
        cluster_release_name(b->cluster, ep);
    router_forget_connections(ep, notify);
}

/* ------------------------------------------------------------------------
 * Delivery: every send names its sender, the endpoint paused if the
 * recipient's queue is full (flow.h).
 */

/* Can data in this wire form be decoded without decoding the whole
 * message again (the format's optional wire_data operation)? */
static bool can_decode_wire(const struct wire_data *wire)
{
    return wire->format->codec.wire_data != NULL;
}

/* Put the data of a message read in wire form into msg->data (absent
 * data stays absent). */
static int decode_wire_data(const struct wire_data *wire,
                            struct mp_message *msg)
{
    if (!msg->has_data)
        return 0;
    return wire->format->codec.wire_data(wire->bytes, wire->len, msg);
}

/* Hand msg to `to` as coming from `from`. Data still in its wire form
 * passes on as it came to an endpoint of the same format; any other gets
 * it decoded (the caller checked can_decode_wire). */
static void deliver(struct endpoint *to, struct endpoint *from,
                    struct mp_message *msg, const struct wire_data *wire)
{
    mp_message_set_other_client(msg, from->name, from->name_len);
    if (wire != NULL && to->format != wire->format) {
        if (decode_wire_data(wire, msg) != 0) {
            log_warn("cannot decode the data of a %s from %s for %s",
                     mp_meta_name(msg->meta), from->name, to->name);
            return;
        }
        wire = NULL;
    }
    to->ops->deliver(to, msg, wire, from);
}

/* Send msg back to its sender as NoSuchConnection, otherwise intact (the
 * original broker's bounce for an absent client). */
static void bounce(struct endpoint *from, struct mp_message *msg,
                   const struct wire_data *wire, const char *why)
{
    log_debug("bouncing %s from %s to %s (connection %s): %s",
              mp_meta_name(msg->meta), from->name, msg->other_client,
              msg->connection_id, why);
    msg->meta = MP_META_NO_SUCH_CONNECTION;
    from->broker->stats.bounced++;
    from->ops->deliver(from, msg, wire, from);
}

void router_answer_wat(struct endpoint *from, const struct mp_message *msg,
                       const char *why)
{
    if (client_log_allowed(from->broker, from))
        log_notice("WAT to %s: client=%s peer=%s reason=%s",
                   LOG_VALUE(from->name), LOG_VALUE(from->name), from->peer,
                   LOG_VALUE(why));
    endpoint_send_notice(from, MP_META_WAT, msg->other_client,
                         msg->other_client_len, msg->connection_id,
                         msg->connection_id_len, why, from);
    from->ops->bad_message(from, why);
}

/* A refused Syn reaches its initiator as the target's refusal would:
 * Denied from the target, with the reason (a level-1 initiator gets
 * UnknownProto without data: session_deliver). */
static void refuse_syn(struct endpoint *from, struct mp_message *msg,
                       const char *why)
{
    msg->meta = MP_META_DENIED;
    if (mp_message_set_data(msg, why, strlen(why)) != 0)
        mp_out_of_memory("a Denied", strlen(why));
    from->ops->deliver(from, msg, NULL, from);
}

/* ------------------------------------------------------------------------
 * Syn: a new connection
 */

/* Connections between `a` and `b`, counted on the shorter list. */
static size_t connections_between(const struct endpoint *a,
                                  const struct endpoint *b)
{
    const struct conn_peer *mine = a->conns.count <= b->conns.count
                                       ? &a->conns : &b->conns;
    const struct conn_peer *theirs = mine == &a->conns ? &b->conns : &a->conns;
    const struct conn_link *l;
    size_t n = 0;

    LIST_FOREACH(l, &mine->links, entry) {
        if (conn_other_end(l->conn, mine) == theirs)
            n++;
    }
    return n;
}

/* limits.max_connections_per_client: entries in the connection table,
 * pending Syns included, for either end; and max_connections_per_pair
 * between these two, so that one peer cannot take all of a server's. */
static bool over_connection_limit(struct endpoint *from,
                                  const struct endpoint *to)
{
    struct broker *b = from->broker;
    size_t max = b->conf.max_connections_per_client;
    const struct endpoint *full = from->conns.count >= max ? from
                                  : to->conns.count >= max ? to
                                                           : NULL;
    size_t pair;

    if (full != NULL) {
        b->stats.syns_refused_per_client++;
        if (client_log_allowed(b, from))
            log_notice("Syn from %s to %s refused: client=%s to=%s full=%s "
                       "connections=%zu reason=max_connections_per_client",
                       LOG_VALUE(from->name), LOG_VALUE(to->name),
                       LOG_VALUE(from->name), LOG_VALUE(to->name),
                       LOG_VALUE(full->name), full->conns.count);
        return true;
    }
    pair = connections_between(from, to);
    if (pair < b->conf.max_connections_per_pair)
        return false;
    b->stats.syns_refused_per_pair++;
    if (client_log_allowed(b, from))
        log_notice("Syn from %s to %s refused: client=%s to=%s "
                   "connections=%zu reason=max_connections_per_pair",
                   LOG_VALUE(from->name), LOG_VALUE(to->name),
                   LOG_VALUE(from->name), LOG_VALUE(to->name), pair);
    return true;
}

static void handle_syn(struct endpoint *from, struct mp_message *msg)
{
    struct broker *b = from->broker;
    struct endpoint *to;
    struct conn *conn;
    bool exists = false;

    if (!mp_connection_id_is_from(msg->connection_id, msg->connection_id_len,
                                  from->name, from->name_len)) {
        if (client_log_allowed(b, from))
            log_notice("client %s sent a Syn with a connection id not its "
                       "own: client=%s id=%s", LOG_VALUE(from->name),
                       LOG_VALUE(from->name), LOG_VALUE(msg->connection_id));
        bounce(from, msg, NULL,
               "connection id does not start with sender's name");
        from->ops->bad_message(from, "connection id not its own");
        return;
    }
    /* The rules first: a denial must read the same whether or not the
     * target is logged in, or it tells who is. */
    if (!plugins_authorize_syn(&b->plugins, from->name, msg)) {
        if (client_log_allowed(b, from))
            log_notice("Syn from %s to %s refused by an authenticator: "
                       "client=%s to=%s", LOG_VALUE(from->name),
                       LOG_VALUE(msg->other_client), LOG_VALUE(from->name),
                       LOG_VALUE(msg->other_client));
        refuse_syn(from, msg, "not authorized");
        return;
    }
    to = find_client(b, msg->other_client, msg->other_client_len);
    /* Not logged in here: perhaps on another broker of the cluster (the
     * remote endpoint finds out, and refuses it if not). */
    if (to == NULL && b->cluster != NULL)
        to = cluster_remote_target(b->cluster, msg->other_client,
                                   msg->other_client_len);
    if (to == NULL) {
        bounce(from, msg, NULL, "no such client");
        return;
    }
    if (over_connection_limit(from, to)) {
        refuse_syn(from, msg, "too many connections");
        return;
    }
    conn = conn_table_add(b->conns, msg->connection_id,
                          msg->connection_id_len, &from->conns, &to->conns,
                          &exists);
    if (conn == NULL) {
        if (exists)
            router_answer_wat(from, msg, "connection id already in use");
        else
            bounce(from, msg, NULL, "connection id too long");
        return;
    }
    b->stats.connections_opened++;
    credit_open(conn, b->conf.connection_window);
    deliver(to, from, msg, NULL);
}

/* ------------------------------------------------------------------------
 * Everything else on a connection: Data, Ack, Closed and refusals
 */

/* The endpoint at the other end of `conn` from `from`, if it is the one
 * the message is addressed to. */
static struct endpoint *addressed_peer(const struct conn *conn,
                                       struct endpoint *from,
                                       const struct mp_message *msg)
{
    struct conn_peer *other = conn_other_end(conn, &from->conns);
    struct endpoint *to;

    if (other == NULL)
        return NULL;
    to = endpoint_of_peer(other);
    if (to->name_len != msg->other_client_len ||
        memcmp(to->name, msg->other_client, to->name_len) != 0)
        return NULL;
    return to;
}

static enum route_result handle_conn_message(struct endpoint *from,
                                             struct mp_message *msg,
                                             const struct wire_data *wire,
                                             const struct conn_rule *rule)
{
    struct broker *b = from->broker;
    struct conn *conn = conn_table_find(b->conns, msg->connection_id,
                                        msg->connection_id_len);
    struct endpoint *to = conn ? addressed_peer(conn, from, msg) : NULL;

    if (to == NULL || !(rule->states & CONN_BIT(conn->state)) ||
        (rule->target_only && conn->target != &from->conns)) {
        if (rule->answer_unknown)
            bounce(from, msg, wire, "no such connection");
        else
            log_debug("dropping stray %s from %s (connection %s)",
                      mp_meta_name(msg->meta), from->name,
                      msg->connection_id);
        return ROUTED;
    }
    if (msg->meta == MP_META_DATA && !credit_available(conn, from) &&
        from->is_client && from->level >= 2) {
        b->stats.credit_refusals++;
        router_answer_wat(from, msg,
                          "data beyond the connection's credit");
        return ROUTED;
    }
    if (wire != NULL && to->format != wire->format && !can_decode_wire(wire))
        return ROUTE_NEEDS_DATA; /* nothing done yet */
    if (rule->opens)
        conn->state = CONN_OPEN;
    if (rule->ends)
        conn_table_remove(b->conns, conn);
    deliver(to, from, msg, wire);
    if (msg->meta == MP_META_DATA)
        credit_spend(conn, from, to, wire != NULL ? wire->data_len
                                                  : msg->data_len);
    return ROUTED;
}

/* Credit (level 2) from `from`, the receiving end of a connection: for
 * its sender. A stray one (the connection ended meanwhile) is dropped. */
static void handle_credit(struct endpoint *from, struct mp_message *msg)
{
    struct broker *b = from->broker;
    struct conn *conn = conn_table_find(b->conns, msg->connection_id,
                                        msg->connection_id_len);
    struct endpoint *to = conn ? addressed_peer(conn, from, msg) : NULL;
    uint32_t bytes;

    if (!msg->has_data || !credit_parse(msg->data, msg->data_len, &bytes)) {
        router_answer_wat(from, msg, "malformed credit");
        return;
    }
    if (to == NULL) {
        log_debug("dropping stray Credit from %s (connection %s)",
                  from->name, msg->connection_id);
        return;
    }
    if (!credit_grant(conn, from, bytes))
        router_answer_wat(from, msg, "credit overflow");
}

/* ------------------------------------------------------------------------
 * The entry point
 */

enum route_result route(struct endpoint *from, struct mp_message *msg,
                        const struct wire_data *wire)
{
    const struct conn_rule *rule = conn_rule_of(msg->meta);

    /* A level means something only at Auth (login.c). Elsewhere it is
     * dropped, never forwarded or bounced: the broker never sends one. */
    msg->level = 0;
    /* Level 2's meta values from a client that did not announce it are
     * unknown to it, as at level 1. */
    if (msg->meta > MP_META_LEVEL1_MAX && from->level < 2)
        rule = NULL;
    if (rule != NULL)
        return handle_conn_message(from, msg, wire, rule);
    /* What follows reads the data (a Syn's, for authorize_syn). */
    if (wire != NULL) {
        if (!can_decode_wire(wire) || decode_wire_data(wire, msg) != 0)
            return ROUTE_NEEDS_DATA;
        wire = NULL;
    }
    if (msg->meta == MP_META_CONN_SYN) {
        handle_syn(from, msg);
        return ROUTED;
    }
    if (from->level >= 2) {
        switch (msg->meta) {
        case MP_META_CREDIT:
            handle_credit(from, msg);
            return ROUTED;
        case MP_META_WATCH:
        case MP_META_UNWATCH:
        case MP_META_LIST:
            presence_request(from, msg);
            return ROUTED;
        default:
            break;
        }
    }
    /* Auth again, a broker-only meta, or one this broker does not know. */
    router_answer_wat(from, msg, msg->meta == MP_META_AUTH
                                     ? "already authenticated"
                                     : "unexpected message type from a client");
    return ROUTED;
}
