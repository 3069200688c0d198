#include "service/apiserver.h"

#include "service/cli.h"
#include "base/config.h"
#include "http/httpmetrics.h"
#include "base/log.h"
#include "http/metrics_server.h"
#include "metrics/procmetrics.h"
#include "base/nofile.h"
#include "base/signals.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The pool's counts, copied into the registry on each GET /metrics. */
struct pool_metrics {
    struct pg_pool *pool;
    struct metrics_counter *reconnects;
    struct metrics_gauge *open;
};

static void collect_pool(void *arg)
{
    struct pool_metrics *pm = arg;
    struct pg_pool_stats st;

    pg_pool_stats(pm->pool, &st);
    metrics_counter_set(pm->reconnects, st.broken);
    metrics_gauge_set(pm->open, (double)st.open);
}

static void metrics_release(struct apiserver_ctx *ctx)
{
    http_metrics_free(ctx->http_metrics);
    metrics_free(ctx->metrics);
    procmetrics_free(ctx->proc);
}

int apiserver_metrics(void *ctx, const struct http_request *req, const struct route_match *m,
                      struct http_response *resp, struct api_error *err)
{
    const struct apiserver_ctx *c = ctx;

    (void)req;
    (void)m;
    return metrics_respond(c->metrics, resp, err);
}

bool apiserver_db_unavailable(const PGconn *conn, const char *state)
{
    return PQstatus(conn) != CONNECTION_OK || state == NULL || strncmp(state, "08", 2) == 0 ||
           strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0 ||
           strcmp(state, "57014") == 0; /* cancelled: a shutdown's grace period ran out */
}

int apiserver_unavailable(const char *detail, struct api_error *err)
{
    char q[600];

    log_warn("database unavailable", "error=%s", log_quote(q, sizeof q, detail));
    return api_error_set(err, API_UNAVAILABLE, "unavailable",
                         "the database is unavailable, retry later");
}

int apiserver_db_error(PGconn *conn, const PGresult *res, struct api_error *err)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char detail[512], q[600];

    pg_error_text(conn, res, detail, sizeof detail);
    if (apiserver_db_unavailable(conn, state))
        return apiserver_unavailable(detail, err);
    log_error("statement failed", "sqlstate=%s error=%s", state, log_quote(q, sizeof q, detail));
    return api_error_set(err, API_INTERNAL, "internal", "internal error");
}

int apiserver_health(void *ctx, const struct http_request *req, const struct route_match *m,
                     struct http_response *resp, struct api_error *err)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    const struct apiserver_ctx *c = ctx;
    char detail[256];
    PGconn *conn;
    PGresult *res;
    int rc = 0;

    (void)req;
    (void)m;
    conn = pg_pool_acquire(c->pool, detail, sizeof detail);
    if (conn == NULL)
        return api_error_set(err, API_UNAVAILABLE, "unavailable", "the database is unavailable");
    res = PQexec(conn, "SELECT 1");
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        http_response_static(resp, 200, "application/json", ok, sizeof ok - 1);
    else
        rc = apiserver_db_error(conn, res, err);
    PQclear(res);
    pg_pool_release(c->pool, conn);
    return rc;
}

/* Graceful stop: no new connections; streams and read-your-writes waits are ended (spec->stop);
 * requests in flight get up to SHUTDOWN_GRACE_MS to be answered. Past it, their statements are
 * cancelled (a cancelled command rolls back and answers 503), so that no command commits
 * without its answer being sent, and they get one more second to answer. */
static void apiserver_drain(const struct apiserver_spec *spec, struct apiserver_ctx *ctx,
                            struct http_server *server)
{
    long grace_ms = ctx->cfg->shutdown_grace_ms;

    http_server_quiesce(server);
    log_info("stopping: no new connections, draining", "in_flight=%zu grace_ms=%ld",
             http_server_in_flight(server), grace_ms);
    if (spec->stop != NULL)
        spec->stop(ctx);
    if (http_server_wait_idle(server, grace_ms)) {
        log_info("drained", NULL);
        return;
    }
    size_t cancelled = pg_pool_cancel(ctx->pool);
    log_warn("grace period over: cancelling the statements still running",
             "in_flight=%zu cancelled=%zu", http_server_in_flight(server), cancelled);
    if (!http_server_wait_idle(server, 1000))
        log_warn("stopping with requests unanswered", "in_flight=%zu",
                 http_server_in_flight(server));
}

/* The most tables a binary's --help gathers (apiserver's, the service's, pg's). */
#define APISERVER_MAX_TABLES 8

