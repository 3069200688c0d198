/* inflight: the relay's ring of batches in flight (order, wrap-around, full/empty), the exclusion
 * list of every in-flight id the next fetch leaves out, and confirms that span several batches
 * (mq_confirms_settle_span over the ring's confirms). Batches are built client-side with libpq's
 * PQmakeEmptyPGresult/PQsetvalue. */
#include "relay/inflight.h"

#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills the ring's next slot with rows of ids first .. first + n - 1, "sent" with delivery tags
 * from tag, and pushes it. */
static void push_batch(struct inflight *q, long first, int n, uint64_t tag)
{
    struct inflight_batch *s = inflight_next(q);
    PGresAttDesc attrs[OUTBOX_AGGREGATE_TYPE + 1];
    char name[] = "col";

    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(s->b.res);
    s->b.res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    memset(attrs, 0, sizeof attrs);
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        attrs[i].name = name;
    ck_assert(PQsetResultAttrs(s->b.res, (int)(sizeof attrs / sizeof attrs[0]), attrs));
    for (int i = 0; i < n; i++) {
        char value[32];
        snprintf(value, sizeof value, "%ld", first + i);
        ck_assert(PQsetvalue(s->b.res, i, OUTBOX_ID, value, (int)strlen(value)));
        snprintf(value, sizeof value, "event-%ld", first + i);
        ck_assert(PQsetvalue(s->b.res, i, OUTBOX_EVENT_ID, value, (int)strlen(value)));
    }
    s->b.n = n;
    mq_confirms_reset(&s->c, tag, (size_t)n);
    inflight_push(q);
}

START_TEST(batches_leave_in_the_order_they_came_across_the_wrap)
{
    struct inflight q;
    inflight_init(&q, 3);
    ck_assert_ptr_null(inflight_at(&q, 0));
    for (long round = 0; round < 5; round++) {
        push_batch(&q, round * 10, 2, 1);
        push_batch(&q, round * 10 + 2, 2, 3);
        push_batch(&q, round * 10 + 4, 2, 5);
        ck_assert(inflight_full(&q));
        ck_assert_ptr_null(inflight_next(&q));
        for (long k = 0; k < 3; k++) {
            char want[32];
            snprintf(want, sizeof want, "%ld", round * 10 + 2 * k);
            ck_assert_str_eq(outbox_value(&inflight_at(&q, 0)->b, 0, OUTBOX_ID), want);
            inflight_pop(&q);
            ck_assert(!inflight_full(&q));
        }
        ck_assert_uint_eq(q.len, 0);
        if (round % 2 == 1) { /* shift head by one, so that it wraps at every offset */
            push_batch(&q, 0, 1, 1);
            inflight_pop(&q);
        }
    }
    inflight_release(&q);
}
END_TEST

START_TEST(a_full_ring_has_no_next_slot)
{
    struct inflight q;
    inflight_init(&q, 2);
    push_batch(&q, 1, 1, 1);
    push_batch(&q, 2, 1, 2);
    ck_assert(inflight_full(&q));
    ck_assert_ptr_null(inflight_next(&q));
    inflight_push(&q); /* ignored */
    ck_assert_uint_eq(q.len, 2);
    inflight_clear(&q);
    ck_assert_uint_eq(q.len, 0);
    ck_assert_ptr_nonnull(inflight_next(&q));
    inflight_release(&q);
}
END_TEST

START_TEST(the_exclusion_list_holds_every_row_in_flight)
{
    struct inflight q;
    size_t count = 99;
    char *ids;

    inflight_init(&q, 4);
    ck_assert_ptr_null(inflight_id_array(&q, &count)); /* nothing in flight: a plain fetch */
    ck_assert_uint_eq(count, 0);
    push_batch(&q, 7, 3, 1);   /* 7 8 9 */
    push_batch(&q, 3, 1, 4);   /* 3: a lower id that committed late */
    push_batch(&q, 100, 2, 5); /* 100 101 */
    ids = inflight_id_array(&q, &count);
    ck_assert_str_eq(ids, "{7,8,9,3,100,101}");
    ck_assert_uint_eq(count, 6);
    free(ids);
    inflight_pop(&q); /* the oldest was marked */
    ids = inflight_id_array(&q, &count);
    ck_assert_str_eq(ids, "{3,100,101}");
    ck_assert_uint_eq(count, 3);
    free(ids);
    inflight_release(&q);
}
END_TEST

START_TEST(a_multiple_ack_settles_every_batch_it_reaches)
{
    struct inflight q;
    struct mq_confirms *const *cs;
    size_t n;

    inflight_init(&q, 4);
    push_batch(&q, 1, 3, 10); /* tags 10..12 */
    push_batch(&q, 4, 2, 13); /* 13..14 */
    push_batch(&q, 6, 4, 15); /* 15..18 */
    cs = inflight_confirms(&q, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 16, true, true), 7);
    ck_assert(mq_confirms_done(&inflight_at(&q, 0)->c));
    ck_assert(mq_confirms_done(&inflight_at(&q, 1)->c));
    ck_assert(!mq_confirms_done(&inflight_at(&q, 2)->c));
    ck_assert_uint_eq(inflight_at(&q, 2)->c.pending, 2);
    /* a single nack of the last tag touches only its batch */
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 18, false, false), 1);
    ck_assert_int_eq(mq_confirms_state(&inflight_at(&q, 2)->c, 2), MQ_PENDING);
    ck_assert_int_eq(mq_confirms_state(&inflight_at(&q, 2)->c, 3), MQ_NACKED);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 17, false, true), 1);
    ck_assert(mq_confirms_done(&inflight_at(&q, 2)->c));
    ck_assert_uint_eq(inflight_at(&q, 2)->c.nacked, 1);
    inflight_release(&q);
}
END_TEST

