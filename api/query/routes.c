#include "routes.h"

#include "query.h"

#include <stdio.h>

static int get_product(void *ctx, const struct http_request *req, const struct route_match *m,
                       struct http_response *resp, struct api_error *err)
{
    char id[24], what[48];
    const char *params[] = {id};

    snprintf(id, sizeof id, "%lld", m->ids[0]);
    snprintf(what, sizeof what, "product %lld", m->ids[0]);
    return query_run(ctx, "product", 1, params, what, req, resp, err);
}

static int get_products(void *ctx, const struct http_request *req, const struct route_match *m,
                        struct http_response *resp, struct api_error *err)
{
    char limit_s[24], offset_s[24];
    const char *params[] = {limit_s, offset_s};
    long limit, offset;

    (void)m;
    if (query_int_arg(req, "limit", 1, 1000, 100, &limit, err) != 0 ||
        query_int_arg(req, "offset", 0, 1000000000, 0, &offset, err) != 0)
        return -1;
    snprintf(limit_s, sizeof limit_s, "%ld", limit);
    snprintf(offset_s, sizeof offset_s, "%ld", offset);
    return query_run(ctx, "products", 2, params, "products", req, resp, err);
}

static int get_order(void *ctx, const struct http_request *req, const struct route_match *m,
                     struct http_response *resp, struct api_error *err)
{
    char id[24], what[48];
    const char *params[] = {id};

    snprintf(id, sizeof id, "%lld", m->ids[0]);
    snprintf(what, sizeof what, "order %lld", m->ids[0]);
    return query_run(ctx, "order", 1, params, what, req, resp, err);
}

const struct route query_routes[] = {
    {"GET", "/health", apiserver_health},
    {"GET", "/api/products", get_products},
    {"GET", "/api/products/{id}", get_product},
    {"GET", "/api/orders/{id}", get_order},
};
const size_t query_nroutes = sizeof query_routes / sizeof query_routes[0];
