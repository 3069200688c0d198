/* svc_metrics: what the two services without an API (relay, consumer) share on their metrics
 * listener. A registry holding the connection metrics both report:
 *   db_up, broker_up                              1 while connected
 *   db_reconnects_total, broker_reconnects_total  connections made again after one was lost
 * GET /health, 200 while both connections are up, else 503, with the body
 * {"status":"ok"|"degraded"|"unavailable","database":"up"|"down","broker":"up"|"down"<extra>}
 * ("degraded", still 200, with "reason":"..." when the service's degraded hook names one: the
 * connections are up but the work is held back, e.g. "broker blocked"), and the
 * listener itself on the port of opts.port_var (0: none) and HTTP_BIND_ADDRESS. The service adds
 * its own metrics to svc_metrics_registry() before svc_metrics_listen(). The connection functions
 * are for the service's main loop; the metric updates are atomics. */
#ifndef CQ_SVC_METRICS_H
#define CQ_SVC_METRICS_H

#include "base/config.h"
#include "metrics/metrics.h"

#include <stdbool.h>
#include <stddef.h>

struct svc_metrics_opts {
    const char *svc;          /* for logs: "relay" */
    const char *port_var;     /* "RELAY_METRICS_PORT" */
    const char *default_port; /* "9101" */
    const char *db_name;      /* for the help texts: "write database" */
    /* NULL, or appends ",\"key\":value" members to the /health body (server thread, no blocking) */
    void (*health_extra)(void *arg, char *buf, size_t len);
    /* NULL, or the reason the service is degraded now (a static string), NULL when it is not */
    const char *(*degraded)(void *arg);
    void *arg;
};

struct svc_metrics;

/* The variables svc_metrics_new reads for opts: opts->port_var and HTTP_BIND_ADDRESS. */
#define SVC_METRICS_NVARS 2
void svc_metrics_config_vars(const struct svc_metrics_opts *opts,
                             struct config_var vars[SVC_METRICS_NVARS]);

/* The registry with the connection metrics; the strings of opts must outlive it. NULL when the
 * port variable is invalid (logged as a configuration error). */
struct svc_metrics *svc_metrics_new(const struct svc_metrics_opts *opts);
struct metrics *svc_metrics_registry(struct svc_metrics *m);
/* Starts the listener. A port that cannot be bound costs the metrics, not the service: logged. */
void svc_metrics_listen(struct svc_metrics *m);
/* Stops the listener and frees everything. NULL does nothing. */
void svc_metrics_free(struct svc_metrics *m);

void svc_metrics_db(struct svc_metrics *m, bool up);
void svc_metrics_broker(struct svc_metrics *m, bool up);

#endif
