/*
 * Unit tests: per-connection credit (broker/credit.c) between fake
 * endpoints: what a Data costs, the grants' syntax, a level-2 sender's
 * count, a level-1 sender's stall, the grants made for a level-1
 * receiver, and what ending a connection releases.
 */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include <mp/protocol.h>

#include "broker.h"
#include "conn_table.h"
#include "credit.h"
#include "fake_endpoint.h"
#include "flow.h"

static struct broker *b;
static struct fake_endpoint s, r;
static struct conn *conn;

enum { WINDOW = 4096 };

/* s opens a connection to r; both at `level`, clients of ours. */
static void open_between(unsigned s_level, unsigned r_level)
{
    s.ep.level = (uint8_t)s_level;
    r.ep.level = (uint8_t)r_level;
    conn = conn_table_add(b->conns, "s:1", 3, &s.ep.conns, &r.ep.conns, NULL);
    cr_assert_not_null(conn);
    credit_open(conn, WINDOW);
}

static void setup(void)
{
    b = broker_new();
    cr_assert_not_null(b);
    fake_endpoint_init(&s, b);
    fake_endpoint_init(&r, b);
    s.ep.is_client = r.ep.is_client = true;
}

static void teardown(void)
{
    fake_endpoint_free(&s);
    fake_endpoint_free(&r);
    broker_free(b);
}

TestSuite(credit, .init = setup, .fini = teardown);

Test(credit, a_message_costs_its_data_and_64)
{
    cr_assert_eq(credit_cost(0), MP_CREDIT_MESSAGE_COST);
    cr_assert_eq(credit_cost(1000), 1064);
}

Test(credit, grants_are_decimal_from_1_to_2147483647)
{
    static const char *const good[] = {"1", "9", "10", "65536",
                                       "2147483647"};
    static const char *const bad[] = {"", "0", "00", "01", "-1", "+1", " 1",
                                      "1 ", "1.0", "1e3", "0x10", "2147483648",
                                      "4294967296", "99999999999", "a"};
    uint32_t n;

    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        cr_assert(credit_parse((const unsigned char *)good[i],
                               strlen(good[i]), &n), "%s", good[i]);
        cr_assert_eq(n, strtoul(good[i], NULL, 10));
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!credit_parse((const unsigned char *)bad[i], strlen(bad[i]),
                                &n), "\"%s\" taken", bad[i]);
    cr_assert(!credit_parse(NULL, 0, &n));
}

/* Any message fits: the one that takes the credit to zero or below is
 * sent; then nothing until a grant. */
Test(credit, a_level2_sender_holds_its_window)
{
    open_between(2, 2);
    for (int i = 0; i < 4; i++) {
        cr_assert(credit_available(conn, &s.ep));
        credit_spend(conn, &s.ep, &r.ep, 1000); /* 1064 each */
    }
    cr_assert(!credit_available(conn, &s.ep));
    /* The other direction is untouched. */
    cr_assert(credit_available(conn, &r.ep));
    cr_assert(credit_grant(conn, &r.ep, 1064));
    cr_assert_eq(s.granted, 1064);
    cr_assert(credit_available(conn, &s.ep));
    /* A level-2 sender is never paused: credit is its own business. */
    cr_assert_eq(s.reading_changes, 0);
    cr_assert_eq(r.grants, 0);
}

Test(credit, a_grant_past_the_maximum_changes_nothing)
{
    open_between(2, 2);
    cr_assert(credit_grant(conn, &r.ep, MP_CREDIT_MAX - WINDOW));
    cr_assert(!credit_grant(conn, &r.ep, 1));
    cr_assert_eq(s.grants, 1);
    cr_assert_eq(s.granted, MP_CREDIT_MAX - WINDOW);
    for (int i = 0; i < 2; i++)
        credit_spend(conn, &s.ep, &r.ep, 0);
    cr_assert(credit_grant(conn, &r.ep, 128));
}

Test(credit, a_level1_sender_stalls_without_credit_and_resumes)
{
    open_between(1, 2);
    credit_spend(conn, &s.ep, &r.ep, WINDOW - 64 - 1);
    cr_assert(s.reading, "one byte of credit is left");
    credit_spend(conn, &s.ep, &r.ep, 0);
    cr_assert(!s.reading);
    cr_assert(flow_is_paused(&s.ep));
    cr_assert_eq(b->stats.credit_stalls, 1);
    /* Not enough to get above zero: still stalled. */
    cr_assert(credit_grant(conn, &r.ep, 63));
    cr_assert(!s.reading);
    cr_assert(credit_grant(conn, &r.ep, 1));
    cr_assert(s.reading);
    cr_assert_eq(s.reading_changes, 2);
}

/* A stall and a recipient's pause both hold a sender: it is read again
 * only when neither does. */
Test(credit, a_stall_and_a_pause_hold_a_sender_together)
{
    struct fake_endpoint full;

    fake_endpoint_init(&full, b);
    open_between(1, 2);
    credit_spend(conn, &s.ep, &r.ep, WINDOW);
    flow_pause(&s.ep, &full.ep);
    flow_resume_senders(&full.ep);
    cr_assert(!s.reading, "still out of credit");
    flow_pause(&s.ep, &full.ep);
    cr_assert(credit_grant(conn, &r.ep, WINDOW));
    cr_assert(!s.reading, "still paused by a full recipient");
    flow_resume_senders(&full.ep);
    cr_assert(s.reading);
    fake_endpoint_free(&full);
}

Test(credit, ending_a_connection_releases_its_stall)
{
    open_between(1, 2);
    credit_spend(conn, &s.ep, &r.ep, WINDOW);
    cr_assert(!s.reading);
    conn_table_remove(b->conns, conn);
    cr_assert(s.reading);
    cr_assert(!flow_is_paused(&s.ep));
}

/* A level-1 receiver sends no Credit: the broker grants for it, once
 * half a window was spent, so that a sender holds at least half. */
Test(credit, the_broker_grants_for_a_level1_receiver_by_half_windows)
{
    open_between(2, 1);
    credit_spend(conn, &s.ep, &r.ep, 1000);
    cr_assert_eq(s.grants, 0);
    credit_spend(conn, &s.ep, &r.ep, 1000);
    cr_assert_eq(s.grants, 1);
    cr_assert_eq(s.granted, 2128);
    for (int i = 0; i < 100; i++) {
        credit_spend(conn, &s.ep, &r.ep, 1000);
        cr_assert(credit_available(conn, &s.ep));
    }
    /* A message larger than the window is granted back at once. */
    credit_spend(conn, &s.ep, &r.ep, 10 * WINDOW);
    cr_assert(credit_available(conn, &s.ep));
}

/* Two level-1 clients behave as at level 1: the sender never stalls. */
Test(credit, level1_to_level1_never_stalls)
{
    open_between(1, 1);
    for (int i = 0; i < 1000; i++)
        credit_spend(conn, &s.ep, &r.ep, (size_t)i * 37);
    cr_assert(s.reading);
    cr_assert_eq(s.reading_changes, 0);
}
