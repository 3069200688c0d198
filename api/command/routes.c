/* routes: the command API's route table (routes.h): its commands, and each route with who may call
 * it and what its handler runs. */
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

/* GET of a page: the asset the route names (m->route->arg) */
static int get_page(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err)
{
    (void)ctx;
    (void)req;
    return assets_respond(m->route->arg, resp, err);
}

/* Each route with who may call it (auth.h: a command needs the token, reads and moods do not;
 * the dead-letter actions check it themselves) and what its handler runs. */
const struct route command_routes[] = {
    {"GET", "/health", apiserver_health, ROUTE_PUBLIC, NULL},
    {"GET", "/metrics", apiserver_metrics, ROUTE_PUBLIC, NULL},
    {"POST", "/api/products", command_route, ROUTE_TOKEN, &create_product},
    {"POST", "/api/orders", command_route, ROUTE_TOKEN, &create_order},
    {"POST", "/api/orders/{id}/payments", command_route, ROUTE_TOKEN, &pay_order},
    {"POST", "/api/orders/{id}/ship", command_route, ROUTE_TOKEN, &ship_order},
    {"POST", "/api/orders/{id}/complete", command_route, ROUTE_TOKEN, &complete_order},
    {"POST", "/api/orders/{id}/cancel", command_route, ROUTE_TOKEN, &cancel_order},
    {"POST", "/api/inventory", command_route, ROUTE_TOKEN, &adjust_inventory},
    {"POST", "/api/todos", command_route, ROUTE_TOKEN, &create_todo},
    {"PATCH", "/api/todos/{id}", command_route, ROUTE_TOKEN, &update_todo},
    {"DELETE", "/api/todos/{id}", command_route, ROUTE_TOKEN, &delete_todo},
    {"POST", "/api/moods", post_moods, ROUTE_PUBLIC, NULL},
    /* the dashboard's dead-letter panel (deadletters.h): their 401 carries CORS */
    {"POST", "/api/dead-letters/{eventId}/requeue", dl_post_requeue, ROUTE_OWN_TOKEN, NULL},
    {"POST", "/api/dead-letters/{eventId}/drop", dl_post_drop, ROUTE_OWN_TOKEN, NULL},
    {"OPTIONS", "/api/dead-letters/{eventId}/requeue", dl_options, ROUTE_PUBLIC, NULL},
    {"OPTIONS", "/api/dead-letters/{eventId}/drop", dl_options, ROUTE_PUBLIC, NULL},
    {"GET", "/mood", get_page, ROUTE_PUBLIC, "mood/send.html"},
    {"GET", "/mood/send.js", assets_route, ROUTE_PUBLIC, NULL},
    {"GET", "/mood/mood.css", assets_route, ROUTE_PUBLIC, NULL},
    {"GET", "/mood/happy.svg", assets_route, ROUTE_PUBLIC, NULL},
    {"GET", "/mood/sad.svg", assets_route, ROUTE_PUBLIC, NULL},
    /* the seed systems' commands (seeds.h, docs/seeds.md); / is the mood relay's sender page */
    {"GET", "/", get_page, ROUTE_PUBLIC, "mood/send.html"},
    {"POST", "/todos", command_route, ROUTE_TOKEN, &create_todo},
    {"PUT", "/todos/{id}", command_route, ROUTE_TOKEN, &update_todo},
    {"PATCH", "/todos/{id}", command_route, ROUTE_TOKEN, &update_todo},
    {"DELETE", "/todos/{id}", command_route, ROUTE_TOKEN, &delete_todo},
    {"GET", "/commands/health", apiserver_health, ROUTE_PUBLIC, NULL},
    {"POST", "/commands/orders", command_route, ROUTE_TOKEN, &seeds_create_order},
    {"POST", "/commands/payments", command_route, ROUTE_TOKEN, &seeds_pay_order},
    {"POST", "/commands/inventory", command_route, ROUTE_TOKEN, &seeds_adjust_inventory},
};
const size_t command_nroutes = sizeof command_routes / sizeof command_routes[0];
