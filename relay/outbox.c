#include "outbox.h"

#include "base/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pg_stmt outbox_stmts[] = {
    /* the leader lease and its fencing (migrations/write/0008_relay_lease.sql) */
    {"relay_lease_acquire",
     "SELECT acquired, coalesce(holder, ''), epoch, fenced_pid FROM relay_lease_acquire($1, $2)",
     2},
    {"relay_lease_renew", "SELECT relay_lease_renew($1, $2)", 2},
    {"relay_lease_release", "SELECT relay_lease_release($1)", 1},
    {"relay_fetch",
     "SELECT id, event_id, aggregate_type || '.' || event_type, payload::text, event_type, "
     "aggregate_id, aggregate_type, coalesce(traceparent, '') FROM outbox "
     "WHERE published_at IS NULL ORDER BY id LIMIT $1",
     1},
    /* the same, leaving out every row in flight ($2, up to RELAY_MAX_IN_FLIGHT batches). NOT IN
     * over a subquery is a hashed SubPlan in the generic plan too (one probe per row it scans); "id
     * <> ALL($2)" is hashed only when $2 is a constant of a custom plan, else compared element by
     * element (about 4x the time with 1,000 ids). Both walk outbox_unpublished_idx in id order,
     * stopping at the limit. */
    {"relay_fetch_next",
     "SELECT id, event_id, aggregate_type || '.' || event_type, payload::text, event_type, "
     "aggregate_id, aggregate_type, coalesce(traceparent, '') FROM outbox "
     "WHERE published_at IS NULL AND id NOT IN (SELECT unnest($2::bigint[])) ORDER BY id LIMIT $1",
     2},
    /* NULL when this session no longer holds the lease: a deposed leader never marks */
    {"relay_mark", "SELECT relay_mark_published($1::bigint[], $2)", 2},
    {"relay_notify_wanted",
     "UPDATE relay_state SET notify_wanted = $1::boolean, updated_at = now()", 1},
};
const size_t outbox_nstmts = sizeof outbox_stmts / sizeof outbox_stmts[0];

/* Runs a prepared statement and checks its status. Returns the result (caller PQclears) or NULL
 * with err "could not <what>: <postgres error>". */
static PGresult *exec(PGconn *conn, const char *stmt, int nparams, const char *const *params,
                      ExecStatusType want, const char *what, char *err, size_t errlen)
{
    PGresult *res = PQexecPrepared(conn, stmt, nparams, params, NULL, NULL, 0);
    char detail[400];

    if (PQresultStatus(res) == want)
        return res;
    pg_error_text(conn, res, detail, sizeof detail);
    snprintf(err, errlen, "could not %s: %s", what, detail);
    PQclear(res);
    return NULL;
}

int outbox_listen(PGconn *conn, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "LISTEN outbox_events");
    char detail[400];
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_error_text(conn, res, detail, sizeof detail);
        snprintf(err, errlen, "could not listen on outbox_events: %s", detail);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* Runs a lease statement of (holder, lease_ms): the result (caller PQclears), or NULL with err. */
static PGresult *lease_exec(PGconn *conn, const char *stmt, const char *holder, long lease_ms,
                            const char *what, char *err, size_t errlen)
{
    char ms[24];
    const char *params[2] = {holder, ms};

    snprintf(ms, sizeof ms, "%ld", lease_ms);
    return exec(conn, stmt, 2, params, PGRES_TUPLES_OK, what, err, errlen);
}

int outbox_lease_acquire(PGconn *conn, const char *holder, long lease_ms,
                         struct outbox_lease *lease, char *err, size_t errlen)
{
    PGresult *res = lease_exec(conn, "relay_lease_acquire", holder, lease_ms,
                               "take the relay lease", err, errlen);

    if (res == NULL)
        return -1;
    lease->acquired = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    snprintf(lease->holder, sizeof lease->holder, "%s", PQgetvalue(res, 0, 1));
    lease->epoch = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    lease->fenced_pid = PQgetisnull(res, 0, 3) ? 0 : atoi(PQgetvalue(res, 0, 3));
    PQclear(res);
    return 0;
}

int outbox_lease_renew(PGconn *conn, const char *holder, long lease_ms, bool *held, char *err,
                       size_t errlen)
{
    PGresult *res = lease_exec(conn, "relay_lease_renew", holder, lease_ms, "renew the relay lease",
                               err, errlen);

    if (res == NULL)
        return -1;
    *held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}

