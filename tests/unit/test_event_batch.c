/* event_batch: envelope validation (poison detection), the ids the consumer logs, and the JSON
 * array built for apply_events(). */
#include "mq/event_batch.h"

#include "unit.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORDER_EVENT                                                                                \
    "{\"eventId\":\"506334bd-ba80-437b-bcab-724521332d92\",\"eventType\":\"OrderCreated\","        \
    "\"aggregateType\":\"order\",\"aggregateId\":7,\"orderId\":7,\"total\":20}"

static int parse(const char *body, struct event_info *info, char *err, size_t errlen)
{
    return event_info_parse(body, strlen(body), info, err, errlen);
}

START_TEST(valid_envelopes_give_their_ids)
{
    /* the order and product an event concerns: its orderId/productId, or without them the
     * aggregate id of an order/product aggregate */
    static const struct {
        const char *body, *event_id, *event_type;
        long long order_id, product_id;
    } cases[] = {
        {ORDER_EVENT, "506334bd-ba80-437b-bcab-724521332d92", "OrderCreated", 7, 0},
        {"{\"eventId\":\"e1\",\"eventType\":\"ProductCreated\",\"productId\":3}", "e1",
         "ProductCreated", 0, 3},
        {"{\"eventId\":\"e2\",\"eventType\":\"OrderPaid\",\"aggregateType\":\"order\","
         "\"aggregateId\":\"42\"}",
         "e2", "OrderPaid", 42, 0},
    };
    struct event_info info;
    char err[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(parse(cases[i].body, &info, err, sizeof err) == 0, "%s: %s", cases[i].body,
                      err);
        ck_assert_str_eq(info.event_id, cases[i].event_id);
        ck_assert_str_eq(info.event_type, cases[i].event_type);
        ck_assert_int_eq(info.order_id, cases[i].order_id);
        ck_assert_int_eq(info.product_id, cases[i].product_id);
    }
}
END_TEST

/* occurredAt as Unix seconds: the consumer's projection lag (consumer_metrics.h) */
START_TEST(occurred_at_is_read)
{
    struct event_info info;
    char err[256];
    const struct {
        const char *at;
        double want;
    } cases[] = {
        {"\"2026-11-22T01:06:02.887993Z\"", 1795309562.887993},
        {"\"1970-01-01T00:00:10Z\"", 10},
        {"\"1970-01-01T02:00:10+02:00\"", 10},
        {"\"1969-12-31T23:30:10.5-00:30\"", 10.5},
        {"\"yesterday\"", 0},
        {"\"2026-11-22T01:06:02\"", 0}, /* no zone: not read */
        {"12", 0},
    };
    char body[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(body, sizeof body, "{\"eventId\":\"e\",\"eventType\":\"T\",\"occurredAt\":%s}",
                 cases[i].at);
        ck_assert_int_eq(parse(body, &info, err, sizeof err), 0);
        ck_assert_msg(info.occurred_at > cases[i].want - 1e-6 &&
                          info.occurred_at < cases[i].want + 1e-6,
                      "%s: got %f", cases[i].at, info.occurred_at);
    }
    ck_assert_int_eq(parse("{\"eventId\":\"e\",\"eventType\":\"T\"}", &info, err, sizeof err), 0);
    ck_assert(info.occurred_at == 0);
}
END_TEST

START_TEST(poison_bodies_are_refused)
{
    struct event_info info;
    char err[256];
    const char *bad[] = {"",
                         "not json",
                         "{\"eventId\":\"x\",\"eventType\":\"T\"",
                         "[{\"eventId\":\"x\",\"eventType\":\"T\"}]",
                         "\"a string\"",
                         "42",
                         "{\"eventType\":\"T\"}",
                         "{\"eventId\":5,\"eventType\":\"T\"}",
                         "{\"eventId\":\"x\"}",
                         "{\"eventId\":\"x\",\"eventType\":\"\"}",
                         "{\"eventId\":\"x\",\"eventType\":\"T\"} trailing"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(parse(bad[i], &info, err, sizeof err) == -1, "accepted: %s", bad[i]);
        ck_assert(err[0] != '\0');
    }
    /* an embedded NUL byte would cut the text the database receives */
    ck_assert_int_eq(
        event_info_parse("{\"eventId\":\"x\",\"eventType\":\"T\"}\0", 33, &info, err, sizeof err),
        -1);
}
END_TEST

