#include "service/svc_metrics.h"

#include "base/config.h"
#include "base/log.h"
#include "http/metrics_server.h"
#include "metrics/procmetrics.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct svc_metrics_config {
    long port;
    const char *bind_address;
};

struct svc_metrics {
    struct svc_metrics_opts opts;
    struct svc_metrics_config cfg;
    struct metrics *reg;
    struct procmetrics *proc;
    struct metrics_server *server;
    struct metrics_gauge *db_up, *broker_up;
    struct metrics_counter *db_reconnects, *broker_reconnects;
    bool db_was_up, broker_was_up; /* the main loop's thread only */
};

static bool health(void *arg, char *body, size_t len)
{
    struct svc_metrics *m = arg;
    bool db = metrics_gauge_value(m->db_up) > 0, broker = metrics_gauge_value(m->broker_up) > 0;
    const char *reason =
        db && broker && m->opts.degraded != NULL ? m->opts.degraded(m->opts.arg) : NULL;
    int n = snprintf(body, len, "{\"status\":\"%s\",\"database\":\"%s\",\"broker\":\"%s\"",
                     !(db && broker)  ? "unavailable"
                     : reason != NULL ? "degraded"
                                      : "ok",
                     db ? "up" : "down", broker ? "up" : "down");
    size_t used = n > 0 && (size_t)n < len ? (size_t)n : len - 1;

    if (reason != NULL) {
        n = snprintf(body + used, len - used, ",\"reason\":\"%s\"", reason);
        used += n > 0 && (size_t)n < len - used ? (size_t)n : len - used - 1;
    }

    if (m->opts.health_extra != NULL)
        m->opts.health_extra(m->opts.arg, body + used, len - used);
    used += strlen(body + used);
    snprintf(body + used, len - used, "}");
    return db && broker;
}

void svc_metrics_config_vars(const struct svc_metrics_opts *opts,
                             struct config_var vars[SVC_METRICS_NVARS])
{
    /* the port: 0, no listener */
    vars[0] = (struct config_var){opts->port_var,
                                  CONFIG_INT,
                                  opts->default_port,
                                  offsetof(struct svc_metrics_config, port),
                                  0,
                                  65535};
    vars[1] = (struct config_var){"HTTP_BIND_ADDRESS",
                                  CONFIG_STRING,
                                  "127.0.0.1",
                                  offsetof(struct svc_metrics_config, bind_address),
                                  0,
                                  0};
}

struct svc_metrics *svc_metrics_new(const struct svc_metrics_opts *opts)
{
    struct config_var vars[SVC_METRICS_NVARS];
    struct svc_metrics *m = xcalloc(1, sizeof *m);
    char err[512], help[160];

    m->opts = *opts;
    svc_metrics_config_vars(opts, vars);
    if (config_load(&m->cfg, vars, SVC_METRICS_NVARS, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(m);
        return NULL;
    }
    m->reg = metrics_new();
    m->proc = procmetrics_new(m->reg);
    snprintf(help, sizeof help, "1 while connected to the %s", opts->db_name);
    m->db_up = metrics_gauge_new(m->reg, "db_up", help);
    m->broker_up = metrics_gauge_new(m->reg, "broker_up", "1 while connected to the broker");
    snprintf(help, sizeof help, "Connections to the %s made again after one was lost",
             opts->db_name);
    m->db_reconnects = metrics_counter_new(m->reg, "db_reconnects_total", help);
    m->broker_reconnects =
        metrics_counter_new(m->reg, "broker_reconnects_total",
                            "Connections to the broker made again after one was lost");
    return m;
}

struct metrics *svc_metrics_registry(struct svc_metrics *m)
{
    return m->reg;
}

void svc_metrics_listen(struct svc_metrics *m)
{
    struct metrics_server_opts opts = {
        .bind_address = m->cfg.bind_address,
        .port = (uint16_t)m->cfg.port,
        .svc = m->opts.svc,
        .registry = m->reg,
        .health = health,
        .arg = m,
    };
    char err[512];

    if (m->cfg.port == 0) {
        log_info("metrics listener off", "port=0");
        return;
    }
    /* a port in use (another stack on this host) costs the metrics, not the service */
    m->server = metrics_server_start(&opts, err, sizeof err);
    if (m->server == NULL)
        log_error("could not start the metrics listener, running without /metrics and /health",
                  "error=\"%s\"", err);
    else
        log_info("serving metrics", "url=http://%s:%ld/metrics", m->cfg.bind_address, m->cfg.port);
}

void svc_metrics_free(struct svc_metrics *m)
{
    if (m == NULL)
        return;
    metrics_server_stop(m->server);
    metrics_free(m->reg);
    procmetrics_free(m->proc);
    free(m);
}

/* up: the gauge to 1, and a reconnect counted when it had been up before */
static void connection(struct metrics_gauge *g, struct metrics_counter *reconnects, bool *was_up,
                       bool up)
{
    if (up && *was_up)
        metrics_counter_inc(reconnects);
    if (up)
        *was_up = true;
    metrics_gauge_set(g, up ? 1 : 0);
}

void svc_metrics_db(struct svc_metrics *m, bool up)
{
    if (m != NULL)
        connection(m->db_up, m->db_reconnects, &m->db_was_up, up);
}

void svc_metrics_broker(struct svc_metrics *m, bool up)
{
    if (m != NULL)
        connection(m->broker_up, m->broker_reconnects, &m->broker_was_up, up);
}
