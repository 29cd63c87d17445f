/* flow.c - backpressure between endpoints (see flow.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "endpoint.h"
#include "flow.h"
#include "log.h"
#include "xalloc.h"

static void set_add(struct endpoint_set *set, struct endpoint *ep)
{
    if (set->count == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 4;
        set->items = mp_xreallocarray(set->items, set->cap, sizeof *set->items);
    }
    set->items[set->count++] = ep;
}

static void set_remove(struct endpoint_set *set, const struct endpoint *ep)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->items[i] == ep) {
            set->items[i] = set->items[--set->count];
            return;
        }
    }
}

static bool set_contains(const struct endpoint_set *set,
                         const struct endpoint *ep)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->items[i] == ep)
            return true;
    }
    return false;
}

/* Does a recipient or a connection keep `ep` from being read? */
static bool held(const struct endpoint *ep)
{
    return ep->flow.blockers.count + ep->flow.credit_stalls > 0;
}

void flow_pause(struct endpoint *sender, struct endpoint *recipient)
{
    bool was_held = held(sender);

    if (sender->closing || set_contains(&recipient->flow.paused, sender))
        return;
    set_add(&recipient->flow.paused, sender);
    set_add(&sender->flow.blockers, recipient);
    if (!was_held) {
        sender->broker->stats.backpressure_stalls++;
        log_debug("pausing %s: %s has too much queued", sender->name,
                  recipient->name);
        sender->ops->set_reading(sender, false);
    }
}

void flow_resume_senders(struct endpoint *recipient)
{
    struct endpoint_set *paused = &recipient->flow.paused;

    while (paused->count > 0) {
        struct endpoint *sender = paused->items[--paused->count];
        set_remove(&sender->flow.blockers, recipient);
        if (held(sender) || sender->closing)
            continue;
        log_debug("resuming %s", sender->name);
        sender->ops->set_reading(sender, true);
    }
}

void flow_credit_stall(struct endpoint *sender)
{
    bool was_held = held(sender);

    sender->flow.credit_stalls++;
    if (was_held || sender->closing)
        return;
    sender->broker->stats.credit_stalls++;
    log_debug("pausing %s: out of credit on a connection", sender->name);
    sender->ops->set_reading(sender, false);
}

void flow_credit_unstall(struct endpoint *sender)
{
    if (sender->flow.credit_stalls == 0)
        return;
    sender->flow.credit_stalls--;
    if (held(sender) || sender->closing)
        return;
    log_debug("resuming %s: credit again", sender->name);
    sender->ops->set_reading(sender, true);
}

bool flow_is_paused(const struct endpoint *ep)
{
    return held(ep);
}

void flow_release(struct endpoint *ep)
{
    struct endpoint_set *blockers = &ep->flow.blockers;

    flow_resume_senders(ep);
    while (blockers->count > 0) {
        struct endpoint *recipient = blockers->items[--blockers->count];
        set_remove(&recipient->flow.paused, ep);
    }
    free(ep->flow.paused.items);
    free(blockers->items);
    memset(&ep->flow, 0, sizeof ep->flow);
}
