/*
 * remote.c - a client of another broker as an endpoint here (struct
 * remote, cluster-internal.h): what it is sent, its credit, its life
 * (doc/cluster.md, "Sequences"). What its broker sends us is
 * remote_input.c's.
 *
 * The router treats a remote like a local session: it is the other end
 * of connections, it is delivered to, it is paused. Delivering to it
 * sends a FORWARD on the link to its broker; a FORWARD from that broker
 * is routed as the remote's own message. So the connection rules,
 * limits and authorization stay in router.c, applied on both brokers.
 *
 * Credit (credit.h) is the same end to end: the router counts it here
 * as for a local connection, and a remote end's grants come from its
 * broker as CREDIT frames (remote_input.c). What a local receiver grants
 * a remote sender (its Credit messages, or the router's grants for a
 * level-1 receiver) goes back as CREDIT frames, held while the remote is
 * paused (a full level-1 reader: flow.c) until it drains. So one slow
 * reader holds back only those who write to it, never the link.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "broker.h"
#include "cluster-internal.h"
#include "conn_table.h"
#include "flow.h"
#include "hashmap.h"
#include "log.h"
#include "message.h"
#include "router.h"
#include "xalloc.h"

static const struct endpoint_ops remote_ops;

struct remote *remote_of(struct endpoint *ep)
{
    return (struct remote *)((char *)ep - offsetof(struct remote, ep));
}

bool remote_is(const struct endpoint *ep)
{
    return ep != NULL && ep->ops == &remote_ops;
}

struct remote *remote_find(struct cluster *c, const char *name, size_t len)
{
    return hashmap_get(c->remotes, name, len);
}

struct endpoint *cluster_find_local(struct cluster *c, const char *name,
                                    size_t len)
{
    return hashmap_get(c->broker->names, name, len);
}

struct remote *remote_new(struct cluster *c, const char *name, size_t len)
{
    struct remote *r = mp_xcalloc(1, sizeof *r);

    endpoint_init(&r->ep, &remote_ops, c->broker, "another broker");
    endpoint_set_name(&r->ep, name, len);
    /* Its broker speaks for its client (and converts for a level-1
     * one); it is no client of ours to police (is_client false). */
    r->ep.level = MP_PROTOCOL_LEVEL;
    r->ep.format = c->link_format;
    r->cluster = c;
    TAILQ_INIT(&r->pending);
    TAILQ_INSERT_TAIL(&c->all, r, entry);
    mp_xhashmap_put(c->remotes, r->ep.name, r->ep.name_len, r);
    return r;
}

/* r's broker is known: messages go to its session `session` there. */
void remote_set_ready(struct remote *r, struct link_peer *peer,
                      uint64_t session)
{
    r->state = REMOTE_READY;
    r->peer = peer;
    r->ep.id = session;
    snprintf(r->ep.peer, sizeof r->ep.peer, "broker %s", link_peer_id(peer));
}

/* ------------------------------------------------------------------------
 * Sending: FORWARD on the link
 */

static int forward(struct remote *r, const struct mp_message *msg,
                   const unsigned char *data, size_t len,
                   uint64_t from_session)
{
    struct cluster *c = r->cluster;
    struct link_frame f = {.type = LINK_FORWARD};

    f.u.forward.meta = msg->meta;
    f.u.forward.flags = msg->has_data ? LINK_FORWARD_HAS_DATA : 0;
    f.u.forward.from_session = from_session;
    f.u.forward.to_session = r->ep.id;
    f.u.forward.from = (struct link_str){msg->other_client,
                                         msg->other_client_len};
    f.u.forward.to = (struct link_str){r->ep.name, r->ep.name_len};
    f.u.forward.connection_id = (struct link_str){msg->connection_id,
                                                  msg->connection_id_len};
    f.u.forward.data = data;
    f.u.forward.data_len = msg->has_data ? len : 0;
    if (link_send(r->peer, &f) != 0)
        return -1;
    c->stats.forwarded_out++;
    c->stats.bytes_out += f.u.forward.data_len;
    return 0;
}

/* A Data message from `sender` went out on the link: many connections'
 * windows together could still fill its queue. */
static void watch_link_queue(struct remote *r, struct endpoint *sender)
{
    const struct broker_conf *conf = &r->cluster->broker->conf;

    if (link_peer_queued(r->peer) > conf->output_hard_limit) {
        flow_pause(sender, &r->ep);
        link_peer_watch_drain(r->peer, conf->output_low_water);
    }
}

/* What a message waiting for the look-up needs: a copy. */
static void queue_pending(struct remote *r, const struct mp_message *msg,
                          const struct wire_data *wire,
                          struct endpoint *sender)
{
    struct remote_pending *p = mp_xcalloc(1, sizeof *p);

