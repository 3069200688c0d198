#include "pg/pg.h"

#include "base/backoff.h"
#include "base/config.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/xalloc.h"

#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_error_text(const PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
    const char *msg = NULL;

    if (res != NULL)
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (msg == NULL && res != NULL)
        msg = PQresultErrorMessage(res);
    if ((msg == NULL || *msg == '\0') && conn != NULL)
        msg = PQerrorMessage(conn);
    snprintf(err, errlen, "%s", msg != NULL && *msg != '\0' ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

/* Server notices and warnings go to the log as logfmt lines instead of bare stderr text. */
static void log_notice(void *arg, const char *message)
{
    char text[512], q[600];
    size_t n = strlen(message);

    (void)arg;
    snprintf(text, sizeof text, "%.*s", (int)(n > 0 && message[n - 1] == '\n' ? n - 1 : n),
             message);
    log_info("postgres notice", "text=%s", log_quote(q, sizeof q, text));
}

/* The connection options every service uses (PG_* variables, read once). */
struct pg_options {
    long keepalives_idle_s, keepalives_interval_s, keepalives_count, tcp_user_timeout_ms;
    long statement_timeout_ms, idle_in_transaction_timeout_ms;
};

static const struct config_var pg_option_vars[] = {
    {"PG_KEEPALIVES_IDLE_S", CONFIG_INT, "5", offsetof(struct pg_options, keepalives_idle_s), 1,
     3600},
    {"PG_KEEPALIVES_INTERVAL_S", CONFIG_INT, "2",
     offsetof(struct pg_options, keepalives_interval_s), 1, 600},
    {"PG_KEEPALIVES_COUNT", CONFIG_INT, "3", offsetof(struct pg_options, keepalives_count), 1, 100},
    {"PG_TCP_USER_TIMEOUT_MS", CONFIG_INT, "10000",
     offsetof(struct pg_options, tcp_user_timeout_ms), 0, 3600000},
    {"PG_STATEMENT_TIMEOUT_MS", CONFIG_INT, "30000",
     offsetof(struct pg_options, statement_timeout_ms), 0, 86400000},
    /* a frozen process's open transaction (and the locks it holds) goes after this */
    {"PG_IDLE_IN_TRANSACTION_TIMEOUT_MS", CONFIG_INT, "10000",
     offsetof(struct pg_options, idle_in_transaction_timeout_ms), 0, 86400000},
};

const struct config_table pg_config_table = CONFIG_TABLE(pg_option_vars);

static pthread_once_t pg_options_once = PTHREAD_ONCE_INIT;
static struct pg_options pg_opts;
static char pg_opts_err[256];

static void pg_options_load(void)
{
    if (config_load(&pg_opts, pg_option_vars, sizeof pg_option_vars / sizeof pg_option_vars[0],
                    pg_opts_err, sizeof pg_opts_err) != 0) {
        /* pg_check_options() reports it at start; connections made anyway use the defaults */
        pg_opts = (struct pg_options){5, 2, 3, 10000, 30000, 60000};
    }
}

int pg_check_options(char *err, size_t errlen)
{
    pthread_once(&pg_options_once, pg_options_load);
    if (pg_opts_err[0] != '\0') {
        snprintf(err, errlen, "%s", pg_opts_err);
        return -1;
    }
    return 0;
}

PGconn *pg_connect(const char *dsn, const char *app, const struct pg_stmt *stmts, size_t n,
                   char *err, size_t errlen)
{
    return pg_connect_opts(dsn, app, stmts, n, -1, err, errlen);
}

PGconn *pg_connect_opts(const char *dsn, const char *app, const struct pg_stmt *stmts, size_t n,
                        long statement_timeout_ms, char *err, size_t errlen)
{
    char idle[24], interval[24], count[24], user_timeout[24], options[128];
    PGconn *conn;

    pthread_once(&pg_options_once, pg_options_load);
    if (statement_timeout_ms < 0)
        statement_timeout_ms = pg_opts.statement_timeout_ms;
    snprintf(idle, sizeof idle, "%ld", pg_opts.keepalives_idle_s);
    snprintf(interval, sizeof interval, "%ld", pg_opts.keepalives_interval_s);
    snprintf(count, sizeof count, "%ld", pg_opts.keepalives_count);
    snprintf(user_timeout, sizeof user_timeout, "%ld", pg_opts.tcp_user_timeout_ms);
    snprintf(options, sizeof options,
             "-c statement_timeout=%ld -c idle_in_transaction_session_timeout=%ld",
             statement_timeout_ms, pg_opts.idle_in_transaction_timeout_ms);
    /* Before dbname, so that the same keyword in the URL (dsn) wins; the application name and the
     * connect timeout are ours. A dead network path is noticed within idle + interval * count
     * seconds on an idle connection, and within tcp_user_timeout when data is unacknowledged. */
    const char *keys[] = {"keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "options",
                          "dbname",
                          "application_name",
                          "connect_timeout",
                          NULL};
    const char *vals[] = {"1", idle, interval, count, user_timeout, options, dsn, app, "3", NULL};
    conn = PQconnectdbParams(keys, vals, 1);

    if (PQstatus(conn) != CONNECTION_OK) {
        pg_error_text(conn, NULL, err, errlen);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, log_notice, NULL);
    for (size_t i = 0; i < n; i++) {
        PGresult *res = PQprepare(conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char detail[256];
            pg_error_text(conn, res, detail, sizeof detail);
            snprintf(err, errlen, "could not prepare %s: %s", stmts[i].name, detail);
            PQclear(res);
            PQfinish(conn);
            return NULL;
        }
        PQclear(res);
    }
    return conn;
}

PGconn *pg_connect_retry(const char *dsn, const char *app, const struct pg_stmt *stmts, size_t n)
{
    struct backoff delay;
    unsigned attempt = 0;

    backoff_init(&delay, 100, 5000);
    while (!signals_stop_requested()) {
        char err[512];
        PGconn *conn = pg_connect(dsn, app, stmts, n, err, sizeof err);
        long delay_ms;
        char q[600];
        if (conn != NULL) {
            if (attempt > 0)
                log_info("reconnected to postgres", "attempts=%u", attempt + 1);
            return conn;
        }
        attempt++;
        delay_ms = backoff_next(&delay);
        log_warn("could not connect to postgres", "attempt=%u retry_ms=%ld error=%s", attempt,
                 delay_ms, log_quote(q, sizeof q, err));
        signals_sleep_ms(delay_ms);
    }
    return NULL;
}

struct pg_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *dsn, *app;
    const struct pg_stmt *stmts;
    size_t nstmts;
    size_t size, nfree, nopen;             /* nopen counts connections that exist (free or lent) */
    unsigned long long nconnects, nbroken; /* pg_pool_stats */
    PGconn **free_conns;
    PGconn **lent; /* connections handed out now (pg_pool_cancel), nlent of them */
    size_t nlent;
};

