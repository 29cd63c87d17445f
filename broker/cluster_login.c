/*
 * cluster_login.c - a login's name, claimed in the cluster's registry
 * before AuthOk; released at logout (doc/cluster.md, "Login").
 *
 * The local checks come first (login.c: the authenticators, and a name
 * logged in here under duplicate_names = "reject"); then one script in
 * Redis decides, so that two brokers never both log the same name in.
 */
#include "config.h"

#include <string.h>

#include "broker.h"
#include "cluster-internal.h"
#include "log.h"
#include "session.h"

static const char unavailable[] =
    "cluster registry unavailable; try again later";

static void claim_done(void *arg, enum registry_status status,
                       const struct registry_owner *owner)
{
    struct session *s = arg;
    struct cluster *c = s->ep.broker->cluster;
    struct remote *r;

    s->claim = NULL;
    /* Taken over before we heard that it was ours. */
    if (s->kicked && (status == REGISTRY_OK || status == REGISTRY_REPLACED))
        status = REGISTRY_TAKEN;
    switch (status) {
    case REGISTRY_OK:
        break;
    case REGISTRY_REPLACED:
        /* An older session here is closed by router_register(); one on
         * another broker is told over the link now (its mailbox tells
         * it again at its next renewal, should the link be down). */
        if (strcmp(owner->broker_id, registry_broker_id(c->registry)) != 0)
            remote_send_kick(c, owner, s->ep.name);
        break;
    case REGISTRY_TAKEN:
        session_claim_finished(s, "name already in use");
        return;
    default:
        c->stats.logins_refused_unavailable++;
        session_claim_finished(s, unavailable);
        return;
    }
    /* The name's older session elsewhere is over, and so are the
     * connections local clients had with it. */
    r = remote_find(c, s->ep.name, s->ep.name_len);
    if (r != NULL)
        remote_drop(r, true);
    session_claim_finished(s, NULL);
}

void cluster_claim_name(struct cluster *c, struct session *s)
{
    bool replace = c->broker->conf.duplicate_names == DUPLICATE_REPLACE;

    s->claim = registry_claim(c->registry, s->ep.name, s->ep.id, replace,
                              claim_done, s);
}

void cluster_cancel_claim(struct cluster *c, struct session *s)
{
    if (s->claim != NULL)
        registry_cancel(c->registry, s->claim);
    if (s->reclaim != NULL)
        registry_cancel(c->registry, s->reclaim);
    s->claim = NULL;
    s->reclaim = NULL;
}

void cluster_release_name(struct cluster *c, const struct endpoint *ep)
{
    registry_release(c->registry, ep->name, ep->id);
}

/* After Redis lost its data: a client of ours whose name another
 * broker's client took first is closed (the newer login wins). */
static void reclaim_done(void *arg, enum registry_status status,
                         const struct registry_owner *owner)
{
    struct session *s = arg;

    (void)owner;
    s->reclaim = NULL;
    if (status == REGISTRY_TAKEN) {
        log_notice("cluster: client %s lost its name while the registry "
                   "was rebuilt: client=%s peer=%s", LOG_VALUE(s->ep.name),
                   LOG_VALUE(s->ep.name), s->ep.peer);
        session_close(s, "replaced by a newer login");
    }
}

void cluster_reclaim_names(struct cluster *c)
{
    struct session *s;
    size_t n = 0;

    TAILQ_FOREACH(s, &c->broker->sessions, entry) {
        if (s->state != SESSION_READY || s->reclaim != NULL)
            continue;
        s->reclaim = registry_reclaim(c->registry, s->ep.name, s->ep.id,
                                    reclaim_done, s);
        n++;
    }
    log_notice("cluster: claiming the names of %zu client%s again", n,
               n == 1 ? "" : "s");
}
