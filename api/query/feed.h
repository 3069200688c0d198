/* feed: one document of an event stream (lib/http/sse.h), kept fresh by the notifier
 * (notifier.h): the result of one query, run again when its channel is notified, with the
 * query API's one LISTEN connection, in the notifier's thread.
 *
 * A notification on the feed's channel marks it dirty; the notifier's tick runs the query and
 * publishes the result to the hub (which wakes the hub's streams only if it changed). Every
 * keepalive_ms the query runs too (a safety net, should a notification ever be missed) and, when
 * nothing changed, the streams get a keep-alive (also while the database is unreachable). Right
 * after a (re)connect the query runs, so changes made meanwhile are not missed.
 *
 * Optionally (used by the dashboard): min_interval_ms coalesces notifications, so that the query
 * runs at most once per interval however often the channel fires (a notification inside the
 * interval makes one run at its end); refresh_ms runs the query that often even without a
 * notification, for documents with figures that change with time; params supplies the query's
 * parameters before each run. */
#ifndef CQ_QUERY_FEED_H
#define CQ_QUERY_FEED_H

#include <libpq-fe.h>
#include <stdbool.h>

#define FEED_MAX_PARAMS 8

struct sse_hub;

struct feed_opts {
    const char *channel; /* the strings and the hub must outlive the feed */
    const char *sql;     /* returns one row with one non-NULL text column: the document */
    struct sse_hub *hub;
    long keepalive_ms;
    long min_interval_ms; /* 0: run on every notification */
    long refresh_ms;      /* 0: only on notifications (and each keepalive_ms) */
    /* NULL: sql has no parameters. Else called in the notifier's thread before each run: sets
     * values[i] (text, or NULL for SQL NULL; valid until the next call) and returns their
     * number, at most FEED_MAX_PARAMS. */
    int (*params)(void *cls, const char **values);
    void *params_cls;
};

/* The notifier's state of one feed (its thread only). */
struct feed {
    struct feed_opts opts;
    long long last_run_ms; /* when the query last ran */
    long long next_ka_ms;  /* the next keep-alive round */
    bool dirty;            /* notified since the last run */
};

void feed_init(struct feed *f, const struct feed_opts *opts, long long now_ms);
/* A notification on channel: marks the feed dirty when it is the feed's. */
void feed_notify(struct feed *f, const char *channel);
/* Runs the query now (after a connect). -1 when conn broke. */
int feed_run(struct feed *f, PGconn *conn, long long now_ms);
/* What is due by now_ms: a run (dirty and the interval over, the periodic refresh, the keep-alive
 * round) and the keep-alive; conn may be NULL. Lowers *next_ms to when the feed is next due.
 * -1 when conn broke. */
int feed_tick(struct feed *f, PGconn *conn, long long now_ms, long long *next_ms);

#endif
