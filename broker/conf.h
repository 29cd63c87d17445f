/*
 * conf.h - the broker's configuration: read with libconfig, checked
 * against the schema (one table, conf_table.c: see conf_schema.h), every
 * error collected with its file and line.
 *
 * Ownership: struct broker_conf owns everything it points to, including
 * the libconfig tree (plugin options are read from it when plugins are
 * initialized), until conf_free().
 */
#ifndef MP_BROKER_CONF_H
#define MP_BROKER_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>
#include <mp/plugin.h>

#include "cidr.h"
#include "errors.h"

enum duplicate_policy {
    DUPLICATE_REPLACE, /* the newer login wins, the older one is closed */
    DUPLICATE_REJECT,  /* the newer login is refused */
};

/* A translator or authenticator entry. */
struct plugin_conf {
    const config_setting_t *entry;   /* the { ... } group, for errors */
    const char *name;                /* translators: the name listeners use */
    const char *module;              /* as written */
    const config_setting_t *options; /* the options group, or NULL */
};

/* A listener's `tls` group (see tls.h). */
enum tls_verify {
    TLS_VERIFY_NONE,     /* no client certificate asked for */
    TLS_VERIFY_OPTIONAL, /* asked for; checked against `ca` if presented */
    TLS_VERIFY_REQUIRED, /* a client without a valid one is refused */
};

struct tls_conf {
    const config_setting_t *entry; /* the group; NULL: plain TCP */
    const char *cert;              /* PEM certificate chain, server first */
    const char *key;               /* PEM private key */
    const char *ca;                /* PEM CAs for client certificates */
    enum tls_verify verify_client;
};

/* A listener's `websocket` group (ws_session.h, doc/protocol.md
 * "WebSocket"): the listener speaks WebSocket (RFC 6455) instead of the
 * formats' bare streams. */
struct ws_conf {
    const config_setting_t *entry; /* the group; NULL: not WebSocket */
    const char *path;              /* the request path to accept */
    const char **origins;          /* owned array of strings in the tree:
                                      the Origin values allowed */
    size_t n_origins;              /* 0: any origin */
    unsigned ping_interval_s;      /* idle this long: Ping; twice: close.
                                      0: never */
};

struct listener_conf {
    const config_setting_t *entry;
    const char *address;    /* TCP: host address, or NULL */
    int port;               /* TCP: 0 = pick an ephemeral port */
    const char *unix_path;  /* Unix socket path, or NULL */
    unsigned unix_mode;     /* its permissions (default 0666) */
    const char *translator; /* a translator name, or "auto" */
    struct tls_conf tls;    /* TCP only */
    struct ws_conf ws;      /* TCP only */
};

/* The `metrics` group: where to serve /metrics and /healthz, and the
 * limits on its HTTP clients (see metrics.h). */
struct metrics_conf {
    const config_setting_t *entry; /* NULL: no metrics listener */
    const char *address;
    int port;
    unsigned max_connections;      /* open at once; more wait to be accepted */
    unsigned timeout_ms;           /* a connection's whole life */
    size_t max_header_size;        /* request line and headers, in bytes */
};

/* The `cluster` group (doc/cluster.md): the registry in Redis and the
 * links to the other brokers. Every member needs a restart to change. */
struct cluster_conf {
    const config_setting_t *entry; /* NULL: no cluster, the broker runs
                                      alone */
    const char *redis;             /* "tcp:HOST:PORT" or "unix:PATH" */
    const char *redis_user;        /* AUTH as this ACL user, or NULL */
    const char *redis_password_file; /* AUTH with its password, or NULL */
    const char *key_prefix;        /* the keys' hash tag */
    unsigned lease_ms;             /* a broker's lease in the registry */
    unsigned fence_ms;             /* unrenewed this long: fence */
    unsigned renew_ms;             /* renewal period */
    unsigned redis_timeout_ms;     /* a Redis call's bound (the watchdog) */
    const char *link_address;      /* where links are accepted */
    unsigned link_port;
    const char *link_advertise;    /* what others dial (NULL: address) */
    unsigned link_advertise_port;  /* ... on this port (0: link_port) */
    const char *link_secret_file;  /* the cluster's shared secret */
    unsigned link_ping_ms;         /* a link sends at least this often */
    unsigned link_timeout_ms;      /* a silent link is down after this */
};

/* What the file said, defaults filled in. Each setting's range, default
 * and reload behaviour is its row in conf_table.c. */
struct broker_conf {
    config_t tree;
    const char *file;
    bool parsed;               /* the file was read and parsed: its settings
                                  were checked (with or without errors) */
    const char *plugin_dir;

    struct plugin_conf *translators;
    size_t n_translators;
    struct plugin_conf *authenticators;
    size_t n_authenticators;
    struct listener_conf *listeners;
    size_t n_listeners;

