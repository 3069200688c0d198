/* pg: libpq helpers. Connections are made with a bounded connect timeout, an application_name,
 * and the caller's prepared statements. A struct pg_pool hands one connection to one thread at a
 * time (a PGconn is never shared between threads) and replaces connections that broke. */
#ifndef CQ_PG_H
#define CQ_PG_H

#include "base/config.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct pg_stmt {
    const char *name;
    const char *sql;
    int nparams;
};

/* Connects and prepares stmts. Returns the connection (caller PQfinish'es it) or NULL with err.
 * Every connection gets TCP keepalives (PG_KEEPALIVES_IDLE_S 5, PG_KEEPALIVES_INTERVAL_S 2,
 * PG_KEEPALIVES_COUNT 3), PG_TCP_USER_TIMEOUT_MS (10000) and a statement_timeout of
 * PG_STATEMENT_TIMEOUT_MS (30000; 0 = none) and an idle_in_transaction_session_timeout of
 * PG_IDLE_IN_TRANSACTION_TIMEOUT_MS (60000; 0 = none: a frozen process's open transaction and its
 * locks go), so that a dead network path or a hung statement is noticed in seconds. The same
 * keywords in dsn override them. */
PGconn *pg_connect(const char *dsn, const char *app, const struct pg_stmt *stmts, size_t n,
                   char *err, size_t errlen);
/* The same with a statement_timeout of its own (0: none), for connections whose statements may
 * legitimately run long (a materialized view refresh); -1 takes PG_STATEMENT_TIMEOUT_MS. */
PGconn *pg_connect_opts(const char *dsn, const char *app, const struct pg_stmt *stmts, size_t n,
                        long statement_timeout_ms, char *err, size_t errlen);
/* Checks the PG_* connection variables above: 0, or -1 with err naming the bad one (a service
 * calls it at start and exits 2; a bad value otherwise falls back to the defaults). */
__attribute__((warn_unused_result)) int pg_check_options(char *err, size_t errlen);
/* Those variables, for --help (lib/service/cli.h). */
extern const struct config_table pg_config_table;

/* Retries pg_connect with exponential backoff (100 ms to 5 s) until it succeeds or a stop is
 * requested (then NULL). Logs each failure. */
PGconn *pg_connect_retry(const char *dsn, const char *app, const struct pg_stmt *stmts, size_t n);

/* Copies the error of res (or conn) into err: primary message, without a trailing newline. */
void pg_error_text(const PGconn *conn, const PGresult *res, char *err, size_t errlen);

struct pg_pool;

/* Creates a pool of up to size connections, made lazily. Strings must outlive the pool. */
struct pg_pool *pg_pool_new(const char *dsn, const char *app, size_t size,
                            const struct pg_stmt *stmts, size_t n);
void pg_pool_free(struct pg_pool *pool);

/* Waits for a free slot and returns a connected PGconn, or NULL with err when the database can't
 * be reached (one connect attempt, bounded by connect_timeout). An idle connection the server
 * has closed meanwhile (a restart: its goodbye is waiting on the socket) is dropped and replaced,
 * so the first request after a restart does not fail on it. */
PGconn *pg_pool_acquire(struct pg_pool *pool, char *err, size_t errlen);
/* Returns conn to the pool; a connection whose status is bad is closed and replaced later. */
void pg_pool_release(struct pg_pool *pool, PGconn *conn);

/* Asks the server to cancel the statement running on every connection handed out now (a
 * shutdown whose grace period is over): a cancelled statement fails with SQLSTATE 57014 and its
 * transaction rolls back. Returns how many cancel requests were sent. */
size_t pg_pool_cancel(struct pg_pool *pool);

/* Counts for the metrics: connections open now, made so far, and closed because they broke
 * (each one is replaced by a new connection when next needed). */
struct pg_pool_stats {
    size_t open;
    unsigned long long connects;
    unsigned long long broken;
};
void pg_pool_stats(struct pg_pool *pool, struct pg_pool_stats *out);

#endif
