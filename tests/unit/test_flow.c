/*
 * Unit tests: backpressure between endpoints (broker/flow.c), with fake
 * endpoints that record when they are told to stop or start reading.
 */
#include "config.h"

#include <criterion/criterion.h>

#include "broker.h"
#include "fake_endpoint.h"
#include "flow.h"

static struct broker *b;
static struct fake_endpoint sender, slow1, slow2;

static void setup(void)
{
    b = broker_new();
    cr_assert_not_null(b);
    fake_endpoint_init(&sender, b);
    fake_endpoint_init(&slow1, b);
    fake_endpoint_init(&slow2, b);
}

static void teardown(void)
{
    fake_endpoint_free(&sender);
    fake_endpoint_free(&slow1);
    fake_endpoint_free(&slow2);
    broker_free(b);
}

TestSuite(flow, .init = setup, .fini = teardown);

Test(flow, a_full_recipient_pauses_its_sender_until_it_drains)
{
    flow_pause(&sender.ep, &slow1.ep);
    cr_assert(!sender.reading);
    cr_assert(flow_is_paused(&sender.ep));
    cr_assert_eq(b->stats.backpressure_stalls, 1);
    flow_pause(&sender.ep, &slow1.ep); /* again: no change */
    cr_assert_eq(sender.reading_changes, 1);
    flow_resume_senders(&slow1.ep);
    cr_assert(sender.reading);
    cr_assert(!flow_is_paused(&sender.ep));
    cr_assert_eq(sender.reading_changes, 2);
}

Test(flow, a_sender_held_by_two_resumes_when_both_drain)
{
    flow_pause(&sender.ep, &slow1.ep);
    flow_pause(&sender.ep, &slow2.ep);
    cr_assert_eq(sender.reading_changes, 1);
    cr_assert_eq(b->stats.backpressure_stalls, 1);
    flow_resume_senders(&slow1.ep);
    cr_assert(!sender.reading);
    flow_resume_senders(&slow2.ep);
    cr_assert(sender.reading);
}

Test(flow, a_closing_sender_is_neither_paused_nor_resumed)
{
    sender.ep.closing = true;
    flow_pause(&sender.ep, &slow1.ep);
    cr_assert_eq(sender.reading_changes, 0);
    cr_assert(!flow_is_paused(&sender.ep));
}

Test(flow, a_departing_recipient_releases_its_senders)
{
    flow_pause(&sender.ep, &slow1.ep);
    flow_release(&slow1.ep);
    cr_assert(sender.reading);
    cr_assert(!flow_is_paused(&sender.ep));
}

Test(flow, a_departing_sender_leaves_no_trace_in_its_recipients)
{
    flow_pause(&sender.ep, &slow1.ep);
    flow_release(&sender.ep);
    cr_assert_eq(slow1.ep.flow.paused.count, 0);
    flow_resume_senders(&slow1.ep); /* must not touch the departed */
    cr_assert_eq(sender.reading_changes, 1);
}
