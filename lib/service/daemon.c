#include "service/daemon.h"

#include "base/log.h"
#include "base/signals.h"
#include "pg/pg.h"
#include "service/cli.h"
#include "service/topology.h"

#include <stdio.h>
#include <string.h>

#define OFF(f) offsetof(struct daemon, cfg.f)

static void daemon_tables(struct daemon *d, const struct daemon_spec *spec)
{
    d->shared[0] = (struct config_var){spec->db_var, CONFIG_STRING, "", OFF(db_url), 0, 0};
    d->shared[1] =
        (struct config_var){spec->owner_db_var, CONFIG_STRING, "", OFF(owner_db_url), 0, 0};
    d->shared[2] = (struct config_var){"BROKER_URL", CONFIG_STRING, NULL, OFF(broker_url), 0, 0};
    d->shared[3] = (struct config_var){"LOG_LEVEL", CONFIG_STRING, "info", OFF(log_level), 0, 0};
    svc_metrics_config_vars(&spec->metrics, d->metrics_vars);
}
#undef OFF

/* --help: every table the daemon reads, its own first. */
static int daemon_cli(struct daemon *d, const struct daemon_spec *spec, int argc, char **argv)
{
    struct config_table tables[8] = {
        {d->shared, DAEMON_NSHARED},          domain_names_table, *spec->config,
        {d->metrics_vars, SVC_METRICS_NVARS}, pg_config_table,    mq_config_table,
    };
    size_t n = 6;

    for (size_t i = 0; i < spec->nextra && n < sizeof tables / sizeof tables[0]; i++)
        tables[n++] = spec->extra[i];
    const struct cli_spec cli = {spec->svc, spec->summary, NULL, 0, tables, n, NULL};
    return cli_handle(&cli, argc, argv);
}

/* Reads and checks every variable. Returns 0, or -1 with err. */
static int daemon_config(struct daemon *d, const struct daemon_spec *spec, char *err, size_t errlen)
{
    if (config_load(d, d->shared, DAEMON_NSHARED, err, errlen) != 0 ||
        domain_names_load(&d->env.names, err, errlen) != 0 ||
        config_load(spec->cfg, spec->config->vars, spec->config->n, err, errlen) != 0)
        return -1;
    d->env.database_url = *d->cfg.db_url != '\0' ? d->cfg.db_url : d->cfg.owner_db_url;
    if (*d->env.database_url == '\0') {
        snprintf(err, errlen, "missing required environment variable %s (or %s)", spec->db_var,
                 spec->owner_db_var);
        return -1;
    }
    if (log_init(spec->svc, d->cfg.log_level) != 0) {
        snprintf(err, errlen, "invalid value for LOG_LEVEL: expected debug, info, warn or error");
        return -1;
    }
    if (spec->check != NULL && spec->check(spec->cfg, err, errlen) != 0)
        return -1;
    if (pg_check_options(err, errlen) != 0 || mq_check_options(err, errlen) != 0)
        return -1;
    char detail[400];
    if (mq_broker_parse(&d->env.broker, d->cfg.broker_url, detail, sizeof detail) != 0) {
        snprintf(err, errlen, "BROKER_URL: %s", detail);
        return -1;
    }
    if (svc_topology_init(&d->env.topo, &d->env.names, detail, sizeof detail) != 0) {
        snprintf(err, errlen, "AMQP_QUEUE: %s", detail);
        mq_broker_release(&d->env.broker);
        return -1;
    }
    return 0;
}

int daemon_start(struct daemon *d, const struct daemon_spec *spec, int argc, char **argv)
{
    char err[512];
    int rc;

    memset(d, 0, sizeof *d);
    daemon_tables(d, spec);
    if ((rc = daemon_cli(d, spec, argc, argv)) >= 0)
        return rc;
    if (log_init(spec->svc, "info") != 0) /* sets svc= for configuration errors */
        return 2;
    if (daemon_config(d, spec, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        return 2;
    }
    if (signals_install() != 0) {
        log_error("could not install signal handlers", NULL);
        mq_broker_release(&d->env.broker);
        return 1;
    }
    struct svc_metrics_opts metrics = spec->metrics;
    metrics.svc = spec->svc;
    d->env.metrics = svc_metrics_new(&metrics);
    if (d->env.metrics == NULL) {
        mq_broker_release(&d->env.broker);
        return 1;
    }
    return -1;
}

void daemon_listen(struct daemon *d)
{
    svc_metrics_listen(d->env.metrics);
}

int daemon_stop(struct daemon *d, int status)
{
    svc_metrics_free(d->env.metrics);
    d->env.metrics = NULL;
    mq_broker_release(&d->env.broker);
    log_info("stopped", NULL);
    return status;
}
