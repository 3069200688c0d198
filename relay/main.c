/* relay: publishes the write DB's outbox to RabbitMQ (transactional outbox pattern).
 *
 * One relay at a time is the leader (a session advisory lock), which keeps per-aggregate order;
 * others stand by and retry every poll interval. The leader fetches unpublished rows in id order,
 * publishes them with publisher confirms and marks only the confirmed rows published. Failures
 * never mark a row, so a row is published at least once; the consumer drops duplicates by event
 * id. While there is a backlog the work is pipelined (relay_cycle): batch N is sent, and while the
 * broker persists it the relay marks batch N-1 and fetches N+1 (leaving out N's rows), then waits
 * for N's confirms; one batch's confirms are outstanding at any time, and N+1 goes out only after
 * all of N is confirmed. When the outbox is drained the relay asks for NOTIFYs
 * (relay_state.notify_wanted, in RELAY_NOTIFY_MODE=idle) and sleeps on the connection's socket,
 * with the poll interval as a fallback; while draining it switches them off so committing writers
 * don't pay for them. The leader also purges published rows older than OUTBOX_RETENTION and old
 * idempotency keys (purge.h).
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
#include "svc_metrics.h"

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
    VAR("RELAY_BATCH_SIZE", CONFIG_INT, "1000", batch_size, 1, 10000),
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

/* A batch of outbox rows and the broker's confirms for it. */
struct relay_slot {
    struct outbox_batch b;
    struct mq_confirms c;
    long publish_ms; /* from the first publish to the last confirm */
};

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
    /* The pipeline: slots[cur] is the batch to publish; the other slot holds the batch before it
     * (confirmed, waiting for its mark) or, during a cycle, the one after it (being fetched).
     * Between passes either both are empty, or pending is set: the other slot is confirmed and
     * waits for its mark, slots[cur] is fetched and not yet published, and both connections are
     * up. */
    struct relay_slot slots[2];
    int cur;
    bool pending;
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
    svc_metrics_broker(relay_metrics_base(r->metrics), false);
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
        svc_metrics_db(relay_metrics_base(r->metrics), true);
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
        svc_metrics_broker(relay_metrics_base(r->metrics), true);
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

/* Marks the acked rows of s published and logs them, then releases s's rows. A failure drops the
 * PostgreSQL connection. Only on a live connection. */
