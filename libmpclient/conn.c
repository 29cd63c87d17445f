/*
 * conn.c - libmpclient's connections: the client's table of them (a
 * <sys/queue.h> list, newest first, and a map by id), opening, accepting
 * through handlers (handlers.c), messages, closing, and what the broker
 * tells about them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"
#include "hashmap.h"
#include "message.h"
#include "name.h"

/* ------------------------------------------------------------------------
 * The connection list
 */

struct mp_conn *conn_new(struct mp_client *c, const char *id, size_t id_len,
                         const char *peer, size_t peer_len,
                         const void *protocol, size_t protocol_len,
                         enum client_conn_state state)
{
    struct mp_conn *conn;

    if (id_len > MP_NAME_MAX || peer_len > MP_NAME_MAX)
        return NULL;
    conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        return NULL;
    conn->protocol = malloc(protocol_len + 1);
    if (conn->protocol == NULL) {
        free(conn);
        return NULL;
    }
    if (protocol_len > 0)
        memcpy(conn->protocol, protocol, protocol_len);
    conn->protocol[protocol_len] = '\0';
    memcpy(conn->id, id, id_len);
    conn->id_len = id_len;
    memcpy(conn->peer, peer, peer_len);
    conn->peer_len = peer_len;
    conn->state = state;
    conn->client = c;
    conn->serial = ++c->next_conn_serial;
    credit_init(conn);
    if (hashmap_put(c->conns_by_id, conn->id, conn->id_len, conn) != 0) {
        free(conn->protocol);
        free(conn);
        return NULL;
    }
    LIST_INSERT_HEAD(&c->conns, conn, entry);
    return conn;
}

struct mp_conn *conn_find(const struct mp_client *c, const char *id,
                          size_t id_len)
{
    return hashmap_get(c->conns_by_id, id, id_len);
}

static void conn_unlink(struct mp_conn *conn)
{
    struct mp_client *c = conn->client;

    outq_forget_conn(c, conn);
    if (conn->incoming)
        c->incoming_conns--;
    conn->incoming = false;
    hashmap_remove(c->conns_by_id, conn->id, conn->id_len);
    LIST_REMOVE(conn, entry);
}

void conn_destroy(struct mp_conn *conn)
{
    conn_unlink(conn);
    free(conn->protocol);
    free(conn);
}

void conn_end(struct mp_conn *conn, int close_reason, int open_error)
{
    /* Unlinked first, so the callback sees a client without this
     * connection and may open or close others freely. */
    conn_unlink(conn);
    conn->ending = true;
    if (conn->state == CLIENT_CONN_OPENING) {
        if (conn->open_cb != NULL)
            conn->open_cb(NULL, open_error, conn->open_arg);
    } else if (conn->on_close != NULL) {
        conn->on_close(conn, close_reason, conn->arg);
    }
    free(conn->protocol);
    free(conn);
}

static bool same_peer(const struct mp_conn *conn, const char *peer,
                      size_t peer_len)
{
    return conn->peer_len == peer_len &&
           memcmp(conn->peer, peer, peer_len) == 0;
}

void conns_end_all(struct mp_client *c, const char *peer, size_t peer_len,
                   int close_reason, int open_error)
{
    /* A callback may close or open connections: restart from the head
     * after each one instead of holding a pointer into the list. */
    for (;;) {
        struct mp_conn *conn;
        LIST_FOREACH(conn, &c->conns, entry) {
            if (peer == NULL || same_peer(conn, peer, peer_len))
                break;
        }
        if (conn == NULL)
            return;
        conn_end(conn, close_reason, open_error);
    }
}

void conns_close_all(struct mp_client *c)
{
    /* Closed here, a connection gets no on_close: a request waiting on
     * one must hear it first. */
    requests_end_all(c, MP_ERR_CLOSED);
    while (!LIST_EMPTY(&c->conns)) {
        struct mp_conn *conn = LIST_FIRST(&c->conns);
        if (conn->state == CLIENT_CONN_OPENING) {
            /* Withdraw the Syn, then tell whoever waits for it. */
            send_message(c, NULL, MP_META_CONN_CLOSED, conn->peer,
                         conn->peer_len, conn->id, conn->id_len, NULL, 0,
                         false, NULL, NULL);
            conn_end(conn, MP_CLOSE_CLIENT_FREED, MP_ERR_CLOSED);
        } else {
            mp_conn_close(conn);
        }
    }
}

/* ------------------------------------------------------------------------
 * What the broker sends
 */

static void send_reply(struct mp_client *c, enum mp_meta meta,
                       const struct mp_message *msg)
{
    send_message(c, NULL, meta, msg->other_client, msg->other_client_len,
                 msg->connection_id, msg->connection_id_len, NULL, 0, false,
                 NULL, NULL);
}

/* Refuse a Syn past max_incoming_conns: at level 2 with Denied, which
 * says why (the broker hands a level-1 initiator UnknownProto); at level
 * 1 with UnknownProto, as for a protocol without a handler. */
