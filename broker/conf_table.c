/*
 * conf_table.c - every setting of mpbroker.conf, one row each (see
 * conf_schema.h for what a row drives).
 *
 * To add a setting: add its member to struct broker_conf (conf.h), a row
 * here, and its item to doc/man/mpbroker.conf.5 (tests/unit/test_man_conf
 * fails until the page has it, with this default). A new member of an
 * existing group needs nothing else. The rows are in the order a reload
 * reports changes (and refuses restart-only ones); a group comes before
 * its members.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include <mp/protocol.h>

#include "conf_schema.h"
#include "conf_sections.h"
#include "log.h"
#include "metrics.h"
#include "work_pool.h"

/* ------------------------------------------------------------------------
 * Values that are names
 */

static int parse_log_level(const char *text, void *field)
{
    enum mp_log_level level;

    if (mp_log_level_parse(text, &level) != 0)
        return -1;
    *(enum mp_log_level *)field = level;
    return 0;
}

static const char *log_level_name(const void *field)
{
    return mp_log_level_name(*(const enum mp_log_level *)field);
}

static int parse_facility(const char *text, void *field)
{
    int facility;

    if (mp_log_facility_parse(text, &facility) != 0)
        return -1;
    *(int *)field = facility;
    return 0;
}

static const char *const duplicate_names[] = {
    [DUPLICATE_REPLACE] = "replace",
    [DUPLICATE_REJECT] = "reject",
};

static int parse_duplicate_policy(const char *text, void *field)
{
    for (size_t i = 0; i < sizeof duplicate_names / sizeof *duplicate_names;
         i++) {
        if (strcmp(text, duplicate_names[i]) == 0) {
            *(enum duplicate_policy *)field = (enum duplicate_policy)i;
            return 0;
        }
    }
    return -1;
}

static const char *duplicate_policy_name(const void *field)
{
    return duplicate_names[*(const enum duplicate_policy *)field];
}

/* ------------------------------------------------------------------------
 * Changes that are not one value's
 */

static bool exempt_changed(const struct broker_conf *old,
                           const struct broker_conf *new, char *buf,
                           size_t len)
{
    size_t n = new->n_auth_throttle_exempt;

    if (n == old->n_auth_throttle_exempt &&
        (n == 0 || memcmp(old->auth_throttle_exempt, new->auth_throttle_exempt,
                          n * sizeof *new->auth_throttle_exempt) == 0))
        return false;
    snprintf(buf, len, "limits.auth_throttle_exempt: %zu range%s", n,
             n == 1 ? "" : "s");
    return true;
}

static bool metrics_changed(const struct broker_conf *old,
                            const struct broker_conf *new, char *buf,
                            size_t len)
{
    if (!metrics_moves(old, new))
        return false;
    snprintf(buf, len, "metrics listener");
    return true;
}

/* ------------------------------------------------------------------------
 * The rows
 */

#define AT(member) offsetof(struct broker_conf, member)

/* A member of `limits` kept in broker_conf's member of the same name; a
 * reload reports it by that bare name ("max_clients 10000 -> 77"). */
#define LIMIT(member, lo, hi, dflt, how)                                   \
    {                                                                      \
        .path = "limits." #member, .kind = CONF_INT, .min = (lo),          \
        .max = (hi), .def = (dflt), .store = (how), .offset = AT(member), \
        .reload = CONF_RELOAD_REPORT, .log_name = #member,                 \
    }
#define U CONF_STORE_UNSIGNED
#define Z CONF_STORE_SIZE

/* An integer outside `limits`, reported by its path. */
#define NUMBER(p, lo, hi, dflt, how, member)                               \
    {                                                                      \
        .path = (p), .kind = CONF_INT, .min = (lo), .max = (hi),          \
        .def = (dflt), .store = (how), .offset = AT(member),               \
        .reload = CONF_RELOAD_REPORT,                                      \
    }

