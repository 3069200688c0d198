/* The pipeline's status for the dashboard: the relay's status message (relay/status: its JSON,
 * its pacing), the consumer's recognition of it (consumer/status) and the dead-letter notes the
 * consumer stores for the dashboard's panel (consumer/deadletter). */
#include "consumer/deadletter.h"
#include "consumer/status.h"
#include "relay/status.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(the_relay_status_is_the_documented_json)
{
    const struct relay_status_figures f = {.at_ms = 1767323045678LL, /* 2026-01-02T03:04:05.678Z */
                                           .backlog = 12,
                                           .oldest_age_ms = 340,
                                           .leader = true,
                                           .unroutable = 2,
                                           .blocked = false};
    char buf[256];

    ck_assert_int_gt(relay_status_format(&f, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "{\"at\":\"2026-01-02T03:04:05.678Z\",\"backlog\":12,\"oldestAgeMs\":340,"
                          "\"leader\":true,\"unroutable\":2,\"blocked\":false}");
    ck_assert_int_eq(relay_status_format(&f, buf, 20), -1); /* too small: refused, not cut */
}
END_TEST

START_TEST(the_relay_status_is_due_once_per_interval)
{
    struct relay_status s;

    relay_status_init(&s, 1000);
    ck_assert(relay_status_due(&s, 5000)); /* the first at once */
    ck_assert(!relay_status_due(&s, 5001));
    ck_assert(!relay_status_due(&s, 5999));
    ck_assert(relay_status_due(&s, 6000));
    ck_assert(!relay_status_due(&s, 6500));
}
END_TEST

static amqp_envelope_t envelope(const char *routing_key, const char *message_id, const char *body)
{
    amqp_envelope_t env;

    memset(&env, 0, sizeof env);
    env.routing_key = amqp_cstring_bytes(routing_key);
    if (message_id != NULL) {
        env.message.properties._flags = AMQP_BASIC_MESSAGE_ID_FLAG;
        env.message.properties.message_id = amqp_cstring_bytes(message_id);
    }
    env.message.body = amqp_cstring_bytes(body);
    return env;
}

START_TEST(the_consumer_knows_its_notices_by_their_routing_key)
{
    amqp_envelope_t a = envelope("relay.RelayStatus", NULL, "{}");
    amqp_envelope_t b = envelope("order.OrderCreated", NULL, "{}");
    amqp_envelope_t c = envelope("relay.RelayStatusX", NULL, "{}");
    amqp_envelope_t d = envelope("deadletter.DeadLetterRequeued", NULL, "{}");
    amqp_envelope_t e = envelope("deadletter.", NULL, "{}");

    ck_assert(consumer_status_is_notice(&a));
    ck_assert(!consumer_status_is_notice(&b));
    ck_assert(!consumer_status_is_notice(&c));
    ck_assert(consumer_status_is_notice(&d));
    ck_assert(!consumer_status_is_notice(&e));
}
END_TEST

START_TEST(a_dead_letter_note_names_the_event_and_its_aggregate)
{
    amqp_envelope_t env = envelope(
        "order.OrderCreated", NULL,
        "{\"eventId\":\"6f1c2d3e-0000-4000-8000-000000000001\",\"eventType\":\"OrderCreated\","
        "\"aggregateType\":\"order\",\"aggregateId\":42}");
    struct deadletter_note n;

    ck_assert(deadletter_note_init(&n, &env, 5, "bad total", "22023"));
    ck_assert_str_eq(n.event_id, "6f1c2d3e-0000-4000-8000-000000000001");
    ck_assert_str_eq(n.event_type, "OrderCreated");
    ck_assert_str_eq(n.aggregate_type, "order");
    ck_assert_str_eq(n.aggregate_id, "42");
    ck_assert_str_eq(n.reason, "bad total");
    ck_assert_str_eq(n.sqlstate, "22023");
    ck_assert_int_eq(n.attempts, 5);
}
END_TEST

START_TEST(a_poison_message_is_noted_by_its_message_id_only)
{
    amqp_envelope_t bad = envelope("order.OrderCreated", "poison-1", "{not json");
    amqp_envelope_t anonymous = envelope("order.OrderCreated", NULL, "{not json");
    struct deadletter_note n;

    ck_assert(deadletter_note_init(&n, &bad, 1, "not an event envelope", ""));
    ck_assert_str_eq(n.event_id, "poison-1");
    ck_assert_str_eq(n.event_type, "");
    ck_assert_str_eq(n.aggregate_id, "");
    ck_assert(!deadletter_note_init(&n, &anonymous, 1, "not an event envelope", ""));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    unit_tcase(s, "status",
               UNIT_TESTS(the_relay_status_is_the_documented_json,
                          the_relay_status_is_due_once_per_interval,
                          the_consumer_knows_its_notices_by_their_routing_key,
                          a_dead_letter_note_names_the_event_and_its_aggregate,
                          a_poison_message_is_noted_by_its_message_id_only));
    return unit_run(s);
}