/* Called with the pool's mutex held. */
static void lent_add(struct pg_pool *p, PGconn *conn)
{
    p->lent[p->nlent++] = conn;
}

/* Called with the pool's mutex held. */
static void lent_remove(struct pg_pool *p, PGconn *conn)
{
    for (size_t i = 0; i < p->nlent; i++) {
        if (p->lent[i] == conn) {
            p->lent[i] = p->lent[--p->nlent];
            return;
        }
    }
}

struct pg_pool *pg_pool_new(const char *dsn, const char *app, size_t size,
                            const struct pg_stmt *stmts, size_t n)
{
    struct pg_pool *p = xcalloc(1, sizeof *p);

    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->dsn = dsn;
    p->app = app;
    p->stmts = stmts;
    p->nstmts = n;
    p->size = size;
    p->free_conns = xcalloc(size, sizeof *p->free_conns);
    p->lent = xcalloc(size, sizeof *p->lent);
    return p;
}

void pg_pool_free(struct pg_pool *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nfree; i++)
        PQfinish(p->free_conns[i]);
    free(p->free_conns);
    free(p->lent);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Whether an idle connection is still usable, as far as can be told without a round trip: an
 * idle connection has nothing to read unless the server said goodbye (a FATAL message, or the
 * end of the stream), which PQconsumeInput then turns into CONNECTION_BAD. */
static bool idle_conn_alive(PGconn *conn)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

    if (pfd.fd < 0)
        return false;
    if (poll(&pfd, 1, 0) == 0)
        return true;
    return PQconsumeInput(conn) != 0 && PQstatus(conn) == CONNECTION_OK &&
           PQtransactionStatus(conn) == PQTRANS_IDLE;
}

PGconn *pg_pool_acquire(struct pg_pool *p, char *err, size_t errlen)
{
    PGconn *conn = NULL;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->nfree == 0 && p->nopen >= p->size)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->nfree == 0)
            break;
        conn = p->free_conns[--p->nfree];
        pthread_mutex_unlock(&p->mu);
        if (idle_conn_alive(conn)) {
            pthread_mutex_lock(&p->mu);
            lent_add(p, conn);
            pthread_mutex_unlock(&p->mu);
            return conn;
        }
        PQfinish(conn); /* closed by the server: a new one below, or the next free one */
        conn = NULL;
        pthread_mutex_lock(&p->mu);
        p->nopen--;
        p->nbroken++;
    }
    p->nopen++; /* reserve a slot, connect outside the lock */
    pthread_mutex_unlock(&p->mu);

    conn = pg_connect(p->dsn, p->app, p->stmts, p->nstmts, err, errlen);
    pthread_mutex_lock(&p->mu);
    if (conn == NULL) {
        p->nopen--;
        pthread_cond_signal(&p->cv);
    } else {
        p->nconnects++;
        lent_add(p, conn);
    }
    pthread_mutex_unlock(&p->mu);
    return conn;
}

void pg_pool_release(struct pg_pool *p, PGconn *conn)
{
    pthread_mutex_lock(&p->mu);
    lent_remove(p, conn);
    if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE) {
        p->free_conns[p->nfree++] = conn;
    } else {
        PQfinish(conn);
        p->nopen--;
        p->nbroken++;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

size_t pg_pool_cancel(struct pg_pool *p)
{
    size_t n = 0;
    char errbuf[256];

    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nlent; i++) {
        PGcancel *c = PQgetCancel(p->lent[i]);
        if (c == NULL)
            continue;
        n += PQcancel(c, errbuf, sizeof errbuf) == 1;
        PQfreeCancel(c);
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pg_pool_stats(struct pg_pool *p, struct pg_pool_stats *out)
{
    pthread_mutex_lock(&p->mu);
    out->open = p->nopen;
    out->connects = p->nconnects;
    out->broken = p->nbroken;
    pthread_mutex_unlock(&p->mu);
}
