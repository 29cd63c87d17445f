/* presence.c - Watch, Unwatch, Presence and List (see presence.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "broker.h"
#include "endpoint.h"
#include "hashmap.h"
#include "log.h"
#include "message.h"
#include "plugin_loader.h"
#include "presence.h"
#include "router.h"
#include "xalloc.h"

/* A List reply's data, at most, per message. */
#define LIST_CHUNK 65536

struct watch;
LIST_HEAD(watch_list, watch);

/* The watches on one key (a name, or a prefix). */
struct watched {
    char key[MP_NAME_MAX + 1];
    size_t len;
    struct watch_list watches;
};

/* One client's watches. The map key is the endpoint pointer's bytes. */
struct watcher {
    struct endpoint *ep;
    struct watch_list watches;
    unsigned count;
    unsigned told;              /* the notice generation it was told in */
};

struct watch {
    struct watcher *watcher;
    struct watched *on;
    bool prefix;
    LIST_ENTRY(watch) of_watcher;
    LIST_ENTRY(watch) of_key;
};

/* A name whose state changed within the coalescing window. */
struct change {
    char name[MP_NAME_MAX + 1];
    size_t len;
    bool was_online;            /* at the window's start */
};

struct presence {
    struct broker *broker;
    struct hashmap *names;      /* name -> struct watched (exact) */
    struct hashmap *prefixes;   /* prefix -> struct watched */
    struct hashmap *watchers;   /* endpoint pointer -> struct watcher */
    size_t prefix_lengths[MP_NAME_MAX + 1]; /* prefix watches by length */
    struct hashmap *changes;    /* name -> struct change */
    struct event *flush;        /* ends the coalescing window */
    unsigned generation;        /* one per notice: a watcher told once */
    bool muted;
};

static void flush_cb(evutil_socket_t fd, short what, void *arg);

struct presence *presence_new(struct broker *b)
{
    struct presence *p = mp_xcalloc(1, sizeof *p);

    p->broker = b;
    p->names = mp_xhashmap_new();
    p->prefixes = mp_xhashmap_new();
    p->watchers = mp_xhashmap_new();
    p->changes = mp_xhashmap_new();
    p->flush = evtimer_new(b->base, flush_cb, p);
    if (p->flush == NULL)
        mp_out_of_memory("the presence timer", sizeof *p);
    return p;
}

static void drain_changes(struct presence *p)
{
    struct change *c;

    while ((c = hashmap_any(p->changes)) != NULL) {
        hashmap_remove(p->changes, c->name, c->len);
        free(c);
    }
}

void presence_free(struct presence *p)
{
    struct watcher *w;

    if (p == NULL)
        return;
    while ((w = hashmap_any(p->watchers)) != NULL)
        presence_forget_watcher(p, w->ep);
    drain_changes(p);
    event_free(p->flush);
    hashmap_free(p->names);
    hashmap_free(p->prefixes);
    hashmap_free(p->watchers);
    hashmap_free(p->changes);
    free(p);
}

void presence_mute(struct presence *p)
{
    p->muted = true;
    evtimer_del(p->flush);
    drain_changes(p);
}

/* ------------------------------------------------------------------------
 * Telling
 */

static bool is_online(const struct presence *p, const char *name, size_t len)
{
    return hashmap_get(p->broker->names, name, len) != NULL;
}

/* `asker`: the client whose request this answers, paused (flow.h) if
 * its own queue is full, so that requests cost no more than it reads;
 * NULL for a notice. */
static void send_presence(struct presence *p, struct endpoint *to,
                          const char *name, size_t len, bool online,
                          struct endpoint *asker)
{
    p->broker->stats.presence_notices++;
    endpoint_send_notice(to, MP_META_PRESENCE, name, len, "", 0,
                         online ? "online" : "offline", asker);
}

static bool may_see(const struct presence *p, const struct endpoint *who,
                    const char *name)
{
    return plugins_authorize_see(&p->broker->plugins, who->name, name);
}

/* Tell each watcher of the watches on `w` once (this generation). */
static void tell_watchers(struct presence *p, struct watched *w,
                          const char *name, size_t len, bool online)
{
    struct watch *watch;

    if (w == NULL)
        return;
    LIST_FOREACH(watch, &w->watches, of_key) {
        struct watcher *who = watch->watcher;

        if (who->told == p->generation)
            continue;
        who->told = p->generation;
        /* Never name a hidden name, even to say it left. */
        if (may_see(p, who->ep, name))
            send_presence(p, who->ep, name, len, online, NULL);
    }
}

