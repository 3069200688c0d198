/* procmetrics: what every service reports about itself, under the names Prometheus client
 * libraries use, so standard dashboards and alerts work unchanged:
 *   build_info{version,libpq,libmicrohttpd,librabbitmq,jansson} 1   (the --version text)
 *   process_cpu_seconds_total       user + system CPU time (a gauge here: the registry's
 *                                   counters are integers)
 *   process_resident_memory_bytes   resident set size
 *   process_virtual_memory_bytes    virtual memory size
 *   process_open_fds, process_max_fds
 *   process_start_time_seconds      since the Unix epoch
 * Read from /proc/self and getrlimit when the registry is rendered. */
#ifndef CQ_PROCMETRICS_H
#define CQ_PROCMETRICS_H

#include "metrics/metrics.h"

struct procmetrics;

/* Registers the families above in m (one collector). The caller frees the result with
 * procmetrics_free after the registry's last render (metrics_free). */
struct procmetrics *procmetrics_new(struct metrics *m);
void procmetrics_free(struct procmetrics *p);

#endif
