/* project: applies a batch of deliveries to the read DB, then settles them with the broker.
 *
 * All unsettled deliveries of the batch go to apply_events() as one JSON array, in one
 * transaction; after the commit one basic.ack (multiple) settles them. If that transaction fails,
 * the events are applied one at a time with apply_event(), each in its own transaction and acked
 * after its commit. An event that arrived before its predecessor (CQ425) is requeued (basic.nack,
 * requeue=true; counted in b->requeued) to be applied after it; an event the database refuses
 * for any other reason but a transient one is logged with the PostgreSQL error and rejected
 * (basic.nack, requeue=false), so it does not stop the stream behind it. Acks come only after
 * commits, so a crash in between redelivers events the read DB already has; apply_event() drops
 * those by event id. */
#ifndef CQ_CONSUMER_PROJECT_H
#define CQ_CONSUMER_PROJECT_H

#include "event_batch.h"
#include "mq.h"
#include "pg.h"
#include "receive.h"

/* Statements to prepare on the consumer's read-DB connection. */
extern const struct pg_stmt project_stmts[];
extern const size_t project_nstmts;

enum project_status {
    PROJECT_DONE = 0, /* every delivery of the batch is settled */
    PROJECT_PG_LOST,  /* the database connection broke: reconnect, then call again */
    PROJECT_PG_RETRY, /* a transient database error: wait a little, then call again */
    PROJECT_MQ_LOST,  /* an ack or nack failed: drop the batch and the broker connection */
};

/* Refreshes the read DB's dirty materialized views last refreshed at least min_interval_ms ago
 * (refresh_due_views). Returns 0 or -1 with err. */
__attribute__((warn_unused_result)) int project_refresh_views(PGconn *pg, long min_interval_ms,
                                                              char *err, size_t errlen);

/* Applies and settles the unsettled deliveries of b (settled ones are skipped, so a call after
 * PROJECT_PG_LOST / PROJECT_PG_RETRY continues where the last stopped). json is scratch space
 * owned by the caller. On anything but PROJECT_DONE, err says what failed. */
__attribute__((warn_unused_result)) enum project_status
project_batch(PGconn *pg, amqp_connection_state_t mq, struct receive_batch *b,
              struct event_batch *json, char *err, size_t errlen);

#endif
