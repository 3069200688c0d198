/* purge: retention of the write DB's event history. Published outbox rows are kept for
 * OUTBOX_RETENTION (a PostgreSQL interval, e.g. "7 days") and then deleted; idempotency keys
 * older than IDEMPOTENCY_KEY_TTL_S likewise. Both go in small batches (outbox_purge() and
 * idempotency_purge(), which skip locked rows and never wait for writers), a few per call, at most
 * once per interval, so a purge never holds locks for long and a busy relay still purges.
 * Only the leading relay purges. */
#ifndef CQ_RELAY_PURGE_H
#define CQ_RELAY_PURGE_H

#include "pg/pg.h"

#include <stdbool.h>

struct purge {
    const char *retention; /* OUTBOX_RETENTION */
    long key_ttl_s;        /* IDEMPOTENCY_KEY_TTL_S */
    long interval_ms;      /* RELAY_PURGE_INTERVAL_MS */
    long batch;            /* rows per statement */
    long budget_ms;        /* at most this long per call, then the relay goes back to publishing */
    long long next_ms;     /* deadline_now_ms of the next purge; zero: right away */
    bool keys_failed;      /* idempotency_purge failed once: logged, not retried every time */
};

/* Checks OUTBOX_RETENTION with the server's interval parser. Returns 0 when valid, 1 when not
 * (err says why), -1 when the statement failed for another reason (err; check the connection). */
__attribute__((warn_unused_result)) int purge_check_retention(PGconn *conn, const char *retention,
                                                              char *err, size_t errlen);

/* Purges if due. Returns 0, or -1 with err when a statement failed (the caller checks
 * PQstatus() and reconnects when the connection is gone). */
__attribute__((warn_unused_result)) int purge_run(PGconn *conn, struct purge *p, char *err,
                                                  size_t errlen);

#endif
