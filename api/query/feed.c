#include "feed.h"

#include "base/log.h"
#include "http/sse.h"
#include "pg/pg.h"

#include <limits.h>
#include <string.h>

void feed_init(struct feed *f, const struct feed_opts *opts, long long now_ms)
{
    memset(f, 0, sizeof *f);
    f->opts = *opts;
    f->next_ka_ms = now_ms + opts->keepalive_ms;
}

void feed_notify(struct feed *f, const char *channel)
{
    if (strcmp(f->opts.channel, channel) == 0)
        f->dirty = true;
}

/* Runs the query and publishes its result. Returns 0 (with *changed), or -1 when it failed. */
static int refresh(struct feed *f, PGconn *conn, long long now_ms, bool *changed)
{
    const char *values[FEED_MAX_PARAMS];
    int nparams = f->opts.params != NULL ? f->opts.params(f->opts.params_cls, values) : 0;
    PGresult *res = nparams > 0
                        ? PQexecParams(conn, f->opts.sql, nparams, NULL, values, NULL, NULL, 0)
                        : PQexec(conn, f->opts.sql);
    int rc = -1;

    f->last_run_ms = now_ms;
    f->dirty = false;
    *changed = false;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1 &&
        !PQgetisnull(res, 0, 0)) {
        *changed =
            sse_hub_publish(f->opts.hub, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        rc = 0;
    } else {
        char detail[256], q[300];
        pg_error_text(conn, res, detail, sizeof detail);
        log_warn("could not refresh watched query", "channel=%s error=%s", f->opts.channel,
                 log_quote(q, sizeof q, detail));
    }
    PQclear(res);
    return rc;
}

int feed_run(struct feed *f, PGconn *conn, long long now_ms)
{
    bool changed;

    return refresh(f, conn, now_ms, &changed) != 0 && PQstatus(conn) != CONNECTION_OK ? -1 : 0;
}

/* When the query is next due without a notification: at the end of the coalescing interval when
 * notified, or refresh_ms after the last run; LLONG_MAX when never. */
static long long next_run(const struct feed *f)
{
    long long at = LLONG_MAX;

    if (f->dirty)
        at = f->last_run_ms + f->opts.min_interval_ms;
    if (f->opts.refresh_ms > 0 && f->last_run_ms + f->opts.refresh_ms < at)
        at = f->last_run_ms + f->opts.refresh_ms;
    return at;
}

int feed_tick(struct feed *f, PGconn *conn, long long now_ms, long long *next_ms)
{
    bool ka = now_ms >= f->next_ka_ms, changed = false, broken = false;

    if (conn != NULL && (ka || now_ms >= next_run(f)) && refresh(f, conn, now_ms, &changed) != 0 &&
        PQstatus(conn) != CONNECTION_OK)
        broken = true; /* the keep-alive still goes out */
    if (ka) {
        f->next_ka_ms = now_ms + f->opts.keepalive_ms;
        if (!changed)
            sse_hub_keepalive(f->opts.hub);
    }
    if (f->next_ka_ms < *next_ms)
        *next_ms = f->next_ka_ms;
    if (conn != NULL && next_run(f) < *next_ms)
        *next_ms = next_run(f);
    return broken ? -1 : 0;
}
