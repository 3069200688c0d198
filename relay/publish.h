/* publish: confirmed batch publish of outbox rows to the events exchange.
 *
 * Every row goes out persistent (delivery_mode 2), mandatory, as application/json, with
 * message_id = event_id, type = event_type and routing key <aggregate_type>.<event_type>. A batch
 * is sent by publish_send() without waiting; its confirms are read later with mq_confirms_read(),
 * together with those of the other batches in flight (relay/inflight.h), whose delivery tags
 * follow one another in the order they were sent. */
#ifndef CQ_RELAY_PUBLISH_H
#define CQ_RELAY_PUBLISH_H

#include "mq/mq.h"
#include "outbox.h"

#include <stdint.h>

struct publisher {
    amqp_connection_state_t conn; /* a confirm-mode connection (MQ_CONFIRMS); not owned */
    const char *exchange;
    uint64_t next_tag; /* delivery tag of the next publish: 1 after confirm.select */
};

/* Publishes the n rows of b without waiting for the broker; c is reset to one pending entry per
 * row. Before each row it waits until the socket can take it (mq_wait_writable), at most until
 * deadline_ms (mq_now_ms's clock: the relay's lease and publish deadline), so a broker that
 * stopped reading cannot block it. Returns 0, or -1 with err when a publish fails or the deadline
 * passed: the caller then drops the connection (no row of b counts as confirmed). */
__attribute__((warn_unused_result)) int publish_send(struct publisher *p,
                                                     const struct outbox_batch *b,
                                                     struct mq_confirms *c, long long deadline_ms,
                                                     char *err, size_t errlen);

/* Logs, at info level, one line per row of the first n rows of b (those marked published):
 * event_id, routing key and order_id / product_id (the aggregate id). */
void publish_log_rows(const struct outbox_batch *b, size_t n);

#endif
