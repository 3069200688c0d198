/* notifier: the query API's one LISTEN connection and one thread that wakes its suspended
 * connections (docs/architecture.md, "Live updates" and "Read your writes").
 *
 * The thread (lib/pg/pgwatch.h) LISTENs on every channel the API needs (events_applied for the
 * read-your-writes waits, the answer cache and the dashboard; mood_stats for the mood wall) and
 * dispatches each notification to what it concerns:
 * - events_applied: its payload (the keys the consumer's transaction changed,
 *   migrations/read/functions/35_notify.sql) to the answer cache (on_payload), a count to
 *   the read-your-writes hub (consistency.h), and the feeds of that channel marked dirty;
 * - any channel: the feeds (feed.h) of that channel marked dirty.
 * Then, in the same thread with the same connection, its tick runs what is due: one query that
 * checks the tokens of the parked read-your-writes waits (only the waits whose events are
 * applied are woken), the dirty or periodic feeds (which wake their own streams only), the
 * keep-alives, and the deadlines of the one parking lot (lib/http/parking.h), which holds the
 * event streams and the read-your-writes waits alike.
 *
 * When the query API reads a streaming replica (opts.replica), what events_applied brings waits
 * until the replica has replayed it (replica.h) before it reaches the cache and the waits.
 *
 * While the connection is down the cache is told (on_listen(cls, NULL): it empties and is
 * bypassed); once it is back (on_listen(cls, conn)), every parked read-your-writes wait checks
 * again and every feed runs, since notifications may have been missed meanwhile. */
#ifndef CQ_QUERY_NOTIFIER_H
#define CQ_QUERY_NOTIFIER_H

#include "feed.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define NOTIFIER_MAX_FEEDS 4

struct consistency_hub;
struct parking;
struct replica;

struct notifier_opts {
    const char *dsn; /* must outlive the notifier */
    const char *app; /* application_name of the listening connection */
    struct parking *lot;
    struct consistency_hub *consistency; /* NULL: no read-your-writes waits */
    /* Optional, called in the thread (the answer cache, docs/api.md#caching): on_listen(cls,
     * conn) right after LISTEN succeeded, on_listen(cls, NULL) when the connection is lost or
     * the thread stops; on_payload(cls, payload) for each notification on events_applied,
     * before the waits are woken. */
    void (*on_listen)(void *cls, PGconn *conn);
    void (*on_payload)(void *cls, const char *payload);
    void *cls;
    /* Optional (the query API reads a streaming replica, dsn being its primary; replica.h):
     * events_applied's payloads are held until the replica has replayed them, and only then
     * reach on_payload and the read-your-writes waits; while the replica is behind (a batch
     * released at its deadline) the cache is told as when the connection is lost (on_listen(cls,
     * NULL)), and on_listen(cls, conn) again once it caught up. After a reconnect every answer is
     * forgotten, and every wait checks, again once the replica has replayed the primary's WAL up
     * to then. Owned by the caller; used in the thread only. */
    struct replica *replica;
};

struct notifier;

struct notifier *notifier_new(const struct notifier_opts *opts);
/* Before notifier_start: one more feed (and its channel). -1 when there are too many. */
int notifier_add_feed(struct notifier *n, const struct feed_opts *opts);
/* Starts the thread (which keeps trying while the database is down). -1 with err. */
int notifier_start(struct notifier *n, char *err, size_t errlen);
/* Stops and joins the thread (no more wake-ups but those of the lot's close). */
void notifier_stop(struct notifier *n);
void notifier_free(struct notifier *n);

/* The thread's steps, for tests: a notification, and a tick (conn may be NULL). */
void notifier_dispatch(struct notifier *n, const char *channel, const char *payload);
int notifier_tick(struct notifier *n, PGconn *conn, long long now_ms, long long *next_ms);
/* For tests: the check of the read-your-writes tokens (default: q_events_applied on the
 * notifier's connection). */
void notifier_set_check(struct notifier *n,
                        int (*check)(void *cls, const char *const *arrays, size_t count,
                                     bool *applied),
                        void *cls);
/* Whether feed i (in the order added) is dirty: notified since its last run. */
bool notifier_feed_dirty(const struct notifier *n, size_t i);

#endif
