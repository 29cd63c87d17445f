/*
 * presence.c - presence at protocol level 2: Watch and Unwatch a name or
 * a prefix, the broker's Presence notices, and List, whose replies are
 * gathered into one list for the application (doc/protocol.md,
 * "Presence: Watch, Unwatch, Presence, List").
 *
 * The watches held are kept (c->watches) so that the broker's cap
 * (AuthOk's `watches`) is checked before a Watch goes out, that a Watch
 * held already is not counted twice, as the broker counts, and that a
 * client that reconnects can send them again (presence_rewatch). A List
 * request is kept (c->lists) until its last reply, with the names so far.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"
#include "name.h"

/* What one List may gather: the broker sends at most
 * limits.max_list_names names (10000 by default, 2.5 MB at most); a
 * broker that goes on is cut off here, and the list marked truncated. */
#define LIST_MAX_BYTES (16u * 1024 * 1024)

/* ------------------------------------------------------------------------
 * Checks shared by the requests
 */

static int check_session(const struct mp_client *c)
{
    if (c == NULL)
        return MP_ERR_INVALID;
    if (c->state != CLIENT_READY)
        return reconnect_state_error(c);
    return c->level >= 2 ? MP_OK : MP_ERR_LEVEL;
}

/* A name by the broker's rules; a prefix is any beginning of one: at
 * most MP_NAME_MAX bytes, no control character (it may be empty, and
 * cut a UTF-8 sequence or stop before a ':'... which no name has, but a
 * prefix with one simply matches nothing). */
static int check_target(const char *s, bool prefix)
{
    size_t len;

    if (s == NULL)
        return MP_ERR_INVALID;
    len = strlen(s);
    if (!prefix)
        return mp_name_check(s, len) == NULL ? MP_OK : MP_ERR_NAME;
    if (len > MP_NAME_MAX)
        return MP_ERR_NAME;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return MP_ERR_NAME;
    }
    return MP_OK;
}

/* ------------------------------------------------------------------------
 * Watch and Unwatch
 */

static struct watch *watch_find(struct mp_client *c, const char *s,
                                size_t len, bool prefix)
{
    struct watch *w;

    SLIST_FOREACH(w, &c->watches, entry) {
        if (w->prefix == prefix && w->len == len &&
            memcmp(w->name, s, len) == 0)
            return w;
    }
    return NULL;
}

/* A name's Watch has absent data; a prefix's has the data "prefix". */
static int send_watch(struct mp_client *c, enum mp_meta meta, const char *s,
                      size_t len, bool prefix)
{
    static const char word[] = "prefix";

    return send_message(c, NULL, meta, s, len, "", 0, prefix ? word : NULL,
                        prefix ? sizeof word - 1 : 0, prefix, NULL, NULL);
}

static int watch(struct mp_client *c, const char *s, bool prefix)
{
    int rc = check_session(c);
    size_t len;
    struct watch *w;

    if (rc == MP_OK)
        rc = check_target(s, prefix);
    if (rc != MP_OK)
        return rc;
    len = strlen(s);
    /* Held already: asked again (a name's state comes back), not
     * counted again. */
    if (watch_find(c, s, len, prefix) != NULL)
        return send_watch(c, MP_META_WATCH, s, len, prefix);
    if (c->max_watches > 0 && c->n_watches >= c->max_watches)
        return MP_ERR_LIMIT;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return MP_ERR_NOMEM;
    w->prefix = prefix;
    w->len = len;
    memcpy(w->name, s, len);
    rc = send_watch(c, MP_META_WATCH, s, len, prefix);
    if (rc != MP_OK) {
        free(w);
        return rc;
    }
    SLIST_INSERT_HEAD(&c->watches, w, entry);
    c->n_watches++;
    return MP_OK;
}

static int unwatch(struct mp_client *c, const char *s, bool prefix)
{
    int rc = check_session(c);
    struct watch *w;

    if (rc == MP_OK)
        rc = check_target(s, prefix);
    if (rc != MP_OK)
        return rc;
    w = watch_find(c, s, strlen(s), prefix);
    if (w == NULL)
        return MP_ERR_INVALID;
    rc = send_watch(c, MP_META_UNWATCH, s, w->len, prefix);
    if (rc != MP_OK)
        return rc;
    SLIST_REMOVE(&c->watches, w, watch, entry);
    c->n_watches--;
    free(w);
    return MP_OK;
}

static void watches_free(struct mp_client *c)
{
    while (!SLIST_EMPTY(&c->watches)) {
        struct watch *w = SLIST_FIRST(&c->watches);
        SLIST_REMOVE_HEAD(&c->watches, entry);
        free(w);
    }
    c->n_watches = 0;
}

