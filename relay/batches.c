/* batches: the batches in flight (engine.h, inflight.h): fetch and send, settle, mark, hold back
 * what the broker returned, release after a failure. */
#include "engine.h"

#include "base/deadline.h"
#include "base/log.h"
#include "base/signals.h"
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>

/* Marks the acked prefix of s published (inflight_markable said it may) and logs it; s stays in
 * the ring (the caller pops it). Only on a live connection. Returns 0, or -1 after dropping the
 * connection (which released the ring, s with it): a failed statement, or the lease lost (the
 * database refused the mark: this relay was deposed). */
static int relay_mark(struct relay *r, struct inflight_batch *s)
{
    char err[512];
    size_t marked = 0;
    long long t0 = deadline_now_ms();
    long publish_ms = (long)(t0 - s->sent_ms);
    if (r->io->mark(r->pg, r->holder, &s->b, &s->c, &marked, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    publish_log_rows(&s->b, marked);
    if (marked > 0)
        log_info("published batch", "count=%zu first_id=%s last_id=%s publish_ms=%ld mark_ms=%ld",
                 marked, outbox_value(&s->b, 0, OUTBOX_ID),
                 outbox_value(&s->b, s->b.n - 1, OUTBOX_ID), publish_ms,
                 (long)(deadline_now_ms() - t0));
    return 0;
}

/* A batch leaves the ring (confirmed, or released after a broker failure): its metrics. */
static void relay_account(struct relay *r, const struct inflight_batch *s)
{
    const struct mq_confirms *c = &s->c;

    relay_metrics_batch(&r->metrics, c->n, c->n - c->pending - c->nacked, c->nacked, c->returned,
                        (double)(long)(deadline_now_ms() - s->sent_ms) / 1000.0);
}

/* Marks the acked prefix of each batch in flight while the ring has not stalled (never a row
 * after one that failed or is pending), then releases every batch and ends the stall: their
 * other rows are fetched and published again. Returns 0, or -1 when the PostgreSQL connection
 * was lost meanwhile (which released the ring). */
int relay_settle_all(struct relay *r)
{
    struct inflight_batch *s;

    while ((s = inflight_at(&r->ring, 0)) != NULL) {
        size_t k = inflight_markable(&r->ring);
        relay_account(r, s);
        if (k > 0 && (r->pg == NULL || relay_mark(r, s) != 0))
            return -1; /* the PostgreSQL connection is gone, and the ring with it */
        inflight_pop(&r->ring);
    }
    inflight_resume(&r->ring);
    return 0;
}

/* basic.return of a message in flight: its row counts as a failed publish (mq_watch.on_return;
 * the broker's line with the event id and routing key is logged by lib/mq/mq). */
void relay_on_return(void *arg, const struct mq_returned *ret)
{
    struct relay *r = arg;

    (void)inflight_return(&r->ring, ret->message_id);
}

/* The oldest batch came back with returned rows and stalled the ring: hold back every row from
 * the first returned one on (unmarked), and publish again from there after a backoff. */
static void relay_hold_returns(struct relay *r, const struct inflight_batch *s, size_t k)
{
    long retry_ms = backoff_next(&r->return_retry);

    r->hold_until_ms = deadline_now_ms() + retry_ms;
    if (!r->unroutable)
        relay_metrics_unroutable(&r->metrics, true);
    r->unroutable = true;
    log_warn("broker returned events as unroutable: not marking them, retrying",
             "returned=%zu first_held_id=%s event_id=%s routing_key=%s retry_ms=%ld", s->c.returned,
             outbox_value(&s->b, (int)k, OUTBOX_ID), outbox_value(&s->b, (int)k, OUTBOX_EVENT_ID),
             outbox_value(&s->b, (int)k, OUTBOX_ROUTING_KEY), retry_ms);
}

/* A broker failure (connection lost, confirm time-out, nack, unknown tag): marks the acked rows
 * of every batch in flight (the broker has them), releases the batches and drops the broker
 * connection. Their other rows are fetched and published again after the reconnect. */
void relay_broker_failed(struct relay *r, const char *err)
{
    (void)relay_settle_all(r);
    inflight_clear(&r->ring);
    inflight_resume(&r->ring);
    relay_drop_mq(r, err);
}

/* The test hook: pause after a batch was confirmed, before its mark. */
static void relay_fault_pause(const struct relay *r, const struct inflight_batch *s)
{
    if (r->cfg->fault_pause_after_publish_ms <= 0)
        return;
    log_warn("fault hook: pausing after publish, before mark (test only)",
             "ms=%ld count=%d first_id=%s last_id=%s", r->cfg->fault_pause_after_publish_ms, s->b.n,
             outbox_value(&s->b, 0, OUTBOX_ID), outbox_value(&s->b, s->b.n - 1, OUTBOX_ID));
    r->io->sleep_ms(r->cfg->fault_pause_after_publish_ms);
}

/* While the oldest batch in flight is fully confirmed: marks its acked prefix (inflight.h: none
 * once the ring stalled) and drops it. A batch with returned rows stalls the ring and holds them
 * back (relay_hold_returns). Returns 0 (also when the PostgreSQL connection was lost meanwhile),
 * or -1 with err when the broker nacked rows or the oldest batch's confirms are overdue: the
 * caller drops the broker. */
int relay_retire(struct relay *r, char *err, size_t errlen)
{
    struct inflight_batch *s;

    while ((s = inflight_at(&r->ring, 0)) != NULL && mq_confirms_done(&s->c)) {
        size_t nacked = s->c.nacked;
        bool stalled = inflight_stalled(&r->ring);
        size_t k = inflight_markable(&r->ring);
        int n = s->b.n;

        relay_account(r, s);
        if (!stalled && k < (size_t)n && nacked == 0)
            relay_hold_returns(r, s, k);
        if (k > 0) {
            relay_fault_pause(r, s);
            if (relay_mark(r, s) != 0)
                return 0;
        }
        inflight_pop(&r->ring);
        if (nacked > 0) {
            snprintf(err, errlen, "broker nacked %zu of %d events", nacked, n);
            return -1;
        }
        if (k == (size_t)n) {
            backoff_reset(&r->mq_retry);
            if (r->unroutable) {
                log_info("events are routable again: publishing resumed", NULL);
                r->unroutable = false;
                relay_metrics_unroutable(&r->metrics, false);
                backoff_reset(&r->return_retry);
            }
        }
    }
    if (s != NULL && (long)(deadline_now_ms() - s->sent_ms) >= r->cfg->confirm_timeout_ms) {
        snprintf(err, errlen,
                 "timed out after %ld ms waiting for publisher confirms: %zu of %zu pending",
                 r->cfg->confirm_timeout_ms, s->c.pending, s->c.n);
        return -1;
    }
    return 0;
}

/* The PostgreSQL work before a fetch (the backlog sample and a purge, each only when due; dropping
 * the notifications the fetch answers), then the fetch of up to a batch into b, leaving out the
 * rows of exclude_ids (NULL: none). Returns 0, or -1 after dropping the connection. */
static int relay_fetch(struct relay *r, const char *exclude_ids, struct outbox_batch *b)
{
    char err[512];

    r->io->sample_backlog(&r->metrics, r->pg); /* at most once a second */
    if (r->io->housekeeping(r->pg, &r->purge, err, sizeof err) != 0 ||
        r->io->fetch(r->pg, r->cfg->batch_size, exclude_ids, b, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    return 0;
}

/* Until when a batch may go on being sent: the lease, and at most the confirm time-out (a broker
 * that stopped reading our socket). */
static long long relay_publish_deadline(const struct relay *r)
{
    long long bound = deadline_now_ms() + r->cfg->confirm_timeout_ms;

    return r->lease_until_ms < bound ? r->lease_until_ms : bound;
}

/* When the ring has room: fetches the next rows, leaving out every row in flight by its id, and
 * sends them at once as a new batch in flight. *sent says whether rows went out. Then, awake with
 * work, writers need not notify until the relay is idle again (switched off after the send, so
 * that it never delays an event; a failure drops the connection). Returns 0, or -1 after
 * dropping the connection that failed. */
int relay_feed(struct relay *r, bool *sent)
{
    struct inflight_batch *s = inflight_next(&r->ring);
    size_t count = 0;
    char err[512];
    char *ids;
    int rc;

    *sent = false;
    if (s == NULL || r->watch.blocked)
        return 0; /* a full ring; or the broker blocks publishing: send nothing */
    if (inflight_stalled(&r->ring)) {
        /* rows were returned: wait until the ring drained and the backoff passed */
        if (r->ring.len > 0 || deadline_now_ms() < r->hold_until_ms)
            return 0;
        inflight_resume(&r->ring);
        log_info("publishing the returned events again", NULL);
    }
    if (r->unroutable && r->ring.len > 0)
        return 0; /* after returns, one batch at a time until one comes back clean */
    if (deadline_now_ms() >= r->lease_until_ms)
        return 0; /* the lease must be renewed first */
    ids = inflight_id_array(&r->ring, &count);
    rc = relay_fetch(r, ids, &s->b);
    free(ids);
    if (rc != 0)
        return -1;
    if (s->b.n == 0) {
        outbox_batch_release(&s->b);
        return 0;
    }
    s->sent_ms = deadline_now_ms();
    if (r->io->send(&r->pub, &s->b, &s->c, relay_publish_deadline(r), err, sizeof err) != 0) {
        relay_metrics_batch(&r->metrics, (size_t)(r->pub.next_tag - s->c.first_tag), 0, 0, 0, 0.0);
        outbox_batch_release(&s->b);
        relay_broker_failed(r, err);
        return -1;
    }
    inflight_push(&r->ring);
    *sent = true;
    if (r->idle_mode && r->flag != FLAG_OFF)
        (void)relay_set_flag(r, FLAG_OFF);
    return 0;
}
