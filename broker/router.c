/*
 * router.c - names and the connection table: which messages travel
 * between which clients (doc/protocol.md, "Broker behaviour").
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "broker.h"
#include "conn_table.h"
#include "hashmap.h"
#include "log.h"
#include "message.h"
#include "name.h"
#include "router.h"
#include "session.h"

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
};

static struct session *session_of_peer(struct conn_peer *peer)
{
    return (struct session *)(void *)((char *)peer -
                                      offsetof(struct session, conns));
}

static struct session *find_client(const struct broker *b, const char *name,
                                   size_t len)
{
    return hashmap_get(b->names, name, len);
}

/* ------------------------------------------------------------------------
 * Names
 */

int router_register(struct session *s, const char **reason)
{
    struct broker *b = s->broker;
    struct session *old = find_client(b, s->name, s->name_len);

    if (old != NULL) {
        if (b->conf.duplicate_names == DUPLICATE_REJECT) {
            *reason = "name already in use";
            return -1;
        }
        log_notice("client %s logged in again: closing the older session: "
                   "client=%s peer=%s older_peer=%s", LOG_VALUE(s->name),
                   LOG_VALUE(s->name), s->peer, old->peer);
        session_close(old, "replaced by a newer login");
    }
    if (hashmap_put(b->names, s->name, s->name_len, s) != 0) {
        *reason = "out of memory";
        return -1;
    }
    s->registered = true;
    return 0;
}

static void tell_client_closed(struct conn_peer *other, void *arg)
{
    struct session *departed = arg;
    struct session *peer = session_of_peer(other);

    /* One ClientClosed per peer, however many connections it shared. */
    if (peer == departed ||
        peer->notified == departed->broker->notify_generation)
        return;
    peer->notified = departed->broker->notify_generation;
    session_send_notice(peer, MP_META_CLIENT_CLOSED, departed->name, "", 0,
                        NULL);
}

void router_unregister(struct session *s, bool notify)
{
    struct broker *b = s->broker;

    if (!s->registered)
        return;
    hashmap_remove(b->names, s->name, s->name_len);
    s->registered = false;
    b->notify_generation++;
    conn_table_remove_peer(b->conns, &s->conns,
                           notify ? tell_client_closed : NULL, s);
}

/* ------------------------------------------------------------------------
 * Delivery
 */

/* Hand msg to `to` as coming from `from`. */
static void deliver(struct session *to, const struct session *from,
                    struct mp_message *msg)
{
    mp_message_set_other_client(msg, from->name, from->name_len);
    session_send(to, msg);
}

/* Send msg back to its sender as NoSuchConnection, otherwise intact (the
 * original broker's bounce for an absent client). */
static void bounce(struct session *from, struct mp_message *msg,
                   const char *why)
{
    log_debug("bouncing %s from %s to %s (connection %s): %s",
              mp_meta_name(msg->meta), from->name, msg->other_client,
              msg->connection_id, why);
    msg->meta = MP_META_NO_SUCH_CONNECTION;
    from->broker->stats.bounced++;
    session_send(from, msg);
}

static void answer_wat(struct session *from, const struct mp_message *msg,
                       const char *why)
{
    if (client_log_allowed(from->broker, from))
        log_notice("WAT to %s: client=%s peer=%s reason=%s",
                   LOG_VALUE(from->name), LOG_VALUE(from->name), from->peer,
                   LOG_VALUE(why));
    session_send_notice(from, MP_META_WAT, msg->other_client,
                        msg->connection_id, msg->connection_id_len, why);
    session_bad_message(from, why);
}

/* May `from` open this connection to the client named in the Syn,
 * whether or not it is logged in? Asks the plugins that authorize (see
 * plugins_authorize_syn); a DENY refuses it as an unknown protocol. */
static bool syn_authorized(const struct session *from,
                           const struct mp_message *msg)
{
    return plugins_authorize_syn(&from->broker->plugins, from->name,
                                 msg->other_client, msg->data, msg->data_len);
}

/* A refused Syn reaches its initiator as the target's refusal would: an
 * UnknownProto from the target, without data. */
static void refuse_syn(struct session *from, struct mp_message *msg)
{
    msg->meta = MP_META_UNKNOWN_PROTO;
    mp_message_clear_data(msg);
    session_send(from, msg);
}

/* Connections between `a` and `b`, counted on the shorter list. */
static size_t connections_between(const struct session *a,
                                  const struct session *b)
{
    const struct conn_peer *mine = a->conns.count <= b->conns.count
                                       ? &a->conns : &b->conns;
    const struct conn_peer *theirs = mine == &a->conns ? &b->conns : &a->conns;
    size_t n = 0;

    for (const struct conn_link *l = mine->first; l != NULL; l = l->next) {
        if (conn_other_end(l->conn, mine) == theirs)
            n++;
    }
    return n;
}

/* limits.max_connections_per_client: entries in the connection table,
 * pending Syns included, for either end; and max_connections_per_pair
 * between these two, so that one peer cannot take all of a server's. */
