/* consumer: projects events from the read-model queue into the read DB.
 *
 * Takes up to CONSUMER_BATCH_SIZE deliveries at a time (prefetch CONSUMER_PREFETCH, manual acks),
 * applies them in one read-DB transaction and acks them after the commit (see project.h). An
 * event that cannot be applied is retried later through the retry queue, a bounded number of
 * times, then dead-lettered (deadletter.h). Lost connections are re-made with backoff; the broker
 * redelivers what was not acked and the read DB drops events it already applied, so nothing is
 * lost or applied twice. */
#include "base/backoff.h"
#include "service/cli.h"
#include "base/config.h"
#include "consumer_metrics.h"
#include "crashguard.h"
#include "deadletter.h"
#include "mq/event_batch.h"
#include "base/log.h"
#include "mq/mq.h"
#include "pg/pg.h"
#include "project.h"
#include "receive.h"
#include "refresher.h"
#include "base/signals.h"
#include "status.h"
#include "service/svc_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FIRST_WAIT_MS 250        /* bounded, so that a stop request is seen promptly */
#define CONFIRM_TIMEOUT_MS 30000 /* for retry and dead-letter publishes */

struct consumer_config {
    const char *read_database_url;  /* CONSUMER_DATABASE_URL, else READ_DATABASE_URL */
    const char *owner_database_url; /* READ_DATABASE_URL */
    const char *broker_url;
    const char *exchange;
    const char *queue;
    const char *mood_queue;
    const char *log_level;
    long prefetch;
    long batch_size;
    long mv_refresh_interval_ms;
    long max_attempts;
    long early_max_attempts;
    long retry_delay_ms;
    const char *processed_events_retention; /* a PostgreSQL interval */
    long purge_interval_ms;
    long status_interval_ms;
    long fault_pause_before_commit_ms; /* test-only fault hooks, see project.h */
    long fault_pause_after_commit_ms;
    const char *fault_abort_marker; /* test only: abort() on an event whose body holds it */
};

#define VAR(name, type, def, field, min, max)                                                      \
    {                                                                                              \
        name, type, def, offsetof(struct consumer_config, field), min, max                         \
    }
static const struct config_var consumer_vars[] = {
    /* the consumer owns the read model: both name the read DB's owner; "" falls back in main */
    VAR("CONSUMER_DATABASE_URL", CONFIG_STRING, "", read_database_url, 0, 0),
    VAR("READ_DATABASE_URL", CONFIG_STRING, "", owner_database_url, 0, 0),
    VAR("BROKER_URL", CONFIG_STRING, NULL, broker_url, 0, 0),
    VAR("AMQP_EXCHANGE", CONFIG_STRING, "cqrs.events", exchange, 0, 0),
    VAR("AMQP_QUEUE", CONFIG_STRING, "read_model", queue, 0, 0),
    VAR("MOOD_QUEUE", CONFIG_STRING, "mood_events", mood_queue, 0, 0),
    VAR("LOG_LEVEL", CONFIG_STRING, "info", log_level, 0, 0),
    VAR("CONSUMER_PREFETCH", CONFIG_INT, "1000", prefetch, 1, 65535),
    VAR("CONSUMER_BATCH_SIZE", CONFIG_INT, "500", batch_size, 1, 10000),
    VAR("MV_REFRESH_INTERVAL_MS", CONFIG_INT, "500", mv_refresh_interval_ms, 0, 3600000),
    VAR("CONSUMER_MAX_ATTEMPTS", CONFIG_INT, "5", max_attempts, 1, 1000),
    VAR("CONSUMER_EARLY_MAX_ATTEMPTS", CONFIG_INT, "60", early_max_attempts, 1, 100000),
    VAR("CONSUMER_RETRY_DELAY_MS", CONFIG_INT, "1000", retry_delay_ms, 0, 3600000),
    VAR("FAULT_PAUSE_BEFORE_COMMIT_MS", CONFIG_INT, "0", fault_pause_before_commit_ms, 0, 600000),
    VAR("FAULT_PAUSE_AFTER_COMMIT_MS", CONFIG_INT, "0", fault_pause_after_commit_ms, 0, 600000),
    VAR("FAULT_ABORT_ON_MARKER", CONFIG_STRING, "", fault_abort_marker, 0, 0),
    /* processed_events rows (the deduplication record) are kept this long, then purged by the
     * refresher thread every CONSUMER_PURGE_INTERVAL_MS (docs/reliability.md) */
    VAR("PROCESSED_EVENTS_RETENTION", CONFIG_STRING, "7 days", processed_events_retention, 0, 0),
    VAR("CONSUMER_PURGE_INTERVAL_MS", CONFIG_INT, "5000", purge_interval_ms, 0, 86400000),
    /* the queue readings for the dashboard (status.h) */
    VAR("CONSUMER_STATUS_INTERVAL_MS", CONFIG_INT, "1000", status_interval_ms, 100, 60000),
};
#undef VAR

