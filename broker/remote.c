/*
 * remote.c - a client of another broker as an endpoint here (struct
 * remote, cluster-internal.h), and the frames that link the two
 * (doc/cluster.md, "Sequences").
 *
 * The router treats a remote like a local session: it is the other end
 * of connections, it is delivered to, it is paused. Delivering to it
 * sends a FORWARD on the link to its broker; a FORWARD from that broker
 * is routed here as the remote's own message. So the connection rules,
 * limits and authorization stay in router.c, applied on both brokers.
 *
 * Credit: each connection with a remote end carries at most
 * cluster.link.window bytes of Data from us that its broker has not
 * granted back (CREDIT frames). A local sender past it is paused
 * (flow.h) until credit comes, so one slow reader holds back only those
 * who write to it, never the link. We grant what we received once it
 * is queued for its local reader - unless that reader is full (the
 * remote is then paused by flow.c): the grant waits until it drains.
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

static struct remote *remote_of(struct endpoint *ep)
{
    return (struct remote *)((char *)ep - offsetof(struct remote, ep));
}

static bool is_remote(const struct endpoint *ep)
{
    return ep != NULL && ep->ops == &remote_ops;
}

struct remote *remote_find(struct cluster *c, const char *name, size_t len)
{
    return hashmap_get(c->remotes, name, len);
}

static struct endpoint *find_local(struct cluster *c, const char *name,
                                   size_t len)
{
    return hashmap_get(c->broker->names, name, len);
}

static struct remote *remote_new(struct cluster *c, const char *name,
                                 size_t len)
{
    struct remote *r = mp_xcalloc(1, sizeof *r);

    endpoint_init(&r->ep, &remote_ops, c->broker, "another broker");
    endpoint_set_name(&r->ep, name, len);
    r->ep.format = c->link_format;
    r->cluster = c;
    TAILQ_INIT(&r->pending);
    TAILQ_INSERT_TAIL(&c->all, r, entry);
    mp_xhashmap_put(c->remotes, r->ep.name, r->ep.name_len, r);
    return r;
}

/* r's broker is known: messages go to its session `session` there. */
static void remote_set_ready(struct remote *r, struct link_peer *peer,
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

/* A Data message of `len` bytes from `sender` went out on `id`: count it
 * against the connection's credit, and against the link's queue. */
static void spend_credit(struct remote *r, const struct mp_message *msg,
                         size_t len, struct endpoint *sender)
{
    struct cluster *c = r->cluster;
    const struct broker_conf *conf = &c->broker->conf;
    struct conn *conn = conn_table_find(c->broker->conns, msg->connection_id,
                                        msg->connection_id_len);

    if (conn != NULL) {
        conn->credit_used += len;
        if (conn->credit_used >= conf->cluster.link_window) {
            c->stats.credit_waits++;
            flow_pause(sender, &r->ep);
        }
    }
    /* Many connections' windows together could still fill the link. */
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
    p->from_session = sender != NULL && !is_remote(sender) ? sender->id : 0;
    TAILQ_INSERT_TAIL(&r->pending, p, entry);
}

static int remote_deliver(struct endpoint *to, const struct mp_message *msg,
                          const struct wire_data *wire,
                          struct endpoint *sender)
{
    struct remote *r = remote_of(to);
    const unsigned char *data = wire ? wire->bytes : msg->data;
    size_t len = wire ? wire->len : msg->data_len;
    bool local_sender = sender != NULL && !is_remote(sender);

    if (r->ep.closing)
        return -1;
    if (r->state == REMOTE_RESOLVING) {
        queue_pending(r, msg, wire, sender);
        return 0;
    }
    if (forward(r, msg, data, len, local_sender ? sender->id : 0) != 0)
        return -1;
    if (msg->meta == MP_META_DATA && local_sender)
        spend_credit(r, msg, len, sender);
    return 0;
}

static void queue_grant(struct cluster *c, struct conn *conn)
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
        if (l->conn->credit_owed > 0)
            queue_grant(r->cluster, l->conn);
    }
}

