/*
 * login.c - a session's Auth: the name it asks for, the login throttle
 * (auth_throttle.h), the authenticators' verdict (auth_chain.h) and the
 * one log line a refused login gets.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "auth_chain.h"
#include "auth_throttle.h"
#include "broker.h"
#include "cluster.h"
#include "hashmap.h"
#include "listener.h"
#include "log.h"
#include "message.h"
#include "name.h"
#include "router.h"
#include "session-internal.h"
#include "tls.h"
#include "ws_frame.h"
#include "ws_session.h"

/* What a login refused for a throttle block hears (the same words for
 * both blocks: a guesser learns nothing about which names it hit). */
static const char blocked_reason[] =
    "too many failed logins from this address; try again later";

/* AuthFailure and close. The caller has logged the one line this login
 * gets, if any: the close adds none. */
static void refuse_login(struct session *s, const char *reason)
{
    s->close_logged = true;
    ws_session_set_close_code(s, WS_CLOSE_POLICY);
    session_send_notice(s, MP_META_AUTH_FAILURE, s->ep.name, "", 0, reason);
    session_close(s, reason);
}

void session_begin_login(struct session *s, const struct mp_message *msg)
{
    struct broker *b = s->ep.broker;
    const char *bad_name;
    enum auth_block block;

    if (msg->meta != MP_META_AUTH) {
        session_protocol_error(s, "expected Auth");
        return;
    }
    endpoint_set_name(&s->ep, msg->other_client, msg->other_client_len);
    bad_name = mp_name_check(s->ep.name, s->ep.name_len);
    if (bad_name != NULL) {
        session_protocol_error(s, bad_name);
        return;
    }
    s->level = msg->level ? msg->level : 1;
    /* What we speak with it: the lower of its level and ours. */
    s->ep.level = s->level < MP_PROTOCOL_LEVEL ? (uint8_t)s->level
                                               : MP_PROTOCOL_LEVEL;
    block = auth_throttle_check(b->auth_throttle, s->ep.peer, s->ep.name,
                                time(NULL));
    if (block != AUTH_BLOCK_NONE) {
        /* No authenticator is asked: guesses from here cannot succeed.
         * Not logged: the line that started the block was (a guesser
         * must not be able to fill the log). */
        b->stats.auth_failures++;
        b->stats.auth_blocked++;
        log_debug("login refused unasked: client=%s peer=%s block=%s",
                  LOG_VALUE(s->ep.name), s->ep.peer,
                  block == AUTH_BLOCK_NAME ? "name" : "source");
        refuse_login(s, blocked_reason);
        return;
    }
    auth_chain_start(s, msg->data, msg->data_len);
}

/*
 * A refused login is one line: who (name, peer, listener, and the subject
 * of its TLS client certificate if it showed one), why (the reason the
 * client hears, and the authenticator that decided: by=none when every
 * one deferred, as for an unknown name), and, when this failure starts a
 * throttle block, that block - as a warning, which the client log limits
 * never suppress.
 */
static void log_refused_login(struct session *s, const char *reason,
                              const char *by, enum auth_block started)
{
    const struct broker_conf *conf = &s->ep.broker->conf;
    char fields[1024], cert[MP_LOG_VALUE_MAX + 8] = "";
    char *subject = NULL, *common_name = NULL;

    if (started == AUTH_BLOCK_NONE && !client_log_allowed(s->ep.broker, &s->ep))
        return;
    if (s->listener->tls != NULL &&
        tls_peer_identity(s->bev, &subject, &common_name) == 0 &&
        subject != NULL)
        snprintf(cert, sizeof cert, " cert=%s", LOG_VALUE(subject));
    free(subject);
    free(common_name);
    snprintf(fields, sizeof fields, "client=%s peer=%s listener=%s "
             "reason=%s by=%s%s", LOG_VALUE(s->ep.name), s->ep.peer,
             LOG_VALUE(s->listener->label), LOG_VALUE(reason),
             by != NULL ? LOG_VALUE(by) : "none", cert);
    if (started == AUTH_BLOCK_NONE)
        log_notice("authentication failed for %s: %s", LOG_VALUE(s->ep.name),
                   fields);
    else if (started == AUTH_BLOCK_SOURCE)
        log_warn("authentication failed for %s; refusing every login from "
                 "the address of %s for %u s after %u failed logins: %s "
                 "block=source", LOG_VALUE(s->ep.name), s->ep.peer,
                 conf->auth_block_s, conf->auth_failures_max, fields);
    else
        log_warn("authentication failed for %s; refusing logins as %s from "
                 "the address of %s for %u s after %u failed logins: %s "
                 "block=name", LOG_VALUE(s->ep.name), LOG_VALUE(s->ep.name),
                 s->ep.peer, conf->auth_block_s,
                 conf->auth_failures_per_name_max, fields);
}

