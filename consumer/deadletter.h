/* deadletter: bounded retries for messages the consumer cannot apply, and the dead-letter queue.
 *
 * A delivery that fails is not requeued (a classic queue would hand it straight back, forever):
 * the consumer republishes a copy to <queue>.retry with its attempt count in the MQ_HDR_ATTEMPTS
 * header and a per-message TTL, waits for the broker's confirm, and only then acks the original.
 * When the TTL expires the broker dead-letters the copy back into <queue> (at-least-once, see
 * mq.h), where it is tried again. After its last allowed attempt the copy goes to <queue>.dead
 * instead, with the reason, the SQLSTATE and the original routing key in its headers; there it
 * waits for scripts/deadletters.sh. A crash between the confirm and the ack leaves two copies
 * (the original is redelivered): harmless, the read DB drops the second by event id.
 *
 * Publishing uses a connection of its own in confirm mode (the consuming connection's frames
 * would interleave with the confirms). struct deadletter does not own that connection. */
#ifndef CQ_CONSUMER_DEADLETTER_H
#define CQ_CONSUMER_DEADLETTER_H

#include "mq.h"

#include <stdint.h>

struct deadletter {
    amqp_connection_state_t conn; /* confirm-mode connection; NULL while disconnected */
    uint64_t next_tag;            /* 1 after confirm.select */
    const struct mq_topology *topo;
    long confirm_timeout_ms;
};

enum deadletter_target {
    DEADLETTER_RETRY, /* to <queue>.retry, back in <queue> after delay_ms */
    DEADLETTER_DEAD,  /* to <queue>.dead */
};

/* How many times the message of env was tried before this delivery (its MQ_HDR_ATTEMPTS header;
 * 0 for a message straight from the relay). */
long deadletter_prior_attempts(const amqp_envelope_t *env);

/* Sends a copy of env's message to target with attempts, reason and sqlstate (may be "") in its
 * headers; for DEADLETTER_RETRY it expires after delay_ms. Waits for the broker's confirm. Does not
 * settle env. Returns 0, or -1 with err (the caller drops both connections; the broker redelivers
 * the original). */
__attribute__((warn_unused_result)) int
deadletter_send(struct deadletter *dl, const amqp_envelope_t *env, enum deadletter_target target,
                long attempts, const char *reason, const char *sqlstate, long delay_ms, char *err,
                size_t errlen);

#endif
