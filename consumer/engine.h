/* engine: the consumer's loop. Projects events from the read-model queue into the read DB.
 *
 * Takes up to CONSUMER_BATCH_SIZE deliveries at a time (prefetch CONSUMER_PREFETCH, manual acks),
 * applies them in one read-DB transaction and acks them after the commit (see project.h). An
 * event that cannot be applied is retried later through the retry queue, a bounded number of
 * times, then dead-lettered (deadletter.h). Lost connections are re-made with backoff; the broker
 * redelivers what was not acked and the read DB drops events it already applied, so nothing is
 * lost or applied twice. */
#ifndef CQ_CONSUMER_ENGINE_H
#define CQ_CONSUMER_ENGINE_H

#include "config.h"
#include "consumer_metrics.h"
#include "deadletter.h"
#include "domain/domain.h"
#include "mq/event_batch.h"
#include "mq/mq.h"
#include "partitions.h"
#include "pg/pg.h"
#include "ports.h"
#include "service/daemon.h"
#include "receive.h"
#include "refresher.h"
#include "status.h"

#include <stdbool.h>

struct consumer {
    const struct consumer_ports
        *io; /* the outside world (ports.h): consumer_ports_live, or a fake */
    const struct consumer_config *cfg;
    const struct daemon_env *env; /* the database URL, the broker, the topology, the names */
    amqp_connection_state_t mq;   /* consuming */
    struct deadletter dl;         /* dl.conn: confirm-mode, for the retry and dead-letter queues */
    PGconn *pg;
    struct receive_batch batch;
    struct event_batch json;
    struct consumer_metrics metrics; /* GET /metrics on CONSUMER_METRICS_PORT */
    struct consumer_status status;   /* relay status messages, queue readings (status.h) */
    struct refresher *refresher;     /* the views' refresher thread (refresher.h) */
    struct partitions parts;         /* CONSUMER_PARTITIONS > 1: the partitions held */
    bool retention_checked;
};

/* Fills c and starts the refresher thread (nothing connected yet); io, cfg and env must outlive
 * it. The metrics are registered on env->metrics (the daemon's registry, lib/service/daemon.h). */
void consumer_init(struct consumer *c, const struct consumer_ports *io,
                   const struct consumer_config *cfg, const struct daemon_env *env);
/* Runs the loop until a stop is requested. Returns the exit status: 0, or 2 on a bad
 * PROCESSED_EVENTS_RETENTION found once connected. */
int consumer_run(struct consumer *c);
/* One pass of consumer_run: connect what is missing, receive a batch, take its notices out,
 * project the rest, report. Returns 0, -1 when a stop was requested while connecting, 2 on a bad
 * PROCESSED_EVENTS_RETENTION. */
int consumer_step(struct consumer *c);
/* Stops the refresher, closes the connections and frees everything consumer_init made. */
void consumer_close(struct consumer *c);

#endif
