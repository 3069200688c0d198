/* etag: the tag of a body is stable and differs with the body; If-None-Match lists, weak tags,
 * "*" and malformed values. */
#include "http/etag.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(tag_is_stable_and_follows_the_body)
{
    char a[ETAG_LEN + 1], b[ETAG_LEN + 1], c[ETAG_LEN + 1];

    etag_of("{\"id\": 1}", 9, a);
    etag_of("{\"id\": 1}", 9, b);
    etag_of("{\"id\": 2}", 9, c);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_uint_eq(strlen(a), ETAG_LEN);
    ck_assert(a[0] == '"' && a[ETAG_LEN - 1] == '"');
    etag_of("", 0, a);
    ck_assert_str_eq(a, "\"cbf29ce484222325\""); /* FNV-1a's offset basis */
}
END_TEST

START_TEST(if_none_match)
{
    const char *t = "\"0123456789abcdef\"";

    ck_assert(etag_none_match("\"0123456789abcdef\"", t));
    ck_assert(etag_none_match("W/\"0123456789abcdef\"", t));
    ck_assert(etag_none_match("\"x\", \"0123456789abcdef\"", t));
    ck_assert(etag_none_match(" \"x\" ,W/\"0123456789abcdef\" ", t));
    ck_assert(etag_none_match("*", t));
    ck_assert(!etag_none_match(NULL, t));
    ck_assert(!etag_none_match("", t));
    ck_assert(!etag_none_match("\"0123456789abcdee\"", t));
    ck_assert(!etag_none_match("\"0123456789abcdef", t));
    ck_assert(!etag_none_match("0123456789abcdef", t));
}
END_TEST

static Suite *etag_suite(void)
{
    Suite *s = suite_create("etag");
    unit_tcase(s, "core", UNIT_TESTS(tag_is_stable_and_follows_the_body, if_none_match));
    return s;
}

int main(void)
{
    return unit_run(etag_suite());
}
