/* ports: the live table (ports.h): the broker, the read DB and the clock of a running consumer. */
#include "ports.h"

#include "base/log.h"
#include "base/signals.h"

#include <stdio.h>
#include <string.h>

static int live_subscribe(amqp_connection_state_t conn, const char *queue, const char *tag,
                          long prefetch, char *err, size_t errlen)
{
    amqp_rpc_reply_t r;
    char detail[256];

    amqp_basic_qos(conn, MQ_CHANNEL, 0, (uint16_t)prefetch, 0);
    r = amqp_get_rpc_reply(conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "could not set prefetch: %s",
                 mq_reply_text(r, detail, sizeof detail));
        return -1;
    }
    amqp_basic_consume(conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
                       tag != NULL ? amqp_cstring_bytes(tag) : amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    r = amqp_get_rpc_reply(conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "could not consume from \"%s\": %s", queue,
                 mq_reply_text(r, detail, sizeof detail));
        return -1;
    }
    return 0;
}

/* basic.cancel: the broker delivers nothing more for tag; what it delivered before the cancel-ok
 * (frames the library keeps for the next receive) is applied and acked as usual. */
static int live_cancel(amqp_connection_state_t conn, const char *tag, char *err, size_t errlen)
{
    char detail[256];

    if (amqp_basic_cancel(conn, MQ_CHANNEL, amqp_cstring_bytes(tag)) == NULL) {
        snprintf(err, errlen, "could not cancel \"%s\": %s", tag,
                 mq_reply_text(amqp_get_rpc_reply(conn), detail, sizeof detail));
        return -1;
    }
    return 0;
}

/* Connects to the read DB with the consumer's statements, retrying with backoff; the session's
 * server-side bounds (statement_timeout, idle_in_transaction_session_timeout: a consumer frozen
 * inside its transaction loses it and its locks after PG_IDLE_IN_TRANSACTION_TIMEOUT_MS) come
 * with every connection (lib/pg/pg.c). Returns NULL only when a stop was requested meanwhile. */
static PGconn *live_pg_connect(const char *dsn)
{
    return pg_connect_retry(dsn, "consumer", project_stmts, project_nstmts);
}

/* Checks PROCESSED_EVENTS_RETENTION with the database's own interval parser. Returns 0, -2 when
 * it is invalid (logged: the consumer stops with status 2), or 0 on a database error (checked
 * again by the purge, which logs it). */
static int live_check_retention(PGconn *pg, const char *retention)
{
    const char *params[1] = {retention};
    PGresult *res =
        PQexecParams(pg, "SELECT $1::interval >= interval '0'", 1, NULL, params, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc = 0;

    if ((PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") != 0) ||
        (state != NULL && strncmp(state, "22", 2) == 0)) {
        char q[300];
        log_error("invalid configuration",
                  "error=\"invalid value for PROCESSED_EVENTS_RETENTION: expected a PostgreSQL "
                  "interval of at least 0 such as '7 days'\" value=%s",
                  log_quote(q, sizeof q, retention));
        rc = -2;
    }
    PQclear(res);
    return rc;
}

const struct consumer_ports consumer_ports_live = {
    .mq_connect = mq_connect_retry,
    .subscribe = live_subscribe,
    .cancel = live_cancel,
    .mq_close = mq_close,
    .pg_connect = live_pg_connect,
    .pg_close = PQfinish,
    .check_retention = live_check_retention,
    .join = partitions_join_sql,
    .claim = partitions_claim_sql,
    .leave = partitions_leave_sql,
    .fill = receive_fill,
    .take_notices = consumer_status_take_notices,
    .guard = crashguard_check,
    .guard_settled = crashguard_settled,
    .project = project_batch,
    .flush_dead_letters = deadletter_flush,
    .status_tick = consumer_status_tick,
    .sleep_ms = signals_sleep_ms,
};
