/* apiserver: the common main of the two HTTP APIs: loads the shared HTTP and database settings,
 * starts logging, signal handling, a connection pool and the HTTP server on the service's route
 * table (lib/http/router.h: each request is matched once, and its route serves the authorize
 * hook, the handler and the request metrics), and runs until SIGTERM/SIGINT. */
#ifndef CQ_APISERVER_H
#define CQ_APISERVER_H

#include "pg/pg.h"
#include "http/router.h"

struct apiserver_config {
    const char *database_url;          /* spec->dsn_var, else spec->dsn_fallback_var */
    const char *fallback_database_url; /* spec->dsn_fallback_var */
    const char *bind_address;
    const char *log_level;
    const char *trusted_proxies; /* HTTP_TRUSTED_PROXIES (lib/http/clientaddr.h) */
    long port;
    long threads;
    long max_body;
    long connection_limit;
    long per_ip_connection_limit;
    long connection_timeout_s;
    long shutdown_grace_ms; /* SHUTDOWN_GRACE_MS: how long a stop lets in-flight requests finish */
};

/* What handlers get as ctx. */
struct apiserver_ctx {
    const struct apiserver_config *cfg;
    struct pg_pool *pool;
    void *ext; /* the service's own state, made by spec->start */
    /* GET /metrics renders this registry (lib/metrics/metrics.h); spec->start may register the
     * service's own metrics in it. http_metrics records every request (lib/http/httpmetrics.h). */
    struct metrics *metrics;
    struct http_metrics *http_metrics;
    struct procmetrics *proc; /* build_info and process_* (lib/metrics/procmetrics.h) */
};

struct apiserver_spec {
    const char *svc;          /* name in logs and application_name */
    const char *port_var;     /* e.g. COMMAND_SERVICE_PORT */
    const char *port_default; /* e.g. "8080" */
    /* The variable of its worker threads (each holds at most one pool connection) and their
     * default: NULL for HTTP_THREADS and 8 (the query API); the command API has its own, as
     * its create-order batches gather only as many orders as it has threads (orderbatch.h). */
    const char *threads_var;
    const char *threads_default;
    const char *dsn_var;          /* the service's own role, e.g. COMMAND_DATABASE_URL */
    const char *dsn_fallback_var; /* used when dsn_var is unset or empty, e.g. DATABASE_URL */
    const struct route *routes;
    size_t nroutes;
    const struct pg_stmt *stmts;
    size_t nstmts;
    /* Optional hooks around the HTTP server. start runs before it listens and may set ctx->ext
     * (0, or -1 to give up starting); stop runs once a stop was requested, while it still
     * serves (end streams, join threads); release runs after it stopped (free ctx->ext). */
    int (*start)(struct apiserver_ctx *ctx);
    void (*stop)(struct apiserver_ctx *ctx);
    void (*release)(struct apiserver_ctx *ctx);
    /* Optional: sees each request before its body, with its route (see lib/http/http.h); ctx is
     * the apiserver_ctx. */
    http_authorize_fn authorize;
    /* For the command line (lib/service/cli.h): one line on what it is, and the tables of the
     * variables the service's own modules read (the shared HTTP ones and PG_* are added). */
    const char *summary;
    const struct config_table *const *config;
    size_t nconfig;
};

/* Answers --help, --version or --routes when argv has them, else runs the service; returns the
 * process exit status. */
int apiserver_main(const struct apiserver_spec *spec, int argc, char **argv);

/* GET /metrics for both APIs: ctx->metrics in Prometheus text format (public, like /health). */
int apiserver_metrics(void *ctx, const struct http_request *req, const struct route_match *m,
                      struct http_response *resp, struct api_error *err);

/* GET /health for both APIs: 200 {"status":"ok"} when the database answers, 503 otherwise. */
int apiserver_health(void *ctx, const struct http_request *req, const struct route_match *m,
                     struct http_response *resp, struct api_error *err);

/* Maps a failed statement to an api_error: 503 when the connection is gone or the server is
 * shutting down, 500 otherwise (logged, never shown to the client). Returns -1. */
int apiserver_db_error(PGconn *conn, const PGresult *res, struct api_error *err);

/* The database could not be reached (detail: why, for the log): logged, and err is 503
 * unavailable. Returns -1. */
int apiserver_unavailable(const char *detail, struct api_error *err);

/* Whether a failed statement's SQLSTATE (NULL: none) or its connection says the database is
 * unavailable (503) rather than that the statement failed (500): the rule apiserver_db_error
 * applies, for callers that answer later (api/command/orderbatch.c). */
bool apiserver_db_unavailable(const PGconn *conn, const char *state);

#endif
