/* ports: everything the relay's engine does to the outside world, as one table of functions, so
 * that the engine's decisions (lease, fetch, send, settle, mark, hold back, release) can be
 * unit-tested against a fake (tests/unit/test_relay_engine.c) while the services run
 * relay_ports_live: the write DB (outbox.h, purge.h), the broker (lib/mq, publish.h, status.h),
 * the waits on their sockets and the pauses. Each function is the live one's contract: see the
 * header named beside it. */
#ifndef CQ_RELAY_PORTS_H
#define CQ_RELAY_PORTS_H

#include "mq/mq.h"
#include "outbox.h"
#include "pg/pg.h"
#include "publish.h"
#include "purge.h"
#include "relay_metrics.h"
#include "status.h"

#include <stdbool.h>
#include <stddef.h>

struct relay_ports {
    /* the write DB: pg_connect_retry with outbox_stmts (NULL: a stop was requested), PQfinish */
    PGconn *(*pg_connect)(const char *dsn);
    void (*pg_close)(PGconn *pg);
    int (*check_retention)(PGconn *pg, const char *retention, char *err, size_t errlen);
    int (*lease_acquire)(PGconn *pg, const char *holder, long lease_ms, struct outbox_lease *lease,
                         char *err, size_t errlen);
    int (*lease_renew)(PGconn *pg, const char *holder, long lease_ms, bool *held, char *err,
                       size_t errlen);
    int (*lease_release)(PGconn *pg, const char *holder, char *err, size_t errlen);
    int (*listen)(PGconn *pg, char *err, size_t errlen);
    int (*set_notify_wanted)(PGconn *pg, bool wanted, char *err, size_t errlen);
    /* the backlog sample, at most once a second (relay_metrics_sample_backlog) */
    void (*sample_backlog)(struct relay_metrics *m, PGconn *pg);
    /* before a fetch: a purge when due (purge_run), then dropping the notifications the fetch
     * answers (outbox_forget_notifications) */
    int (*housekeeping)(PGconn *pg, struct purge *p, char *err, size_t errlen);
    int (*fetch)(PGconn *pg, long limit, const char *exclude_ids, struct outbox_batch *b, char *err,
                 size_t errlen);
    int (*mark)(PGconn *pg, const char *holder, const struct outbox_batch *b,
                const struct mq_confirms *c, size_t *marked, char *err, size_t errlen);
    int (*wait_notify)(PGconn *pg, long timeout_ms, bool *notified, char *err, size_t errlen);
    /* the broker: mq_connect_retry in confirm mode (NULL: a stop was requested), the status
     * channel (relay_status_open), mq_close */
    amqp_connection_state_t (*mq_connect)(const struct mq_broker *b, const struct mq_topology *t);
    int (*status_open)(amqp_connection_state_t conn, char *err, size_t errlen);
    void (*mq_close)(amqp_connection_state_t conn, bool polite);
    int (*send)(struct publisher *p, const struct outbox_batch *b, struct mq_confirms *c,
                long long deadline_ms, char *err, size_t errlen);
    int (*read_confirms)(amqp_connection_state_t conn, struct mq_confirms *const *cs, size_t n,
                         struct mq_watch *w, char *err, size_t errlen);
    int (*service)(amqp_connection_state_t conn, struct mq_watch *w, char *err, size_t errlen);
    int (*status_publish)(const struct relay_status *s, amqp_connection_state_t conn,
                          const char *exchange, const struct relay_status_figures *f, char *err,
                          size_t errlen);
    /* frames already read by librabbitmq and not handled yet */
    bool (*mq_buffered)(amqp_connection_state_t conn);
    /* waits up to timeout_ms for input on the broker's socket and, with pg_too, on pg's */
    void (*wait_sockets)(amqp_connection_state_t conn, PGconn *pg, bool pg_too, long timeout_ms);
    /* signals_sleep_ms: a pause that a stop request ends */
    void (*sleep_ms)(long ms);
};

extern const struct relay_ports relay_ports_live;

#endif
