/*
 * reconnect.c - more than one broker address, and logging in again after
 * a lost session (include/mp/client.h, "RECONNECT").
 *
 * The first login tries the addresses in turn while one cannot be
 * reached (it does not parse or resolve, refuses or does not answer the
 * connect); a broker that answers decides, as with one address.
 *
 * With the reconnect option, a session lost after its login leaves the
 * client in CLIENT_RECONNECTING: the connections and Lists of the lost
 * session have ended (client.c, lose_broker), the handlers and the
 * watches stay. Each attempt waits on the client's one timer (c->timer;
 * timer_cb calls reconnect_attempt_start), then goes through the login
 * of login.c (CONNECTING, AUTHENTICATING) on a new socket with new codec
 * streams, the next address round robin; login_finish hands the outcome
 * back here. The attempt number `c->attempt` is non-zero from the loss
 * until a login succeeds or the client gives up.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "client-internal.h"

enum {
    /* A restarted broker is usually back within a fraction of a second;
     * ten seconds bounds the wait for one that takes long. */
    DEFAULT_RECONNECT_INITIAL_MS = 100,
    DEFAULT_RECONNECT_MAX_MS = 10000,
};

/* A refusal the broker means to be temporary (its throttle on failed
 * logins, a cluster without its registry): retried. */
static const char try_again[] = "try again later";

/* ------------------------------------------------------------------------
 * The addresses
 */

static int add_address(struct mp_client *c, const char *address)
{
    if (address == NULL)
        return MP_ERR_INVALID;
    c->addresses[c->n_addresses] = strdup(address);
    if (c->addresses[c->n_addresses] == NULL)
        return MP_ERR_NOMEM;
    c->n_addresses++;
    return MP_OK;
}

/* The jitter's generator: seeded per client, so that clients started
 * together do not draw the same delays; the application's rand() is left
 * alone. */
static void seed_jitter(struct mp_client *c)
{
    c->jitter_state = (unsigned long long)(uintptr_t)c ^
                      ((unsigned long long)time(NULL) << 20) ^
                      ((unsigned long long)getpid() << 40) ^
                      (unsigned long long)clock();
    if (c->jitter_state == 0)
        c->jitter_state = 0x9e3779b97f4a7c15ULL;
}

int reconnect_copy_options(struct mp_client *c,
                           const struct mp_client_options *o)
{
    const char *const *more = OPTION(o, addresses);
    size_t n_more = OPTION(o, n_addresses);
    size_t n = (o->address != NULL ? 1 : 0) + n_more;
    int rc = MP_OK;

    if (n == 0 || (more == NULL && n_more > 0))
        return MP_ERR_INVALID;
    c->addresses = calloc(n, sizeof *c->addresses);
    if (c->addresses == NULL)
        return MP_ERR_NOMEM;
    if (o->address != NULL)
        rc = add_address(c, o->address);
    for (size_t i = 0; i < n_more && rc == MP_OK; i++)
        rc = add_address(c, more[i]);
    if (rc != MP_OK)
        return rc;
    c->address = c->addresses[0];
    c->reconnect = OPTION(o, reconnect) != 0;
    c->reconnect_initial_ms = OPTION(o, reconnect_initial_ms)
                                  ? OPTION(o, reconnect_initial_ms)
                                  : DEFAULT_RECONNECT_INITIAL_MS;
    c->reconnect_max_ms = OPTION(o, reconnect_max_ms)
                              ? OPTION(o, reconnect_max_ms)
                              : DEFAULT_RECONNECT_MAX_MS;
    c->reconnect_max_attempts = OPTION(o, reconnect_max_attempts);
    seed_jitter(c);
    return MP_OK;
}

void reconnect_free(struct mp_client *c)
{
    for (size_t i = 0; i < c->n_addresses; i++)
        free(c->addresses[i]);
    free(c->addresses);
    c->addresses = NULL;
    c->n_addresses = 0;
    c->address = NULL;
}

bool reconnect_any_address(const struct mp_client *c, const char *scheme)
{
    for (size_t i = 0; i < c->n_addresses; i++) {
        if (strncmp(c->addresses[i], scheme, strlen(scheme)) == 0)
            return true;
    }
    return false;
}

static void next_address(struct mp_client *c)
{
    c->address_index = (c->address_index + 1) % c->n_addresses;
    c->address = c->addresses[c->address_index];
}

