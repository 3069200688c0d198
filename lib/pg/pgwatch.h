/* pgwatch: keeps a struct sse_hub fed with the result of one query, refreshed whenever a
 * PostgreSQL channel is notified (LISTEN/NOTIFY, no polling).
 *
 * One thread with its own connection: LISTEN channel, then wait on the connection's socket with
 * poll(). Each wake-up drains every pending notification and runs the query once, so a burst of
 * notifications costs one query, and publishes the result to the hub (which wakes the streams
 * only if it changed). Every keepalive_ms the query runs too (a safety net, should a
 * notification ever be missed) and, when nothing changed, the streams get a keep-alive. A lost
 * connection is made again with exponential backoff (100 ms up to 5 s); right after a
 * (re)connect the query runs, so changes made meanwhile are not missed.
 *
 * Optionally (used by the dashboard): min_interval_ms coalesces notifications, so that the query
 * runs at most once per interval however often the channel fires (a notification inside the
 * interval makes one run at its end); refresh_ms runs the query that often even without a
 * notification, for documents with figures that change with time; params supplies the query's
 * parameters before each run. */
#ifndef CQ_PGWATCH_H
#define CQ_PGWATCH_H

#include "http/sse.h"

struct pgwatch_opts {
    const char *dsn; /* strings and hub must outlive the watch */
    const char *app; /* application_name */
    const char *channel;
    const char *sql; /* returns one row with one non-NULL text column: the document */
    long keepalive_ms;
    struct sse_hub *hub;
    long min_interval_ms; /* 0: run on every wake-up */
    long refresh_ms;      /* 0: only on notifications (and each keepalive_ms) */
    /* NULL: sql has no parameters. Else called in the watch thread before each run: sets
     * values[i] (text, or NULL for SQL NULL; the strings must stay valid until the next call)
     * and returns their number, at most PGWATCH_MAX_PARAMS. */
    int (*params)(void *cls, const char **values);
    void *params_cls;
};

#define PGWATCH_MAX_PARAMS 8

struct pgwatch;

/* Starts the thread. NULL with err when it cannot be started (not when the database is down:
 * the thread keeps trying). */
struct pgwatch *pgwatch_start(const struct pgwatch_opts *opts, char *err, size_t errlen);
/* Stops the thread (interrupting a wait or a backoff), joins it and frees w. */
void pgwatch_stop(struct pgwatch *w);

#endif
