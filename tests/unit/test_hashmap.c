/* Unit tests: the string-keyed hash table (broker/hashmap.c). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hashmap.h"

static struct hashmap *map;

static void setup(void)
{
    map = hashmap_new();
    cr_assert_not_null(map);
}

static void teardown(void)
{
    hashmap_free(map);
}

TestSuite(hashmap, .init = setup, .fini = teardown);

Test(hashmap, put_get_remove)
{
    int a = 1, b = 2;

    cr_assert_eq(hashmap_put(map, "alice", 5, &a), 0);
    cr_assert_eq(hashmap_put(map, "bob", 3, &b), 0);
    cr_assert_eq(hashmap_get(map, "alice", 5), &a);
    cr_assert_eq(hashmap_get(map, "bob", 3), &b);
    cr_assert_null(hashmap_get(map, "carol", 5));
    cr_assert_eq(hashmap_count(map), 2);
    cr_assert_eq(hashmap_remove(map, "alice", 5), &a);
    cr_assert_null(hashmap_get(map, "alice", 5));
    cr_assert_null(hashmap_remove(map, "alice", 5));
    cr_assert_eq(hashmap_count(map), 1);
}

Test(hashmap, keys_compare_by_length_and_bytes)
{
    int a = 1, b = 2;

    cr_assert_eq(hashmap_put(map, "ab", 2, &a), 0);
    cr_assert_eq(hashmap_put(map, "a\0b", 3, &b), 0);
    cr_assert_null(hashmap_get(map, "a", 1), "a prefix is another key");
    cr_assert_eq(hashmap_get(map, "a\0b", 3), &b);
    cr_assert_eq(hashmap_get(map, "ab", 2), &a);
}

Test(hashmap, grows_and_keeps_every_entry)
{
    enum { N = 5000 };
    static char keys[N][16];
    static int values[N];

    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "client%d", i);
        values[i] = i;
        cr_assert_eq(hashmap_put(map, keys[i], strlen(keys[i]), &values[i]), 0);
    }
    cr_assert_eq(hashmap_count(map), N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(hashmap_get(map, keys[i], strlen(keys[i])), &values[i]);
    for (int i = 0; i < N; i += 2)
        cr_assert_eq(hashmap_remove(map, keys[i], strlen(keys[i])), &values[i]);
    cr_assert_eq(hashmap_count(map), N / 2);
    for (int i = 0; i < N; i++) {
        void *v = hashmap_get(map, keys[i], strlen(keys[i]));
        if (i % 2 == 0)
            cr_assert_null(v);
        else
            cr_assert_eq(v, &values[i]);
    }
}

Test(hashmap, any_drains_the_map)
{
    static char keys[10][4];
    int n = 0;
    char *k;

    for (int i = 0; i < 10; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        hashmap_put(map, keys[i], strlen(keys[i]), keys[i]);
    }
    while ((k = hashmap_any(map)) != NULL) {
        cr_assert_eq(hashmap_remove(map, k, strlen(k)), k);
        n++;
    }
    cr_assert_eq(n, 10);
    cr_assert_null(hashmap_any(map));
}
