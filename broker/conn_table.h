/*
 * conn_table.h - the broker's table of connections between clients.
 *
 * A connection is opened by a Syn from its initiator to its target and
 * lives PENDING until the target acks it (OPEN), or until either end
 * closes/refuses it or leaves. The table is keyed by connection id, which
 * starts with the initiator's name, so ids are unique broker-wide.
 *
 * Each end is a `struct conn_peer` embedded in its owner (an endpoint,
 * endpoint.h), which it points back to; the table links every connection
 * into both ends' lists so that a departing client's connections are
 * found without a scan.
 *
 * Ownership: the table owns its connections. Peers are owned by their
 * embedding object and must have no connections left
 * (conn_table_remove_peer) before they are freed.
 */
#ifndef MP_BROKER_CONN_TABLE_H
#define MP_BROKER_CONN_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/queue.h>

#include <mp/protocol.h>

enum conn_state {
    CONN_PENDING, /* Syn delivered, no Ack yet */
    CONN_OPEN,    /* acked: Data may flow both ways */
};

struct conn;
struct endpoint;

/* One link of a connection into one end's list. */
struct conn_link {
    struct conn *conn;
    LIST_ENTRY(conn_link) entry;
};

LIST_HEAD(conn_link_list, conn_link);

/* An end of connections: embed one per endpoint. */
struct conn_peer {
    struct conn_link_list links;
    size_t count;            /* connections (PENDING or OPEN) it is an end of */
    struct endpoint *owner;  /* the endpoint it is embedded in */
};

struct conn {
    char id[MP_NAME_MAX + 1];
    size_t id_len;
    enum conn_state state;
    struct conn_peer *initiator;
    struct conn_peer *target;
    struct conn_link link[2]; /* [0] in initiator's list, [1] in target's */
    /* Credit, per direction (credit.h): [0] is what the initiator
     * sends, [1] what the target sends. */
    struct conn_direction {
        int64_t credit;       /* what its sender may still send, in
                                 bytes of cost; <= 0: nothing */
        uint64_t owed;        /* consumed by a level-1 receiver, not
                                 granted yet (granted by half windows) */
        bool stalled;         /* its level-1 sender is paused for it */
    } dir[2];
    uint32_t window;          /* what each direction started with */
    /* A connection with an end on another broker of the cluster
     * (remote.c): grants for the remote end's Data, not yet sent on the
     * link (CREDIT frames). */
    uint64_t link_owed;
    bool grant_queued;        /* on the cluster's to_grant list */
    bool retried;             /* its Syn went out again after a stale
                                 target: no second retry */
    LIST_ENTRY(conn) grant;   /* the cluster's to_grant list; unlinked
                                 when the connection is removed */
};

LIST_HEAD(conn_list, conn);

struct conn_table;

/* Aborts when memory is exhausted (xalloc.h), as conn_table_add().
 * on_remove (may be NULL) is called with each connection just before it
 * leaves the table and is freed (credit_forget: a pause it held). */
struct conn_table *conn_table_new(void (*on_remove)(struct conn *conn));
/* Frees every connection still in the table; their peers must still be
 * alive (they are unlinked). */
void conn_table_free(struct conn_table *table);

struct conn *conn_table_find(const struct conn_table *table, const char *id,
                             size_t id_len);

/* Add a PENDING connection. Returns NULL if the id is already in use or
 * is longer than MP_NAME_MAX (*exists tells which when not NULL). */
struct conn *conn_table_add(struct conn_table *table, const char *id,
                            size_t id_len, struct conn_peer *initiator,
                            struct conn_peer *target, bool *exists);

void conn_table_remove(struct conn_table *table, struct conn *conn);

/* The end of `conn` that is not `me` (me itself for a connection to self),
 * or NULL if `me` is not an end of it. */
struct conn_peer *conn_other_end(const struct conn *conn,
                                 const struct conn_peer *me);

/*
 * Remove every connection `peer` is an end of, calling visit(other end,
 * arg) once per connection first (other is `peer` itself for a
 * connection to self). The callback must not modify the table.
 */
void conn_table_remove_peer(struct conn_table *table, struct conn_peer *peer,
                            void (*visit)(struct conn_peer *other, void *arg),
                            void *arg);

size_t conn_table_count(const struct conn_table *table);

#endif
