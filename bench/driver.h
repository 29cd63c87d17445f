/*
 * driver.h - what mpbench knows about one target system's wire protocol.
 *
 * Every target is driven through the same client (struct bench_client:
 * one bufferevent, one name, at most one peer) and the same workloads
 * (mpbench.c); a driver only turns "log in", "send N bytes to my peer"
 * and "bytes arrived" into that system's protocol. Drivers never see the
 * payload's content: the payload is a constant filler of the requested
 * size, so what is measured is the system, not the generator.
 *
 * Ownership: the bench owns every client and its bufferevent; a driver
 * keeps its per-client state in the client's `proto` fields.
 */
#ifndef MPBENCH_DRIVER_H
#define MPBENCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

struct bench_client {
    struct bufferevent *bev;
    const struct bench_driver *driver;
    char name[48];         /* unique per run */
    char peer[256];         /* whom send() writes to, "" before link */
    bool ready;            /* logged in and able to receive */
    bool linked;           /* send() works */
    bool closing;

    /* Driver state: the connection id (mp), a packet id (mqtt). */
    char conn_id[256];
    uint32_t pair_token;   /* relay: which two clients are paired */

    /* Owned by the workload (mpbench.c). */
    struct bench_client *partner;
    uint64_t sent;
    uint64_t received;
    uint64_t sent_at_ns;
    unsigned index;
    void *workload;
};

struct bench_driver {
    const char *name;       /* "mp-binary", "nats", ... */
    bool pub_sub;           /* link is immediate (subjects, not connections) */
    bool has_names;         /* supports connect and memory workloads */

    /* Queue the login (and subscription to c->name) on c->bev's output. */
    void (*hello)(struct bench_client *c);

    /* Parse what arrived; report through bench_ready / bench_linked /
     * bench_received / bench_fail. Return -1 after bench_fail. */
    int (*input)(struct bench_client *c, struct evbuffer *in);

    /* Start talking to c->peer (mp: open a connection). Pub/sub drivers
     * leave it NULL: they are linked as soon as the peer is ready. */
    void (*link)(struct bench_client *c);

    /* Queue one message of `len` filler bytes to c->peer. */
    void (*send)(struct bench_client *c, size_t len);
};

/* Callbacks from drivers into the workload. */
void bench_ready(struct bench_client *c);
void bench_linked(struct bench_client *c);
void bench_received(struct bench_client *c, size_t len);
void bench_fail(struct bench_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `len` constant filler bytes (len <= BENCH_MAX_PAYLOAD), never freed. */
#define BENCH_MAX_PAYLOAD (1u << 20)
const unsigned char *bench_filler(void);

/* Append filler[0..len) to out by reference (no copy until written). */
void bench_add_filler(struct evbuffer *out, size_t len);

/* Call one(c, in) for each whole message: it returns 1 after one, 0 when
 * the next is not all here, -1 after bench_fail. Stops when c closes.
 * Returns 0, or -1 after a failure. */
int bench_parse_all(struct bench_client *c, struct evbuffer *in,
                    int (*one)(struct bench_client *c, struct evbuffer *in));

/* Copy up to cap bytes of the start of `in` into buf; return how many. */
size_t bench_peek(struct evbuffer *in, void *buf, size_t cap);

extern const struct bench_driver bench_driver_mp_binary;
extern const struct bench_driver bench_driver_mp_json;
extern const struct bench_driver bench_driver_nats;
extern const struct bench_driver bench_driver_mqtt;
extern const struct bench_driver bench_driver_redis;
extern const struct bench_driver bench_driver_relay;

#endif
