/*
 * cluster.h - several real brokers sharing one real redis-server, for
 * the cluster's integration tests (doc/cluster.md), and a socat proxy to
 * cut exactly one path between them.
 *
 * Each broker is a harness (harness.h) with listener 0 speaking json and
 * listener 1 binary (MPT_LISTEN_JSON_BINARY), and 2 gob if asked for,
 * auth_allow_all, and a
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
    /* Per broker: a Redis address to use instead of the real one (a
     * proxy's), or NULL. */
    const char *redis[MPT_CLUSTER_MAX];    /* Load translator_gob.so too, and give each broker a third listener
     * (index MPT_CLUSTER_GOB_LISTENER) speaking gob. */
    bool gob;
};

/* With opts.gob: listener 2 speaks gob (0 json, 1 binary as always). */
#define MPT_CLUSTER_GOB_LISTENER 2

struct mpt_cluster {
    struct redis_server *redis;
    size_t n;
    struct harness *broker[MPT_CLUSTER_MAX];
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

/* SIGTERM every broker, assert clean exits, stop redis, free. */
void mpt_cluster_stop(struct mpt_cluster *c);

/* Free without asserting (kill what runs). NULL is ignored. */
void mpt_cluster_free(struct mpt_cluster *c);

/* A socat TCP proxy from a free loopback port to 127.0.0.1:target_port,
 * in its own process group (so that SIGSTOP reaches the children that
 * carry the connections). */
struct mpt_proxy;
struct mpt_proxy *mpt_proxy_start(int target_port);
int mpt_proxy_port(const struct mpt_proxy *p);
/* "tcp:127.0.0.1:PORT" */
const char *mpt_proxy_address(const struct mpt_proxy *p);
/* SIGSTOP / SIGCONT the whole proxy: every path through it hangs, as a
 * cut network does (no RST, no FIN). */
void mpt_proxy_pause(struct mpt_proxy *p);
void mpt_proxy_resume(struct mpt_proxy *p);
void mpt_proxy_free(struct mpt_proxy *p);

/* For a criterion .fini: every cluster, proxy, broker and Redis left. */
void mpt_cluster_reap_all(void);

#endif
