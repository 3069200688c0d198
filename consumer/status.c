#include "status.h"

#include "base/deadline.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>

void consumer_status_init(struct consumer_status *s, long interval_ms)
{
    s->interval_ms = interval_ms;
    s->next_ms = 0;
    s->failing = false;
}

static bool is_relay(const amqp_envelope_t *env)
{
    size_t n = strlen(CONSUMER_STATUS_RELAY_KEY);

    return env->routing_key.len == n &&
           memcmp(env->routing_key.bytes, CONSUMER_STATUS_RELAY_KEY, n) == 0;
}

bool consumer_status_is_notice(const amqp_envelope_t *env)
{
    size_t n = strlen(CONSUMER_STATUS_NOTICE_PREFIX);

    return is_relay(env) || (env->routing_key.len > n &&
                             memcmp(env->routing_key.bytes, CONSUMER_STATUS_NOTICE_PREFIX, n) == 0);
}

/* Stores one notice's body with sql ($1: the body as jsonb); a refused body is logged and
 * forgotten (the next relay status comes a second later; a lost dead-letter notice leaves the
 * panel's row as it was, and the action can be repeated). */
static void store_notice(PGconn *pg, const char *sql, const amqp_bytes_t body)
{
    char text[1024], detail[256], q[300];
    const char *params[1] = {text};
    PGresult *res;

    if (body.len >= sizeof text) {
        log_warn("dropped a notice: too long", "bytes=%zu", body.len);
        return;
    }
    memcpy(text, body.bytes, body.len);
    text[body.len] = '\0';
    res = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_error_text(pg, res, detail, sizeof detail);
        log_warn("could not store a notice, dropped it", "error=%s",
                 log_quote(q, sizeof q, detail));
    }
    PQclear(res);
}

int consumer_status_take_notices(struct receive_batch *b, amqp_connection_state_t mq, PGconn *pg,
                                 char *err, size_t errlen)
{
    for (size_t i = 0; i < b->n; i++) {
        struct delivery *d = &b->items[i];
        int status;

        if (d->settled || !consumer_status_is_notice(&d->env))
            continue;
        if (pg != NULL && is_relay(&d->env))
            store_notice(pg, "SELECT record_relay_status($1::jsonb)", d->env.message.body);
        else if (pg != NULL)
            store_notice(pg,
                         "SELECT mark_dead_letter(n->>'eventId', n->>'status', "
                         "(n->>'at')::timestamptz) FROM (SELECT $1::jsonb AS n) s",
                         d->env.message.body);
        status = amqp_basic_ack(mq, MQ_CHANNEL, d->env.delivery_tag, 0);
        if (status != AMQP_STATUS_OK) {
            char detail[128];
            snprintf(err, errlen, "could not ack a notice: %s",
                     mq_status_text(status, detail, sizeof detail));
            return -1;
        }
        d->settled = true;
    }
    return 0;
}

/* Passive queue.declare of queue: adds its ready messages and consumers to *messages and
 * *consumers. */
static int read_queue(amqp_connection_state_t conn, const char *queue, unsigned long long *messages,
                      unsigned long long *consumers, char *err, size_t errlen)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 1,
                                                     0, 0, 0, amqp_empty_table);
    char detail[256];

    if (ok == NULL) {
        snprintf(err, errlen, "could not read queue \"%s\": %s", queue,
                 mq_reply_text(amqp_get_rpc_reply(conn), detail, sizeof detail));
        return -1;
    }
    *messages += ok->message_count;
    *consumers += ok->consumer_count;
    return 0;
}

int consumer_status_tick(struct consumer_status *s, amqp_connection_state_t conn, PGconn *pg,
                         const struct mq_topology *t, const struct domain_names *names, char *err,
                         size_t errlen)
{
    const char *queues[4] = {t->queue, t->retry_queue, t->dead_queue, names->mood_queue};
    char figures[8][24], q[600], work[300], partition[300];
    const char *params[12];
    long long now = deadline_now_ms();
    PGresult *res;
    int rc = 0;

    if (conn == NULL || pg == NULL || now < s->next_ms)
        return 0;
    s->next_ms = now + s->interval_ms;
    if (t->partitions > 1) { /* the work queue's figures: the sums over its partitions */
        snprintf(work, sizeof work, "%s.p*", t->queue);
        queues[0] = work;
    }
    for (int i = 0; i < 4; i++) {
        unsigned long long messages = 0, consumers = 0;
        long n = i == 0 ? t->partitions : 1;
        for (long k = 0; k < n; k++) {
            const char *queue =
                n > 1 ? mq_partition_queue(t, k, partition, sizeof partition) : queues[i];
            if (read_queue(conn, queue, &messages, &consumers, err, errlen) != 0)
                return -1;
        }
        snprintf(figures[2 * i], sizeof figures[0], "%llu", messages);
        snprintf(figures[2 * i + 1], sizeof figures[0], "%llu", consumers);
        params[3 * i] = queues[i];
        params[3 * i + 1] = figures[2 * i];
        params[3 * i + 2] = figures[2 * i + 1];
    }
    res = PQexecParams(pg,
                       "SELECT record_queue_status('readModel', $1, $2::bigint, $3::bigint), "
                       "record_queue_status('retry', $4, $5::bigint, $6::bigint), "
                       "record_queue_status('dead', $7, $8::bigint, $9::bigint), "
                       "record_queue_status('mood', $10, $11::bigint, $12::bigint)",
                       12, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_error_text(pg, res, err, errlen);
        if (!s->failing)
            log_warn("could not store the queue status", "error=%s", log_quote(q, sizeof q, err));
        s->failing = true;
        rc = PQstatus(pg) == CONNECTION_BAD ? -2 : 0;
    } else {
        if (s->failing)
            log_info("storing the queue status again", NULL);
        s->failing = false;
    }
    PQclear(res);
    return rc;
}
