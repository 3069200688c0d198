/* mq: publisher-confirm book-keeping over delivery tags (with and without `multiple`), broker
 * URL parsing, the derived retry and dead-letter queue names, reading message headers, writing a
 * header entry and a JSON message's properties.
 * Over 400 lines: one suite for the broker layer's pure parts, each case short; split it when a
 * part grows a fake of its own. */
#include "mq/mq.h"
#include "service/topology.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <stdatomic.h>
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
    ck_assert_str_eq(b.nodes[0].user, "cqrs");
    ck_assert_str_eq(b.nodes[0].password, "s@cret");
    ck_assert_str_eq(b.nodes[0].host, "127.0.0.1");
    ck_assert_int_eq(b.nodes[0].port, 56729);
    ck_assert_str_eq(b.nodes[0].vhost, "cqrs");
    mq_broker_release(&b);
}
END_TEST

START_TEST(url_defaults)
{
    struct mq_broker b;
    char err[256];
    ck_assert_int_eq(mq_broker_parse(&b, "amqp://rabbit", err, sizeof err), 0);
    ck_assert_str_eq(b.nodes[0].host, "rabbit");
    ck_assert_int_eq(b.nodes[0].port, 5672);
    ck_assert_str_eq(b.nodes[0].user, "guest");
    ck_assert_str_eq(b.nodes[0].vhost, "/");
    mq_broker_release(&b);
    ck_assert_int_eq(mq_broker_parse(&b, "amqp://u:p@h:1/%2f", err, sizeof err), 0);
    ck_assert_str_eq(b.nodes[0].vhost, "/");
    mq_broker_release(&b);
}
END_TEST

/* Each of bad fails to parse, with an error that does not show the password, and leaves nothing
 * allocated. */
static void assert_bad_urls(const char *const *bad, size_t n)
{
    struct mq_broker b;
    char err[256];
    for (size_t i = 0; i < n; i++) {
        err[0] = '\0';
        ck_assert_int_eq(mq_broker_parse(&b, bad[i], err, sizeof err), -1);
        ck_assert(err[0] != '\0');
        ck_assert_ptr_null(strstr(err, "hunter2"));
        ck_assert_ptr_null(b.buf);
        ck_assert_ptr_null(b.next);
    }
}

START_TEST(bad_urls_fail_without_leaking_the_password)
{
    const char *bad[] = {"http://u:hunter2@h/v", "amqp://u:hunter2@h:port/v", "",
                         "amqps://u:hunter2@h/v"};
    assert_bad_urls(bad, sizeof bad / sizeof bad[0]);
}
END_TEST

START_TEST(url_list_names_each_node_of_a_cluster)
{
    struct mq_broker b;
    char err[256];
    ck_assert_int_eq(mq_broker_parse(&b,
                                     "amqp://u:p@127.0.0.1:1/v, amqp://u:p@127.0.0.1:2/v ,"
                                     "amqp://u:p@h3:3/v",
                                     err, sizeof err),
                     0);
    ck_assert_uint_eq(b.nnodes, 3);
    ck_assert_int_eq(b.nodes[0].port, 1);
    ck_assert_int_eq(b.nodes[1].port, 2);
    ck_assert_str_eq(b.nodes[2].host, "h3");
    ck_assert_str_eq(b.nodes[2].password, "p");
    ck_assert_str_eq(b.nodes[1].vhost, "v");
    mq_broker_release(&b);
    ck_assert_int_eq(mq_broker_parse(&b, "amqp://u:p@h:1/v", err, sizeof err), 0);
    ck_assert_uint_eq(b.nnodes, 1);
    mq_broker_release(&b);
}
END_TEST

START_TEST(bad_url_lists_fail_without_leaking_the_password)
{
    const char *bad[] = {
        "amqp://u:hunter2@h:1/v,", /* an empty node */
        "amqp://u:hunter2@h:1/v,,amqp://u:hunter2@h:2/v",
        "amqp://u:hunter2@h:1/v,http://h/v",
        "amqp://u:hunter2@h:1/v,amqp://u:hunter2@h:2/w", /* two brokers, not one */
        "amqp://u:hunter2@h:1/v,amqp://x:hunter2@h:2/v",
        "amqp://h:1,amqp://h:2,amqp://h:3,amqp://h:4,amqp://h:5,amqp://h:6,amqp://h:7,amqp://h:8,"
        "amqp://u:hunter2@h:9",
    };
    assert_bad_urls(bad, sizeof bad / sizeof bad[0]);
}
END_TEST