struct consumer {
    const struct consumer_config *cfg;
    const struct mq_broker *broker;
    struct mq_topology topo;
    amqp_connection_state_t mq; /* consuming */
    struct deadletter dl;       /* dl.conn: confirm-mode, for the retry and dead-letter queues */
    PGconn *pg;
    struct receive_batch batch;
    struct event_batch json;
    struct consumer_metrics *metrics; /* GET /metrics on CONSUMER_METRICS_PORT */
    struct consumer_status status;    /* relay status messages, queue readings (status.h) */
    bool retention_checked;
};

/* Sets the prefetch window and subscribes to the queue with manual acks. */
static int consumer_subscribe(struct consumer *c, char *err, size_t errlen)
{
    amqp_rpc_reply_t r;
    char detail[256];

    amqp_basic_qos(c->mq, MQ_CHANNEL, 0, (uint16_t)c->cfg->prefetch, 0);
    r = amqp_get_rpc_reply(c->mq);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "could not set prefetch: %s",
                 mq_reply_text(r, detail, sizeof detail));
        return -1;
    }
    amqp_basic_consume(c->mq, MQ_CHANNEL, amqp_cstring_bytes(c->cfg->queue), amqp_empty_bytes, 0, 0,
                       0, amqp_empty_table);
    r = amqp_get_rpc_reply(c->mq);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "could not consume from \"%s\": %s", c->cfg->queue,
                 mq_reply_text(r, detail, sizeof detail));
        return -1;
    }
    log_info("consuming", "queue=%s prefetch=%ld batch_size=%ld", c->cfg->queue, c->cfg->prefetch,
             c->cfg->batch_size);
    return 0;
}

/* Connects to the read DB with the consumer's statements, retrying with backoff; the session's
 * server-side bounds (statement_timeout, idle_in_transaction_session_timeout: a consumer frozen
 * inside its transaction loses it and its locks after PG_IDLE_IN_TRANSACTION_TIMEOUT_MS) come
 * with every connection (lib/pg/pg.c). Returns NULL only when a stop was requested meanwhile. */
static PGconn *consumer_pg_connect(const struct consumer *c)
{
    return pg_connect_retry(c->cfg->read_database_url, "consumer", project_stmts, project_nstmts);
}

/* Checks PROCESSED_EVENTS_RETENTION with the database's own interval parser. Returns 0, -2 when
 * it is invalid (logged: the consumer stops with status 2), or 0 on a database error (checked
 * again by the purge, which logs it). */
