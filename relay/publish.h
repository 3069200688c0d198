/* publish: confirmed batch publish of outbox rows to the events exchange.
 *
 * Every row goes out persistent (delivery_mode 2), mandatory, as application/json, with
 * message_id = event_id, type = event_type and routing key <aggregate_type>.<event_type>. A batch
 * is sent by publish_send() and its confirms are awaited once, by publish_wait(); in between the
 * caller does its PostgreSQL work while the broker persists the batch. One batch at a time is
 * outstanding: send the next only after the wait for the previous one. */
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

/* Publishes the n rows of b without waiting for the broker; c is reset to one pending entry per
 * row. Returns 0, or -1 with err when a publish fails: the caller then drops the connection (no
 * row of b counts as confirmed). */
__attribute__((warn_unused_result)) int publish_send(struct publisher *p,
                                                     const struct outbox_batch *b,
                                                     struct mq_confirms *c, char *err,
                                                     size_t errlen);

/* Waits up to confirm_timeout_ms, from this call, for the confirms of the batch publish_send()
 * sent with c; c gets each row's state (MQ_ACKED, MQ_NACKED or still MQ_PENDING). Returns 0 when
 * every row is settled, or -1 with err when the confirms time out or the connection breaks: the
 * caller then drops the connection (rows acked so far in c may still be marked published). */
__attribute__((warn_unused_result)) int publish_wait(struct publisher *p, struct mq_confirms *c,
                                                     char *err, size_t errlen);

/* Logs, at info level, one line per row of b that c marks acked: event_id, routing key and
 * order_id / product_id (the aggregate id). */
void publish_log_rows(const struct outbox_batch *b, const struct mq_confirms *c);

#endif
