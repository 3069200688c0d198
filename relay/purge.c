#include "purge.h"

#include "base/deadline.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int purge_check_retention(PGconn *conn, const char *retention, char *err, size_t errlen)
{
    const char *params[1] = {retention};
    PGresult *res =
        PQexecParams(conn, "SELECT $1::interval >= interval '0'", 1, NULL, params, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char detail[256];
    int rc = 0;

    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
            snprintf(err, errlen, "invalid value for OUTBOX_RETENTION: must not be negative");
            rc = 1;
        }
    } else {
        pg_error_text(conn, res, detail, sizeof detail);
        if (state != NULL && strncmp(state, "22", 2) == 0) {
            snprintf(err, errlen,
                     "invalid value for OUTBOX_RETENTION: expected a PostgreSQL interval such as "
                     "\"7 days\": %s",
                     detail);
            rc = 1;
        } else {
            snprintf(err, errlen, "could not check OUTBOX_RETENTION: %s", detail);
            rc = -1;
        }
    }
    PQclear(res);
    return rc;
}

/* Runs one purge statement (two parameters, returns one integer) until it deletes fewer than
 * p->batch rows or the deadline passes. *total gets the rows deleted. */
static int purge_loop(PGconn *conn, const struct purge *p, const char *sql, const char *arg,
                      long long deadline, long *total, char *err, size_t errlen)
{
    char limit[24];
    const char *params[2] = {arg, limit};

    snprintf(limit, sizeof limit, "%ld", p->batch);
    *total = 0;
    for (;;) {
        PGresult *res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
        long n;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            char detail[256];
            pg_error_text(conn, res, detail, sizeof detail);
            snprintf(err, errlen, "could not purge: %s", detail);
            PQclear(res);
            return -1;
        }
        n = atol(PQgetvalue(res, 0, 0));
        PQclear(res);
        *total += n;
        if (n < p->batch || deadline_now_ms() >= deadline)
            return 0;
    }
}

int purge_run(PGconn *conn, struct purge *p, char *err, size_t errlen)
{
    long long start = deadline_now_ms();
    long outbox = 0, keys = 0;
    char ttl[24], q[600];

    if (p->next_ms != 0 && start < p->next_ms)
        return 0;
    p->next_ms = start + p->interval_ms;

    if (purge_loop(conn, p, "SELECT outbox_purge($1::interval, $2::integer)", p->retention,
                   start + p->budget_ms, &outbox, err, errlen) != 0)
        return -1;
    if (outbox > 0)
        log_info("purged published outbox rows", "count=%ld retention=%s ms=%ld", outbox,
                 log_quote(q, sizeof q, p->retention), (long)(deadline_now_ms() - start));

    snprintf(ttl, sizeof ttl, "%ld", p->key_ttl_s);
    if (purge_loop(conn, p,
                   "SELECT idempotency_purge(make_interval(secs => $1::double precision), "
                   "$2::integer)",
                   ttl, start + p->budget_ms, &keys, err, errlen) != 0) {
        if (PQstatus(conn) != CONNECTION_OK)
            return -1;
        /* e.g. an older schema without the function: the outbox purge goes on regardless */
        if (!p->keys_failed)
            log_warn("could not purge idempotency keys", "error=%s", log_quote(q, sizeof q, err));
        p->keys_failed = true;
        return 0;
    }
    p->keys_failed = false;
    if (keys > 0)
        log_info("purged idempotency keys", "count=%ld ttl_s=%ld ms=%ld", keys, p->key_ttl_s,
                 (long)(deadline_now_ms() - start));
    return 0;
}
