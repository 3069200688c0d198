#include "project.h"

#include "base/backoff.h"
#include "base/log.h"
#include "base/signals.h"
#include "project_tx.h"

#include <jansson.h>

#include <stdio.h>
#include <string.h>

bool project_ids_name(const char *ids, const char *event_id)
{
    size_t n = strlen(event_id);

    if (n == 0)
        return false;
    for (const char *p = ids; (p = strstr(p, event_id)) != NULL; p++) {
        bool starts = p == ids || p[-1] == ' ';
        bool ends = p[n] == '\0' || p[n] == ' ';
        if (starts && ends)
            return true;
    }
    return false;
}

static enum project_status give_up(const struct project_ctx *ctx, struct receive_batch *b,
                                   struct delivery *d, bool early, const char *reason,
                                   const char *sqlstate, char *err, size_t errlen);

/* A batch failed with CQ425 whose DETAIL (ids) names its early events: sets aside each delivery
 * of b->items[lo, hi) it names, held for a local retry (hold) or handed to the retry queue.
 * *count tells how many; 0 when the DETAIL named none (then the caller halves the range). */
static enum project_status set_aside_early(const struct project_ctx *ctx, struct receive_batch *b,
                                           size_t lo, size_t hi, bool hold, const char *ids,
                                           const char *reason, size_t *count, char *err,
                                           size_t errlen)
{
    char keys[192];

    *count = 0;
    for (size_t i = lo; i < hi; i++) {
        struct delivery *d = &b->items[i];
        if (d->settled || d->held || d->bad || !project_ids_name(ids, d->info.event_id))
            continue;
        (*count)++;
        if (hold) {
            d->held = true;
            log_debug("event arrived early, holding it for a local retry", "%s event_type=%s",
                      event_info_keys(&d->info, keys, sizeof keys), d->info.event_type);
            continue;
        }
        enum project_status st = give_up(ctx, b, d, true, reason, SQLSTATE_EARLY, err, errlen);
        if (st != PROJECT_DONE)
            return st;
    }
    if (*count > 0)
        log_info("early events set aside, applying the rest of the batch again",
                 "count=%zu held=%s", *count, hold ? "true" : "false");
    return PROJECT_DONE;
}

/* The unsettled deliveries of b->items[lo, hi) in one transaction. Returns PROJECT_DONE when
 * applied and acked; when the transaction failed because of early events its error names, sets
 * them aside (set_aside_early) and sets *again, the rest left unsettled; when it failed because
 * of another event, *failed is set and the range is left unsettled. */
static enum project_status apply_all(const struct project_ctx *ctx, struct receive_batch *b,
                                     size_t lo, size_t hi, bool hold, struct event_batch *json,
                                     bool *failed, bool *again, char *err, size_t errlen)
{
    uint64_t last_tag = 0;
    long long applied = 0, duplicates = 0;
    char sqlstate[6];
    PGresult *res;
    int status;

    *failed = false;
    *again = false;
    event_batch_reset(json);
    for (size_t i = lo; i < hi; i++) {
        struct delivery *d = &b->items[i];
        if (d->settled || d->held)
            continue;
        event_batch_add(json, d->env.message.body.bytes, d->env.message.body.len);
        last_tag = d->env.delivery_tag;
    }
    if (json->count == 0)
        return PROJECT_DONE;
    res = project_apply_tx(ctx, ctx->parallel ? "consumer_apply_events_p" : "consumer_apply_events",
                           event_batch_json(json), json->count);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        enum failure f = project_classify(ctx->pg, res, sqlstate, err, errlen);
        if (f == FAIL_LATER) {
            const char *ids = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
            char reason[512];
            size_t early = 0;
            snprintf(reason, sizeof reason, "%s", err);
            enum project_status st =
                set_aside_early(ctx, b, lo, hi, hold, ids ? ids : "", reason, &early, err, errlen);
            if (st != PROJECT_DONE || early > 0) {
                PQclear(res);
                *again = early > 0;
                return st;
            }
        }
        PQclear(res);
        if (f == FAIL_LOST || f == FAIL_RETRY)
            return project_failure_status(f);
        char q[600];
        *failed = true;
        log_emit(lo == 0 && hi == b->n ? LOG_WARN : LOG_DEBUG,
                 "could not apply batch, splitting it to isolate the event",
                 "count=%zu sqlstate=%s error=%s", json->count, sqlstate,
                 log_quote(q, sizeof q, err));
        return PROJECT_DONE;
    }
    project_parse_counts(PQgetvalue(res, 0, 0), &applied, &duplicates);
    PQclear(res);
    b->applied += (size_t)applied;
    b->duplicates += (size_t)duplicates;
    for (size_t i = lo; i < hi; i++)
        if (!b->items[i].settled && !b->items[i].held &&
            b->items[i].info.occurred_at > b->newest_occurred_at)
            b->newest_occurred_at = b->items[i].info.occurred_at;
    if (ctx->fault_pause_after_commit_ms > 0)
        project_fault_pause("after commit, before ack", ctx->fault_pause_after_commit_ms,
                            json->count);

    /* apply_events reports counts only: a mixed batch (after a redelivery) logs every event as
     * saved, and its duplicates= count tells how many were not */
    for (size_t i = lo; i < hi; i++)
        if (!b->items[i].settled && !b->items[i].held)
            project_log_saved(&b->items[i], applied == 0);
    /* committed: now the broker may forget these deliveries */
    status = project_ack_range(ctx, b, lo, hi, last_tag);
    log_info("applied batch", "count=%zu applied=%lld duplicates=%lld", json->count, applied,
             duplicates);
    return project_acked(status, last_tag, err, errlen);
}

