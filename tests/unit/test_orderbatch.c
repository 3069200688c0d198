/* orderbatch_json: the batch statement's parameter carries each order's body as JSON (not as a
 * string), its traceparent, and with a key the key, its time-to-live and path, escaped. */
#include "api/command/orderbatch.h"

#include "unit.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

START_TEST(orders_become_one_json_array_in_order)
{
    const char b0[] = "{\"customerId\":1,\"items\":[{\"productId\":7,\"quantity\":2}]}";
    const char b1[] = "{\"customerId\":2, \"items\": [{\"productId\": 9, \"quantity\": 1}]}";
    struct orderbatch_order o0 = {b0, strlen(b0), "00-abc", NULL, NULL};
    struct orderbatch_order o1 = {b1, strlen(b1), NULL, "key \"quoted\"\\x", "/api/orders"};
    const struct orderbatch_order *orders[] = {&o0, &o1};
    char *text = orderbatch_json(orders, 2, 86400);
    json_error_t jerr;
    json_t *arr, *e0, *e1;

    ck_assert_ptr_nonnull(text);
    arr = json_loads(text, 0, &jerr);
    ck_assert_ptr_nonnull(arr);
    ck_assert_uint_eq(json_array_size(arr), 2);
    e0 = json_array_get(arr, 0);
    e1 = json_array_get(arr, 1);
    /* the body is an object, not a string */
    ck_assert(json_is_object(json_object_get(e0, "body")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e0, "body"), "customerId")),
                     1);
    ck_assert_str_eq(json_string_value(json_object_get(e0, "traceparent")), "00-abc");
    ck_assert_ptr_null(json_object_get(e0, "key")); /* no key: no key, ttl, path */
    ck_assert_ptr_null(json_object_get(e0, "ttl"));
    ck_assert(json_is_null(json_object_get(e1, "traceparent")));
    ck_assert_str_eq(json_string_value(json_object_get(e1, "key")), "key \"quoted\"\\x");
    ck_assert_int_eq(json_integer_value(json_object_get(e1, "ttl")), 86400);
    ck_assert_str_eq(json_string_value(json_object_get(e1, "path")), "/api/orders");
    json_decref(arr);
    free(text);
}
END_TEST

START_TEST(a_body_that_is_not_json_fails_the_whole_statement_not_the_process)
{
    const char bad[] = "{\"customerId\":";
    struct orderbatch_order o = {bad, strlen(bad), NULL, NULL, NULL};
    const struct orderbatch_order *orders[] = {&o};
    char *text = orderbatch_json(orders, 1, 60);
    json_t *arr;

    /* it is sent as "" where an object belongs: cmd_create_orders then refuses the order, or the
     * statement fails and the order runs alone, where the database names the error */
    ck_assert_ptr_nonnull(text);
    arr = json_loads(text, 0, NULL);
    ck_assert(json_is_string(json_object_get(json_array_get(arr, 0), "body")));
    json_decref(arr);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("orderbatch");
    unit_tcase(s, "core",
               UNIT_TESTS(orders_become_one_json_array_in_order,
                          a_body_that_is_not_json_fails_the_whole_statement_not_the_process));
    return unit_run(s);
}
