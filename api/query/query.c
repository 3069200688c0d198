#include "query.h"

#include "config.h"
#include "consistency.h"
#include "log.h"
#include "seeds.h"
#include "service.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each query function is set-returning SQL (migrations/read/0008_inline_queries.sql), called in
 * FROM so that the planner inlines its body into the prepared statement and plans it once per
 * connection; the scalar subquery answers one row, NULL when the function returned none. */
#define QUERY_CALL(call) "SELECT (SELECT q FROM " call " AS q)"

const struct pg_stmt query_stmts[] = {
    {"product", QUERY_CALL("q_product($1::bigint)"), 1},
    {"products", QUERY_CALL("q_products($1::integer, $2::integer)"), 2},
    {"order", QUERY_CALL("q_order($1::bigint)"), 1},
    {"customer_orders",
     QUERY_CALL("q_customer_orders($1::bigint, $2::text, $3::integer, $4::integer)"), 4},
    {"customer_summary", QUERY_CALL("q_customer_summary($1::bigint)"), 1},
    {"inventory", QUERY_CALL("q_inventory($1::boolean)"), 1},
    {"analytics_orders", QUERY_CALL("q_analytics_orders()"), 0},
    {"sales_daily", QUERY_CALL("q_sales_daily($1::date, $2::date)"), 2},
    {"top_products", QUERY_CALL("q_top_products($1::integer)"), 1},
    {"categories", QUERY_CALL("q_categories()"), 0},
    {"todos", QUERY_CALL("q_todos()"), 0},
    {"mood_stats", QUERY_CALL("q_mood_stats()"), 0},
    /* the operations dashboard (dashboard.h): STALL_AFTER_MS as the parameter */
    {"dashboard", QUERY_CALL("q_dashboard($1::bigint)"), 1},
    {"dead_letters", QUERY_CALL("q_dead_letters($1::integer, $2::integer)"), 2},
    /* read-your-writes (consistency.h) */
    {"events_applied", QUERY_CALL("q_events_applied($1::uuid[])"), 1},
    /* the seed systems' reads (seeds.h) */
    SEEDS_QUERY_STMTS};
const size_t query_nstmts = sizeof query_stmts / sizeof query_stmts[0];

int query_int_arg(const struct http_request *req, const char *name, long min, long max, long def,
                  long *out, struct api_error *err)
{
    const char *v = http_request_arg(req, name);

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (config_parse_long(v, min, max, out) != 0)
        return api_error_field(err, name, "must be an integer between %ld and %ld", min, max);
    return 0;
}

int query_enum_arg(const struct http_request *req, const char *name, const char *const *choices,
                   const char **out, struct api_error *err)
{
    const char *v = http_request_arg(req, name);

    *out = NULL;
    if (v == NULL)
        return 0;
    for (const char *const *c = choices; *c != NULL; c++) {
        if (strcmp(*c, v) == 0) {
            *out = *c;
            return 0;
        }
    }
    return api_error_field(err, name, "is not one of the allowed values");
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool query_valid_date(const char *s)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    }
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= days[m - 1] + (m == 2 && leap(y) ? 1 : 0);
}

int query_date_arg(const struct http_request *req, const char *name, const char **out,
                   struct api_error *err)
{
    const char *v = http_request_arg(req, name);

    *out = v;
    if (v != NULL && !query_valid_date(v))
        return api_error_field(err, name, "must be a date as YYYY-MM-DD");
    return 0;
}

int query_run(const struct apiserver_ctx *ctx, const char *stmt, int nparams,
              const char *const *params, const char *not_found_what, const struct http_request *req,
              struct http_response *resp, struct api_error *err)
{
    const struct query_service *qs = ctx->ext;
    char detail[256];

    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = pg_pool_acquire(ctx->pool, detail, sizeof detail);
        PGresult *res;
        int rc = -1;

        if (conn == NULL)
            return api_error_set(err, API_UNAVAILABLE, "unavailable",
                                 "the read database is unavailable, retry later");
        /* X-Consistency-Token: answer only once the read model has the client's writes */
        rc = consistency_gate(qs != NULL ? qs->consistency : NULL, conn, req, err);
        if (rc == -2 && attempt == 0) {
            pg_pool_release(ctx->pool, conn); /* drops the broken connection */
            continue;
        }
        if (rc != 0) {
            pg_pool_release(ctx->pool, conn);
            return rc == -2 ? api_error_set(err, API_UNAVAILABLE, "unavailable",
                                            "the read database is unavailable, retry later")
                            : rc;
        }
        rc = -1;
        res = PQexecPrepared(conn, stmt, nparams, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            if (PQgetisnull(res, 0, 0)) {
                api_error_set(err, API_NOT_FOUND, "not_found", "%s not found", not_found_what);
            } else {
                size_t len = (size_t)PQgetlength(res, 0, 0);
                char *body = xmalloc(len + 1);
                memcpy(body, PQgetvalue(res, 0, 0), len + 1);
                http_response_json(resp, 200, body, len);
                rc = 0;
            }
        } else if (attempt == 0 && PQstatus(conn) != CONNECTION_OK) {
            PQclear(res);
            pg_pool_release(ctx->pool, conn); /* drops the broken connection */
            continue;
        } else {
            apiserver_db_error(conn, res, req->id, err);
        }
        PQclear(res);
        pg_pool_release(ctx->pool, conn);
        return rc;
    }
    return api_error_set(err, API_UNAVAILABLE, "unavailable",
                         "the read database is unavailable, retry later");
}
