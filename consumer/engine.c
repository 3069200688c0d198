/* engine: the consumer's loop (engine.h): connect, receive a batch, take the notices out,
 * project the rest (project.h, crashguard.h), report between batches. */
#include "engine.h"

#include "base/backoff.h"
#include "base/deadline.h"
#include "base/log.h"
#include "base/signals.h"
#include "crashguard.h"
#include "project.h"
#include "service/svc_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_WAIT_MS 250        /* bounded, so that a stop request is seen promptly */
#define CONFIRM_TIMEOUT_MS 30000 /* for retry and dead-letter publishes */

/* Sets the prefetch window and subscribes to the queue with manual acks; with partitions, the
 * partitions held are subscribed to by partitions_tick. */
static int consumer_subscribe(struct consumer *c, char *err, size_t errlen)
{
    partitions_mq_reset(&c->parts);
    if (c->parts.count > 1)
        return 0;
    if (c->io->subscribe(c->mq, c->env->topo.queue, NULL, c->cfg->prefetch, err, errlen) != 0)
        return -1;
    log_info("consuming", "queue=%s prefetch=%ld batch_size=%ld", c->env->topo.queue,
             c->cfg->prefetch, c->cfg->batch_size);
    return 0;
}

/* Connects what is missing. Returns -1 only when a stop was requested meanwhile, -2 on a bad
 * PROCESSED_EVENTS_RETENTION. */
static int consumer_connect(struct consumer *c)
{
    struct backoff delay;
    char err[512], q[600];

    backoff_init(&delay, 100, 5000);
    while (c->mq == NULL) {
        c->dl.conn = c->io->mq_connect(&c->env->broker, &c->env->topo, MQ_CONFIRMS);
        if (c->dl.conn == NULL)
            return -1;
        c->dl.next_tag = 1;
        c->mq = c->io->mq_connect(&c->env->broker, &c->env->topo, 0);
        if (c->mq == NULL)
            return -1;
        if (consumer_subscribe(c, err, sizeof err) == 0) {
            svc_metrics_broker(c->metrics.base, true);
            break;
        }
        long delay_ms = backoff_next(&delay);
        log_warn("could not subscribe", "error=%s retry_ms=%ld", log_quote(q, sizeof q, err),
                 delay_ms);
        c->io->mq_close(c->mq, false);
        c->mq = NULL;
        c->io->mq_close(c->dl.conn, false);
        c->dl.conn = NULL;
        c->io->sleep_ms(delay_ms);
    }
    if (c->pg == NULL) {
        c->pg = c->io->pg_connect(c->env->database_url);
        if (c->pg == NULL)
            return -1;
        svc_metrics_db(c->metrics.base, true);
        partitions_pg_reset(&c->parts);
    }
    if (!c->retention_checked) {
        int rc = c->io->check_retention(c->pg, c->cfg->processed_events_retention);
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
    consumer_metrics_batch(&c->metrics, &c->batch, -1);
    svc_metrics_broker(c->metrics.base, false);
    receive_batch_reset(&c->batch); /* the carried delivery too: its channel is gone */
    c->io->mq_close(c->mq, false);
    c->mq = NULL;
    c->io->mq_close(c->dl.conn, false);
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
        .parallel = c->parts.count > 1,
    };
    return c->io->project(&ctx, &c->batch, &c->json, err, errlen);
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
    bool guarded = !receive_batch_redelivered(&c->batch), counted = false;

    backoff_init(&delay, 100, 5000);
    long long t0 = deadline_now_us();
    while (receive_batch_unsettled(&c->batch) > 0) {
        enum project_status st = PROJECT_DONE;
        if (!guarded) { /* a redelivered event: count the attempt first (crashguard.h) */
            const struct crashguard_ctx gctx = {
                .pg = c->pg,
                .mq = c->mq,
                .dl = &c->dl,
                .max_attempts = c->cfg->max_attempts,
            };
            st = c->io->guard(&gctx, &c->batch, &counted, err, sizeof err);
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
            svc_metrics_db(c->metrics.base, false);
            c->io->pg_close(c->pg);
            c->pg = c->io->pg_connect(c->env->database_url);
            if (c->pg == NULL)
                break;
            svc_metrics_db(c->metrics.base, true);
            partitions_pg_reset(&c->parts);
        } else {
            long delay_ms = backoff_next(&delay);
            log_warn("transient database error, retrying batch", "error=%s retry_ms=%ld",
                     log_quote(q, sizeof q, err), delay_ms);
            c->io->sleep_ms(delay_ms);
        }
    }
    if (counted && receive_batch_unsettled(&c->batch) == 0) {
        char keys[192];
        c->io->guard_settled(c->pg, &c->batch);
        /* applied alone: the counts "applied batch" gives for a batch */
        log_info("applied redelivered event", "%s applied=%zu duplicates=%zu dead=%zu",
                 event_info_keys(&c->batch.items[0].info, keys, sizeof keys), c->batch.applied,
                 c->batch.duplicates, c->batch.dead);
    }
    consumer_metrics_batch(&c->metrics, &c->batch, (double)(deadline_now_us() - t0) / 1e6);
    receive_batch_clear(&c->batch);
}