START_TEST(tags_of_dropped_batches_are_ignored_and_unknown_tags_fail)
{
    struct inflight q;
    struct mq_confirms *const *cs;
    size_t n;

    inflight_init(&q, 4);
    cs = inflight_confirms(&q, &n);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 5, true, true), 0); /* nothing in flight */
    push_batch(&q, 1, 2, 10);                                           /* 10..11 */
    push_batch(&q, 3, 2, 12);                                           /* 12..13 */
    inflight_pop(&q);                                                   /* the first was marked */
    cs = inflight_confirms(&q, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 11, true, true), 0);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 14, true, true), -1);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 14, false, true), -1);
    ck_assert_uint_eq(inflight_at(&q, 0)->c.pending, 2);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 13, true, true), 2);
    inflight_release(&q);
}
END_TEST

/* Acks every tag of the ring's batches (a multiple ack of the last one). */
static void ack_all(struct inflight *q)
{
    size_t n;
    struct mq_confirms *const *cs = inflight_confirms(q, &n);
    const struct mq_confirms *last = cs[n - 1];

    ck_assert_int_ge(mq_confirms_settle_span(cs, n, last->first_tag + last->n - 1, true, true), 0);
}

START_TEST(a_returned_row_is_found_by_its_event_id)
{
    struct inflight q;

    inflight_init(&q, 4);
    push_batch(&q, 1, 3, 1); /* 1 2 3, tags 1..3 */
    push_batch(&q, 4, 2, 4); /* 4 5, tags 4..5 */
    ck_assert(inflight_return(&q, "event-5"));
    ck_assert(!inflight_return(&q, "event-99")); /* a late return of a dropped batch */
    ck_assert_uint_eq(inflight_at(&q, 0)->c.returned, 0);
    ck_assert_uint_eq(inflight_at(&q, 1)->c.returned, 1);
    ack_all(&q);
    ck_assert_int_eq(mq_confirms_state(&inflight_at(&q, 1)->c, 1), MQ_RETURNED);
    ck_assert_int_eq(mq_confirms_state(&inflight_at(&q, 1)->c, 0), MQ_ACKED);
    inflight_release(&q);
}
END_TEST

START_TEST(nothing_after_a_returned_row_is_marked_in_any_batch)
{
    struct inflight q;

    inflight_init(&q, 4);
    push_batch(&q, 1, 3, 1); /* 1 2 3 */
    push_batch(&q, 4, 2, 4); /* 4 5: a later event of the aggregate of 2, say */
    push_batch(&q, 6, 1, 6); /* 6 */
    ck_assert(inflight_return(&q, "event-2"));
    ack_all(&q); /* the broker acks everything, returned or not */
    ck_assert(!inflight_stalled(&q));
    ck_assert_uint_eq(inflight_markable(&q), 1); /* row 1 only, not 3 after the returned 2 */
    ck_assert(inflight_stalled(&q));
    inflight_pop(&q);
    ck_assert_uint_eq(inflight_markable(&q), 0); /* 4 5: fully acked, but after 2 */
    inflight_pop(&q);
    ck_assert_uint_eq(inflight_markable(&q), 0); /* 6 */
    inflight_pop(&q);
    ck_assert(inflight_stalled(&q)); /* until the relay publishes again */
    inflight_resume(&q);
    ck_assert(!inflight_stalled(&q));
    push_batch(&q, 2, 5, 7); /* 2..6 again, all routed */
    ack_all(&q);
    ck_assert_uint_eq(inflight_markable(&q), 5);
    ck_assert(!inflight_stalled(&q));
    inflight_release(&q);
}
END_TEST

START_TEST(a_pending_or_nacked_row_stalls_the_ring_too)
{
    struct inflight q;
    size_t n;
    struct mq_confirms *const *cs;

    inflight_init(&q, 4);
    push_batch(&q, 1, 2, 1); /* tags 1..2 */
    push_batch(&q, 3, 2, 3); /* tags 3..4 */
    cs = inflight_confirms(&q, &n);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 1, false, true), 1);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 3, false, true), 1);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 4, false, true), 1); /* 2 stays pending */
    /* a broker failure releases the ring: row 1 may be marked, nothing after the pending 2 */
    ck_assert_uint_eq(inflight_markable(&q), 1);
    inflight_pop(&q);
    ck_assert_uint_eq(inflight_markable(&q), 0);
    inflight_clear(&q);
    inflight_resume(&q);
    push_batch(&q, 2, 3, 5); /* tags 5..7 */
    cs = inflight_confirms(&q, &n);
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 6, false, false), 1); /* 3 nacked */
    ck_assert_int_eq(mq_confirms_settle_span(cs, n, 7, true, true), 2);
    ck_assert_uint_eq(inflight_markable(&q), 1); /* 2, not 4 */
    inflight_release(&q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("inflight");
    unit_tcase(s, "ring",
               UNIT_TESTS(batches_leave_in_the_order_they_came_across_the_wrap,
                          a_full_ring_has_no_next_slot,
                          the_exclusion_list_holds_every_row_in_flight,
                          a_multiple_ack_settles_every_batch_it_reaches,
                          tags_of_dropped_batches_are_ignored_and_unknown_tags_fail,
                          a_returned_row_is_found_by_its_event_id,
                          nothing_after_a_returned_row_is_marked_in_any_batch,
                          a_pending_or_nacked_row_stalls_the_ring_too));
    return unit_run(s);
}
