/* consumer engine: the loop's decisions against a fake broker and a fake read DB
 * (consumer/ports.h). What the tests check is what only the engine decides: a batch is projected
 * until it is settled, across a lost database connection (made again, the same batch applied
 * again) and transient errors (retried, no reconnect); a broker failure gives the batch up to
 * redelivery and makes both broker connections again; a redelivered event is counted before it
 * is applied; a bad retention stops the consumer with status 2. The statements themselves are
 * pgTAP's, the integration the e2e and fault suites'. */
#include "consumer/engine.h"

#include "service/svc_metrics.h"

#include "fake_engine.h"
#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fake {
    int batch_size;                /* deliveries the next fill brings (0: none) */
    bool redelivered;              /* the next fill brings one redelivered delivery */
    bool fill_fails;               /* the next fill loses the connection */
    enum project_status script[8]; /* what project answers, call by call; then PROJECT_DONE */
    int nscript;
    bool guard_dead_letters; /* the crash guard dead-letters the event (its last try) */
    bool bad_retention;
    int projects, guards, guard_settles, fills;
    int subscribes, sleeps;
    int cancels, claims, leaves, joins;
    unsigned claim_mask; /* the partitions the next claims return */
    int claim_fails;     /* what the claims return instead (-1, -2; 0: they succeed) */
    char last_subscribed[64], last_cancelled[64];
} F;

static amqp_connection_state_t fake_mq_connect(const struct mq_broker *b,
                                               const struct mq_topology *t, unsigned flags)
{
    (void)b, (void)t, (void)flags;
    return fake_mq_token();
}

static int fake_subscribe(amqp_connection_state_t conn, const char *queue, const char *tag,
                          long prefetch, char *err, size_t errlen)
{
    (void)conn, (void)prefetch, (void)err, (void)errlen;
    F.subscribes++;
    snprintf(F.last_subscribed, sizeof F.last_subscribed, "%s", queue);
    if (tag != NULL && strcmp(tag, queue) != 0)
        return -1; /* a partition's tag is its queue's name */
    return 0;
}

static int fake_cancel(amqp_connection_state_t conn, const char *tag, char *err, size_t errlen)
{
    (void)conn, (void)err, (void)errlen;
    F.cancels++;
    snprintf(F.last_cancelled, sizeof F.last_cancelled, "%s", tag);
    return 0;
}

static int fake_claim(PGconn *pg, const char *holder, long count, long lease_ms, bool *held,
                      char *err, size_t errlen)
{
    (void)pg, (void)holder, (void)lease_ms;
    F.claims++;
    if (F.claim_fails != 0) {
        snprintf(err, errlen, "claim failed");
        return F.claim_fails;
    }
    for (long k = 0; k < count; k++)
        held[k] = (F.claim_mask >> k) & 1u;
    return 0;
}

static int fake_join(PGconn *pg, const char *holder, long lease_ms, char *err, size_t errlen)
{
    (void)pg, (void)holder, (void)lease_ms, (void)err, (void)errlen;
    F.joins++;
    return 0;
}

static void fake_leave(PGconn *pg, const char *holder)
{
    (void)pg, (void)holder;
    F.leaves++;
}

static int fake_check_retention(PGconn *pg, const char *retention)
{
    (void)pg, (void)retention;
    return F.bad_retention ? -2 : 0;
}

static int fake_fill(amqp_connection_state_t conn, struct receive_batch *b, long first_wait_ms,
                     char *err, size_t errlen)
{
    (void)conn, (void)first_wait_ms;
    F.fills++;
    if (F.fill_fails) {
        F.fill_fails = false;
        snprintf(err, errlen, "connection lost");
        return -1;
    }
    for (int i = 0; i < (F.redelivered ? 1 : F.batch_size) && b->n < b->cap; i++) {
        struct delivery *d = &b->items[b->n++];
        memset(d, 0, sizeof *d);
        d->env.delivery_tag = (uint64_t)b->n;
        d->env.redelivered = F.redelivered;
        snprintf(d->info.event_id, sizeof d->info.event_id, "event-%d", i);
    }
    F.redelivered = false;
    F.batch_size = 0;
    return 0;
}