/* A string that names a value: parse() turns it into the member, name()
 * back into text for the reload report, `must` says what it may be. */
#define NAMED(p, member, dflt, parser, namer, text, how)                   \
    {                                                                      \
        .path = (p), .kind = CONF_STRING, .def_text = (dflt),             \
        .store = CONF_STORE_PARSED, .offset = AT(member), .parse = parser, \
        .name = (namer), .must = (text), .reload = (how),                  \
    }

#define RESTART "changing it needs a restart"

/* A member of `cluster`: every one needs a restart. */
#define CLUSTER_NUMBER(p, lo, hi, dflt, how, member)                       \
    {                                                                      \
        .path = (p), .kind = CONF_INT, .min = (lo), .max = (hi),          \
        .def = (dflt), .store = (how), .offset = AT(member),               \
        .reload = CONF_RELOAD_RESTART, .restart = RESTART,                 \
    }
#define CLUSTER_STRING(p, member, dflt)                                    \
    {                                                                      \
        .path = (p), .kind = CONF_STRING, .flags = CONF_NONEMPTY,          \
        .def_text = (dflt), .store = CONF_STORE_STRING,                    \
        .offset = AT(member), .reload = CONF_RELOAD_RESTART,               \
        .restart = RESTART,                                                \
    }

const struct conf_row conf_rows[] = {
    /* Sections read by conf_plugins.c and conf_listeners.c. */
    {.path = "translators", .kind = CONF_LIST},
    {.path = "translators.name", .kind = CONF_STRING},
    {.path = "translators.module", .kind = CONF_STRING},
    {.path = "translators.options", .kind = CONF_GROUP,
     .flags = CONF_FREE_FORM},
    {.path = "authenticators", .kind = CONF_LIST},
    {.path = "authenticators.module", .kind = CONF_STRING},
    {.path = "authenticators.options", .kind = CONF_GROUP,
     .flags = CONF_FREE_FORM},
    {.path = "listeners", .kind = CONF_LIST},
    {.path = "listeners.address", .kind = CONF_STRING},
    {.path = "listeners.port", .kind = CONF_INT, .min = 0, .max = 65535,
     .def = 7330},
    {.path = "listeners.unix", .kind = CONF_STRING},
    {.path = "listeners.translator", .kind = CONF_STRING},
    {.path = "listeners.tls", .kind = CONF_GROUP},
    {.path = "listeners.mode", .kind = CONF_STRING},
    {.path = "listeners.tls.cert", .kind = CONF_STRING},
    {.path = "listeners.tls.key", .kind = CONF_STRING},
    {.path = "listeners.tls.ca", .kind = CONF_STRING},
    {.path = "listeners.tls.verify_client", .kind = CONF_STRING},
    {.path = "listeners.websocket", .kind = CONF_GROUP},
    {.path = "listeners.websocket.path", .kind = CONF_STRING,
     .def_text = "/mp"},
    {.path = "listeners.websocket.origins", .kind = CONF_ARRAY},
    {.path = "listeners.websocket.ping_interval_s", .kind = CONF_INT,
     .min = 0, .max = 86400, .def = 30},

    {.path = "limits", .kind = CONF_GROUP},
    /* 256 bytes holds any header with short names; 1 GiB keeps the
     * binary length prefix and buffer arithmetic far from overflow. */
    LIMIT(max_message_size, 256, 1LL << 30, 1048576, Z),
    LIMIT(auth_timeout_ms, 1, 3600000, 10000, U),
    LIMIT(max_clients, 1, 10000000, 10000, U),
    LIMIT(max_connections_per_client, 1, 10000000, 4096, Z),
    LIMIT(tcp_keepalive_s, 0, 86400, 60, U),
    LIMIT(output_high_water, 1024, 1LL << 32, 1024 * 1024, Z),
    LIMIT(output_low_water, 0, 1LL << 32, 256 * 1024, Z),
    LIMIT(output_hard_limit, 1024, 1LL << 40, 16 * 1024 * 1024, Z),
    LIMIT(auth_failures_max, 0, 1000000, 30, U),
    LIMIT(auth_failures_per_name_max, 0, 1000000, 10, U),
    LIMIT(auth_block_s, 1, 86400, 60, U),
    LIMIT(slow_consumer_timeout_ms, 0, 3600000, 10000, U),
    LIMIT(max_clients_per_address, 0, 10000000, 1000, U),
    LIMIT(max_unauthenticated, 1, 10000000, 1000, U),
    LIMIT(max_unauthenticated_per_address, 0, 10000000, 50, U),
    /* 256 bytes: an Auth with a short name and secret in any format. */
    LIMIT(max_auth_message_size, 256, 1LL << 30, 8192, Z),
    LIMIT(max_connections_per_pair, 1, 10000000, 256, Z),
    LIMIT(bad_messages_max, 0, 10000000, 100, U),
    /* Level 2. A window below a few messages' cost only slows things. */
    LIMIT(connection_window, 1024, MP_CREDIT_MAX, MP_DEFAULT_WINDOW, U),
    LIMIT(max_watches_per_client, 0, 100000, 64, U),
    LIMIT(max_list_names, 1, 10000000, 10000, U),
    LIMIT(presence_coalesce_ms, 0, 60000, 200, U),
    LIMIT(auth_queue_max, 1, 1000000, 64, U),
    LIMIT(auth_queue_per_source, 1, 1000000, 4, U),
    {.path = "limits.auth_throttle_exempt", .kind = CONF_ARRAY,
     .read = conf_read_throttle_exempt, .changed = exempt_changed},

    {.path = "log", .kind = CONF_GROUP},
    NUMBER("log.client_lines_per_s", 0, 1000000, 10, U,
           log_client_lines_per_s),
    NUMBER("log.lines_per_s", 0, 1000000, 200, U, log_lines_per_s),
    NUMBER("shutdown_timeout_ms", 0, 3600000, 5000, U, shutdown_timeout_ms),
    NUMBER("shutdown_grace_ms", 0, 3600000, 3000, U, shutdown_grace_ms),
    NAMED("log.level", log_level, "info", parse_log_level, log_level_name,
          "must be one of error, warning, notice, info, debug",
          CONF_RELOAD_REPORT),
    {.path = "log.syslog", .kind = CONF_BOOL, .def = false,
     .store = CONF_STORE_BOOL, .offset = AT(log_syslog),
     .reload = CONF_RELOAD_REPORT_NEW},
    /* Changing it alone is not reported: log.syslog is, when it starts. */
    NAMED("log.facility", log_facility, "daemon", parse_facility, NULL,
          "must be daemon, user, auth or local0 to local7",
          CONF_RELOAD_QUIET),
    NAMED("duplicate_names", duplicate_names, "replace",
          parse_duplicate_policy, duplicate_policy_name,
          "must be \"replace\" or \"reject\"", CONF_RELOAD_REPORT_NEW),

    /* Where it listens is one change, "metrics listener". */
    {.path = "metrics", .kind = CONF_GROUP, .flags = CONF_ONLY_IF_PRESENT,
     .changed = metrics_changed},
    {.path = "metrics.address", .kind = CONF_STRING,
     .def_text = "127.0.0.1", .store = CONF_STORE_STRING,
     .offset = AT(metrics.address)},
    /* An int: stored as its unsigned twin, which C lets alias it. */
    {.path = "metrics.port", .kind = CONF_INT, .min = 0, .max = 65535,
     .def = 9330, .store = CONF_STORE_UNSIGNED, .offset = AT(metrics.port)},
    NUMBER("metrics.max_connections", 1, 4096, 16, U,
           metrics.max_connections),
    NUMBER("metrics.timeout_ms", 100, 3600000, 10000, U, metrics.timeout_ms),
    /* Below 1 KiB a browser's or a proxy's request may not fit. */
    NUMBER("metrics.max_header_size", 1024, 1 << 20, 8192, Z,
           metrics.max_header_size),

    /* The cluster (conf_cluster.c checks across its settings). Joining
     * or leaving one, or changing how, needs a restart: the broker's
     * names and links would change owner under its clients. */
    {.path = "cluster", .kind = CONF_GROUP, .flags = CONF_ONLY_IF_PRESENT},
    CLUSTER_STRING("cluster.redis", cluster.redis, "tcp:127.0.0.1:6379"),
    CLUSTER_STRING("cluster.redis_user", cluster.redis_user, NULL),
    CLUSTER_STRING("cluster.redis_password_file",
                   cluster.redis_password_file, NULL),
    CLUSTER_STRING("cluster.key_prefix", cluster.key_prefix, "mpbroker"),
    CLUSTER_NUMBER("cluster.lease_ms", 1000, 600000, 10000, U,
                   cluster.lease_ms),
    CLUSTER_NUMBER("cluster.fence_ms", 500, 600000, 8000, U,
                   cluster.fence_ms),
    CLUSTER_NUMBER("cluster.renew_ms", 50, 60000, 1000, U, cluster.renew_ms),
    CLUSTER_NUMBER("cluster.redis_timeout_ms", 50, 60000, 2000, U,
                   cluster.redis_timeout_ms),
    {.path = "cluster.link", .kind = CONF_GROUP},
    CLUSTER_STRING("cluster.link.address", cluster.link_address,
                   "127.0.0.1"),
    CLUSTER_NUMBER("cluster.link.port", 0, 65535, 7340, U,
                   cluster.link_port),
    CLUSTER_STRING("cluster.link.advertise", cluster.link_advertise, NULL),
    CLUSTER_NUMBER("cluster.link.advertise_port", 0, 65535, 0, U,
                   cluster.link_advertise_port),
    CLUSTER_STRING("cluster.link.secret_file", cluster.link_secret_file,
                   NULL),
    CLUSTER_NUMBER("cluster.link.ping_ms", 50, 60000, 1000, U,
                   cluster.link_ping_ms),
    CLUSTER_NUMBER("cluster.link.timeout_ms", 100, 600000, 3000, U,
                   cluster.link_timeout_ms),

    {.path = "user", .kind = CONF_STRING, .flags = CONF_NONEMPTY,
     .store = CONF_STORE_STRING, .offset = AT(user),
     .reload = CONF_RELOAD_RESTART, .restart = RESTART " (root is gone)"},
    {.path = "group", .kind = CONF_STRING, .flags = CONF_NONEMPTY,
     .store = CONF_STORE_STRING, .offset = AT(group),
     .reload = CONF_RELOAD_RESTART, .restart = RESTART " (root is gone)"},
    {.path = "allow_root", .kind = CONF_BOOL, .def = false,
     .store = CONF_STORE_BOOL, .offset = AT(allow_root),
     .reload = CONF_RELOAD_RESTART, .restart = RESTART},
    /* No default here: conf_load() is given it (the install's). */
    {.path = "plugin_dir", .kind = CONF_STRING, .store = CONF_STORE_STRING,
     .offset = AT(plugin_dir), .reload = CONF_RELOAD_RESTART,
     .restart = RESTART},
    /* The hashing threads (work_pool.h) run from the start. */
    {.path = "limits.auth_workers", .kind = CONF_INT, .min = 1,
     .max = WORK_POOL_WORKERS_MAX, .def = 2, .store = CONF_STORE_UNSIGNED,
     .offset = AT(auth_workers), .reload = CONF_RELOAD_RESTART,
     .restart = RESTART " (the threads run)"},
};

const size_t conf_n_rows = sizeof conf_rows / sizeof conf_rows[0];
