/*
 * stats.h - the broker's counters, read by the metrics endpoint
 * (metrics.c). Counting is a plain increment on the one broker thread.
 *
 * Traffic is counted per listener and per format (translator index),
 * because an "auto" listener serves several formats.
 */
#ifndef MP_BROKER_STATS_H
#define MP_BROKER_STATS_H

#include <stdint.h>
#include <time.h>

struct traffic_stats {
    uint64_t messages_in, bytes_in;   /* decoded from clients */
    uint64_t messages_out, bytes_out; /* encoded for clients */
};

struct broker_stats {
    time_t started;
    uint64_t auth_successes;
    uint64_t auth_failures;         /* refused logins, blocked ones included */
    uint64_t auth_busy;             /* refused: the hashing queue was full */
    uint64_t auth_blocked;          /* refused unasked: a throttle block */
    uint64_t bounced;               /* answered NoSuchConnection */
    uint64_t slow_disconnects;      /* past output_hard_limit */
    uint64_t backpressure_stalls;   /* a sender paused for a recipient */
    uint64_t connections_opened;    /* Syns accepted into the table */
    uint64_t slow_deadline_disconnects; /* of slow_disconnects: past
                                       slow_consumer_timeout_ms */
    uint64_t bad_message_disconnects; /* past bad_messages_max */
    uint64_t log_lines_suppressed;  /* client_log.h */
    /* Sockets closed at accept, by the limit that refused them. */
    uint64_t refused_max_clients;
    uint64_t refused_per_address;       /* max_clients_per_address */
    uint64_t refused_unauthenticated;   /* max_unauthenticated */
    uint64_t refused_unauthenticated_per_address;
    /* Syns refused (as UnknownProto) by a table limit. */
    uint64_t syns_refused_per_client;   /* max_connections_per_client */
    uint64_t syns_refused_per_pair;     /* max_connections_per_pair */
    /* Protocol level 2 (credit.h, presence.h). */
    uint64_t credit_stalls;         /* a level-1 sender paused: no credit */
    uint64_t credit_refusals;       /* Data beyond its credit: WAT, dropped */
    uint64_t credit_grants;         /* Credit messages sent to clients */
    uint64_t presence_notices;      /* Presence messages sent */
    uint64_t lists;                 /* List requests answered */
    uint64_t going_away;            /* GoingAway notices sent */
    /* The metrics listener's HTTP clients (http_server.h): */
    uint64_t http_connections;      /* accepted */
    uint64_t http_unanswered;       /* closed before a request reached a
                                       handler (too large, malformed,
                                       timed out, abandoned) */
    uint64_t http_timeouts;         /* closed at metrics.timeout_ms */
    uint64_t http_connection_limit; /* times max_connections was reached */
    /* WebSocket listeners (ws_session.h): */
    uint64_t ws_upgrades;           /* opening handshakes completed */
    uint64_t ws_refused;            /* ... refused with an HTTP error */
    uint64_t ws_protocol_errors;    /* closed for breaking RFC 6455 */
    uint64_t ws_idle_closes;        /* closed: silent after a Ping */
};

#endif
