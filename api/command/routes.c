#include "routes.h"

#include "http/assets.h"
#include "command.h"
#include "deadletters.h"
#include "seeds.h"

/* One line per command: statement, validator, takes the path id, success status, log line,
 * log key, the response's id field, and a 201's Location prefix (command.h). */
#define CMD(name, validate, takes_id, status, msg, key, field, loc)                                \
    static const struct command name = {#name, validate, takes_id, status, msg,  key,              \
                                        field, NULL,     NULL,     loc,    false};

CMD(create_product, validate_create_product, false, 201, "created product", "product_id",
    "productId", "/api/products/")
/* the one command that runs in natural batches (orderbatch.h) */
static const struct command create_order = {
    .stmt = "create_order",
    .validate = validate_create_order,
    .status = 201,
    .log_msg = "created order",
    .log_key = "order_id",
    .id_field = "orderId",
    .location = "/api/orders/",
    .batched = true,
};
/* a payment has no resource of its own: the paid order shows it */
CMD(pay_order, validate_pay_order, true, 201, "paid order", "order_id", "orderId", "/api/orders/")
CMD(ship_order, validate_no_fields, true, 200, "shipped order", "order_id", "orderId", NULL)
CMD(complete_order, validate_no_fields, true, 200, "completed order", "order_id", "orderId", NULL)
CMD(cancel_order, validate_cancel_order, true, 200, "cancelled order", "order_id", "orderId", NULL)
/* an adjustment has no resource of its own: the product shows its stock */
CMD(adjust_inventory, validate_adjust_inventory, false, 201, "adjusted inventory", "product_id",
    "productId", "/api/products/")
CMD(create_todo, validate_create_todo, false, 201, "created todo", "todo_id", "id", NULL)
CMD(update_todo, validate_update_todo, true, 200, "updated todo", "todo_id", "id", NULL)
CMD(delete_todo, validate_no_fields, true, 200, "deleted todo", "todo_id", "id", NULL)
CMD(record_mood, validate_record_mood, false, 202, "recorded mood", "mood_id", "id", NULL)

#define COMMAND_ROUTE(fn, cmd)                                                                     \
    static int fn(void *ctx, const struct http_request *req, const struct route_match *m,          \
                  struct http_response *resp, struct api_error *err)                               \
    {                                                                                              \
        return command_run(ctx, &cmd, req, m, resp, err);                                          \
    }

COMMAND_ROUTE(post_products, create_product)
COMMAND_ROUTE(post_orders, create_order)
COMMAND_ROUTE(post_payment, pay_order)
COMMAND_ROUTE(post_ship, ship_order)
COMMAND_ROUTE(post_complete, complete_order)
COMMAND_ROUTE(post_cancel, cancel_order)
COMMAND_ROUTE(post_inventory, adjust_inventory)
COMMAND_ROUTE(post_todos, create_todo)
COMMAND_ROUTE(patch_todo, update_todo)
COMMAND_ROUTE(delete_todo_route, delete_todo)
/* POST /api/moods: public, so a valid mood is rate-limited per client address before anything
 * is run (a refused body writes nothing anyway and costs no token) */
static int post_moods(void *ctx, const struct http_request *req, const struct route_match *m,
                      struct http_response *resp, struct api_error *err)
{
    if (validate_record_mood(req->body, req->body_len, err) != 0)
        return -1;
    if (command_mood_rate_check(ctx, req, err) != 0)
        return -1;
    return command_run(ctx, &record_mood, req, m, resp, err);
}

/* GET /mood: the page with the two pictures that record moods */
static int get_mood_page(void *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, struct api_error *err)
{
    (void)ctx;
    (void)req;
    (void)m;
    return assets_respond("mood/send.html", resp, err);
}

const struct route command_routes[] = {
    {"GET", "/health", apiserver_health},
    {"GET", "/metrics", apiserver_metrics},
    {"POST", "/api/products", post_products},
    {"POST", "/api/orders", post_orders},
    {"POST", "/api/orders/{id}/payments", post_payment},
    {"POST", "/api/orders/{id}/ship", post_ship},
    {"POST", "/api/orders/{id}/complete", post_complete},
    {"POST", "/api/orders/{id}/cancel", post_cancel},
    {"POST", "/api/inventory", post_inventory},
    {"POST", "/api/todos", post_todos},
    {"PATCH", "/api/todos/{id}", patch_todo},
    {"DELETE", "/api/todos/{id}", delete_todo_route},
    {"POST", "/api/moods", post_moods},
    /* the dashboard's dead-letter panel (deadletters.h): the token is checked by the handlers */
    {"POST", "/api/dead-letters/{eventId}/requeue", dl_post_requeue},
    {"POST", "/api/dead-letters/{eventId}/drop", dl_post_drop},
    {"OPTIONS", "/api/dead-letters/{eventId}/requeue", dl_options},
    {"OPTIONS", "/api/dead-letters/{eventId}/drop", dl_options},
    {"GET", "/mood", get_mood_page},
    {"GET", "/mood/send.js", assets_route},
    {"GET", "/mood/mood.css", assets_route},
    {"GET", "/mood/happy.svg", assets_route},
    {"GET", "/mood/sad.svg", assets_route},
    /* the seed systems' commands (seeds.h, docs/seeds.md) */
    {"GET", "/", seeds_get_sender},
    {"POST", "/todos", post_todos},
    {"PUT", "/todos/{id}", patch_todo},
    {"PATCH", "/todos/{id}", patch_todo},
    {"DELETE", "/todos/{id}", delete_todo_route},
    {"GET", "/commands/health", apiserver_health},
    {"POST", "/commands/orders", seeds_post_order},
    {"POST", "/commands/payments", seeds_post_payment},
    {"POST", "/commands/inventory", seeds_post_inventory},
};
const size_t command_nroutes = sizeof command_routes / sizeof command_routes[0];
