/* receive: takes a batch of deliveries from the broker. It waits for the first message, then
 * takes the ones already available, up to a maximum. Each body is checked on arrival: a body
 * that is not an event envelope is poison; it enters the batch marked bad, with the reason, and
 * project.c sends it to the dead-letter queue instead of applying it.
 *
 * A delivery the broker redelivered (redelivered=true: a consumer took it and went away without
 * settling it, maybe because applying it crashed the process) always makes a batch of its own:
 * met after other deliveries, it is carried over to the next batch. So a crash while it is
 * applied redelivers it alone, and its attempts can be counted (crashguard.h).
 *
 * struct receive_batch owns its envelopes: receive_batch_clear() destroys them. */
#ifndef CQ_CONSUMER_RECEIVE_H
#define CQ_CONSUMER_RECEIVE_H

#include "mq/event_batch.h"
#include "mq/mq.h"

#include <stdbool.h>
#include <stddef.h>

struct delivery {
    amqp_envelope_t env;
    struct event_info info;
    bool settled; /* acked, or handed to the retry or dead-letter queue and acked */
    bool bad;     /* not an event envelope: why says what is wrong */
    bool held;    /* came before its predecessor (CQ425): kept for a local retry (project.c) */
    char why[256];
};

struct receive_batch {
    struct delivery *items;
    size_t n, cap;
    size_t retried; /* deliveries sent to the retry queue (see project.h) */
    size_t dead;    /* deliveries sent to the dead-letter queue */
    /* for the metrics (consumer_metrics.h), set by project.c: events applied, events the read
     * DB already had, and the newest occurredAt among them (Unix seconds, 0: none) */
    size_t applied, duplicates;
    double newest_occurred_at;
    struct delivery carry; /* a redelivered delivery taken after others: the next batch */
    bool has_carry;
};

void receive_batch_init(struct receive_batch *b, size_t cap);
/* Destroys every envelope; the batch is empty afterwards (a carried delivery stays for the next
 * receive_fill). */
void receive_batch_clear(struct receive_batch *b);
/* receive_batch_clear and the carried delivery too: after the connection was lost. */
void receive_batch_reset(struct receive_batch *b);
/* Whether b is one delivery the broker redelivered (see above). */
bool receive_batch_redelivered(const struct receive_batch *b);
void receive_batch_release(struct receive_batch *b);
/* Number of deliveries not yet settled. */
size_t receive_batch_unsettled(const struct receive_batch *b);

/* Fills b (which must be empty) with up to b->cap deliveries from conn's consumer, starting with
 * the one carried over: waits up to first_wait_ms for the first one, then takes only those
 * already available; a redelivered delivery is alone in its batch. b may be empty
 * afterwards. Returns 0, or -1 with err when the connection or channel is lost (then the
 * deliveries in b can't be acked any more: the caller clears b and reconnects). */
__attribute__((warn_unused_result)) int receive_fill(amqp_connection_state_t conn,
                                                     struct receive_batch *b, long first_wait_ms,
                                                     char *err, size_t errlen);

#endif
