#include "notifier.h"

#include "base/buf.h"
#include "base/deadline.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "consistency.h"
#include "http/parking.h"
#include "pg/pg.h"
#include "pg/pgwatch.h"
#include "replica.h"

#include <stdlib.h>
#include <string.h>

/* Which of the tokens $1 (a text[] of uuid[] literals) have every event applied: their
 * 1-based positions. */
#define NOTIFIER_CHECK_SQL                                                                         \
    "SELECT t.i FROM unnest($1::text[]) WITH ORDINALITY AS t(a, i) "                               \
    "WHERE (SELECT q_events_applied(t.a::uuid[]))"

struct notifier {
    struct notifier_opts opts;
    struct feed feeds[NOTIFIER_MAX_FEEDS];
    size_t nfeeds;
    struct pgwatch *watch;
    PGconn *conn;        /* the thread's connection during a tick (the default check uses it) */
    bool rw_dirty;       /* events_applied was notified since the waits were last checked */
    bool cache_bypassed; /* the replica is behind: the cache was told as when the connection is
                            lost (opts.replica) */
    int (*check)(void *cls, const char *const *arrays, size_t count, bool *applied);
    void *check_cls;
};

/* The default check: one query on the notifier's connection. */
static int check_applied(void *cls, const char *const *arrays, size_t count, bool *applied)
{
    struct notifier *n = cls;
    struct buf b = {0};
    const char *params[1];
    PGresult *res;
    int rc = -1;

    if (n->conn == NULL)
        return -1;
    buf_puts(&b, "{");
    for (size_t i = 0; i < count; i++)
        buf_printf(&b, "%s\"%s\"", i > 0 ? "," : "", arrays[i]);
    buf_puts(&b, "}");
    params[0] = b.s;
    res = PQexecParams(n->conn, NOTIFIER_CHECK_SQL, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int r = 0; r < PQntuples(res); r++) {
            long i = strtol(PQgetvalue(res, r, 0), NULL, 10);
            if (i >= 1 && (size_t)i <= count)
                applied[i - 1] = true;
        }
        rc = 0;
    } else {
        char detail[256], q[300];
        pg_error_text(n->conn, res, detail, sizeof detail);
        log_warn("could not check the read-your-writes waits", "error=%s",
                 log_quote(q, sizeof q, detail));
    }
    PQclear(res);
    buf_free(&b);
    return rc;
}

struct notifier *notifier_new(const struct notifier_opts *opts)
{
    struct notifier *n = xcalloc(1, sizeof *n);

    n->opts = *opts;
    n->check = check_applied;
    n->check_cls = n;
    return n;
}

int notifier_add_feed(struct notifier *n, const struct feed_opts *opts)
{
    if (n->nfeeds == NOTIFIER_MAX_FEEDS)
        return -1;
    feed_init(&n->feeds[n->nfeeds++], opts, deadline_now_ms());
    return 0;
}

void notifier_set_check(struct notifier *n,
                        int (*check)(void *cls, const char *const *arrays, size_t count,
                                     bool *applied),
                        void *cls)
{
    n->check = check;
    n->check_cls = cls;
}

bool notifier_feed_dirty(const struct notifier *n, size_t i)
{
    return i < n->nfeeds && n->feeds[i].dirty;
}

/* What one notification on events_applied (or a batch of them, replica.h) brings: its keys to
 * the cache, then a count (a wait checking now checks again) and a check of the parked waits at
 * the end of the tick. */
static void apply_payload(void *cls, const char *payload)
{
    struct notifier *n = cls;

    if (n->opts.on_payload != NULL)
        n->opts.on_payload(n->opts.cls, payload);
    if (n->opts.consistency != NULL) {
        consistency_hub_count(n->opts.consistency);
        n->rw_dirty = true;
    }
}

void notifier_dispatch(struct notifier *n, const char *channel, const char *payload)
{
    if (strcmp(channel, CONSISTENCY_CHANNEL) == 0) {
        if (n->opts.replica != NULL)
            replica_hold(n->opts.replica, payload);
        else
            apply_payload(n, payload);
    }
    for (size_t i = 0; i < n->nfeeds; i++)
        feed_notify(&n->feeds[i], channel);
}

/* The replica's step of the tick: release what it replayed; tell the cache when it falls behind
 * or catches up. -1 when conn broke. */
static int replica_step(struct notifier *n, PGconn *conn, long long now_ms, long long *next_ms)
{
    int rc = replica_tick(n->opts.replica, conn, now_ms, next_ms, apply_payload, n);
    bool ok = rc == 0 && (conn == NULL || PQstatus(conn) == CONNECTION_OK);
    bool behind = !replica_in_sync(n->opts.replica);

    /* behind: told at once; caught up: told with a working connection (its query) */
    if (n->opts.on_listen != NULL && behind != n->cache_bypassed &&
        (behind || (conn != NULL && ok))) {
        n->opts.on_listen(n->opts.cls, behind ? NULL : conn);
        n->cache_bypassed = behind;
    }
    return ok ? 0 : -1;
}

