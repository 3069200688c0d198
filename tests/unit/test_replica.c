/* replica: what the notifier holds while the query API reads a streaming replica is released
 * only once the replica has replayed the primary's WAL up to the LSN read after the notification,
 * or at its deadline (then the replica counts as behind until it has replayed it); the replica
 * is polled with the one backoff. No database: the two LSN queries are fakes. */
#include "api/query/replica.h"

#include "base/buf.h"

#include "unit.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The fake servers: the primary's current LSN and the replica's replay LSN. */
static struct {
    uint64_t primary, replay;
    bool primary_fails, replica_fails, standby;
    int primary_reads, replica_reads;
} db;

static int fake_primary_lsn(void *cls, PGconn *primary, uint64_t *lsn)
{
    (void)cls;
    (void)primary;
    db.primary_reads++;
    if (db.primary_fails)
        return -1;
    *lsn = db.primary;
    return 0;
}

static int fake_replay_lsn(void *cls, uint64_t *lsn, bool *standby)
{
    (void)cls;
    db.replica_reads++;
    if (db.replica_fails)
        return -1;
    *lsn = db.replay;
    *standby = db.standby;
    return 0;
}

/* What was released: the batches' keys, "|"-separated. */
static struct buf released;
static int nreleased;
static void on_release(void *cls, const char *keys)
{
    (void)cls;
    buf_printf(&released, "%s%s", nreleased++ > 0 ? "|" : "", keys);
}

static struct replica *setup(long wait_ms)
{
    const struct replica_opts o = {.dsn = "", .app = "test", .wait_ms = wait_ms};
    const struct replica_ops ops = {fake_primary_lsn, fake_replay_lsn};
    struct replica *r = replica_new(&o);

    memset(&db, 0, sizeof db);
    db.standby = true;
    buf_free(&released);
    nreleased = 0;
    replica_set_ops(r, &ops, NULL);
    return r;
}

static void done(struct replica *r)
{
    replica_free(r);
    buf_free(&released);
}

/* One tick at now; returns the time it asked to run again. */
static long long tick(struct replica *r, long long now)
{
    long long next = now + 60000;

    replica_tick(r, NULL, now, &next, on_release, NULL);
    return next;
}

static const char *what_released(void)
{
    return released.s != NULL ? released.s : "";
}

START_TEST(lsn_text_parses_as_the_64_bit_position)
{
    uint64_t lsn = 1;

    ck_assert_int_eq(replica_lsn_parse("0/0", &lsn), 0);
    ck_assert_uint_eq(lsn, 0);
    ck_assert_int_eq(replica_lsn_parse("16/B374D848", &lsn), 0);
    ck_assert_uint_eq(lsn, 0x16B374D848ULL);
    ck_assert_int_eq(replica_lsn_parse("FFFFFFFF/FFFFFFFF", &lsn), 0);
    ck_assert_uint_eq(lsn, UINT64_MAX);
    const char *bad[] = {"", "0", "/0", "0/", "1/2x", "x/1", "100000000/0", NULL};
    for (size_t i = 0; bad[i] != NULL; i++)
        ck_assert_msg(replica_lsn_parse(bad[i], &lsn) == -1, "'%s' parsed", bad[i]);
}
END_TEST

START_TEST(a_notification_is_released_once_the_replica_replayed_the_primary_lsn)
{
    struct replica *r = setup(5000);
    long long now = 1000;

    db.primary = 100;
    db.replay = 40;
    replica_hold(r, "order:1 customer:2");
    replica_hold(r, ""); /* a notification without keys: one batch with the others */
    replica_hold(r, "product:3");
    db.primary = 200; /* a later write: not what the batch waits for */
    tick(r, now);
    ck_assert_int_eq(db.primary_reads, 1);
    ck_assert_int_eq(nreleased, 0);
    ck_assert_uint_eq(replica_waiting(r), 1);
    db.replay = 199; /* the batch closed at 200: still waiting */
    tick(r, now + 50);
    ck_assert_int_eq(nreleased, 0);
    db.replay = 200;
    tick(r, now + 100);
    ck_assert_int_eq(nreleased, 1);
    ck_assert_str_eq(what_released(), "order:1 customer:2 product:3");
    ck_assert(replica_in_sync(r));
    ck_assert_uint_eq(replica_waiting(r), 0);
    done(r);
}
END_TEST

START_TEST(a_replica_that_replayed_already_releases_in_the_same_tick)
{
    struct replica *r = setup(5000);

    db.primary = db.replay = 500;
    replica_hold(r, "order:9");
    tick(r, 1000);
    ck_assert_str_eq(what_released(), "order:9");
    ck_assert_int_eq(db.replica_reads, 1);
    done(r);
}
END_TEST

START_TEST(batches_of_successive_ticks_are_released_in_order_as_replayed)
{
    struct replica *r = setup(5000);

    db.replay = 0;
    db.primary = 100;
    replica_hold(r, "order:1");
    tick(r, 1000);
    db.primary = 300;
    replica_hold(r, "order:2");
    tick(r, 1200);
    ck_assert_uint_eq(replica_waiting(r), 2);
    db.replay = 150; /* the first only */
    tick(r, 1400);
    ck_assert_str_eq(what_released(), "order:1");
    db.replay = 300;
    tick(r, 1600);
    ck_assert_str_eq(what_released(), "order:1|order:2");
    done(r);
}
END_TEST

