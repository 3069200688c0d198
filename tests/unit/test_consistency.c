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

/* Parks w on the fake connection fc, checked against the hub's sequence number now (nothing
 * happened since the request checked). */
static enum consistency_park park_now(struct consistency_hub *h, struct consistency_wait *w,
                                      struct fake_conn *fc)
{
    return consistency_hub_park(h, w, CONN(fc), consistency_hub_seq(h));
}

/* A hub of max waits, and the requests a and b whose waits for U1 end at deadlines da and db (b
 * only when db is not 0). A case that ends a request itself frees its wait and sets it NULL. */
struct waits {
    struct consistency_hub *h;
    struct fake_conn a, b;
    struct consistency_wait *wa, *wb;
};

static void waits_open(struct waits *t, size_t max, long long da, long long db)
{
    memset(t, 0, sizeof *t);
    t->h = hub(max);
    t->wa = wait_for(t->h, da);
    t->wb = db != 0 ? wait_for(t->h, db) : NULL;
}

/* The requests end (their waits are freed): the hub is idle then, and is freed. */
static void waits_close(struct waits *t)
{
    consistency_wait_free(t->wa);
    consistency_wait_free(t->wb);
    ck_assert(consistency_hub_wait_idle(t->h, 10));
    hub_free(t->h);
}

START_TEST(notify_resumes_parked)
{
    struct waits t;

    waits_open(&t, 8, 1000, 2000);
    ck_assert_str_eq(consistency_wait_array(t.wa), "{" U1 "}");
    ck_assert_int_eq(park_now(t.h, t.wa, &t.a), CONSISTENCY_PARKED);
    ck_assert_int_eq(park_now(t.h, t.wb, &t.b), CONSISTENCY_PARKED);
    ck_assert_int_eq(t.a.suspended, 1);
    ck_assert_uint_eq(consistency_hub_parked(t.h), 2);
    consistency_hub_notify(t.h);
    ck_assert_int_eq(t.a.resumed, 1);
    ck_assert_int_eq(t.b.resumed, 1);
    ck_assert_uint_eq(consistency_hub_parked(t.h), 0);
    /* a second notification resumes nothing twice */
    consistency_hub_notify(t.h);
    ck_assert_int_eq(t.a.resumed, 1);
    waits_close(&t);
}
END_TEST

START_TEST(notification_between_check_and_park_is_not_lost)
{
    struct waits t;
    uint64_t seen;

    waits_open(&t, 8, 1000, 0);
    seen = consistency_hub_seq(t.h); /* noted before the check */
    consistency_hub_notify(t.h);     /* the commit lands while the handler checks */
    ck_assert_int_eq(consistency_hub_park(t.h, t.wa, CONN(&t.a), seen), CONSISTENCY_RECHECK);
    ck_assert_int_eq(t.a.suspended, 0);
    ck_assert_int_eq(park_now(t.h, t.wa, &t.a), CONSISTENCY_PARKED);
    consistency_hub_notify(t.h);
    ck_assert_int_eq(t.a.resumed, 1);
    waits_close(&t);
}
END_TEST

START_TEST(deadlines_resume_and_wake_the_thread)
{
    struct waits t;

    waits_open(&t, 8, 1000, 3000);
    ck_assert_int_eq(parking_expire(the_lot, 0), -1); /* nothing parked: sleeps long */
    ck_assert_int_eq(park_now(t.h, t.wb, &t.b), CONSISTENCY_PARKED);
    ck_assert_int_eq(wakes, 1); /* earlier than what the thread sleeps until */
    ck_assert_int_eq(park_now(t.h, t.wa, &t.a), CONSISTENCY_PARKED);
    ck_assert_int_eq(wakes, 2);
    ck_assert_int_eq(parking_expire(the_lot, 999), 1000);
    ck_assert_int_eq(t.a.resumed + t.b.resumed, 0);
    ck_assert_int_eq(parking_expire(the_lot, 1000), 3000);
    ck_assert_int_eq(t.a.resumed, 1);
    ck_assert_int_eq(t.b.resumed, 0);
    /* parked again: its old deadline is earlier than what the thread sleeps until */
    ck_assert_int_eq(park_now(t.h, t.wa, &t.a), CONSISTENCY_PARKED);
    ck_assert_int_eq(wakes, 3);
    ck_assert_int_eq(parking_expire(the_lot, 5000), -1);
    ck_assert_int_eq(t.a.resumed, 2);
    ck_assert_int_eq(t.b.resumed, 1);
    waits_close(&t);
}
END_TEST

START_TEST(full_and_closed)
{
    struct waits t;

    waits_open(&t, 1, 1000, 1000);
    ck_assert_int_eq(park_now(t.h, t.wa, &t.a), CONSISTENCY_PARKED);
    ck_assert_int_eq(park_now(t.h, t.wb, &t.b), CONSISTENCY_FULL);
    ck_assert_int_eq(t.b.suspended, 0);
    consistency_hub_close(t.h);
    ck_assert_int_eq(t.a.resumed, 1);
    ck_assert_int_eq(park_now(t.h, t.wb, &t.b), CONSISTENCY_CLOSED);
    ck_assert(!consistency_hub_wait_idle(t.h, 10)); /* two requests still hold waits */
    waits_close(&t);
}
END_TEST

START_TEST(freeing_a_parked_wait_unparks_it)
{
    struct waits t;

    waits_open(&t, 4, 1000, 0);
    ck_assert_int_eq(park_now(t.h, t.wa, &t.a), CONSISTENCY_PARKED);
    consistency_wait_free(t.wa);
    t.wa = NULL;
    ck_assert_uint_eq(consistency_hub_parked(t.h), 0);
    consistency_hub_notify(t.h);
    ck_assert_int_eq(t.a.resumed, 0);
    waits_close(&t);
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