START_TEST(log_keys)
{
    struct event_info info;
    char err[256], keys[192];
    ck_assert_int_eq(parse(ORDER_EVENT, &info, err, sizeof err), 0);
    ck_assert_str_eq(event_info_keys(&info, keys, sizeof keys),
                     "order_id=7 event_id=506334bd-ba80-437b-bcab-724521332d92");
    ck_assert_int_eq(
        parse("{\"eventId\":\"ab-1\",\"eventType\":\"P\",\"productId\":2}", &info, err, sizeof err),
        0);
    ck_assert_str_eq(event_info_keys(&info, keys, sizeof keys), "product_id=2 event_id=ab-1");
    /* other aggregates log <type>_id; a type that is not a plain name is left out */
    ck_assert_int_eq(parse("{\"eventId\":\"ab-2\",\"eventType\":\"TodoCreated\","
                           "\"aggregateType\":\"todo\",\"aggregateId\":5}",
                           &info, err, sizeof err),
                     0);
    ck_assert_str_eq(event_info_keys(&info, keys, sizeof keys), "todo_id=5 event_id=ab-2");
    ck_assert_int_eq(parse("{\"eventId\":\"ab-3\",\"eventType\":\"X\","
                           "\"aggregateType\":\"a b=1\",\"aggregateId\":5}",
                           &info, err, sizeof err),
                     0);
    ck_assert_str_eq(event_info_keys(&info, keys, sizeof keys), "event_id=ab-3");
    /* an id that is not uuid-like is quoted, so it can't forge log keys */
    ck_assert_int_eq(
        parse("{\"eventId\":\"x level=error\",\"eventType\":\"T\"}", &info, err, sizeof err), 0);
    ck_assert_str_eq(event_info_keys(&info, keys, sizeof keys), "event_id=\"x level=error\"");
}
END_TEST

/* Checks that b's text parses as a JSON array of n elements. */
static void parses_as_array_of(struct event_batch *b, size_t n)
{
    json_t *arr = json_loads(event_batch_json(b), 0, NULL);

    ck_assert(json_is_array(arr));
    ck_assert_uint_eq(json_array_size(arr), n);
    json_decref(arr);
}

START_TEST(batch_json_is_an_array_of_the_bodies)
{
    struct event_batch b;
    event_batch_init(&b);
    ck_assert_str_eq(event_batch_json(&b), "[]");
    event_batch_add(&b, "{\"a\":1}", 7);
    ck_assert_str_eq(event_batch_json(&b), "[{\"a\":1}]");
    event_batch_add(&b, "{\"a\":2}xxx", 7); /* only len bytes are taken */
    event_batch_add(&b, "{\"a\":3}", 7);
    ck_assert_str_eq(event_batch_json(&b), "[{\"a\":1},{\"a\":2},{\"a\":3}]");
    ck_assert_uint_eq(b.count, 3);
    /* asking twice gives the same text; adding afterwards still works */
    ck_assert_str_eq(event_batch_json(&b), "[{\"a\":1},{\"a\":2},{\"a\":3}]");
    event_batch_add(&b, "{}", 2);
    ck_assert_str_eq(event_batch_json(&b), "[{\"a\":1},{\"a\":2},{\"a\":3},{}]");
    event_batch_reset(&b);
    ck_assert_str_eq(event_batch_json(&b), "[]");
    event_batch_add(&b, ORDER_EVENT, strlen(ORDER_EVENT));
    parses_as_array_of(&b, 1);
    event_batch_release(&b);
}
END_TEST

START_TEST(batch_grows_for_large_batches)
{
    struct event_batch b;
    char body[1100];
    int n = snprintf(body, sizeof body, "{\"eventId\":\"e\",\"eventType\":\"T\",\"pad\":\"%0*d\"}",
                     1000, 0);
    event_batch_init(&b);
    for (int i = 0; i < 2000; i++)
        event_batch_add(&b, body, (size_t)n);
    parses_as_array_of(&b, 2000);
    event_batch_release(&b);
}
END_TEST

START_TEST(one_body_as_a_string)
{
    struct event_batch b;
    event_batch_init(&b);
    event_batch_add(&b, "{\"a\":1}", 7);
    ck_assert_str_eq(event_batch_one(&b, "{\"b\":2}zz", 7), "{\"b\":2}");
    ck_assert_uint_eq(b.count, 0);
    event_batch_add(&b, "{\"c\":3}", 7);
    ck_assert_str_eq(event_batch_json(&b), "[{\"c\":3}]");
    event_batch_release(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("event_batch");
    unit_tcase(s, "envelope",
               UNIT_TESTS(valid_envelopes_give_their_ids, occurred_at_is_read,
                          poison_bodies_are_refused, log_keys));
    unit_tcase(s, "batch",
               UNIT_TESTS(batch_json_is_an_array_of_the_bodies, batch_grows_for_large_batches,
                          one_body_as_a_string));
    return unit_run(s);
}
