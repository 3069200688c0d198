#include "seeds.h"

#include "base/log.h"
#include "query.h"

#include <stdio.h>

int seeds_get_order(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err)
{
    char id[24], label[48];
    const char *params[] = {id};
    int rc;

    snprintf(id, sizeof id, "%lld", m->ids[0]);
    snprintf(label, sizeof label, "order %lld", m->ids[0]);
    rc = query_run(ctx, "seed_order", 1, params, label, req, resp, err);
    /* as GET /api/orders/{id}: one line per order read, to follow an order through the services */
    if (rc != HTTP_SUSPENDED)
        log_info("read order", "order_id=%lld status=%u", m->ids[0],
                 rc == 0 ? resp->status : api_status_http(err->kind));
    return rc;
}

int seeds_get_user_orders(void *ctx, const struct http_request *req, const struct route_match *m,
                          struct http_response *resp, struct api_error *err)
{
    char id[24], limit_s[24], offset_s[24];
    const char *params[] = {id, limit_s, offset_s};
    long limit, offset;

    if (query_int_arg(req, "limit", 1, 1000, 100, &limit, err) != 0 ||
        query_int_arg(req, "offset", 0, 1000000000, 0, &offset, err) != 0)
        return -1;
    snprintf(id, sizeof id, "%lld", m->ids[0]);
    snprintf(limit_s, sizeof limit_s, "%ld", limit);
    snprintf(offset_s, sizeof offset_s, "%ld", offset);
    return query_run(ctx, "seed_user_orders", 3, params, "user", req, resp, err);
}

int seeds_get_inventory(void *ctx, const struct http_request *req, const struct route_match *m,
                        struct http_response *resp, struct api_error *err)
{
    (void)m;
    return query_run(ctx, "seed_inventory", 0, NULL, "inventory", req, resp, err);
}

int seeds_get_order_statistics(void *ctx, const struct http_request *req,
                               const struct route_match *m, struct http_response *resp,
                               struct api_error *err)
{
    (void)m;
    return query_run(ctx, "seed_order_statistics", 0, NULL, "statistics", req, resp, err);
}