static void refuse_syn_over_limit(struct mp_client *c,
                                  const struct mp_message *msg)
{
    static const char why[] = "too many connections";

    if (c->level < 2) {
        send_reply(c, MP_META_UNKNOWN_PROTO, msg);
        return;
    }
    send_message(c, NULL, MP_META_DENIED, msg->other_client,
                 msg->other_client_len, msg->connection_id,
                 msg->connection_id_len, why, sizeof why - 1, true, NULL,
                 NULL);
}

/* A peer opens a connection: accept it through the protocol's handler,
 * or refuse it as the original MappedConnectionHandler did. */
void conn_handle_syn(struct mp_client *c, struct mp_message *msg)
{
    const struct handler *h =
        handler_find(c, msg->data, msg->data_len);
    struct mp_conn *conn;

    if (h == NULL ||
        conn_find(c, msg->connection_id, msg->connection_id_len) != NULL) {
        send_reply(c, MP_META_UNKNOWN_PROTO, msg);
        return;
    }
    /* A broker opening connection after connection cannot take our
     * memory. */
    if (c->incoming_conns >= c->max_incoming_conns) {
        refuse_syn_over_limit(c, msg);
        return;
    }
    conn = conn_new(c, msg->connection_id, msg->connection_id_len,
                    msg->other_client, msg->other_client_len, msg->data,
                    msg->data_len, CLIENT_CONN_OPEN);
    if (conn == NULL) {
        send_reply(c, MP_META_UNKNOWN_PROTO, msg);
        return;
    }
    conn->incoming = true;
    conn->on_request = h->on_request;
    c->incoming_conns++;
    send_reply(c, MP_META_CONN_ACK, msg);
    credit_opened(conn);
    h->on_connection(conn, h->arg);
}

static void handle_ack(struct mp_conn *conn)
{
    mp_open_cb cb = conn->open_cb;

    conn->state = CLIENT_CONN_OPEN;
    conn->open_cb = NULL;
    if (cb != NULL)
        cb(conn, MP_OK, conn->open_arg);
}

void conn_handle_client_closed(struct mp_client *c, struct mp_message *msg)
{
    conns_end_all(c, msg->other_client, msg->other_client_len,
                  MP_CLOSE_PEER_LEFT, MP_ERR_PEER_LEFT);
}

/* A message for the application; at level 2 its cost is granted back
 * once the callback returned, if that makes half a window. */
static void deliver(struct mp_client *c, struct mp_conn *conn,
                    const struct mp_message *msg)
{
    unsigned long long serial = conn->serial;
    long long due = credit_consume(conn, msg->data_len);

    if (conn->on_message != NULL)
        conn->on_message(conn, msg->data ? msg->data : (const void *)"",
                         msg->data_len, conn->arg);
    /* The callback may have closed conn (freed), and even opened another
     * under its id: only the same connection grants. */
    conn = conn_find(c, msg->connection_id, msg->connection_id_len);
    if (due > 0 && conn != NULL && conn->serial == serial && !conn->ending)
        credit_grant_due(conn, due);
}

/* Denied (level 2): the broker or the peer refused our Syn, and said
 * why; the reason is the application's during the open callback. */
static void handle_denied(struct mp_client *c, struct mp_conn *conn,
                          const struct mp_message *msg)
{
    char reason[MP_NAME_MAX + 1];

    if (conn->state != CLIENT_CONN_OPENING)
        return;
    client_printable(reason, sizeof reason, msg);
    c->open_reason = reason;
    conn_end(conn, MP_CLOSE_BY_PEER, MP_ERR_DENIED);
    c->open_reason = NULL;
}

/* WAT about a connection of ours. The one the library must act on is
 * "data beyond the connection's credit": the broker dropped a Data of
 * ours, which a correct count never causes. The stream now has a gap,
 * which the application must hear of: the connection is closed (the
 * peer is told) with MP_CLOSE_DATA_DROPPED. Other WATs change nothing. */
static void handle_wat(struct mp_conn *conn, const struct mp_message *msg)
{
    static const char beyond[] = "data beyond the connection's credit";

    if (conn->state != CLIENT_CONN_OPEN || msg->data_len != sizeof beyond - 1 ||
        memcmp(msg->data, beyond, sizeof beyond - 1) != 0)
        return;
    send_message(conn->client, NULL, MP_META_CONN_CLOSED, conn->peer,
                 conn->peer_len, conn->id, conn->id_len, NULL, 0, false, NULL,
                 NULL);
    conn_end(conn, MP_CLOSE_DATA_DROPPED, MP_ERR_CLOSED);
}

