/* relay engine: the loop's decisions against a fake write DB and a fake broker (relay/ports.h).
 * The fake outbox holds rows 1..n; the fake broker confirms what was sent when the engine reads
 * its confirms, acking all, nacking or returning one row, or saying nothing. What the tests check
 * is what only the engine decides: which rows are fetched (never one in flight), which are marked
 * (only the acked prefix, never after a failed row), when the lease stops publishing, and what a
 * failure releases. The integration with PostgreSQL and RabbitMQ is the e2e and fault suites'. *
 * Over 400 lines: the fake outbox and broker (about half the file) serve every case, and a
 * second file would need them in a shared header. */
#include "relay/engine.h"

#include "service/svc_metrics.h"

#include "fake_engine.h"
#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXROWS 64

enum broker_mode { ACK_ALL, NACK_ONE, RETURN_ONE, SILENT };

static struct fake {
    int nrows;                 /* rows 1..nrows in the outbox */
    int marks[MAXROWS + 1];    /* times each row was marked published */
    int sends[MAXROWS + 1];    /* times each row was sent */
    bool lease_free;           /* lease_acquire succeeds */
    bool renew_held;           /* lease_renew keeps it */
    enum broker_mode mode;     /* what the broker answers at the next read */
    long special;              /* the row NACK_ONE / RETURN_ONE applies to */
    long tag_row[4 * MAXROWS]; /* delivery tag -> row id on the current connection */
    uint64_t confirmed;        /* the last tag the broker confirmed */
    uint64_t last_tag;         /* the last tag sent */
    int fetches, lease_releases;
} F;

static int fake_ok(PGconn *pg, char *err, size_t errlen)
{
    (void)pg, (void)err, (void)errlen;
    return 0;
}

static int fake_check_retention(PGconn *pg, const char *retention, char *err, size_t errlen)
{
    (void)pg, (void)retention, (void)err, (void)errlen;
    return 0;
}

static int fake_lease_acquire(PGconn *pg, const char *holder, long lease_ms,
                              struct outbox_lease *lease, char *err, size_t errlen)
{
    (void)pg, (void)holder, (void)lease_ms, (void)err, (void)errlen;
    memset(lease, 0, sizeof *lease);
    lease->acquired = F.lease_free;
    snprintf(lease->holder, sizeof lease->holder, "%s", F.lease_free ? holder : "other:1:1");
    lease->epoch = 1;
    return 0;
}

static int fake_lease_renew(PGconn *pg, const char *holder, long lease_ms, bool *held, char *err,
                            size_t errlen)
{
    (void)pg, (void)holder, (void)lease_ms, (void)err, (void)errlen;
    *held = F.renew_held;
    return 0;
}

static int fake_lease_release(PGconn *pg, const char *holder, char *err, size_t errlen)
{
    (void)pg, (void)holder, (void)err, (void)errlen;
    F.lease_releases++;
    return 0;
}

static int fake_set_notify(PGconn *pg, bool wanted, char *err, size_t errlen)
{
    (void)pg, (void)wanted, (void)err, (void)errlen;
    return 0;
}

static void fake_sample_backlog(struct relay_metrics *m, PGconn *pg)
{
    (void)m, (void)pg;
}

static int fake_housekeeping(PGconn *pg, struct purge *p, char *err, size_t errlen)
{
    (void)pg, (void)p, (void)err, (void)errlen;
    return 0;
}

/* Whether id is in the array literal "{1,2,3}" the engine passes. */
static bool excluded(const char *ids, long id)
{
    const char *p = ids;

    if (ids == NULL)
        return false;
    while (*p != '\0') {
        char *end;
        long v;
        if (*p == '{' || *p == ',' || *p == '}') {
            p++;
            continue;
        }
        v = strtol(p, &end, 10);
        if (end == p)
            return false;
        if (v == id)
            return true;
        p = end;
    }
    return false;
}

static void set(PGresult *res, int row, enum outbox_col col, const char *value)
{
    ck_assert(PQsetvalue(res, row, col, (char *)value, (int)strlen(value)));
}