START_TEST(connect_tries_every_node_then_fails)
{
    struct mq_broker b;
    struct mq_topology t;
    char err[512];
    /* nothing listens on these (privileged, unused) ports: each refuses at once */
    ck_assert_int_eq(mq_broker_parse(&b,
                                     "amqp://u:p@127.0.0.1:1/v,amqp://u:p@127.0.0.1:2/v,"
                                     "amqp://u:p@127.0.0.1:3/v",
                                     err, sizeof err),
                     0);
    ck_assert_int_eq(mq_topology_init(&t, "ex", "rm", "#", err, sizeof err), 0);
    err[0] = '\0';
    ck_assert_ptr_null(mq_connect(&b, &t, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "3 of 3 nodes tried") != NULL, "%s", err);
    /* the last node tried was the third (the first round starts with the first node) */
    ck_assert_msg(strstr(err, "127.0.0.1:3") != NULL, "%s", err);
    /* a failed round leaves the starting node as it was */
    ck_assert_uint_eq(atomic_load(b.next), 0);
    mq_broker_release(&b);
}
END_TEST

/* The value of key in a, or NULL. */
static const amqp_field_value_t *arg(const struct mq_queue_args *a, const char *key)
{
    for (int i = 0; i < a->table.num_entries; i++)
        if (a->table.entries[i].key.len == strlen(key) &&
            memcmp(a->table.entries[i].key.bytes, key, strlen(key)) == 0)
            return &a->table.entries[i].value;
    return NULL;
}

static void assert_utf8(const struct mq_queue_args *a, const char *key, const char *want)
{
    const amqp_field_value_t *v = arg(a, key);
    ck_assert_msg(v != NULL, "%s missing", key);
    ck_assert_int_eq(v->kind, AMQP_FIELD_KIND_UTF8);
    ck_assert_uint_eq(v->value.bytes.len, strlen(want));
    ck_assert(memcmp(v->value.bytes.bytes, want, strlen(want)) == 0);
}

START_TEST(classic_queues_keep_their_arguments)
{
    struct mq_topology t;
    struct mq_queue_args a;
    char err[256];
    ck_assert_int_eq(mq_topology_init(&t, "ex", "rm", "#", err, sizeof err), 0);
    for (int role = MQ_QUEUE_WORK; role <= MQ_QUEUE_DEAD; role++) {
        if (role == MQ_QUEUE_RETRY)
            continue;
        mq_queue_args(&a, &t, (enum mq_queue_role)role, false, 20);
        ck_assert_int_eq(a.table.num_entries, 1);
        assert_utf8(&a, "x-queue-type", "classic");
    }
    /* the retry queue was always a quorum queue, without a delivery limit */
    mq_queue_args(&a, &t, MQ_QUEUE_RETRY, false, 20);
    ck_assert_int_eq(a.table.num_entries, 5);
    assert_utf8(&a, "x-queue-type", "quorum");
    assert_utf8(&a, "x-dead-letter-routing-key", "rm");
    ck_assert_ptr_null(arg(&a, "x-delivery-limit"));
}
END_TEST

START_TEST(quorum_queues_have_an_explicit_delivery_limit)
{
    struct mq_topology t;
    struct mq_queue_args a;
    char err[256];
    ck_assert_int_eq(mq_topology_init(&t, "ex", "rm", "#", err, sizeof err), 0);
    for (int role = MQ_QUEUE_WORK; role <= MQ_QUEUE_DEAD; role++) {
        mq_queue_args(&a, &t, (enum mq_queue_role)role, true, 7);
        assert_utf8(&a, "x-queue-type", "quorum");
        const amqp_field_value_t *v = arg(&a, "x-delivery-limit");
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(v->kind, AMQP_FIELD_KIND_I64);
        ck_assert_int_eq(v->value.i64, role == MQ_QUEUE_DEAD ? MQ_DEAD_DELIVERY_LIMIT : 7);
    }
    /* the work queue dead-letters what reached the limit into the dead queue, at least once */
    mq_queue_args(&a, &t, MQ_QUEUE_WORK, true, 7);
    assert_utf8(&a, "x-dead-letter-exchange", "");
    assert_utf8(&a, "x-dead-letter-routing-key", "rm.dead");
    assert_utf8(&a, "x-dead-letter-strategy", "at-least-once");
    assert_utf8(&a, "x-overflow", "reject-publish");
    mq_queue_args(&a, &t, MQ_QUEUE_RETRY, true, 7);
    assert_utf8(&a, "x-dead-letter-routing-key", "rm");
    mq_queue_args(&a, &t, MQ_QUEUE_TAP, true, 7);
    ck_assert_int_eq(a.table.num_entries, 2);
}
END_TEST

