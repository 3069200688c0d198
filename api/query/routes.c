#include "routes.h"

#include "http/assets.h"
#include "dashboard.h"
#include "base/log.h"
#include "mood.h"
#include "query.h"
#include "base/tracing.h"
#include "seeds.h"

#include <stdio.h>
#include <string.h>

static const char *const order_statuses[] = {"CREATED",   "PAID",      "SHIPPED",
                                             "COMPLETED", "CANCELLED", NULL};

/* GET .../{id} answered by a one-parameter statement; what names the resource for a 404 and,
 * as "what:id", its answer in the cache (docs/api.md#caching). */
static int by_id(void *ctx, const char *stmt, const char *what, const struct http_request *req,
                 const struct route_match *m, struct http_response *resp, struct api_error *err)
{
    char id[24], label[64], key[64];
    const char *params[] = {id};

    snprintf(id, sizeof id, "%lld", m->ids[0]);
    snprintf(label, sizeof label, "%s %lld", what, m->ids[0]);
    snprintf(key, sizeof key, "%s:%lld", what, m->ids[0]);
    return query_run_cached(ctx, key, stmt, 1, params, label, req, resp, err);
}

static int get_product(void *ctx, const struct http_request *req, const struct route_match *m,
                       struct http_response *resp, struct api_error *err)
{
    return by_id(ctx, "product", "product", req, m, resp, err);
}

static int get_order(void *ctx, const struct http_request *req, const struct route_match *m,
                     struct http_response *resp, struct api_error *err)
{
    int rc = by_id(ctx, "order", "order", req, m, resp, err);

    /* one line per order read, so that an order can be followed through all four services:
     * with the trace id of the traceparent the client propagated (W3C), when it sent a valid one */
    if (rc != HTTP_SUSPENDED) {
        char trace[TRACING_TRACE_ID_LEN + 1] = "";
        const char *tp = NULL;
        if (http_request_header_count(req, "traceparent", &tp) == 1)
            tracing_trace_id(tp, trace);
        log_info("read order", "order_id=%lld status=%u%s%s", m->ids[0],
                 rc == 0 ? resp->status : api_status_http(err->kind),
                 trace[0] != '\0' ? " trace_id=" : "", trace);
    }
    return rc;
}

static int get_customer_summary(void *ctx, const struct http_request *req,
                                const struct route_match *m, struct http_response *resp,
                                struct api_error *err)
{
    return by_id(ctx, "customer_summary", "customer", req, m, resp, err);
}

/* GET of a list with only limit and offset: stmt takes ($1 limit, $2 offset). */
static int list_page(void *ctx, const char *stmt, long max, long def,
                     const struct http_request *req, struct http_response *resp,
                     struct api_error *err)
{
    struct query_page page = {0};
    char limit_s[24], offset_s[24];
    const char *params[] = {limit_s, offset_s};

    if (query_page_args(req, max, def, &page, err) != 0)
        return -1;
    snprintf(limit_s, sizeof limit_s, "%ld", page.limit);
    snprintf(offset_s, sizeof offset_s, "%ld", page.offset);
    return query_run_page(ctx, stmt, 2, params, &page, req, resp, err);
}

static int get_products(void *ctx, const struct http_request *req, const struct route_match *m,
                        struct http_response *resp, struct api_error *err)
{
    (void)m;
    return list_page(ctx, "products", 1000, 100, req, resp, err);
}

static int get_customer_orders(void *ctx, const struct http_request *req,
                               const struct route_match *m, struct http_response *resp,
                               struct api_error *err)
{
    struct query_page page = {.arg_name = "status"};
    char id[24], limit_s[24], offset_s[24];
    const char *params[4];

    if (query_enum_arg(req, "status", order_statuses, &page.arg_value, err) != 0 ||
        query_page_args(req, 100, 20, &page, err) != 0)
        return -1;
    snprintf(id, sizeof id, "%lld", m->ids[0]);
    snprintf(limit_s, sizeof limit_s, "%ld", page.limit);
    snprintf(offset_s, sizeof offset_s, "%ld", page.offset);
    params[0] = id;
    params[1] = page.arg_value;
    params[2] = limit_s;
    params[3] = offset_s;
    return query_run_page(ctx, "customer_orders", 4, params, &page, req, resp, err);
}

static int get_inventory(void *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, struct api_error *err)
{
    static const char *const bools[] = {"true", "false", NULL};
    struct query_page page = {.arg_name = "lowStock"};
    char limit_s[24], offset_s[24];
    const char *params[3];

    (void)m;
    if (query_enum_arg(req, "lowStock", bools, &page.arg_value, err) != 0 ||
        query_page_args(req, 1000, 100, &page, err) != 0)
        return -1;
    snprintf(limit_s, sizeof limit_s, "%ld", page.limit);
    snprintf(offset_s, sizeof offset_s, "%ld", page.offset);
    params[0] = page.arg_value != NULL ? page.arg_value : "false";
    params[1] = limit_s;
    params[2] = offset_s;
    return query_run_page(ctx, "inventory", 3, params, &page, req, resp, err);
}

