/* outbox: the relay's side of the write DB. Leadership (the lease of relay_lease), fetching
 * unpublished outbox rows in id order, marking confirmed rows published, the notify_wanted
 * switch of relay_state, and waiting for an outbox_events notification.
 *
 * A struct outbox_batch owns the PGresult its rows live in; outbox_batch_release() clears it.
 * Every function returns 0 or -1 with err; after -1 the caller checks PQstatus() and reconnects
 * when the connection is gone. */
#ifndef CQ_RELAY_OUTBOX_H
#define CQ_RELAY_OUTBOX_H

#include "mq/mq.h"
#include "pg/pg.h"

#include <stdbool.h>
#include <stddef.h>

/* Statements to prepare on the relay's connection (pg_connect's stmts). */
extern const struct pg_stmt outbox_stmts[];
extern const size_t outbox_nstmts;

/* Columns of a fetched row. */
enum outbox_col {
    OUTBOX_ID = 0,
    OUTBOX_EVENT_ID,
    OUTBOX_ROUTING_KEY, /* aggregate_type '.' event_type, e.g. order.OrderCreated */
    OUTBOX_PAYLOAD,     /* the event envelope, JSON text */
    OUTBOX_EVENT_TYPE,
    OUTBOX_AGGREGATE_ID,
    OUTBOX_AGGREGATE_TYPE,
    OUTBOX_TRACEPARENT, /* the W3C trace context of the request that wrote it, "" none */
};

struct outbox_batch {
    PGresult *res;
    int n;
};

/* LISTEN outbox_events (only the leader listens). */
__attribute__((warn_unused_result)) int outbox_listen(PGconn *conn, char *err, size_t errlen);

/* The leader lease (migrations/write/0008_relay_lease.sql). */
struct outbox_lease {
    bool acquired;    /* this session holds it now */
    char holder[128]; /* who holds it ("" never held) */
    long long epoch;  /* + 1 at each change of holder */
    int fenced_pid;   /* the old holder's backend this call terminated, 0 none */
};
/* Takes (or renews) the lease for holder on this session for lease_ms: a standby's try. */
__attribute__((warn_unused_result)) int outbox_lease_acquire(PGconn *conn, const char *holder,
                                                             long lease_ms,
                                                             struct outbox_lease *lease, char *err,
                                                             size_t errlen);
/* The leader's renewal: *held false when the lease was taken over (stop publishing). */
__attribute__((warn_unused_result)) int outbox_lease_renew(PGconn *conn, const char *holder,
                                                           long lease_ms, bool *held, char *err,
                                                           size_t errlen);
/* A clean shutdown gives the lease up, so that a standby takes over at once. */
__attribute__((warn_unused_result)) int outbox_lease_release(PGconn *conn, const char *holder,
                                                             char *err, size_t errlen);

/* Fetches up to limit unpublished rows in id order into b (b->n may be 0). exclude_ids, when not
 * NULL, is the array literal of the rows in flight (published, not yet marked: see
 * inflight_id_array): they are left out by their exact ids, so that more batches can be fetched
 * while the broker confirms them. Not an id range: a row of lower id than an in-flight one may
 * commit later, and it must still come, in id order, in the next batch. */
__attribute__((warn_unused_result)) int outbox_fetch(PGconn *conn, long limit,
                                                     const char *exclude_ids,
                                                     struct outbox_batch *b, char *err,
                                                     size_t errlen);
const char *outbox_value(const struct outbox_batch *b, int row, enum outbox_col col);
int outbox_length(const struct outbox_batch *b, int row, enum outbox_col col);
void outbox_batch_release(struct outbox_batch *b);

/* The ids of b's rows as a PostgreSQL array literal, "{id,id,...}" in row order ("{}" for none):
 * every row when c is NULL, else the acked prefix: the rows before the first whose confirm state
 * in c is not MQ_ACKED (row i has entry i; a row returned as unroutable, nacked or pending ends
 * it). *count gets their number. The caller frees the string. */
char *outbox_id_array(const struct outbox_batch *b, const struct mq_confirms *c, size_t *count);
/* The pieces of such a literal, for lists that span batches (inflight.h): the bytes b's ids take
 * with their separators, and the appending of those selected as above at ids + *len (a comma
 * before each when *count > 0), advancing *len and *count. */
size_t outbox_ids_size(const struct outbox_batch *b);
void outbox_ids_append(const struct outbox_batch *b, const struct mq_confirms *c, char *ids,
                       size_t *len, size_t *count);

/* Sets published_at on the acked prefix of b (outbox_id_array), only while this session holds the
 * lease for holder (relay_mark_published checks it in the same statement). *marked gets their
 * number. Returns 0, -1 with err on a failed statement, or 1 with err when the lease is lost
 * (nothing marked: the caller stops publishing and stands by). */
__attribute__((warn_unused_result)) int
outbox_mark_published(PGconn *conn, const char *holder, const struct outbox_batch *b,
                      const struct mq_confirms *c, size_t *marked, char *err, size_t errlen);

/* Sets relay_state.notify_wanted. */
__attribute__((warn_unused_result)) int outbox_set_notify_wanted(PGconn *conn, bool wanted,
                                                                 char *err, size_t errlen);

/* Reads what the server has sent and discards every notification received so far; called before
 * a fetch, which answers them. Keeps a busy relay from piling up notifications. */
__attribute__((warn_unused_result)) int outbox_forget_notifications(PGconn *conn, char *err,
                                                                    size_t errlen);

/* Waits up to timeout_ms for a notification (returns early on a signal). Notifications that
 * libpq already read during earlier queries count too, so none is lost between the last fetch
 * and the wait. *notified says whether one arrived; all pending ones are consumed. */
__attribute__((warn_unused_result)) int outbox_wait(PGconn *conn, long timeout_ms, bool *notified,
                                                    char *err, size_t errlen);

#endif
