/* seeds: the query routes of the seed systems this project replaces (docs/seeds.md), so that
 * their clients' reads work unchanged but for host and port:
 *   GET /queries/orders/{id}, /queries/users/{id}/orders, /queries/inventory,
 *       /queries/statistics/orders                     the CQRS event broker seed (q_seed_*)
 *   GET /queries/health, and the todo demo's GET /todos, the mood relay's GET /stats and the
 *       dashboard at /dashboard (routes.c: the project's own handlers at another path).
 * Thin: each runs one read-model query function; the q_seed_* functions
 * (migrations/read/functions/45_seeds.sql) rename what the project's queries answer. */
#ifndef CQ_QUERY_SEEDS_H
#define CQ_QUERY_SEEDS_H

#include "http/router.h"

/* Appended to query.c's query_stmts. */
#define SEEDS_QUERY_STMTS                                                                          \
    {"seed_order", "SELECT (SELECT q FROM q_seed_order($1::bigint) AS q)", 1},                     \
        {"seed_user_orders",                                                                       \
         "SELECT (SELECT q FROM q_seed_user_orders($1::bigint, $2::integer, $3::integer) AS q)",   \
         3},                                                                                       \
        {"seed_inventory", "SELECT (SELECT q FROM q_seed_inventory() AS q)", 0},                   \
        {"seed_order_statistics", "SELECT (SELECT q FROM q_seed_order_statistics() AS q)", 0},

int seeds_get_order(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err);
/* ?limit=1..1000 (default 100), ?offset>=0 (default 0) */
int seeds_get_user_orders(void *ctx, const struct http_request *req, const struct route_match *m,
                          struct http_response *resp, struct api_error *err);
int seeds_get_inventory(void *ctx, const struct http_request *req, const struct route_match *m,
                        struct http_response *resp, struct api_error *err);
int seeds_get_order_statistics(void *ctx, const struct http_request *req,
                               const struct route_match *m, struct http_response *resp,
                               struct api_error *err);

#endif
