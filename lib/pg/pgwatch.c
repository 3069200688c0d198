#include "pg/pgwatch.h"

#include "base/backoff.h"
#include "base/log.h"
#include "pg/pg.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct pgwatch {
    struct pgwatch_opts opts;
    pthread_t thread;
    int wake[2]; /* pipe: pgwatch_stop writes a byte to interrupt poll() */
    atomic_bool stop;
    long long last_run_ms; /* the watch thread's: when the query last ran */
    bool pending;          /* a notification came within min_interval_ms of the last run */
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When the query is next due without a notification: at the end of the coalescing interval when
 * a notification is pending, or refresh_ms after the last run; LLONG_MAX when never. */
static long long next_run(const struct pgwatch *w)
{
    long long at = LLONG_MAX;

    if (w->pending)
        at = w->last_run_ms + w->opts.min_interval_ms;
    if (w->opts.refresh_ms > 0 && w->last_run_ms + w->opts.refresh_ms < at)
        at = w->last_run_ms + w->opts.refresh_ms;
    return at;
}

static void drain_wake(struct pgwatch *w)
{
    char buf[16];

    while (read(w->wake[0], buf, sizeof buf) > 0)
        ;
}

/* Runs the query and publishes its result. Returns 0 (with *changed), or -1 when it failed. */
static int refresh(struct pgwatch *w, PGconn *conn, bool *changed)
{
    const char *values[PGWATCH_MAX_PARAMS];
    int nparams = w->opts.params != NULL ? w->opts.params(w->opts.params_cls, values) : 0;
    PGresult *res = nparams > 0
                        ? PQexecParams(conn, w->opts.sql, nparams, NULL, values, NULL, NULL, 0)
                        : PQexec(conn, w->opts.sql);
    int rc = -1;

    w->last_run_ms = now_ms();
    w->pending = false;
    *changed = false;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1 &&
        !PQgetisnull(res, 0, 0)) {
        *changed =
            sse_hub_publish(w->opts.hub, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        rc = 0;
    } else {
        char detail[256], q[300];
        pg_error_text(conn, res, detail, sizeof detail);
        log_warn("could not refresh watched query", "channel=%s error=%s", w->opts.channel,
                 log_quote(q, sizeof q, detail));
    }
    PQclear(res);
    return rc;
}