    p->msg = mp_xmalloc(sizeof *p->msg);
    mp_copy(p->msg, msg, sizeof *msg);
    p->msg->data = NULL;
    p->msg->has_data = false;
    p->msg->data_len = 0;
    if (msg->has_data &&
        mp_message_set_data(p->msg, wire ? wire->bytes : msg->data,
                            wire ? wire->len : msg->data_len) != 0)
        mp_out_of_memory("a message waiting for a look-up", msg->data_len);
    p->from_session = sender != NULL && !remote_is(sender) ? sender->id : 0;
    TAILQ_INSERT_TAIL(&r->pending, p, entry);
}

static int remote_deliver(struct endpoint *to, const struct mp_message *msg,
                          const struct wire_data *wire,
                          struct endpoint *sender)
{
    struct remote *r = remote_of(to);
    const unsigned char *data = wire ? wire->bytes : msg->data;
    size_t len = wire ? wire->len : msg->data_len;
    bool local_sender = sender != NULL && !remote_is(sender);

    if (r->ep.closing)
        return -1;
    if (r->state == REMOTE_RESOLVING) {
        queue_pending(r, msg, wire, sender);
        return 0;
    }
    if (forward(r, msg, data, len, local_sender ? sender->id : 0) != 0)
        return -1;
    if (msg->meta == MP_META_DATA && local_sender)
        watch_link_queue(r, sender);
    return 0;
}

void remote_queue_grant(struct cluster *c, struct conn *conn)
{
    if (conn->grant_queued)
        return;
    conn->grant_queued = true;
    LIST_INSERT_HEAD(&c->to_grant, conn, grant);
    event_active(c->granter, 0, 0);
}

/* flow.c: a local reader that r's Data filled drained again (or is
 * full): grant, or hold, the credit of r's connections. */
static void remote_set_reading(struct endpoint *ep, bool reading)
{
    struct remote *r = remote_of(ep);
    struct conn_link *l;

    r->paused = !reading;
    if (!reading)
        return;
    LIST_FOREACH(l, &r->ep.conns.links, entry) {
        if (l->conn->link_owed > 0)
            remote_queue_grant(r->cluster, l->conn);
    }
}

/* A local receiver granted credit for what r sends on conn: a CREDIT
 * frame to r's broker (remotes_grant, batched per turn of the loop). */
static void remote_credit(struct endpoint *ep, struct conn *conn,
                          const struct endpoint *receiver, uint64_t bytes)
{
    struct remote *r = remote_of(ep);

    (void)receiver;
    conn->link_owed += bytes;
    remote_queue_grant(r->cluster, conn);
}

/* The end of `conn` that is a remote, or NULL. */
struct remote *remote_end(const struct conn *conn)
{
    if (remote_is(conn->target->owner))
        return remote_of(conn->target->owner);
    if (remote_is(conn->initiator->owner))
        return remote_of(conn->initiator->owner);
    return NULL;
}

void remotes_grant(struct cluster *c)
{
    while (!LIST_EMPTY(&c->to_grant)) {
        struct conn *conn = LIST_FIRST(&c->to_grant);
        struct remote *r = remote_end(conn);
        struct link_frame f = {.type = LINK_CREDIT};

        LIST_REMOVE(conn, grant);
        conn->grant_queued = false;
        if (r == NULL || r->paused || r->state != REMOTE_READY)
            continue;
        /* A grant is a u32; a larger debt goes out in the next turn. */
        f.u.credit.bytes = conn->link_owed > MP_CREDIT_MAX
                               ? MP_CREDIT_MAX : (uint32_t)conn->link_owed;
        f.u.credit.connection_id = (struct link_str){conn->id, conn->id_len};
        conn->link_owed -= f.u.credit.bytes;
        link_send(r->peer, &f);
        if (conn->link_owed > 0)
            remote_queue_grant(c, conn);
    }
}

/* A remote never sends us anything a local client could: its broker
 * checked it. Nothing to count. */
static bool remote_bad_message(struct endpoint *ep, const char *why)
{
    (void)ep;
    (void)why;
    return false;
}

static void remote_close(struct endpoint *ep, const char *reason)
{
    (void)reason;
    remote_drop(remote_of(ep), true);
}

static const struct endpoint_ops remote_ops = {
    .deliver = remote_deliver,
    .set_reading = remote_set_reading,
    .bad_message = remote_bad_message,
    .close = remote_close,
    .credit = remote_credit,
};

/* ------------------------------------------------------------------------
 * Life: made, looked up, dropped, freed
 */

/* The initiators of r's pending Syns hear NoSuchConnection, as for a
 * name nobody has. */
