/* project_tx: the statements of the projection (project.h): one transaction for a batch or for
 * one event, what a failure means, the acks after the commit, the test-only fault pauses.
 * Shared by project.c and nothing else. */
#ifndef CQ_CONSUMER_PROJECT_TX_H
#define CQ_CONSUMER_PROJECT_TX_H

#include "project.h"

#include <stdbool.h>
#include <stddef.h>

/* The projections raise this when an event of an aggregate arrives before its predecessor
 * (aggregateVersion gap): the event is fine, only early. */
#define SQLSTATE_EARLY "CQ425"

/* Local retries of early events before they go to the retry queue: after 20, 40 and 80 ms. */
#define EARLY_LOCAL_RETRIES 3
#define EARLY_LOCAL_PAUSE_MS 20

/* What to do about a failed statement. */
enum failure {
    FAIL_LOST,   /* the connection broke: reconnect, retry */
    FAIL_RETRY,  /* transient: wait, retry */
    FAIL_LATER,  /* the event came too early: requeue it */
    FAIL_REJECT, /* the event can never apply: reject it */
};

/* Classifies a failed result; fills err and sqlstate ("" when none). */
enum failure project_classify(PGconn *pg, const PGresult *res, char *sqlstate, char *err,
                              size_t errlen);

/* The status a failure gives the caller of project_batch. */
enum project_status project_failure_status(enum failure f);

/* Logs an event applied (or skipped as a duplicate) alone. */
void project_log_saved(const struct delivery *d, bool duplicate);

/* Reads {"applied": n, "duplicates": m}. */
void project_parse_counts(const char *text, long long *applied, long long *duplicates);

/* Logs a test-only fault hook's pause loudly and sleeps. */
void project_fault_pause(const char *what, long ms, size_t count);

/* Runs the prepared statement stmt (consumer_apply_events on a batch, consumer_apply_event on
 * one event) with json: one statement (autocommit), or, with the before-commit fault hook on,
 * BEGIN / the statement / pause / COMMIT, for a batch and a single event alike. Returns the
 * statement's result (caller PQclears), whose status is PGRES_TUPLES_OK only if it committed. */
PGresult *project_apply_tx(const struct project_ctx *ctx, const char *stmt, const char *json,
                           size_t count);

/* Acks the unsettled deliveries of b->items[lo, hi) that are not held (marking them settled):
 * one multiple ack up to last_tag when no delivery before it stays unsettled, else one ack each,
 * so that a held delivery is never acked with them. Returns the status of the (last) ack. */
int project_ack_range(const struct project_ctx *ctx, struct receive_batch *b, size_t lo, size_t hi,
                      uint64_t last_tag);

#endif
