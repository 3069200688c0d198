/* seeds (api/command/seeds.c): the seed commands' bodies are checked as strictly as the project's
 * own, with the seed's field names in the errors; the routes are in the command API's table. */
#include "http/api_error.h"
#include "http/router.h"
#include "api/command/routes.h"
#include "api/command/seeds.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

typedef int (*validator)(const char *body, size_t len, struct api_error *err);

static int run(validator v, const char *body, struct api_error *err)
{
    memset(err, 0, sizeof *err);
    return v(body, strlen(body), err);
}

#define OK(v, body)                                                                                \
    do {                                                                                           \
        struct api_error e_;                                                                       \
        ck_assert_msg(run(v, body, &e_) == 0, "%s refused: %s", body, e_.message);                 \
    } while (0)

#define REFUSED(v, body, code_, field_)                                                            \
    do {                                                                                           \
        struct api_error e_;                                                                       \
        ck_assert_int_eq(run(v, body, &e_), -1);                                                   \
        ck_assert_str_eq(e_.code, code_);                                                          \
        ck_assert_str_eq(e_.field, field_);                                                        \
        ck_assert_int_eq(api_status_http(e_.kind), 400);                                           \
    } while (0)

START_TEST(order_body)
{
    OK(seeds_validate_order, "{\"user_id\": 123, \"product_id\": 456, \"quantity\": 2}");
    REFUSED(seeds_validate_order, "{\"product_id\": 456, \"quantity\": 2}", "validation_error",
            "user_id");
    REFUSED(seeds_validate_order, "{\"user_id\": \"123\", \"product_id\": 456, \"quantity\": 2}",
            "validation_error", "user_id");
    REFUSED(seeds_validate_order, "{\"user_id\": 123, \"product_id\": 0, \"quantity\": 2}",
            "validation_error", "product_id");
    REFUSED(seeds_validate_order, "{\"user_id\": 123, \"product_id\": 456, \"quantity\": 0}",
            "validation_error", "quantity");
    REFUSED(seeds_validate_order, "{\"user_id\": 123, \"product_id\": 456, \"quantity\": 1.5}",
            "validation_error", "quantity");
    /* the price is the catalogue's: the seed's body has none, and an unknown field is refused */
    REFUSED(seeds_validate_order,
            "{\"user_id\": 1, \"product_id\": 4, \"quantity\": 2, \"price\": 9}",
            "validation_error", "price");
    REFUSED(seeds_validate_order, "{\"user_id\": 1, \"user_id\": 2}", "invalid_json", "");
}
END_TEST

START_TEST(payment_body)
{
    OK(seeds_validate_payment, "{\"order_id\": 1, \"amount\": 99.99, \"method\": \"credit_card\"}");
    REFUSED(seeds_validate_payment, "{\"amount\": 99.99, \"method\": \"card\"}", "validation_error",
            "order_id");
    REFUSED(seeds_validate_payment,
            "{\"order_id\": 1, \"amount\": \"99.99\", \"method\": \"card\"}", "validation_error",
            "amount");
    REFUSED(seeds_validate_payment, "{\"order_id\": 1, \"amount\": 5, \"method\": \"\"}",
            "validation_error", "method");
    REFUSED(seeds_validate_payment, "{\"order_id\": 1, \"amount\": 5}", "validation_error",
            "method");
}
END_TEST

START_TEST(inventory_body)
{
    OK(seeds_validate_inventory, "{\"product_id\": 456, \"quantity\": 100}");
    OK(seeds_validate_inventory, "{\"product_id\": 456, \"quantity\": -3}");
    REFUSED(seeds_validate_inventory, "{\"product_id\": 456, \"quantity\": 0}", "validation_error",
            "quantity");
    REFUSED(seeds_validate_inventory, "{\"quantity\": 5}", "validation_error", "product_id");
    REFUSED(seeds_validate_inventory, "{\"product_id\": 4, \"quantity\": 5, \"delta\": 5}",
            "validation_error", "delta");
}
END_TEST

static bool routed(const char *method, const char *path)
{
    struct route_match m;

    for (size_t i = 0; i < command_nroutes; i++) {
        if (strcmp(command_routes[i].method, method) == 0 &&
            router_match(command_routes[i].pattern, path, &m))
            return true;
    }
    return false;
}

START_TEST(routes_are_listed)
{
    unit_each_request(routed, true,
                      UNIT_REQUESTS({"GET", "/"}, {"POST", "/todos"}, {"PUT", "/todos/1"},
                                    {"PATCH", "/todos/1"}, {"DELETE", "/todos/1"},
                                    {"GET", "/commands/health"}, {"POST", "/commands/orders"},
                                    {"POST", "/commands/payments"},
                                    {"POST", "/commands/inventory"}));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seeds");
    unit_tcase(s, "core", UNIT_TESTS(order_body, payment_body, inventory_body, routes_are_listed));
    return unit_run(s);
}