static int fake_fetch(PGconn *pg, long limit, const char *exclude_ids, struct outbox_batch *b,
                      char *err, size_t errlen)
{
    PGresAttDesc attrs[OUTBOX_TRACEPARENT + 1];
    char name[] = "col";
    int n = 0;

    (void)pg, (void)err, (void)errlen;
    F.fetches++;
    b->res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    memset(attrs, 0, sizeof attrs);
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        attrs[i].name = name;
    ck_assert(PQsetResultAttrs(b->res, (int)(sizeof attrs / sizeof attrs[0]), attrs));
    for (long id = 1; id <= F.nrows && n < limit; id++) {
        char v[32];
        if (F.marks[id] > 0 || excluded(exclude_ids, id))
            continue;
        snprintf(v, sizeof v, "%ld", id);
        set(b->res, n, OUTBOX_ID, v);
        set(b->res, n, OUTBOX_AGGREGATE_ID, v);
        snprintf(v, sizeof v, "event-%ld", id);
        set(b->res, n, OUTBOX_EVENT_ID, v);
        set(b->res, n, OUTBOX_ROUTING_KEY, "order.OrderCreated");
        set(b->res, n, OUTBOX_PAYLOAD, "{}");
        set(b->res, n, OUTBOX_EVENT_TYPE, "OrderCreated");
        set(b->res, n, OUTBOX_AGGREGATE_TYPE, "order");
        set(b->res, n, OUTBOX_TRACEPARENT, "");
        n++;
    }
    b->n = n;
    return 0;
}

static int fake_mark(PGconn *pg, const char *holder, const struct outbox_batch *b,
                     const struct mq_confirms *c, size_t *marked, char *err, size_t errlen)
{
    size_t k = mq_confirms_acked_prefix(c);

    (void)pg, (void)holder, (void)err, (void)errlen;
    for (size_t i = 0; i < k; i++)
        F.marks[atol(outbox_value(b, (int)i, OUTBOX_ID))]++;
    *marked = k;
    return 0;
}

static int fake_wait_notify(PGconn *pg, long timeout_ms, bool *notified, char *err, size_t errlen)
{
    (void)pg, (void)timeout_ms, (void)err, (void)errlen;
    *notified = false;
    return 0;
}

static amqp_connection_state_t fake_mq_connect(const struct mq_broker *b,
                                               const struct mq_topology *t)
{
    (void)b, (void)t;
    F.confirmed = F.last_tag = 0; /* tags start again on a new channel */
    return fake_mq_token();
}

static int fake_status_open(amqp_connection_state_t conn, char *err, size_t errlen)
{
    (void)conn, (void)err, (void)errlen;
    return 0;
}

static int fake_send(struct publisher *p, const struct outbox_batch *b, struct mq_confirms *c,
                     long long deadline_ms, char *err, size_t errlen)
{
    (void)deadline_ms, (void)err, (void)errlen;
    mq_confirms_reset(c, p->next_tag, (size_t)b->n);
    for (int i = 0; i < b->n; i++) {
        long id = atol(outbox_value(b, i, OUTBOX_ID));
        F.sends[id]++;
        F.tag_row[p->next_tag] = id;
        F.last_tag = p->next_tag++;
    }
    return 0;
}

/* The broker confirms every tag sent since the last read, as F.mode says. */
static int fake_read_confirms(amqp_connection_state_t conn, struct mq_confirms *const *cs, size_t n,
                              struct mq_watch *w, char *err, size_t errlen)
{
    (void)conn, (void)err, (void)errlen;
    if (F.mode == SILENT || n == 0)
        return 0;
    for (uint64_t tag = F.confirmed + 1; tag <= F.last_tag; tag++) {
        long id = F.tag_row[tag];
        bool ack = !(F.mode == NACK_ONE && id == F.special);
        if (F.mode == RETURN_ONE && id == F.special) {
            char mid[32];
            snprintf(mid, sizeof mid, "event-%ld", id);
            const struct mq_returned ret = {mid, "order.OrderCreated", 312};
            w->on_return(w->arg, &ret);
        }
        ck_assert_int_ge(mq_confirms_settle_span(cs, n, tag, false, ack), 0);
    }
    F.confirmed = F.last_tag;
    return 0;
}

static int fake_service(amqp_connection_state_t conn, struct mq_watch *w, char *err, size_t errlen)
{
    (void)conn, (void)w, (void)err, (void)errlen;
    return 0;
}

