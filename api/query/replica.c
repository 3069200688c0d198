#include "replica.h"

#include "base/backoff.h"
#include "base/buf.h"
#include "base/deadline.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "metrics/metrics.h"
#include "pg/pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLICA_CONNECT_MIN_MS 100
#define REPLICA_CONNECT_MAX_MS 5000

/* Notifications closed at one primary LSN: released together. */
struct batch {
    uint64_t lsn;
    long long due_ms;
    struct buf keys;
};

struct replica {
    struct replica_opts opts;
    struct replica_ops ops;
    void *ops_cls;
    PGconn *conn; /* the replica's (default ops) */
    struct backoff connect_backoff;
    long long next_connect_ms;
    bool connect_failing; /* logged once per outage */

    struct buf incoming;                       /* keys held since the last tick */
    bool held;                                 /* something was held since the last tick */
    struct batch batches[REPLICA_MAX_BATCHES]; /* a ring, oldest at first */
    unsigned first, count;

    struct backoff poll_backoff;
    long long next_poll_ms;    /* while batches wait */
    long long next_measure_ms; /* the lag, when none waits */
    uint64_t primary_lsn;      /* the last one read */
    uint64_t expired_lsn;      /* in sync again once replayed: the last batch released late */
    bool in_sync;

    struct metrics_gauge *lag_bytes, *up;
    struct metrics_counter *timeouts;
};

int replica_lsn_parse(const char *text, uint64_t *lsn)
{
    unsigned long hi, lo;
    char *end;

    if (text == NULL || *text == '\0')
        return -1;
    hi = strtoul(text, &end, 16);
    if (*end != '/' || end == text || hi > UINT32_MAX)
        return -1;
    text = end + 1;
    lo = strtoul(text, &end, 16);
    if (*end != '\0' || end == text || lo > UINT32_MAX)
        return -1;
    *lsn = ((uint64_t)hi << 32) | lo;
    return 0;
}