static bool over_connection_limit(struct session *from,
                                  const struct session *to)
{
    struct broker *b = from->broker;
    size_t max = b->conf.max_connections_per_client;
    const struct session *full = from->conns.count >= max ? from
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

static void handle_syn(struct session *from, struct mp_message *msg)
{
    struct broker *b = from->broker;
    struct session *to;
    bool exists = false;

    if (!mp_connection_id_is_from(msg->connection_id, msg->connection_id_len,
                                  from->name, from->name_len)) {
        if (client_log_allowed(b, from))
            log_notice("client %s sent a Syn with a connection id not its "
                       "own: client=%s id=%s", LOG_VALUE(from->name),
                       LOG_VALUE(from->name), LOG_VALUE(msg->connection_id));
        bounce(from, msg, "connection id does not start with sender's name");
        session_bad_message(from, "connection id not its own");
        return;
    }
    /* The rules first: a denial must read the same whether or not the
     * target is logged in, or it tells who is. */
    if (!syn_authorized(from, msg)) {
        if (client_log_allowed(b, from))
            log_notice("Syn from %s to %s refused by an authenticator: "
                       "client=%s to=%s", LOG_VALUE(from->name),
                       LOG_VALUE(msg->other_client), LOG_VALUE(from->name),
                       LOG_VALUE(msg->other_client));
        refuse_syn(from, msg);
        return;
    }
    to = find_client(b, msg->other_client, msg->other_client_len);
    if (to == NULL || to->state != SESSION_READY) {
        bounce(from, msg, "no such client");
        return;
    }
    if (over_connection_limit(from, to)) {
        refuse_syn(from, msg);
        return;
    }
    if (conn_table_add(b->conns, msg->connection_id, msg->connection_id_len,
                       &from->conns, &to->conns, &exists) == NULL) {
        if (exists)
            answer_wat(from, msg, "connection id already in use");
        else
            bounce(from, msg, "out of memory");
        return;
    }
    b->stats.connections_opened++;
    deliver(to, from, msg);
}

/* The session at the other end of `conn` from `from`, if it is the one
 * the message is addressed to. */
static struct session *addressed_peer(const struct conn *conn,
                                      struct session *from,
                                      const struct mp_message *msg)
{
    struct conn_peer *other = conn_other_end(conn, &from->conns);
    struct session *to;

    if (other == NULL)
        return NULL;
    to = session_of_peer(other);
    if (to->name_len != msg->other_client_len ||
        memcmp(to->name, msg->other_client, to->name_len) != 0)
        return NULL;
    return to;
}

static void handle_conn_message(struct session *from, struct mp_message *msg,
                                const struct conn_rule *rule)
{
    struct broker *b = from->broker;
    struct conn *conn = conn_table_find(b->conns, msg->connection_id,
                                        msg->connection_id_len);
    struct session *to = conn ? addressed_peer(conn, from, msg) : NULL;

    if (to == NULL || !(rule->states & CONN_BIT(conn->state)) ||
        (rule->target_only && conn->target != &from->conns)) {
        if (rule->answer_unknown)
            bounce(from, msg, "no such connection");
        else
            log_debug("dropping stray %s from %s (connection %s)",
                      mp_meta_name(msg->meta), from->name,
                      msg->connection_id);
        return;
    }
    if (rule->opens)
        conn->state = CONN_OPEN;
    if (rule->ends)
        conn_table_remove(b->conns, conn);
    deliver(to, from, msg);
}

bool router_forward_wire(struct session *from, struct mp_message *msg,
                         const unsigned char *wire, size_t wire_len)
{
    struct conn *conn;
    struct session *to;

    if (msg->meta != MP_META_DATA)
        return false;
    conn = conn_table_find(from->broker->conns, msg->connection_id,
                           msg->connection_id_len);
    to = conn != NULL ? addressed_peer(conn, from, msg) : NULL;
    /* The checks of handle_conn_message() for Data (conn_rules). */
    if (to == NULL || !(conn_rules[MP_META_DATA].states & CONN_BIT(conn->state)) ||
        to->translator != from->translator)
        return false;
    msg->level = 0;
    mp_message_set_other_client(msg, from->name, from->name_len);
    session_send_wire(to, msg, wire, wire_len);
    return true;
}

void router_handle(struct session *from, struct mp_message *msg)
{
    /* A level means something only at Auth (session.c). Elsewhere it is
     * dropped, never forwarded or bounced: the broker never sends one. */
    msg->level = 0;
    if (msg->meta == MP_META_CONN_SYN) {
        handle_syn(from, msg);
        return;
    }
    if (msg->meta < sizeof conn_rules / sizeof conn_rules[0] &&
        conn_rules[msg->meta].states != 0) {
        handle_conn_message(from, msg, &conn_rules[msg->meta]);
        return;
    }
    /* Auth again, a broker-only meta, or one this broker does not know. */
    answer_wat(from, msg, msg->meta == MP_META_AUTH
                              ? "already authenticated"
                              : "unexpected message type from a client");
}