static int fake_take_notices(struct receive_batch *b, amqp_connection_state_t mq, PGconn *pg,
                             char *err, size_t errlen)
{
    (void)b, (void)mq, (void)pg, (void)err, (void)errlen;
    return 0;
}

static void settle_all(struct receive_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (!b->items[i].settled) {
            b->items[i].settled = true;
            b->applied++;
        }
}

static enum project_status fake_guard(const struct crashguard_ctx *ctx, struct receive_batch *b,
                                      bool *counted, char *err, size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    F.guards++;
    *counted = true;
    if (F.guard_dead_letters) {
        b->items[0].settled = true;
        b->dead++;
    }
    return PROJECT_DONE;
}

static void fake_guard_settled(PGconn *pg, const struct receive_batch *b)
{
    (void)pg, (void)b;
    F.guard_settles++;
}

static enum project_status fake_project(const struct project_ctx *ctx, struct receive_batch *b,
                                        struct event_batch *json, char *err, size_t errlen)
{
    (void)ctx, (void)json;
    int call = F.projects++;
    if (call < F.nscript && F.script[call] != PROJECT_DONE) {
        snprintf(err, errlen, "scripted failure %d", call);
        return F.script[call];
    }
    settle_all(b);
    return PROJECT_DONE;
}

static int fake_flush(struct deadletter *dl, PGconn *pg, char *err, size_t errlen)
{
    (void)dl, (void)pg, (void)err, (void)errlen;
    return 0;
}

static int fake_status_tick(struct consumer_status *s, amqp_connection_state_t conn, PGconn *pg,
                            const struct mq_topology *t, const struct domain_names *names,
                            char *err, size_t errlen)
{
    (void)s, (void)conn, (void)pg, (void)t, (void)names, (void)err, (void)errlen;
    return 0;
}

static void fake_sleep(long ms)
{
    (void)ms;
    F.sleeps++;
}

static const struct consumer_ports fake_ports = {
    .mq_connect = fake_mq_connect,
    .subscribe = fake_subscribe,
    .cancel = fake_cancel,
    .join = fake_join,
    .claim = fake_claim,
    .leave = fake_leave,
    .mq_close = fake_mq_close,
    .pg_connect = fake_pg_connect,
    .pg_close = fake_pg_close,
    .check_retention = fake_check_retention,
    .fill = fake_fill,
    .take_notices = fake_take_notices,
    .guard = fake_guard,
    .guard_settled = fake_guard_settled,
    .project = fake_project,
    .flush_dead_letters = fake_flush,
    .status_tick = fake_status_tick,
    .sleep_ms = fake_sleep,
};

static struct consumer_config cfg;
static struct daemon_env env;
static struct consumer c;

static void start(void)
{
    memset(&F, 0, sizeof F);
    fake_engine_env_init(&env, "consumer", "TEST_CONSUMER_ENGINE_PORT", "read database");
    cfg = (struct consumer_config){.prefetch = 10,
                                   .batch_size = 10,
                                   .max_attempts = 5,
                                   .early_max_attempts = 60,
                                   .processed_events_retention = "7 days",
                                   .status_interval_ms = 1000,
                                   .partition_lease_ms = 6000,
                                   .fault_abort_marker = ""};
    consumer_init(&c, &fake_ports, &cfg, &env);
}

static void stop(void)
{
    consumer_close(&c);
    fake_engine_env_release(&env);
}

/* One step over a batch of n deliveries whose projection answers failure the first times calls. */
static void step_failing(int n, enum project_status failure, int times)
{
    F.batch_size = n;
    for (int i = 0; i < times; i++)
        F.script[i] = failure;
    F.nscript = times;
    ck_assert_int_eq(consumer_step(&c), 0);
}