START_TEST(partitions_split_the_work_queue)
{
    const struct domain_names names = {"ex", "rm", "moods"};
    struct mq_topology t;
    struct mq_queue_args a;
    char err[256], q[64];
    ck_assert_int_eq(svc_topology_init(&t, &names, err, sizeof err), 0);
    ck_assert_int_eq(t.partitions, 1); /* CONSUMER_PARTITIONS unset */
    ck_assert_int_eq(mq_topology_partition(&t, 0, "h", err, sizeof err), -1);
    ck_assert_int_eq(mq_topology_partition(&t, MQ_MAX_PARTITIONS + 1, "h", err, sizeof err), -1);
    ck_assert_int_eq(mq_topology_partition(&t, 1, "h", err, sizeof err), 0);
    ck_assert_str_eq(t.retry_queue, "rm.retry");
    ck_assert_int_eq(mq_topology_partition(&t, 4, "h", err, sizeof err), 0);
    ck_assert_str_eq(t.partition_exchange, "rm.partitions");
    ck_assert_str_eq(mq_partition_queue(&t, 3, q, sizeof q), "rm.p3");
    /* a new retry queue, whose expired messages go back through the partition exchange */
    ck_assert_str_eq(t.retry_queue, "rm.partitions.retry");
    ck_assert_str_eq(t.dead_queue, "rm.dead");
    mq_queue_args(&a, &t, MQ_QUEUE_RETRY, false, 20);
    assert_utf8(&a, "x-dead-letter-exchange", "rm.partitions");
    ck_assert_ptr_null(arg(&a, "x-dead-letter-routing-key"));
    /* each partition has one active consumer at a time */
    for (int quorum = 0; quorum <= 1; quorum++) {
        mq_queue_args(&a, &t, MQ_QUEUE_PARTITION, quorum, 20);
        const amqp_field_value_t *v = arg(&a, "x-single-active-consumer");
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(v->kind, AMQP_FIELD_KIND_BOOLEAN);
        ck_assert(v->value.boolean);
        ck_assert_int_eq(arg(&a, "x-delivery-limit") != NULL, quorum);
    }
    assert_utf8(&a, "x-dead-letter-routing-key", "rm.dead");
}
END_TEST

START_TEST(queue_type_is_checked)
{
    char err[256];
    /* read once per process: this test's variable is the first reading */
    setenv("AMQP_QUEUE_TYPE", "mirrored", 1);
    ck_assert_int_eq(mq_check_options(err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "AMQP_QUEUE_TYPE"));
    unsetenv("AMQP_QUEUE_TYPE");
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

START_TEST(an_entry_and_json_properties_are_written)
{
    amqp_table_entry_t e = mq_utf8_entry(MQ_HDR_REASON, "why");
    amqp_table_t t = {1, &e};
    amqp_basic_properties_t props;
    char buf[8];

    ck_assert(mq_header_str(&t, MQ_HDR_REASON, buf, sizeof buf));
    ck_assert_str_eq(buf, "why");
    ck_assert_int_eq(e.value.kind, AMQP_FIELD_KIND_UTF8);

    memset(&props, 0xff, sizeof props); /* whatever was there before */
    mq_json_props(&props);
    ck_assert_uint_eq(props._flags, AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG);
    ck_assert_uint_eq(props.content_type.len, strlen("application/json"));
    ck_assert(memcmp(props.content_type.bytes, "application/json", props.content_type.len) == 0);
    ck_assert_uint_eq(props.delivery_mode, AMQP_DELIVERY_PERSISTENT);
    ck_assert_ptr_null(mq_headers(&props));
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
    unit_tcase(s, "confirms",
               UNIT_TESTS(single_acks_settle_one_entry_each,
                          multiple_ack_settles_everything_up_to_the_tag,
                          nack_marks_entries_and_later_multiple_ack_keeps_them_nacked,
                          a_confirm_spanning_batches_settles_each_up_to_the_tag,
                          a_returned_entry_is_never_acked, tags_outside_the_batch,
                          reset_reuses_and_grows));
    unit_tcase(
        s, "url",
        UNIT_TESTS(url_with_every_part, url_defaults, bad_urls_fail_without_leaking_the_password,
                   url_list_names_each_node_of_a_cluster, connect_tries_every_node_then_fails,
                   bad_url_lists_fail_without_leaking_the_password,
                   classic_queues_keep_their_arguments,
                   quorum_queues_have_an_explicit_delivery_limit, queue_type_is_checked,
                   partitions_split_the_work_queue));
    unit_tcase(s, "topology and headers",
               UNIT_TESTS(topology_derives_retry_and_dead_queue_names,
                          topology_declares_only_what_the_caller_names, headers_are_read_by_kind,
                          an_entry_and_json_properties_are_written));
    return unit_run(s);
}