/* The end of `conn` that is a remote, or NULL. */
static struct remote *remote_end(const struct conn *conn)
{
    if (is_remote(conn->target->owner))
        return remote_of(conn->target->owner);
    if (is_remote(conn->initiator->owner))
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
        f.u.credit.bytes = conn->credit_owed > UINT32_MAX
                               ? UINT32_MAX : (uint32_t)conn->credit_owed;
        f.u.credit.connection_id = (struct link_str){conn->id, conn->id_len};
        conn->credit_owed -= f.u.credit.bytes;
        link_send(r->peer, &f);
        if (conn->credit_owed > 0)
            queue_grant(c, conn);
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

static void send_pending(struct remote *r)
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

static bool is_us(struct cluster *c, const char *broker_id)
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
    if (status != REGISTRY_OK || is_us(c, owner->broker_id)) {
        if (status != REGISTRY_NOT_FOUND && status != REGISTRY_OK)
            c->stats.lookups_failed++;
        fail_pending(r);
        remote_drop(r, false);
        return;
    }
    remote_set_ready(r, link_peer_get(c->links, owner->broker_id,
                                      owner->host, owner->port),
                     owner->session_id);
    send_pending(r);
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

/* ------------------------------------------------------------------------
 * Receiving: frames from another broker
 */

/* The remote that sent a frame: the one we have for that name if it is
 * on this link and session; else a new one (the name moved: the old
 * one's connections are over). */
static struct remote *remote_for_sender(struct cluster *c,
                                        struct link_peer *peer,
                                        const struct link_str *name,
                                        uint64_t session)
{
    struct remote *r = remote_find(c, name->ptr, name->len);

    if (r != NULL && r->state == REMOTE_READY && r->peer == peer &&
        (session == 0 || r->ep.id == session))
        return r;
    if (r != NULL && r->state == REMOTE_READY)
        remote_drop(r, true);
    else if (r != NULL) {
        /* Looking it up, and its broker spoke first: that settles it. */
        registry_cancel(c->registry, r->lookup);
        r->lookup = NULL;
        remote_set_ready(r, peer, session);
        send_pending(r);
        return r;
    }
    r = remote_new(c, name->ptr, name->len);
    remote_set_ready(r, peer, session);
    return r;
}

/* The message a FORWARD carries, as its sender wrote it: to `to`. Its
 * data is borrowed from the frame for Data (route() never frees or
 * keeps a Data's data) and copied for the rest (a refusal clears it). */
static void message_of(const struct link_frame *f, struct mp_message *msg)
{
    mp_zero(msg, offsetof(struct mp_message, other_client));
    msg->meta = f->u.forward.meta;
    mp_message_set_other_client(msg, f->u.forward.to.ptr, f->u.forward.to.len);
    mp_message_set_connection_id(msg, f->u.forward.connection_id.ptr,
                                 f->u.forward.connection_id.len);
    msg->has_data = false;
    msg->data = NULL;
    msg->data_len = 0;
    if (!(f->u.forward.flags & LINK_FORWARD_HAS_DATA))
        return;
    if (msg->meta == MP_META_DATA) {
        msg->has_data = true;
        msg->data = (unsigned char *)f->u.forward.data;
        msg->data_len = f->u.forward.data_len;
    } else if (mp_message_set_data(msg, f->u.forward.data,
                                   f->u.forward.data_len) != 0) {
        mp_out_of_memory("a message from another broker",
                         f->u.forward.data_len);
    }
}

static void release_message(struct mp_message *msg)
{
    if (msg->meta == MP_META_DATA)
        msg->data = NULL; /* borrowed */
    mp_message_clear(msg);
}

/* A Syn for a session of ours that is no longer there (the name left,
 * or moved): refused as STALE, so that its broker looks the name up
 * once more. */
static void refuse_stale(struct cluster *c, struct link_peer *peer,
                         const struct link_frame *syn)
{
    struct link_frame f = *syn;

    c->stats.stale_targets++;
    f.u.forward.meta = MP_META_NO_SUCH_CONNECTION;
    f.u.forward.flags |= LINK_FORWARD_STALE;
    f.u.forward.from = syn->u.forward.to;
    f.u.forward.to = syn->u.forward.from;
    f.u.forward.from_session = 0;
    f.u.forward.to_session = syn->u.forward.from_session;
    link_send(peer, &f);
}

static bool syn_target_is_current(struct cluster *c,
                                  const struct link_frame *f)
{
    struct endpoint *to = find_local(c, f->u.forward.to.ptr,
                                     f->u.forward.to.len);

    return to != NULL &&
           (f->u.forward.to_session == 0 || to->id == f->u.forward.to_session);
}

/* A broker's notice for one of our clients (WAT): as the broker here
 * would send it. */
static void deliver_notice(struct cluster *c, const struct link_frame *f)
{
    struct endpoint *to = find_local(c, f->u.forward.to.ptr,
                                     f->u.forward.to.len);
    struct mp_message msg;

    if (to == NULL || to->id != f->u.forward.to_session)
        return;
    message_of(f, &msg);
    mp_message_set_other_client(&msg, f->u.forward.from.ptr,
                                f->u.forward.from.len);
    to->ops->deliver(to, &msg, NULL, NULL);
    release_message(&msg);
}

static void grant_later(struct cluster *c, const struct mp_message *msg)
{
    struct conn *conn = conn_table_find(c->broker->conns, msg->connection_id,
                                        msg->connection_id_len);

    if (conn == NULL)
        return;
    conn->credit_owed += msg->data_len;
    queue_grant(c, conn);
}

static void stale_retry(struct cluster *c, struct link_peer *peer,
                        const struct link_frame *f);

static void on_forward(struct cluster *c, struct link_peer *peer,
                       const struct link_frame *f)
{
    struct remote *r;
    struct mp_message msg;

    c->stats.forwarded_in++;
    c->stats.bytes_in += f->u.forward.data_len;
    switch (f->u.forward.meta) {
    case MP_META_CLIENT_CLOSED:
        r = remote_find(c, f->u.forward.from.ptr, f->u.forward.from.len);
        if (r != NULL && r->peer == peer)
            remote_drop(r, true);
        return;
    case MP_META_WAT:
        deliver_notice(c, f);
        return;
    case MP_META_CONN_SYN:
        if (!syn_target_is_current(c, f)) {
            refuse_stale(c, peer, f);
            return;
        }
        break;
    case MP_META_NO_SUCH_CONNECTION:
        if (f->u.forward.flags & LINK_FORWARD_STALE) {
            stale_retry(c, peer, f);
            return;
        }
        break;
    default:
        break;
    }
    r = remote_for_sender(c, peer, &f->u.forward.from,
                          f->u.forward.from_session);
    message_of(f, &msg);
    route(&r->ep, &msg, NULL);
    if (msg.meta == MP_META_DATA && msg.has_data)
        grant_later(c, &msg);
    release_message(&msg);
}

static void on_credit(struct cluster *c, struct link_peer *peer,
                      const struct link_frame *f)
{
    struct conn *conn = conn_table_find(c->broker->conns,
                                        f->u.credit.connection_id.ptr,
                                        f->u.credit.connection_id.len);
    struct remote *r = conn ? remote_end(conn) : NULL;

    if (r == NULL || r->peer != peer)
        return;
    conn->credit_used -= conn->credit_used < f->u.credit.bytes
                             ? conn->credit_used : f->u.credit.bytes;
    if (conn->credit_used < c->broker->conf.cluster.link_window)
        flow_resume_senders(&r->ep);
}

void remote_frame(struct cluster *c, struct link_peer *peer,
                  const struct link_frame *frame)
{
    switch (frame->type) {
    case LINK_FORWARD:
        on_forward(c, peer, frame);
        break;
    case LINK_CREDIT:
        on_credit(c, peer, frame);
        break;
    case LINK_KICK:
        cluster_kick(c, frame->u.kick.name.ptr, frame->u.kick.name.len,
                     frame->u.kick.session);
        break;
    default:
        break;
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

/* ------------------------------------------------------------------------
 * A Syn that found its target gone: one fresh look-up
 */

struct stale_syn {
    LIST_ENTRY(stale_syn) entry; /* c->stale */
    struct cluster *c;
    char initiator[MP_NAME_MAX + 1];
    uint64_t initiator_session;
    char stale_broker[REGISTRY_ID_LEN + 1];
    uint64_t stale_session;
    struct mp_message *syn;
    struct registry_call *call;
};

static void stale_syn_free(struct stale_syn *s)
{
    LIST_REMOVE(s, entry);
    mp_message_clear(s->syn);
    free(s->syn);
    free(s);
}

static void retry_lookup_done(void *arg, enum registry_status status,
                              const struct registry_owner *owner)
{
    struct stale_syn *s = arg;
    struct cluster *c = s->c;
    struct endpoint *from = find_local(c, s->initiator, strlen(s->initiator));
    struct remote *r;
    struct conn *conn;
    bool moved = status == REGISTRY_OK && !is_us(c, owner->broker_id) &&
                 (strcmp(owner->broker_id, s->stale_broker) != 0 ||
                  owner->session_id != s->stale_session);

    s->call = NULL;
    if (from == NULL || from->id != s->initiator_session) {
        stale_syn_free(s);
        return;
    }
    if (!moved) {
        s->syn->meta = MP_META_NO_SUCH_CONNECTION;
        c->broker->stats.bounced++;
        from->ops->deliver(from, s->syn, NULL, NULL);
        stale_syn_free(s);
        return;
    }
    r = remote_find(c, s->syn->other_client, s->syn->other_client_len);
    if (r != NULL)
        remote_drop(r, true);
    r = remote_new(c, s->syn->other_client, s->syn->other_client_len);
    remote_set_ready(r, link_peer_get(c->links, owner->broker_id,
                                      owner->host, owner->port),
                     owner->session_id);
    route(from, s->syn, NULL);
    conn = conn_table_find(c->broker->conns, s->syn->connection_id,
                           s->syn->connection_id_len);
    if (conn != NULL)
        conn->retried = true;
    stale_syn_free(s);
}

static void stale_retry(struct cluster *c, struct link_peer *peer,
                        const struct link_frame *f)
{
    struct conn *conn = conn_table_find(c->broker->conns,
                                        f->u.forward.connection_id.ptr,
                                        f->u.forward.connection_id.len);
    struct remote *r = conn ? remote_end(conn) : NULL;
    struct endpoint *from;
    struct stale_syn *s;

    if (r == NULL || r->peer != peer || conn->state != CONN_PENDING ||
        &r->ep.conns != conn->target)
        return;
    from = endpoint_of_peer(conn->initiator);
    s = mp_xcalloc(1, sizeof *s);
    LIST_INSERT_HEAD(&c->stale, s, entry);
    s->c = c;
    s->syn = mp_xcalloc(1, sizeof *s->syn);
    message_of(f, s->syn);
    /* The Syn as its initiator sent it: to the target. */
    s->syn->meta = conn->retried ? MP_META_NO_SUCH_CONNECTION
                                 : MP_META_CONN_SYN;
    mp_message_set_other_client(s->syn, r->ep.name, r->ep.name_len);
    conn_table_remove(c->broker->conns, conn);
    if (s->syn->meta == MP_META_NO_SUCH_CONNECTION) {
        c->broker->stats.bounced++;
        from->ops->deliver(from, s->syn, NULL, NULL);
        stale_syn_free(s);
        return;
    }
    if (client_log_allowed(c->broker, from))
        log_info("cluster: %s moved since it was looked up: looking it up "
                 "again for a Syn from %s", LOG_VALUE(r->ep.name),
                 LOG_VALUE(from->name));
    snprintf(s->initiator, sizeof s->initiator, "%s", from->name);
    s->initiator_session = from->id;
    snprintf(s->stale_broker, sizeof s->stale_broker, "%s",
             link_peer_id(peer));
    s->stale_session = r->ep.id;
    c->stats.lookups++;
    s->call = registry_lookup(c->registry, s->syn->other_client,
                              retry_lookup_done, s);
}

void stale_syns_free(struct cluster *c)
{
    while (!LIST_EMPTY(&c->stale)) {
        struct stale_syn *s = LIST_FIRST(&c->stale);
        registry_cancel(c->registry, s->call);
        stale_syn_free(s);
    }
}
