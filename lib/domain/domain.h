/* domain: the names the services agree on, in one place. The events exchange and the queues
 * (with the variables that rename them), the patterns that bind the queues to the exchange, the
 * routing keys of the messages that are not outbox events, and how long an idempotency key is
 * remembered. lib/mq is generic (it declares what its caller names); the services and
 * lib/service take the names from here. Uses only lib/base. */
#ifndef CQ_DOMAIN_H
#define CQ_DOMAIN_H

#include "base/config.h"

#include <stddef.h>

/* --- exchange and queues (docs/events.md) --------------------------------------------------- */

#define DOMAIN_EXCHANGE_DEFAULT "cqrs.events"   /* AMQP_EXCHANGE: durable topic exchange */
#define DOMAIN_QUEUE_DEFAULT "read_model"       /* AMQP_QUEUE: the consumer's queue */
#define DOMAIN_MOOD_QUEUE_DEFAULT "mood_events" /* MOOD_QUEUE: mood events, for subscribers */

#define DOMAIN_BIND_READ_MODEL "#" /* the read-model queue takes every event */
#define DOMAIN_BIND_MOOD "mood.#"  /* the mood queue takes the mood events */
/* the header the relay sets on every event: its aggregate's id, on which the partition exchange
 * hashes (CONSUMER_PARTITIONS > 1, lib/mq/mq.h) */
#define DOMAIN_HDR_AGGREGATE_ID "cqrs-aggregate-id"

/* The names of a deployment (AMQP_EXCHANGE, AMQP_QUEUE, MOOD_QUEUE). The strings point into the
 * environment or the defaults: the caller frees nothing. */
struct domain_names {
    const char *exchange;
    const char *queue;
    const char *mood_queue;
};

/* The variables domain_names_load reads, declared once for every program (--help). */
extern const struct config_table domain_names_table;
/* Fills n from the environment. Returns 0, or -1 with err naming the variable. */
__attribute__((warn_unused_result)) int domain_names_load(struct domain_names *n, char *err,
                                                          size_t errlen);

/* --- messages besides outbox events --------------------------------------------------------- */

/* The leader relay's status message (relay/status.h): routing key and AMQP type. */
#define DOMAIN_RELAY_STATUS_KEY "relay.RelayStatus"
#define DOMAIN_RELAY_STATUS_TYPE "RelayStatus"
/* The command API's dead-letter notices: "deadletter.DeadLetterRequeued", "...Dropped". */
#define DOMAIN_NOTICE_PREFIX "deadletter."

/* --- idempotency keys (docs/api.md) --------------------------------------------------------- */

/* IDEMPOTENCY_KEY_TTL_S: the command API answers a repeated key for this long, and the relay
 * purges keys older than it. At most a year: both programs read the variable, so they must accept
 * the same values (the command API always refused more than a year; the relay alone accepting
 * ten would let a deployment start a relay whose command API exits 2). */
#define DOMAIN_IDEMPOTENCY_KEY_TTL_MAX_S 31536000L
struct domain_idempotency {
    long key_ttl_s;
};
extern const struct config_table domain_idempotency_table;
__attribute__((warn_unused_result)) int domain_idempotency_load(struct domain_idempotency *d,
                                                                char *err, size_t errlen);

#endif
