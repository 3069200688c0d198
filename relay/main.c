/* relay: publishes the write DB's outbox to RabbitMQ (transactional outbox pattern).
 *
 * One relay at a time is the leader (a session advisory lock), which keeps per-aggregate order;
 * others stand by and retry every poll interval. The leader fetches unpublished rows in id order,
 * publishes them with publisher confirms and marks only the confirmed rows published. Failures
 * never mark a row, so a row is published at least once; the consumer drops duplicates by event
 * id. When the outbox is drained the relay asks for NOTIFYs (relay_state.notify_wanted, in
 * RELAY_NOTIFY_MODE=idle) and sleeps on the connection's socket, with the poll interval as a
 * fallback; while draining it switches them off so committing writers don't pay for them. The
 * leader also purges published rows older than OUTBOX_RETENTION and old idempotency keys
 * (purge.h).
 *
 * FAULT_PAUSE_AFTER_PUBLISH_MS (tests only, 0 = off) makes the relay sleep after the broker
 * confirmed a batch and before it marks the rows published, logging "fault hook: ..." first, so
 * that a test can kill it exactly there. */
#include "config.h"
#include "log.h"
#include "mq.h"
#include "outbox.h"
#include "pg.h"
#include "publish.h"
#include "purge.h"
#include "relay_metrics.h"
#include "signals.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct relay_config {
    const char *database_url;       /* RELAY_DATABASE_URL, else DATABASE_URL (the owner's) */
    const char *owner_database_url; /* DATABASE_URL */
    const char *broker_url;
    const char *exchange;
    const char *queue;
    const char *mood_queue;
    const char *notify_mode;
    const char *log_level;
    long batch_size;
    long poll_interval_ms;
    long confirm_timeout_ms;
    const char *outbox_retention;
    long idempotency_key_ttl_s;
    long purge_interval_ms;
    long fault_pause_after_publish_ms; /* test-only fault hook */
};

#define VAR(name, type, def, field, min, max)                                                      \
    {                                                                                              \
        name, type, def, offsetof(struct relay_config, field), min, max                            \
    }
static const struct config_var relay_vars[] = {
    /* the relay's own role (least privilege); "" falls back to DATABASE_URL in main */
    VAR("RELAY_DATABASE_URL", CONFIG_STRING, "", database_url, 0, 0),
    VAR("DATABASE_URL", CONFIG_STRING, "", owner_database_url, 0, 0),
    VAR("BROKER_URL", CONFIG_STRING, NULL, broker_url, 0, 0),
    VAR("AMQP_EXCHANGE", CONFIG_STRING, "cqrs.events", exchange, 0, 0),
    VAR("AMQP_QUEUE", CONFIG_STRING, "read_model", queue, 0, 0),
    VAR("MOOD_QUEUE", CONFIG_STRING, "mood_events", mood_queue, 0, 0),
    VAR("RELAY_NOTIFY_MODE", CONFIG_STRING, "idle", notify_mode, 0, 0),
    VAR("LOG_LEVEL", CONFIG_STRING, "info", log_level, 0, 0),
    VAR("RELAY_BATCH_SIZE", CONFIG_INT, "500", batch_size, 1, 10000),
    VAR("RELAY_POLL_INTERVAL_MS", CONFIG_INT, "250", poll_interval_ms, 10, 60000),
    VAR("RELAY_CONFIRM_TIMEOUT_MS", CONFIG_INT, "30000", confirm_timeout_ms, 100, 600000),
    VAR("OUTBOX_RETENTION", CONFIG_STRING, "7 days", outbox_retention, 0, 0),
    VAR("IDEMPOTENCY_KEY_TTL_S", CONFIG_INT, "86400", idempotency_key_ttl_s, 1, 315360000),
    VAR("RELAY_PURGE_INTERVAL_MS", CONFIG_INT, "5000", purge_interval_ms, 100, 3600000),
    VAR("FAULT_PAUSE_AFTER_PUBLISH_MS", CONFIG_INT, "0", fault_pause_after_publish_ms, 0, 600000),
};
#undef VAR