    size_t max_message_size;
    unsigned auth_timeout_ms;
    unsigned max_clients;
    size_t max_connections_per_client; /* table entries, pending included */
    unsigned tcp_keepalive_s;  /* idle seconds before keepalive probes; 0 off */
    size_t output_high_water; /* a recipient's queued bytes that pause senders */
    size_t output_low_water;  /* ... and that resume them */
    size_t output_hard_limit; /* ... that disconnect it as too slow */
    unsigned auth_failures_max; /* refused logins per source before a
                                   block of the source; 0 off */
    unsigned auth_failures_per_name_max; /* ... per (source, name) before
                                   a block of that name from there; 0 off */
    unsigned auth_block_s;      /* ... within and for this many seconds */
    struct cidr *auth_throttle_exempt; /* owned: ranges never throttled */
    size_t n_auth_throttle_exempt;
    unsigned slow_consumer_timeout_ms; /* above output_high_water for
                                          longer: disconnected; 0 off */
    unsigned max_clients_per_address;  /* sockets from one address (IPv4,
                                          IPv6 /64, Unix uid); 0 off */
    unsigned max_unauthenticated;      /* sockets not logged in yet */
    unsigned max_unauthenticated_per_address; /* ... from one address; 0 off */
    size_t max_auth_message_size;      /* largest message before login */
    size_t max_connections_per_pair;   /* table entries between two clients */
    unsigned bad_messages_max;         /* WAT-worthy messages per minute
                                          before a disconnect; 0 off */
    /* Protocol level 2 (doc/protocol.md). */
    unsigned connection_window;        /* credit each direction of a new
                                          connection starts with, bytes */
    unsigned max_watches_per_client;   /* Watches held at once */
    unsigned max_list_names;           /* names in one List reply */
    unsigned presence_coalesce_ms;     /* a name's notices held this long */
    unsigned log_client_lines_per_s;   /* per-event lines about one client */
    unsigned log_lines_per_s;          /* ... about all clients together */
    unsigned auth_workers;      /* threads hashing secrets (restart) */
    unsigned auth_queue_max;    /* logins waiting for one; more: busy */
    unsigned auth_queue_per_source; /* ... of them from one source */
    unsigned shutdown_timeout_ms; /* SIGTERM: time to flush clients */
    unsigned shutdown_grace_ms; /* SIGTERM: level-2 clients are told
                                   (GoingAway) and served this long */
    const char *user;          /* switch to this user after binding */
    const char *group;         /* ... and group (default: the user's) */
    bool allow_root;           /* run as root without `user` */
    struct metrics_conf metrics;
    struct cluster_conf cluster;
    enum duplicate_policy duplicate_names;
    enum mp_log_level log_level;
    bool log_syslog;           /* log to syslog(3) instead of stderr */
    int log_facility;          /* LOG_DAEMON, ... */
};

/*
 * Read and check `file`. Every problem is added to errs; returns 0 if there
 * were none. Plugins are not loaded here (see plugin_loader.h). On error
 * the conf must still be released with conf_free(); if conf->parsed is
 * set, what it holds is what could be read despite the errors, so that
 * the next checks (plugins, user, TLS files) can run and report theirs in
 * the same pass.
 */
int conf_load(struct broker_conf *conf, const char *file,
              const char *default_plugin_dir, struct errors *errs);
void conf_free(struct broker_conf *conf);

/* Reloads: call fn(text) for each setting whose value differs between
 * old and new and that a reload reports, in the schema table's order
 * ("max_clients 10000 -> 77", "log.level info -> debug"). */
void conf_each_change(const struct broker_conf *old,
                      const struct broker_conf *new,
                      void (*fn)(const char *text, void *arg), void *arg);

/* Reloads: add an error, pointing into new's file, for each setting a
 * running broker cannot take that differs ("FILE:LINE: user: changing it
 * needs a restart (root is gone)"). The translators aside (reload.c). */
void conf_check_restart(const struct broker_conf *old,
                        const struct broker_conf *new, struct errors *errs);

/* The login throttle's limits in conf (they point into it). */
struct auth_throttle_limits;
void conf_throttle_limits(const struct broker_conf *conf,
                          struct auth_throttle_limits *out);

/* Add "FILE:LINE: PATH: message" for setting `s` (e.g.
 * "mpbroker.conf:7: listeners[1].translator: no translator named "x""). */
void conf_setting_error(struct errors *errs, const config_setting_t *s,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The member `name` of `group`, or the group itself when the member is
 * absent (a default was used): where an error about it should point. */
const config_setting_t *conf_member_or_group(const config_setting_t *group,
                                             const char *name);

/* The dotted path of a setting ("listeners[1].port") into buf. */
void conf_setting_path(const config_setting_t *s, char *buf, size_t len);

/*
 * Call fn once for every row of the schema table (conf_table.c), in its
 * order, with its dotted path ("plugin_dir", "listeners.tls.cert",
 * "limits.max_clients": members of a list's entries are LIST.MEMBER) and
 * its type: "string", "integer", "bool", "group" or "list". Groups and
 * lists come before their members; the members of a plugin's `options`
 * are the plugin's and are not listed. A group or list without member
 * rows (and not a plugin's) gets a NULL type.
 * For documentation checks (tests/unit/test_man_conf.c).
 */
void conf_each_setting(void (*fn)(const char *path, const char *type,
                                  void *arg),
                       void *arg);

#endif