void conn_handle_message(struct mp_client *c, struct mp_message *msg)
{
    struct mp_conn *conn;

    conn = conn_find(c, msg->connection_id, msg->connection_id_len);
    /* Late messages for a connection we closed, and anything that does not
     * come from the connection's peer, are ignored. */
    if (conn == NULL ||
        !same_peer(conn, msg->other_client, msg->other_client_len))
        return;
    switch (msg->meta) {
    case MP_META_DATA:
        if (conn->state == CLIENT_CONN_OPEN)
            deliver(c, conn, msg);
        break;
    case MP_META_CREDIT:
        credit_received(conn, msg);
        break;
    case MP_META_DENIED:
        if (c->level >= 2)
            handle_denied(c, conn, msg);
        break;
    case MP_META_WAT:
        if (c->level >= 2)
            handle_wat(conn, msg);
        break;
    case MP_META_CONN_ACK:
        if (conn->state == CLIENT_CONN_OPENING)
            handle_ack(conn);
        break;
    case MP_META_UNKNOWN_PROTO:
        conn_end(conn, MP_CLOSE_BY_PEER, MP_ERR_UNKNOWN_PROTOCOL);
        break;
    case MP_META_NO_SUCH_CONNECTION:
        conn_end(conn, MP_CLOSE_BY_PEER, MP_ERR_NO_SUCH_CLIENT);
        break;
    case MP_META_CONN_CLOSED:
        conn_end(conn, MP_CLOSE_BY_PEER, MP_ERR_CLOSED);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------
 * Public API
 */

int conn_next_id(const struct mp_client *c, char *id, size_t size)
{
    /* As the original client: "<name>:<lowercase hex counter>". */
    int id_len = snprintf(id, size, "%s:%lx", c->name, c->next_conn);

    return id_len < 0 || (size_t)id_len > MP_NAME_MAX || (size_t)id_len >= size
               ? -1
               : id_len;
}

int mp_client_open(struct mp_client *c, const char *peer,
                   const char *protocol, mp_open_cb cb, void *arg)
{
    char id[MP_NAME_MAX + 1];
    int id_len;
    struct mp_conn *conn;
    int rc;

    if (c == NULL || peer == NULL || protocol == NULL)
        return MP_ERR_INVALID;
    if (mp_name_check(peer, strlen(peer)) != NULL)
        return MP_ERR_NAME;
    /* Both ends of a connection to oneself would share one id, and the
     * two directions could not be told apart. */
    if (strcmp(peer, c->name) == 0)
        return MP_ERR_SELF;
    if (c->state != CLIENT_READY)
        return reconnect_state_error(c);
    id_len = conn_next_id(c, id, sizeof id);
    if (id_len < 0)
        return MP_ERR_INVALID;
    conn = conn_new(c, id, (size_t)id_len, peer, strlen(peer), protocol,
                    strlen(protocol), CLIENT_CONN_OPENING);
    if (conn == NULL)
        return MP_ERR_NOMEM;
    rc = send_message(c, conn, MP_META_CONN_SYN, peer, strlen(peer), id,
                      (size_t)id_len, protocol, strlen(protocol), true, NULL,
                      NULL);
    if (rc != MP_OK) {
        conn_destroy(conn);
        return rc;
    }
    c->next_conn++;
    conn->open_cb = cb;
    conn->open_arg = arg;
    credit_opened(conn);
    return MP_OK;
}

void mp_conn_set_callbacks(struct mp_conn *conn, mp_message_cb on_message,
                           mp_close_cb on_close, void *arg)
{
    conn->on_message = on_message;
    conn->on_close = on_close;
    conn->arg = arg;
}

int mp_conn_send(struct mp_conn *conn, const void *data, size_t len)
{
    if (conn == NULL || (data == NULL && len > 0))
        return MP_ERR_INVALID;
    if (conn->ending)
        return MP_ERR_CLOSED;
    return send_message(conn->client, conn, MP_META_DATA, conn->peer,
                        conn->peer_len, conn->id, conn->id_len, data, len,
                        true, NULL, NULL);
}

int mp_conn_send_take(struct mp_conn *conn, void *data, size_t len,
                      void (*free_fn)(void *data, size_t len, void *arg),
                      void *free_arg)
{
    if (conn == NULL || (data == NULL && len > 0) || conn->ending) {
        if (free_fn != NULL)
            free_fn(data, len, free_arg);
        return conn != NULL && conn->ending ? MP_ERR_CLOSED : MP_ERR_INVALID;
    }
    return send_message(conn->client, conn, MP_META_DATA, conn->peer,
                        conn->peer_len, conn->id, conn->id_len, data, len,
                        true, free_fn, free_arg);
}

void mp_conn_close(struct mp_conn *conn)
{
    /* From inside its own on_close the connection is already over. */
    if (conn == NULL || conn->ending)
        return;
    send_message(conn->client, NULL, MP_META_CONN_CLOSED, conn->peer,
                 conn->peer_len, conn->id, conn->id_len, NULL, 0, false, NULL,
                 NULL);
    conn_destroy(conn);
}

const char *mp_client_open_reason(const struct mp_client *c)
{
    return c != NULL && c->open_reason != NULL ? c->open_reason : "";
}

const char *mp_conn_peer(const struct mp_conn *conn)
{
    return conn->peer;
}

const char *mp_conn_protocol(const struct mp_conn *conn)
{
    return conn->protocol;
}

const char *mp_conn_id(const struct mp_conn *conn)
{
    return conn->id;
}

struct mp_client *mp_conn_client(const struct mp_conn *conn)
{
    return conn->client;
}
