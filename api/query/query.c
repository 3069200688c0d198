#include "query.h"

#include "base/config.h"
#include "consistency.h"
#include "base/log.h"
#include "http/respcache.h"
#include "seeds.h"
#include "service.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each query function is set-returning SQL (migrations/read/functions/40_queries.sql), called in
 * FROM so that the planner inlines its body into the prepared statement and plans it once per
 * connection; the scalar subquery answers one row, NULL when the function returned none. */
#define QUERY_CALL(call) "SELECT (SELECT q FROM " call " AS q)"
/* A list's page (migrations/read/functions/40_queries.sql): one row, (JSON array, more remains). */
#define QUERY_PAGE(call) "SELECT q.body, q.more FROM " call " AS q"

const struct pg_stmt query_stmts[] = {
    {"product", QUERY_CALL("q_product($1::bigint)"), 1},
    {"products", QUERY_PAGE("q_products_page($1::integer, $2::integer)"), 2},
    {"order", QUERY_CALL("q_order($1::bigint)"), 1},
    {"customer_orders",
     QUERY_PAGE("q_customer_orders_page($1::bigint, $2::text, $3::integer, $4::integer)"), 4},
    {"customer_summary", QUERY_CALL("q_customer_summary($1::bigint)"), 1},
    {"inventory", QUERY_PAGE("q_inventory_page($1::boolean, $2::integer, $3::integer)"), 3},
    {"analytics_orders", QUERY_CALL("q_analytics_orders()"), 0},
    {"sales_daily", QUERY_CALL("q_sales_daily($1::date, $2::date)"), 2},
    {"top_products", QUERY_CALL("q_top_products($1::integer)"), 1},
    {"categories", QUERY_CALL("q_categories()"), 0},
    {"todos", QUERY_PAGE("q_todos_page($1::integer, $2::integer)"), 2},
    /* the todo demo's GET /todos: every todo */
    {"all_todos", QUERY_CALL("q_todos()"), 0},
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

int query_page_args(const struct http_request *req, long max, long def, struct query_page *page,
                    struct api_error *err)
{
    if (query_int_arg(req, "limit", 1, max, def, &page->limit, err) != 0 ||
        query_int_arg(req, "offset", 0, 1000000000, 0, &page->offset, err) != 0)
        return -1;
    return 0;
}

/* Link: the next page, when the statement's second column says more remains. */
static int page_link(const struct query_page *page, const PGresult *res,
                     const struct http_request *req, struct http_response *resp)
{
    char link[600], arg[96] = "";

    if (PQnfields(res) < 2 || strcmp(PQgetvalue(res, 0, 1), "t") != 0)
        return 0;
    if (page->arg_name != NULL && page->arg_value != NULL)
        snprintf(arg, sizeof arg, "%s=%s&", page->arg_name, page->arg_value);
    snprintf(link, sizeof link, "<%s?%slimit=%ld&offset=%ld>; rel=\"next\"", req->path, arg,
             page->limit, page->offset + page->limit);
    return http_response_header(resp, "Link", link);
}

static int run(const struct apiserver_ctx *ctx, const char *cache_key, const char *stmt,
               int nparams, const char *const *params, const char *not_found_what,
               const struct query_page *page, const struct http_request *req,
               struct http_response *resp, struct api_error *err)
{
    const struct query_service *qs = ctx->ext;
    struct respcache *cache = qs != NULL && cache_key != NULL ? qs->cache : NULL;
    char detail[256];

    /* the answer cache (docs/api.md#caching); a request with X-Consistency-Token reads the DB
     * (the invalidation of its write may still be on its way) and refreshes the cache */
    if (cache != NULL && http_request_header_count(req, CONSISTENCY_HEADER, NULL) == 0) {
        char *body;
        size_t len;
        if (respcache_get(cache, cache_key, &body, &len)) {
            http_response_json(resp, 200, body, len);
            return 0;
        }
    }

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
        /* before the read: an invalidation that comes after it refuses what it read */
        uint64_t gen = respcache_begin(cache);
        res = PQexecPrepared(conn, stmt, nparams, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            if (PQgetisnull(res, 0, 0)) {
                api_error_set(err, API_NOT_FOUND, "not_found", "%s not found", not_found_what);
            } else {
                size_t len = (size_t)PQgetlength(res, 0, 0);
                char *body = xmalloc(len + 1);
                memcpy(body, PQgetvalue(res, 0, 0), len + 1);
                respcache_put(cache, cache_key, body, len, gen);
                http_response_json(resp, 200, body, len);
                rc = 0;
                if (page != NULL && page_link(page, res, req, resp) != 0)
                    rc = api_error_set(err, API_INTERNAL, "internal", "internal error");
            }
        } else if (attempt == 0 && PQstatus(conn) != CONNECTION_OK) {
            PQclear(res);
            pg_pool_release(ctx->pool, conn); /* drops the broken connection */
            continue;
        } else {
            apiserver_db_error(conn, res, err);
        }
        PQclear(res);
        pg_pool_release(ctx->pool, conn);
        return rc;
    }
    return api_error_set(err, API_UNAVAILABLE, "unavailable",
                         "the read database is unavailable, retry later");
}

int query_run(const struct apiserver_ctx *ctx, const char *stmt, int nparams,
              const char *const *params, const char *not_found_what, const struct http_request *req,
              struct http_response *resp, struct api_error *err)
{
    return run(ctx, NULL, stmt, nparams, params, not_found_what, NULL, req, resp, err);
}

int query_run_cached(const struct apiserver_ctx *ctx, const char *cache_key, const char *stmt,
                     int nparams, const char *const *params, const char *not_found_what,
                     const struct http_request *req, struct http_response *resp,
                     struct api_error *err)
{
    return run(ctx, cache_key, stmt, nparams, params, not_found_what, NULL, req, resp, err);
}

int query_run_page(const struct apiserver_ctx *ctx, const char *stmt, int nparams,
                   const char *const *params, const struct query_page *page,
                   const struct http_request *req, struct http_response *resp,
                   struct api_error *err)
{
    return run(ctx, NULL, stmt, nparams, params, "list", page, req, resp, err);
}