static void relay_mark(struct relay *r, struct relay_slot *s)
{
    char err[512];
    size_t marked = 0;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (outbox_mark_published(r->pg, &s->b, &s->c, &marked, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
    } else {
        publish_log_rows(&s->b, &s->c);
        if (marked > 0)
            log_info("published batch",
                     "count=%zu first_id=%s last_id=%s publish_ms=%ld mark_ms=%ld", marked,
                     outbox_value(&s->b, 0, OUTBOX_ID), outbox_value(&s->b, s->b.n - 1, OUTBOX_ID),
                     s->publish_ms, elapsed_ms(&t0));
    }
    outbox_batch_release(&s->b);
}

/* The PostgreSQL work before a fetch (the backlog sample and a purge, each only when due; dropping
 * the notifications the fetch answers), then the fetch of up to a batch into b, leaving out the
 * rows of exclude (NULL: none). Returns 0, or -1 after dropping the connection. */
static int relay_fetch(struct relay *r, const struct outbox_batch *exclude, struct outbox_batch *b)
{
    char err[512];

    relay_metrics_sample_backlog(r->metrics, r->pg); /* at most once a second */
    if (purge_run(r->pg, &r->purge, err, sizeof err) != 0 ||
        outbox_forget_notifications(r->pg, err, sizeof err) != 0 ||
        outbox_fetch(r->pg, r->cfg->batch_size, exclude, b, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    return 0;
}

/* After the confirm wait of s (rc: its result): metrics, warnings and the test hook. Returns rc,
 * or -1 with err when the broker nacked rows. */
static int relay_confirmed(struct relay *r, struct relay_slot *s, const struct timespec *t0, int rc,
                           char *err, size_t errlen)
{
    const struct mq_confirms *c = &s->c;

    s->publish_ms = elapsed_ms(t0);
    relay_metrics_batch(r->metrics, (size_t)(r->pub.next_tag - c->first_tag),
                        c->n - c->pending - c->nacked, c->nacked, c->returned,
                        (double)s->publish_ms / 1000.0);
    if (c->returned > 0)
        log_warn("broker returned unroutable events", "count=%zu", c->returned);
    if (r->cfg->fault_pause_after_publish_ms > 0 && rc == 0) {
        log_warn("fault hook: pausing after publish, before mark (test only)",
                 "ms=%ld count=%d first_id=%s last_id=%s", r->cfg->fault_pause_after_publish_ms,
                 s->b.n, outbox_value(&s->b, 0, OUTBOX_ID),
                 outbox_value(&s->b, s->b.n - 1, OUTBOX_ID));
        signals_sleep_ms(r->cfg->fault_pause_after_publish_ms);
    }
    if (rc == 0 && c->nacked > 0) {
        snprintf(err, errlen, "broker nacked %zu of %d events", c->nacked, s->b.n);
        rc = -1;
    }
    return rc;
}

/* One turn of the pipeline: sends the current batch; while the broker persists it, marks the
 * previous batch (if pending) and fetches the next one without the current rows (if the current
 * batch was full or came from such a fetch); then waits for the current batch's confirms. If all
 * went well and the next batch has rows, the current one waits for its mark in the next turn
 * (pending). Otherwise the next batch is dropped and the current batch's acked rows are marked
 * now, unless the PostgreSQL connection was lost: then they are published again later. A
 * failure drops the connection that failed; the pipeline restarts from a plain fetch. */
static void relay_cycle(struct relay *r)
{
    struct relay_slot *cur = &r->slots[r->cur], *other = &r->slots[1 - r->cur];
    bool prefetch = r->pending || cur->b.n == r->cfg->batch_size;
    struct timespec t0;
    char err[512];
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = publish_send(&r->pub, &cur->b, &cur->c, err, sizeof err);
    /* PostgreSQL's turn while the broker persists cur. Awake with work: writers need not notify
     * until the relay is idle again (after the send, so that it never delays an event; a failure
     * drops the connection) */
    if (r->idle_mode && r->flag != FLAG_OFF && r->pg != NULL)
        (void)relay_set_flag(r, FLAG_OFF);
    if (r->pending && r->pg != NULL)
        relay_mark(r, other); /* the previous batch; frees the slot for the next one */
    else if (r->pending)
        outbox_batch_release(&other->b); /* the connection is gone: published again later */
    r->pending = false;
    if (rc == 0 && prefetch && r->pg != NULL)
        (void)relay_fetch(r, &cur->b, &other->b); /* a failure dropped the connection */
    if (rc == 0)
        rc = publish_wait(&r->pub, &cur->c, err, sizeof err);
    rc = relay_confirmed(r, cur, &t0, rc, err, sizeof err);
    if (rc == 0 && r->pg != NULL && other->b.n > 0) {
        r->cur = 1 - r->cur; /* cur is marked in the next turn, other goes out first */
        r->pending = true;
        r->mq_retry_ms = 100;
        return;
    }
    outbox_batch_release(&other->b);
    if (r->pg != NULL)
        relay_mark(r, cur); /* rows acked before a broker failure too: the broker has them */
    outbox_batch_release(&cur->b);
    if (rc != 0)
        relay_drop_mq(r, err);
    else if (r->pg != NULL)
        r->mq_retry_ms = 100;
}

/* Not pipelining: a backlog sample, the leader lock, then a plain fetch into slots[cur]. Returns
 * 0 when this relay leads and fetched (perhaps no rows), else -1 (standing by, or a connection
 * was lost). */
static int relay_start(struct relay *r)
{
    struct outbox_batch *b = &r->slots[r->cur].b;
    char err[512];

    relay_metrics_sample_backlog(r->metrics, r->pg); /* at most once a second */
    if (!r->leader) {
        int rc = relay_lead(r);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (mq_service(r->pub.conn, err, sizeof err) != 0) {
                relay_drop_mq(r, err);
                return -1;
            }
            signals_sleep_ms(r->cfg->poll_interval_ms);
            return -1;
        }
    }
    return relay_fetch(r, NULL, b);
}

/* One pass: lead and fetch unless a pipelined batch is waiting, publish; sleep when the outbox is
 * drained (a fetch with nothing in flight found less than a batch, or the fetch of the next batch
 * found nothing). */
static void relay_pass(struct relay *r)
{
    char err[512];
    bool notified = false;

    if (!r->pending && relay_start(r) != 0)
        return;
    if (r->slots[r->cur].b.n > 0) {
        relay_cycle(r);
        if (r->pending || r->pg == NULL || r->pub.conn == NULL)
            return;
    }
    outbox_batch_release(&r->slots[r->cur].b); /* an empty fetch */
    if (r->idle_mode && r->flag != FLAG_ON) {
        /* going idle: ask for NOTIFYs, then look once more, since a row committed before the
         * flag was set sent none */
        (void)relay_set_flag(r, FLAG_ON);
        return;
    }
    if (outbox_wait(r->pg, r->cfg->poll_interval_ms, &notified, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return;
    }
    if (mq_service(r->pub.conn, err, sizeof err) != 0)
        relay_drop_mq(r, err);
}

/* At exit: marks the confirmed batch still waiting for its mark (the fetched one is left for the
 * next relay) and frees the slots. */
static void relay_finish(struct relay *r)
{
    if (r->pending && r->pg != NULL)
        relay_mark(r, &r->slots[1 - r->cur]);
    r->pending = false;
    for (int i = 0; i < 2; i++) {
        outbox_batch_release(&r->slots[i].b);
        mq_confirms_release(&r->slots[i].c);
    }
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
    relay_finish(r);
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
    r.metrics = relay_metrics_start();
    if (r.metrics == NULL) {
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
    mq_broker_release(&broker);
    log_info("stopped", NULL);
    return r.config_error ? 2 : 0;
}
