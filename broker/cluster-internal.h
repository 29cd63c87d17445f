/*
 * cluster-internal.h - what cluster.c, cluster_login.c and remote.c
 * share (see cluster.h for the parts). Private to them.
 */
#ifndef MP_BROKER_CLUSTER_INTERNAL_H
#define MP_BROKER_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cluster.h"
#include "endpoint.h"
#include "link.h"
#include "registry.h"

struct event;
struct hashmap;
struct mp_message;

enum remote_state {
    REMOTE_RESOLVING, /* looking its name up; what it is given waits */
    REMOTE_READY,     /* its broker and session are known: sent on */
};

/* A message given to a remote endpoint while its name is looked up. */
struct remote_pending {
    TAILQ_ENTRY(remote_pending) entry;
    struct mp_message *msg;
    uint64_t from_session;
};
TAILQ_HEAD(remote_pending_list, remote_pending);

/*
 * A client logged in on another broker, as an endpoint here: the end of
 * the connections local clients have with it. It is in c->remotes under
 * the client's name (never in the broker's own name table), made for a
 * Syn to a name not logged in here or for the first frame from a client
 * of another broker, and freed by the sweeper once it has no
 * connections left.
 */
struct remote {
    struct endpoint ep;          /* ep.name: the client's; ep.id: its
                                    session id on its broker */
    struct cluster *cluster;
    enum remote_state state;
    struct link_peer *peer;      /* READY: the link to its broker */
    struct registry_call *lookup; /* RESOLVING: the look-up */
    struct remote_pending_list pending; /* RESOLVING: waiting messages */
    bool paused;                 /* a local recipient is full: its
                                    Data is not granted credit */
    unsigned idle_sweeps;        /* sweeps it has had no connection: the
                                    look-up cache keeps it a while */
    TAILQ_ENTRY(remote) entry;   /* c->all */
};
TAILQ_HEAD(remote_list, remote);

/* A Syn whose target had moved, waiting for its second look-up. */
struct stale_syn;
LIST_HEAD(stale_list, stale_syn);

struct cluster {
    struct broker *broker;
    struct registry *registry;
    struct link_set *links;
    struct hashmap *remotes;     /* client name -> struct remote */
    struct remote_list all;      /* every remote, for the sweeper */
    struct event *sweeper;       /* frees remotes with no connection */
    struct event *granter;       /* sends the credit owed this turn */
    struct conn_list to_grant;   /* connections owed credit (remote.c) */
    unsigned char *secret;       /* the link secret, wiped when freed */
    size_t secret_len;
    unsigned char *redis_password; /* NUL-terminated, or NULL; wiped */
    size_t redis_password_len;
    const struct loaded_plugin *link_format; /* the binary translator:
                                   its clients' Data passes as it came */
    struct stale_list stale;     /* Syns waiting for a second look-up */
    struct cluster_stats stats;
};

/* --- cluster.c ------------------------------------------------------- */

/* A newer login elsewhere took `name` from our session `session_id`
 * (a KICK on a link, or the mailbox): close it, if it is still there. */
void cluster_kick(struct cluster *c, const char *name, size_t len,
                  uint64_t session_id);

/* --- cluster_login.c ------------------------------------------------- */

/* Redis lost its data: claim every logged-in client's name again. */
void cluster_reclaim_names(struct cluster *c);

/* --- remote.c -------------------------------------------------------- */

/* The remote an endpoint of that kind is; is it one? */
struct remote *remote_of(struct endpoint *ep);
bool remote_is(const struct endpoint *ep);

/* A new remote for `name`, in c->remotes, resolving. */
struct remote *remote_new(struct cluster *c, const char *name, size_t len);

/* r's broker is known: messages go to its session `session` there. */
void remote_set_ready(struct remote *r, struct link_peer *peer,
                      uint64_t session);

/* Send what waited for r's look-up. */
void remote_send_pending(struct remote *r);

/* The end of `conn` that is a remote, or NULL. */
struct remote *remote_end(const struct conn *conn);

/* `conn` is owed credit: granted at the end of this turn of the loop. */
void remote_queue_grant(struct cluster *c, struct conn *conn);

/* The local endpoint logged in as `name`, or NULL. */
struct endpoint *cluster_find_local(struct cluster *c, const char *name,
                                    size_t len);

/* Is broker_id this broker's? */
bool cluster_is_us(struct cluster *c, const char *broker_id);

/* The link to `peer` is down: every remote on it is gone, and their
 * local peers are told (ClientClosed). */
void remote_peer_down(struct cluster *c, struct link_peer *peer);

/* The remote for `name`, if any. */
struct remote *remote_find(struct cluster *c, const char *name, size_t len);

/* Drop r: its connections end, each local peer gets one ClientClosed
 * when `notify`. Freed by the sweeper. */
void remote_drop(struct remote *r, bool notify);

/* Free r now (the sweeper and cluster_free). */
void remote_free(struct remote *r);

/* Free every remote that has had no connection for a while (it is the
 * look-up cache meanwhile). */
void remotes_sweep(struct cluster *c);

/* Send the credit owed this turn (the granter event). */
void remotes_grant(struct cluster *c);

/* Tell the broker `owner` of our takeover of its session's name. */
void remote_send_kick(struct cluster *c, const struct registry_owner *owner,
                      const char *name);

/* --- remote_input.c -------------------------------------------------- */

/* A frame from another broker (the link set's frame event). */
void remote_frame(struct cluster *c, struct link_peer *peer,
                  const struct link_frame *frame);

/* Free the Syns waiting for a look-up (cluster_free). */
void stale_syns_free(struct cluster *c);

#endif