/* The log keys of d: order_id=.. event_id=.. of a parsed event, else the message_id. */
static const char *delivery_keys(const struct delivery *d, char *buf, size_t len)
{
    const amqp_basic_properties_t *p = &d->env.message.properties;
    char id[128] = "", q[160];

    if (!d->bad)
        return event_info_keys(&d->info, buf, len);
    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len > 0)
        snprintf(id, sizeof id, "%.*s", (int)p->message_id.len, (const char *)p->message_id.bytes);
    snprintf(buf, len, "event_id=%s", log_quote(q, sizeof q, id));
    return buf;
}

/* Hands a delivery that could not be applied to the retry queue, or after its last allowed try to
 * the dead-letter queue, then acks it. early: it failed with CQ425. */
static enum project_status give_up(const struct project_ctx *ctx, struct receive_batch *b,
                                   struct delivery *d, bool early, const char *reason,
                                   const char *sqlstate, char *err, size_t errlen)
{
    long attempts = deadletter_prior_attempts(&d->env) + 1;
    long limit = d->bad ? 1 : early ? ctx->early_max_attempts : ctx->max_attempts;
    enum deadletter_target target = attempts < limit ? DEADLETTER_RETRY : DEADLETTER_DEAD;
    char keys[192], q[600];
    const char *type = d->bad ? "" : d->info.event_type;
    int status;

    if (deadletter_send(ctx->dl, &d->env, target, attempts, reason, sqlstate, ctx->retry_delay_ms,
                        err, errlen) != 0)
        return PROJECT_MQ_LOST;
    status = amqp_basic_ack(ctx->mq, MQ_CHANNEL, d->env.delivery_tag, 0);
    d->settled = true;
    if (target == DEADLETTER_RETRY) {
        b->retried++;
        log_warn(early ? "event arrived early, retrying later"
                       : "could not apply event, retrying later",
                 "%s event_type=%s attempt=%ld max_attempts=%ld retry_ms=%ld sqlstate=%s error=%s",
                 delivery_keys(d, keys, sizeof keys), type, attempts, limit, ctx->retry_delay_ms,
                 sqlstate, log_quote(q, sizeof q, reason));
    } else {
        b->dead++;
        log_error("dead-lettered event",
                  "%s event_type=%s attempts=%ld sqlstate=%s queue=%s reason=%s",
                  delivery_keys(d, keys, sizeof keys), type, attempts, sqlstate,
                  ctx->dl->topo->dead_queue, log_quote(q, sizeof q, reason));
    }
    return project_acked(status, d->env.delivery_tag, err, errlen);
}

/* One event in its own transaction; acked after the commit, handed to the retry or dead-letter
 * queue if the database refuses it, or, with hold, marked held (and left unsettled) if it only
 * came before its predecessor. */