START_TEST(the_replica_is_polled_with_the_backoff_until_it_replayed)
{
    struct replica *r = setup(60000);
    long long now = 1000, next;
    long want = REPLICA_POLL_MIN_MS;

    db.primary = 100;
    replica_hold(r, "order:1");
    next = tick(r, now); /* closes the batch and polls at once */
    ck_assert_int_eq(db.replica_reads, 1);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(next, now + want);
        ck_assert_int_eq(tick(r, now + want - 1), now + want); /* not due: no poll */
        now += want;
        next = tick(r, now);
        want = want * 2 > REPLICA_POLL_MAX_MS ? REPLICA_POLL_MAX_MS : want * 2;
    }
    ck_assert_int_eq(db.replica_reads, 11);
    ck_assert_int_eq(nreleased, 0);
    db.replay = 100;
    tick(r, next);
    ck_assert_int_eq(nreleased, 1);
    done(r);
}
END_TEST

START_TEST(a_batch_is_never_held_beyond_its_deadline_and_the_replica_is_then_behind)
{
    struct replica *r = setup(300);
    long long now = 1000, next;

    db.primary = 100;
    db.replay = 10;
    replica_hold(r, "order:1");
    next = tick(r, now);
    ck_assert_int_le(next, now + 300);
    tick(r, now + 299);
    ck_assert_int_eq(nreleased, 0);
    ck_assert(replica_in_sync(r));
    tick(r, now + 300);
    ck_assert_str_eq(what_released(), "order:1");
    ck_assert(!replica_in_sync(r));
    /* behind: it keeps watching the replica, without a batch */
    next = tick(r, now + 400);
    ck_assert_int_le(next, now + 400 + REPLICA_POLL_MAX_MS);
    ck_assert(!replica_in_sync(r));
    db.replay = 100;
    tick(r, next);
    ck_assert(replica_in_sync(r));
    done(r);
}
END_TEST

START_TEST(an_unreachable_replica_holds_until_the_deadline)
{
    struct replica *r = setup(200);

    db.primary = 100;
    db.replay = 100;
    db.replica_fails = true;
    replica_hold(r, "order:1");
    tick(r, 1000);
    tick(r, 1100);
    ck_assert_int_eq(nreleased, 0);
    tick(r, 1200);
    ck_assert_int_eq(nreleased, 1);
    ck_assert(!replica_in_sync(r));
    db.replica_fails = false;
    tick(r, 1300);
    ck_assert(replica_in_sync(r));
    done(r);
}
END_TEST

START_TEST(a_server_not_in_recovery_has_every_commit)
{
    struct replica *r = setup(5000);

    db.primary = 100;
    db.standby = false; /* promoted, or the primary itself: replay LSN NULL */
    db.replay = 0;
    replica_hold(r, "order:1");
    tick(r, 1000);
    ck_assert_int_eq(nreleased, 1);
    done(r);
}
END_TEST

START_TEST(what_is_held_while_the_primary_lsn_is_unknown_waits_for_the_next_tick)
{
    struct replica *r = setup(5000);
    long long next = 70000;

    db.primary = 100;
    db.replay = 100;
    db.primary_fails = true;
    replica_hold(r, "order:1");
    ck_assert_int_eq(replica_tick(r, NULL, 1000, &next, on_release, NULL), -1);
    ck_assert_int_eq(nreleased, 0);
    ck_assert_uint_eq(replica_waiting(r), 0);
    db.primary_fails = false;
    tick(r, 1001);
    ck_assert_str_eq(what_released(), "order:1");
    done(r);
}
END_TEST

START_TEST(too_many_batches_merge_and_too_many_keys_forget_every_answer)
{
    struct replica *r = setup(60000);
    char key[32];

    db.replay = 0;
    for (int i = 0; i < REPLICA_MAX_BATCHES + 5; i++) {
        db.primary = 100 + (uint64_t)i;
        snprintf(key, sizeof key, "order:%d", i);
        replica_hold(r, key);
        tick(r, 1000 + i);
    }
    ck_assert_uint_eq(replica_waiting(r), REPLICA_MAX_BATCHES);
    db.replay = 100 + REPLICA_MAX_BATCHES - 2; /* all but the newest, which took the rest */
    tick(r, 2000);
    ck_assert_int_eq(nreleased, REPLICA_MAX_BATCHES - 1);
    ck_assert_uint_eq(replica_waiting(r), 1);
    db.replay = 100 + REPLICA_MAX_BATCHES + 4;
    tick(r, 2100);
    ck_assert_ptr_nonnull(
        strstr(what_released(), "|order:31 order:32 order:33 order:34 order:35 order:36"));

    /* keys beyond the bound: "*" */
    buf_free(&released);
    nreleased = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "customer:%d", i);
        replica_hold(r, key);
    }
    replica_hold(r, "order:1");
    db.primary = db.replay = 1000;
    tick(r, 3000);
    ck_assert_str_eq(what_released(), "*");
    done(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replica");
    unit_tcase(s, "lsn", UNIT_TESTS(lsn_text_parses_as_the_64_bit_position));
    unit_tcase(s, "hold",
               UNIT_TESTS(a_notification_is_released_once_the_replica_replayed_the_primary_lsn,
                          a_replica_that_replayed_already_releases_in_the_same_tick,
                          batches_of_successive_ticks_are_released_in_order_as_replayed,
                          the_replica_is_polled_with_the_backoff_until_it_replayed,
                          a_batch_is_never_held_beyond_its_deadline_and_the_replica_is_then_behind,
                          an_unreachable_replica_holds_until_the_deadline,
                          a_server_not_in_recovery_has_every_commit,
                          what_is_held_while_the_primary_lsn_is_unknown_waits_for_the_next_tick,
                          too_many_batches_merge_and_too_many_keys_forget_every_answer));
    return unit_run(s);
}
