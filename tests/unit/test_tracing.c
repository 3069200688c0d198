/* tracing: which request ids and traceparents are taken, and the ones made. */
#include "base/tracing.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(request_ids)
{
    char id[TRACING_REQUEST_ID_MAX + 1], other[TRACING_REQUEST_ID_MAX + 1];
    char longest[TRACING_REQUEST_ID_MAX + 2];

    ck_assert(tracing_request_id_valid("abc-123"));
    ck_assert(tracing_request_id_valid("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
    ck_assert(tracing_request_id_valid("a:b/c=d"));
    ck_assert(!tracing_request_id_valid(""));
    ck_assert(!tracing_request_id_valid(NULL));
    ck_assert(!tracing_request_id_valid("a b"));
    ck_assert(!tracing_request_id_valid("a\"b"));
    ck_assert(!tracing_request_id_valid("a\\b"));
    ck_assert(!tracing_request_id_valid("a\tb"));
    ck_assert(!tracing_request_id_valid("caf\xc3\xa9"));
    memset(longest, 'x', TRACING_REQUEST_ID_MAX);
    longest[TRACING_REQUEST_ID_MAX] = '\0';
    ck_assert(tracing_request_id_valid(longest));
    longest[TRACING_REQUEST_ID_MAX] = 'x';
    longest[TRACING_REQUEST_ID_MAX + 1] = '\0';
    ck_assert(!tracing_request_id_valid(longest));

    tracing_request_id_new(id);
    tracing_request_id_new(other);
    ck_assert_uint_eq(strlen(id), 32);
    ck_assert(tracing_request_id_valid(id));
    ck_assert_str_ne(id, other);
}
END_TEST

START_TEST(traceparents)
{
    char tp[TRACING_TRACEPARENT_LEN + 1], other[TRACING_TRACEPARENT_LEN + 1];
    char trace[TRACING_TRACE_ID_LEN + 1];

    ck_assert(tracing_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    ck_assert(tracing_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    /* upper case, zero ids, other versions, wrong lengths and separators are ignored */
    ck_assert(
        !tracing_traceparent_valid("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"));
    ck_assert(
        !tracing_traceparent_valid("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    ck_assert(
        !tracing_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
    ck_assert(
        !tracing_traceparent_valid("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    ck_assert(
        !tracing_traceparent_valid("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    ck_assert(
        !tracing_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"));
    ck_assert(!tracing_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"));
    ck_assert(
        !tracing_traceparent_valid("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    ck_assert(
        !tracing_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"));
    ck_assert(!tracing_traceparent_valid(""));
    ck_assert(!tracing_traceparent_valid(NULL));

    tracing_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", trace);
    ck_assert_str_eq(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    tracing_trace_id("nonsense", trace);
    ck_assert_str_eq(trace, "");

    tracing_traceparent_new(tp);
    tracing_traceparent_new(other);
    ck_assert(tracing_traceparent_valid(tp));
    ck_assert_str_ne(tp, other);
    ck_assert(strncmp(tp, "00-", 3) == 0);
    ck_assert_str_eq(tp + 52, "-00");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracing");
    unit_tcase(s, "core", UNIT_TESTS(request_ids, traceparents));
    return unit_run(s);
}
