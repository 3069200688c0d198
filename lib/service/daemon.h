/* daemon: the start-up and shutdown the services without an API (relay, consumer) share, so that
 * each main is a few lines and each engine is a module of its own (the two APIs share
 * lib/service/apiserver instead). daemon_start:
 *   1. answers --help / --version (lib/service/cli.h) from every table the daemon reads;
 *   2. reads, once, the variables every daemon reads: its database URL (the service's own role,
 *      else the owner's), BROKER_URL, LOG_LEVEL, the domain's names (lib/domain: AMQP_EXCHANGE,
 *      AMQP_QUEUE, MOOD_QUEUE), the PostgreSQL and AMQP session options, and the service's own
 *      table, which its check hook validates further;
 *   3. parses the broker URL and fills the topology the daemon declares (lib/service/topology.h);
 *   4. installs the signal handlers (SIGINT/SIGTERM: stop; lib/base/signals.h);
 *   5. creates the metrics registry with the connection metrics and /health (svc_metrics.h), to
 *      which the service adds its own before daemon_listen() starts the listener.
 * A configuration error is logged as level=error msg="invalid configuration" error="..." and
 * exits 2; no signal handlers or an invalid metrics port exits 1 (docs/reliability.md).
 * Memory: struct daemon is the caller's; daemon_stop frees what daemon_start made. */
#ifndef CQ_DAEMON_H
#define CQ_DAEMON_H

#include "base/config.h"
#include "domain/domain.h"
#include "mq/mq.h"
#include "service/svc_metrics.h"

#include <stddef.h>

struct daemon_spec {
    const char *svc;          /* the binary and svc= of its logs: "relay" */
    const char *summary;      /* --help's first line */
    const char *db_var;       /* the service's own role: "RELAY_DATABASE_URL" */
    const char *owner_db_var; /* used when db_var is empty: "DATABASE_URL" */
    /* the service's own variables, loaded into cfg; then check (optional) validates what a table
     * cannot say (e.g. one of two words) and may load tables of lib/ into cfg: 0, or -1 with err */
    const struct config_table *config;
    void *cfg;
    int (*check)(void *cfg, char *err, size_t errlen);
    /* tables of modules the service reads besides (--help only: the module loads them) */
    const struct config_table *extra;
    size_t nextra;
    /* the listener's port variable and /health hooks (its svc is the daemon's) */
    struct svc_metrics_opts metrics;
};

#define DAEMON_NSHARED 4 /* db_var, owner_db_var, BROKER_URL, LOG_LEVEL */

/* What daemon_start hands the service's engine (which keeps a pointer to it): where to connect,
 * the domain's names, the metrics registry. */
struct daemon_env {
    const char *database_url;  /* db_var, else owner_db_var */
    struct domain_names names; /* AMQP_EXCHANGE, AMQP_QUEUE, MOOD_QUEUE */
    struct mq_broker broker;   /* BROKER_URL */
    struct mq_topology topo;   /* what the daemon's connections declare */
    struct svc_metrics *metrics;
};

struct daemon {
    struct daemon_env env;
    /* private */
    struct config_var shared[DAEMON_NSHARED];
    struct config_var metrics_vars[SVC_METRICS_NVARS];
    struct {
        const char *db_url, *owner_db_url, *broker_url, *log_level;
    } cfg;
};

/* Steps 1 to 5 above. Returns -1 when the daemon is to run, else the exit status to return from
 * main (0 after --help or --version). */
__attribute__((warn_unused_result)) int
daemon_start(struct daemon *d, const struct daemon_spec *spec, int argc, char **argv);
/* Starts the metrics listener (once the service registered its metrics). */
void daemon_listen(struct daemon *d);
/* Stops the listener, frees what daemon_start made, logs "stopped" and returns status. */
int daemon_stop(struct daemon *d, int status);

#endif