int outbox_lease_release(PGconn *conn, const char *holder, char *err, size_t errlen)
{
    const char *params[1] = {holder};
    PGresult *res = exec(conn, "relay_lease_release", 1, params, PGRES_TUPLES_OK,
                         "release the relay lease", err, errlen);

    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

int outbox_fetch(PGconn *conn, long limit, const char *exclude_ids, struct outbox_batch *b,
                 char *err, size_t errlen)
{
    char limit_text[24];
    const char *params[2] = {limit_text, exclude_ids};

    snprintf(limit_text, sizeof limit_text, "%ld", limit);
    b->res = exec(conn, exclude_ids != NULL ? "relay_fetch_next" : "relay_fetch",
                  exclude_ids != NULL ? 2 : 1, params, PGRES_TUPLES_OK, "fetch outbox rows", err,
                  errlen);
    b->n = b->res != NULL ? PQntuples(b->res) : 0;
    return b->res != NULL ? 0 : -1;
}

const char *outbox_value(const struct outbox_batch *b, int row, enum outbox_col col)
{
    return PQgetvalue(b->res, row, (int)col);
}

int outbox_length(const struct outbox_batch *b, int row, enum outbox_col col)
{
    return PQgetlength(b->res, row, (int)col);
}

void outbox_batch_release(struct outbox_batch *b)
{
    PQclear(b->res);
    b->res = NULL;
    b->n = 0;
}

size_t outbox_ids_size(const struct outbox_batch *b)
{
    size_t size = 0;

    for (int i = 0; i < b->n; i++)
        size += (size_t)outbox_length(b, i, OUTBOX_ID) + 1;
    return size;
}

void outbox_ids_append(const struct outbox_batch *b, const struct mq_confirms *c, char *ids,
                       size_t *len, size_t *count)
{
    for (int i = 0; i < b->n; i++) {
        size_t w = (size_t)outbox_length(b, i, OUTBOX_ID);
        if (c != NULL && mq_confirms_state(c, (size_t)i) != MQ_ACKED)
            break; /* the acked prefix only: never a row after one that failed */
        if (*count > 0)
            ids[(*len)++] = ',';
        memcpy(ids + *len, outbox_value(b, i, OUTBOX_ID), w);
        *len += w;
        (*count)++;
    }
}

char *outbox_id_array(const struct outbox_batch *b, const struct mq_confirms *c, size_t *count)
{
    char *ids = xmalloc(outbox_ids_size(b) + 3); /* "{", "}", NUL */
    size_t len = 0;

    *count = 0;
    ids[len++] = '{';
    outbox_ids_append(b, c, ids, &len, count);
    ids[len++] = '}';
    ids[len] = '\0';
    return ids;
}

int outbox_mark_published(PGconn *conn, const char *holder, const struct outbox_batch *b,
                          const struct mq_confirms *c, size_t *marked, char *err, size_t errlen)
{
    char *ids = outbox_id_array(b, c, marked);
    const char *params[2] = {ids, holder};
    PGresult *res = NULL;
    int rc = 0;

    if (*marked == 0)
        goto out;
    res = exec(conn, "relay_mark", 2, params, PGRES_TUPLES_OK, "mark outbox rows published", err,
               errlen);
    if (res == NULL) {
        *marked = 0;
        rc = -1;
    } else if (PQgetisnull(res, 0, 0)) {
        snprintf(err, errlen, "could not mark outbox rows published: this relay lost its lease");
        *marked = 0;
        rc = 1;
    }
out:
    PQclear(res);
    free(ids);
    return rc;
}

int outbox_set_notify_wanted(PGconn *conn, bool wanted, char *err, size_t errlen)
{
    const char *params[1] = {wanted ? "true" : "false"};
    PGresult *res = exec(conn, "relay_notify_wanted", 1, params, PGRES_COMMAND_OK,
                         "update relay_state", err, errlen);

    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

/* Consumes every notification libpq holds; returns how many there were. */
static int drain_notifies(PGconn *conn)
{
    PGnotify *n;
    int count = 0;

    while ((n = PQnotifies(conn)) != NULL) {
        PQfreemem(n);
        count++;
    }
    return count;
}

/* Reads whatever the server sent without blocking. */
static int consume_input(PGconn *conn, char *err, size_t errlen)
{
    char detail[400];

    if (PQconsumeInput(conn) != 0)
        return 0;
    pg_error_text(conn, NULL, detail, sizeof detail);
    snprintf(err, errlen, "could not read notifications: %s", detail);
    return -1;
}

int outbox_forget_notifications(PGconn *conn, char *err, size_t errlen)
{
    if (consume_input(conn, err, errlen) != 0)
        return -1;
    (void)drain_notifies(conn);
    return 0;
}

int outbox_wait(PGconn *conn, long timeout_ms, bool *notified, char *err, size_t errlen)
{
    struct pollfd pfd;
    int r;

    *notified = drain_notifies(conn) > 0;
    if (*notified)
        return 0;
    pfd.fd = PQsocket(conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0) {
        snprintf(err, errlen, "could not wait for notifications: no connection");
        return -1;
    }
    r = poll(&pfd, 1, (int)timeout_ms);
    if (r < 0 && errno != EINTR) {
        snprintf(err, errlen, "could not wait for notifications: %s", strerror(errno));
        return -1;
    }
    if (r > 0) {
        if (consume_input(conn, err, errlen) != 0)
            return -1;
        *notified = drain_notifies(conn) > 0;
    }
    return 0;
}
