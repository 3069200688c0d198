/* publish: confirmed batch publish of outbox rows to the events exchange.
 *
 * Every row goes out persistent (delivery_mode 2), mandatory, as application/json, with
 * message_id = event_id, type = event_type and routing key <aggregate_type>.<event_type>. The
 * broker's confirms for the whole batch are awaited once, after the last publish. */
#ifndef CQ_RELAY_PUBLISH_H
#define CQ_RELAY_PUBLISH_H

#include "mq.h"
#include "outbox.h"

#include <stdint.h>

struct publisher {
    amqp_connection_state_t conn; /* a confirm-mode connection (MQ_CONFIRMS); not owned */
    const char *exchange;
    uint64_t next_tag; /* delivery tag of the next publish: 1 after confirm.select */
    long confirm_timeout_ms;
};

/* Publishes the n rows of b and waits for their confirms; c gets one entry per row (MQ_ACKED,
 * MQ_NACKED or still MQ_PENDING). Returns 0 when every row is settled, or -1 with err when a
 * publish fails, the confirms time out or the connection breaks: the caller then drops the
 * connection (rows acked so far in c may still be marked published). */
__attribute__((warn_unused_result)) int publish_batch(struct publisher *p,
                                                      const struct outbox_batch *b,
                                                      struct mq_confirms *c, char *err,
                                                      size_t errlen);

/* Logs, at info level, one line per row of b that c marks acked: event_id, routing key and
 * order_id / product_id (the aggregate id). */
void publish_log_rows(const struct outbox_batch *b, const struct mq_confirms *c);

#endif