static int consumer_check_retention(PGconn *pg, const char *retention)
{
    const char *params[1] = {retention};
    PGresult *res =
        PQexecParams(pg, "SELECT $1::interval >= interval '0'", 1, NULL, params, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc = 0;

    if ((PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") != 0) ||
        (state != NULL && strncmp(state, "22", 2) == 0)) {
        char q[300];
        log_error("invalid configuration",
                  "error=\"invalid value for PROCESSED_EVENTS_RETENTION: expected a PostgreSQL "
                  "interval of at least 0 such as '7 days'\" value=%s",
                  log_quote(q, sizeof q, retention));
        rc = -2;
    }
    PQclear(res);
    return rc;
}

/* Connects what is missing. Returns -1 only when a stop was requested meanwhile, -2 on a bad
 * PROCESSED_EVENTS_RETENTION. */
static int consumer_connect(struct consumer *c)
{
    struct backoff delay;
    char err[512], q[600];

    backoff_init(&delay, 100, 5000);
    while (c->mq == NULL) {
        c->dl.conn = mq_connect_retry(c->broker, &c->topo, MQ_CONFIRMS);
        if (c->dl.conn == NULL)
            return -1;
        c->dl.next_tag = 1;
        c->mq = mq_connect_retry(c->broker, &c->topo, 0);
        if (c->mq == NULL)
            return -1;
        if (consumer_subscribe(c, err, sizeof err) == 0) {
            svc_metrics_broker(consumer_metrics_base(c->metrics), true);
            break;
        }
        long delay_ms = backoff_next(&delay);
        log_warn("could not subscribe", "error=%s retry_ms=%ld", log_quote(q, sizeof q, err),
                 delay_ms);
        mq_close(c->mq, false);
        c->mq = NULL;
        mq_close(c->dl.conn, false);
        c->dl.conn = NULL;
        signals_sleep_ms(delay_ms);
    }
    if (c->pg == NULL) {
        c->pg = consumer_pg_connect(c);
        if (c->pg == NULL)
            return -1;
        svc_metrics_db(consumer_metrics_base(c->metrics), true);
    }
    if (!c->retention_checked) {
        int rc = consumer_check_retention(c->pg, c->cfg->processed_events_retention);
        if (rc != 0)
            return rc;
        c->retention_checked = true;
    }
    return 0;
}

static void consumer_drop_mq(struct consumer *c, const char *err)
{
    char q[600];
    log_warn("lost rabbitmq connection", "error=%s unsettled=%zu", log_quote(q, sizeof q, err),
             receive_batch_unsettled(&c->batch));
    /* the broker redelivers whatever this connection left unacked */
    consumer_metrics_batch(c->metrics, &c->batch, -1);
    svc_metrics_broker(consumer_metrics_base(c->metrics), false);
    receive_batch_reset(&c->batch); /* the carried delivery too: its channel is gone */
    mq_close(c->mq, false);
    c->mq = NULL;
    mq_close(c->dl.conn, false);
    c->dl.conn = NULL;
}

/* One call of project_batch on the received batch. */
static enum project_status consumer_project_once(struct consumer *c, char *err, size_t errlen)
{
    const struct project_ctx ctx = {
        .pg = c->pg,
        .mq = c->mq,
        .dl = &c->dl,
        .max_attempts = c->cfg->max_attempts,
        .early_max_attempts = c->cfg->early_max_attempts,
        .retry_delay_ms = c->cfg->retry_delay_ms,
        .fault_pause_before_commit_ms = c->cfg->fault_pause_before_commit_ms,
        .fault_pause_after_commit_ms = c->cfg->fault_pause_after_commit_ms,
    };
    return project_batch(&ctx, &c->batch, &c->json, err, errlen);
}

/* Test-only fault hook (FAULT_ABORT_ON_MARKER, never in production): a consumer that crashes on
 * an event, as a projection bug that kills the process would. Aborts before the batch is applied
 * if an unsettled delivery's body contains marker. */
static void fault_abort_on_marker(const char *marker, const struct receive_batch *b)
{
    size_t n = strlen(marker);

    if (n == 0)
        return;
    for (size_t i = 0; i < b->n; i++) {
        const struct delivery *d = &b->items[i];
        if (!d->settled && memmem(d->env.message.body.bytes, d->env.message.body.len, marker, n)) {
            log_error("fault hook: aborting on an event with the marker (test only)",
                      "event_id=%s batch=%zu", d->info.event_id, b->n);
            abort();
        }
    }
}

/* Applies the received batch until it is settled, re-making the database connection as needed.
 * Gives up (leaving the rest to redelivery) only on a broker failure or a stop request. */
static void consumer_project(struct consumer *c)
{
    struct backoff delay;
    char err[512], q[600];
    struct timespec t0, t1;
    bool guarded = !receive_batch_redelivered(&c->batch), counted = false;

    backoff_init(&delay, 100, 5000);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (receive_batch_unsettled(&c->batch) > 0) {
        enum project_status st = PROJECT_DONE;
        if (!guarded) { /* a redelivered event: count the attempt first (crashguard.h) */
            const struct crashguard_ctx gctx = {
                .pg = c->pg,
                .mq = c->mq,
                .dl = &c->dl,
                .max_attempts = c->cfg->max_attempts,
            };
            st = crashguard_check(&gctx, &c->batch, &counted, err, sizeof err);
            guarded = st == PROJECT_DONE;
            if (guarded && receive_batch_unsettled(&c->batch) == 0)
                break; /* dead-lettered */
        }
        if (guarded) {
            fault_abort_on_marker(c->cfg->fault_abort_marker, &c->batch);
            st = consumer_project_once(c, err, sizeof err);
        }
        if (st == PROJECT_DONE)
            break;
        if (st == PROJECT_MQ_LOST) {
            consumer_drop_mq(c, err);
            return;
        }
        if (signals_stop_requested())
            break;
        if (st == PROJECT_PG_LOST) {
            log_warn("lost postgres connection", "error=%s", log_quote(q, sizeof q, err));
            svc_metrics_db(consumer_metrics_base(c->metrics), false);
            PQfinish(c->pg);
            c->pg = consumer_pg_connect(c);
            if (c->pg == NULL)
                break;
            svc_metrics_db(consumer_metrics_base(c->metrics), true);
        } else {
            long delay_ms = backoff_next(&delay);
            log_warn("transient database error, retrying batch", "error=%s retry_ms=%ld",
                     log_quote(q, sizeof q, err), delay_ms);
            signals_sleep_ms(delay_ms);
        }
    }
    if (counted && receive_batch_unsettled(&c->batch) == 0) {
        char keys[192];
        crashguard_settled(c->pg, &c->batch);
        /* applied alone: the counts "applied batch" gives for a batch */
        log_info("applied redelivered event", "%s applied=%zu duplicates=%zu dead=%zu",
                 event_info_keys(&c->batch.items[0].info, keys, sizeof keys), c->batch.applied,
                 c->batch.duplicates, c->batch.dead);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    consumer_metrics_batch(c->metrics, &c->batch,
                           (double)(t1.tv_sec - t0.tv_sec) +
                               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    receive_batch_clear(&c->batch);
}

/* Between batches: stores the dead letters noted and, when due, the queue readings. */
static void consumer_report(struct consumer *c)
{
    char err[512], q[600];
    int rc;

    if (c->pg != NULL && deadletter_flush(&c->dl, c->pg, err, sizeof err) != 0)
        log_warn("could not record dead letters, retrying later", "pending=%zu error=%s",
                 c->dl.npending, log_quote(q, sizeof q, err));
    rc = consumer_status_tick(&c->status, c->dl.conn, c->pg, &c->topo, err, sizeof err);
    if (rc == -1) {
        consumer_drop_mq(c, err);
    } else if (rc == -2) {
        log_warn("lost postgres connection", "error=%s", log_quote(q, sizeof q, err));
        svc_metrics_db(consumer_metrics_base(c->metrics), false);
        PQfinish(c->pg);
        c->pg = NULL; /* consumer_connect makes it again */
    }
}

/* Returns the exit status: 0, or 2 on a bad configuration found once connected. */
static int consumer_run(struct consumer *c)
{
    char err[512];

    while (!signals_stop_requested()) {
        int rc = consumer_connect(c);
        if (rc == -2)
            return 2;
        if (rc != 0)
            break;
        if (receive_fill(c->mq, &c->batch, FIRST_WAIT_MS, err, sizeof err) != 0) {
            consumer_drop_mq(c, err);
            continue;
        }
        consumer_metrics_received(c->metrics, c->batch.n);
        if (consumer_status_take_notices(&c->batch, c->mq, c->pg, err, sizeof err) != 0) {
            consumer_drop_mq(c, err);
            continue;
        }
        consumer_project(c);
        consumer_report(c);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct config_var metrics_vars[SVC_METRICS_NVARS];
    const struct config_table tables[] = {CONFIG_TABLE(consumer_vars), CONFIG_TABLE(metrics_vars),
                                          pg_config_table, mq_config_table};
    const struct cli_spec cli = {"consumer", "consumer: projects events into the read model",
                                 NULL,       0,
                                 tables,     sizeof tables / sizeof tables[0],
                                 NULL};
    struct consumer_config cfg;
    struct mq_broker broker;
    struct consumer c;
    char err[512];
    int rc;

    consumer_metrics_config_vars(metrics_vars);
    if ((rc = cli_handle(&cli, argc, argv)) >= 0)
        return rc;
    if (log_init("consumer", "info") != 0) /* sets svc= for configuration errors */
        return 2;
    if (config_load(&cfg, consumer_vars, sizeof consumer_vars / sizeof consumer_vars[0], err,
                    sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        return 2;
    }
    if (*cfg.read_database_url == '\0')
        cfg.read_database_url = cfg.owner_database_url;
    if (*cfg.read_database_url == '\0') {
        log_error("invalid configuration", "error=\"missing required environment variable "
                                           "CONSUMER_DATABASE_URL (or READ_DATABASE_URL)\"");
        return 2;
    }
    if (log_init("consumer", cfg.log_level) != 0) {
        log_error("invalid configuration",
                  "error=\"invalid value for LOG_LEVEL: expected debug, info, warn or error\"");
        return 2;
    }
    if (pg_check_options(err, sizeof err) != 0 || mq_check_options(err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        return 2;
    }
    if (mq_broker_parse(&broker, cfg.broker_url, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"BROKER_URL: %s\"", err);
        return 2;
    }
    if (signals_install() != 0) {
        log_error("could not install signal handlers", NULL);
        mq_broker_release(&broker);
        return 1;
    }

    memset(&c, 0, sizeof c);
    c.cfg = &cfg;
    c.broker = &broker;
    if (mq_topology_init(&c.topo, cfg.exchange, cfg.queue, cfg.mood_queue, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"AMQP_QUEUE: %s\"", err);
        mq_broker_release(&broker);
        return 2;
    }
    c.dl.topo = &c.topo;
    c.dl.confirm_timeout_ms = CONFIRM_TIMEOUT_MS;
    consumer_status_init(&c.status, cfg.status_interval_ms);
    c.metrics = consumer_metrics_start();
    if (c.metrics == NULL) {
        mq_broker_release(&broker);
        return 1;
    }
    /* the views are refreshed beside the batches, never between them (refresher.h) */
    const struct refresher_opts ropts = {
        .dsn = cfg.read_database_url,
        .interval_ms = cfg.mv_refresh_interval_ms,
        .retention = cfg.processed_events_retention,
        .purge_interval_ms = cfg.purge_interval_ms,
    };
    struct refresher *refresher = refresher_start(&ropts, c.metrics);
    receive_batch_init(&c.batch, (size_t)cfg.batch_size);
    event_batch_init(&c.json);

    log_info("starting",
             "queue=%s prefetch=%ld batch_size=%ld mv_refresh_interval_ms=%ld max_attempts=%ld "
             "early_max_attempts=%ld retry_delay_ms=%ld processed_events_retention=\"%s\" "
             "purge_interval_ms=%ld",
             cfg.queue, cfg.prefetch, cfg.batch_size, cfg.mv_refresh_interval_ms, cfg.max_attempts,
             cfg.early_max_attempts, cfg.retry_delay_ms, cfg.processed_events_retention,
             cfg.purge_interval_ms);
    if (cfg.fault_pause_before_commit_ms > 0 || cfg.fault_pause_after_commit_ms > 0 ||
        cfg.fault_abort_marker[0] != '\0')
        log_warn("fault hooks on: for tests only, never in production",
                 "fault_pause_before_commit_ms=%ld fault_pause_after_commit_ms=%ld "
                 "fault_abort_on_marker=%s",
                 cfg.fault_pause_before_commit_ms, cfg.fault_pause_after_commit_ms,
                 cfg.fault_abort_marker[0] != '\0' ? "set" : "off");
    int status = consumer_run(&c);

    refresher_stop(refresher);
    receive_batch_release(&c.batch);
    event_batch_release(&c.json);
    mq_close(c.mq, true);
    mq_close(c.dl.conn, true);
    deadletter_release(&c.dl);
    PQfinish(c.pg);
    consumer_metrics_stop(c.metrics);
    mq_broker_release(&broker);
    log_info("stopped", NULL);
    return status;
}