/* Connects, LISTENs and runs the query once. Returns the connection, or NULL with err. */
static PGconn *watch_connect(struct pgwatch *w, char *err, size_t errlen)
{
    PGconn *conn = pg_connect(w->opts.dsn, w->opts.app, NULL, 0, err, errlen);
    PGresult *res;
    char *ident, sql[160];
    bool changed;

    if (conn == NULL)
        return NULL;
    ident = PQescapeIdentifier(conn, w->opts.channel, strlen(w->opts.channel));
    if (ident == NULL) {
        pg_error_text(conn, NULL, err, errlen);
        PQfinish(conn);
        return NULL;
    }
    snprintf(sql, sizeof sql, "LISTEN %s", ident);
    PQfreemem(ident);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_error_text(conn, res, err, errlen);
        PQclear(res);
        PQfinish(conn);
        return NULL;
    }
    PQclear(res);
    /* after LISTEN: a change committed from here on is notified, one before is in the result */
    if (refresh(w, conn, &changed) != 0 && PQstatus(conn) != CONNECTION_OK) {
        pg_error_text(conn, NULL, err, errlen);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Reads what the server sent; returns the number of notifications drained, or -1 when the
 * connection is broken. */
static int drain_notifications(PGconn *conn)
{
    PGnotify *n;
    int count = 0;

    if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
        return -1;
    while ((n = PQnotifies(conn)) != NULL) {
        PQfreemem(n);
        count++;
    }
    return count;
}

static void *watch_main(void *arg)
{
    struct pgwatch *w = arg;
    PGconn *conn = NULL;
    struct backoff backoff;
    long long next_connect = 0;
    long long next_ka = now_ms() + w->opts.keepalive_ms;
    unsigned attempts = 0;
    char err[512], q[600];
    bool changed;

    backoff_init(&backoff, 100, 5000);
    while (!atomic_load(&w->stop)) {
        if (conn == NULL && now_ms() >= next_connect) {
            conn = watch_connect(w, err, sizeof err);
            attempts++;
            if (conn != NULL) {
                log_info("listening for notifications", "channel=%s attempts=%u", w->opts.channel,
                         attempts);
                attempts = 0;
                backoff_reset(&backoff);
            } else {
                long delay = backoff_next(&backoff);
                log_warn("could not listen for notifications",
                         "channel=%s attempt=%u retry_ms=%ld error=%s", w->opts.channel, attempts,
                         delay, log_quote(q, sizeof q, err));
                next_connect = now_ms() + delay;
            }
        }

        /* sleep until a notification, the keep-alive tick, the next connect attempt, a
         * coalesced or periodic run, or a stop */
        long long wake_at = conn == NULL && next_connect < next_ka ? next_connect : next_ka;
        long long run_at = next_run(w);
        if (conn != NULL && run_at < wake_at)
            wake_at = run_at;
        long long wait = wake_at - now_ms();
        struct pollfd p[2] = {{.fd = w->wake[0], .events = POLLIN},
                              {.fd = conn != NULL ? PQsocket(conn) : -1, .events = POLLIN}};
        int r = poll(p, 2, wait < 0 ? 0 : wait > 60000 ? 60000 : (int)wait);

        if (r < 0 && errno != EINTR) {
            log_error("poll failed", "channel=%s errno=%d", w->opts.channel, errno);
            break;
        }
        if (r > 0 && (p[0].revents & POLLIN))
            drain_wake(w);
        if (r > 0 && conn != NULL && p[1].revents != 0) {
            int n = drain_notifications(conn);
            if (n > 0 && now_ms() < w->last_run_ms + w->opts.min_interval_ms) {
                w->pending = true; /* run once when the interval is over */
                n = 0;
            }
            if (n < 0 ||
                (n > 0 && refresh(w, conn, &changed) != 0 && PQstatus(conn) != CONNECTION_OK)) {
                pg_error_text(conn, NULL, err, sizeof err);
                log_warn("lost the notification connection", "channel=%s error=%s", w->opts.channel,
                         log_quote(q, sizeof q, err));
                PQfinish(conn);
                conn = NULL;
                next_connect = 0; /* at once; backoff if that fails */
            }
        }

        if (conn != NULL && !atomic_load(&w->stop) && now_ms() >= next_run(w) &&
            refresh(w, conn, &changed) != 0 && PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            conn = NULL;
            next_connect = 0;
        }

        if (atomic_load(&w->stop) || now_ms() < next_ka)
            continue;
        next_ka = now_ms() + w->opts.keepalive_ms;
        changed = false;
        if (conn != NULL && refresh(w, conn, &changed) != 0 && PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            conn = NULL;
            next_connect = 0;
        }
        if (!changed)
            sse_hub_keepalive(w->opts.hub);
    }
    PQfinish(conn);
    return NULL;
}

struct pgwatch *pgwatch_start(const struct pgwatch_opts *opts, char *err, size_t errlen)
{
    struct pgwatch *w = xcalloc(1, sizeof *w);
    int rc;

    w->opts = *opts;
    atomic_init(&w->stop, false);
    if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "could not create a pipe: %s", strerror(errno));
        free(w);
        return NULL;
    }
    rc = pthread_create(&w->thread, NULL, watch_main, w);
    if (rc != 0) {
        snprintf(err, errlen, "could not start the watch thread: %s", strerror(rc));
        close(w->wake[0]);
        close(w->wake[1]);
        free(w);
        return NULL;
    }
    return w;
}

void pgwatch_stop(struct pgwatch *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    if (write(w->wake[1], "x", 1) < 0 && errno != EAGAIN)
        log_warn("could not wake the watch thread", "errno=%d", errno);
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
    free(w);
}
