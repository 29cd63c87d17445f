/* endpoint.c - what every endpoint kind shares (see endpoint.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "xalloc.h"

char endpoint_no_name[] = "";

void endpoint_init(struct endpoint *ep, const struct endpoint_ops *ops,
                   struct broker *broker, const char *peer)
{
    memset(ep, 0, sizeof *ep);
    ep->ops = ops;
    ep->broker = broker;
    ep->name = endpoint_no_name;
    ep->conns.owner = ep;
    snprintf(ep->peer, sizeof ep->peer, "%s", peer);
}

void endpoint_set_name(struct endpoint *ep, const char *name, size_t len)
{
    char *copy = mp_xmalloc(len + 1);

    memcpy(copy, name, len);
    copy[len] = '\0';
    endpoint_clear(ep);
    ep->name = copy;
    ep->name_len = len;
}

void endpoint_clear(struct endpoint *ep)
{
    if (ep->name != endpoint_no_name)
        free(ep->name);
    ep->name = endpoint_no_name;
    ep->name_len = 0;
}