/* What the relay last wrote to relay_state.notify_wanted (unknown after a (re)connect). */
enum notify_flag { FLAG_UNKNOWN, FLAG_ON, FLAG_OFF };

struct relay {
    const struct relay_config *cfg;
    const struct mq_broker *broker;
    struct mq_topology topo;
    bool idle_mode; /* RELAY_NOTIFY_MODE=idle */
    PGconn *pg;
    bool leader;
    bool standby_logged;
    enum notify_flag flag;
    struct publisher pub; /* pub.conn is NULL while disconnected */
    struct mq_confirms confirms;
    long mq_retry_ms; /* pause before reconnecting after a failed batch */
    struct purge purge;
    bool retention_checked;
    bool config_error;             /* OUTBOX_RETENTION turned out invalid: stop, exit 2 */
    struct relay_metrics *metrics; /* GET /metrics on RELAY_METRICS_PORT (relay_metrics.h) */
};

static void relay_drop_pg(struct relay *r, const char *err)
{
    char q[600];
    log_warn("lost postgres connection", "error=%s", log_quote(q, sizeof q, err));
    PQfinish(r->pg);
    r->pg = NULL;
    r->leader = false;
    relay_metrics_db_lost(r->metrics);
}

static void relay_drop_mq(struct relay *r, const char *err)
{
    char q[600];
    log_warn("dropping rabbitmq connection", "error=%s retry_ms=%ld", log_quote(q, sizeof q, err),
             r->mq_retry_ms);
    mq_close(r->pub.conn, false);
    r->pub.conn = NULL;
    relay_metrics_broker_lost(r->metrics);
    signals_sleep_ms(r->mq_retry_ms);
    r->mq_retry_ms = r->mq_retry_ms * 2 > 5000 ? 5000 : r->mq_retry_ms * 2;
}

/* Connects what is missing. Returns -1 only when a stop was requested meanwhile. */
static int relay_connect(struct relay *r)
{
    if (r->pg == NULL) {
        r->pg = pg_connect_retry(r->cfg->database_url, "relay", outbox_stmts, outbox_nstmts);
        if (r->pg == NULL)
            return -1;
        r->leader = false;
        r->flag = FLAG_UNKNOWN;
        relay_metrics_db_connected(r->metrics);
    }
    if (!r->retention_checked) {
        char err[512];
        int rc = purge_check_retention(r->pg, r->cfg->outbox_retention, err, sizeof err);
        if (rc > 0) {
            log_error("invalid configuration", "error=\"%s\"", err);
            r->config_error = true;
            return -1;
        }
        if (rc < 0) {
            relay_drop_pg(r, err);
            return 0;
        }
        r->retention_checked = true;
    }
    if (r->pub.conn == NULL) {
        r->pub.conn = mq_connect_retry(r->broker, &r->topo, MQ_CONFIRMS);
        if (r->pub.conn == NULL)
            return -1;
        r->pub.next_tag = 1;
        relay_metrics_broker_connected(r->metrics);
    }
    return 0;
}

