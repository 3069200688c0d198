/* status: what the consumer tells the dashboard besides the events it applies (read 0015).
 *
 * - The relay's status messages (routing key relay.RelayStatus, relay/status.h) arrive in the
 *   read-model queue with the events. They are not events: consumer_status_take_relay() stores
 *   each with record_relay_status() and acks it before the batch is projected, so it gets no
 *   processed_events row and is never retried nor dead-lettered (one that cannot be stored is
 *   logged and dropped: the next one comes a second later).
 * - The command API's dead-letter notices (deadletter.DeadLetterRequeued / DeadLetterDropped,
 *   api/command/deadletters.h) are taken the same way and stored with mark_dead_letter().
 * - Every CONSUMER_STATUS_INTERVAL_MS (default 1000) consumer_status_tick() reads the depth
 *   (ready messages) and the consumer count of the four queues (read model, retry, dead-letter,
 *   mood) by passive queue.declare on the dead-letter publishing connection (quiet between
 *   batches; the consuming connection's deliveries would interleave with the replies) and stores
 *   them with record_queue_status(). The dashboard says "stalled" when these readings stop. */
#ifndef CQ_CONSUMER_STATUS_H
#define CQ_CONSUMER_STATUS_H

#include "domain/domain.h"
#include "mq/mq.h"
#include "pg/pg.h"
#include "receive.h"

#include <stdbool.h>
#include <stddef.h>

#define CONSUMER_STATUS_RELAY_KEY DOMAIN_RELAY_STATUS_KEY
#define CONSUMER_STATUS_NOTICE_PREFIX DOMAIN_NOTICE_PREFIX

struct consumer_status {
    long interval_ms;
    long long next_ms; /* deadline_now_ms clock */
    bool failing;      /* the last store failed (logged once) */
};

void consumer_status_init(struct consumer_status *s, long interval_ms);

/* Whether env is a relay status message or a dead-letter notice (by its routing key): a message
 * for this module, not an event. */
bool consumer_status_is_notice(const amqp_envelope_t *env);

/* Stores and acks (on mq) the unsettled notices of b, marking them settled. Returns 0, or -1
 * with err when an ack failed (the broker connection is lost). */
__attribute__((warn_unused_result)) int consumer_status_take_notices(struct receive_batch *b,
                                                                     amqp_connection_state_t mq,
                                                                     PGconn *pg, char *err,
                                                                     size_t errlen);

/* When due: reads the four queues (t's work queue, its retry and dead queues, and the mood queue
 * of names) on conn and stores them on pg. Returns 0; -1 with err when
 * the broker failed (the caller drops the connections); -2 with err when the database
 * connection is broken (the caller reconnects it). */
__attribute__((warn_unused_result)) int
consumer_status_tick(struct consumer_status *s, amqp_connection_state_t conn, PGconn *pg,
                     const struct mq_topology *t, const struct domain_names *names, char *err,
                     size_t errlen);

#endif
