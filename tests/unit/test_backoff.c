/* backoff: the one exponential backoff (lib/base/backoff.h): doubling from min to max, and back to
 * min after a success. */
#include "base/backoff.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>

START_TEST(doubles_up_to_the_maximum_and_starts_over_after_a_success)
{
    struct backoff b;
    const long want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};

    backoff_init(&b, 100, 5000);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_int_eq(backoff_next(&b), want[i]);
    backoff_reset(&b);
    ck_assert_int_eq(backoff_next(&b), 100);
    ck_assert_int_eq(backoff_next(&b), 200);
}
END_TEST

START_TEST(a_maximum_below_the_minimum_is_the_minimum)
{
    struct backoff b;

    backoff_init(&b, 300, 10);
    ck_assert_int_eq(backoff_next(&b), 300);
    ck_assert_int_eq(backoff_next(&b), 300);
}
END_TEST

START_TEST(never_overflows)
{
    struct backoff b;

    backoff_init(&b, 1, 0x7fffffffL);
    for (int i = 0; i < 100; i++)
        ck_assert_int_le(backoff_next(&b), 0x7fffffffL);
    ck_assert_int_eq(backoff_next(&b), 0x7fffffffL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backoff");
    unit_tcase(s, "delays",
               UNIT_TESTS(doubles_up_to_the_maximum_and_starts_over_after_a_success,
                          a_maximum_below_the_minimum_is_the_minimum, never_overflows));
    return unit_run(s);
}