START_TEST(a_batch_is_projected_once_and_counted)
{
    F.batch_size = 3;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.projects, 1);
    ck_assert_int_eq(F.guards, 0); /* first deliveries: no attempt to count */
    ck_assert_uint_eq(metrics_counter_value(c.metrics.consumed), 3);
    ck_assert_uint_eq(metrics_counter_value(c.metrics.applied), 3);
    ck_assert_int_eq(L.mq_connects, 2); /* the consuming one and the dead-letter publisher */
    ck_assert_int_eq(F.subscribes, 1);
    ck_assert_uint_eq(c.batch.n, 0); /* cleared for the next one */
}
END_TEST

/* A batch whose projection failed twice is projected again in the same step until it is applied:
 * after a lost database, on a connection made again at once; after a transient error, after a
 * pause and without reconnecting. The broker connection and its deliveries stay. */
static const struct {
    enum project_status failure;
    int pg_connects, pg_closes, sleeps;
} projected_again[] = {
    {PROJECT_PG_LOST, 3, 2, 0},
    {PROJECT_PG_RETRY, 1, 0, 2},
};

START_TEST(a_failed_batch_is_projected_again_until_it_is_applied)
{
    step_failing(2, projected_again[_i].failure, 2);
    ck_assert_int_eq(F.projects, 3);
    ck_assert_int_eq(L.pg_connects, projected_again[_i].pg_connects);
    ck_assert_int_eq(L.pg_closes, projected_again[_i].pg_closes);
    ck_assert_int_eq(F.sleeps, projected_again[_i].sleeps);
    ck_assert_int_eq(L.mq_closes, 0);
    ck_assert_uint_eq(metrics_counter_value(c.metrics.applied), 2);
}
END_TEST

START_TEST(a_broker_failure_gives_the_batch_up_and_makes_both_connections_again)
{
    step_failing(2, PROJECT_MQ_LOST, 1);
    ck_assert_int_eq(F.projects, 1); /* not retried: the broker redelivers it */
    ck_assert_int_eq(L.mq_closes, 2);
    ck_assert_ptr_null(c.mq);
    ck_assert_ptr_null(c.dl.conn);
    ck_assert_uint_eq(c.batch.n, 0);
    ck_assert_uint_eq(metrics_counter_value(c.metrics.applied), 0);
    F.fill_fails = true; /* and a lost connection while receiving */
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(L.mq_connects, 4);
    ck_assert_int_eq(L.mq_closes, 4);
    ck_assert_int_eq(F.projects, 1);
}
END_TEST

START_TEST(a_redelivered_event_is_counted_before_it_is_applied)
{
    F.redelivered = true;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.guards, 1);
    ck_assert_int_eq(F.projects, 1);
    ck_assert_int_eq(F.guard_settles, 1); /* applied: its count goes */
    F.redelivered = true;
    F.guard_dead_letters = true; /* its last try: the guard dead-letters it */
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.guards, 2);
    ck_assert_int_eq(F.projects, 1); /* never applied */
    ck_assert_uint_eq(metrics_counter_value(c.metrics.dead), 1);
}
END_TEST

START_TEST(a_bad_retention_stops_with_status_2)
{
    F.bad_retention = true;
    ck_assert_int_eq(consumer_step(&c), 2);
    ck_assert_int_eq(F.fills, 0);
}
END_TEST

/* After a test closed c itself: a consumer for stop() to close. */
static void reopen(void)
{
    fake_engine_env_release(&env);
    fake_engine_env_init(&env, "consumer", "TEST_CONSUMER_ENGINE_PORT", "read database");
    consumer_init(&c, &fake_ports, &cfg, &env);
}

/* With partitions the engine subscribes to what the claim names, under the queue's name as tag,
 * never to the work queue itself. */