/*
 * A new socket starts from nothing: new codec streams (gob's remember
 * the types each side defined), no pause, no blocked send, no level
 * until the AuthOk, no notice, and no reason yet.
 */
static int fresh_link(struct mp_client *c)
{
    c->lost_reason[0] = '\0';
    c->deferred_error = 0;
    c->deferred_reason[0] = '\0';
    c->input_ended = false;
    c->read_paused = false;
    c->send_blocked = false;
    c->blocked_conns = 0;
    c->level = 0;
    c->window = 0;
    c->max_watches = 0;
    c->notice_status = 0;
    return client_open_streams(c);
}

/* ------------------------------------------------------------------------
 * The first login: the next address while one cannot be reached
 */

/* Append src to the string in dst[0..size), cut to fit (the reasons may
 * well not all fit: the first ones are kept). */
static void append(char *dst, size_t size, const char *src)
{
    size_t used = strlen(dst), n = strlen(src);

    if (used + 1 >= size)
        return;
    if (n > size - used - 1)
        n = size - used - 1;
    memcpy(dst + used, src, n);
    dst[used + n] = '\0';
}

/* What c->address gave, or the error's text. */
static const char *failure_text(const struct mp_client *c, int status)
{
    return c->lost_reason[0] != '\0' ? c->lost_reason : mp_strerror(status);
}

/* Remember what c->address gave, for the reason of the final failure. */
static void note_failure(struct mp_client *c, int status)
{
    append(c->failover_reason, sizeof c->failover_reason,
           failure_text(c, status));
    append(c->failover_reason, sizeof c->failover_reason, "; ");
    /* The next address is tried with a clean slate. */
    c->lost_reason[0] = '\0';
}

/* Every address failed: the reason lists what each gave. */
static void compose_reason(struct mp_client *c, int status)
{
    char all[MP_REASON_MAX] = "";

    append(all, sizeof all, c->failover_reason);
    append(all, sizeof all, failure_text(c, status));
    memcpy(c->lost_reason, all, sizeof c->lost_reason);
}

int reconnect_failover(struct mp_client *c, int status)
{
    int rc = status;

    while (c->addresses_tried + 1 < c->n_addresses) {
        note_failure(c, rc);
        c->addresses_tried++;
        next_address(c);
        rc = fresh_link(c);
        if (rc == MP_OK)
            rc = login_start(c);
        if (rc != MP_ERR_ADDRESS)
            break;
    }
    if (rc != MP_OK && c->addresses_tried > 0)
        compose_reason(c, rc);
    return rc;
}

/* ------------------------------------------------------------------------
 * Backoff
 */

