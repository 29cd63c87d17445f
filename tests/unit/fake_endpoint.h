/*
 * fake_endpoint.h - an endpoint kind for in-process unit tests of the
 * router and of backpressure (endpoint.h): it records what is delivered
 * to it and what is done to it, and needs no socket.
 */
#ifndef MP_TESTS_FAKE_ENDPOINT_H
#define MP_TESTS_FAKE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "endpoint.h"
#include "message.h"

enum { FAKE_MAX_DELIVERED = 16 };

struct delivered {
    struct mp_message msg;          /* a copy, data decoded or wire bytes */
    bool as_wire;                   /* came in wire form */
    struct endpoint *sender;
};

struct fake_endpoint {
    struct endpoint ep;
    struct delivered got[FAKE_MAX_DELIVERED];
    size_t n_got;
    bool reading;                   /* set_reading's last word */
    unsigned reading_changes;
    unsigned bad_messages;
    const char *closed;             /* close()'s reason, if called */
    uint64_t granted;               /* bytes of credit it was told of */
    unsigned grants;                /* times its credit op was called */
};

/* A nameless fake endpoint of `b` (reading). */
void fake_endpoint_init(struct fake_endpoint *f, struct broker *b);
/* Name it and log it in (router_register). */
void fake_endpoint_login(struct fake_endpoint *f, const char *name);
/* Forget what it got (frees the copies). */
void fake_endpoint_reset(struct fake_endpoint *f);
/* Unregister, release its pauses and free what it holds. */
void fake_endpoint_free(struct fake_endpoint *f);

#endif
