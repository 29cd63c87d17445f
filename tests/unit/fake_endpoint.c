/* fake_endpoint.c - a recording endpoint for unit tests (see the header). */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include "fake_endpoint.h"
#include "router.h"

static struct fake_endpoint *fake_of(struct endpoint *ep)
{
    return (struct fake_endpoint *)(void *)ep; /* ep is the first member */
}

static int fake_deliver(struct endpoint *to, const struct mp_message *msg,
                        const struct wire_data *wire, struct endpoint *sender)
{
    struct fake_endpoint *f = fake_of(to);
    struct delivered *d;

    cr_assert_lt(f->n_got, FAKE_MAX_DELIVERED, "too many deliveries");
    d = &f->got[f->n_got++];
    memset(d, 0, sizeof *d);
    d->msg.meta = msg->meta;
    d->msg.level = msg->level;
    mp_message_set_other_client(&d->msg, msg->other_client,
                                msg->other_client_len);
    mp_message_set_connection_id(&d->msg, msg->connection_id,
                                 msg->connection_id_len);
    if (wire != NULL)
        mp_message_set_data(&d->msg, wire->bytes, wire->len);
    else if (msg->has_data)
        mp_message_set_data(&d->msg, msg->data, msg->data_len);
    d->as_wire = wire != NULL;
    d->sender = sender;
    return 0;
}

static void fake_set_reading(struct endpoint *ep, bool reading)
{
    fake_of(ep)->reading = reading;
    fake_of(ep)->reading_changes++;
}

static bool fake_bad_message(struct endpoint *ep, const char *why)
{
    (void)why;
    fake_of(ep)->bad_messages++;
    return false;
}

static void fake_close(struct endpoint *ep, const char *reason)
{
    fake_of(ep)->closed = reason;
    router_unregister(ep, true);
}

static void fake_credit(struct endpoint *ep, struct conn *conn,
                        const struct endpoint *receiver, uint64_t bytes)
{
    struct fake_endpoint *f = fake_of(ep);

    (void)conn;
    (void)receiver;
    f->granted += bytes;
    f->grants++;
}

static const struct endpoint_ops fake_ops = {
    .deliver = fake_deliver,
    .set_reading = fake_set_reading,
    .bad_message = fake_bad_message,
    .close = fake_close,
    .credit = fake_credit,
};

void fake_endpoint_init(struct fake_endpoint *f, struct broker *b)
{
    memset(f, 0, sizeof *f);
    endpoint_init(&f->ep, &fake_ops, b, "fake");
    f->reading = true;
}

void fake_endpoint_login(struct fake_endpoint *f, const char *name)
{
    const char *reason = NULL;

    endpoint_set_name(&f->ep, name, strlen(name));
    cr_assert_eq(router_register(&f->ep, &reason), 0, "register: %s", reason);
}

void fake_endpoint_reset(struct fake_endpoint *f)
{
    for (size_t i = 0; i < f->n_got; i++)
        mp_message_clear(&f->got[i].msg);
    f->n_got = 0;
}

void fake_endpoint_free(struct fake_endpoint *f)
{
    router_unregister(&f->ep, false);
    flow_release(&f->ep);
    fake_endpoint_reset(f);
    endpoint_clear(&f->ep);
}