int notifier_tick(struct notifier *n, PGconn *conn, long long now_ms, long long *next_ms)
{
    int rc = 0;
    long long deadline;

    n->conn = conn;
    if (n->opts.replica != NULL && replica_step(n, conn, now_ms, next_ms) != 0) {
        rc = -1;
        conn = NULL;
    }
    /* without a connection (lost after the notification) the check fails: every parked wait
     * then checks itself */
    if (n->rw_dirty && n->opts.consistency != NULL) {
        n->rw_dirty = false;
        consistency_hub_wake_applied(n->opts.consistency, n->check, n->check_cls);
        if (conn != NULL && PQstatus(conn) != CONNECTION_OK) {
            rc = -1;
            conn = NULL;
        }
    }
    for (size_t i = 0; i < n->nfeeds; i++) {
        if (feed_tick(&n->feeds[i], conn, now_ms, next_ms) != 0) {
            rc = -1;
            conn = NULL;
        }
    }
    deadline = parking_expire(n->opts.lot, now_ms);
    if (deadline >= 0 && deadline < *next_ms)
        *next_ms = deadline;
    n->conn = NULL;
    return rc;
}

/* --- the thread (lib/pg/pgwatch.h's callbacks) ------------------------------------------------ */

static int on_connect(void *cls, PGconn *conn)
{
    struct notifier *n = cls;
    long long now = deadline_now_ms();

    if (n->opts.on_listen != NULL && !n->cache_bypassed)
        n->opts.on_listen(n->opts.cls, conn);
    /* whatever was committed while nobody listened: every parked request checks, every feed
     * runs; reading a replica, again once it has replayed the primary's WAL up to now */
    if (n->opts.consistency != NULL)
        consistency_hub_notify(n->opts.consistency);
    if (n->opts.replica != NULL)
        replica_hold(n->opts.replica, "*");
    n->rw_dirty = false;
    for (size_t i = 0; i < n->nfeeds; i++) {
        if (feed_run(&n->feeds[i], conn, now) != 0)
            return -1;
    }
    return PQstatus(conn) == CONNECTION_OK ? 0 : -1;
}

static void on_notify(void *cls, const char *channel, const char *payload)
{
    notifier_dispatch(cls, channel, payload);
}

static int on_tick(void *cls, PGconn *conn, long long now_ms, long long *next_ms)
{
    return notifier_tick(cls, conn, now_ms, next_ms);
}

static void on_lost(void *cls)
{
    struct notifier *n = cls;

    if (n->opts.on_listen != NULL)
        n->opts.on_listen(n->opts.cls, NULL);
}

/* The lot's waker: a wait parked with an earlier deadline than the thread sleeps until. */
static void wake_thread(void *cls)
{
    struct notifier *n = cls;

    pgwatch_wake(n->watch);
}

/* The channels of the consistency hub and the feeds, each once. */
static void add_channel(struct pgwatch_opts *o, const char *channel)
{
    for (size_t i = 0; i < o->nchannels; i++) {
        if (strcmp(o->channels[i], channel) == 0)
            return;
    }
    o->channels[o->nchannels++] = channel;
}

int notifier_start(struct notifier *n, char *err, size_t errlen)
{
    struct pgwatch_opts o = {
        .dsn = n->opts.dsn,
        .app = n->opts.app,
        .on_connect = on_connect,
        .on_notify = on_notify,
        .on_tick = on_tick,
        .on_lost = on_lost,
        .cls = n,
    };

    if (n->opts.consistency != NULL || n->opts.on_payload != NULL)
        add_channel(&o, CONSISTENCY_CHANNEL);
    for (size_t i = 0; i < n->nfeeds; i++)
        add_channel(&o, n->feeds[i].opts.channel);
    n->watch = pgwatch_start(&o, err, errlen);
    if (n->watch == NULL)
        return -1;
    /* from now on a wait parked with an earlier deadline shortens the thread's sleep */
    parking_set_waker(n->opts.lot, wake_thread, n);
    return 0;
}

void notifier_stop(struct notifier *n)
{
    if (n == NULL || n->watch == NULL)
        return;
    parking_set_waker(n->opts.lot, NULL, NULL);
    pgwatch_stop(n->watch);
    n->watch = NULL;
}

void notifier_free(struct notifier *n)
{
    if (n == NULL)
        return;
    notifier_stop(n);
    free(n);
}