static int fake_status_publish(const struct relay_status *s, amqp_connection_state_t conn,
                               const char *exchange, const struct relay_status_figures *f,
                               char *err, size_t errlen)
{
    (void)s, (void)conn, (void)exchange, (void)f, (void)err, (void)errlen;
    return 0;
}

static bool fake_mq_buffered(amqp_connection_state_t conn)
{
    (void)conn;
    return false;
}

static void fake_wait_sockets(amqp_connection_state_t conn, PGconn *pg, bool pg_too, long ms)
{
    (void)conn, (void)pg, (void)pg_too, (void)ms;
}

static void fake_sleep(long ms)
{
    (void)ms;
}

static const struct relay_ports fake_ports = {
    .pg_connect = fake_pg_connect,
    .pg_close = fake_pg_close,
    .check_retention = fake_check_retention,
    .lease_acquire = fake_lease_acquire,
    .lease_renew = fake_lease_renew,
    .lease_release = fake_lease_release,
    .listen = fake_ok,
    .set_notify_wanted = fake_set_notify,
    .sample_backlog = fake_sample_backlog,
    .housekeeping = fake_housekeeping,
    .fetch = fake_fetch,
    .mark = fake_mark,
    .wait_notify = fake_wait_notify,
    .mq_connect = fake_mq_connect,
    .status_open = fake_status_open,
    .mq_close = fake_mq_close,
    .send = fake_send,
    .read_confirms = fake_read_confirms,
    .service = fake_service,
    .status_publish = fake_status_publish,
    .mq_buffered = fake_mq_buffered,
    .wait_sockets = fake_wait_sockets,
    .sleep_ms = fake_sleep,
};

static struct relay_config cfg;
static struct daemon_env env;
static struct relay r;

/* A relay over the fake with rows 1..nrows, batches of batch rows, up to in_flight at once. */
static void start(int nrows, long batch, long in_flight)
{
    memset(&F, 0, sizeof F);
    fake_engine_env_init(&env, "relay", "TEST_RELAY_ENGINE_PORT", "write database");
    F.nrows = nrows;
    F.lease_free = true;
    F.renew_held = true;
    cfg = (struct relay_config){.notify_mode = "idle",
                                .batch_size = batch,
                                .poll_interval_ms = 10,
                                .status_interval_ms = 1000,
                                .confirm_timeout_ms = 30000,
                                .max_in_flight = in_flight,
                                .lease_ms = 5000,
                                .outbox_retention = "7 days",
                                .purge_interval_ms = 5000,
                                .idem = {86400}};
    relay_init(&r, &fake_ports, &cfg, &env);
}

static void stop(void)
{
    (void)relay_close(&r);
    fake_engine_env_release(&env);
}

static void steps(int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(relay_step(&r), 0);
}

/* n steps while the broker answers as mode says. */
static void run(enum broker_mode mode, int n)
{
    F.mode = mode;
    steps(n);
}

static void assert_marked(long from, long to, int times)
{
    for (long id = from; id <= to; id++)
        ck_assert_msg(F.marks[id] == times, "row %ld marked %d times, expected %d", id, F.marks[id],
                      times);
}

static void assert_sent(long from, long to, int times)
{
    for (long id = from; id <= to; id++)
        ck_assert_msg(F.sends[id] == times, "row %ld sent %d times, expected %d", id, F.sends[id],
                      times);
}

START_TEST(a_leader_marks_rows_only_once_the_broker_confirmed_them)
{
    start(5, 10, 4);
    run(SILENT, 3);
    assert_sent(1, 5, 1);
    assert_marked(1, 5, 0); /* sent, not confirmed: nothing is marked */
    ck_assert_uint_eq(r.ring.len, 1);
    ck_assert(metrics_gauge_value(r.metrics.leader) > 0);
    run(ACK_ALL, 2);
    assert_marked(1, 5, 1);
    ck_assert_uint_eq(r.ring.len, 0);
    ck_assert_uint_eq(metrics_counter_value(r.metrics.confirmed), 5);
    stop();
    ck_assert_int_eq(F.lease_releases, 1); /* a clean exit gives the lease up */
}
END_TEST

