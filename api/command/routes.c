#include "routes.h"

#include "command.h"

static const struct command create_product = {
    "create_product", validate_create_product, false, 201, "created product", "product_id"};
static const struct command create_order = {
    "create_order", validate_create_order, false, 201, "created order", "order_id"};

static int post_products(void *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, struct api_error *err)
{
    return command_run(ctx, &create_product, req, m, resp, err);
}

static int post_orders(void *ctx, const struct http_request *req, const struct route_match *m,
                       struct http_response *resp, struct api_error *err)
{
    return command_run(ctx, &create_order, req, m, resp, err);
}

const struct route command_routes[] = {
    {"GET", "/health", apiserver_health},
    {"POST", "/api/products", post_products},
    {"POST", "/api/orders", post_orders},
};
const size_t command_nroutes = sizeof command_routes / sizeof command_routes[0];
