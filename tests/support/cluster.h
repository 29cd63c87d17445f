/*
 * cluster.h - several real brokers sharing one real redis-server, for
 * the cluster's integration tests (doc/cluster.md), and a socat proxy to
 * cut exactly one path between them.
 *
 * Each broker is a harness (harness.h) with listener 0 speaking json and
 * listener 1 binary (MPT_LISTEN_JSON_BINARY), auth_allow_all, and a
 * `cluster` group with short, scaled timings (mpt_ms) so that fault
 * tests finish in seconds. Every test gets its own key prefix, so tests
 * could even share a Redis.
 *
 * Like harness.h, the start functions assert (call them from a test
 * body); mpt_cluster_reap_all() (or mpt_proxy_reap_all) in a .fini
 * stops everything a failed test left.
 */
#ifndef MP_TEST_CLUSTER_H
#define MP_TEST_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"
#include "redis_server.h"

#define MPT_CLUSTER_MAX 4

/* Timings of the test brokers, before mpt_ms scaling. */
#define MPT_CLUSTER_LEASE_MS 3000
#define MPT_CLUSTER_FENCE_MS 2000
#define MPT_CLUSTER_RENEW_MS 200
#define MPT_CLUSTER_REDIS_TIMEOUT_MS 400
#define MPT_CLUSTER_LINK_PING_MS 200
#define MPT_CLUSTER_LINK_TIMEOUT_MS 1000

struct mpt_cluster_opts {
    /* Appended to every broker's config body (limits, duplicate_names). */
    const char *extra;
    /* Appended inside the cluster group (e.g. "link = { window = 8192; };"
     * is not possible: use link_extra). */
    const char *cluster_extra;
    /* Appended inside the cluster.link group. */
    const char *link_extra;
    /* Per broker: reach Redis through a proxy (c->redis_proxy[i]). */
    bool redis_proxy[MPT_CLUSTER_MAX];
    /* Per broker: the others reach its links through a proxy
     * (c->link_proxy[i]): its own dials back go direct. */
    bool link_proxy[MPT_CLUSTER_MAX];
    /* Redis wants this password (CONFIG SET requirepass), and every
     * broker gives it (cluster.redis_password_file)... */
    const char *redis_password;
    /* ... except those given another one here, which are not waited
     * for (they cannot register). */
    const char *wrong_password[MPT_CLUSTER_MAX];
    /* Load translator_gob.so too, and give each broker a third listener
     * (index MPT_CLUSTER_GOB_LISTENER) speaking gob. */
    bool gob;
};

/* With opts.gob: listener 2 speaks gob (0 json, 1 binary as always). */
#define MPT_CLUSTER_GOB_LISTENER 2

struct mpt_proxy;

struct mpt_cluster {
    struct redis_server *redis;
    size_t n;
    struct harness *broker[MPT_CLUSTER_MAX];
    struct mpt_proxy *redis_proxy[MPT_CLUSTER_MAX]; /* or NULL */
    struct mpt_proxy *link_proxy[MPT_CLUSTER_MAX];  /* or NULL */
    char prefix[64];
};

/* Start redis and n brokers, waiting until each has registered.
 * Asserts. */
struct mpt_cluster *mpt_cluster_start(size_t n,
                                      const struct mpt_cluster_opts *opts);

/* Start broker i again after it was killed (same config file); waits
 * until it has registered. Asserts. */
void mpt_cluster_restart_broker(struct mpt_cluster *c, size_t i);

/* kill -9 broker i and reap it. */
void mpt_cluster_kill9(struct mpt_cluster *c, size_t i);

/* The port broker i accepts links on (from its log). Asserts. */
int mpt_cluster_link_port(struct mpt_cluster *c, size_t i);

/* SIGTERM every broker (a test may have stopped some itself and set
 * them NULL), assert clean exits, stop redis, free. */
void mpt_cluster_stop(struct mpt_cluster *c);

/* Free without asserting (kill what runs). NULL is ignored. */
void mpt_cluster_free(struct mpt_cluster *c);

/* A loopback port nobody listens on now (bound, read, closed). */
int mpt_free_port(void);

/* The value of GET {prefix}:KEY in the cluster's Redis ("" if none);
 * the caller frees it. */
char *mpt_cluster_get(struct mpt_cluster *c, const char *key);

/* A socat TCP proxy from a free loopback port to 127.0.0.1:target_port,
 * in its own process group (so that SIGSTOP reaches the children that
 * carry the connections). */
struct mpt_proxy *mpt_proxy_start(int target_port);
int mpt_proxy_port(const struct mpt_proxy *p);
/* "tcp:127.0.0.1:PORT" */
const char *mpt_proxy_address(const struct mpt_proxy *p);
/* SIGSTOP / SIGCONT the whole proxy: every path through it hangs, as a
 * cut network does (no RST, no FIN). */
void mpt_proxy_pause(struct mpt_proxy *p);
void mpt_proxy_resume(struct mpt_proxy *p);
void mpt_proxy_free(struct mpt_proxy *p);

/*
 * A test whose length is set by leases and fence bounds (waiting for a
 * broker to fence, a name to be reaped) is skipped when the brokers run
 * under a wrapper (valgrind): scaled twentyfold it takes minutes, and
 * the same paths run plain and in the sanitizer build, where
 * AddressSanitizer checks their memory. Call first in such a test.
 */
void mpt_cluster_skip_if_wrapped(void);

/* For a criterion .fini: every cluster, proxy, broker and Redis left. */
void mpt_cluster_reap_all(void);

#endif
