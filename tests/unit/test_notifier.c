/* notifier: what each notification reaches (dispatch), and what the thread's tick wakes: only
 * the read-your-writes waits whose events are applied, the deadlines of the one parking lot, and
 * the keep-alives of the event streams. No database: the check of the tokens is a fake, the
 * connection NULL; MHD's suspend/resume are fakes that count per connection. */
#include "api/query/consistency.h"
#include "api/query/notifier.h"
#include "api/query/replica.h"
#include "base/deadline.h"
#include "http/parking.h"
#include "http/respcache.h"
#include "http/sse.h"

#include "tests/unit/fake_conn.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define U1 "3f2a9c1e-8d4b-4c6a-9e1f-2b7d5a8c0e13"
#define U2 "00000000-0000-0000-0000-000000000001"

/* The fake check: the tokens naming U1 are applied; fails when check_fails. */
static bool check_fails;
static int checks;
static int fake_check(void *cls, const char *const *arrays, size_t n, bool *applied)
{
    (void)cls;
    checks++;
    if (check_fails)
        return -1;
    for (size_t i = 0; i < n; i++)
        applied[i] = strstr(arrays[i], U1) != NULL;
    return 0;
}

static void cache_payload(void *cls, const char *payload)
{
    respcache_invalidate_list(cls, payload);
}

struct fixture {
    struct parking *lot;
    struct consistency_hub *hub;
    struct respcache *cache;
    struct sse_hub *mood, *dash;
    struct notifier *n;
};

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    f->lot = parking_new();
    parking_set_conn_ops(f->lot, fake_suspend, fake_resume);
    f->hub = consistency_hub_new(f->lot, 8);
    f->cache = respcache_new(16, 1 << 20);
    respcache_set_listening(f->cache, true);
    f->mood = sse_hub_new(f->lot, 8, 2000);
    f->dash = sse_hub_new(f->lot, 8, 2000);
    struct notifier_opts o = {.dsn = "",
                              .app = "test",
                              .lot = f->lot,
                              .consistency = f->hub,
                              .on_payload = cache_payload,
                              .cls = f->cache};
    f->n = notifier_new(&o);
    struct feed_opts mood = {
        .channel = "mood_stats", .sql = "SELECT 1", .hub = f->mood, .keepalive_ms = 100000};
    struct feed_opts dash = {
        .channel = CONSISTENCY_CHANNEL, .sql = "SELECT 1", .hub = f->dash, .keepalive_ms = 1000};
    ck_assert_int_eq(notifier_add_feed(f->n, &mood), 0);
    ck_assert_int_eq(notifier_add_feed(f->n, &dash), 0);
    notifier_set_check(f->n, fake_check, NULL);
    check_fails = false;
    checks = 0;
}

static void teardown(struct fixture *f)
{
    notifier_free(f->n);
    sse_hub_free(f->mood);
    sse_hub_free(f->dash);
    consistency_hub_free(f->hub);
    respcache_free(f->cache);
    parking_free(f->lot);
}

static struct consistency_wait *wait_for(struct consistency_hub *h, const char *id, long long due)
{
    struct consistency_token t;
    struct api_error e;

    ck_assert_int_eq(consistency_token_parse(id, &t, &e), 0);
    return consistency_wait_new(h, &t, due);
}

START_TEST(events_applied_reaches_the_cache_the_waits_and_its_feeds_only)
{
    struct fixture f;
    char *body;
    size_t len;

    setup(&f);
    ck_assert(respcache_put(f.cache, "order:1", "{}", 2, respcache_begin(f.cache)));
    ck_assert(respcache_put(f.cache, "order:2", "{}", 2, respcache_begin(f.cache)));
    uint64_t seq = consistency_hub_seq(f.hub);
    notifier_dispatch(f.n, CONSISTENCY_CHANNEL, "order:1 customer:4");
    ck_assert(!respcache_get(f.cache, "order:1", &body, &len));
    ck_assert(respcache_get(f.cache, "order:2", &body, &len));
    free(body);
    ck_assert_uint_eq(consistency_hub_seq(f.hub), seq + 1);
    ck_assert(!notifier_feed_dirty(f.n, 0)); /* the mood wall's channel is another */
    ck_assert(notifier_feed_dirty(f.n, 1));
    teardown(&f);
}
END_TEST

