/* engine: the relay's loop. Publishes the write DB's outbox to RabbitMQ (transactional outbox
 * pattern).
 *
 * One relay at a time is the leader: it holds a lease in the write DB (relay_lease, renewed from
 * this loop every RELAY_LEASE_MS / 3), which keeps per-aggregate order; others stand by and try
 * to take the lease every poll interval. A standby takes over once the lease has expired and
 * fences the old leader (terminating its session); a leader that cannot renew stops publishing,
 * drops its batches in flight without marking them and stands by, and its marks are refused by
 * the database once it is deposed. The leader fetches unpublished rows in id order,
 * publishes them with publisher confirms and marks only the confirmed rows published. Failures
 * never mark a row, so a row is published at least once; the consumer drops duplicates by event
 * id. Several batches are in flight at once (up to RELAY_MAX_IN_FLIGHT, a ring: inflight.h): each
 * turn of the loop (relay_turn) settles the confirms already received, marks and drops the oldest
 * batches once fully confirmed, fetches the next rows (leaving out every in-flight row by id) and
 * sends them at once, without waiting for confirms; with nothing to send it waits on both sockets
 * (a confirm, or a NOTIFY) until the oldest batch's confirm deadline, 1 ms at most while nobody
 * notifies, so that a row committed meanwhile never waits for a confirm. When the outbox is
 * drained and nothing is in flight the relay asks for NOTIFYs (relay_state.notify_wanted, in
 * RELAY_NOTIFY_MODE=idle) and sleeps on the connection's socket, with the poll interval as a
 * fallback; after a send it switches them off so committing writers don't pay for them. A failure
 * drops the connection that failed and releases every batch in flight (after a broker failure
 * their acked rows are marked first). The leader also purges published rows older than
 * OUTBOX_RETENTION and old idempotency keys (purge.h).
 *
 * A row the broker returns as unroutable (mandatory publish, no queue bound) is a failed publish:
 * it is not marked, nor is any row sent after it (inflight.h), and the relay publishes nothing
 * new until the ring drained and a backoff passed, then publishes again from the oldest
 * unpublished row, one batch at a time, until a batch comes back without returns; /health is
 * degraded meanwhile. While the broker blocks the connection (connection.blocked: a resource
 * alarm) the relay publishes nothing, and every publish waits for a writable socket only until a
 * deadline, so a stop request is honoured within a second.
 *
 * FAULT_PAUSE_AFTER_PUBLISH_MS (tests only, 0 = off) makes the relay sleep after the broker
 * confirmed a batch and before it marks the rows published, logging "fault hook: ..." first, so
 * that a test can kill it exactly there. */
#ifndef CQ_RELAY_ENGINE_H
#define CQ_RELAY_ENGINE_H

#include "base/backoff.h"
#include "config.h"
#include "inflight.h"
#include "mq/mq.h"
#include "pg/pg.h"
#include "ports.h"
#include "publish.h"
#include "purge.h"
#include "relay_metrics.h"
#include "service/daemon.h"
#include "status.h"

#include <stdbool.h>
#include <stddef.h>

/* What the relay last wrote to relay_state.notify_wanted (unknown after a (re)connect). */
enum notify_flag { FLAG_UNKNOWN, FLAG_ON, FLAG_OFF };

struct relay {
    const struct relay_ports *io; /* the outside world (ports.h): relay_ports_live, or a fake */
    const struct relay_config *cfg;
    const struct daemon_env *env; /* the database URL, the broker, the topology (daemon.h) */
    bool idle_mode;               /* RELAY_NOTIFY_MODE=idle */
    PGconn *pg;
    bool leader;
    bool standby_logged;
    enum notify_flag flag;
    struct publisher pub; /* pub.conn is NULL while disconnected */
    /* The batches sent and not yet marked, oldest first, with consecutive delivery tags. Empty
     * whenever either connection is down: a failure releases them (relay_drop_pg,
     * relay_broker_failed), and their unmarked rows are fetched and published again. */
    struct inflight ring;
    struct mq_watch watch;       /* returns and connection.blocked of pub.conn */
    struct backoff mq_retry;     /* pause before reconnecting after a failed batch */
    char holder[128];            /* this relay's id in relay_lease: host:pid:random */
    long long lease_until_ms;    /* the leader publishes only before this (deadline_now_ms) */
    long long renew_at_ms;       /* when the leader renews next */
    struct backoff return_retry; /* pause before publishing returned events again */
    long long hold_until_ms;     /* the ring stalled on a return: publish again after this */
    bool unroutable;             /* returned events are held back (health degraded) */
    struct purge purge;
    bool retention_checked;
    bool config_error;            /* OUTBOX_RETENTION turned out invalid: stop, exit 2 */
    struct relay_metrics metrics; /* GET /metrics on RELAY_METRICS_PORT (relay_metrics.h) */
    struct relay_status status;   /* the leader's status message (status.h) */
};

/* Fills r (nothing connected yet); io, cfg and env must outlive it. The metrics are registered
 * on env->metrics (the daemon's registry, lib/service/daemon.h). */
void relay_init(struct relay *r, const struct relay_ports *io, const struct relay_config *cfg,
                const struct daemon_env *env);
/* Runs the loop until a stop is requested (or OUTBOX_RETENTION turns out invalid), then marks
 * what is confirmed, releases the rest and the lease, and closes both connections. Returns the
 * exit status: 0, or 2 on that configuration error. */
int relay_run(struct relay *r);
/* relay_run's parts: one step (connect what is missing, then one turn: -1 when a stop was
 * requested while connecting, or OUTBOX_RETENTION is invalid), and the exit (returns the status).
 */
int relay_step(struct relay *r);
int relay_close(struct relay *r);

/* --- between the engine's files (engine.c, lease.c, batches.c, wait.c) ---------------------- */

/* engine.c: one turn of the loop; dropping a connection after a failure. */
void relay_turn(struct relay *r);
void relay_drop_pg(struct relay *r, const char *err);
void relay_drop_mq(struct relay *r, const char *err);
/* lease.c: the leader lease and the notify flag. */
int relay_set_flag(struct relay *r, enum notify_flag flag);
int relay_keep_lease(struct relay *r);
int relay_start(struct relay *r);
/* batches.c: the batches in flight. */
int relay_settle_all(struct relay *r);
void relay_on_return(void *arg, const struct mq_returned *ret);
void relay_broker_failed(struct relay *r, const char *err);
int relay_retire(struct relay *r, char *err, size_t errlen);
int relay_feed(struct relay *r, bool *sent);
/* wait.c: with nothing sent, waiting for a NOTIFY or a confirm. */
void relay_idle(struct relay *r);
void relay_wait_busy(struct relay *r);

#endif
