/* deadline: the one clock, in milliseconds and microseconds (monotonic), and the wall clock in
 * microseconds (for timestamps). */
#include "base/deadline.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

START_TEST(the_monotonic_clock_in_two_units)
{
    long long ms0 = deadline_now_ms(), us0 = deadline_now_us();
    long long us1, ms1;

    usleep(20000);
    us1 = deadline_now_us();
    ms1 = deadline_now_ms();
    ck_assert_int_ge(us1 - us0, 20000);
    ck_assert_int_lt(us1 - us0, 5000000);
    ck_assert_int_ge(ms1 - ms0, 20);
}
END_TEST

/* The same clock: a reading in microseconds lies between two in milliseconds around it. */
START_TEST(the_units_are_one_clock)
{
    for (int i = 0; i < 1000; i++) {
        long long before = deadline_now_ms(), us = deadline_now_us(), after = deadline_now_ms();
        ck_assert_int_ge(us / 1000, before);
        ck_assert_int_le(us / 1000, after);
    }
}
END_TEST

START_TEST(the_wall_clock_in_microseconds)
{
    time_t before = time(NULL);
    long long us = deadline_wall_us();
    time_t after = time(NULL);

    ck_assert_int_ge(us / 1000000, (long long)before);
    ck_assert_int_le(us / 1000000, (long long)after);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deadline");
    unit_tcase(s, "clock",
               UNIT_TESTS(the_monotonic_clock_in_two_units, the_units_are_one_clock,
                          the_wall_clock_in_microseconds));
    return unit_run(s);
}