static int get_analytics_orders(void *ctx, const struct http_request *req,
                                const struct route_match *m, struct http_response *resp,
                                struct api_error *err)
{
    (void)m;
    return query_run(ctx, "analytics_orders", 0, NULL, "analytics", req, resp, err);
}

static int get_sales_daily(void *ctx, const struct http_request *req, const struct route_match *m,
                           struct http_response *resp, struct api_error *err)
{
    const char *params[2];

    (void)m;
    if (query_date_arg(req, "from", &params[0], err) != 0 ||
        query_date_arg(req, "to", &params[1], err) != 0)
        return -1;
    /* YYYY-MM-DD compares as text */
    if (params[0] != NULL && params[1] != NULL && strcmp(params[0], params[1]) > 0)
        return api_error_field(err, "from", "must not be after to");
    return query_run(ctx, "sales_daily", 2, params, "sales", req, resp, err);
}

static int get_top_products(void *ctx, const struct http_request *req, const struct route_match *m,
                            struct http_response *resp, struct api_error *err)
{
    char limit_s[24];
    const char *params[] = {limit_s};
    long limit;

    (void)m;
    if (query_int_arg(req, "limit", 1, 100, 10, &limit, err) != 0)
        return -1;
    snprintf(limit_s, sizeof limit_s, "%ld", limit);
    return query_run(ctx, "top_products", 1, params, "products", req, resp, err);
}

static int get_categories(void *ctx, const struct http_request *req, const struct route_match *m,
                          struct http_response *resp, struct api_error *err)
{
    (void)m;
    return query_run(ctx, "categories", 0, NULL, "categories", req, resp, err);
}

static int get_todos(void *ctx, const struct http_request *req, const struct route_match *m,
                     struct http_response *resp, struct api_error *err)
{
    (void)m;
    return list_page(ctx, "todos", 1000, 100, req, resp, err);
}

/* the todo demo's GET /todos: every todo, as the demo's page expects */
static int get_all_todos(void *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, struct api_error *err)
{
    (void)m;
    return query_run(ctx, "all_todos", 0, NULL, "todos", req, resp, err);
}

/* Every route of the query API is a read, served to anyone (the API has no token). */
#define READ(pattern, fn)                                                                          \
    {                                                                                              \
        "GET", pattern, fn, ROUTE_PUBLIC, NULL                                                     \
    }

const struct route query_routes[] = {
    READ("/health", apiserver_health),
    READ("/metrics", apiserver_metrics),
    READ("/api/products", get_products),
    READ("/api/products/{id}", get_product),
    READ("/api/orders/{id}", get_order),
    READ("/api/customers/{id}/orders", get_customer_orders),
    READ("/api/customers/{id}/summary", get_customer_summary),
    READ("/api/inventory", get_inventory),
    READ("/api/analytics/orders", get_analytics_orders),
    READ("/api/analytics/sales/daily", get_sales_daily),
    READ("/api/analytics/products/top", get_top_products),
    READ("/api/analytics/categories", get_categories),
    READ("/api/todos", get_todos),
    READ("/api/moods/stats", mood_get_stats),
    READ("/api/moods/stream", mood_get_stream),
    READ("/mood", mood_get_wall),
    READ("/mood/wall.js", assets_route),
    READ("/mood/mood.css", assets_route),
    READ("/mood/happy.svg", assets_route),
    READ("/mood/sad.svg", assets_route),
    /* the operations dashboard */
    READ("/", dashboard_get_page),
    READ("/api/dashboard", dashboard_get),
    READ("/api/dashboard/stream", dashboard_get_stream),
    READ("/api/dead-letters", dashboard_get_dead_letters),
    READ("/dashboard/dashboard.js", assets_route),
    READ("/dashboard/dashboard.css", assets_route),
    READ("/dashboard/icon.svg", assets_route),
    /* the seed systems' reads (seeds.h, docs/seeds.md); on the seeds' port 5002 the gateway
     * (docker/gateway) answers / with the mood wall, so the dashboard is also at /dashboard */
    READ("/dashboard", dashboard_get_page),
    READ("/todos", get_all_todos),
    READ("/stats", mood_get_stats),
    READ("/queries/health", apiserver_health),
    READ("/queries/orders/{id}", seeds_get_order),
    READ("/queries/users/{id}/orders", seeds_get_user_orders),
    READ("/queries/inventory", seeds_get_inventory),
    READ("/queries/statistics/orders", seeds_get_order_statistics),
};
const size_t query_nroutes = sizeof query_routes / sizeof query_routes[0];