/* One value of a one-row query, parsed as an LSN; NULL gives *null. */
static int query_lsn(PGconn *conn, const char *sql, uint64_t *lsn, bool *null, char *err,
                     size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 1) {
        pg_error_text(conn, res, err, errlen);
    } else if (PQgetisnull(res, 0, 0)) {
        *null = true;
        rc = 0;
    } else if (replica_lsn_parse(PQgetvalue(res, 0, 0), lsn) == 0) {
        *null = false;
        rc = 0;
    } else {
        snprintf(err, errlen, "not an LSN: %s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

static int default_primary_lsn(void *cls, PGconn *primary, uint64_t *lsn)
{
    char err[256], q[300];
    bool null;

    (void)cls;
    if (primary == NULL)
        return -1; /* no connection now: the next tick */
    if (query_lsn(primary, "SELECT pg_current_wal_lsn()", lsn, &null, err, sizeof err) == 0 &&
        !null)
        return 0;
    log_warn("could not read the primary's WAL position", "error=%s", log_quote(q, sizeof q, err));
    return -1;
}

static int default_replay_lsn(void *cls, uint64_t *lsn, bool *standby)
{
    struct replica *r = cls;
    char err[256], q[300];
    bool null;
    long long now = deadline_now_ms();

    if (r->conn == NULL) {
        if (now < r->next_connect_ms)
            return -1;
        r->conn = pg_connect(r->opts.dsn, r->opts.app, NULL, 0, err, sizeof err);
        if (r->conn == NULL) {
            long delay = backoff_next(&r->connect_backoff);
            r->next_connect_ms = now + delay;
            if (!r->connect_failing)
                log_warn("could not connect to the replica", "retry_ms=%ld error=%s", delay,
                         log_quote(q, sizeof q, err));
            r->connect_failing = true;
            return -1;
        }
        backoff_reset(&r->connect_backoff);
        log_info("connected to the replica", NULL);
        r->connect_failing = false;
    }
    /* NULL on a server that is not in recovery: it has every commit */
    if (query_lsn(r->conn, "SELECT pg_last_wal_replay_lsn()", lsn, &null, err, sizeof err) == 0) {
        *standby = !null;
        return 0;
    }
    log_warn("lost the replica connection", "error=%s", log_quote(q, sizeof q, err));
    PQfinish(r->conn);
    r->conn = NULL;
    r->next_connect_ms = now; /* at once; backoff if that fails */
    r->connect_failing = true;
    return -1;
}

struct replica *replica_new(const struct replica_opts *opts)
{
    struct replica *r = xcalloc(1, sizeof *r);

    r->opts = *opts;
    r->ops.primary_lsn = default_primary_lsn;
    r->ops.replay_lsn = default_replay_lsn;
    r->ops_cls = r;
    backoff_init(&r->connect_backoff, REPLICA_CONNECT_MIN_MS, REPLICA_CONNECT_MAX_MS);
    backoff_init(&r->poll_backoff, REPLICA_POLL_MIN_MS, REPLICA_POLL_MAX_MS);
    r->in_sync = true;
    if (opts->metrics != NULL) {
        r->lag_bytes = metrics_gauge_new(
            opts->metrics, "query_replica_lag_bytes",
            "WAL bytes the replica the query API reads had not replayed at the last measurement");
        r->up = metrics_gauge_new(opts->metrics, "query_replica_up",
                                  "1 while the replica answered the last poll of its replay "
                                  "position");
        r->timeouts = metrics_counter_new(
            opts->metrics, "query_replica_wait_timeouts_total",
            "Notification batches released at their deadline before the replica replayed them");
    }
    return r;
}

void replica_free(struct replica *r)
{
    if (r == NULL)
        return;
    PQfinish(r->conn);
    buf_free(&r->incoming);
    for (unsigned i = 0; i < REPLICA_MAX_BATCHES; i++)
        buf_free(&r->batches[i].keys);
    free(r);
}

void replica_set_ops(struct replica *r, const struct replica_ops *ops, void *cls)
{
    r->ops = *ops;
    r->ops_cls = cls;
}

/* Appends keys to b, space-separated; beyond the bound, b becomes "*" (forget every answer). */
static void add_keys(struct buf *b, const char *keys)
{
    size_t n = strlen(keys);

    if (n == 0 || (b->len == 1 && b->s[0] == '*'))
        return;
    if (b->len + n + 1 > REPLICA_MAX_KEYS_BYTES || strcmp(keys, "*") == 0) {
        buf_reset(b);
        buf_puts(b, "*");
        return;
    }
    if (b->len > 0)
        buf_puts(b, " ");
    buf_put(b, keys, n);
}

void replica_hold(struct replica *r, const char *payload)
{
    add_keys(&r->incoming, payload);
    r->held = true;
}

bool replica_in_sync(const struct replica *r)
{
    return r->in_sync;
}

unsigned replica_waiting(const struct replica *r)
{
    return r->count;
}

/* Closes what was held into a batch at lsn (merged into the newest one when the ring is full). */
static void close_batch(struct replica *r, uint64_t lsn, long long now_ms)
{
    struct batch *b;

    if (r->count == REPLICA_MAX_BATCHES) {
        b = &r->batches[(r->first + r->count - 1) % REPLICA_MAX_BATCHES];
    } else {
        b = &r->batches[(r->first + r->count) % REPLICA_MAX_BATCHES];
        buf_reset(&b->keys);
        b->due_ms = now_ms + r->opts.wait_ms;
        r->count++;
    }
    b->lsn = lsn;
    add_keys(&b->keys, r->incoming.s != NULL ? r->incoming.s : "");
    buf_reset(&r->incoming);
    r->held = false;
    if (r->count == 1) {
        backoff_reset(&r->poll_backoff);
        r->next_poll_ms = now_ms; /* the replica has often replayed it already */
    }
}

static void release_first(struct replica *r, replica_release_fn release, void *cls)
{
    struct batch *b = &r->batches[r->first];

    release(cls, b->keys.s != NULL ? b->keys.s : "");
    buf_reset(&b->keys);
    r->first = (r->first + 1) % REPLICA_MAX_BATCHES;
    r->count--;
}

/* Polls the replica and releases what it replayed, and what is overdue. */
static void poll_replica(struct replica *r, long long now_ms, replica_release_fn release, void *cls)
{
    uint64_t replay = 0;
    bool standby = true, known, progress = false;

    known = r->ops.replay_lsn(r->ops_cls, &replay, &standby) == 0;
    metrics_gauge_set(r->up, known ? 1 : 0);
    if (known && !standby)
        replay = UINT64_MAX; /* not a standby: it has every commit */
    if (known) {
        metrics_gauge_set(r->lag_bytes,
                          replay >= r->primary_lsn ? 0 : (double)(r->primary_lsn - replay));
        if (!r->in_sync && replay >= r->expired_lsn) {
            r->in_sync = true;
            log_info("the replica caught up", NULL);
        }
    }
    while (r->count > 0 && known && r->batches[r->first].lsn <= replay) {
        release_first(r, release, cls);
        progress = true;
    }
    while (r->count > 0 && r->batches[r->first].due_ms <= now_ms) {
        struct batch *b = &r->batches[r->first];
        if (r->in_sync)
            log_warn("the replica did not replay a write in time: answer cache bypassed until it "
                     "does",
                     "lsn=%" PRIX64 " replay_lsn=%" PRIX64 " reachable=%d", b->lsn, replay, known);
        r->in_sync = false;
        if (b->lsn > r->expired_lsn)
            r->expired_lsn = b->lsn;
        metrics_counter_inc(r->timeouts);
        release_first(r, release, cls);
        progress = true;
    }
    if (progress)
        backoff_reset(&r->poll_backoff);
    r->next_poll_ms = now_ms + backoff_next(&r->poll_backoff);
    r->next_measure_ms = now_ms + REPLICA_MEASURE_MS;
}

int replica_tick(struct replica *r, PGconn *primary, long long now_ms, long long *next_ms,
                 replica_release_fn release, void *cls)
{
    int rc = 0;
    bool measure = r->count == 0 && (now_ms >= r->next_measure_ms || !r->in_sync);

    if (r->held || measure) {
        uint64_t lsn;
        if (r->ops.primary_lsn(r->ops_cls, primary, &lsn) == 0) {
            if (lsn > r->primary_lsn)
                r->primary_lsn = lsn;
            if (r->held)
                close_batch(r, lsn, now_ms);
        } else {
            rc = -1;
        }
    }
    if (r->count > 0 ? now_ms >= r->next_poll_ms || now_ms >= r->batches[r->first].due_ms : measure)
        poll_replica(r, now_ms, release, cls);
    long long next = r->count > 0 ? r->next_poll_ms : r->next_measure_ms;
    if (r->count > 0 && r->batches[r->first].due_ms < next)
        next = r->batches[r->first].due_ms;
    if (!r->in_sync && r->count == 0)
        next = now_ms + REPLICA_POLL_MAX_MS; /* watch for the catch-up */
    if (next < *next_ms)
        *next_ms = next;
    return rc;
}