/* Presence: the name in other_client, "online" or "offline". */
void presence_handle(struct mp_client *c, struct mp_message *msg)
{
    bool online;

    if (msg->has_data && msg->data_len == 6 &&
        memcmp(msg->data, "online", 6) == 0)
        online = true;
    else if (msg->has_data && msg->data_len == 7 &&
             memcmp(msg->data, "offline", 7) == 0)
        online = false;
    else
        return; /* a state of a later level: not ours to guess */
    if (c->presence_cb != NULL && msg->other_client_len > 0)
        c->presence_cb(c, msg->other_client, online, c->presence_arg);
}

/* ------------------------------------------------------------------------
 * List
 */

static void list_free(struct list_request *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    free(r);
}

/* Take the names of one reply ("a\nb\nc"); false when out of memory. */
static bool list_add_names(struct list_request *r, const unsigned char *p,
                           size_t len)
{
    const unsigned char *end = p + len;

    while (p < end && !r->truncated) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (r->bytes + n > LIST_MAX_BYTES) {
            r->truncated = true;
            break;
        }
        if (n > 0) {
            if (r->n == r->cap) {
                size_t cap = r->cap ? r->cap * 2 : 64;
                char **names = realloc(r->names, cap * sizeof *names);
                if (names == NULL)
                    return false;
                r->names = names;
                r->cap = cap;
            }
            char *name = malloc(n + 1);
            if (name == NULL)
                return false;
            memcpy(name, p, n);
            name[n] = '\0';
            r->names[r->n++] = name;
            r->bytes += n + 1;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return true;
}

/* Unlink r, then tell the application (which may start another List). */
static void list_finish(struct mp_client *c, struct list_request *r,
                        int status)
{
    SLIST_REMOVE(&c->lists, r, list_request, entry);
    if (r->cb != NULL)
        r->cb(c, r->prefix, (const char *const *)r->names,
              status == MP_OK ? r->n : 0, r->truncated, status, r->arg);
    list_free(r);
}

/*
 * A reply: names, or the last one (absent data: complete; empty data:
 * the broker had more and left them out - a reply with names is never
 * empty). Replies to a request we do not have (a disconnect ended it)
 * are ignored. Out of memory, the list ends with what it has, marked
 * truncated.
 */
void list_handle(struct mp_client *c, struct mp_message *msg)
{
    struct list_request *r;

    SLIST_FOREACH(r, &c->lists, entry) {
        if (strcmp(r->id, msg->connection_id) == 0)
            break;
    }
    if (r == NULL)
        return;
    if (!msg->has_data) {
        list_finish(c, r, MP_OK);
        return;
    }
    if (msg->data_len == 0) {
        r->truncated = true;
        list_finish(c, r, MP_OK);
        return;
    }
    if (!list_add_names(r, msg->data, msg->data_len))
        r->truncated = true;
}

int mp_client_list(struct mp_client *c, const char *prefix, mp_list_cb cb,
                   void *arg)
{
    int rc = check_session(c);
    struct list_request *r;

    if (rc == MP_OK)
        rc = check_target(prefix, true);
    if (rc != MP_OK)
        return rc;
    if (cb == NULL)
        return MP_ERR_INVALID;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return MP_ERR_NOMEM;
    /* Our own ids, returned in each reply: "list:<hex counter>". */
    snprintf(r->id, sizeof r->id, "list:%lx", c->next_list);
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    r->cb = cb;
    r->arg = arg;
    rc = send_message(c, NULL, MP_META_LIST, prefix, strlen(prefix), r->id,
                      strlen(r->id), NULL, 0, false, NULL, NULL);
    if (rc != MP_OK) {
        free(r);
        return rc;
    }
    c->next_list++;
    SLIST_INSERT_HEAD(&c->lists, r, entry);
    return MP_OK;
}

void presence_end(struct mp_client *c, int status, bool keep_watches)
{
    /* A callback may start another List: it fails now (not READY). */
    while (!SLIST_EMPTY(&c->lists))
        list_finish(c, SLIST_FIRST(&c->lists), status);
    if (!keep_watches)
        watches_free(c);
}

/* A new session knows none of the old one's watches: each is sent again
 * (the broker answers a name's with its state). A session at level 1
 * cannot watch; the watches stay for a later one that can. */
void presence_rewatch(struct mp_client *c)
{
    struct watch *w;

    if (c->level < 2)
        return;
    SLIST_FOREACH(w, &c->watches, entry) {
        if (send_watch(c, MP_META_WATCH, w->name, w->len, w->prefix) != MP_OK)
            break;
    }
}

/* ------------------------------------------------------------------------
 * Public API
 */

void mp_client_on_presence(struct mp_client *c, mp_presence_cb cb, void *arg)
{
    c->presence_cb = cb;
    c->presence_arg = arg;
}

int mp_client_watch(struct mp_client *c, const char *name)
{
    return watch(c, name, false);
}

int mp_client_watch_prefix(struct mp_client *c, const char *prefix)
{
    return watch(c, prefix, true);
}

int mp_client_unwatch(struct mp_client *c, const char *name)
{
    return unwatch(c, name, false);
}

int mp_client_unwatch_prefix(struct mp_client *c, const char *prefix)
{
    return unwatch(c, prefix, true);
}