static int relay_set_flag(struct relay *r, enum notify_flag flag)
{
    char err[512];

    if (outbox_set_notify_wanted(r->pg, flag == FLAG_ON, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    r->flag = flag;
    return 0;
}

/* Takes the leader lock if free. Returns 0 when this relay leads, 1 when another one does, -1
 * when the connection failed. */
static int relay_lead(struct relay *r)
{
    char err[512];
    bool leader = false;

    if (outbox_try_lead(r->pg, &leader, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    if (!leader) {
        if (!r->standby_logged)
            log_info("another relay is the leader, standing by", "retry_ms=%ld",
                     r->cfg->poll_interval_ms);
        r->standby_logged = true;
        return 1;
    }
    /* only the leader listens: a standby would leave notifications unread, holding back the
     * server's notification queue */
    if (outbox_listen(r->pg, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    r->leader = true;
    relay_metrics_leader(r->metrics, true);
    r->standby_logged = false;
    log_info("became leader", "notify_mode=%s", r->cfg->notify_mode);
    if (!r->idle_mode && relay_set_flag(r, FLAG_ON) != 0)
        return -1;
    return 0;
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Publishes one fetched batch and marks the confirmed rows. Failures drop the connection that
 * failed; the unmarked rows are fetched again on the next pass. */
static void relay_publish(struct relay *r, const struct outbox_batch *b)
{
    char pub_err[512], pg_err[512];
    size_t marked = 0;
    struct timespec t0, t1;
    long publish_ms;
    int pub_rc, mark_rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pub_rc = publish_batch(&r->pub, b, &r->confirms, pub_err, sizeof pub_err);
    publish_ms = elapsed_ms(&t0);
    relay_metrics_batch(r->metrics, (size_t)(r->pub.next_tag - r->confirms.first_tag),
                        (size_t)b->n - r->confirms.pending - r->confirms.nacked, r->confirms.nacked,
                        r->confirms.returned, (double)publish_ms / 1000.0);
    if (r->cfg->fault_pause_after_publish_ms > 0 && pub_rc == 0) {
        log_warn("fault hook: pausing after publish, before mark (test only)",
                 "ms=%ld count=%d first_id=%s last_id=%s", r->cfg->fault_pause_after_publish_ms,
                 b->n, outbox_value(b, 0, OUTBOX_ID), outbox_value(b, b->n - 1, OUTBOX_ID));
        signals_sleep_ms(r->cfg->fault_pause_after_publish_ms);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* rows acked before a failure are marked too: the broker has them */
    mark_rc = outbox_mark_published(r->pg, b, &r->confirms, &marked, pg_err, sizeof pg_err);
    if (mark_rc == 0) {
        publish_log_rows(b, &r->confirms);
        if (marked > 0)
            log_info("published batch",
                     "count=%zu first_id=%s last_id=%s publish_ms=%ld mark_ms=%ld", marked,
                     outbox_value(b, 0, OUTBOX_ID), outbox_value(b, b->n - 1, OUTBOX_ID),
                     publish_ms, elapsed_ms(&t1));
    }
    if (r->confirms.returned > 0)
        log_warn("broker returned unroutable events", "count=%zu", r->confirms.returned);
    if (r->confirms.nacked > 0 && pub_rc == 0) {
        snprintf(pub_err, sizeof pub_err, "broker nacked %zu of %d events", r->confirms.nacked,
                 b->n);
        pub_rc = -1;
    }
    if (mark_rc != 0)
        relay_drop_pg(r, pg_err);
    if (pub_rc != 0)
        relay_drop_mq(r, pub_err);
    else if (mark_rc == 0)
        r->mq_retry_ms = 100;
}

/* One pass: lead, fetch, publish; sleep when there is nothing to do. */
static void relay_pass(struct relay *r)
{
    struct outbox_batch b = {NULL, 0};
    char err[512];
    bool notified = false;
    int n;

    relay_metrics_sample_backlog(r->metrics, r->pg); /* at most once a second */
    if (!r->leader) {
        int rc = relay_lead(r);
        if (rc < 0)
            return;
        if (rc > 0) {
            if (mq_service(r->pub.conn, err, sizeof err) != 0) {
                relay_drop_mq(r, err);
                return;
            }
            signals_sleep_ms(r->cfg->poll_interval_ms);
            return;
        }
    }
    if (purge_run(r->pg, &r->purge, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return;
    }
    /* notifications that arrived before this fetch are answered by it */
    if (outbox_forget_notifications(r->pg, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return;
    }
    if (outbox_fetch(r->pg, r->cfg->batch_size, &b, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return;
    }
    n = b.n;
    if (n > 0) {
        /* awake with work: writers need not notify until the relay is idle again */
        if (r->idle_mode && r->flag != FLAG_OFF && relay_set_flag(r, FLAG_OFF) != 0)
            goto out;
        relay_publish(r, &b);
        if (n == r->cfg->batch_size || r->pg == NULL || r->pub.conn == NULL)
            goto out;
    }
    if (r->idle_mode && r->flag != FLAG_ON) {
        /* going idle: ask for NOTIFYs, then look once more, since a row committed before the
         * flag was set sent none */
        (void)relay_set_flag(r, FLAG_ON);
        goto out;
    }
    if (outbox_wait(r->pg, r->cfg->poll_interval_ms, &notified, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        goto out;
    }
    if (mq_service(r->pub.conn, err, sizeof err) != 0)
        relay_drop_mq(r, err);
out:
    outbox_batch_release(&b);
}

static void relay_run(struct relay *r)
{
    while (!signals_stop_requested()) {
        if (relay_connect(r) != 0)
            break;
        if (r->pg == NULL || r->pub.conn == NULL)
            continue;
        relay_pass(r);
    }
}

int main(void)
{
    struct relay_config cfg;
    struct mq_broker broker;
    struct relay r;
    char err[512];

    if (log_init("relay", "info") != 0) /* sets svc= for configuration errors */
        return 2;
    if (config_load(&cfg, relay_vars, sizeof relay_vars / sizeof relay_vars[0], err, sizeof err) !=
        0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        return 2;
    }
    if (*cfg.database_url == '\0')
        cfg.database_url = cfg.owner_database_url;
    if (*cfg.database_url == '\0') {
        log_error("invalid configuration", "error=\"missing required environment variable "
                                           "RELAY_DATABASE_URL (or DATABASE_URL)\"");
        return 2;
    }
    if (log_init("relay", cfg.log_level) != 0) {
        log_error("invalid configuration",
                  "error=\"invalid value for LOG_LEVEL: expected debug, info, warn or error\"");
        return 2;
    }
    if (strcmp(cfg.notify_mode, "idle") != 0 && strcmp(cfg.notify_mode, "always") != 0) {
        log_error("invalid configuration",
                  "error=\"invalid value for RELAY_NOTIFY_MODE: expected idle or always\"");
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

    memset(&r, 0, sizeof r);
    r.cfg = &cfg;
    r.broker = &broker;
    if (mq_topology_init(&r.topo, cfg.exchange, cfg.queue, cfg.mood_queue, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"AMQP_QUEUE: %s\"", err);
        mq_broker_release(&broker);
        return 2;
    }
    r.purge.retention = cfg.outbox_retention;
    r.purge.key_ttl_s = cfg.idempotency_key_ttl_s;
    r.purge.interval_ms = cfg.purge_interval_ms;
    r.purge.batch = 500;
    r.purge.budget_ms = 200;
    r.idle_mode = strcmp(cfg.notify_mode, "idle") == 0;
    r.pub.exchange = cfg.exchange;
    r.pub.confirm_timeout_ms = cfg.confirm_timeout_ms;
    r.mq_retry_ms = 100;
    mq_confirms_init(&r.confirms);
    r.metrics = relay_metrics_start();
    if (r.metrics == NULL) {
        mq_confirms_release(&r.confirms);
        mq_broker_release(&broker);
        return 1;
    }

    char q[300];
    log_info("starting",
             "exchange=%s batch_size=%ld poll_interval_ms=%ld notify_mode=%s outbox_retention=%s "
             "idempotency_key_ttl_s=%ld purge_interval_ms=%ld",
             cfg.exchange, cfg.batch_size, cfg.poll_interval_ms, cfg.notify_mode,
             log_quote(q, sizeof q, cfg.outbox_retention), cfg.idempotency_key_ttl_s,
             cfg.purge_interval_ms);
    if (cfg.fault_pause_after_publish_ms > 0)
        log_warn("fault hooks on: for tests only, never in production",
                 "fault_pause_after_publish_ms=%ld", cfg.fault_pause_after_publish_ms);
    relay_run(&r);

    mq_close(r.pub.conn, true);
    PQfinish(r.pg);
    relay_metrics_stop(r.metrics);
    mq_confirms_release(&r.confirms);
    mq_broker_release(&broker);
    log_info("stopped", NULL);
    return r.config_error ? 2 : 0;
}
