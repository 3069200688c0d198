/* consumer engine: the loop's decisions against a fake broker and a fake read DB
 * (consumer/ports.h). What the tests check is what only the engine decides: a batch is projected
 * until it is settled, across a lost database connection (made again, the same batch applied
 * again) and transient errors (retried, no reconnect); a broker failure gives the batch up to
 * redelivery and makes both broker connections again; a redelivered event is counted before it
 * is applied; a bad retention stops the consumer with status 2. The statements themselves are
 * pgTAP's, the integration the e2e and fault suites'. */
#include "consumer/engine.h"

#include "service/svc_metrics.h"

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
    int pg_connects, pg_closes, mq_connects, mq_closes, subscribes, sleeps;
    char pg_token, mq_token;
} F;

static amqp_connection_state_t fake_mq_connect(const struct mq_broker *b,
                                               const struct mq_topology *t, unsigned flags)
{
    (void)b, (void)t, (void)flags;
    F.mq_connects++;
    return (amqp_connection_state_t)(void *)&F.mq_token;
}

static int fake_subscribe(amqp_connection_state_t conn, const char *queue, long prefetch, char *err,
                          size_t errlen)
{
    (void)conn, (void)queue, (void)prefetch, (void)err, (void)errlen;
    F.subscribes++;
    return 0;
}

static void fake_mq_close(amqp_connection_state_t conn, bool polite)
{
    (void)polite;
    if (conn != NULL)
        F.mq_closes++;
}

static PGconn *fake_pg_connect(const char *dsn)
{
    (void)dsn;
    F.pg_connects++;
    return (PGconn *)(void *)&F.pg_token;
}

static void fake_pg_close(PGconn *pg)
{
    if (pg != NULL)
        F.pg_closes++;
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
static struct svc_metrics *base;
static struct consumer c;

static void start(void)
{
    const struct svc_metrics_opts opts = {.svc = "consumer",
                                          .port_var = "TEST_CONSUMER_ENGINE_PORT",
                                          .default_port = "0",
                                          .db_name = "read database"};
    char err[256];

    memset(&F, 0, sizeof F);
    cfg = (struct consumer_config){.prefetch = 10,
                                   .batch_size = 10,
                                   .max_attempts = 5,
                                   .early_max_attempts = 60,
                                   .processed_events_retention = "7 days",
                                   .status_interval_ms = 1000,
                                   .fault_abort_marker = ""};
    env = (struct daemon_env){.database_url = "postgres://fake", .names = {"ex", "q", "moods"}};
    ck_assert_int_eq(mq_topology_init(&env.topo, "ex", "q", "#", err, sizeof err), 0);
    base = env.metrics = svc_metrics_new(&opts);
    ck_assert_ptr_nonnull(base);
    consumer_init(&c, &fake_ports, &cfg, &env);
}

static void stop(void)
{
    consumer_close(&c);
    svc_metrics_free(base);
}

START_TEST(a_batch_is_projected_once_and_counted)
{
    start();
    F.batch_size = 3;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.projects, 1);
    ck_assert_int_eq(F.guards, 0); /* first deliveries: no attempt to count */
    ck_assert_uint_eq(metrics_counter_value(c.metrics.consumed), 3);
    ck_assert_uint_eq(metrics_counter_value(c.metrics.applied), 3);
    ck_assert_int_eq(F.mq_connects, 2); /* the consuming one and the dead-letter publisher */
    ck_assert_int_eq(F.subscribes, 1);
    ck_assert_uint_eq(c.batch.n, 0); /* cleared for the next one */
    stop();
}
END_TEST

START_TEST(a_lost_database_is_made_again_and_the_same_batch_applied)
{
    start();
    F.batch_size = 2;
    F.script[0] = PROJECT_PG_LOST;
    F.script[1] = PROJECT_PG_LOST;
    F.nscript = 2;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.projects, 3);
    ck_assert_int_eq(F.pg_connects, 3);
    ck_assert_int_eq(F.pg_closes, 2);
    ck_assert_int_eq(F.mq_closes, 0); /* the broker connection and its deliveries stay */
    ck_assert_uint_eq(metrics_counter_value(c.metrics.applied), 2);
    stop();
}
END_TEST

START_TEST(a_transient_error_retries_the_batch_after_a_pause_without_reconnecting)
{
    start();
    F.batch_size = 2;
    F.script[0] = PROJECT_PG_RETRY;
    F.script[1] = PROJECT_PG_RETRY;
    F.nscript = 2;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.projects, 3);
    ck_assert_int_eq(F.sleeps, 2);
    ck_assert_int_eq(F.pg_connects, 1);
    ck_assert_uint_eq(metrics_counter_value(c.metrics.applied), 2);
    stop();
}
END_TEST

START_TEST(a_broker_failure_gives_the_batch_up_and_makes_both_connections_again)
{
    start();
    F.batch_size = 2;
    F.script[0] = PROJECT_MQ_LOST;
    F.nscript = 1;
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.projects, 1); /* not retried: the broker redelivers it */
    ck_assert_int_eq(F.mq_closes, 2);
    ck_assert_ptr_null(c.mq);
    ck_assert_ptr_null(c.dl.conn);
    ck_assert_uint_eq(c.batch.n, 0);
    ck_assert_uint_eq(metrics_counter_value(c.metrics.applied), 0);
    F.fill_fails = true; /* and a lost connection while receiving */
    ck_assert_int_eq(consumer_step(&c), 0);
    ck_assert_int_eq(F.mq_connects, 4);
    ck_assert_int_eq(F.mq_closes, 4);
    ck_assert_int_eq(F.projects, 1);
    stop();
}
END_TEST

START_TEST(a_redelivered_event_is_counted_before_it_is_applied)
{
    start();
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
    stop();
}
END_TEST

START_TEST(a_bad_retention_stops_with_status_2)
{
    start();
    F.bad_retention = true;
    ck_assert_int_eq(consumer_step(&c), 2);
    ck_assert_int_eq(F.fills, 0);
    stop();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("consumer_engine");
    TCase *tc = tcase_create("engine");

    tcase_add_test(tc, a_batch_is_projected_once_and_counted);
    tcase_add_test(tc, a_lost_database_is_made_again_and_the_same_batch_applied);
    tcase_add_test(tc, a_transient_error_retries_the_batch_after_a_pause_without_reconnecting);
    tcase_add_test(tc, a_broker_failure_gives_the_batch_up_and_makes_both_connections_again);
    tcase_add_test(tc, a_redelivered_event_is_counted_before_it_is_applied);
    tcase_add_test(tc, a_bad_retention_stops_with_status_2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(suite());
}
