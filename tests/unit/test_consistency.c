/* consistency: parsing X-Consistency-Token, and the hub that parks requests until a
 * notification, their deadline or shutdown resumes them. MHD's suspend/resume are replaced by
 * fakes that count per connection. */
#include "api/query/consistency.h"
#include "http/parking.h"

#include "tests/unit/fake_conn.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define U1 "3f2a9c1e-8d4b-4c6a-9e1f-2b7d5a8c0e13"
#define U2 "00000000-0000-0000-0000-000000000001"

static int parse_ok(const char *v, struct consistency_token *t)
{
    struct api_error e;
    return consistency_token_parse(v, t, &e);
}

static void parse_bad(const char *v)
{
    struct consistency_token t;
    struct api_error e;

    memset(&e, 0, sizeof e);
    ck_assert_msg(consistency_token_parse(v, &t, &e) == -1, "accepted \"%s\"", v);
    ck_assert_uint_eq(api_status_http(e.kind), 400);
    ck_assert_str_eq(e.code, "validation_error");
    ck_assert_str_eq(e.field, "X-Consistency-Token");
}

START_TEST(token_parse)
{
    struct consistency_token t;
    char arr[CONSISTENCY_ARRAY_MAX];

    ck_assert_int_eq(parse_ok(U1, &t), 0);
    ck_assert_uint_eq(t.n, 1);
    ck_assert_str_eq(t.ids[0], U1);
    ck_assert_int_eq(parse_ok(U1 "," U2, &t), 0);
    ck_assert_uint_eq(t.n, 2);
    ck_assert_str_eq(t.ids[1], U2);
    ck_assert_int_eq(parse_ok(" " U1 " ,\t" U2 " ", &t), 0);
    ck_assert_uint_eq(t.n, 2);
    ck_assert_int_eq(parse_ok("3F2A9C1E-8D4B-4C6A-9E1F-2B7D5A8C0E13", &t), 0);
    ck_assert_str_eq(t.ids[0], U1); /* lower case */
    consistency_token_array(&t, arr, sizeof arr);
    ck_assert_str_eq(arr, "{" U1 "}");
    ck_assert_int_eq(parse_ok(U1 "," U2 "," U1, &t), 0);
    consistency_token_array(&t, arr, sizeof arr);
    ck_assert_str_eq(arr, "{" U1 "," U2 "," U1 "}");
}
END_TEST

START_TEST(token_limits)
{
    struct consistency_token t;
    char v[1024] = "", arr[CONSISTENCY_ARRAY_MAX];

    for (int i = 0; i < 16; i++) {
        if (i > 0)
            strcat(v, ",");
        strcat(v, U1);
    }
    ck_assert_int_eq(parse_ok(v, &t), 0);
    ck_assert_uint_eq(t.n, 16);
    consistency_token_array(&t, arr, sizeof arr);
    ck_assert_uint_eq(strlen(arr), 16 * 36 + 15 + 2);
    strcat(v, "," U2);
    parse_bad(v); /* 17 ids */
}
END_TEST

START_TEST(token_malformed)
{
    parse_bad("");
    parse_bad(" ");
    parse_bad(",");
    parse_bad(U1 ",");
    parse_bad("," U1);
    parse_bad(U1 ",," U2);
    parse_bad(U1 ";" U2);
    parse_bad(U1 " " U2);
    parse_bad("3f2a9c1e8d4b4c6a9e1f2b7d5a8c0e13");      /* no dashes */
    parse_bad("{" U1 "}");                              /* braces */
    parse_bad("3f2a9c1e-8d4b-4c6a-9e1f-2b7d5a8c0e1");   /* short */
    parse_bad("3f2a9c1e-8d4b-4c6a-9e1f-2b7d5a8c0e134"); /* long */
    parse_bad("3f2a9c1g-8d4b-4c6a-9e1f-2b7d5a8c0e13");  /* not hex */
    parse_bad("3f2a9c1e-8d4b-4c6a-9e1f2-b7d5a8c0e13");  /* dash misplaced */
    parse_bad("42");
    parse_bad("'; DROP TABLE processed_events; --");
}
END_TEST

/* --- the hub --- */

static int wakes;
static void fake_wake(void *cls)
{
    (void)cls;
    wakes++;
}

static struct parking *the_lot; /* the hub's, freed with it by hub_free */

static struct consistency_hub *hub(size_t max)
{
    the_lot = parking_new();
    parking_set_conn_ops(the_lot, fake_suspend, fake_resume);
    parking_set_waker(the_lot, fake_wake, NULL);
    wakes = 0;
    return consistency_hub_new(the_lot, max);
}

static void hub_free(struct consistency_hub *h)
{
    consistency_hub_free(h);
    parking_free(the_lot);
    the_lot = NULL;
}

static struct consistency_wait *wait_for(struct consistency_hub *h, long long deadline)
{
    struct consistency_token t;
    ck_assert_int_eq(parse_ok(U1, &t), 0);
    return consistency_wait_new(h, &t, deadline);
}