static void login_refused(struct session *s, const char *reason,
                          const char *by)
{
    struct broker *b = s->ep.broker;
    enum auth_block started;

    reason = reason ? reason : "authentication failed";
    b->stats.auth_failures++;
    started = auth_throttle_failed(b->auth_throttle, s->ep.peer, s->ep.name,
                                   time(NULL));
    log_refused_login(s, reason, by, started);
    refuse_login(s, reason);
}

/* AuthOk; to a level-2 client, with what it needs to know
 * (doc/protocol.md, "AuthOk at level 2"). */
static void send_auth_ok(struct session *s)
{
    const struct broker_conf *conf = &s->ep.broker->conf;
    char settings[96];

    if (s->ep.level < 2) {
        session_send_notice(s, MP_META_AUTH_OK, s->ep.name, "", 0, NULL);
        return;
    }
    snprintf(settings, sizeof settings, "level=%u window=%u watches=%u",
             (unsigned)s->ep.level, conf->connection_window,
             conf->max_watches_per_client);
    session_send_notice(s, MP_META_AUTH_OK, s->ep.name, "", 0, settings);
}

/* The name is s's: logged in, AuthOk. */
static void login_accepted(struct session *s)
{
    const char *reason;

    if (router_register(&s->ep, &reason) != 0) {
        log_refused_login(s, reason, NULL, AUTH_BLOCK_NONE);
        refuse_login(s, reason);
        return;
    }
    session_set_state(s, SESSION_READY);
    session_stop_counting_unauthenticated(s);
    s->ep.broker->stats.auth_successes++;
    event_free(s->timer);
    s->timer = NULL;
    log_info("client %s logged in: client=%s peer=%s listener=%s format=%s "
             "level=%u", LOG_VALUE(s->ep.name), LOG_VALUE(s->ep.name),
             s->ep.peer, LOG_VALUE(s->listener->label), s->ep.format->name,
             (unsigned)s->ep.level);
    send_auth_ok(s);
    /* An asynchronous verdict: handle what the client sent meanwhile. */
    if (!s->processing)
        session_process_input(s);
}

/* duplicate_names = "reject" and the name is logged in here: refused
 * without asking the registry. */
static bool taken_here(const struct session *s)
{
    const struct broker *b = s->ep.broker;

    return b->conf.duplicate_names == DUPLICATE_REJECT &&
           hashmap_get(b->names, s->ep.name, s->ep.name_len) != NULL;
}

void session_auth_finished(struct session *s, enum mp_auth_result result,
                           const char *reason, const char *by)
{
    struct broker *b = s->ep.broker;

    if (s->state != SESSION_AUTHENTICATING)
        return;
    if (result != MP_AUTH_ALLOW) {
        login_refused(s, reason, by);
        return;
    }
    if (b->cluster == NULL) {
        login_accepted(s);
        return;
    }
    if (taken_here(s)) {
        reason = "name already in use";
        log_refused_login(s, reason, NULL, AUTH_BLOCK_NONE);
        refuse_login(s, reason);
        return;
    }
    /* AuthOk only once the registry says the name is ours. */
    cluster_claim_name(b->cluster, s);
}

void session_claim_finished(struct session *s, const char *refusal)
{
    if (s->state != SESSION_AUTHENTICATING)
        return;
    if (refusal != NULL) {
        log_refused_login(s, refusal, "cluster", AUTH_BLOCK_NONE);
        refuse_login(s, refusal);
        return;
    }
    login_accepted(s);
}