START_TEST(other_channels_reach_their_feeds_only)
{
    struct fixture f;
    char *body;
    size_t len;

    setup(&f);
    ck_assert(respcache_put(f.cache, "order:1", "{}", 2, respcache_begin(f.cache)));
    uint64_t seq = consistency_hub_seq(f.hub);
    notifier_dispatch(f.n, "mood_stats", "order:1");
    notifier_dispatch(f.n, "elsewhere", "*");
    ck_assert(respcache_get(f.cache, "order:1", &body, &len)); /* not a cache payload */
    free(body);
    ck_assert_uint_eq(consistency_hub_seq(f.hub), seq);
    ck_assert(notifier_feed_dirty(f.n, 0));
    ck_assert(!notifier_feed_dirty(f.n, 1));
    teardown(&f);
}
END_TEST

START_TEST(a_notification_wakes_only_the_waits_whose_events_are_applied)
{
    struct fixture f;
    struct fake_conn a = {0}, b = {0};
    long long next = LLONG_MAX, now = deadline_now_ms();

    setup(&f);
    struct consistency_wait *wa = wait_for(f.hub, U1, now + 60000);
    struct consistency_wait *wb = wait_for(f.hub, U2, now + 60000);
    ck_assert_int_eq(consistency_hub_park(f.hub, wa, CONN(&a), consistency_hub_seq(f.hub)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(consistency_hub_park(f.hub, wb, CONN(&b), consistency_hub_seq(f.hub)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(notifier_tick(f.n, NULL, now, &next), 0);
    ck_assert_int_eq(checks, 0); /* nothing notified: nothing checked */
    notifier_dispatch(f.n, CONSISTENCY_CHANNEL, "");
    notifier_dispatch(f.n, CONSISTENCY_CHANNEL, ""); /* a burst: one check */
    ck_assert_int_eq(notifier_tick(f.n, NULL, now, &next), 0);
    ck_assert_int_eq(checks, 1);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(b.resumed, 0);
    ck_assert_uint_eq(consistency_hub_parked(f.hub), 1);
    /* a check that fails (connection lost): every parked wait checks itself */
    check_fails = true;
    notifier_dispatch(f.n, CONSISTENCY_CHANNEL, "");
    ck_assert_int_eq(notifier_tick(f.n, NULL, now, &next), 0);
    ck_assert_int_eq(b.resumed, 1);
    consistency_wait_free(wa);
    consistency_wait_free(wb);
    teardown(&f);
}
END_TEST

START_TEST(the_tick_expires_deadlines_of_the_one_lot)
{
    struct fixture f;
    struct fake_conn a = {0};
    long long now = deadline_now_ms(), next = LLONG_MAX;

    setup(&f);
    struct consistency_wait *w = wait_for(f.hub, U2, now + 50);
    ck_assert_int_eq(consistency_hub_park(f.hub, w, CONN(&a), consistency_hub_seq(f.hub)),
                     CONSISTENCY_PARKED);
    ck_assert_int_eq(notifier_tick(f.n, NULL, now, &next), 0);
    ck_assert_int_eq(next, now + 50);
    ck_assert_int_eq(a.resumed, 0);
    next = LLONG_MAX;
    ck_assert_int_eq(notifier_tick(f.n, NULL, now + 50, &next), 0);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(checks, 0);
    consistency_wait_free(w);
    teardown(&f);
}
END_TEST

/* A stream of hub h on connection fc, read until it parks. */
static void park_stream(struct sse_hub *h, struct fake_conn *fc, struct http_response *resp)
{
    struct http_request req = {.conn = CONN(fc), .method = "GET"};
    struct api_error err;
    char buf[256];

    memset(resp, 0, sizeof *resp);
    ck_assert_int_eq(sse_hub_attach(h, &req, resp, &err), 0);
    while (resp->stream_read(resp->stream_cls, 0, buf, sizeof buf) > 0)
        ;
    ck_assert_int_eq(fc->suspended, 1);
}

static void stream_done(struct http_response *resp)
{
    resp->stream_free(resp->stream_cls);
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        free(resp->header_values[i]);
}

START_TEST(keepalives_wake_the_streams_of_their_feed_only)
{
    struct fixture f;
    struct fake_conn m = {0}, d = {0};
    struct http_response rm, rd;
    long long now, next = LLONG_MAX;

    setup(&f);
    park_stream(f.mood, &m, &rm);
    park_stream(f.dash, &d, &rd);
    now = deadline_now_ms(); /* after the set-up, which scheduled the first rounds */
    ck_assert_int_eq(notifier_tick(f.n, NULL, now, &next), 0);
    ck_assert_int_eq(m.resumed + d.resumed, 0);
    ck_assert_int_le(next, now + 1000); /* the dashboard's keep-alive round */
    next = LLONG_MAX;
    ck_assert_int_eq(notifier_tick(f.n, NULL, now + 1000, &next), 0);
    ck_assert_int_eq(d.resumed, 1);
    ck_assert_int_eq(m.resumed, 0); /* the mood wall's round is later */
    stream_done(&rm);
    stream_done(&rd);
    teardown(&f);
}
END_TEST

/* Reading a replica: the fake primary's LSN and the replica's replay LSN. */
static uint64_t primary_at, replayed_at;
static int listens, unlistens;
static int fake_primary(void *cls, PGconn *primary, uint64_t *lsn)
{
    (void)cls;
    (void)primary;
    *lsn = primary_at;
    return 0;
}

static int fake_replay(void *cls, uint64_t *lsn, bool *standby)
{
    (void)cls;
    *lsn = replayed_at;
    *standby = true;
    return 0;
}

static void count_listen(void *cls, PGconn *conn)
{
    (void)cls;
    if (conn == NULL)
        unlistens++;
    else
        listens++;
}

START_TEST(reading_a_replica_holds_the_cache_and_the_waits_until_it_replayed)
{
    struct fixture f;
    struct fake_conn a = {0};
    const struct replica_opts ro = {.dsn = "", .app = "test", .wait_ms = 500};
    const struct replica_ops ops = {fake_primary, fake_replay};
    long long now = deadline_now_ms(), next = LLONG_MAX;
    char *body;
    size_t len;

    setup(&f);
    notifier_free(f.n);
    struct replica *r = replica_new(&ro);
    replica_set_ops(r, &ops, NULL);
    struct notifier_opts o = {.dsn = "",
                              .app = "test",
                              .lot = f.lot,
                              .consistency = f.hub,
                              .on_listen = count_listen,
                              .on_payload = cache_payload,
                              .cls = f.cache,
                              .replica = r};
    f.n = notifier_new(&o);
    notifier_set_check(f.n, fake_check, NULL);
    listens = unlistens = 0;
    ck_assert(respcache_put(f.cache, "order:1", "{}", 2, respcache_begin(f.cache)));
    struct consistency_wait *w = wait_for(f.hub, U1, now + 60000);
    ck_assert_int_eq(consistency_hub_park(f.hub, w, CONN(&a), consistency_hub_seq(f.hub)),
                     CONSISTENCY_PARKED);
    uint64_t seq = consistency_hub_seq(f.hub);

    primary_at = 1000; /* past the consumer's commit */
    replayed_at = 900;
    notifier_dispatch(f.n, CONSISTENCY_CHANNEL, "order:1");
    ck_assert_int_eq(notifier_tick(f.n, NULL, now, &next), 0);
    /* not replayed: the cached answer stays, the wait sleeps, a checking request parks */
    ck_assert(respcache_get(f.cache, "order:1", &body, &len));
    free(body);
    ck_assert_uint_eq(consistency_hub_seq(f.hub), seq);
    ck_assert_int_eq(checks, 0);
    ck_assert_int_eq(a.resumed, 0);
    ck_assert_int_le(next, now + REPLICA_POLL_MIN_MS);
    replayed_at = 1000;
    next = LLONG_MAX;
    ck_assert_int_eq(notifier_tick(f.n, NULL, now + 1, &next), 0);
    ck_assert(!respcache_get(f.cache, "order:1", &body, &len));
    ck_assert_uint_eq(consistency_hub_seq(f.hub), seq + 1);
    ck_assert_int_eq(checks, 1);
    ck_assert_int_eq(a.resumed, 1);

    /* a replica that does not replay in time: released at the deadline, the cache bypassed */
    primary_at = 2000;
    notifier_dispatch(f.n, CONSISTENCY_CHANNEL, "order:2");
    ck_assert_int_eq(notifier_tick(f.n, NULL, now + 10, &next), 0);
    ck_assert_int_eq(unlistens, 0);
    ck_assert_int_eq(notifier_tick(f.n, NULL, now + 510, &next), 0);
    ck_assert_uint_eq(consistency_hub_seq(f.hub), seq + 2);
    ck_assert_int_eq(unlistens, 1);
    ck_assert_int_eq(listens, 0); /* without a connection it is told later */
    consistency_wait_free(w);
    teardown(&f);
    replica_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("notifier");
    unit_tcase(s, "dispatch",
               UNIT_TESTS(events_applied_reaches_the_cache_the_waits_and_its_feeds_only,
                          other_channels_reach_their_feeds_only,
                          a_notification_wakes_only_the_waits_whose_events_are_applied,
                          the_tick_expires_deadlines_of_the_one_lot,
                          keepalives_wake_the_streams_of_their_feed_only,
                          reading_a_replica_holds_the_cache_and_the_waits_until_it_replayed));
    return unit_run(s);
}
