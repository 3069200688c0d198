/* project: applies a batch of deliveries to the read DB, then settles them with the broker.
 *
 * All unsettled deliveries of the batch go to apply_events() as one JSON array, in one
 * transaction; after the commit one basic.ack (multiple) settles them. If an event makes that
 * transaction fail, the batch is split in two and each half applied the same way, left half first
 * (batch order is kept), down to single events, each applied with apply_event() and acked after
 * its commit: one bad event costs about 2 log2(n) transactions. A delivery that cannot be
 * applied does not stop the stream behind it: it goes
 * to the retry queue and comes back after retry_delay_ms (deadletter.h), at most max_attempts
 * tries in all, or early_max_attempts for an event that arrived before its predecessor or before
 * an entity it refers to (CQ425, possible with several relays or consumers, the retry queue or a
 * requeue); after its last try it goes to the dead-letter queue, logged with its event id and
 * reason. When apply_events() fails with CQ425 its DETAIL names the early events: those are set
 * aside (held for a local retry a few ms later, or sent to the retry queue) and the rest of the
 * range is applied again at once, without halving. A body that is not an event envelope can never
 * apply and goes there at once. Transient database errors (lost connection, serialization
 * failure, shutdown) are not the event's fault and never count as a try: the batch is retried.
 * Acks come only after commits, so a crash in between redelivers events the read DB already has;
 * apply_event() drops those by event id. */
#ifndef CQ_CONSUMER_PROJECT_H
#define CQ_CONSUMER_PROJECT_H

#include "deadletter.h"
#include "mq/event_batch.h"
#include "mq/mq.h"
#include "pg/pg.h"
#include "receive.h"

/* Statements to prepare on the consumer's read-DB connection. */
extern const struct pg_stmt project_stmts[];
extern const size_t project_nstmts;

enum project_status {
    PROJECT_DONE = 0, /* every delivery of the batch is settled */
    PROJECT_PG_LOST,  /* the database connection broke: reconnect, then call again */
    PROJECT_PG_RETRY, /* a transient database error: wait a little, then call again */
    PROJECT_MQ_LOST,  /* an ack or a retry/dead-letter publish failed: drop the batch and the
                         broker connections */
};

/* The status of an ack of delivery tag, given amqp_basic_ack's status: PROJECT_DONE, or
 * PROJECT_MQ_LOST with err "could not ack delivery <tag>: <why>". */
enum project_status project_acked(int status, uint64_t tag, char *err, size_t errlen);

/* Whether ids, the DETAIL of a CQ425 from apply_events() (event ids separated by single spaces),
 * names event_id: a whole word of it, never a prefix or a part. An empty event_id is never named.
 */
bool project_ids_name(const char *ids, const char *event_id);

/* What project_batch works with; none of it is owned. */
struct project_ctx {
    PGconn *pg;
    amqp_connection_state_t mq; /* the consuming connection */
    struct deadletter *dl;      /* retry and dead-letter publishing */
    long max_attempts;          /* CONSUMER_MAX_ATTEMPTS */
    long early_max_attempts;    /* CONSUMER_EARLY_MAX_ATTEMPTS (CQ425) */
    long retry_delay_ms;        /* CONSUMER_RETRY_DELAY_MS */
    /* Test-only fault hooks (0 = off): sleep inside the batch transaction before its COMMIT, or
     * after the COMMIT before the ack, logging "fault hook: ..." first, so that a test can kill
     * the consumer at that point. */
    long fault_pause_before_commit_ms;
    long fault_pause_after_commit_ms;
    /* partitioned consumers apply in parallel, without the consumers' turn (project_tx.c) */
    bool parallel;
};

/* Applies and settles the unsettled deliveries of b (settled ones are skipped, so a call after
 * PROJECT_PG_LOST / PROJECT_PG_RETRY continues where the last stopped). json is scratch space
 * owned by the caller. On anything but PROJECT_DONE, err says what failed. */
__attribute__((warn_unused_result)) enum project_status project_batch(const struct project_ctx *ctx,
                                                                      struct receive_batch *b,
                                                                      struct event_batch *json,
                                                                      char *err, size_t errlen);

#endif