static void notify(struct presence *p, const char *name, size_t len,
                   bool online)
{
    p->generation++;
    tell_watchers(p, hashmap_get(p->names, name, len), name, len, online);
    for (size_t l = 0; l <= len; l++) {
        if (p->prefix_lengths[l] > 0)
            tell_watchers(p, hashmap_get(p->prefixes, name, l), name, len,
                          online);
    }
}

/* The window ends: a name is reported if it is not as it was. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct presence *p = arg;
    struct change *c;

    (void)fd;
    (void)what;
    while ((c = hashmap_any(p->changes)) != NULL) {
        bool online = is_online(p, c->name, c->len);

        hashmap_remove(p->changes, c->name, c->len);
        if (online != c->was_online && !p->muted)
            notify(p, c->name, c->len, online);
        free(c);
    }
}

static bool watched_at_all(const struct presence *p)
{
    return hashmap_count(p->watchers) > 0;
}

void presence_changed(struct presence *p, const char *name, size_t len)
{
    struct change *c;
    unsigned ms;
    struct timeval tv;

    /* Nobody watches: nothing to remember (a Watch reads the state). */
    if (p == NULL || p->muted || !watched_at_all(p) ||
        hashmap_get(p->changes, name, len) != NULL)
        return;
    ms = p->broker->conf.presence_coalesce_ms;
    tv = (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    c = mp_xcalloc(1, sizeof *c);
    memcpy(c->name, name, len);
    c->len = len;
    /* Called after the change: it was the other way before. */
    c->was_online = !is_online(p, name, len);
    mp_xhashmap_put(p->changes, c->name, c->len, c);
    if (!evtimer_pending(p->flush, NULL))
        evtimer_add(p->flush, &tv);
}

/* ------------------------------------------------------------------------
 * Watches
 */

static struct watcher *watcher_of(struct presence *p, struct endpoint *ep,
                                  bool create)
{
    struct watcher *w = hashmap_get(p->watchers, (const char *)&ep,
                                    sizeof ep);

    if (w != NULL || !create)
        return w;
    w = mp_xcalloc(1, sizeof *w);
    w->ep = ep;
    LIST_INIT(&w->watches);
    mp_xhashmap_put(p->watchers, (const char *)&w->ep, sizeof w->ep, w);
    return w;
}

static struct hashmap *index_of(struct presence *p, bool prefix)
{
    return prefix ? p->prefixes : p->names;
}

static struct watch *find_watch(const struct watcher *w, const char *key,
                                size_t len, bool prefix)
{
    struct watch *watch;

    LIST_FOREACH(watch, &w->watches, of_watcher) {
        if (watch->prefix == prefix && watch->on->len == len &&
            memcmp(watch->on->key, key, len) == 0)
            return watch;
    }
    return NULL;
}

static void add_watch(struct presence *p, struct watcher *w, const char *key,
                      size_t len, bool prefix)
{
    struct hashmap *index = index_of(p, prefix);
    struct watched *on = hashmap_get(index, key, len);
    struct watch *watch = mp_xcalloc(1, sizeof *watch);

    if (on == NULL) {
        on = mp_xcalloc(1, sizeof *on);
        memcpy(on->key, key, len);
        on->len = len;
        LIST_INIT(&on->watches);
        mp_xhashmap_put(index, on->key, on->len, on);
    }
    watch->watcher = w;
    watch->on = on;
    watch->prefix = prefix;
    LIST_INSERT_HEAD(&w->watches, watch, of_watcher);
    LIST_INSERT_HEAD(&on->watches, watch, of_key);
    w->count++;
    if (prefix)
        p->prefix_lengths[len]++;
}

static void remove_watch(struct presence *p, struct watch *watch)
{
    struct watched *on = watch->on;

    LIST_REMOVE(watch, of_watcher);
    LIST_REMOVE(watch, of_key);
    watch->watcher->count--;
    if (watch->prefix)
        p->prefix_lengths[on->len]--;
    if (LIST_EMPTY(&on->watches)) {
        hashmap_remove(index_of(p, watch->prefix), on->key, on->len);
        free(on);
    }
    free(watch);
}

static void drop_watcher_if_idle(struct presence *p, struct watcher *w)
{
    if (w->count > 0)
        return;
    hashmap_remove(p->watchers, (const char *)&w->ep, sizeof w->ep);
    free(w);
}

void presence_forget_watcher(struct presence *p, struct endpoint *ep)
{
    struct watcher *w = p != NULL ? watcher_of(p, ep, false) : NULL;

    if (w == NULL)
        return;
    while (!LIST_EMPTY(&w->watches))
        remove_watch(p, LIST_FIRST(&w->watches));
    drop_watcher_if_idle(p, w);
}