/* xorshift64*: plenty for jitter. */
static unsigned long long next_random(struct mp_client *c)
{
    unsigned long long x = c->jitter_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->jitter_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Attempt n waits min(max, initial * 2^(n-2)) scaled by a random factor
 * in [0.5, 1]; the first waits nothing. */
static unsigned backoff_ms(struct mp_client *c, unsigned attempt)
{
    unsigned long long nominal = c->reconnect_initial_ms, half;

    if (attempt <= 1)
        return 0;
    for (unsigned i = 2; i < attempt && nominal < c->reconnect_max_ms; i++)
        nominal *= 2;
    if (nominal > c->reconnect_max_ms)
        nominal = c->reconnect_max_ms;
    half = nominal / 2;
    return (unsigned)(half + next_random(c) % (nominal - half + 1));
}

/* Announce the next attempt (its address, its delay) and wait for it. */
static void schedule_attempt(struct mp_client *c)
{
    unsigned delay;

    c->attempt++;
    next_address(c);
    delay = backoff_ms(c, c->attempt);
    if (c->reconnecting_cb != NULL)
        c->reconnecting_cb(c, c->attempt, delay, c->reconnecting_arg);
    /* The callback may have disconnected. The delay counts from now,
     * not from the loop's cached time, which may be older. */
    if (c->state == CLIENT_RECONNECTING) {
        event_base_update_cache_time(c->base);
        client_set_timer(c, delay);
    }
}

/* ------------------------------------------------------------------------
 * Attempts and their outcome
 */

bool reconnect_pending(const struct mp_client *c)
{
    return c->state == CLIENT_RECONNECTING ||
           (c->attempt > 0 && (c->state == CLIENT_CONNECTING ||
                               c->state == CLIENT_AUTHENTICATING));
}

int reconnect_state_error(const struct mp_client *c)
{
    return reconnect_pending(c) ? MP_ERR_DISCONNECTED : MP_ERR_STATE;
}

bool reconnect_wanted(const struct mp_client *c, int status)
{
    /* Logging in again would replace the session that replaced us. */
    return c->reconnect && status != MP_ERR_REPLACED;
}

void reconnect_begin(struct mp_client *c, int status)
{
    c->attempt = 0;
    if (c->state == CLIENT_RECONNECTING && c->interrupted_cb != NULL)
        c->interrupted_cb(c, status, c->lost_reason, c->interrupted_arg);
    /* A connection's on_close or the callback may have disconnected. */
    if (c->state == CLIENT_RECONNECTING)
        schedule_attempt(c);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Would another attempt have a chance after this error? */
static bool retrying_mends(int status, const char *reason)
{
    switch (status) {
    case MP_ERR_NAME_TAKEN:
    case MP_ERR_FORMAT:
    case MP_ERR_TLS:
    case MP_ERR_NOMEM:
        return false;
    case MP_ERR_AUTH:
        return reason != NULL && ends_with(reason, try_again);
    default:
        return true;
    }
}

/* Done for good: the lost callback, and mp_client_run() returns. */
static void give_up(struct mp_client *c, int status)
{
    c->state = CLIENT_DONE;
    c->attempt = 0;
    if (c->lost_cb != NULL)
        c->lost_cb(c, status, c->lost_arg);
    if (c->own_base)
        event_base_loopbreak(c->base);
}

static void attempt_failed(struct mp_client *c, int status, const char *reason)
{
    if (c->lost_reason[0] == '\0' && reason != NULL)
        snprintf(c->lost_reason, sizeof c->lost_reason, "%s", reason);
    if (!retrying_mends(status, c->lost_reason) ||
        (c->reconnect_max_attempts > 0 &&
         c->attempt >= c->reconnect_max_attempts)) {
        give_up(c, status);
        return;
    }
    c->state = CLIENT_RECONNECTING;
    schedule_attempt(c);
}

void reconnect_attempt_start(struct mp_client *c)
{
    int rc = fresh_link(c);

    if (rc == MP_OK)
        rc = login_start(c);
    /* An address that does not resolve now may resolve later. */
    if (rc != MP_OK)
        attempt_failed(c, rc, NULL);
}

bool reconnect_login_failed(struct mp_client *c, int status,
                            const char **reason)
{
    bool unreachable = status == MP_ERR_CONNECT ||
                       (status == MP_ERR_TIMEOUT &&
                        c->state == CLIENT_CONNECTING);

    if (c->attempt > 0) {
        attempt_failed(c, status, *reason);
        return true;
    }
    if (!unreachable)
        return false;
    if (reconnect_failover(c, status) == MP_OK)
        return true;
    if (c->addresses_tried > 0)
        *reason = c->lost_reason;
    return false;
}

bool reconnect_logged_in(struct mp_client *c)
{
    c->addresses_tried = 0;
    c->failover_reason[0] = '\0';
    if (c->attempt == 0)
        return false;
    c->attempt = 0;
    presence_rewatch(c);
    if (c->reconnected_cb != NULL)
        c->reconnected_cb(c, c->reconnected_arg);
    return true;
}

int reconnect_stop(struct mp_client *c, mp_disconnected_cb cb, void *arg)
{
    mp_dialer_free(c->dialer);
    c->dialer = NULL;
    client_release_bev(c);
    presence_end(c, MP_ERR_CLOSED, false);
    c->attempt = 0;
    c->deferred_error = 0;
    c->state = CLIENT_CLOSING;
    c->disconnected_cb = cb;
    c->disconnected_arg = arg;
    /* Complete from the loop, as a disconnect always does (timer_cb). */
    client_set_timer(c, 0);
    return MP_OK;
}

/* ------------------------------------------------------------------------
 * Public API
 */

void mp_client_on_interrupted(struct mp_client *c, mp_interrupted_cb cb,
                              void *arg)
{
    c->interrupted_cb = cb;
    c->interrupted_arg = arg;
}

void mp_client_on_reconnecting(struct mp_client *c, mp_reconnecting_cb cb,
                               void *arg)
{
    c->reconnecting_cb = cb;
    c->reconnecting_arg = arg;
}

void mp_client_on_reconnected(struct mp_client *c, mp_reconnected_cb cb,
                              void *arg)
{
    c->reconnected_cb = cb;
    c->reconnected_arg = arg;
}

const char *mp_client_address(const struct mp_client *c)
{
    return c->address;
}
