/* inflight: the relay's ring of batches in flight, oldest first. Each batch was published with
 * consecutive delivery tags (publish_send) after the one before it, and waits for its confirms
 * and then its mark; a later fetch leaves out every in-flight row by its exact id.
 *
 * Order of marking: the rows in flight form one sequence (batch after batch, row after row, in the
 * order they were sent, which is outbox id order within a batch). A row is marked published only
 * if every row sent before it was acked too: at the first row that is not (returned as
 * unroutable, nacked, or never confirmed) the ring stalls, and neither that row nor any row after
 * it, of this batch or a later one, is marked; they are fetched and published again, in order,
 * after the ring drained (inflight_resume). So a later event of an aggregate is never marked
 * while an earlier one is held back.
 *
 * Memory: struct inflight owns its slots, each slot's batch (the PGresult) and confirm state;
 * inflight_release() frees everything. Pure logic, no I/O. */
#ifndef CQ_RELAY_INFLIGHT_H
#define CQ_RELAY_INFLIGHT_H

#include "mq/mq.h"
#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct inflight_batch {
    struct outbox_batch b;
    struct mq_confirms c;
    long long sent_ms; /* when its first row was published (deadline_now_ms) */
};

struct inflight {
    struct inflight_batch *slots;
    struct mq_confirms **confirms; /* scratch: the batches' confirms, oldest first */
    size_t cap, head, len;
    bool stalled; /* a row was not acked: nothing after it is marked until inflight_resume */
};

/* An empty ring of at most cap (>= 1) batches. */
void inflight_init(struct inflight *q, size_t cap);
/* Frees the ring and every batch in it. */
void inflight_release(struct inflight *q);

bool inflight_full(const struct inflight *q);
/* The i-th batch in flight, 0 the oldest; NULL when there are not that many. */
struct inflight_batch *inflight_at(struct inflight *q, size_t i);
/* The free slot the next batch is fetched into (its b empty); NULL when the ring is full. It
 * joins the ring with inflight_push() once sent, or is left (release its b) when not. */
struct inflight_batch *inflight_next(struct inflight *q);
void inflight_push(struct inflight *q);
/* Drops the oldest batch (releasing its rows; its confirm array is kept for reuse). */
void inflight_pop(struct inflight *q);
/* Drops every batch. */
void inflight_clear(struct inflight *q);

/* The confirms of the batches in flight, oldest first, for mq_confirms_read(); *n gets their
 * number. Valid until the ring changes. */
struct mq_confirms *const *inflight_confirms(struct inflight *q, size_t *n);

/* The broker returned the message with this event id (a basic.return, before its ack): marks its
 * row returned in its batch's confirms. False when no row in flight has that id (a late return of
 * a batch already dropped). */
bool inflight_return(struct inflight *q, const char *event_id);

/* The oldest batch is settled (or being released): the number of its leading rows that may be
 * marked published. 0 once stalled; else its acked prefix, and when that is shorter than the
 * batch the ring stalls from that row on. */
size_t inflight_markable(struct inflight *q);
bool inflight_stalled(const struct inflight *q);
/* Ends a stall (the relay publishes again from the oldest unpublished row). */
void inflight_resume(struct inflight *q);

/* The ids of every row in flight as a PostgreSQL array literal "{id,...}" (oldest batch first),
 * or NULL when nothing is in flight. *count gets their number. The caller frees the string. */
char *inflight_id_array(const struct inflight *q, size_t *count);

#endif
