/* ratelimit: the token bucket per address, its refill, Retry-After and the bounded table. */
#include "http/ratelimit.h"

#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

START_TEST(burst_then_refused_with_the_wait)
{
    struct ratelimit *rl = ratelimit_new(2, 5, 64); /* 2/s, burst 5 */

    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(ratelimit_take(rl, "10.0.0.1", 1000), 0);
    ck_assert_uint_eq(ratelimit_take(rl, "10.0.0.1", 1000), 1); /* a token in 0.5 s: 1 s */
    /* another address has its own bucket */
    ck_assert_uint_eq(ratelimit_take(rl, "10.0.0.2", 1000), 0);
    /* 500 ms later one token is back, only one */
    ck_assert_uint_eq(ratelimit_take(rl, "10.0.0.1", 1500), 0);
    ck_assert_uint_ne(ratelimit_take(rl, "10.0.0.1", 1500), 0);
    /* a long pause refills up to the burst, not more */
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(ratelimit_take(rl, "10.0.0.1", 100000), 0);
    ck_assert_uint_ne(ratelimit_take(rl, "10.0.0.1", 100000), 0);
    ratelimit_free(rl);
}
END_TEST

START_TEST(slow_rate_says_how_long_to_wait)
{
    struct ratelimit *rl = ratelimit_new(0.1, 1, 8); /* one per 10 s */

    ck_assert_uint_eq(ratelimit_take(rl, "a", 0), 0);
    ck_assert_uint_eq(ratelimit_take(rl, "a", 0), 10);
    ck_assert_uint_eq(ratelimit_take(rl, "a", 5000), 5);
    ratelimit_free(rl);
}
END_TEST

START_TEST(table_stays_bounded_and_evicts_the_oldest)
{
    struct ratelimit *rl = ratelimit_new(1, 1, 8); /* one set of 8 slots */
    char key[32];

    ck_assert_uint_eq(ratelimit_take(rl, "victim", 0), 0);
    ck_assert_uint_ne(ratelimit_take(rl, "victim", 0), 0);
    /* 10,000 other addresses fit in 8 slots: the least recently seen are forgotten */
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "10.1.%d.%d", i / 256, i % 256);
        ck_assert_uint_eq(ratelimit_take(rl, key, 1 + i / 1000), 0);
    }
    /* forgotten: starts again with a full bucket */
    ck_assert_uint_eq(ratelimit_take(rl, "victim", 20), 0);
    ratelimit_free(rl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ratelimit");
    unit_tcase(s, "core",
               UNIT_TESTS(burst_then_refused_with_the_wait, slow_rate_says_how_long_to_wait,
                          table_stays_bounded_and_evicts_the_oldest));
    return unit_run(s);
}
