#include "orderbatch.h"

#include "service/apiserver.h"
#include "base/batcher.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "base/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct orderbatch {
    struct batcher *batcher;
    struct pg_pool *pool; /* borrowed */
    long ttl_s;
    struct metrics_counter *batches, *orders; /* batches of two or more, their orders */
};

/* one order on its way through the batcher: the item first (batcher.h) */
struct job {
    struct batcher_item item;
    const struct orderbatch_order *order;
    struct orderbatch_result *res;
};

char *orderbatch_json(const struct orderbatch_order *const *orders, size_t n, long ttl_s)
{
    json_t *arr = json_array();
    char *text;

    for (size_t i = 0; i < n; i++) {
        const struct orderbatch_order *o = orders[i];
        json_t *body = json_loadb(o->body, o->body_len, JSON_DECODE_ANY, NULL);
        json_t *e = json_object();

        /* a body the validator let through is JSON; should one not be, the whole statement
         * fails and each order runs alone, where the database says what is wrong */
        json_object_set_new(e, "body", body != NULL ? body : json_string(""));
        json_object_set_new(e, "traceparent",
                            o->traceparent != NULL ? json_string(o->traceparent) : json_null());
        if (o->key != NULL) {
            json_object_set_new(e, "key", json_string(o->key));
            json_object_set_new(e, "ttl", json_integer(ttl_s));
            json_object_set_new(e, "path", json_string(o->path != NULL ? o->path : ""));
        }
        json_array_append_new(arr, e);
    }
    text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

static char *dup_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

/* Fills res with the answer in row's columns from col on: (answer, tokens, id[, replayed]), the
 * shape of both the batch's rows and the single statements' (command.c's CMD_SQL,
 * IDEMPOTENT_SQL). */
static void settle_answer(const PGresult *pr, int row, int col, struct orderbatch_result *res)
{
    res->outcome = ORDERBATCH_ANSWERED;
    res->answer = xstrdup(PQgetvalue(pr, row, col));
    res->answer_len = (size_t)PQgetlength(pr, row, col);
    res->tokens = xstrdup(PQgetvalue(pr, row, col + 1));
    res->id = dup_value(pr, row, col + 2);
    res->replayed = PQnfields(pr) > col + 3 && strcmp(PQgetvalue(pr, row, col + 3), "t") == 0;
}

/* Fills res from row (ord, answer, tokens, id, replayed, err_state, err_message, err_column). */
static void settle_row(const PGresult *pr, int row, struct orderbatch_result *res)
{
    if (PQgetisnull(pr, row, 5)) {
        settle_answer(pr, row, 1, res);
    } else {
        res->outcome = ORDERBATCH_REFUSED;
        res->err_state = xstrdup(PQgetvalue(pr, row, 5));
        res->err_message = dup_value(pr, row, 6);
        res->err_column = dup_value(pr, row, 7);
    }
}

static void settle_all(struct job *const *jobs, size_t n, enum orderbatch_outcome outcome,
                       const char *why)
{
    for (size_t i = 0; i < n; i++) {
        jobs[i]->res->outcome = outcome;
        if (why != NULL)
            jobs[i]->res->err_message = xstrdup(why);
    }
}

/* Settles res from a failed statement: a refusal (a business error or an internal one, which
 * command.c tells apart) or an unavailable database. */
static void settle_error(PGconn *conn, const PGresult *pr, struct orderbatch_result *res)
{
    const char *state = PQresultErrorField(pr, PG_DIAG_SQLSTATE);
    const char *column = PQresultErrorField(pr, PG_DIAG_COLUMN_NAME);
    char detail[512];

    pg_error_text(conn, pr, detail, sizeof detail);
    if (apiserver_db_unavailable(conn, state)) {
        res->outcome = ORDERBATCH_UNAVAILABLE;
        res->err_message = xstrdup(detail);
        return;
    }
    res->outcome = ORDERBATCH_REFUSED;
    res->err_state = xstrdup(state);
    res->err_message = xstrdup(PQresultErrorField(pr, PG_DIAG_MESSAGE_PRIMARY) != NULL
                                   ? PQresultErrorField(pr, PG_DIAG_MESSAGE_PRIMARY)
                                   : detail);
    res->err_column = column != NULL ? xstrdup(column) : NULL;
}

/* A lone order: the single statement, exactly as without batching (command.c's create_order
 * or, with a key, idempotent), run while holding the runner's slot, so that the orders arriving
 * meanwhile queue for the next batch. */
static void run_alone(struct orderbatch *ob, PGconn *conn, const struct orderbatch_order *o,
                      struct orderbatch_result *res)
{
    char ttl[24];
    PGresult *pr;

    if (o->key == NULL) {
        const char *params[2] = {o->body, o->traceparent};
        pr = PQexecPrepared(conn, "create_order", 2, params, NULL, NULL, 0);
    } else {
        snprintf(ttl, sizeof ttl, "%ld", ob->ttl_s);
        const char *params[9] = {o->key, ttl,     "POST",    o->path,       "create_order",
                                 NULL,   o->body, "orderId", o->traceparent};
        pr = PQexecPrepared(conn, "idempotent", 9, params, NULL, NULL, 0);
    }
    if (PQresultStatus(pr) == PGRES_TUPLES_OK && PQntuples(pr) == 1) {
        settle_answer(pr, 0, 0, res);
    } else {
        settle_error(conn, pr, res);
    }
    PQclear(pr);
}

/* Several orders: cmd_create_orders. */
static void run_together(struct orderbatch *ob, PGconn *conn, struct job *const *jobs, size_t n)
{
    const struct orderbatch_order *orders[BATCHER_MAX_BATCH] = {NULL};
    char detail[512], q[600];
    const char *param;
    char *text;
    PGresult *pr;

    for (size_t i = 0; i < n; i++)
        orders[i] = jobs[i]->order;
    text = orderbatch_json(orders, n, ob->ttl_s);
    if (text == NULL) { /* out of memory: each runs alone */
        settle_all(jobs, n, ORDERBATCH_ALONE, NULL);
        return;
    }
    param = text;
    metrics_counter_inc(ob->batches);
    metrics_counter_add(ob->orders, n);
    pr = PQexecPrepared(conn, "create_orders", 1, &param, NULL, NULL, 0);
    free(text);
    if (PQresultStatus(pr) == PGRES_TUPLES_OK && (size_t)PQntuples(pr) == n) {
        for (size_t i = 0; i < n; i++)
            settle_row(pr, (int)i, jobs[i]->res);
    } else {
        const char *state = PQresultErrorField(pr, PG_DIAG_SQLSTATE);
        pg_error_text(conn, pr, detail, sizeof detail);
        /* unavailable: running the orders again alone could not help and, past a shutdown's
         * grace period, must not happen */
        if (apiserver_db_unavailable(conn, state)) {
            settle_all(jobs, n, ORDERBATCH_UNAVAILABLE, detail);
        } else {
            log_warn("order batch failed, its orders run alone", "orders=%zu sqlstate=%s error=%s",
                     n, state != NULL ? state : "-", log_quote(q, sizeof q, detail));
            settle_all(jobs, n, ORDERBATCH_ALONE, NULL);
        }
    }
    PQclear(pr);
}

static void run_batch(void *arg, struct batcher_item *const *items, size_t n)
{
    struct orderbatch *ob = arg;
    struct job *const *jobs = (struct job *const *)items;
    char detail[256];
    PGconn *conn = pg_pool_acquire(ob->pool, detail, sizeof detail);

    if (conn == NULL) {
        settle_all(jobs, n, ORDERBATCH_UNAVAILABLE, detail);
        return;
    }
    if (n == 1)
        run_alone(ob, conn, jobs[0]->order, jobs[0]->res);
    else
        run_together(ob, conn, jobs, n);
    pg_pool_release(ob->pool, conn);
}

struct orderbatch *orderbatch_new(struct pg_pool *pool, struct metrics *m, size_t max_batch,
                                  unsigned runners, long ttl_s)
{
    struct orderbatch *ob;

    if (max_batch < 2 || pool == NULL || m == NULL)
        return NULL;
    ob = xcalloc(1, sizeof *ob);
    ob->pool = pool;
    ob->ttl_s = ttl_s;
    ob->batches = metrics_counter_new(
        m, "command_order_batches_total",
        "Statements that created two or more orders at once (natural batching)");
    ob->orders = metrics_counter_new(m, "command_batched_orders_total",
                                     "Orders sent to the database in batches of two or more");
    ob->batcher = batcher_new(max_batch, runners, run_batch, ob);
    if (ob->batcher == NULL) {
        free(ob);
        return NULL;
    }
    return ob;
}

void orderbatch_free(struct orderbatch *ob)
{
    if (ob == NULL)
        return;
    batcher_free(ob->batcher);
    free(ob);
}

void orderbatch_result_clear(struct orderbatch_result *res)
{
    free(res->answer);
    free(res->tokens);
    free(res->id);
    free(res->err_state);
    free(res->err_message);
    free(res->err_column);
    memset(res, 0, sizeof *res);
}

void orderbatch_run(struct orderbatch *ob, const struct orderbatch_order *order,
                    struct orderbatch_result *res)
{
    struct job job = {.order = order, .res = res};

    memset(res, 0, sizeof *res);
    batcher_submit(ob->batcher, &job.item);
}