START_TEST(notify_resumes_parked)
{
    struct consistency_hub *h = hub(8);
    struct fake_conn a = {0}, b = {0};
    struct consistency_wait *wa = wait_for(h, 1000), *wb = wait_for(h, 2000);

    ck_assert_str_eq(consistency_wait_array(wa), "{" U1 "}");
    ck_assert_int_eq(consistency_hub_park(h, wa, CONN(&a), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(consistency_hub_park(h, wb, CONN(&b), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(a.suspended, 1);
    ck_assert_uint_eq(consistency_hub_parked(h), 2);
    consistency_hub_notify(h);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(b.resumed, 1);
    ck_assert_uint_eq(consistency_hub_parked(h), 0);
    /* a second notification resumes nothing twice */
    consistency_hub_notify(h);
    ck_assert_int_eq(a.resumed, 1);
    consistency_wait_free(wa);
    consistency_wait_free(wb);
    ck_assert(consistency_hub_wait_idle(h, 10));
    hub_free(h);
}
END_TEST

START_TEST(notification_between_check_and_park_is_not_lost)
{
    struct consistency_hub *h = hub(8);
    struct fake_conn a = {0};
    struct consistency_wait *w = wait_for(h, 1000);
    uint64_t seen = consistency_hub_seq(h); /* noted before the check */

    consistency_hub_notify(h); /* the commit lands while the handler checks */
    ck_assert_int_eq(consistency_hub_park(h, w, CONN(&a), seen), CONSISTENCY_RECHECK);
    ck_assert_int_eq(a.suspended, 0);
    ck_assert_int_eq(consistency_hub_park(h, w, CONN(&a), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    consistency_hub_notify(h);
    ck_assert_int_eq(a.resumed, 1);
    consistency_wait_free(w);
    hub_free(h);
}
END_TEST

START_TEST(deadlines_resume_and_wake_the_thread)
{
    struct consistency_hub *h = hub(8);
    struct fake_conn a = {0}, b = {0};
    struct consistency_wait *wa = wait_for(h, 1000), *wb = wait_for(h, 3000);

    ck_assert_int_eq(parking_expire(the_lot, 0), -1); /* nothing parked: sleeps long */
    ck_assert_int_eq(consistency_hub_park(h, wb, CONN(&b), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(wakes, 1); /* earlier than what the thread sleeps until */
    ck_assert_int_eq(consistency_hub_park(h, wa, CONN(&a), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(wakes, 2);
    ck_assert_int_eq(parking_expire(the_lot, 999), 1000);
    ck_assert_int_eq(a.resumed + b.resumed, 0);
    ck_assert_int_eq(parking_expire(the_lot, 1000), 3000);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(b.resumed, 0);
    /* parked again: its old deadline is earlier than what the thread sleeps until */
    ck_assert_int_eq(consistency_hub_park(h, wa, CONN(&a), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(wakes, 3);
    ck_assert_int_eq(parking_expire(the_lot, 5000), -1);
    ck_assert_int_eq(a.resumed, 2);
    ck_assert_int_eq(b.resumed, 1);
    consistency_wait_free(wa);
    consistency_wait_free(wb);
    hub_free(h);
}
END_TEST

START_TEST(full_and_closed)
{
    struct consistency_hub *h = hub(1);
    struct fake_conn a = {0}, b = {0};
    struct consistency_wait *wa = wait_for(h, 1000), *wb = wait_for(h, 1000);

    ck_assert_int_eq(consistency_hub_park(h, wa, CONN(&a), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(consistency_hub_park(h, wb, CONN(&b), consistency_hub_seq(h)),
                     CONSISTENCY_FULL);
    ck_assert_int_eq(b.suspended, 0);
    consistency_hub_close(h);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(consistency_hub_park(h, wb, CONN(&b), consistency_hub_seq(h)),
                     CONSISTENCY_CLOSED);
    ck_assert(!consistency_hub_wait_idle(h, 10)); /* two requests still hold waits */
    consistency_wait_free(wa);
    consistency_wait_free(wb);
    ck_assert(consistency_hub_wait_idle(h, 10));
    hub_free(h);
}
END_TEST

START_TEST(freeing_a_parked_wait_unparks_it)
{
    struct consistency_hub *h = hub(4);
    struct fake_conn a = {0};
    struct consistency_wait *w = wait_for(h, 1000);

    ck_assert_int_eq(consistency_hub_park(h, w, CONN(&a), consistency_hub_seq(h)),
                     CONSISTENCY_PARKED);
    consistency_wait_free(w);
    ck_assert_uint_eq(consistency_hub_parked(h), 0);
    consistency_hub_notify(h);
    ck_assert_int_eq(a.resumed, 0);
    hub_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("consistency");
    unit_tcase(s, "token", UNIT_TESTS(token_parse, token_limits, token_malformed));
    unit_tcase(s, "hub",
               UNIT_TESTS(notify_resumes_parked, notification_between_check_and_park_is_not_lost,
                          deadlines_resume_and_wake_the_thread, full_and_closed,
                          freeing_a_parked_wait_unparks_it));
    return unit_run(s);
}
