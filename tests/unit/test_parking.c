/* parking: the one lot of suspended connections. MHD's suspend/resume are replaced by fakes that
 * count per connection. */
#include "http/parking.h"

#include "tests/unit/fake_conn.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>

static int wakes;
static void fake_wake(void *cls)
{
    (void)cls;
    wakes++;
}

static struct parking *lot(void)
{
    struct parking *l = parking_new();
    parking_set_conn_ops(l, fake_suspend, fake_resume);
    parking_set_waker(l, fake_wake, NULL);
    wakes = 0;
    return l;
}

START_TEST(keys_are_unique)
{
    struct parking *l = lot();
    uint64_t a = parking_new_key(l), b = parking_new_key(l);

    ck_assert_uint_ne(a, 0);
    ck_assert_uint_ne(a, b);
    parking_free(l);
}
END_TEST

START_TEST(park_suspends_and_wake_by_key_resumes_only_that_key)
{
    struct parking *l = lot();
    struct parking_spot s1 = {0}, s2 = {0}, s3 = {0};
    struct fake_conn a = {0}, b = {0}, c = {0};
    uint64_t g = parking_new_key(l), k1 = parking_new_key(l), k2 = parking_new_key(l);

    ck_assert(parking_park(l, &s1, CONN(&a), g, k1, PARKING_NO_DEADLINE, NULL));
    ck_assert(parking_park(l, &s2, CONN(&b), g, k2, PARKING_NO_DEADLINE, NULL));
    ck_assert(parking_park(l, &s3, CONN(&c), g, k1, PARKING_NO_DEADLINE, NULL));
    ck_assert_int_eq(a.suspended + b.suspended + c.suspended, 3);
    ck_assert_int_eq(wakes, 0); /* no deadline: the deadline thread need not wake */
    ck_assert_uint_eq(parking_count(l, g, NULL), 3);
    ck_assert_uint_eq(parking_wake(l, k1), 2);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(c.resumed, 1);
    ck_assert_int_eq(b.resumed, 0);
    ck_assert_uint_eq(parking_wake(l, k1), 0); /* resumed once per park */
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_uint_eq(parking_count(l, 0, NULL), 1);
    ck_assert(!parking_park(l, &s2, CONN(&b), g, k2, PARKING_NO_DEADLINE, NULL)); /* parked */
    ck_assert_uint_eq(parking_wake(l, k2), 1);
    ck_assert_int_eq(b.resumed, 1);
    parking_free(l);
}
END_TEST

START_TEST(wake_group_and_count_by_client)
{
    struct parking *l = lot();
    struct parking_spot s1 = {0}, s2 = {0}, s3 = {0};
    struct fake_conn a = {0}, b = {0}, c = {0};
    uint64_t g1 = parking_new_key(l), g2 = parking_new_key(l);

    ck_assert(parking_park(l, &s1, CONN(&a), g1, 11, PARKING_NO_DEADLINE, "10.0.0.1"));
    ck_assert(parking_park(l, &s2, CONN(&b), g1, 12, PARKING_NO_DEADLINE, "10.0.0.2"));
    ck_assert(parking_park(l, &s3, CONN(&c), g2, 13, PARKING_NO_DEADLINE, "10.0.0.1"));
    ck_assert_uint_eq(parking_count(l, g1, "10.0.0.1"), 1);
    ck_assert_uint_eq(parking_count(l, 0, "10.0.0.1"), 2);
    ck_assert_uint_eq(parking_count(l, g2, NULL), 1);
    ck_assert_uint_eq(parking_wake_group(l, g1), 2);
    ck_assert_int_eq(a.resumed + b.resumed, 2);
    ck_assert_int_eq(c.resumed, 0);
    ck_assert_uint_eq(parking_wake_group(l, g2), 1);
    parking_free(l);
}
END_TEST

START_TEST(deadlines_expire_and_wake_the_thread)
{
    struct parking *l = lot();
    struct parking_spot s1 = {0}, s2 = {0}, s3 = {0};
    struct fake_conn a = {0}, b = {0}, c = {0};

    ck_assert_int_eq(parking_expire(l, 0), -1); /* nothing parked: sleeps long */
    ck_assert(parking_park(l, &s2, CONN(&b), 1, 2, 3000, NULL));
    ck_assert_int_eq(wakes, 1); /* earlier than what the thread sleeps until */
    ck_assert(parking_park(l, &s1, CONN(&a), 1, 1, 1000, NULL));
    ck_assert_int_eq(wakes, 2);
    ck_assert(parking_park(l, &s3, CONN(&c), 1, 3, PARKING_NO_DEADLINE, NULL));
    ck_assert_int_eq(wakes, 2); /* later: the thread wakes early enough already */
    ck_assert_int_eq(parking_expire(l, 999), 1000);
    ck_assert_int_eq(a.resumed + b.resumed, 0);
    ck_assert_int_eq(parking_expire(l, 1000), 3000);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(b.resumed, 0);
    ck_assert_int_eq(parking_expire(l, 5000), -1); /* only the spot without deadline is left */
    ck_assert_int_eq(b.resumed, 1);
    ck_assert_int_eq(c.resumed, 0);
    ck_assert_uint_eq(parking_count(l, 0, NULL), 1);
    parking_free(l);
}
END_TEST

START_TEST(unpark_forgets_without_resuming)
{
    struct parking *l = lot();
    struct parking_spot s = {0};
    struct fake_conn a = {0};

    ck_assert(!parking_unpark(l, &s));
    ck_assert(parking_park(l, &s, CONN(&a), 1, 1, 10, NULL));
    ck_assert(parking_unpark(l, &s));
    ck_assert_uint_eq(parking_wake(l, 1), 0);
    ck_assert_int_eq(parking_expire(l, 100), -1);
    ck_assert_int_eq(a.resumed, 0);
    parking_free(l);
}
END_TEST

START_TEST(close_wakes_all_and_refuses_new_parks)
{
    struct parking *l = lot();
    struct parking_spot s1 = {0}, s2 = {0}, s3 = {0};
    struct fake_conn a = {0}, b = {0}, c = {0};

    ck_assert(parking_park(l, &s1, CONN(&a), 1, 1, PARKING_NO_DEADLINE, NULL));
    ck_assert(parking_park(l, &s2, CONN(&b), 2, 2, 500, NULL));
    ck_assert(!parking_closed(l));
    parking_close(l);
    ck_assert(parking_closed(l));
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(b.resumed, 1);
    ck_assert(!parking_park(l, &s3, CONN(&c), 1, 1, PARKING_NO_DEADLINE, NULL));
    ck_assert_int_eq(c.suspended, 0);
    ck_assert_uint_eq(parking_count(l, 0, NULL), 0);
    parking_free(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("parking");
    unit_tcase(s, "core",
               UNIT_TESTS(keys_are_unique, park_suspends_and_wake_by_key_resumes_only_that_key,
                          wake_group_and_count_by_client, deadlines_expire_and_wake_the_thread,
                          unpark_forgets_without_resuming, close_wakes_all_and_refuses_new_parks));
    return unit_run(s);
}
