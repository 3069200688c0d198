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
 * would interleave with the confirms). struct deadletter does not own that connection.
 *
 * Every message sent to <queue>.dead is also noted (event id, type, aggregate, reason, attempts)
 * and deadletter_flush() stores the notes in the read DB (record_dead_letter, read 0015) outside
 * any batch transaction, for the dashboard's dead-letter panel. The broker's queue stays the
 * truth: a note that cannot be stored is kept for the next flush (at most DEADLETTER_PENDING_MAX,
 * then the oldest is dropped with a warning). A message without an event id (no message_id and
 * no eventId in its body) is not noted: the panel could not act on it. */
#ifndef CQ_CONSUMER_DEADLETTER_H
#define CQ_CONSUMER_DEADLETTER_H

#include "mq/mq.h"
#include "pg/pg.h"

#include <stddef.h>
#include <stdint.h>

#define DEADLETTER_PENDING_MAX 1024

/* One dead letter to store in the read DB. */
struct deadletter_note {
    char event_id[128];
    char event_type[128];
    char aggregate_type[64];
    char aggregate_id[32];
    char reason[512];
    char sqlstate[8];
    long attempts;
};

struct deadletter {
    amqp_connection_state_t conn; /* confirm-mode connection; NULL while disconnected */
    uint64_t next_tag;            /* 1 after confirm.select */
    const struct mq_topology *topo;
    long confirm_timeout_ms;
    struct deadletter_note *pending; /* owned: DEADLETTER_PENDING_MAX entries once used */
    size_t npending;
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

/* Fills note from env (message_id or eventId, type or eventType, aggregateType, aggregateId).
 * Returns false when the message carries no event id. */
bool deadletter_note_init(struct deadletter_note *note, const amqp_envelope_t *env, long attempts,
                          const char *reason, const char *sqlstate);

/* Stores the pending notes in the read DB, oldest first; those stored leave the list. Returns 0,
 * or -1 with err (the rest stays pending). */
__attribute__((warn_unused_result)) int deadletter_flush(struct deadletter *dl, PGconn *pg,
                                                         char *err, size_t errlen);

/* Frees the pending notes. */
void deadletter_release(struct deadletter *dl);

#endif
