/* conn_table.c - the connection table (see conn_table.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conn_table.h"
#include "hashmap.h"
#include "xalloc.h"

struct conn_table {
    struct hashmap *by_id;
    void (*on_remove)(struct conn *conn);
};

struct conn_table *conn_table_new(void (*on_remove)(struct conn *conn))
{
    struct conn_table *table = mp_xcalloc(1, sizeof *table);

    table->by_id = mp_xhashmap_new();
    table->on_remove = on_remove;
    return table;
}

static void link_into(struct conn_peer *peer, struct conn_link *link,
                      struct conn *conn)
{
    link->conn = conn;
    LIST_INSERT_HEAD(&peer->links, link, entry);
    peer->count++;
}

static void unlink_from(struct conn_peer *peer, struct conn_link *link)
{
    LIST_REMOVE(link, entry);
    peer->count--;
}

struct conn *conn_table_find(const struct conn_table *table, const char *id,
                             size_t id_len)
{
    return hashmap_get(table->by_id, id, id_len);
}

struct conn *conn_table_add(struct conn_table *table, const char *id,
                            size_t id_len, struct conn_peer *initiator,
                            struct conn_peer *target, bool *exists)
{
    struct conn *conn;
    bool in_use = id_len <= MP_NAME_MAX &&
                  conn_table_find(table, id, id_len) != NULL;

    if (exists != NULL)
        *exists = in_use;
    if (in_use || id_len > MP_NAME_MAX)
        return NULL;
    conn = mp_xcalloc(1, sizeof *conn);
    memcpy(conn->id, id, id_len);
    conn->id_len = id_len;
    conn->state = CONN_PENDING;
    conn->initiator = initiator;
    conn->target = target;
    mp_xhashmap_put(table->by_id, conn->id, conn->id_len, conn);
    link_into(initiator, &conn->link[0], conn);
    link_into(target, &conn->link[1], conn);
    return conn;
}

void conn_table_remove(struct conn_table *table, struct conn *conn)
{
    if (table->on_remove != NULL)
        table->on_remove(conn);
    hashmap_remove(table->by_id, conn->id, conn->id_len);
    unlink_from(conn->initiator, &conn->link[0]);
    unlink_from(conn->target, &conn->link[1]);
    if (conn->grant_queued)
        LIST_REMOVE(conn, grant);
    free(conn);
}

struct conn_peer *conn_other_end(const struct conn *conn,
                                 const struct conn_peer *me)
{
    if (conn->initiator == me)
        return conn->target;
    if (conn->target == me)
        return conn->initiator;
    return NULL;
}

void conn_table_remove_peer(struct conn_table *table, struct conn_peer *peer,
                            void (*visit)(struct conn_peer *other, void *arg),
                            void *arg)
{
    while (!LIST_EMPTY(&peer->links)) {
        struct conn *conn = LIST_FIRST(&peer->links)->conn;
        if (visit != NULL)
            visit(conn_other_end(conn, peer), arg);
        conn_table_remove(table, conn);
    }
}

size_t conn_table_count(const struct conn_table *table)
{
    return hashmap_count(table->by_id);
}

void conn_table_free(struct conn_table *table)
{
    struct conn *conn;

    if (table == NULL)
        return;
    while ((conn = hashmap_any(table->by_id)) != NULL)
        conn_table_remove(table, conn);
    hashmap_free(table->by_id);
    free(table);
}