static void fail_pending(struct remote *r)
{
    struct broker *b = r->cluster->broker;

    while (!TAILQ_EMPTY(&r->pending)) {
        struct remote_pending *p = TAILQ_FIRST(&r->pending);
        struct conn *conn = conn_table_find(b->conns, p->msg->connection_id,
                                            p->msg->connection_id_len);

        TAILQ_REMOVE(&r->pending, p, entry);
        if (p->msg->meta == MP_META_CONN_SYN && conn != NULL) {
            struct endpoint *from = endpoint_of_peer(conn->initiator);
            conn_table_remove(b->conns, conn);
            p->msg->meta = MP_META_NO_SUCH_CONNECTION;
            mp_message_set_other_client(p->msg, r->ep.name, r->ep.name_len);
            b->stats.bounced++;
            from->ops->deliver(from, p->msg, NULL, NULL);
        }
        mp_message_clear(p->msg);
        free(p->msg);
        free(p);
    }
}

void remote_send_pending(struct remote *r)
{
    while (!TAILQ_EMPTY(&r->pending)) {
        struct remote_pending *p = TAILQ_FIRST(&r->pending);

        TAILQ_REMOVE(&r->pending, p, entry);
        forward(r, p->msg, p->msg->data, p->msg->data_len, p->from_session);
        mp_message_clear(p->msg);
        free(p->msg);
        free(p);
    }
}

bool cluster_is_us(struct cluster *c, const char *broker_id)
{
    return strcmp(broker_id, registry_broker_id(c->registry)) == 0;
}

static void lookup_done(void *arg, enum registry_status status,
                        const struct registry_owner *owner)
{
    struct remote *r = arg;
    struct cluster *c = r->cluster;

    r->lookup = NULL;
    /* Owned by us in the registry but not logged in here: a session
     * that just left. Nobody to reach. */
    if (status != REGISTRY_OK || cluster_is_us(c, owner->broker_id)) {
        if (status != REGISTRY_NOT_FOUND && status != REGISTRY_OK)
            c->stats.lookups_failed++;
        fail_pending(r);
        remote_drop(r, false);
        return;
    }
    remote_set_ready(r, link_peer_get(c->links, owner->broker_id,
                                      owner->host, owner->port),
                     owner->session_id);
    remote_send_pending(r);
}

struct endpoint *cluster_remote_target(struct cluster *c, const char *name,
                                       size_t len)
{
    struct remote *r = remote_find(c, name, len);

    if (r != NULL)
        return &r->ep;
    r = remote_new(c, name, len);
    c->stats.lookups++;
    r->lookup = registry_lookup(c->registry, r->ep.name, lookup_done, r);
    return &r->ep;
}

static void forget(struct remote *r)
{
    struct cluster *c = r->cluster;

    if (remote_find(c, r->ep.name, r->ep.name_len) == r)
        hashmap_remove(c->remotes, r->ep.name, r->ep.name_len);
}

void remote_drop(struct remote *r, bool notify)
{
    if (r->ep.closing)
        return;
    r->ep.closing = true;
    forget(r);
    if (r->lookup != NULL) {
        registry_cancel(r->cluster->registry, r->lookup);
        r->lookup = NULL;
    }
    fail_pending(r);
    router_forget_connections(&r->ep, notify);
    flow_release(&r->ep);
}

void remote_free(struct remote *r)
{
    remote_drop(r, false);
    TAILQ_REMOVE(&r->cluster->all, r, entry);
    endpoint_clear(&r->ep);
    free(r);
}

/* How many sweeps (seconds) a remote without connections is kept: a
 * client that opens short connections to the same peer (request and
 * reply) looks it up once, not every time. A stale one costs one more
 * look-up (the far broker answers STALE). */
#define REMOTE_IDLE_SWEEPS 10

void remotes_sweep(struct cluster *c)
{
    struct remote *r = TAILQ_FIRST(&c->all);

    while (r != NULL) {
        struct remote *next = TAILQ_NEXT(r, entry);

        if (r->ep.conns.count > 0 || r->state != REMOTE_READY)
            r->idle_sweeps = 0;
        else
            r->idle_sweeps++;
        if (r->ep.closing || r->idle_sweeps >= REMOTE_IDLE_SWEEPS)
            remote_free(r);
        r = next;
    }
}

void remote_peer_down(struct cluster *c, struct link_peer *peer)
{
    struct remote *r;

    TAILQ_FOREACH(r, &c->all, entry) {
        if (r->peer == peer) {
            remote_drop(r, true);
            r->peer = NULL;
        }
    }
}

void remote_send_kick(struct cluster *c, const struct registry_owner *owner,
                      const char *name)
{
    struct link_frame f = {.type = LINK_KICK};

    f.u.kick.session = owner->session_id;
    f.u.kick.name = (struct link_str){name, strlen(name)};
    c->stats.kicks_sent++;
    link_send(link_peer_get(c->links, owner->broker_id, owner->host,
                            owner->port), &f);
}
