/* endpoint.c - what every endpoint kind shares (see endpoint.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "message.h"
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

void endpoint_send_notice(struct endpoint *ep, enum mp_meta meta,
                          const char *other_client, size_t other_client_len,
                          const char *connection_id, size_t connection_id_len,
                          const char *reason, struct endpoint *sender)
{
    struct mp_message msg;

    mp_zero(&msg, sizeof msg);
    msg.meta = (uint8_t)meta;
    mp_message_set_other_client(&msg, other_client, other_client_len);
    mp_message_set_connection_id(&msg, connection_id, connection_id_len);
    if (reason != NULL)
        mp_message_set_data(&msg, reason, strlen(reason));
    ep->ops->deliver(ep, &msg, NULL, sender);
    mp_message_clear(&msg);
}

void endpoint_clear(struct endpoint *ep)
{
    if (ep->name != endpoint_no_name)
        free(ep->name);
    ep->name = endpoint_no_name;
    ep->name_len = 0;
}
