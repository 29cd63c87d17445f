/* Unit tests: the connection table (broker/conn_table.c). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "conn_table.h"

static struct conn_table *table;
static struct conn_peer alice, bob, carol;

static void setup(void)
{
    table = conn_table_new(NULL);
    cr_assert_not_null(table);
    memset(&alice, 0, sizeof alice);
    memset(&bob, 0, sizeof bob);
    memset(&carol, 0, sizeof carol);
}

static void teardown(void)
{
    conn_table_free(table);
}

TestSuite(conn_table, .init = setup, .fini = teardown);

static struct conn *add(const char *id, struct conn_peer *a,
                        struct conn_peer *b)
{
    return conn_table_add(table, id, strlen(id), a, b, NULL);
}

Test(conn_table, add_find_remove)
{
    struct conn *c = add("alice:0", &alice, &bob);

    cr_assert_not_null(c);
    cr_assert_eq(c->state, CONN_PENDING);
    cr_assert_eq(conn_table_find(table, "alice:0", 7), c);
    cr_assert_eq(alice.count, 1);
    cr_assert_eq(bob.count, 1);
    conn_table_remove(table, c);
    cr_assert_null(conn_table_find(table, "alice:0", 7));
    cr_assert_eq(alice.count, 0);
    cr_assert_eq(bob.count, 0);
    cr_assert(LIST_EMPTY(&alice.links));
    cr_assert(LIST_EMPTY(&bob.links));
}

Test(conn_table, duplicate_id_is_refused)
{
    bool exists = false;

    cr_assert_not_null(add("alice:0", &alice, &bob));
    cr_assert_null(conn_table_add(table, "alice:0", 7, &alice, &carol,
                                  &exists));
    cr_assert(exists);
    cr_assert_eq(conn_table_count(table), 1);
    cr_assert_eq(carol.count, 0);
}

Test(conn_table, other_end)
{
    struct conn *c = add("alice:0", &alice, &bob);

    cr_assert_eq(conn_other_end(c, &alice), &bob);
    cr_assert_eq(conn_other_end(c, &bob), &alice);
    cr_assert_null(conn_other_end(c, &carol), "carol is not an end");
}

struct visits {
    struct conn_peer *seen[8];
    int n;
};

static void record(struct conn_peer *other, void *arg)
{
    struct visits *v = arg;

    cr_assert_lt(v->n, 8);
    v->seen[v->n++] = other;
}

Test(conn_table, remove_peer_visits_each_connection_and_unlinks_both_ends)
{
    struct visits v = {.n = 0};

    add("alice:0", &alice, &bob);
    add("alice:1", &alice, &bob);
    add("carol:0", &carol, &alice);
    add("bob:0", &bob, &carol);
    conn_table_remove_peer(table, &alice, record, &v);
    cr_assert_eq(v.n, 3);
    cr_assert_eq(alice.count, 0);
    cr_assert_eq(bob.count, 1, "bob keeps bob:0");
    cr_assert_eq(carol.count, 1, "carol keeps bob:0");
    cr_assert_eq(conn_table_count(table), 1);
    cr_assert_not_null(conn_table_find(table, "bob:0", 5));
    int bobs = 0, carols = 0;
    for (int i = 0; i < v.n; i++) {
        bobs += v.seen[i] == &bob;
        carols += v.seen[i] == &carol;
    }
    cr_assert_eq(bobs, 2);
    cr_assert_eq(carols, 1);
}

Test(conn_table, connection_to_self)
{
    struct visits v = {.n = 0};
    struct conn *c = add("alice:0", &alice, &alice);

    cr_assert_not_null(c);
    cr_assert_eq(alice.count, 2, "linked once as each end");
    cr_assert_eq(conn_other_end(c, &alice), &alice);
    conn_table_remove_peer(table, &alice, record, &v);
    cr_assert_eq(v.n, 1);
    cr_assert_eq(alice.count, 0);
    cr_assert_eq(conn_table_count(table), 0);
}

Test(conn_table, free_releases_remaining_connections)
{
    /* teardown frees with connections still in: valgrind/ASan check it. */
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "alice:%x", i);
        cr_assert_not_null(add(id, &alice, i % 2 ? &bob : &carol));
    }
    cr_assert_eq(conn_table_count(table), 100);
    cr_assert_eq(alice.count, 100);
}

Test(conn_table, overlong_id_is_refused)
{
    char id[300];

    memset(id, 'x', sizeof id);
    cr_assert_null(conn_table_add(table, id, 256, &alice, &bob, NULL));
    cr_assert_not_null(conn_table_add(table, id, 255, &alice, &bob, NULL));
}
