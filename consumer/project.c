#include "project.h"

#include "log.h"

#include <jansson.h>

#include <stdio.h>
#include <string.h>

const struct pg_stmt project_stmts[] = {
    {"consumer_apply_events", "SELECT apply_events($1::jsonb)::text", 1},
    {"consumer_apply_event", "SELECT apply_event($1::jsonb)", 1},
    {"consumer_refresh_views", "SELECT array_to_string(refresh_due_views($1::integer), ',')", 1},
};
const size_t project_nstmts = sizeof project_stmts / sizeof project_stmts[0];

/* The projections raise this when an event of an aggregate arrives before its predecessor
 * (aggregateVersion gap): the event is fine, only early. */
#define SQLSTATE_EARLY "CQ425"

/* What to do about a failed statement. */
enum failure {
    FAIL_LOST,   /* the connection broke: reconnect, retry */
    FAIL_RETRY,  /* transient: wait, retry */
    FAIL_LATER,  /* the event came too early: requeue it */
    FAIL_REJECT, /* the event can never apply: reject it */
};

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
static enum failure classify(PGconn *pg, const PGresult *res, char *sqlstate, char *err,
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

static enum project_status failure_status(enum failure f)
{
    return f == FAIL_LOST ? PROJECT_PG_LOST : PROJECT_PG_RETRY;
}

static void log_saved(const struct delivery *d, bool duplicate)
{
    char keys[192];
    log_info(duplicate ? "skipped duplicate event" : "saved to read db", "%s",
             event_info_keys(&d->info, keys, sizeof keys));
}

/* Reads {"applied": n, "duplicates": m}. */
static void parse_counts(const char *text, long long *applied, long long *duplicates)
{
    json_t *root = json_loads(text, 0, NULL);

    *applied = json_integer_value(json_object_get(root, "applied"));
    *duplicates = json_integer_value(json_object_get(root, "duplicates"));
    json_decref(root);
}

/* The whole batch in one transaction. Returns PROJECT_DONE when applied and acked; when the
 * transaction failed because of an event, *failed is set and the batch is left unsettled. */
static enum project_status apply_all(PGconn *pg, amqp_connection_state_t mq,
                                     struct receive_batch *b, struct event_batch *json,
                                     bool *failed, char *err, size_t errlen)
{
    const char *params[1];
    uint64_t last_tag = 0;
    long long applied = 0, duplicates = 0;
    char sqlstate[6], detail[256];
    PGresult *res;
    int status;

    *failed = false;
    event_batch_reset(json);
    for (size_t i = 0; i < b->n; i++) {
        struct delivery *d = &b->items[i];
        if (d->settled)
            continue;
        event_batch_add(json, d->env.message.body.bytes, d->env.message.body.len);
        last_tag = d->env.delivery_tag;
    }
    if (json->count == 0)
        return PROJECT_DONE;
    params[0] = event_batch_json(json);
    res = PQexecPrepared(pg, "consumer_apply_events", 1, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        enum failure f = classify(pg, res, sqlstate, err, errlen);
        PQclear(res);
        if (f == FAIL_LOST || f == FAIL_RETRY)
            return failure_status(f);
        char q[600];
        *failed = true;
        log_warn("could not apply batch, applying its events one at a time",
                 "count=%zu sqlstate=%s error=%s", json->count, sqlstate,
                 log_quote(q, sizeof q, err));
        return PROJECT_DONE;
    }
    parse_counts(PQgetvalue(res, 0, 0), &applied, &duplicates);
    PQclear(res);

    /* committed: now the broker may forget these deliveries */
    status = amqp_basic_ack(mq, MQ_CHANNEL, last_tag, 1);
    for (size_t i = 0; i < b->n; i++) {
        struct delivery *d = &b->items[i];
        if (d->settled)
            continue;
        d->settled = true;
        /* apply_events reports counts only: a mixed batch (after a redelivery) logs every event
         * as saved, and its duplicates= count tells how many were not */
        log_saved(d, applied == 0);
    }
    log_info("applied batch", "count=%zu applied=%lld duplicates=%lld", json->count, applied,
             duplicates);
    if (status != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not ack delivery %llu: %s", (unsigned long long)last_tag,
                 mq_status_text(status, detail, sizeof detail));
        return PROJECT_MQ_LOST;
    }
    return PROJECT_DONE;
}

/* One event in its own transaction; acked after the commit, rejected if the database refuses
 * it. */
static enum project_status apply_one(PGconn *pg, amqp_connection_state_t mq,
                                     struct receive_batch *b, struct delivery *d,
                                     struct event_batch *json, char *err, size_t errlen)
{
    const char *params[1] = {
        event_batch_one(json, d->env.message.body.bytes, d->env.message.body.len)};
    PGresult *res = PQexecPrepared(pg, "consumer_apply_event", 1, params, NULL, NULL, 0);
    char sqlstate[6], detail[256], keys[192], q[600];
    int status;

    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        bool duplicate = strcmp(PQgetvalue(res, 0, 0), "duplicate") == 0;
        PQclear(res);
        status = amqp_basic_ack(mq, MQ_CHANNEL, d->env.delivery_tag, 0);
        d->settled = true;
        log_saved(d, duplicate);
    } else {
        enum failure f = classify(pg, res, sqlstate, err, errlen);
        PQclear(res);
        if (f == FAIL_LOST || f == FAIL_RETRY)
            return failure_status(f);
        if (f == FAIL_LATER) {
            /* back into the queue: it applies once its predecessor has */
            log_warn("requeued early event", "%s event_type=%s sqlstate=%s error=%s",
                     event_info_keys(&d->info, keys, sizeof keys), d->info.event_type, sqlstate,
                     log_quote(q, sizeof q, err));
            b->requeued++;
        } else {
            log_error("rejected event", "%s event_type=%s sqlstate=%s error=%s",
                      event_info_keys(&d->info, keys, sizeof keys), d->info.event_type, sqlstate,
                      log_quote(q, sizeof q, err));
        }
        status = amqp_basic_nack(mq, MQ_CHANNEL, d->env.delivery_tag, 0, f == FAIL_LATER);
        d->settled = true;
    }
    if (status != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not settle delivery %llu: %s",
                 (unsigned long long)d->env.delivery_tag,
                 mq_status_text(status, detail, sizeof detail));
        return PROJECT_MQ_LOST;
    }
    return PROJECT_DONE;
}

enum project_status project_batch(PGconn *pg, amqp_connection_state_t mq, struct receive_batch *b,
                                  struct event_batch *json, char *err, size_t errlen)
{
    bool failed = false;
    enum project_status st = apply_all(pg, mq, b, json, &failed, err, errlen);

    if (st != PROJECT_DONE || !failed)
        return st;
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].settled)
            continue;
        st = apply_one(pg, mq, b, &b->items[i], json, err, errlen);
        if (st != PROJECT_DONE)
            return st;
    }
    return PROJECT_DONE;
}

int project_refresh_views(PGconn *pg, long min_interval_ms, char *err, size_t errlen)
{
    char interval[24];
    const char *params[1] = {interval};
    PGresult *res;
    int rc = 0;

    snprintf(interval, sizeof interval, "%ld", min_interval_ms);
    res = PQexecPrepared(pg, "consumer_refresh_views", 1, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char detail[400];
        pg_error_text(pg, res, detail, sizeof detail);
        snprintf(err, errlen, "could not refresh materialized views: %s", detail);
        rc = -1;
    } else if (*PQgetvalue(res, 0, 0) != '\0') {
        log_debug("refreshed materialized views", "views=%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}
