/* command: SQLSTATEs raised by the command functions map to the documented status and code. */
#include "api/command/command.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>

static void expect(const char *state, unsigned status, const char *code)
{
    struct api_error e;
    ck_assert_int_eq(command_map_sqlstate(state, "msg", NULL, &e), -1);
    ck_assert_uint_eq(api_status_http(e.kind), status);
    ck_assert_str_eq(e.code, code);
    ck_assert_str_eq(e.message, "msg");
}

START_TEST(business_errors_map)
{
    expect("CQ400", 400, "validation_error");
    expect("CQ404", 404, "not_found");
    expect("CQ409", 409, "insufficient_stock");
    expect("CQ410", 409, "price_mismatch");
    expect("CQ411", 409, "invalid_transition");
    expect("CQ412", 409, "amount_mismatch");
    expect("23514", 400, "validation_error");
}
END_TEST

START_TEST(column_becomes_field)
{
    struct api_error e;
    ck_assert_int_eq(command_map_sqlstate("CQ400", "items[0].price: bad", "items[0].price", &e),
                     -1);
    ck_assert_str_eq(e.field, "items[0].price");
}
END_TEST

START_TEST(other_states_are_not_business_errors)
{
    struct api_error e;
    ck_assert_int_eq(command_map_sqlstate("57P01", "shutdown", NULL, &e), 0);
    ck_assert_int_eq(command_map_sqlstate("XX000", "internal", NULL, &e), 0);
    ck_assert_int_eq(command_map_sqlstate(NULL, NULL, NULL, &e), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("command");
    unit_tcase(s, "core",
               UNIT_TESTS(business_errors_map, column_becomes_field,
                          other_states_are_not_business_errors));
    return unit_run(s);
}
