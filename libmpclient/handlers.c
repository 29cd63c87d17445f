/*
 * handlers.c - the protocols this client accepts: mp_client_handle()
 * registers a callback per protocol name, and a peer's Syn (conn.c) is
 * accepted through it or refused with UnknownProto, as the original's
 * MappedConnectionHandler did.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "client-internal.h"

static struct handler *find(struct mp_client *c, const char *protocol,
                            size_t len)
{
    struct handler *h;

    SLIST_FOREACH(h, &c->handlers, entry) {
        if (strlen(h->protocol) == len &&
            memcmp(h->protocol, protocol, len) == 0)
            return h;
    }
    return NULL;
}

static void handler_free(struct handler *h)
{
    free(h->protocol);
    free(h);
}

int mp_client_handle(struct mp_client *c, const char *protocol,
                     mp_connection_cb on_connection, void *arg)
{
    if (c == NULL || protocol == NULL || on_connection == NULL)
        return MP_ERR_INVALID;
    return handler_add(c, protocol, on_connection, arg, NULL);
}

int handler_add(struct mp_client *c, const char *protocol,
                mp_connection_cb on_connection, void *arg,
                mp_request_cb on_request)
{
    struct handler *h;

    if (find(c, protocol, strlen(protocol)) != NULL)
        return MP_ERR_EXISTS;
    h = calloc(1, sizeof *h);
    if (h == NULL || (h->protocol = strdup(protocol)) == NULL) {
        free(h);
        return MP_ERR_NOMEM;
    }
    h->on_connection = on_connection;
    h->arg = arg;
    h->on_request = on_request;
    SLIST_INSERT_HEAD(&c->handlers, h, entry);
    return MP_OK;
}

int mp_client_unhandle(struct mp_client *c, const char *protocol)
{
    struct handler *h;

    if (c == NULL || protocol == NULL)
        return MP_ERR_INVALID;
    h = find(c, protocol, strlen(protocol));
    if (h == NULL)
        return MP_ERR_INVALID;
    SLIST_REMOVE(&c->handlers, h, handler, entry);
    handler_free(h);
    return MP_OK;
}

const struct handler *handler_find(struct mp_client *c, const void *protocol,
                                   size_t len)
{
    return find(c, protocol ? protocol : "", len);
}

void handlers_free(struct mp_client *c)
{
    while (!SLIST_EMPTY(&c->handlers)) {
        struct handler *h = SLIST_FIRST(&c->handlers);
        SLIST_REMOVE_HEAD(&c->handlers, entry);
        handler_free(h);
    }
}
