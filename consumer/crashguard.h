/* crashguard: a message that crashes the consumer is dead-lettered after a bounded number of
 * tries, although a crash cannot count anything.
 *
 * A crash (abort, segfault, OOM kill) while a delivery is applied leaves it unacked; the broker
 * hands it out again with redelivered=true. receive.c makes such a delivery a batch of its own.
 * Before it is applied, crashguard_check records the attempt in the read DB in a statement of its
 * own, committed first (event_attempt_record, migrations/read/functions/30_apply.sql), so
 * the count survives the next crash. Once the count reaches max_attempts the delivery is sent to
 * the dead-letter queue with reason "crashed the consumer N times" and acked, without being
 * applied; the stream behind it goes on. A first delivery costs nothing: only redelivered ones
 * are counted. crashguard_settled deletes the count once the delivery is settled. A redelivered
 * event the read DB has already applied (event_redelivered answers 0: a partition handed over to
 * this consumer while its old holder was applying it, or a connection lost after the commit) is
 * acked at once as a duplicate, neither counted nor applied. */
#ifndef CQ_CONSUMER_CRASHGUARD_H
#define CQ_CONSUMER_CRASHGUARD_H

#include "deadletter.h"
#include "project.h"
#include "receive.h"

#include <stdbool.h>

struct crashguard_ctx {
    PGconn *pg;
    amqp_connection_state_t mq; /* the consuming connection (for the ack) */
    struct deadletter *dl;
    long max_attempts; /* CONSUMER_MAX_ATTEMPTS */
};

/* For a batch that is one redelivered event (receive_batch_redelivered): records the attempt and,
 * at the limit, dead-letters and acks it (settled). *counted tells whether an attempt row was
 * written (then call crashguard_settled once the batch is settled). Returns PROJECT_DONE, or
 * PROJECT_PG_LOST / PROJECT_PG_RETRY / PROJECT_MQ_LOST with err (as project_batch). */
__attribute__((warn_unused_result)) enum project_status
crashguard_check(const struct crashguard_ctx *ctx, struct receive_batch *b, bool *counted,
                 char *err, size_t errlen);

/* Deletes the attempt count of b's event (best effort: logged if it fails; the retention purge
 * removes what is left). */
void crashguard_settled(PGconn *pg, const struct receive_batch *b);

#endif
