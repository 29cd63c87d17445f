/* auth_chain.c - the authenticator chain (see auth_chain.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth_chain.h"
#include "auth_throttle.h"
#include "broker.h"
#include "listener.h"
#include "log.h"
#include "session.h"
#include "tls.h"
#include "work_pool.h"

/* A login being decided; the plugin sees it as an opaque ticket. */
struct mp_auth_ticket {
    struct session *session;
    size_t index;            /* the authenticator asked now */
    unsigned char *secret;   /* copy, wiped before free */
    size_t secret_len;
    char *tls_subject;       /* verified client certificate, or NULL */
    char *tls_common_name;
    struct work_job *job;    /* host->run_blocking() job, or NULL */
    bool in_call;            /* inside authenticate() */
    bool answered_in_call;   /* a plugin called auth_done() too early */
    enum mp_auth_result early_result;
    char reason[160];
};

static void ticket_free(struct mp_auth_ticket *t)
{
    /* The job's done() still comes, cancelled, and frees the plugin's
     * argument; it no longer refers to this ticket. */
    if (t->job != NULL)
        work_pool_cancel(t->job);
    if (t->secret != NULL) {
        explicit_bzero(t->secret, t->secret_len);
        free(t->secret);
    }
    free(t->tls_subject);
    free(t->tls_common_name);
    free(t);
}

static void finish(struct mp_auth_ticket *t, enum mp_auth_result result)
{
    struct session *s = t->session;
    const struct plugin_set *set = &s->ep.broker->plugins;
    /* Past the end: every authenticator deferred. */
    const char *by = t->index < set->n_authenticators
                         ? set->authenticators[t->index].name
                         : NULL;
    char reason[sizeof t->reason];

    memcpy(reason, t->reason, sizeof reason);
    s->auth = NULL;
    ticket_free(t);
    session_auth_finished(s, result,
                          reason[0] ? reason : "invalid name or secret", by);
}

static void set_reason(struct mp_auth_ticket *t, const char *reason)
{
    snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "");
}

/* Ask authenticators from t->index on; stops at a verdict or PENDING. */
static void run_chain(struct mp_auth_ticket *t)
{
    struct session *s = t->session;
    const struct plugin_set *set = &s->ep.broker->plugins;

    for (; t->index < set->n_authenticators; t->index++) {
        const struct loaded_plugin *p = &set->authenticators[t->index];
        struct mp_auth_request req = {
            .size = sizeof req,
            .name = s->ep.name,
            .name_len = s->ep.name_len,
            .secret = t->secret ? t->secret : (const unsigned char *)"",
            .secret_len = t->secret_len,
            .peer = s->ep.peer,
            .listener = s->listener->label,
            .format = s->ep.format->name,
            .level = s->level,
            .tls_subject = t->tls_subject,
            .tls_common_name = t->tls_common_name,
        };
        enum mp_auth_result r;

        t->reason[0] = '\0';
        t->in_call = true;
        r = p->desc->auth->authenticate(p->state, &req, t, t->reason,
                                        sizeof t->reason);
        t->in_call = false;
        t->reason[sizeof t->reason - 1] = '\0';
        if (t->answered_in_call) {
            t->answered_in_call = false;
            r = t->early_result;
        }
        switch (r) {
        case MP_AUTH_ALLOW:
        case MP_AUTH_DENY:
            finish(t, r);
            return;
        case MP_AUTH_PENDING:
            s->auth = t;
            return;
        case MP_AUTH_DEFER:
            break;
        default:
            log_error("authenticator %s returned %d; treating it as DENY",
                      p->desc->name, (int)r);
            finish(t, MP_AUTH_DENY);
            return;
        }
    }
    /* The same words as a wrong secret, so that a refusal does not tell
     * whether the name exists. */
    set_reason(t, "invalid name or secret");
    finish(t, MP_AUTH_DENY);
}

void auth_chain_start(struct session *s, const unsigned char *secret,
                      size_t secret_len)
{
    struct mp_auth_ticket *t = calloc(1, sizeof *t);

    if (t == NULL || (secret_len > 0 && (t->secret = malloc(secret_len)) == NULL) ||
        tls_peer_identity(s->bev, &t->tls_subject, &t->tls_common_name) != 0) {
        if (t != NULL)
            ticket_free(t);
        session_auth_finished(s, MP_AUTH_DENY, "out of memory", NULL);
        return;
    }
    if (secret_len > 0)
        memcpy(t->secret, secret, secret_len);
    t->secret_len = secret_len;
    t->session = s;
    run_chain(t);
}

void auth_chain_cancel(struct session *s)
{
    struct mp_auth_ticket *t = s->auth;
    const struct loaded_plugin *p;

    if (t == NULL)
        return;
    p = &s->ep.broker->plugins.authenticators[t->index];
    s->auth = NULL;
    if (p->desc->auth->cancel != NULL)
        p->desc->auth->cancel(p->state, t);
    ticket_free(t);
}

int auth_chain_suspend(struct session *s, unsigned char **secret,
                       size_t *secret_len)
{
    struct mp_auth_ticket *t = s->auth;

    *secret = NULL;
    *secret_len = t->secret_len;
    if (t->secret_len > 0) {
        *secret = malloc(t->secret_len);
        if (*secret == NULL) {
            auth_chain_cancel(s);
            return -1;
        }
        memcpy(*secret, t->secret, t->secret_len);
    }
    auth_chain_cancel(s);
    return 0;
}

void auth_chain_done(struct mp_auth_ticket *t, enum mp_auth_result result,
                     const char *reason)
{
    if (t->in_call) {
        /* Called from inside authenticate(): act on it when it returns. */
        t->answered_in_call = true;
        t->early_result = result;
        set_reason(t, reason);
        return;
    }
    set_reason(t, reason);
    if (result == MP_AUTH_DEFER) {
        t->index++;
        run_chain(t);
        return;
    }
    finish(t, result == MP_AUTH_ALLOW ? MP_AUTH_ALLOW : MP_AUTH_DENY);
}

int auth_chain_run_blocking(struct mp_auth_ticket *t, void (*work)(void *arg),
                            void (*done)(void *arg, int cancelled), void *arg)
{
    struct broker *b;
    char source[AUTH_SOURCE_MAX];

    if (t == NULL || work == NULL || done == NULL || t->job != NULL ||
        t->session->ep.broker->work_pool == NULL)
        return -1;
    b = t->session->ep.broker;
    auth_throttle_source(t->session->ep.peer, source, sizeof source);
    switch (work_pool_submit(b->work_pool, source, work, done, arg, &t->job)) {
    case WORK_QUEUED:
        return 0;
    case WORK_BUSY:
        /* The refusal itself is logged with the plugin's reason. */
        b->stats.auth_busy++;
        return 1;
    default:
        return -1;
    }
}
