/*
 * remote_input.c - frames from another broker of the cluster: a FORWARD
 * is routed as its remote client's message, a CREDIT lets a local
 * sender go on, a KICK closes a session whose name moved; and a Syn
 * refused as STALE gets one fresh look-up (doc/cluster.md, "Sequences").
 * The remote endpoints themselves are remote.c's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "cluster-internal.h"
#include "conn_table.h"
#include "credit.h"
#include "log.h"
#include "message.h"
#include "router.h"
#include "xalloc.h"

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
        remote_send_pending(r);
        return r;
    }
    r = remote_new(c, name->ptr, name->len);
    remote_set_ready(r, peer, session);
    return r;
}

/* The message a FORWARD carries, as its sender wrote it: to `to`. Its
 * data is borrowed from the frame for Data (route() never frees or
 * keeps a Data's data), and copied for the rest (a refusal clears it).
 * Returns whether it is borrowed: route() may change the meta (a bounce
 * is a NoSuchConnection), so the answer must be kept for
 * release_message(), never worked out again from the message. */
static bool message_of(const struct link_frame *f, struct mp_message *msg)
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
        return false;
    if (msg->meta == MP_META_DATA) {
        msg->has_data = true;
        msg->data = (unsigned char *)f->u.forward.data;
        msg->data_len = f->u.forward.data_len;
        return true;
    }
    if (mp_message_set_data(msg, f->u.forward.data,
                            f->u.forward.data_len) != 0)
        mp_out_of_memory("a message from another broker",
                         f->u.forward.data_len);
    return false;
}

static void release_message(struct mp_message *msg, bool borrowed)
{
    if (borrowed)
        msg->data = NULL;
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
    struct endpoint *to = cluster_find_local(c, f->u.forward.to.ptr,
                                     f->u.forward.to.len);

    return to != NULL &&
           (f->u.forward.to_session == 0 || to->id == f->u.forward.to_session);
}

/* A broker's notice for one of our clients (WAT): as the broker here
 * would send it. */
static void deliver_notice(struct cluster *c, const struct link_frame *f)
{
    struct endpoint *to = cluster_find_local(c, f->u.forward.to.ptr,
                                             f->u.forward.to.len);
    struct mp_message msg;
    bool borrowed;

    if (to == NULL || to->id != f->u.forward.to_session)
        return;
    borrowed = message_of(f, &msg);
    mp_message_set_other_client(&msg, f->u.forward.from.ptr,
                                f->u.forward.from.len);
    to->ops->deliver(to, &msg, NULL, NULL);
    release_message(&msg, borrowed);
}

static void stale_retry(struct cluster *c, struct link_peer *peer,
                        const struct link_frame *f);

static void on_forward(struct cluster *c, struct link_peer *peer,
                       const struct link_frame *f)
{
    struct remote *r;
    struct mp_message msg;
    bool borrowed;

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
    borrowed = message_of(f, &msg);
    /* Credit: the router counts it, and grants back through the
     * remote's credit operation (remote.c). */
    route(&r->ep, &msg, NULL);
    release_message(&msg, borrowed);
}

/* The connection `id` whose remote end (*r) is on the link to `peer`,
 * or NULL: a frame about any other is stale or not that broker's to
 * send. */
static struct conn *conn_on_link(struct cluster *c, struct link_peer *peer,
                                 struct link_str id, struct remote **r)
{
    struct conn *conn = conn_table_find(c->broker->conns, id.ptr, id.len);

    *r = conn ? remote_end(conn) : NULL;
    return *r != NULL && (*r)->peer == peer ? conn : NULL;
}

static void on_credit(struct cluster *c, struct link_peer *peer,
                      const struct link_frame *f)
{
    struct remote *r;
    struct conn *conn = conn_on_link(c, peer, f->u.credit.connection_id, &r);

    /* r's client consumed what our sender sent it. A grant that would
     * pass MP_CREDIT_MAX (a broker with another window) is ignored. */
    if (conn != NULL)
        credit_grant(conn, &r->ep, f->u.credit.bytes);
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
    struct endpoint *from = cluster_find_local(c, s->initiator, strlen(s->initiator));
    struct remote *r;
    struct conn *conn;
    bool moved = status == REGISTRY_OK && !cluster_is_us(c, owner->broker_id) &&
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
    struct remote *r;
    struct conn *conn = conn_on_link(c, peer, f->u.forward.connection_id,
                                     &r);
    struct endpoint *from;
    struct stale_syn *s;

    if (conn == NULL || conn->state != CONN_PENDING ||
        &r->ep.conns != conn->target)
        return;
    from = endpoint_of_peer(conn->initiator);
    s = mp_xcalloc(1, sizeof *s);
    LIST_INSERT_HEAD(&c->stale, s, entry);
    s->c = c;
    s->syn = mp_xcalloc(1, sizeof *s->syn);
    /* A NoSuchConnection: its data (the protocol) is copied, owned. */
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
