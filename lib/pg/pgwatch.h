/* pgwatch: the one LISTEN loop. One thread with its own connection LISTENs on a set of
 * PostgreSQL channels and hands every notification to a callback; a tick callback runs after
 * each wake-up, with the connection, so the owner can run its queries and timers (coalesced
 * refreshes, keep-alives, deadlines) on the same thread and connection. No polling of the
 * database: the thread sleeps in poll() on the connection's socket until a notification, the
 * time the tick asked for, pgwatch_wake or a stop.
 *
 * A lost connection (or one a callback reports broken) is made again with the one backoff
 * (lib/base/backoff.h, 100 ms doubling up to 5 s); on_lost tells the owner that notifications
 * may be missed until on_connect tells it the channels are listened to again (then it should
 * assume that anything changed meanwhile). No HTTP here: what a notification wakes is the
 * owner's business. */
#ifndef CQ_PGWATCH_H
#define CQ_PGWATCH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define PGWATCH_MAX_CHANNELS 8

struct pgwatch_opts {
    const char *dsn; /* the strings must outlive the watch */
    const char *app; /* application_name */
    const char *channels[PGWATCH_MAX_CHANNELS];
    size_t nchannels;
    /* All called in the watch thread, in this order over a connection's life: on_connect(conn)
     * once every channel is listened to (it may run queries; -1: the connection broke), then
     * on_notify for each notification and on_tick after each wake-up, and on_lost when the
     * connection is lost or the thread stops. on_tick also runs while there is no connection
     * (conn NULL); it lowers *next_ms (CLOCK_MONOTONIC ms, deadline_now_ms) to when it wants to
     * run again at the latest, and returns -1 when a query found conn broken. Any may be NULL. */
    int (*on_connect)(void *cls, PGconn *conn);
    void (*on_notify)(void *cls, const char *channel, const char *payload);
    int (*on_tick)(void *cls, PGconn *conn, long long now_ms, long long *next_ms);
    void (*on_lost)(void *cls);
    void *cls;
};

struct pgwatch;

/* Starts the thread. NULL with err when it cannot be started (not when the database is down:
 * the thread keeps trying). */
struct pgwatch *pgwatch_start(const struct pgwatch_opts *opts, char *err, size_t errlen);
/* From any thread: the watch thread runs on_tick soon (never blocks). */
void pgwatch_wake(struct pgwatch *w);
/* Stops the thread (interrupting a wait or a backoff), joins it and frees w. */
void pgwatch_stop(struct pgwatch *w);

#endif