static void partitioned(unsigned mask)
{
    stop();
    memset(&F, 0, sizeof F);
    fake_engine_env_init(&env, "consumer", "TEST_CONSUMER_ENGINE_PORT", "read database");
    char err[256];
    ck_assert_int_eq(mq_topology_partition(&env.topo, 4, "agg", err, sizeof err), 0);
    consumer_init(&c, &fake_ports, &cfg, &env);
    F.claim_mask = mask;
    /* the first step joins, claiming nothing; the claims start a third of a lease later */
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.joins, 1);
    ck_assert_int_eq(F.claims, 0);
    ck_assert_int_eq(F.subscribes, 0);
    c.parts.next_tick_ms = 0;
}

START_TEST(a_partitioned_consumer_consumes_the_partitions_it_claims)
{
    partitioned(0x5); /* partitions 0 and 2 */
    F.batch_size = 2;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.claims, 1);
    ck_assert_int_eq(F.subscribes, 2);
    ck_assert_str_eq(F.last_subscribed, "q.p2");
    ck_assert_int_eq(F.projects, 1);
    ck_assert_int_eq((int)metrics_gauge_value(c.metrics.partitions), 2);
    /* not due yet: no claim */
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.claims, 1);
    /* the next claim keeps partition 2 only: partition 0 is cancelled, nothing subscribed again */
    c.parts.next_tick_ms = 0;
    F.claim_mask = 0x4;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.cancels, 1);
    ck_assert_str_eq(F.last_cancelled, "q.p0");
    ck_assert_int_eq(F.subscribes, 2);
    ck_assert_int_eq((int)metrics_gauge_value(c.metrics.partitions), 1);
}
END_TEST

START_TEST(a_consumer_whose_lease_ends_drops_its_broker_connection)
{
    partitioned(0x3);
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.subscribes, 2);
    /* the read DB fails the claims: within the lease nothing changes */
    F.claim_fails = -1;
    c.parts.next_tick_ms = 0;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(L.mq_closes, 0);
    /* past the lease: both broker connections go (the deliveries return to the partitions) and
     * the ones made again subscribe to nothing until a claim succeeds */
    c.parts.next_tick_ms = 0;
    c.parts.valid_until_ms = 1;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(L.mq_closes, 2);
    ck_assert_int_eq((int)metrics_gauge_value(c.metrics.partitions), 0);
    F.claim_fails = 0;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.subscribes, 4);
}
END_TEST

START_TEST(a_partitioned_consumer_gives_its_partitions_up_when_it_stops)
{
    partitioned(0x1);
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.leaves, 0);
    consumer_close(&c);
    ck_assert_int_eq(F.leaves, 1);
    reopen();
}
END_TEST

START_TEST(an_unpartitioned_consumer_never_claims)
{
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.claims, 0);
    ck_assert_int_eq(F.subscribes, 1);
    ck_assert_str_eq(F.last_subscribed, "q");
    consumer_close(&c);
    ck_assert_int_eq(F.leaves, 0);
    reopen();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("consumer_engine");
    TCase *tc =
        unit_tcase(s, "engine",
                   UNIT_TESTS(a_batch_is_projected_once_and_counted,
                              a_broker_failure_gives_the_batch_up_and_makes_both_connections_again,
                              a_redelivered_event_is_counted_before_it_is_applied,
                              a_bad_retention_stops_with_status_2,
                              a_partitioned_consumer_consumes_the_partitions_it_claims,
                              a_consumer_whose_lease_ends_drops_its_broker_connection,
                              a_partitioned_consumer_gives_its_partitions_up_when_it_stops,
                              an_unpartitioned_consumer_never_claims));

    tcase_add_loop_test(tc, a_failed_batch_is_projected_again_until_it_is_applied, 0,
                        (int)(sizeof projected_again / sizeof projected_again[0]));
    tcase_add_checked_fixture(tc, start, stop);
    return s;
}

int main(void)
{
    return unit_run(suite());
}