static enum project_status apply_one(const struct project_ctx *ctx, struct receive_batch *b,
                                     struct delivery *d, bool hold, struct event_batch *json,
                                     char *err, size_t errlen)
{
    PGresult *res = project_apply_tx(
        ctx, ctx->parallel ? "consumer_apply_event_p" : "consumer_apply_event",
        event_batch_one(json, d->env.message.body.bytes, d->env.message.body.len), 1);
    char sqlstate[6], reason[512];
    int status;

    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        bool duplicate = strcmp(PQgetvalue(res, 0, 0), "duplicate") == 0;
        PQclear(res);
        status = amqp_basic_ack(ctx->mq, MQ_CHANNEL, d->env.delivery_tag, 0);
        d->settled = true;
        *(duplicate ? &b->duplicates : &b->applied) += 1;
        if (d->info.occurred_at > b->newest_occurred_at)
            b->newest_occurred_at = d->info.occurred_at;
        project_log_saved(d, duplicate);
        return project_acked(status, d->env.delivery_tag, err, errlen);
    }
    enum failure f = project_classify(ctx->pg, res, sqlstate, reason, sizeof reason);
    PQclear(res);
    if (f == FAIL_LOST || f == FAIL_RETRY) {
        snprintf(err, errlen, "%s", reason);
        return project_failure_status(f);
    }
    if (f == FAIL_LATER && hold) {
        char keys[192];
        d->held = true;
        log_debug("event arrived early, holding it for a local retry", "%s event_type=%s",
                  event_info_keys(&d->info, keys, sizeof keys), d->info.event_type);
        return PROJECT_DONE;
    }
    return give_up(ctx, b, d, f == FAIL_LATER, reason, sqlstate, err, errlen);
}

/* Applies the unsettled deliveries of b->items[lo, hi): all in one transaction; if an event
 * makes it fail, the range is split in two and each half applied the same way, left half first,
 * so that batch order is kept and one bad event costs about 2 log2(n) transactions, not n. A
 * single delivery is applied alone and handed to the retry or dead-letter queue if it fails. */
static enum project_status apply_range(const struct project_ctx *ctx, struct receive_batch *b,
                                       size_t lo, size_t hi, bool hold, struct event_batch *json,
                                       char *err, size_t errlen)
{
    size_t unsettled, half = 0, mid;
    bool failed = false, again = true;
    enum project_status st = PROJECT_DONE;

    /* each round with again set has settled or held at least one more delivery */
    while (again) {
        unsettled = 0;
        mid = lo;
        for (size_t i = lo; i < hi; i++)
            unsettled += !b->items[i].settled && !b->items[i].held;
        if (unsettled == 0)
            return PROJECT_DONE;
        if (unsettled == 1) {
            while (b->items[mid].settled || b->items[mid].held)
                mid++;
            return apply_one(ctx, b, &b->items[mid], hold, json, err, errlen);
        }
        st = apply_all(ctx, b, lo, hi, hold, json, &failed, &again, err, errlen);
        if (st != PROJECT_DONE)
            return st;
    }
    if (!failed)
        return st;
    /* split where half of the unsettled deliveries lie to the left */
    for (mid = lo; half < unsettled / 2; mid++)
        half += !b->items[mid].settled && !b->items[mid].held;
    st = apply_range(ctx, b, lo, mid, hold, json, err, errlen);
    if (st != PROJECT_DONE)
        return st;
    return apply_range(ctx, b, mid, hi, hold, json, err, errlen);
}

enum project_status project_batch(const struct project_ctx *ctx, struct receive_batch *b,
                                  struct event_batch *json, char *err, size_t errlen)
{
    enum project_status st;

    /* poison first: the batch's multiple ack must not cover them */
    for (size_t i = 0; i < b->n; i++) {
        struct delivery *d = &b->items[i];
        d->held = false; /* left over from a call that lost its connection */
        if (d->settled || !d->bad)
            continue;
        st = give_up(ctx, b, d, false, d->why, "", err, errlen);
        if (st != PROJECT_DONE)
            return st;
    }
    /* An early event's predecessor is usually in another consumer's batch, committing right
     * now: hold it and try again after a short pause, a few times, before it goes to the retry
     * queue (where it would come back behind everything queued meanwhile). */
    struct backoff pause;

    backoff_init(&pause, EARLY_LOCAL_PAUSE_MS, EARLY_LOCAL_PAUSE_MS << (EARLY_LOCAL_RETRIES - 1));
    for (int round = 0;; round++) {
        bool hold = round < EARLY_LOCAL_RETRIES, any = false;
        st = apply_range(ctx, b, 0, b->n, hold, json, err, errlen);
        if (st != PROJECT_DONE)
            return st;
        for (size_t i = 0; i < b->n; i++) {
            any = any || (b->items[i].held && !b->items[i].settled);
            b->items[i].held = false;
        }
        if (!any || signals_stop_requested())
            return PROJECT_DONE;
        signals_sleep_ms(backoff_next(&pause));
    }
}
