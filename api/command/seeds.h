/* seeds: the command routes of the seed systems this project replaces (docs/seeds.md), so that
 * their clients' commands work unchanged but for host and port:
 *   POST /commands/orders     {"user_id", "product_id", "quantity"}   -> cmd_create_order
 *   POST /commands/payments   {"order_id", "amount", "method"}        -> cmd_pay_order
 *   POST /commands/inventory  {"product_id", "quantity"} (a delta)    -> cmd_adjust_inventory
 *   GET  /commands/health, GET / (the mood sender), and the todo demo's /todos (routes.c).
 *
 * Thin: a seed route validates the seed's body (its field names in errors) and runs the same
 * command function as the project's own route; the translation of the body into the function's
 * input and of its answer into the seed's snake_case is the SQL of the route's statement. With an
 * Idempotency-Key it goes through cmd_idempotent with the translated body, as any command. */
#ifndef CQ_COMMAND_SEEDS_H
#define CQ_COMMAND_SEEDS_H

#include "http/api_error.h"

#include <stddef.h>

struct command;

/* A seed statement: b is the seed's body ($1), r the command function's answer; $2 is the
 * request's traceparent (cmd_trace, as in command.c: b is computed before the function runs). */
#define SEED_SQL(fn, args, out, idkey)                                                             \
    "SELECT (" out ")::text, "                                                                     \
    "array_to_string(ARRAY(SELECT jsonb_array_elements_text(r->'eventIds')), ','), "               \
    "r->>'" idkey "' FROM (SELECT cmd_trace($2, $1::jsonb) AS b) AS s, LATERAL " fn "(" args       \
    ") AS r"

/* The same through cmd_idempotent (its parameters as in command.c's IDEMPOTENT_SQL, $7 the
 * seed's body, $9 the traceparent): the stored answer is the command function's, translated
 * again on a replay. */
#define SEED_IDEMPOTENT_SQL(id, in, out)                                                           \
    "SELECT (" out ")::text, "                                                                     \
    "array_to_string(ARRAY(SELECT jsonb_array_elements_text(r->'eventIds')), ','), "               \
    "r->>$8, i.replayed "                                                                          \
    "FROM (SELECT cmd_trace($9, $7::jsonb) AS b) AS s, "                                           \
    "LATERAL cmd_idempotent($1, $2::integer * interval '1 second', $3, $4, $5, " id ", " in        \
    ") AS i, LATERAL (SELECT i.result AS r) AS x"

/* {"user_id", "product_id", "quantity"}: one item at the catalogue price (no "price" given) */
#define SEED_ORDER_IN                                                                              \
    "jsonb_build_object('customerId', b->'user_id', 'items', jsonb_build_array("                   \
    "jsonb_build_object('productId', b->'product_id', 'quantity', b->'quantity')))"
#define SEED_ORDER_OUT                                                                             \
    "jsonb_build_object('order_id', r->'orderId', 'user_id', b->'user_id', "                       \
    "'product_id', b->'product_id', 'quantity', b->'quantity', 'total_amount', r->'total', "       \
    "'status', r->'status')"
/* {"order_id", "amount", "method"}: the order id moves from the body to the argument ($6, the
 * path's id, is NULL here: a seed route has none; the statement names it all the same, since
 * PostgreSQL must see every parameter to type it) */
#define SEED_PAYMENT_ID "coalesce($6::bigint, (b->>'order_id')::bigint)"
#define SEED_PAYMENT_IN "(b - 'order_id')"
#define SEED_PAYMENT_OUT                                                                           \
    "jsonb_build_object('payment_id', r->'paymentId', 'order_id', r->'orderId', "                  \
    "'amount', r->'amount', 'method', r->'method', 'status', r->'status')"
/* {"product_id", "quantity"}: quantity is the stock's change (a delta) */
#define SEED_INVENTORY_IN "jsonb_build_object('productId', b->'product_id', 'delta', b->'quantity')"
#define SEED_INVENTORY_OUT                                                                         \
    "jsonb_build_object('adjustment_id', r->'adjustmentId', 'product_id', r->'productId', "        \
    "'quantity', r->'delta', 'available_quantity', r->'stock')"

/* The seed statements, appended to command.c's command_stmts. */
#define SEEDS_COMMAND_STMTS                                                                        \
    {"seed_create_order", SEED_SQL("cmd_create_order", SEED_ORDER_IN, SEED_ORDER_OUT, "orderId"),  \
     2},                                                                                           \
        {"seed_create_order_idempotent",                                                           \
         SEED_IDEMPOTENT_SQL("$6::bigint", SEED_ORDER_IN, SEED_ORDER_OUT), 9},                     \
        {"seed_pay_order",                                                                         \
         SEED_SQL("cmd_pay_order", "(b->>'order_id')::bigint, " SEED_PAYMENT_IN, SEED_PAYMENT_OUT, \
                  "orderId"),                                                                      \
         2},                                                                                       \
        {"seed_pay_order_idempotent",                                                              \
         SEED_IDEMPOTENT_SQL(SEED_PAYMENT_ID, SEED_PAYMENT_IN, SEED_PAYMENT_OUT), 9},              \
        {"seed_adjust_inventory",                                                                  \
         SEED_SQL("cmd_adjust_inventory", SEED_INVENTORY_IN, SEED_INVENTORY_OUT, "productId"), 2}, \
        {"seed_adjust_inventory_idempotent",                                                       \
         SEED_IDEMPOTENT_SQL("$6::bigint", SEED_INVENTORY_IN, SEED_INVENTORY_OUT), 9},

/* Body validators of the seed commands (pure; unit-tested): every field required, unknown
 * fields refused, as for the project's own commands. */
int seeds_validate_order(const char *body, size_t len, struct api_error *err);
int seeds_validate_payment(const char *body, size_t len, struct api_error *err);
int seeds_validate_inventory(const char *body, size_t len, struct api_error *err);

/* The seed commands (command_routes in routes.c runs them with command_route). */
extern const struct command seeds_create_order;
extern const struct command seeds_pay_order;
extern const struct command seeds_adjust_inventory;

#endif
