/*
 * cluster.h - this broker as one of several that share one name space
 * (doc/cluster.md). Absent a `cluster` group in the config the broker
 * has none (b->cluster is NULL) and runs alone exactly as before.
 *
 * The parts, one file each:
 *   registry.c      - Redis: leases, names, fencing, reaping, mailboxes
 *   link.c          - the TCP links to the other brokers
 *   link_frame.c    - what travels on them
 *   remote.c        - a client of another broker as an endpoint here
 *   remote_input.c  - what another broker sends: routed, credit, kicks
 *   cluster.c       - this file's functions: start, stop, the registry's
 *                     and the links' events
 *   cluster_login.c - a login's claim of its name in the registry
 *
 * What the rest of the broker sees: a login claims its name here before
 * AuthOk (cluster_claim_name); a logout releases it (router.c); a Syn to
 * a name not logged in here is routed to a remote endpoint
 * (cluster_remote_target) that finds its broker. Local traffic makes no
 * call here.
 *
 * Ownership: struct broker owns the cluster (cluster_free), which owns
 * the registry, the link set and every remote endpoint.
 */
#ifndef MP_BROKER_CLUSTER_H
#define MP_BROKER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct endpoint;
struct errors;
struct session;
struct cluster;

/* The cluster of b->conf.cluster (b->cluster), with its secret read
 * (so -t checks it); nothing started. Returns 0 (also when no cluster is configured), or
 * -1 with errors in errs. */
int cluster_setup(struct broker *b, struct errors *errs);

/* Listen for links and register in Redis (asynchronously). Logins are
 * refused ("cluster registry unavailable") until registered. */
int cluster_start(struct cluster *c, struct errors *errs);

/* Shutdown: leave the registry (bounded by timeout_ms) and close the
 * links. */
void cluster_leave(struct cluster *c, unsigned timeout_ms);

/* Free everything. NULL is ignored. */
void cluster_free(struct cluster *c);

/* --- logins (cluster_login.c) ---------------------------------------- */

/* After the authenticators allowed s: claim its name. The verdict
 * comes later, from the loop, through session_claim_finished() (login.c).
 * While it is pending, the session is not read (as for an authenticator
 * that answered PENDING). */
void cluster_claim_name(struct cluster *c, struct session *s);

/* s goes away before its claim (or reclaim) was answered. */
void cluster_cancel_claim(struct cluster *c, struct session *s);

/* The local endpoint `ep` gave up its name (logout, close). */
void cluster_release_name(struct cluster *c, const struct endpoint *ep);

/* --- routing (remote.c) ---------------------------------------------- */

/* The endpoint that stands for `name` on another broker, made if there
 * is none (it then looks the name up and queues what it is given
 * meanwhile). Called for a Syn whose target is not logged in here. */
struct endpoint *cluster_remote_target(struct cluster *c, const char *name,
                                       size_t len);

/* Counters kept by the cluster's own code (remote.c, cluster_login.c). */
struct cluster_stats {
    uint64_t forwarded_out, forwarded_in;       /* messages */
    uint64_t bytes_out, bytes_in;               /* their data */
    uint64_t lookups, lookups_failed;
    uint64_t stale_targets;                     /* Syns fenced off */
    uint64_t kicks_sent, kicks_received;
    uint64_t logins_refused_unavailable;
};

/* Everything the metrics endpoint shows of the cluster, at this moment. */
struct cluster_figures {
    struct cluster_stats own;
    uint64_t brokers_alive;      /* at the last renewal */
    uint64_t links_up;
    uint64_t link_frames_in, link_frames_out;
    uint64_t link_bytes_in, link_bytes_out;
    uint64_t links_refused, links_down;
    uint64_t redis_rtt_us_last, redis_rtt_us_sum, redis_renewals;
    uint64_t fencings, reaped, redis_calls_failed;
    uint64_t remotes;            /* clients of other brokers known here */
    bool live;                   /* registered, lease renewed in time */
};
void cluster_figures(const struct cluster *c, struct cluster_figures *out);

#endif
