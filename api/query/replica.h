/* replica: read-your-writes when the query API reads a streaming replica of the read DB
 * (QUERY_DATABASE_URL) while its notifier LISTENs on the primary (QUERY_LISTEN_DATABASE_URL;
 * docs/scaling.md#read-replica).
 *
 * A notification on events_applied arrives after the consumer's commit on the primary, but the
 * replica may not have replayed that commit yet: waking a read-your-writes wait or invalidating
 * a cached answer then would let the wait read the replica too early, or a cache refill read and
 * keep the old answer. So, in the notifier's one thread, the payloads are held (replica_hold)
 * and, at the next tick, closed into a batch at the primary's pg_current_wal_lsn() (past the
 * commit that notified, commits being synchronous); the batch is released (its keys to the
 * answer cache, then the waits woken) once the replica's pg_last_wal_replay_lsn() has reached
 * that LSN. The replica is polled on a connection of its own with the one backoff
 * (lib/base/backoff.h: 1 ms doubling up to 100 ms while a batch waits), and a batch is never
 * held longer than wait_ms (CONSISTENCY_WAIT_MS): then it is released anyway and the replica
 * counts as behind (replica_in_sync false; the answer cache is bypassed) until it has replayed
 * every released batch. A replica connection that is not in recovery (a promoted replica, or a
 * URL that names the primary) has every commit: batches go at once.
 *
 * The lag (the primary's last LSN minus the replica's replay LSN, in bytes) is measured at each
 * poll and at least once a second, for /metrics (query_replica_lag_bytes, query_replica_up,
 * query_replica_wait_timeouts_total, docs/observability.md).
 *
 * Threads: every function but the metrics' collection runs in the notifier's thread. */
#ifndef CQ_QUERY_REPLICA_H
#define CQ_QUERY_REPLICA_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define REPLICA_POLL_MIN_MS 1
#define REPLICA_POLL_MAX_MS 100
#define REPLICA_MEASURE_MS 1000
#define REPLICA_MAX_BATCHES 32
#define REPLICA_MAX_KEYS_BYTES 65536 /* a batch's keys beyond this become "*" */

struct metrics;
struct replica;

struct replica_opts {
    const char *dsn;         /* the replica (QUERY_DATABASE_URL); must outlive the replica */
    const char *app;         /* application_name of its connection */
    long wait_ms;            /* the longest a batch is held */
    struct metrics *metrics; /* NULL: none registered */
};

/* The two queries, replaceable for tests (replica_set_ops). Each returns 0, or -1 when it could
 * not tell. primary_lsn runs on the notifier's connection; replay_lsn on the replica's, which
 * the default makes, and makes again after a failure (at most every 100 ms doubling to 5 s);
 * *standby is false when that server is not in recovery (it has every commit). */
struct replica_ops {
    int (*primary_lsn)(void *cls, PGconn *primary, uint64_t *lsn);
    int (*replay_lsn)(void *cls, uint64_t *lsn, bool *standby);
};

struct replica *replica_new(const struct replica_opts *opts);
/* Closes the replica's connection. */
void replica_free(struct replica *r);
void replica_set_ops(struct replica *r, const struct replica_ops *ops, void *cls);

/* A notification's payload (keys separated by spaces; may be empty): held until released. */
void replica_hold(struct replica *r, const char *payload);

/* What a released batch carries: its keys (space-separated, "" when none). */
typedef void (*replica_release_fn)(void *cls, const char *keys);

/* In the notifier's tick, with its connection to the primary (NULL while there is none: the
 * default primary_lsn then fails, and what is held waits for the next tick): closes
 * the payloads held since the last tick into a batch at the primary's LSN, polls the replica when
 * a batch waits or a measurement is due, and releases, oldest first, every batch the replica has
 * replayed or whose deadline passed. Lowers *next_ms to its next poll. Returns -1 when the
 * primary's LSN could not be read (the payloads stay held for the next tick), else 0. */
int replica_tick(struct replica *r, PGconn *primary, long long now_ms, long long *next_ms,
                 replica_release_fn release, void *cls);

/* False from a batch released at its deadline until the replica has replayed every batch
 * released; true otherwise. */
bool replica_in_sync(const struct replica *r);
/* Batches waiting for the replica. */
unsigned replica_waiting(const struct replica *r);

/* Parses a pg_lsn's text ("16/B374D848"). Returns 0, or -1. */
int replica_lsn_parse(const char *text, uint64_t *lsn);

#endif
