/* buf: the one growable buffer (lib/base/buf.h): appends of every kind, growth across many
 * doublings, NUL termination, reset keeping memory, take handing over ownership. */
#include "base/buf.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(appends_bytes_strings_and_formats_in_order)
{
    struct buf b = {0};

    buf_put(&b, "ab\0c", 4);
    buf_puts(&b, "de");
    buf_printf(&b, "-%d-%s", 42, "x");
    ck_assert_uint_eq(b.len, 11);
    ck_assert_mem_eq(b.s, "ab\0cde-42-x", 12); /* with its NUL */
    buf_free(&b);
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(grows_across_many_doublings_and_keeps_every_byte)
{
    struct buf b = {0};

    for (int i = 0; i < 100000; i++)
        buf_printf(&b, "%05d", i % 100000);
    ck_assert_uint_eq(b.len, 500000);
    ck_assert_uint_ge(b.cap, b.len + 1);
    ck_assert_int_eq(b.s[b.len], '\0');
    ck_assert_mem_eq(b.s + 5 * 12345, "12345", 5);
    ck_assert_mem_eq(b.s + 5 * 99999, "99999", 5);
    buf_free(&b);
}
END_TEST

START_TEST(reset_empties_and_keeps_the_memory)
{
    struct buf b = {0};

    buf_puts(&b, "hello");
    size_t cap = b.cap;
    buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.s, "");
    ck_assert_uint_eq(b.cap, cap);
    buf_puts(&b, "x");
    ck_assert_str_eq(b.s, "x");
    buf_free(&b);
}
END_TEST

START_TEST(take_hands_over_a_string_even_when_empty)
{
    struct buf b = {0};
    size_t len = 99;
    char *s = buf_take(&b, &len);

    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "");
    ck_assert_uint_eq(len, 0);
    free(s);
    buf_puts(&b, "abc");
    s = buf_take(&b, &len);
    ck_assert_str_eq(s, "abc");
    ck_assert_uint_eq(len, 3);
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
    free(s);
}
END_TEST

START_TEST(an_empty_put_still_terminates)
{
    struct buf b = {0};

    buf_put(&b, NULL, 0);
    ck_assert_ptr_nonnull(b.s);
    ck_assert_str_eq(b.s, "");
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("buf");
    unit_tcase(s, "buffer",
               UNIT_TESTS(appends_bytes_strings_and_formats_in_order,
                          grows_across_many_doublings_and_keeps_every_byte,
                          reset_empties_and_keeps_the_memory,
                          take_hands_over_a_string_even_when_empty, an_empty_put_still_terminates));
    return unit_run(s);
}
