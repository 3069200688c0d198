/* ports: everything the consumer's engine does to the outside world, as one table of functions,
 * so that the engine's decisions (when to reconnect which connection, retry a batch, count a
 * redelivered event first, give a batch up to redelivery) can be unit-tested against a fake
 * (tests/unit/test_consumer_engine.c) while the service runs consumer_ports_live: the broker
 * (lib/mq, receive.h, status.h), the read DB (project.h, crashguard.h, deadletter.h) and the
 * pauses. Each function is the live one's contract: see the header named beside it. */
#ifndef CQ_CONSUMER_PORTS_H
#define CQ_CONSUMER_PORTS_H

#include "crashguard.h"
#include "deadletter.h"
#include "domain/domain.h"
#include "mq/event_batch.h"
#include "mq/mq.h"
#include "partitions.h"
#include "pg/pg.h"
#include "project.h"
#include "receive.h"
#include "status.h"

#include <stdbool.h>
#include <stddef.h>

struct consumer_ports {
    /* the broker: mq_connect_retry (NULL: a stop was requested), mq_close; subscribe sets the
     * prefetch window and consumes queue with manual acks, as consumer tag (NULL: the broker's
     * choice); cancel ends the subscription tag (both: 0, or -1 with err) */
    amqp_connection_state_t (*mq_connect)(const struct mq_broker *b, const struct mq_topology *t,
                                          unsigned flags);
    int (*subscribe)(amqp_connection_state_t conn, const char *queue, const char *tag,
                     long prefetch, char *err, size_t errlen);
    int (*cancel)(amqp_connection_state_t conn, const char *tag, char *err, size_t errlen);
    void (*mq_close)(amqp_connection_state_t conn, bool polite);
    /* the read DB: pg_connect_retry with project_stmts (NULL: a stop was requested), PQfinish;
     * check_retention: 0, or -2 when PROCESSED_EVENTS_RETENTION is invalid (logged) */
    PGconn *(*pg_connect)(const char *dsn);
    void (*pg_close)(PGconn *pg);
    int (*check_retention)(PGconn *pg, const char *retention);
    /* the partitions' leases (partitions.h): partitions_join_sql, partitions_claim_sql,
     * partitions_leave_sql */
    int (*join)(PGconn *pg, const char *holder, long lease_ms, char *err, size_t errlen);
    int (*claim)(PGconn *pg, const char *holder, long count, long lease_ms, bool *held, char *err,
                 size_t errlen);
    void (*leave)(PGconn *pg, const char *holder);
    /* receive_fill, consumer_status_take_notices, crashguard_check, crashguard_settled,
     * project_batch, deadletter_flush, consumer_status_tick */
    int (*fill)(amqp_connection_state_t conn, struct receive_batch *b, long first_wait_ms,
                char *err, size_t errlen);
    int (*take_notices)(struct receive_batch *b, amqp_connection_state_t mq, PGconn *pg, char *err,
                        size_t errlen);
    enum project_status (*guard)(const struct crashguard_ctx *ctx, struct receive_batch *b,
                                 bool *counted, char *err, size_t errlen);
    void (*guard_settled)(PGconn *pg, const struct receive_batch *b);
    enum project_status (*project)(const struct project_ctx *ctx, struct receive_batch *b,
                                   struct event_batch *json, char *err, size_t errlen);
    int (*flush_dead_letters)(struct deadletter *dl, PGconn *pg, char *err, size_t errlen);
    int (*status_tick)(struct consumer_status *s, amqp_connection_state_t conn, PGconn *pg,
                       const struct mq_topology *t, const struct domain_names *names, char *err,
                       size_t errlen);
    /* signals_sleep_ms: a pause that a stop request ends */
    void (*sleep_ms)(long ms);
};

extern const struct consumer_ports consumer_ports_live;

#endif