/* What a step between batches answered: 0 nothing to do; -1 (the broker connection failed)
 * drops both broker connections; -2 (the read DB connection was lost) closes it, and
 * consumer_connect makes it again. */
static void consumer_between_failed(struct consumer *c, int rc, const char *err)
{
    char q[600];

    if (rc == -1) {
        consumer_drop_mq(c, err);
    } else if (rc == -2) {
        log_warn("lost postgres connection", "error=%s", log_quote(q, sizeof q, err));
        svc_metrics_db(c->metrics.base, false);
        c->io->pg_close(c->pg);
        c->pg = NULL;
    }
}

/* Between batches: stores the dead letters noted and, when due, the queue readings. */
static void consumer_report(struct consumer *c)
{
    char err[512], q[600];
    int rc;

    if (c->pg != NULL && c->io->flush_dead_letters(&c->dl, c->pg, err, sizeof err) != 0)
        log_warn("could not record dead letters, retrying later", "pending=%zu error=%s",
                 c->dl.npending, log_quote(q, sizeof q, err));
    rc = c->io->status_tick(&c->status, c->dl.conn, c->pg, &c->env->topo, &c->env->names, err,
                            sizeof err);
    consumer_between_failed(c, rc, err);
}

/* Between batches, with partitions: renews the lease, follows what is held (partitions.h). */
static void consumer_partitions(struct consumer *c)
{
    char err[512];
    int rc = partitions_tick(&c->parts, c->io, c->mq, c->pg, &c->env->topo, c->cfg->prefetch, err,
                             sizeof err);

    consumer_metrics_partitions(&c->metrics, c->parts.nheld);
    consumer_between_failed(c, rc, err);
}

int consumer_step(struct consumer *c)
{
    char err[512];
    int rc = consumer_connect(c);

    if (rc == -2)
        return 2;
    if (rc != 0)
        return -1;
    consumer_partitions(c);
    if (c->mq == NULL || c->pg == NULL)
        return 0;
    if (c->io->fill(c->mq, &c->batch, FIRST_WAIT_MS, err, sizeof err) != 0) {
        consumer_drop_mq(c, err);
        return 0;
    }
    consumer_metrics_received(&c->metrics, c->batch.n);
    if (c->io->take_notices(&c->batch, c->mq, c->pg, err, sizeof err) != 0) {
        consumer_drop_mq(c, err);
        return 0;
    }
    consumer_project(c);
    consumer_report(c);
    return 0;
}

int consumer_run(struct consumer *c)
{
    while (!signals_stop_requested()) {
        int rc = consumer_step(c);
        if (rc == 2)
            return 2;
        if (rc != 0)
            break;
    }
    return 0;
}

void consumer_init(struct consumer *c, const struct consumer_ports *io,
                   const struct consumer_config *cfg, const struct daemon_env *env)
{
    memset(c, 0, sizeof *c);
    c->io = io;
    c->cfg = cfg;
    c->env = env;
    c->dl.topo = &env->topo;
    c->dl.confirm_timeout_ms = CONFIRM_TIMEOUT_MS;
    consumer_status_init(&c->status, cfg->status_interval_ms);
    partitions_init(&c->parts, env->topo.partitions, cfg->partition_lease_ms);
    consumer_metrics_init(&c->metrics, env->metrics);
    /* the views are refreshed beside the batches, never between them (refresher.h) */
    const struct refresher_opts ropts = {
        .dsn = env->database_url,
        .interval_ms = cfg->mv_refresh_interval_ms,
        .retention = cfg->processed_events_retention,
        .purge_interval_ms = cfg->purge_interval_ms,
    };
    c->refresher = refresher_start(&ropts, &c->metrics);
    receive_batch_init(&c->batch, (size_t)cfg->batch_size);
    event_batch_init(&c->json);
}

void consumer_close(struct consumer *c)
{
    refresher_stop(c->refresher);
    c->refresher = NULL;
    receive_batch_release(&c->batch);
    event_batch_release(&c->json);
    if (c->mq != NULL)
        c->io->mq_close(c->mq, true);
    c->mq = NULL;
    if (c->dl.conn != NULL)
        c->io->mq_close(c->dl.conn, true);
    c->dl.conn = NULL;
    deadletter_release(&c->dl);
    /* its subscriptions ended with the connection: the partitions go to the others at once */
    if (c->pg != NULL && c->parts.count > 1)
        c->io->leave(c->pg, c->parts.holder);
    if (c->pg != NULL)
        c->io->pg_close(c->pg);
    c->pg = NULL;
}