int apiserver_main(const struct apiserver_spec *spec, int argc, char **argv)
{
#define OFF(f) offsetof(struct apiserver_config, f)
    const struct config_var vars[] = {
        {spec->dsn_var, CONFIG_STRING, "", OFF(database_url), 0, 0},
        {spec->dsn_fallback_var, CONFIG_STRING, "", OFF(fallback_database_url), 0, 0},
        {spec->port_var, CONFIG_INT, spec->port_default, OFF(port), 1, 65535},
        {"HTTP_BIND_ADDRESS", CONFIG_STRING, "127.0.0.1", OFF(bind_address), 0, 0},
        {spec->threads_var != NULL ? spec->threads_var : "HTTP_THREADS", CONFIG_INT,
         spec->threads_default != NULL ? spec->threads_default : "8", OFF(threads), 1, 256},
        {"HTTP_MAX_BODY_BYTES", CONFIG_INT, "1048576", OFF(max_body), 64, 64L << 20},
        {"HTTP_CONNECTION_LIMIT", CONFIG_INT, "1024", OFF(connection_limit), 4, 65536},
        {"HTTP_PER_IP_CONNECTION_LIMIT", CONFIG_INT, "256", OFF(per_ip_connection_limit), 0, 65536},
        {"HTTP_CONNECTION_TIMEOUT_S", CONFIG_INT, "30", OFF(connection_timeout_s), 1, 3600},
        {"HTTP_TRUSTED_PROXIES", CONFIG_STRING, "", OFF(trusted_proxies), 0, 0},
        {"SHUTDOWN_GRACE_MS", CONFIG_INT, "10000", OFF(shutdown_grace_ms), 0, 600000},
        {"LOG_LEVEL", CONFIG_STRING, "info", OFF(log_level), 0, 0},
    };
#undef OFF
    struct config_table tables[APISERVER_MAX_TABLES] = {CONFIG_TABLE(vars)};
    struct cli_spec cli = {spec->svc, spec->summary, spec->routes, spec->nroutes, tables, 1, NULL};
    struct apiserver_config cfg;
    struct clientaddr_trust trust;
    struct apiserver_ctx ctx;
    struct http_server *server;
    char err[512];
    int rc;

    if (spec->nconfig > APISERVER_MAX_TABLES - 2) {
        fprintf(stderr, "%s: too many configuration tables (%zu)\n", spec->svc, spec->nconfig);
        return 2;
    }
    for (size_t i = 0; i < spec->nconfig; i++)
        tables[cli.nconfig++] = *spec->config[i];
    tables[cli.nconfig++] = pg_config_table;
    rc = cli_handle(&cli, argc, argv);
    if (rc >= 0)
        return rc;
    if (config_load(&cfg, vars, sizeof vars / sizeof vars[0], err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", spec->svc, err);
        return 2;
    }
    if (clientaddr_trust_parse(&trust, cfg.trusted_proxies, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", spec->svc, err);
        return 2;
    }
    if (*cfg.database_url == '\0')
        cfg.database_url = cfg.fallback_database_url;
    if (*cfg.database_url == '\0') {
        fprintf(stderr, "%s: missing required environment variable %s (or %s)\n", spec->svc,
                spec->dsn_var, spec->dsn_fallback_var);
        return 2;
    }
    if (log_init(spec->svc, cfg.log_level) != 0) {
        fprintf(stderr, "%s: invalid value for LOG_LEVEL: expected debug|info|warn|error\n",
                spec->svc);
        return 2;
    }
    if (pg_check_options(err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", spec->svc, err);
        return 2;
    }
    if (signals_install() != 0) {
        log_error("could not install signal handlers", NULL);
        return 1;
    }
    nofile_raise(); /* every connection and suspended stream holds a descriptor */
    ctx.cfg = &cfg;
    ctx.ext = NULL;
    ctx.pool =
        pg_pool_new(cfg.database_url, spec->svc, (size_t)cfg.threads, spec->stmts, spec->nstmts);
    ctx.metrics = metrics_new();
    ctx.proc = procmetrics_new(ctx.metrics);
    ctx.http_metrics = http_metrics_new(ctx.metrics, spec->routes, spec->nroutes);
    struct pool_metrics pm = {
        .pool = ctx.pool,
        .reconnects = metrics_counter_new(
            ctx.metrics, "db_reconnects_total",
            "Database connections the pool closed because they broke (each is made again)"),
        .open = metrics_gauge_new(ctx.metrics, "db_pool_connections",
                                  "Database connections open in the pool"),
    };
    metrics_on_collect(ctx.metrics, collect_pool, &pm);
    if (spec->start != NULL && spec->start(&ctx) != 0) {
        pg_pool_free(ctx.pool);
        metrics_release(&ctx);
        return 1;
    }
    struct http_server_opts opts = {
        .bind_address = cfg.bind_address,
        .port = (uint16_t)cfg.port,
        .threads = (unsigned)cfg.threads,
        .max_body = (size_t)cfg.max_body,
        .connection_limit = (unsigned)cfg.connection_limit,
        .per_ip_connection_limit = (unsigned)cfg.per_ip_connection_limit,
        .connection_timeout_s = (unsigned)cfg.connection_timeout_s,
        .trusted_proxies = trust.n > 0 ? &trust : NULL,
        .routes = spec->routes,
        .nroutes = spec->nroutes,
        .authorize = spec->authorize,
        .metrics = ctx.http_metrics,
        .ctx = &ctx,
        .svc = spec->svc,
    };
    server = http_server_start(&opts, err, sizeof err);
    if (server == NULL) {
        log_error("could not start http server", "error=\"%s\"", err);
        if (spec->stop != NULL)
            spec->stop(&ctx);
        if (spec->release != NULL)
            spec->release(&ctx);
        pg_pool_free(ctx.pool);
        metrics_release(&ctx);
        return 1;
    }
    log_info("listening", "url=http://%s:%ld threads=%ld", cfg.bind_address, cfg.port, cfg.threads);
    while (!signals_stop_requested())
        signals_sleep_ms(200);
    apiserver_drain(spec, &ctx, server);
    http_server_stop(server);
    if (spec->release != NULL)
        spec->release(&ctx);
    pg_pool_free(ctx.pool);
    metrics_release(&ctx);
    log_info("stopped", NULL);
    return 0;
}
