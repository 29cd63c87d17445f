/*
 * auth_delayed - TEST ONLY. An asynchronous authenticator: every login is
 * answered PENDING, then after `delay_ms` milliseconds ALLOW if the secret
 * equals `secret`, else DENY "wrong secret (delayed)".
 *
 *     options = { delay_ms = 50; secret = "delayed"; };   (the defaults)
 *
 * It exercises the broker's side of PENDING: host->auth_done() from a
 * timer callback, and ops->cancel() when a client leaves before the answer.
 * Every pending request sits in a list so that cancel() can find it and
 * cleanup() can free what is left.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mp/plugin.h>

#define DELAY_MS_DEFAULT 50
#define DELAY_MS_MAX 600000 /* ten minutes: longer is a typo */
#define SECRET_DEFAULT "delayed"

struct delayed_state;

struct pending {
    struct pending *prev, *next;
    struct delayed_state *owner;
    struct mp_auth_ticket *ticket; /* valid until auth_done or cancel */
    struct mp_timer *timer;        /* freed by the broker when it fires */
    char *name;
    unsigned char *secret;
    size_t secret_len;
};

struct delayed_state {
    const struct mp_host *host;
    unsigned delay_ms;
    char *secret;
    size_t secret_len;
    struct pending *head; /* every request not answered yet */
};

static void pending_unlink(struct delayed_state *st, struct pending *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        st->head = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void pending_free(struct pending *p)
{
    free(p->name);
    free(p->secret);
    free(p);
}

static void delayed_answer(void *arg)
{
    struct pending *p = arg;
    struct delayed_state *st = p->owner;
    struct mp_auth_ticket *ticket = p->ticket;
    bool ok = p->secret_len == st->secret_len &&
              (p->secret_len == 0 ||
               memcmp(p->secret, st->secret, p->secret_len) == 0);

    st->host->log(st->host, MP_LOG_DEBUG, "answering for '%s': %s", p->name,
                  ok ? "allow" : "deny");
    /* The timer is freed by the broker once we return. Forget the request
     * before auth_done(), in case the broker calls back into us from it. */
    pending_unlink(st, p);
    pending_free(p);
    if (ok)
        st->host->auth_done(ticket, MP_AUTH_ALLOW, NULL);
    else
        st->host->auth_done(ticket, MP_AUTH_DENY, "wrong secret (delayed)");
}

static struct pending *pending_new(struct delayed_state *st,
                                   const struct mp_auth_request *req,
                                   struct mp_auth_ticket *ticket)
{
    struct pending *p = calloc(1, sizeof *p);

    if (p == NULL)
        return NULL;
    p->owner = st;
    p->ticket = ticket;
    p->name = strndup(req->name, req->name_len);
    /* +1: malloc(0) may return NULL */
    p->secret = malloc(req->secret_len + 1);
    if (p->name == NULL || p->secret == NULL) {
        pending_free(p);
        return NULL;
    }
    if (req->secret_len > 0)
        memcpy(p->secret, req->secret, req->secret_len);
    p->secret_len = req->secret_len;
    return p;
}

static enum mp_auth_result delayed_authenticate(
    void *state, const struct mp_auth_request *req,
    struct mp_auth_ticket *ticket, char *reason, size_t reason_len)
{
    struct delayed_state *st = state;
    struct pending *p = pending_new(st, req, ticket);

    if (p != NULL)
        p->timer = st->host->timer_start(st->host, st->delay_ms,
                                         delayed_answer, p);
    if (p == NULL || p->timer == NULL) {
        if (p != NULL)
            pending_free(p);
        if (reason != NULL && reason_len > 0)
            snprintf(reason, reason_len, "out of memory");
        return MP_AUTH_DENY;
    }
    p->next = st->head;
    if (st->head != NULL)
        st->head->prev = p;
    st->head = p;
    return MP_AUTH_PENDING;
}

static void delayed_cancel(void *state, struct mp_auth_ticket *ticket)
{
    struct delayed_state *st = state;

    for (struct pending *p = st->head; p != NULL; p = p->next) {
        if (p->ticket == ticket) {
            st->host->timer_cancel(p->timer);
            pending_unlink(st, p);
            pending_free(p);
            return;
        }
    }
}

static int read_options(struct delayed_state *st,
                        const struct mp_options *opts, char *err,
                        size_t errlen)
{
    long long delay = DELAY_MS_DEFAULT;
    const char *secret = SECRET_DEFAULT;
    int rc;

    rc = st->host->option_int(opts, "delay_ms", &delay);
    if (rc < 0) {
        snprintf(err, errlen, "option 'delay_ms' must be an integer");
        return -1;
    }
    if (delay < 0 || delay > DELAY_MS_MAX) {
        snprintf(err, errlen, "option 'delay_ms' must be between 0 and %d",
                 DELAY_MS_MAX);
        return -1;
    }
    if (st->host->option_string(opts, "secret", &secret) < 0) {
        snprintf(err, errlen, "option 'secret' must be a string");
        return -1;
    }
    st->delay_ms = (unsigned)delay;
    /* The broker's string is valid only until init() returns. */
    st->secret = strdup(secret);
    if (st->secret == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->secret_len = strlen(st->secret);
    return 0;
}

static int delayed_init(const struct mp_host *host,
                        const struct mp_options *opts, void **state,
                        char *err, size_t errlen)
{
    struct delayed_state *st = calloc(1, sizeof *st);

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->host = host;
    if (read_options(st, opts, err, errlen) < 0) {
        free(st->secret);
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

static void delayed_cleanup(void *state)
{
    struct delayed_state *st = state;

    if (st == NULL)
        return;
    /* Requests the broker neither saw answered nor cancelled: stop their
     * timers so that none fires into freed memory. */
    while (st->head != NULL) {
        struct pending *p = st->head;
        st->host->timer_cancel(p->timer);
        pending_unlink(st, p);
        pending_free(p);
    }
    free(st->secret);
    free(st);
}

static const struct mp_auth_ops delayed_ops = {
    .size = sizeof(struct mp_auth_ops),
    .authenticate = delayed_authenticate,
    .cancel = delayed_cancel,
};

static const struct mp_plugin delayed_plugin = {
    .abi = MP_PLUGIN_ABI,
    .kind = MP_PLUGIN_AUTHENTICATOR,
    .name = "auth_delayed",
    .version = PACKAGE_VERSION,
    .init = delayed_init,
    .cleanup = delayed_cleanup,
    .auth = &delayed_ops,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &delayed_plugin;
}
