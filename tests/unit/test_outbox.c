/* outbox: the id array literal the relay sends to PostgreSQL, for both its uses: the rows of the
 * batch in flight that the next fetch leaves out (every row), and the rows marked published (the
 * acked ones only). Batches are built client-side with libpq's PQmakeEmptyPGresult/PQsetvalue. */
#include "relay/outbox.h"

#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batch whose rows have the given ids (the other columns are left NULL). */
static struct outbox_batch batch_of(const char *const *ids, int n)
{
    struct outbox_batch b = {PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK), n};
    PGresAttDesc attrs[OUTBOX_AGGREGATE_TYPE + 1];
    char name[] = "col";

    ck_assert_ptr_nonnull(b.res);
    memset(attrs, 0, sizeof attrs);
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        attrs[i].name = name;
        attrs[i].format = 0;
    }
    ck_assert(PQsetResultAttrs(b.res, (int)(sizeof attrs / sizeof attrs[0]), attrs));
    for (int i = 0; i < n; i++) {
        char value[32];
        snprintf(value, sizeof value, "%s", ids[i]);
        ck_assert(PQsetvalue(b.res, i, OUTBOX_ID, value, (int)strlen(value)));
    }
    return b;
}

START_TEST(every_row_of_the_batch_in_flight)
{
    const char *ids[] = {"7", "42", "1000000000000"};
    struct outbox_batch b = batch_of(ids, 3);
    size_t count = 99;
    char *text = outbox_id_array(&b, NULL, &count);

    ck_assert_str_eq(text, "{7,42,1000000000000}");
    ck_assert_uint_eq(count, 3);
    free(text);
    outbox_batch_release(&b);
}
END_TEST

START_TEST(only_the_acked_prefix_is_marked)
{
    const char *ids[] = {"7", "8", "9", "10"};
    struct outbox_batch b = batch_of(ids, 4);
    struct mq_confirms c;
    size_t count = 0;
    char *text;

    mq_confirms_init(&c);
    mq_confirms_reset(&c, 11, 4);                                  /* tags 11..14 */
    ck_assert_int_eq(mq_confirms_settle(&c, 11, false, true), 1);  /* row 0 acked */
    ck_assert_int_eq(mq_confirms_settle(&c, 12, false, false), 1); /* row 1 nacked */
    ck_assert_int_eq(mq_confirms_settle(&c, 14, false, true), 1);  /* row 3 acked, row 2 pending */
    text = outbox_id_array(&b, &c, &count);
    ck_assert_str_eq(text, "{7}"); /* never row 3 (10): it came after a row that failed */
    ck_assert_uint_eq(count, 1);
    free(text);

    /* a row returned as unroutable is a failed publish, though the broker acks it */
    mq_confirms_reset(&c, 21, 4);
    mq_confirms_return(&c, 2);
    ck_assert_int_eq(mq_confirms_settle(&c, 24, true, true), 4);
    ck_assert_int_eq(mq_confirms_state(&c, 2), MQ_RETURNED);
    text = outbox_id_array(&b, &c, &count);
    ck_assert_str_eq(text, "{7,8}");
    ck_assert_uint_eq(count, 2);
    free(text);

    /* nothing acked: an empty array, and nothing to mark */
    mq_confirms_reset(&c, 15, 4);
    text = outbox_id_array(&b, &c, &count);
    ck_assert_str_eq(text, "{}");
    ck_assert_uint_eq(count, 0);
    free(text);
    mq_confirms_release(&c);
    outbox_batch_release(&b);
}
END_TEST

START_TEST(an_empty_batch_gives_an_empty_array)
{
    struct outbox_batch b = {NULL, 0};
    size_t count = 99;
    char *text = outbox_id_array(&b, NULL, &count);

    ck_assert_str_eq(text, "{}");
    ck_assert_uint_eq(count, 0);
    free(text);
}
END_TEST

/* the literal is sized from the values' lengths: a full batch of the longest bigints fits exactly
 * (an overflow would show under the sanitizer build) */
START_TEST(a_full_batch_of_the_longest_ids)
{
    enum { N = 10000 }; /* RELAY_BATCH_SIZE's maximum */
    static const char *ids[N];
    const char *max = "-9223372036854775808";
    struct outbox_batch b;
    size_t count = 0;
    char *text;

    for (int i = 0; i < N; i++)
        ids[i] = max;
    b = batch_of(ids, N);
    text = outbox_id_array(&b, NULL, &count);
    ck_assert_uint_eq(count, N);
    ck_assert_uint_eq(strlen(text), 2 + N * strlen(max) + (N - 1));
    ck_assert_int_eq(text[0], '{');
    ck_assert(strncmp(text + 1, max, strlen(max)) == 0);
    ck_assert_int_eq(text[1 + strlen(max)], ',');
    ck_assert_str_eq(text + strlen(text) - strlen(max) - 1, "-9223372036854775808}");
    free(text);
    outbox_batch_release(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outbox");
    unit_tcase(s, "id arrays",
               UNIT_TESTS(every_row_of_the_batch_in_flight, only_the_acked_prefix_is_marked,
                          an_empty_batch_gives_an_empty_array, a_full_batch_of_the_longest_ids));
    return unit_run(s);
}
