/* idempotency: which Idempotency-Key values are accepted, and how a reused key maps. */
#include "api/command/command.h"
#include "api/command/idempotency.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(valid_keys)
{
    char k[300];

    ck_assert(idempotency_key_valid("a"));
    ck_assert(idempotency_key_valid("3f2a9c1e-8d4b-4c6a-9e1f-2b7d5a8c0e13"));
    ck_assert(idempotency_key_valid("order:42/retry#1!~"));
    memset(k, 'k', 255);
    k[255] = '\0';
    ck_assert(idempotency_key_valid(k));
}
END_TEST

START_TEST(invalid_keys)
{
    char k[300];

    ck_assert(!idempotency_key_valid(""));
    ck_assert(!idempotency_key_valid("has space"));
    ck_assert(!idempotency_key_valid(" lead"));
    ck_assert(!idempotency_key_valid("tab\tin"));
    ck_assert(!idempotency_key_valid("new\nline"));
    ck_assert(!idempotency_key_valid("del\x7f"));
    ck_assert(!idempotency_key_valid("caf\xc3\xa9"));
    ck_assert(!idempotency_key_valid("\x01"));
    memset(k, 'k', 256);
    k[256] = '\0';
    ck_assert(!idempotency_key_valid(k));
}
END_TEST

START_TEST(reused_key_is_422)
{
    struct api_error e;

    ck_assert_int_eq(command_map_sqlstate("CQ422",
                                          "Idempotency-Key was already used for another "
                                          "request",
                                          "Idempotency-Key", &e),
                     -1);
    ck_assert_uint_eq(api_status_http(e.kind), 422);
    ck_assert_str_eq(e.code, "idempotency_key_reused");
    ck_assert_str_eq(e.field, "Idempotency-Key");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idempotency");
    unit_tcase(s, "core", UNIT_TESTS(valid_keys, invalid_keys, reused_key_is_422));
    return unit_run(s);
}
