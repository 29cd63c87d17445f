/*
 * driver.h - what mpbench knows about one target system's wire protocol.
 *
 * Every target is driven through the same client (struct bench_client:
 * one socket, one name, at most one peer) and the same workloads
 * (mpbench.c); a driver only turns "log in", "send N bytes to my peer"
 * and "bytes arrived" into that system's protocol. Drivers never see the
 * payload's content: the payload is a constant filler of the requested
 * size, so what is measured is the system, not the generator.
 *
 * The generator, not the driver, does the I/O. A driver's send() encodes
 * one message into c->out once; the generator keeps those bytes as the
 * client's message template (every message a client sends is the same)
 * and writes slices of a run of templates, many messages per write(2) or
 * exactly one (--send-mode). Input arrives as one flat buffer that the
 * driver walks in place, consuming whole messages only.
 *
 * Ownership: the bench owns every client, its socket and buffers; a
 * driver keeps its per-client state in the fields marked "Driver state".
 */
#ifndef MPBENCH_DRIVER_H
#define MPBENCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/event_struct.h>

struct bench_client {
    evutil_socket_t fd;    /* -1 when closed */
    struct event readable, writable;
    bool write_armed;
    bool connected;        /* the TCP connection is up */
    const struct bench_driver *driver;
    char name[48];         /* unique per run */
    char peer[256];        /* whom send() writes to, "" before link */
    bool ready;            /* logged in and able to receive */
    bool linked;           /* send() works */
    bool closing;

    /* Driver state: the connection id (mp). */
    char conn_id[256];
    uint32_t pair_token;   /* relay: which two clients are paired */

    /* Output: control bytes (login, answers), written between messages. */
    struct evbuffer *out;

    /* Input: unparsed bytes in[0..in_len) of in_cap. */
    unsigned char *in;
    size_t in_len, in_cap;

    /* Messages: the template is `tmpl_len / msg_len` copies of this
     * client's encoded message; `phase` is where the next write starts. */
    unsigned char *tmpl;
    size_t tmpl_len, msg_len, phase;
    uint64_t queued;       /* messages the workload wants written, ever */
    uint64_t written;      /* whole and partial message bytes written */

    /* Owned by the workload (mpbench.c). */
    struct bench_client *partner;
    uint64_t received;
    uint64_t sent_at_ns;
    unsigned index;
    void *workload;
};

struct bench_driver {
    const char *name;       /* "mp-binary", "nats", ... */
    bool pub_sub;           /* link is immediate (subjects, not connections) */
    bool has_names;         /* supports connect and memory workloads */
    bool two_addresses;     /* receivers connect to --receiver-address */

    /* Queue the login (and subscription to c->name) on c->out. */
    void (*hello)(struct bench_client *c);

    /* The TCP connection is up (for targets with no login answer). */
    void (*connected)(struct bench_client *c);

    /* Parse in[0..len): report through bench_ready / bench_linked /
     * bench_received / bench_fail, consuming whole messages only (and
     * none once c->closing). Return the bytes consumed, or -1 after
     * bench_fail. */
    ssize_t (*input)(struct bench_client *c, const unsigned char *in, size_t len);

    /* Start talking to c->peer (mp: open a connection). Pub/sub drivers
     * leave it NULL: they are linked as soon as the peer is ready. */
    void (*link)(struct bench_client *c);

    /* Append one message of `len` filler bytes to c->peer to c->out. */
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

/* Append filler[0..len) to out. */
void bench_add_filler(struct evbuffer *out, size_t len);

/* Call one(c, in, len) for each whole message while it returns > 0 (the
 * bytes it consumed); 0 means the next is not all here, -1 a failure
 * after bench_fail. Stops when c closes. Returns the bytes consumed, or
 * -1. */
ssize_t bench_parse_all(struct bench_client *c, const unsigned char *in, size_t len,
                        ssize_t (*one)(struct bench_client *c, const unsigned char *in,
                                       size_t len));

/* A big-endian 32-bit length at p. */
static inline size_t bench_be32(const unsigned char *p)
{
    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

extern const struct bench_driver bench_driver_mp_binary;
extern const struct bench_driver bench_driver_mp_json;
extern const struct bench_driver bench_driver_mp_protobuf;
extern const struct bench_driver bench_driver_nats;
extern const struct bench_driver bench_driver_mqtt;
extern const struct bench_driver bench_driver_redis;
extern const struct bench_driver bench_driver_relay;
extern const struct bench_driver bench_driver_socat;

#endif
