/* mq: publisher-confirm book-keeping over delivery tags (with and without `multiple`), broker
 * URL parsing, the derived retry and dead-letter queue names, and reading message headers. */
#include "mq/mq.h"
#include "service/topology.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(single_acks_settle_one_entry_each)
{
    struct mq_confirms c;
    mq_confirms_init(&c);
    mq_confirms_reset(&c, 1, 3);
    ck_assert(!mq_confirms_done(&c));
    ck_assert_int_eq(mq_confirms_settle(&c, 2, false, true), 1);
    ck_assert_int_eq(mq_confirms_state(&c, 0), MQ_PENDING);
    ck_assert_int_eq(mq_confirms_state(&c, 1), MQ_ACKED);
    ck_assert_int_eq(mq_confirms_settle(&c, 1, false, true), 1);
    ck_assert_int_eq(mq_confirms_settle(&c, 1, false, true),
                     0); /* a repeated ack changes nothing */
    ck_assert(!mq_confirms_done(&c));
    ck_assert_int_eq(mq_confirms_settle(&c, 3, false, true), 1);
    ck_assert(mq_confirms_done(&c));
    ck_assert_uint_eq(c.nacked, 0);
    mq_confirms_release(&c);
}
END_TEST

START_TEST(multiple_ack_settles_everything_up_to_the_tag)
{
    struct mq_confirms c;
    mq_confirms_init(&c);
    mq_confirms_reset(&c, 10, 5); /* tags 10..14 */
    ck_assert_int_eq(mq_confirms_settle(&c, 12, true, true), 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(mq_confirms_state(&c, i), MQ_ACKED);
    ck_assert_int_eq(mq_confirms_state(&c, 3), MQ_PENDING);
    ck_assert_uint_eq(c.pending, 2);
    ck_assert_int_eq(mq_confirms_settle(&c, 14, true, true), 2);
    ck_assert(mq_confirms_done(&c));
    mq_confirms_release(&c);
}
END_TEST

START_TEST(nack_marks_entries_and_later_multiple_ack_keeps_them_nacked)
{
    struct mq_confirms c;
    mq_confirms_init(&c);
    mq_confirms_reset(&c, 1, 6);
    ck_assert_int_eq(mq_confirms_settle(&c, 1, false, true), 1);
    ck_assert_int_eq(mq_confirms_settle(&c, 3, true, false), 2); /* 2 and 3 nacked */
    ck_assert_int_eq(mq_confirms_settle(&c, 5, false, false), 1);
    ck_assert_int_eq(mq_confirms_settle(&c, 6, true, true), 2); /* 4 and 6 */
    ck_assert(mq_confirms_done(&c));
    ck_assert_uint_eq(c.nacked, 3);
    ck_assert_int_eq(mq_confirms_state(&c, 0), MQ_ACKED);
    ck_assert_int_eq(mq_confirms_state(&c, 1), MQ_NACKED);
    ck_assert_int_eq(mq_confirms_state(&c, 2), MQ_NACKED);
    ck_assert_int_eq(mq_confirms_state(&c, 3), MQ_ACKED);
    ck_assert_int_eq(mq_confirms_state(&c, 4), MQ_NACKED);
    ck_assert_int_eq(mq_confirms_state(&c, 5), MQ_ACKED);
    mq_confirms_release(&c);
}
END_TEST

START_TEST(tags_outside_the_batch)
{
    struct mq_confirms c;
    mq_confirms_init(&c);
    mq_confirms_reset(&c, 101, 2);
    /* a late confirm of the previous batch is ignored, even with multiple */
    ck_assert_int_eq(mq_confirms_settle(&c, 100, true, true), 0);
    ck_assert_uint_eq(c.pending, 2);
    /* a tag beyond what was published is a protocol error */
    ck_assert_int_eq(mq_confirms_settle(&c, 103, false, true), -1);
    ck_assert_int_eq(mq_confirms_settle(&c, 103, true, true), -1);
    ck_assert_uint_eq(c.pending, 2);
    mq_confirms_release(&c);
}
END_TEST

START_TEST(reset_reuses_and_grows)
{
    struct mq_confirms c;
    mq_confirms_init(&c);
    mq_confirms_reset(&c, 1, 2);
    ck_assert_int_eq(mq_confirms_settle(&c, 2, true, true), 2);
    mq_confirms_reset(&c, 3, 1000);
    ck_assert_uint_eq(c.pending, 1000);
    ck_assert_uint_eq(c.nacked, 0);
    ck_assert_int_eq(mq_confirms_state(&c, 0), MQ_PENDING);
    ck_assert_int_eq(mq_confirms_settle(&c, 1002, true, true), 1000);
    ck_assert(mq_confirms_done(&c));
    mq_confirms_reset(&c, 1003, 0); /* an empty batch is done at once */
    ck_assert(mq_confirms_done(&c));
    mq_confirms_release(&c);
}
END_TEST

START_TEST(url_with_every_part)
{
    struct mq_broker b;
    char err[256];
    ck_assert_int_eq(
        mq_broker_parse(&b, "amqp://cqrs:s%40cret@127.0.0.1:56729/cqrs", err, sizeof err), 0);
    ck_assert_str_eq(b.info.user, "cqrs");
    ck_assert_str_eq(b.info.password, "s@cret");
    ck_assert_str_eq(b.info.host, "127.0.0.1");
    ck_assert_int_eq(b.info.port, 56729);
    ck_assert_str_eq(b.info.vhost, "cqrs");
    mq_broker_release(&b);
}
END_TEST

START_TEST(url_defaults)
{
    struct mq_broker b;
    char err[256];
    ck_assert_int_eq(mq_broker_parse(&b, "amqp://rabbit", err, sizeof err), 0);
    ck_assert_str_eq(b.info.host, "rabbit");
    ck_assert_int_eq(b.info.port, 5672);
    ck_assert_str_eq(b.info.user, "guest");
    ck_assert_str_eq(b.info.vhost, "/");
    mq_broker_release(&b);
    ck_assert_int_eq(mq_broker_parse(&b, "amqp://u:p@h:1/%2f", err, sizeof err), 0);
    ck_assert_str_eq(b.info.vhost, "/");
    mq_broker_release(&b);
}
END_TEST

START_TEST(bad_urls_fail_without_leaking_the_password)
{
    struct mq_broker b;
    char err[256];
    const char *bad[] = {"http://u:hunter2@h/v", "amqp://u:hunter2@h:port/v", "",
                         "amqps://u:hunter2@h/v"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_int_eq(mq_broker_parse(&b, bad[i], err, sizeof err), -1);
        ck_assert(err[0] != '\0');
        ck_assert_ptr_null(strstr(err, "hunter2"));
        ck_assert_ptr_null(b.buf);
    }
}
END_TEST

START_TEST(topology_derives_retry_and_dead_queue_names)
{
    const struct domain_names names = {"ex", "read_model", "moods"};
    struct mq_topology t;
    char err[256], longname[300];
    ck_assert_int_eq(svc_topology_init(&t, &names, err, sizeof err), 0);
    ck_assert_str_eq(t.exchange, "ex");
    ck_assert_str_eq(t.queue, "read_model");
    ck_assert_str_eq(t.queue_binding, "#");
    ck_assert_uint_eq(t.ntaps, 1);
    ck_assert_str_eq(t.taps[0].queue, "moods");
    ck_assert_str_eq(t.taps[0].binding, "mood.#");
    ck_assert_str_eq(t.retry_queue, "read_model.retry");
    ck_assert_str_eq(t.dead_queue, "read_model.dead");
    memset(longname, 'q', 250);
    longname[250] = '\0';
    ck_assert_int_eq(mq_topology_init(&t, "ex", longname, "#", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

/* lib/mq knows no queue of the domain: a topology holds exactly what its caller named */
START_TEST(topology_declares_only_what_the_caller_names)
{
    struct mq_topology t;
    char err[256];
    ck_assert_int_eq(mq_topology_init(&t, "ex", "work", "jobs.#", err, sizeof err), 0);
    ck_assert_str_eq(t.queue_binding, "jobs.#");
    ck_assert_uint_eq(t.ntaps, 0);
    for (int i = 0; i < MQ_TOPOLOGY_MAX_TAPS; i++)
        ck_assert_int_eq(mq_topology_add_tap(&t, "tap", "x.#", err, sizeof err), 0);
    ck_assert_int_eq(mq_topology_add_tap(&t, "one-too-many", "y.#", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "too many queues"));
    ck_assert_uint_eq(t.ntaps, MQ_TOPOLOGY_MAX_TAPS);
}
END_TEST

START_TEST(headers_are_read_by_kind)
{
    amqp_table_entry_t e[4];
    amqp_table_t t = {4, e};
    amqp_basic_properties_t props;
    long long n = -1;
    char buf[8];

    e[0].key = amqp_cstring_bytes("x-cqrs-attempts");
    e[0].value.kind = AMQP_FIELD_KIND_I64;
    e[0].value.value.i64 = 7;
    e[1].key = amqp_cstring_bytes("small");
    e[1].value.kind = AMQP_FIELD_KIND_U8;
    e[1].value.value.u8 = 200;
    e[2].key = amqp_cstring_bytes("x-cqrs-reason");
    e[2].value.kind = AMQP_FIELD_KIND_UTF8;
    e[2].value.value.bytes = amqp_cstring_bytes("a long reason");
    e[3].key = amqp_cstring_bytes("flag");
    e[3].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e[3].value.value.boolean = 1;

    ck_assert(mq_header_int(&t, MQ_HDR_ATTEMPTS, &n));
    ck_assert_int_eq(n, 7);
    ck_assert(mq_header_int(&t, "small", &n));
    ck_assert_int_eq(n, 200);
    ck_assert(!mq_header_int(&t, "flag", &n));           /* not an integer */
    ck_assert(!mq_header_int(&t, MQ_HDR_REASON, &n));    /* a string */
    ck_assert(!mq_header_int(&t, "x-cqrs-attempt", &n)); /* a prefix is not the key */
    ck_assert(!mq_header_int(NULL, MQ_HDR_ATTEMPTS, &n));
    ck_assert(mq_header_str(&t, MQ_HDR_REASON, buf, sizeof buf));
    ck_assert_str_eq(buf, "a long "); /* truncated, NUL-terminated */
    ck_assert(!mq_header_str(&t, MQ_HDR_ATTEMPTS, buf, sizeof buf));
    ck_assert_str_eq(buf, "");

    memset(&props, 0, sizeof props);
    props.headers = t;
    ck_assert_ptr_null(mq_headers(&props)); /* no HEADERS flag: no headers */
    props._flags = AMQP_BASIC_HEADERS_FLAG;
    ck_assert_ptr_eq(mq_headers(&props), &props.headers);
}
END_TEST

START_TEST(a_confirm_spanning_batches_settles_each_up_to_the_tag)
{
    struct mq_confirms a, b, c;
    struct mq_confirms *const cs[3] = {&a, &b, &c};
    mq_confirms_init(&a);
    mq_confirms_init(&b);
    mq_confirms_init(&c);
    mq_confirms_reset(&a, 1, 2);                                         /* tags 1..2 */
    mq_confirms_reset(&b, 3, 3);                                         /* 3..5 */
    mq_confirms_reset(&c, 6, 1);                                         /* 6 */
    ck_assert_int_eq(mq_confirms_settle_span(cs, 3, 2, false, true), 1); /* only a */
    ck_assert_int_eq(mq_confirms_settle_span(cs, 3, 4, true, false), 3); /* a's 1, b's 3..4 */
    ck_assert(mq_confirms_done(&a));
    ck_assert_uint_eq(a.nacked, 1);
    ck_assert_uint_eq(b.nacked, 2);
    ck_assert_int_eq(mq_confirms_settle_span(cs, 3, 6, true, true), 2); /* b's 5, c's 6 */
    ck_assert(mq_confirms_done(&b) && mq_confirms_done(&c));
    ck_assert_int_eq(mq_confirms_settle_span(cs, 3, 7, true, true), -1);    /* never sent */
    ck_assert_int_eq(mq_confirms_settle_span(cs + 1, 2, 1, true, true), 0); /* a was dropped */
    mq_confirms_release(&a);
    mq_confirms_release(&b);
    mq_confirms_release(&c);
}
END_TEST

START_TEST(a_returned_entry_is_never_acked)
{
    struct mq_confirms c;

    mq_confirms_init(&c);
    mq_confirms_reset(&c, 1, 4);
    mq_confirms_return(&c, 1); /* basic.return comes before the ack of the same message */
    mq_confirms_return(&c, 1); /* counted once */
    ck_assert_uint_eq(c.returned, 1);
    ck_assert_int_eq(mq_confirms_state(&c, 1), MQ_PENDING);
    ck_assert(!mq_confirms_done(&c));
    ck_assert_int_eq(mq_confirms_settle(&c, 4, true, true), 4);
    ck_assert(mq_confirms_done(&c));
    ck_assert_int_eq(mq_confirms_state(&c, 0), MQ_ACKED);
    ck_assert_int_eq(mq_confirms_state(&c, 1), MQ_RETURNED);
    ck_assert_int_eq(mq_confirms_state(&c, 2), MQ_ACKED);
    ck_assert_uint_eq(mq_confirms_acked_prefix(&c), 1);
    mq_confirms_return(&c, 9); /* out of range: ignored */
    ck_assert_uint_eq(c.returned, 1);
    /* a reset forgets the returns */
    mq_confirms_reset(&c, 5, 4);
    ck_assert_uint_eq(c.returned, 0);
    ck_assert_int_eq(mq_confirms_settle(&c, 8, true, true), 4);
    ck_assert_uint_eq(mq_confirms_acked_prefix(&c), 4);
    /* a nack ends the prefix too */
    mq_confirms_reset(&c, 9, 3);
    ck_assert_int_eq(mq_confirms_settle(&c, 9, false, true), 1);
    ck_assert_int_eq(mq_confirms_settle(&c, 10, false, false), 1);
    ck_assert_int_eq(mq_confirms_settle(&c, 11, false, true), 1);
    ck_assert_uint_eq(mq_confirms_acked_prefix(&c), 1);
    mq_confirms_release(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mq");
    TCase *tc = tcase_create("confirms");
    tcase_add_test(tc, single_acks_settle_one_entry_each);
    tcase_add_test(tc, multiple_ack_settles_everything_up_to_the_tag);
    tcase_add_test(tc, nack_marks_entries_and_later_multiple_ack_keeps_them_nacked);
    tcase_add_test(tc, a_confirm_spanning_batches_settles_each_up_to_the_tag);
    tcase_add_test(tc, a_returned_entry_is_never_acked);
    tcase_add_test(tc, tags_outside_the_batch);
    tcase_add_test(tc, reset_reuses_and_grows);
    suite_add_tcase(s, tc);
    tc = tcase_create("url");
    tcase_add_test(tc, url_with_every_part);
    tcase_add_test(tc, url_defaults);
    tcase_add_test(tc, bad_urls_fail_without_leaking_the_password);
    suite_add_tcase(s, tc);
    tc = tcase_create("topology and headers");
    tcase_add_test(tc, topology_derives_retry_and_dead_queue_names);
    tcase_add_test(tc, topology_declares_only_what_the_caller_names);
    tcase_add_test(tc, headers_are_read_by_kind);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
