#include "project_tx.h"

#include "base/log.h"
#include "base/signals.h"

#include <jansson.h>

#include <stdio.h>
#include <string.h>

/* Consumers sharing one queue (CONSUMER_PARTITIONS = 1) take turns in the read DB. Correctness does
 * not depend on it: every projection checks the aggregate's version on its row (UPDATE ... WHERE
 * version = v - 1, or the row read FOR UPDATE) and every shared figure moves by a delta, so
 * parallel transactions give the same read model
 * (migrations/read/functions/20_projections_catalog.sql, 21_projections_orders.sql). The turn is
 * for throughput: the batches update the same summary rows (totals, statuses, customers, products)
 * in different orders, so parallel batches would deadlock often, each deadlock costing
 * deadlock_timeout and a retry (a deadlock or serialization failure is transient: retried, never
 * counted as a try). The lock is a transaction-level advisory lock taken in the statement's own
 * transaction, before the events are applied (the CTE is scanned first), and released by its commit
 * or rollback (consumer_take_turn, migrations/read/functions/30_apply.sql: a batch in its turn also
 * skips the lock ordering that parallel batches need). View refreshes need no turn (refresher.h).
 */
#define SERIAL_CTE "WITH serial AS (SELECT consumer_take_turn()) "

const struct pg_stmt project_stmts[] = {
    {"consumer_apply_events", SERIAL_CTE "SELECT apply_events($1::jsonb)::text FROM serial", 1},
    {"consumer_apply_event", SERIAL_CTE "SELECT apply_event($1::jsonb) FROM serial", 1},
    /* partitioned consumers (CONSUMER_PARTITIONS > 1) apply in parallel: the summary rows every
     * batch updates are split by the session's shard (set with its partitions, partitions.h) and
     * the shared per-key rows are locked in one order (30_apply.sql), so they take no turn */
    {"consumer_apply_events_p", "SELECT apply_events($1::jsonb)::text", 1},
    {"consumer_apply_event_p", "SELECT apply_event($1::jsonb)", 1},
};
const size_t project_nstmts = sizeof project_stmts / sizeof project_stmts[0];

/* Errors worth retrying rather than blaming the event: connection exceptions, transaction
 * rollbacks (serialization failure, deadlock), insufficient resources, operator intervention
 * (shutdown, cancel) and system errors. A missing SQLSTATE means the client lost the server. */
static bool transient_sqlstate(const char *state)
{
    static const char *const classes[] = {"08", "40", "53", "57", "58"};

    if (state == NULL || strlen(state) != 5)
        return true;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strncmp(state, classes[i], 2) == 0)
            return true;
    return false;
}

/* Classifies a failed result; fills err and sqlstate ("" when none). */
enum failure project_classify(PGconn *pg, const PGresult *res, char *sqlstate, char *err,
                              size_t errlen)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    snprintf(sqlstate, 6, "%s", state != NULL ? state : "");
    pg_error_text(pg, res, err, errlen);
    if (PQstatus(pg) != CONNECTION_OK)
        return FAIL_LOST;
    if (transient_sqlstate(state))
        return FAIL_RETRY;
    return strcmp(sqlstate, SQLSTATE_EARLY) == 0 ? FAIL_LATER : FAIL_REJECT;
}

enum project_status project_failure_status(enum failure f)
{
    return f == FAIL_LOST ? PROJECT_PG_LOST : PROJECT_PG_RETRY;
}

enum project_status project_acked(int status, uint64_t tag, char *err, size_t errlen)
{
    char detail[256];

    if (status == AMQP_STATUS_OK)
        return PROJECT_DONE;
    snprintf(err, errlen, "could not ack delivery %llu: %s", (unsigned long long)tag,
             mq_status_text(status, detail, sizeof detail));
    return PROJECT_MQ_LOST;
}

void project_log_saved(const struct delivery *d, bool duplicate)
{
    char keys[192];
    log_info(duplicate ? "skipped duplicate event" : "saved to read db", "%s",
             event_info_keys(&d->info, keys, sizeof keys));
}

/* Reads {"applied": n, "duplicates": m}. */
void project_parse_counts(const char *text, long long *applied, long long *duplicates)
{
    json_t *root = json_loads(text, 0, NULL);

    *applied = json_integer_value(json_object_get(root, "applied"));
    *duplicates = json_integer_value(json_object_get(root, "duplicates"));
    json_decref(root);
}

/* Runs a statement without parameters; returns whether its status is want. */
static bool exec_ok(PGconn *pg, const char *sql, ExecStatusType want, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = PQresultStatus(res) == want;

    if (!ok)
        pg_error_text(pg, res, err, errlen);
    PQclear(res);
    return ok;
}

/* Logs a test-only fault hook's pause loudly and sleeps. */
void project_fault_pause(const char *what, long ms, size_t count)
{
    char msg[96];

    snprintf(msg, sizeof msg, "fault hook: pausing %s (test only)", what);
    log_warn(msg, "ms=%ld count=%zu", ms, count);
    signals_sleep_ms(ms);
}

/* Runs the prepared statement stmt (consumer_apply_events on a batch, consumer_apply_event on
 * one event) with json: one statement (autocommit), or, with the before-commit fault hook on,
 * BEGIN / the statement / pause / COMMIT, for a batch and a single event alike. Returns the
 * statement's result (caller PQclears), whose status is PGRES_TUPLES_OK only if it committed. */
PGresult *project_apply_tx(const struct project_ctx *ctx, const char *stmt, const char *json,
                           size_t count)
{
    const char *params[1] = {json};
    PGresult *res;
    char detail[256];

    if (ctx->fault_pause_before_commit_ms <= 0)
        return PQexecPrepared(ctx->pg, stmt, 1, params, NULL, NULL, 0);
    if (!exec_ok(ctx->pg, "BEGIN", PGRES_COMMAND_OK, detail, sizeof detail))
        return PQexecPrepared(ctx->pg, stmt, 1, params, NULL, NULL, 0);
    res = PQexecPrepared(ctx->pg, stmt, 1, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        (void)exec_ok(ctx->pg, "ROLLBACK", PGRES_COMMAND_OK, detail, sizeof detail);
        return res;
    }
    project_fault_pause("before commit", ctx->fault_pause_before_commit_ms, count);
    PGresult *commit = PQexec(ctx->pg, "COMMIT");
    if (PQresultStatus(commit) != PGRES_COMMAND_OK) {
        PQclear(res);
        return commit; /* the failed COMMIT stands for the batch's failure */
    }
    PQclear(commit);
    return res;
}

/* Acks the unsettled deliveries of b->items[lo, hi) that are not held (marking them settled):
 * one multiple ack up to last_tag when no delivery before it stays unsettled, else one ack each,
 * so that a held delivery is never acked with them. Returns the status of the (last) ack. */
int project_ack_range(const struct project_ctx *ctx, struct receive_batch *b, size_t lo, size_t hi,
                      uint64_t last_tag)
{
    bool multiple = true;
    int status = AMQP_STATUS_OK;

    for (size_t i = 0; i < hi && multiple; i++)
        multiple = i < lo ? b->items[i].settled : !b->items[i].held;
    if (multiple)
        status = amqp_basic_ack(ctx->mq, MQ_CHANNEL, last_tag, 1);
    for (size_t i = lo; i < hi; i++) {
        struct delivery *d = &b->items[i];
        if (d->settled || d->held)
            continue;
        if (!multiple && status == AMQP_STATUS_OK)
            status = amqp_basic_ack(ctx->mq, MQ_CHANNEL, d->env.delivery_tag, 0);
        d->settled = true;
    }
    return status;
}