START_TEST(a_standby_fetches_and_sends_nothing)
{
    start(5, 10, 4);
    F.lease_free = false;
    steps(5);
    ck_assert_int_eq(F.fetches, 0);
    ck_assert_int_eq(F.sends[1], 0);
    ck_assert(!(metrics_gauge_value(r.metrics.leader) > 0));
    F.lease_free = true; /* the leader went away */
    run(ACK_ALL, 3);
    assert_marked(1, 5, 1);
    stop();
}
END_TEST

START_TEST(batches_in_flight_are_left_out_of_the_next_fetch)
{
    start(9, 2, 3);
    run(SILENT, 6);
    /* three batches of two in flight (a full ring): rows 1..6 sent once each, 7..9 not yet */
    ck_assert_uint_eq(r.ring.len, 3);
    assert_sent(1, 6, 1);
    assert_sent(7, 9, 0);
    run(ACK_ALL, 6);
    assert_sent(1, 9, 1);
    assert_marked(1, 9, 1);
    stop();
}
END_TEST

START_TEST(a_nack_marks_the_acked_prefix_drops_the_broker_and_publishes_the_rest_again)
{
    start(4, 10, 4);
    F.special = 3;
    run(NACK_ONE, 2);
    assert_marked(1, 2, 1); /* the broker has them */
    assert_marked(3, 4, 0); /* never a row at or after the nacked one */
    ck_assert_int_eq(L.mq_closes, 1);
    ck_assert_uint_eq(r.ring.len, 0);
    ck_assert_uint_eq(metrics_counter_value(r.metrics.nacked), 1);
    run(ACK_ALL, 3);
    ck_assert_int_eq(L.mq_connects, 2);
    ck_assert_int_eq(F.sends[3], 2);
    ck_assert_int_eq(F.sends[1], 1);
    assert_marked(1, 4, 1);
    stop();
}
END_TEST

START_TEST(a_returned_row_is_held_back_unmarked_until_the_broker_routes_it)
{
    start(3, 10, 4);
    F.special = 2;
    run(RETURN_ONE, 2);
    assert_marked(1, 1, 1);
    assert_marked(2, 3, 0);
    ck_assert(metrics_gauge_value(r.metrics.unroutable) > 0);
    ck_assert_uint_eq(metrics_counter_value(r.metrics.returned), 1);
    steps(2); /* held: nothing new goes out before the backoff passed */
    ck_assert_int_eq(F.sends[2], 1);
    F.mode = ACK_ALL;
    r.hold_until_ms = 0; /* the backoff passed */
    steps(3);
    ck_assert_int_eq(F.sends[2], 2);
    assert_marked(1, 3, 1);
    ck_assert(!(metrics_gauge_value(r.metrics.unroutable) > 0));
    ck_assert_int_eq(L.mq_closes, 0); /* a return is not a broker failure */
    stop();
}
END_TEST

START_TEST(a_lost_lease_releases_the_batches_in_flight_unmarked)
{
    start(4, 10, 4);
    run(SILENT, 2);
    ck_assert_uint_eq(r.ring.len, 1);
    F.renew_held = false;
    F.lease_free = false;
    r.renew_at_ms = 0; /* the renewal is due */
    run(ACK_ALL, 1);   /* even a confirm that came meanwhile must not be marked */
    ck_assert_uint_eq(r.ring.len, 0);
    ck_assert(!r.leader);
    ck_assert(!(metrics_gauge_value(r.metrics.leader) > 0));
    ck_assert_int_eq(L.pg_closes, 1);
    assert_marked(1, 4, 0);
    steps(3); /* standing by: reconnected, nothing fetched */
    ck_assert_int_eq(L.pg_connects, 2);
    ck_assert_int_eq(F.sends[1], 1);
    stop();
    ck_assert_int_eq(F.lease_releases, 0); /* not the leader: nothing to give up */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("relay_engine");
    unit_tcase(
        s, "engine",
        UNIT_TESTS(a_leader_marks_rows_only_once_the_broker_confirmed_them,
                   a_standby_fetches_and_sends_nothing,
                   batches_in_flight_are_left_out_of_the_next_fetch,
                   a_nack_marks_the_acked_prefix_drops_the_broker_and_publishes_the_rest_again,
                   a_returned_row_is_held_back_unmarked_until_the_broker_routes_it,
                   a_lost_lease_releases_the_batches_in_flight_unmarked));
    return s;
}

int main(void)
{
    return unit_run(suite());
}