/* A Watch's data: absent (a name) or "prefix". */
static bool watch_kind(const struct mp_message *msg, bool *prefix)
{
    static const char word[] = "prefix";

    *prefix = msg->has_data;
    return !msg->has_data || (msg->data_len == sizeof word - 1 &&
                              memcmp(msg->data, word, sizeof word - 1) == 0);
}

static void watch(struct presence *p, struct endpoint *from,
                  const struct mp_message *msg, bool prefix)
{
    struct watcher *w = watcher_of(p, from, true);

    if (find_watch(w, msg->other_client, msg->other_client_len, prefix)) {
        /* Held already: not counted twice; a name's state is told. */
    } else if (w->count >= p->broker->conf.max_watches_per_client) {
        drop_watcher_if_idle(p, w);
        router_answer_wat(from, msg, "too many watches");
        return;
    } else {
        add_watch(p, w, msg->other_client, msg->other_client_len, prefix);
    }
    /* A name it may not see is offline to it: the answer must not tell
     * whether a hidden name is online. */
    if (!prefix)
        send_presence(p, from, msg->other_client, msg->other_client_len,
                      is_online(p, msg->other_client, msg->other_client_len) &&
                          may_see(p, from, msg->other_client),
                      from);
}

static void unwatch(struct presence *p, struct endpoint *from,
                    const struct mp_message *msg, bool prefix)
{
    struct watcher *w = watcher_of(p, from, false);
    struct watch *found = w ? find_watch(w, msg->other_client,
                                         msg->other_client_len, prefix)
                            : NULL;

    if (found == NULL)
        return;
    remove_watch(p, found);
    drop_watcher_if_idle(p, w);
}

/* ------------------------------------------------------------------------
 * List
 */

struct list_reply {
    struct presence *p;
    struct endpoint *to;
    const struct mp_message *request;
    char data[LIST_CHUNK];
    size_t used;
    unsigned names;
    bool truncated;
};

static void send_list(struct list_reply *r, const void *data, size_t len,
                      bool has_data)
{
    const struct mp_message *q = r->request;
    struct mp_message msg;

    mp_zero(&msg, sizeof msg);
    msg.meta = MP_META_LIST;
    mp_message_set_other_client(&msg, q->other_client, q->other_client_len);
    mp_message_set_connection_id(&msg, q->connection_id,
                                 q->connection_id_len);
    if (has_data && mp_message_set_data(&msg, data, len) != 0)
        mp_out_of_memory("a List reply", len);
    /* The asker is paused if its queue fills: a List costs a pass over
     * every name, so a client asks no faster than it reads. */
    r->to->ops->deliver(r->to, &msg, NULL, r->to);
    mp_message_clear(&msg);
}

static bool list_one(void *value, void *arg)
{
    struct list_reply *r = arg;
    const struct endpoint *ep = value;
    const struct mp_message *q = r->request;

    if (ep->name_len < q->other_client_len ||
        memcmp(ep->name, q->other_client, q->other_client_len) != 0 ||
        !may_see(r->p, r->to, ep->name))
        return true;
    if (r->names >= r->p->broker->conf.max_list_names) {
        r->truncated = true;
        return false;
    }
    if (r->used + ep->name_len + 1 > sizeof r->data) {
        send_list(r, r->data, r->used, true);
        r->used = 0;
    }
    if (r->used > 0)
        r->data[r->used++] = '\n';
    memcpy(r->data + r->used, ep->name, ep->name_len);
    r->used += ep->name_len;
    r->names++;
    return true;
}

static void list(struct presence *p, struct endpoint *from,
                 const struct mp_message *msg)
{
    struct list_reply *r = mp_xcalloc(1, sizeof *r);

    r->p = p;
    r->to = from;
    r->request = msg;
    p->broker->stats.lists++;
    hashmap_each(p->broker->names, list_one, r);
    if (r->used > 0)
        send_list(r, r->data, r->used, true);
    /* The end: absent data, or empty data if names were left out (a
     * message with names is never empty, so the two cannot be confused
     * with one). */
    send_list(r, "", 0, r->truncated);
    free(r);
}

void presence_request(struct endpoint *from, const struct mp_message *msg)
{
    struct presence *p = from->broker->presence;
    bool prefix;

    if (msg->meta == MP_META_LIST) {
        list(p, from, msg);
        return;
    }
    if (!watch_kind(msg, &prefix)) {
        router_answer_wat(from, msg,
                          "malformed watch: data must be absent or \"prefix\"");
        return;
    }
    if (!prefix && msg->other_client_len == 0) {
        router_answer_wat(from, msg, "watch of an empty name");
        return;
    }
    if (msg->meta == MP_META_WATCH)
        watch(p, from, msg, prefix);
    else
        unwatch(p, from, msg, prefix);
}
